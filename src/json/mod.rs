//! JSON rules, each written once, for every decoder in the host: HTTP bodies (SPEC H3, H4),
//! WebSocket frames (W4), plugin events (P4), plugin results (E1) and the config file (C1, C5).
//!
//! - this file — naming a value's JSON type in error messages ([`kind`], [`type_name`]), the
//!   "must be an object" rule ([`object`]), and the nesting guard ([`too_deep`], [`MAX_DEPTH`])
//!   that keeps json5, a recursive parser with no limit, off deep input;
//! - `decode` — the one JSON-then-JSON5 object decoder behind bodies and frames (H3, H4, W4);
//! - `scan` — a one-pass check of plain JSON objects, the fast path for emitted events (P4);
//! - `valid` — "would serde_json read this as a `Value`?" without building one (E1);
//! - `query` — `application/x-www-form-urlencoded` pairs, for form bodies, query params and
//!   the token in the query (H2, H3, H6).

mod decode;
pub(crate) mod query;
mod scan;
mod valid;

use serde_json::{Map, Value};

pub use decode::DecodeError;
pub(crate) use decode::decode_object;
pub use query::QueryError;
pub(crate) use scan::plain_object_with_string;
pub(crate) use valid::is_value;

/// A value's JSON type, as a phrase and as a bare name: one table for both wordings.
fn names(value: &Value) -> (&'static str, &'static str) {
    match value {
        Value::Null => ("null", "null"),
        Value::Bool(_) => ("a boolean", "boolean"),
        Value::Number(_) => ("a number", "number"),
        Value::String(_) => ("a string", "string"),
        Value::Array(_) => ("an array", "array"),
        Value::Object(_) => ("an object", "object"),
    }
}

/// A value's JSON type as a phrase for error messages: "an array", "a number", …
pub(crate) fn kind(value: &Value) -> &'static str {
    names(value).0
}

/// A value's JSON type as a bare name: "array", "number", … (the wording of the message
/// errors, M3, which clients may already match on).
pub(crate) fn type_name(value: &Value) -> &'static str {
    names(value).1
}

/// `value` as an object, or (for the error message) the [`kind`] it is instead.
pub(crate) fn object(value: Value) -> Result<Map<String, Value>, &'static str> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(kind(&other)),
    }
}

/// The deepest bracket nesting any decoder accepts. serde_json stops at 128 by itself; json5
/// has no limit and recurses once per level, so 100,000 `[` would overflow the stack.
pub const MAX_DEPTH: usize = 128;

/// Where JSON or JSON5 `text` first nests deeper than `limit`: the byte offset of the `{` or `[`
/// that opens level `limit + 1`, or `None` when it never does. Brackets inside strings and
/// comments do not count (see [`structure`]).
pub fn too_deep(text: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    structure(text, |at, byte| {
        match byte {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        (depth > limit).then_some(at)
    })
}

/// The most values a body or frame may hold (SPEC H4a). A decoded value costs 32 to 100
/// bytes however few bytes it was written in (`1,` is two), so a 16 MB array of small numbers
/// once took 300 MB to decode; below this bound a body's decoded tree stays within about
/// 25 MiB plus its strings. A message at its segment limit (M5) holds about 50,000.
pub(crate) const MAX_VALUES: usize = 262_144;

/// Whether JSON or JSON5 `text` holds more than `limit` values, counted without parsing: one
/// per `,` and one per `{` or `[` outside strings and comments (an over-count by the
/// containers, never an under-count of what a parser builds). A text shorter than `limit`
/// bytes cannot, so it is not scanned.
pub(crate) fn too_many_values(text: &[u8], limit: usize) -> bool {
    if text.len() <= limit {
        return false;
    }
    let mut values = 0usize;
    structure(text, |_, byte| {
        values += usize::from(matches!(byte, b',' | b'{' | b'['));
        (values > limit).then_some(())
    })
    .is_some()
}

/// Calls `visit` with the offset and byte of each byte of `text` outside strings and
/// comments, until it returns `Some`.
///
/// A scan must never skip a byte a parser would read as structure, so a `//` comment ends at
/// every line terminator json5 knows (`\n`, `\r`, U+2028, U+2029), not only at `\n`. Skipping
/// too little is harmless (over-counting only refuses earlier); a string or comment the parser
/// reads differently (an unterminated one, a raw newline in a string) is a syntax error for the
/// parser at or before the point where the scan and the parser part ways.
fn structure<T>(text: &[u8], mut visit: impl FnMut(usize, u8) -> Option<T>) -> Option<T> {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < text.len() && text[i] != quote {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if text.get(i + 1) == Some(&b'/') => {
                while i < text.len() && !starts_line_terminator(&text[i..]) {
                    i += 1;
                }
            }
            b'/' if text.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < text.len() && !(text[i] == b'*' && text[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            byte => {
                if let Some(found) = visit(i, byte) {
                    return Some(found);
                }
            }
        }
        i += 1;
    }
    None
}

/// A JSON5 LineTerminator: `\n`, `\r`, U+2028 or U+2029 (UTF-8 `E2 80 A8` / `E2 80 A9`).
fn starts_line_terminator(bytes: &[u8]) -> bool {
    matches!(bytes, [b'\n' | b'\r', ..] | [0xE2, 0x80, 0xA8 | 0xA9, ..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Both wordings, as the messages that use them have always read (H4, P4, W4; M3).
    #[test]
    fn kinds_are_named_with_and_without_an_article() {
        let cases = [
            (json!(null), "null", "null"),
            (json!(true), "a boolean", "boolean"),
            (json!(1.5), "a number", "number"),
            (json!("x"), "a string", "string"),
            (json!([1]), "an array", "array"),
            (json!({}), "an object", "object"),
        ];
        for (value, phrase, name) in cases {
            assert_eq!((kind(&value), type_name(&value)), (phrase, name), "{value}");
        }
        assert_eq!(
            object(json!({"a": 1})),
            Ok(Map::from_iter([("a".into(), json!(1))]))
        );
        assert_eq!(object(json!([1])), Err("an array"));
    }

    fn depth_ok(text: &str, limit: usize) -> bool {
        too_deep(text.as_bytes(), limit).is_none()
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        assert!(depth_ok(r#"{"a":"[[[[","b":'{{{'}"#, 1));
        assert!(depth_ok("{// [[[[\n a:/* {{{ */[1]}", 2));
        assert!(!depth_ok("{// [[[[\n a:/* {{{ */[1]}", 1));
        assert!(depth_ok(r#"{"a":"\"[["}"#, 1));
    }

    #[test]
    fn offset_is_the_first_bracket_past_the_limit() {
        assert_eq!(too_deep(b"[[[]]]", 2), Some(2));
        assert_eq!(too_deep(b"[[]][[[]]]", 2), Some(6));
        assert_eq!(too_deep(b"[[]]", 2), None);
    }

    /// Regression (found reviewing the guard for the fuzz targets): json5 ends a `//` comment
    /// at `\r`, U+2028 and U+2029 too. Ending it only at `\n` hid every bracket after such a
    /// comment from the guard, and `{a://x\r[[[[…` then overflowed json5's stack.
    #[test]
    fn line_comments_end_at_every_json5_line_terminator() {
        for end in ["\n", "\r", "\u{2028}", "\u{2029}", "\r\n"] {
            let text = format!("{{a://x{end}{}", "[".repeat(200));
            assert_eq!(
                too_deep(text.as_bytes(), MAX_DEPTH),
                Some(6 + end.len() + 127),
                "{end:?}"
            );
        }
        // Other characters that start with the same byte as U+2028 do not end a comment.
        assert!(depth_ok("{a:1 // \u{2014}[[[[\n}", 1));
    }
}
