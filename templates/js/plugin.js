// {{name}}: an onebot-host plugin. `actions` lists what it provides; `handle` answers one call
// with the JSON text of the envelope's data, or throws {retcode, message} to fail it.
//
// {{prefix}}_greet and {{prefix}}_count use capabilities that {{prefix}}.json5 (copy it beside
// {{prefix}}.wasm) grants: `config` and `keyValue`. Host functions whose WIT result is
// `result<T, string>` return T or throw the error string.
import { log } from "onebot:plugin/host@0.1.0";
import { increment } from "onebot:plugin/key-value@0.1.0";
import { get as configGet } from "wasi:config/store@0.2.0-rc.1";

const handlers = {
  // {{prefix}}_echo: answers with the params it was given.
  "{{prefix}}_echo": (params) => {
    log("info", `echo ${JSON.stringify(params)}`);
    return params;
  },
  // {{prefix}}_add: adds two integers; anything else answers retcode 1400.
  "{{prefix}}_add": ({ a, b }) => {
    if (!Number.isInteger(a) || !Number.isInteger(b)) {
      throw { retcode: 1400, message: "{{prefix}}_add: params `a` and `b` must be integers" };
    }
    return { sum: a + b };
  },
  // {{prefix}}_greet: greets `name` with the sidecar's config.greeting ("Hi" without one).
  "{{prefix}}_greet": ({ name = "world" }) => {
    const greeting = configGet("greeting") ?? "Hi";
    return { text: `${greeting}, ${name}!` };
  },
  // {{prefix}}_count: counts its calls in the key-value store "default" (sidecar keyValue);
  // the count survives restarts of the host.
  "{{prefix}}_count": () => ({ count: host(() => increment("default", "count", 1)) }),
};

// Runs a host call; its error (a string naming what to fix) fails the action with 1200.
function host(call) {
  try {
    return call();
  } catch (e) {
    throw { retcode: 1200, message: String(e?.payload ?? e) };
  }
}

export const onebotAction = {
  actions() {
    return Object.keys(handlers);
  },
  handle(call) {
    const handler = handlers[call.action];
    if (!handler) throw { retcode: 1404, message: `不支持的API ${call.action}` };
    return JSON.stringify(handler(JSON.parse(call.params || "{}")));
  },
};
