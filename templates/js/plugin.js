// {{name}}: an onebot-host plugin (world `reactive-plugin`, wit/triggers.wit). `actions` lists
// what it provides; `handle` answers one call with the JSON text of the envelope's data, or
// throws {retcode, message} to fail it. `handleEvent` sees the events the sidecar names before
// the bot does; `runSchedule` runs when one of the sidecar's schedules is due.
//
// What {{prefix}}.json5 (copy it beside {{prefix}}.wasm) grants or starts: `config`
// ({{prefix}}_greet), `keyValue` ({{prefix}}_count, {{prefix}}_stats and the counters of the
// handler and the schedule), `events` (the handler) and `schedules` (`tick`).
//
// Host functions whose WIT result is `result<T, E>` return T or throw an Error whose
// `payload` is E; an export whose WIT result is `result<T, E>` returns T or throws E.
import { log } from "onebot:plugin/host@0.1.0";
import { increment } from "onebot:plugin/key-value@0.1.0";
import { get as configGet } from "wasi:config/store@0.2.0-rc.1";

const handlers = {
  // {{prefix}}_echo: answers with the params it was given.
  "{{prefix}}_echo": (params) => {
    log("info", `echo ${JSON.stringify(params)}`);
    return params;
  },
  // {{prefix}}_add: adds two integers, given as JSON numbers or, as a query string or a form
  // sends them (`?a=1&b=2`), as decimal text; anything else answers retcode 1400.
  "{{prefix}}_add": (params) => {
    const [a, b] = [integer(params.a), integer(params.b)];
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
  // {{prefix}}_stats: how many message events the handler has seen and how many times `tick`
  // has run. Adding 0 reads a counter (one never incremented counts as 0).
  "{{prefix}}_stats": () => ({
    messages: host(() => increment("default", "messages", 0)),
    ticks: host(() => increment("default", "ticks", 0)),
  }),
};

// A decimal string becomes its number (query strings and forms send every value as text);
// anything else is returned as it is, for the caller's own type check.
function integer(value) {
  return typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
}

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

// The event handler: `text` is the event as JSON. The answer is its verdict: { tag: "pass" },
// { tag: "replace", val: JSON text of another event } or { tag: "drop" }. Each message event
// is counted and goes on to the bot unchanged; an error thrown here (a string, or a host
// call's) leaves the event as it was, and the host logs it.
export const eventHandler = {
  handleEvent(text) {
    if (JSON.parse(text).post_type === "message") increment("default", "messages", 1);
    return { tag: "pass" };
  },
};

// The schedule handler, called with the name of the sidecar's schedule that is due: `tick`
// (every minute) counts its runs. Returning is success; a thrown string is logged.
export const scheduleHandler = {
  runSchedule(name) {
    if (name !== "tick") throw `no schedule named ${name}`;
    increment("default", "ticks", 1);
  },
};
