// Builds plugin.js into the component {{prefix}}.wasm beside this file: `npm install && npm run build`.
// QuickJS (componentize-qjs): a ~1.6 MB component the host compiles in about a second.
import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { componentize } from "componentize-qjs";

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, "plugin.js");
const out = join(here, "{{prefix}}.wasm");
// `sync`: onebot-host does not enable the component-model async ABI.
const { component } = await componentize({
  witPath: join(here, "wit"),
  // Actions, capabilities, and the event and schedule handlers (wit/triggers.wit).
  world: "reactive-plugin",
  jsSource: await readFile(source, "utf8"),
  jsPath: source,
  sync: true,
});
// Written under a temporary name, then renamed: a watching host never sees half a file.
await writeFile(`${out}.tmp`, component);
await rename(`${out}.tmp`, out);
console.log(`wrote ${out}: copy it into the host's plugin folder`);
