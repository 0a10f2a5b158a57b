//! The one decoder for JSON or JSON5 text that must be an object: HTTP bodies (SPEC H3, H4),
//! form-typed bodies that are JSON (H3), WebSocket API frames (W4).
//!
//! JSON is tried with `serde_json` first (fast, and what nearly every client sends); only text
//! it rejects is tried as JSON5. Hostile input is an error, never a crash: nesting deeper than
//! [`MAX_DEPTH`] is refused before json5 (which recurses without a limit) reads it, and bytes
//! that are not UTF-8 are refused rather than silently replaced, and a text of more than
//! [`MAX_VALUES`] values is refused before either parser builds it (H4a).

use serde_json::{Map, Value};

use super::{MAX_DEPTH, MAX_VALUES, too_deep, too_many_values};

/// Why text is not a JSON object. Callers put their own prefix in front (HTTP and WebSocket
/// say "Invalid JSON format: ", the seed's words).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// serde_json's message: JSON is what clients mean to send, so its account of where the
    /// text went wrong is the useful one even when JSON5 was tried too.
    #[error("{0}")]
    Syntax(String),
    /// JSON, but not an object; the type it was.
    #[error("the body must be a JSON object, got {0}")]
    NotObject(&'static str),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Bytes that are not UTF-8.
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// H4a: refused before it is parsed, so that its decoded tree is never built.
    #[error("more than {MAX_VALUES} values (numbers, strings, arrays, objects); send fewer")]
    TooManyValues,
}

/// Parses JSON or JSON5 `bytes` that must be one object; empty (or blank) means `{}` (H3).
pub(crate) fn decode_object(bytes: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if too_many_values(bytes, MAX_VALUES) {
        return Err(DecodeError::TooManyValues);
    }
    // serde_json first: it refuses nesting deeper than 127 levels by itself (within
    // MAX_DEPTH), so text it accepts needs no depth scan. Only text it refuses is scanned
    // before json5, which recurses without a limit, reads it.
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => value,
        Err(json_error) => {
            if too_deep(bytes, MAX_DEPTH).is_some() {
                return Err(DecodeError::TooDeep);
            }
            let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
            json5::from_str::<Value>(text)
                .map_err(|_| DecodeError::Syntax(json_error.to_string()))?
        }
    };
    super::object(value).map_err(DecodeError::NotObject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(text: &str) -> Result<Value, DecodeError> {
        decode_object(text.as_bytes()).map(Value::Object)
    }

    #[test]
    fn h3_json_and_json5_objects() {
        for text in [
            r#"{"user_id":1,"message":"hi"}"#,
            "{user_id: 1, message: 'hi',}",
            "// c\n{user_id:1,/*x*/message:\"hi\"}",
        ] {
            assert_eq!(
                decode(text),
                Ok(json!({"user_id":1,"message":"hi"})),
                "{text}"
            );
        }
    }

    #[test]
    fn h4a_more_values_than_the_limit_are_refused_before_parsing() {
        let many = |n: usize| format!("{{\"pad\":[{}1]}}", "1,".repeat(n));
        assert!(decode(&many(MAX_VALUES - 2)).is_ok());
        assert_eq!(decode(&many(MAX_VALUES)), Err(DecodeError::TooManyValues));
        // Commas inside strings and comments are not values.
        let text = format!(
            "{{s: '{}', /* {} */ n: 1}}",
            ",".repeat(MAX_VALUES),
            ",".repeat(9)
        );
        assert!(decode(&text).is_ok());
        assert!(
            DecodeError::TooManyValues
                .to_string()
                .contains(&MAX_VALUES.to_string())
        );
    }

    #[test]
    fn h3_blank_is_an_empty_object() {
        for text in ["", "  \n", "\t\r\n"] {
            assert_eq!(decode(text), Ok(json!({})), "{text:?}");
        }
    }

    #[test]
    fn h4_bad_text_is_refused_saying_why() {
        assert!(matches!(decode("{"), Err(DecodeError::Syntax(_))));
        assert_eq!(decode("[1]"), Err(DecodeError::NotObject("an array")));
        assert_eq!(decode("3"), Err(DecodeError::NotObject("a number")));
        assert_eq!(
            decode_object(b"{\"a\":\"\xff\"} x"),
            Err(DecodeError::NotUtf8)
        );
        let deep = "[".repeat(100_000);
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep));
        let deep5 = format!("{{a:{}", "{a:".repeat(100_000));
        assert_eq!(decode(&deep5), Err(DecodeError::TooDeep));
    }

    #[test]
    fn h4_json5_comment_ended_by_cr_does_not_hide_deep_nesting() {
        // Regression: the depth guard ended `//` comments only at `\n`; json5 also ends them
        // at `\r`, U+2028 and U+2029, then recursed into 100,000 `[` and overflowed the stack.
        for end in ["\r", "\u{2028}", "\u{2029}"] {
            let text = format!("{{a://x{end}{}", "[".repeat(100_000));
            assert_eq!(decode(&text), Err(DecodeError::TooDeep), "{end:?}");
        }
    }

    #[test]
    fn h4_depth_limit_is_exact() {
        for (grammar, key) in [("JSON5", "a"), ("JSON", "\"a\"")] {
            let nest = |n: usize| format!("{{{key}:{}1{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
            assert!(decode(&nest(MAX_DEPTH)).is_ok(), "{grammar} at the limit");
            assert_eq!(
                decode(&nest(MAX_DEPTH + 1)),
                Err(DecodeError::TooDeep),
                "{grammar} past the limit"
            );
        }
    }
}
