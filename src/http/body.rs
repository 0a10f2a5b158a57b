//! Request decoding: query string, form or JSON5 body → the action's params and echo
//! (SPEC H2, H3, H4, E3).
//!
//! `GET` takes params from the query only. Other methods take the body's fields, then the
//! query's on top. `access_token` and `echo` are taken out so that a plugin sees the same
//! params over HTTP as over WebSocket. JSON is tried with `serde_json` first (fast, and what
//! nearly every client sends); only a body it rejects is tried as JSON5.
//!
//! Hostile input is a bad request (H4), never a crash: nesting deeper than [`MAX_DEPTH`] is
//! refused before any parser recurses into it, and bytes that are not UTF-8 (raw, or
//! percent-encoded in a form or query) are refused rather than silently replaced, so a plugin
//! never receives text other than what the client sent.

use axum::http::Method;
use serde_json::{Map, Value};

/// Nesting deeper than this is refused before any parser recurses into it (no stack overflow).
pub use crate::json::MAX_DEPTH;

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
    #[error("Invalid query string: {0}")]
    Query(String),
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
        let pairs = form_pairs(body).map_err(BodyError::Form)?;
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    } else {
        decode_json(body)?
    };
    if let Some(query) = query {
        for (key, value) in form_pairs(query.as_bytes()).map_err(BodyError::Query)? {
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

/// `application/x-www-form-urlencoded` pairs (also the query's syntax): `&`-separated, the
/// first `=` splits name from value, `+` is a space, `%XX` a byte; a `%` not followed by two
/// hex digits stays as it is (as in browsers and `form_urlencoded`). Unlike `form_urlencoded`,
/// a name or value that is not UTF-8 once decoded is an error naming it, not U+FFFD.
fn form_pairs(input: &[u8]) -> Result<Vec<(String, String)>, String> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &[][..]),
            };
            let name = String::from_utf8(percent_decode(name))
                .map_err(|_| "a field name is not UTF-8 once percent-decoded".to_owned())?;
            let value = String::from_utf8(percent_decode(value))
                .map_err(|_| format!("the value of `{name}` is not UTF-8 once percent-decoded"))?;
            Ok((name, value))
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let byte = match input[i] {
            b'+' => b' ',
            b'%' => match (hex(input.get(i + 1)), hex(input.get(i + 2))) {
                (Some(high), Some(low)) => {
                    i += 2;
                    high << 4 | low
                }
                _ => b'%',
            },
            other => other,
        };
        out.push(byte);
        i += 1;
    }
    out
}

fn hex(byte: Option<&u8>) -> Option<u8> {
    char::from(*byte?)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Parses a JSON or JSON5 body that must be an object; empty (or blank) means `{}`.
pub fn decode_json(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    // serde_json first: it refuses nesting deeper than 127 levels by itself (within
    // MAX_DEPTH), so a body it accepts needs no depth scan. Only a body it refuses is
    // scanned before json5, which recurses without a limit, reads it.
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value,
        Err(json_error) => {
            if crate::json::too_deep(body, MAX_DEPTH).is_some() {
                return Err(BodyError::TooDeep);
            }
            let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
            json5::from_str::<Value>(text).map_err(|_| BodyError::Syntax(json_error.to_string()))?
        }
    };
    match value {
        Value::Object(map) => Ok(map),
        other => Err(BodyError::NotObject(crate::json::kind(&other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post(ct: Option<&str>, query: Option<&str>, body: &str) -> Result<Decoded, BodyError> {
        decode(&Method::POST, ct, query, body.as_bytes())
    }

    const FORM: &str = "application/x-www-form-urlencoded";

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
    fn h4_json5_comment_ended_by_cr_does_not_hide_deep_nesting() {
        // Regression: the depth guard ended `//` comments only at `\n`; json5 also ends them
        // at `\r`, U+2028 and U+2029, then recursed into 100,000 `[` and overflowed the stack.
        for end in ["\r", "\u{2028}", "\u{2029}"] {
            let body = format!("{{a://x{end}{}", "[".repeat(100_000));
            assert_eq!(post(None, None, &body), Err(BodyError::TooDeep), "{end:?}");
        }
    }

    #[test]
    fn h4_depth_limit_is_exact() {
        for (kind, key) in [("JSON5", "a"), ("JSON", "\"a\"")] {
            let nest = |n: usize| format!("{{{key}:{}1{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
            assert!(
                post(None, None, &nest(MAX_DEPTH)).is_ok(),
                "{kind} at the limit"
            );
            assert_eq!(
                post(None, None, &nest(MAX_DEPTH + 1)),
                Err(BodyError::TooDeep),
                "{kind} past the limit"
            );
        }
    }

    #[test]
    fn h3_form_and_query_decode_like_form_urlencoded() {
        let got = post(
            Some("application/x-www-form-urlencoded"),
            Some("q=%E4%BD%A0+%2B&&flag&bad=%zz%4"),
            "a=1&&=empty&b&c=x=y&d=%26%3D",
        )
        .expect("form");
        assert_eq!(
            params(&got),
            json!({"a":"1","":"empty","b":"","c":"x=y","d":"&=","q":"你 +","flag":"","bad":"%zz%4"})
        );
    }

    #[test]
    fn h4_form_and_query_that_are_not_utf8_are_refused() {
        let value = |name: &str| format!("the value of `{name}` is not UTF-8 once percent-decoded");
        let form = |body: &[u8]| decode(&Method::POST, Some(FORM), None, body);
        assert_eq!(form(b"message=%FF"), Err(BodyError::Form(value("message"))));
        assert_eq!(
            form(b"message=\xff"),
            Err(BodyError::Form(value("message")))
        );
        assert_eq!(
            form(b"%C3=1"),
            Err(BodyError::Form(
                "a field name is not UTF-8 once percent-decoded".into()
            ))
        );
        let query = |method: &Method, query: &str| decode(method, None, Some(query), b"{}");
        assert_eq!(
            query(&Method::POST, "message=%FF%FE"),
            Err(BodyError::Query(value("message")))
        );
        assert_eq!(
            query(&Method::GET, "a=%80"),
            Err(BodyError::Query(value("a")))
        );
    }
}
