// Builds filter.js into the component ../optional/js-filter.wasm (run: npm --prefix
// plugins/js-filter run build; plugins/build does it). `--out FILE` writes elsewhere.
//
// It goes to plugins/optional/, outside the default plugin folder: a handler that rewrites
// every bot's messages is something to choose, not a default (docs/triggers.md).
// Engine: QuickJS through componentize-qjs, as js-text (see build.mjs there for why).
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { componentize } from "componentize-qjs";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: { out: { type: "string", default: join(here, "..", "optional", "js-filter.wasm") } },
});
const source = join(here, "filter.js");
const out = resolve(args.out);

const started = Date.now();
// World `reactive-plugin` (wit/triggers.wit): actions, capabilities, event and schedule
// handlers. `sync`: the host does not enable the component-model async ABI.
const { component } = await componentize({
  witPath: join(here, "..", "..", "wit"),
  world: "reactive-plugin",
  jsSource: await readFile(source, "utf8"),
  jsPath: source,
  sync: true,
});
// Written under a temporary name, then renamed: a watching host never sees half a file.
await mkdir(dirname(out), { recursive: true });
await writeFile(`${out}.tmp`, component);
await rename(`${out}.tmp`, out);
const kb = (component.length / 1024).toFixed(0);
console.log(`js-filter: wrote ${out} (${kb} KB) in ${Date.now() - started} ms`);
