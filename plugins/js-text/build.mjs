// Builds plugin.js into the component ../js-text.wasm (run: npm --prefix plugins/js-text run build).
//
// Engine: QuickJS through componentize-qjs (a 1.6 MB component that the host compiles ~6x
// faster than StarlingMonkey's 12 MB; see the measurements in docs/languages.md). `--engine starlingmonkey`
// builds the same source with @bytecodealliance/componentize-js instead, for comparison; it is
// not a dependency, install it first with `npm --prefix plugins/js-text i --no-save
// @bytecodealliance/componentize-js@0.23.0 @bytecodealliance/preview2-shim@0.25.0` (with the
// shim's 0.26 it cannot read the WIT: that version no longer preopens `/`).
// `--out FILE` writes elsewhere.
import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    engine: { type: "string", default: "quickjs" },
    out: { type: "string", default: join(here, "..", "js-text.wasm") },
  },
});
const source = join(here, "plugin.js");
const wit = join(here, "..", "..", "wit");
const out = resolve(args.out);

const started = Date.now();
let component;
if (args.engine === "quickjs") {
  const { componentize } = await import("componentize-qjs");
  // `sync`: the host does not enable the component-model async ABI.
  ({ component } = await componentize({
    witPath: wit,
    world: "capable-plugin",
    jsSource: await readFile(source, "utf8"),
    jsPath: source,
    sync: true,
  }));
} else if (args.engine === "starlingmonkey") {
  const { componentize } = await import("@bytecodealliance/componentize-js");
  // Without http and fetch-event the component imports no wasi:http: the example makes no
  // requests (the host offers wasi:http, to the origins a sidecar grants; docs/capabilities.md, "Outbound HTTP").
  ({ component } = await componentize({
    sourcePath: source,
    witPath: wit,
    worldName: "capable-plugin",
    disableFeatures: ["http", "fetch-event"],
  }));
} else {
  throw new Error(`unknown --engine ${args.engine}: quickjs or starlingmonkey`);
}
// Written under a temporary name, then renamed: a watching host never sees half a file.
await writeFile(`${out}.tmp`, component);
await rename(`${out}.tmp`, out);
const kb = (component.length / 1024).toFixed(0);
console.log(`js-text: wrote ${out} (${kb} KB, ${args.engine}) in ${Date.now() - started} ms`);
