//! Request decoding: query string, form or JSON5 body → the action's params and echo
//! (SPEC H2, H3, H4, E3).
//!
//! `GET` takes params from the query only. Other methods take the body's fields, then the
//! query's on top. `access_token` and `echo` are taken out so that a plugin sees the same
//! params over HTTP as over WebSocket. JSON is tried with `serde_json` first (fast, and what
//! nearly every client sends); only a body it rejects is tried as JSON5.

use axum::http::Method;
use serde_json::{Map, Value};

/// Nesting deeper than this is refused before any parser recurses into it (no stack overflow).
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    pub params: Map<String, Value>,
    pub echo: Option<Value>,
}

/// Why a body was refused; the message is what the client reads next to retcode 1400.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("Invalid JSON format: {0}")]
    Syntax(String),
    #[error("Invalid JSON format: the body must be a JSON object, got {0}")]
    NotObject(&'static str),
    #[error("Invalid JSON format: nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("Invalid JSON format: the body is not UTF-8")]
    NotUtf8,
    #[error("Invalid form body: {0}")]
    Form(String),
}

pub fn decode(
    method: &Method,
    content_type: Option<&str>,
    query: Option<&str>,
    body: &[u8],
) -> Result<Decoded, BodyError> {
    let mut params = if *method == Method::GET {
        Map::new()
    } else if is_form(content_type) {
        decode_form(body)?
    } else {
        decode_json(body)?
    };
    if let Some(query) = query {
        for (key, value) in super::auth::form_urlencoded_pairs(query) {
            params.insert(key, Value::String(value));
        }
    }
    params.remove("access_token");
    let echo = params.remove("echo");
    Ok(Decoded { params, echo })
}

fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn decode_form(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| BodyError::Form(e.to_string()))?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

/// Parses a JSON or JSON5 body that must be an object; empty (or blank) means `{}`.
pub fn decode_json(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if nesting_depth(body) > MAX_DEPTH {
        return Err(BodyError::TooDeep);
    }
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value,
        Err(json_error) => {
            let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
            json5::from_str::<Value>(text).map_err(|_| BodyError::Syntax(json_error.to_string()))?
        }
    };
    match value {
        Value::Object(map) => Ok(map),
        other => Err(BodyError::NotObject(crate::json::kind(&other))),
    }
}

/// The deepest bracket nesting outside strings and comments, counting JSON5's single-quoted
/// strings and comments. Over-counting is harmless (the limit is generous); the point is
/// that a body of 100,000 `[` never reaches a recursive parser.
fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < body.len() && body[i] != quote {
                    i += if body[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if body.get(i + 1) == Some(&b'/') => {
                while i < body.len() && body[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if body.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < body.len() && !(body[i] == b'*' && body[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post(ct: Option<&str>, query: Option<&str>, body: &str) -> Result<Decoded, BodyError> {
        decode(&Method::POST, ct, query, body.as_bytes())
    }

    fn params(d: &Decoded) -> Value {
        Value::Object(d.params.clone())
    }

    #[test]
    fn h3_json_json5_and_no_content_type() {
        let cases = [
            (Some("application/json"), r#"{"user_id":1,"message":"hi"}"#),
            (None, r#"{"user_id":1,"message":"hi"}"#),
            (Some("text/plain"), "{user_id: 1, message: 'hi',}"),
            (
                Some("application/json; charset=utf-8"),
                "// c\n{user_id:1,/*x*/message:\"hi\"}",
            ),
        ];
        for (ct, body) in cases {
            let got = post(ct, None, body).expect(body);
            assert_eq!(params(&got), json!({"user_id":1,"message":"hi"}), "{body}");
        }
    }

    #[test]
    fn h3_form_values_are_strings() {
        let got = post(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            None,
            "user_id=1&message=a%20b+c",
        )
        .expect("form");
        assert_eq!(params(&got), json!({"user_id":"1","message":"a b c"}));
    }

    #[test]
    fn h3_empty_body_is_empty_object() {
        for body in ["", "  \n"] {
            assert_eq!(post(None, None, body).expect("empty"), Decoded::default());
        }
    }

    #[test]
    fn h4_bad_bodies_are_refused() {
        assert!(matches!(post(None, None, "{"), Err(BodyError::Syntax(_))));
        assert_eq!(
            post(None, None, "[1]"),
            Err(BodyError::NotObject("an array"))
        );
        assert_eq!(post(None, None, "3"), Err(BodyError::NotObject("a number")));
        assert_eq!(
            decode(&Method::POST, None, None, b"{\"a\":\"\xff\"} x"),
            Err(BodyError::NotUtf8)
        );
        let deep = "[".repeat(100_000);
        assert_eq!(post(None, None, &deep), Err(BodyError::TooDeep));
        let deep5 = format!("{{a:{}", "{a:".repeat(100_000));
        assert_eq!(post(None, None, &deep5), Err(BodyError::TooDeep));
    }

    #[test]
    fn h2_get_ignores_body_and_query_wins_elsewhere() {
        let got = decode(&Method::GET, None, Some("user_id=5"), b"{\"user_id\":1}").expect("get");
        assert_eq!(params(&got), json!({"user_id":"5"}));
        let got = post(None, Some("user_id=5"), r#"{"user_id":1,"x":2}"#).expect("post");
        assert_eq!(params(&got), json!({"user_id":"5","x":2}));
    }

    #[test]
    fn h2_e3_token_and_echo_are_not_params() {
        let got = post(None, Some("access_token=t"), r#"{"echo":{"n":1},"a":1}"#).expect("post");
        assert_eq!(params(&got), json!({"a":1}));
        assert_eq!(got.echo, Some(json!({"n":1})));
        let got = decode(&Method::GET, None, Some("echo=7&access_token=t"), b"").expect("get");
        assert_eq!(got.echo, Some(json!("7")));
        assert!(got.params.is_empty());
    }

    #[test]
    fn depth_scanner_skips_strings_and_comments() {
        assert_eq!(nesting_depth(br#"{"a":"[[[[","b":'{{{'}"#), 1);
        assert_eq!(nesting_depth(b"{// [[[[\n a:/* {{{ */[1]}"), 2);
        assert_eq!(nesting_depth(br#"{"a":"\"[["}"#), 1);
    }
}
