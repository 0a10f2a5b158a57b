// js-filter: the JavaScript example event handler (docs/triggers.md), a component
// of the world `reactive-plugin` in wit/triggers.wit, built by build.mjs beside this file.
//
// Before the bot sees a message event, every word its sidecar lists in `config.words`
// (comma-separated, e.g. "spam,scam"; case does not matter) is replaced by *** in the
// message's text; a message with nothing left but *** is dropped. Every other event, and
// every message without a listed word, passes unchanged. A listed word is found inside
// Chinese text but not inside a longer Latin word: with "scam", "scampi" is left alone.
//
// Its sidecar ../optional/js-filter.json5 grants the `message` events and the config.
//
// How componentize-qjs maps the WIT (its README, "WIT Type Mappings"): the variant
// `verdict` is an object `{ tag: "pass" | "replace" | "drop", val }`, `val` only for
// `replace`; a function returning `result<T, E>` returns T, or throws E for the error;
// an import returning a result returns T or throws an Error whose `payload` is E.
import { get as configGet } from "wasi:config/store@0.2.0-rc.1";

const MASK = "***";

export const eventHandler = {
  // `text` is the event as JSON; the answer is its verdict. A string thrown here is the
  // handler's error: the host logs it (once per version) and delivers the event as it was.
  handleEvent(text) {
    const event = JSON.parse(text);
    if (event.post_type !== "message") return { tag: "pass" };
    const filtered = filter(event.message, listed());
    if (filtered === undefined) return { tag: "pass" };
    if (filtered === null) return { tag: "drop" };
    event.message = filtered;
    // The host renders raw_message again from `message` before delivery (SPEC M4).
    return { tag: "replace", val: JSON.stringify(event) };
  },
};

// The listed words as one pattern: longest first, so "scammer" wins over "scam".
function listed() {
  let words;
  try {
    words = configGet("words");
  } catch (e) {
    throw `js-filter: cannot read config.words: ${e?.payload?.val ?? e}`;
  }
  const list = (words ?? "").split(",").map((w) => w.trim()).filter(Boolean);
  if (list.length === 0) {
    throw 'js-filter: no words to filter: set `config: { words: "spam,scam" }` in js-filter.json5';
  }
  const escaped = list
    .sort((a, b) => b.length - a.length)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`(?<![A-Za-z0-9_])(?:${escaped.join("|")})(?![A-Za-z0-9_])`, "giu");
}

// The message with the words masked; undefined when no listed word is in it, null when
// nothing but masks and spaces is left. `message` is an array of segments, or a CQ string
// (as its publisher wrote it), whose [CQ:…] codes are left as they are.
function filter(message, words) {
  let found = false;
  let other = false; // something besides masks and spaces: other text, an image, a face…
  const mask = (text) => {
    const masked = text.replace(words, () => {
      found = true;
      return MASK;
    });
    if (masked.replaceAll(MASK, "").trim() !== "") other = true;
    return masked;
  };
  let filtered;
  if (Array.isArray(message)) {
    filtered = message.map((segment) => {
      if (segment?.type !== "text" || typeof segment.data?.text !== "string") {
        other = true;
        return segment;
      }
      return { ...segment, data: { ...segment.data, text: mask(segment.data.text) } };
    });
  } else if (typeof message === "string") {
    // Split on the CQ codes, which land at the odd indexes.
    const parts = message.split(/(\[CQ:[^\]]*\])/);
    filtered = parts
      .map((part, i) => {
        if (i % 2 === 0) return mask(part);
        other = true;
        return part;
      })
      .join("");
  } else {
    return undefined;
  }
  if (!found) return undefined;
  return other ? filtered : null;
}

// The world's other exports: js-filter provides no action and has no schedule.
export const onebotAction = {
  actions: () => [],
  handle(call) {
    throw { retcode: 1404, message: `不支持的API ${call.action}` };
  },
};

export const scheduleHandler = {
  runSchedule(name) {
    throw `js-filter has no schedule ${name}`;
  },
};
