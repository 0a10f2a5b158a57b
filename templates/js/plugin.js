// {{name}}: an onebot-host plugin. `actions` lists what it provides; `handle` answers one call
// with the JSON text of the envelope's data, or throws {retcode, message} to fail it.
import { log } from "onebot:plugin/host@0.1.0";

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
};

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
