// js-text: the JavaScript example plugin of onebot-host (a WebAssembly component of the world
// `capable-plugin` in wit/capabilities.wit, built by build.mjs beside this file).
//
// Actions (names carry the prefix below so that every example can sit in one plugin folder):
//   js_text_reverse      {text}                -> {text: reversed, by code point}
//   js_text_word_count   {text}                -> {words: n}, words split on Unicode whitespace
//   js_send_private_msg  {user_id, message}    -> {message_id: n}, logs what it "sent"
//   js_count             {}                    -> {count: n}, its calls so far, kept in the
//                                                 key-value store "default" across restarts
//                                                 (granted by ../js-text.json5: `keyValue`)
// Bad or missing params are answered with retcode 1400 and a message naming the param.
import { log } from "onebot:plugin/host@0.1.0";
// Host functions whose WIT result is `result<T, string>` return T or throw the error string.
import { increment } from "onebot:plugin/key-value@0.1.0";

// QuickJS has no `console`: this one writes to the host's log (tagged with the plugin's name).
globalThis.console ??= Object.fromEntries(
  ["trace", "debug", "info", "warn", "error", ["log", "info"]].map((name) => {
    const [method, level] = Array.isArray(name) ? name : [name, name];
    const text = (value) => (typeof value === "string" ? value : JSON.stringify(value));
    return [method, (...args) => log(level, args.map(text).join(" "))];
  }),
);

// Set to "" to serve the real OneBot action `send_private_msg` (and un-prefixed text actions).
const PREFIX = "js_";

const handlers = new Map([
  ["text_reverse", (p, action) => ({ text: Array.from(text(p, action)).reverse().join("") })],
  ["text_word_count", (p, action) => ({ words: text(p, action).split(/\s+/u).filter(Boolean).length })],
  ["send_private_msg", sendPrivateMsg],
  ["count", (p, action) => ({ count: host(action, () => increment("default", "count", 1)) })],
]);

export const onebotAction = {
  actions() {
    return Array.from(handlers.keys(), (name) => PREFIX + name);
  },

  // `call` is {action, params (JSON text), selfId}. Returning gives the envelope's data;
  // throwing {retcode, message} gives a failed envelope.
  handle(call) {
    const handler = call.action.startsWith(PREFIX) && handlers.get(call.action.slice(PREFIX.length));
    if (!handler) throw { retcode: 1404, message: `不支持的API ${call.action}` };
    let params;
    try {
      params = JSON.parse(call.params || "{}");
    } catch (e) {
      throw invalid(call.action, `params are not valid JSON: ${e.message}`);
    }
    if (params === null || typeof params !== "object" || Array.isArray(params)) {
      throw invalid(call.action, "params must be a JSON object");
    }
    return JSON.stringify(handler(params, call.action));
  },
};

function sendPrivateMsg(p, action) {
  const userId = p.user_id ?? missing(action, "user_id", "integer");
  const numeric = typeof userId === "number" || typeof userId === "string";
  if (!numeric || !/^\s*\d+\s*$/.test(String(userId)) || !(Number(userId) > 0)) {
    throw invalid(action, `param \`user_id\` must be a positive integer, got ${JSON.stringify(userId)}`);
  }
  const message = p.message ?? missing(action, "message", "array of segments");
  if (!Array.isArray(message) || message.length === 0) {
    throw invalid(action, "param `message` must be a non-empty array of segments");
  }
  const preview = message.map((segment) => {
    if (typeof segment?.type !== "string") {
      throw invalid(action, `each message segment needs a string \`type\`, got ${JSON.stringify(segment)}`);
    }
    return segment.type === "text" ? String(segment.data?.text ?? "") : `[${segment.type}]`;
  });
  log("info", `${action} to user ${String(userId).trim()}: ${preview.join("")}`);
  return { message_id: messageId(`${Date.now()}:${userId}:${JSON.stringify(message)}`) };
}

// Runs a host call; its error (a string saying what to fix, e.g. which sidecar key grants
// the store) fails the action with retcode 1200.
function host(action, call) {
  try {
    return call();
  } catch (e) {
    throw { retcode: 1200, message: `${action}: ${e?.payload ?? e}` };
  }
}

// The `text` param, a string.
function text(p, action) {
  const value = p.text ?? missing(action, "text", "string");
  if (typeof value !== "string") throw invalid(action, `param \`text\` must be a string, got ${typeof value}`);
  return value;
}

function missing(action, name, expected) {
  throw invalid(action, `missing required param \`${name}\` (${expected})`);
}

function invalid(action, what) {
  return { retcode: 1400, message: `${action}: ${what}` };
}

// A positive 31-bit id from an FNV-1a hash: instances are fresh, so there is no counter to keep.
function messageId(seed) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) hash = Math.imul(hash ^ seed.charCodeAt(i), 0x01000193);
  return (hash >>> 1) || 1;
}
