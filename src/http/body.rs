//! Request decoding: query string, form or JSON5 body → the action's params and echo
//! (SPEC H2, H3, H4, E3).
//!
//! `GET` takes params from the query only. Other methods take the body's fields, then the
//! query's on top. `access_token` and `echo` are taken out so that a plugin sees the same
//! params over HTTP as over WebSocket. The grammars themselves live in [`crate::json`]: the
//! JSON/JSON5 object decoder ([`json::decode_object`], with its depth guard) and the form and
//! query pairs ([`json::query::pairs`], which refuse what is not UTF-8). This file only says
//! which applies to what, and how its errors read to a client.
//!
//! A form-typed body that is a JSON object is read as JSON (H3): `curl -d '{"message_id":1}'`
//! sends JSON with curl's default form `Content-Type`, and NapCat answers it as JSON.

use axum::http::Method;
use serde_json::{Map, Value};

use crate::json::query::{self, QueryError};
use crate::json::{self, DecodeError};

/// A decoded request body: the call's params, and `echo` taken out of them (H2).
#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    /// The params, `echo` removed.
    pub params: Map<String, Value>,
    /// The client's `echo`, JSON type kept; `None` when it sent none.
    pub echo: Option<Value>,
}

/// Why a body was refused; the message is what the client reads next to retcode 1400 (H4).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The seed's words, then what was wrong.
    #[error("Invalid JSON format: {0}")]
    Json(#[from] DecodeError),
    /// A form body (`application/x-www-form-urlencoded`) that could not be read.
    #[error("Invalid form body: {0}")]
    Form(QueryError),
    /// A query string that could not be read.
    #[error("Invalid query string: {0}")]
    Query(QueryError),
}

/// Decodes a request into params (H2–H4): `GET` from the query only; other methods from the
/// body (a form by its content type, JSON or JSON5 otherwise) with the query's pairs on top.
/// `access_token` is dropped and `echo` taken out.
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
        for (key, value) in query::pairs(query.as_bytes()).map_err(BodyError::Query)? {
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

/// A form-typed body: its fields, values as strings (H3). One that starts with `{` (after
/// whitespace) and decodes as a JSON or JSON5 object is that object instead: a form encoder
/// writes `{` as `%7B`, so only JSON sent with the wrong type starts so. Anything else,
/// `{` first or not, stays form fields exactly as before, errors included.
fn decode_form(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    if body.trim_ascii_start().starts_with(b"{")
        && let Ok(object) = json::decode_object(body)
    {
        return Ok(object);
    }
    let pairs = query::pairs(body).map_err(BodyError::Form)?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

/// Bodies and frames of at least this many bytes are decoded off the runtime's workers (H4a).
pub(crate) const LARGE: usize = 256 * 1024;

/// How many large bodies or frames are decoded at once, host-wide: one per core. Parsing a
/// 16 MB body takes about half a second; on a runtime worker it stalled every other client of
/// that worker, and many at once held many decoded trees. Waiting bodies hold only their bytes.
static LARGE_DECODES: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(cores)
    });

/// Runs `decode`, a decoder of a large body or frame, on tokio's blocking pool once one of
/// [`LARGE_DECODES`]' turns is free (H4a).
pub(crate) async fn off_workers<T: Send + 'static>(
    decode: impl FnOnce() -> T + Send + 'static,
) -> T {
    // The semaphore is never closed, so a turn always comes.
    let _turn = LARGE_DECODES.acquire().await.ok();
    match tokio::task::spawn_blocking(decode).await {
        Ok(decoded) => decoded,
        // As if it had run here: a decoder's panic is the caller's, like any other.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// A JSON or JSON5 body that must be an object; empty (or blank) means `{}` (H3, H4). Also
/// what a WebSocket API frame is (W4), so both transports refuse the same text alike.
pub fn decode_json(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    Ok(json::decode_object(body)?)
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
        for (ct, body) in [(None, ""), (None, "  \n"), (Some(FORM), "")] {
            assert_eq!(post(ct, None, body).expect("empty"), Decoded::default());
        }
    }

    /// Issue 12: `curl -d '{"message_id":1}'` sends the form type. A form-typed body that is
    /// a JSON or JSON5 object is read as JSON, numbers and all, with the query still on top
    /// and `echo` still taken out; the same depth guard applies.
    #[test]
    fn h3_form_typed_json_object_is_read_as_json() {
        for (ct, body) in [
            (FORM, r#"{"message_id":1,"echo":"e"}"#),
            (FORM, " \r\n{message_id: 1, echo: 'e',}\n"),
            (
                "application/x-www-form-urlencoded; charset=UTF-8",
                r#"{"message_id":1,"echo":"e"}"#,
            ),
        ] {
            let got = post(Some(ct), None, body).expect(body);
            assert_eq!(params(&got), json!({"message_id": 1}), "{body:?}");
            assert_eq!(got.echo, Some(json!("e")), "{body:?}");
        }
        let got = post(
            Some(FORM),
            Some("message_id=2"),
            r#"{"message_id":1,"a":[1]}"#,
        );
        assert_eq!(
            params(&got.expect("query on top")),
            json!({"message_id":"2","a":[1]})
        );
        let at_limit = format!(
            "{{a:{}1{}}}",
            "[".repeat(json::MAX_DEPTH - 1),
            "]".repeat(json::MAX_DEPTH - 1)
        );
        assert!(
            post(Some(FORM), None, &at_limit)
                .expect("at the limit")
                .params["a"]
                .is_array()
        );
    }

    /// Real form bodies are unchanged, and so is anything that is not a JSON object, even
    /// when it starts with `{`: it was form fields before and still is.
    #[test]
    fn h3_form_bodies_that_are_not_json_objects_stay_form_fields() {
        let fields = |body: &str| params(&post(Some(FORM), None, body).expect(body));
        assert_eq!(fields("a=1&b=2"), json!({"a":"1","b":"2"}));
        assert_eq!(fields("a={\"x\":1}"), json!({"a":"{\"x\":1}"}));
        assert_eq!(fields("[1]"), json!({"[1]":""}));
        assert_eq!(fields("{\"a\":1"), json!({"{\"a\":1":""}));
        assert_eq!(fields("{a}=1&b=2"), json!({"{a}":"1","b":"2"}));
        // Past the depth limit: never handed to json5, read as the form it was labelled.
        let deep = format!("{{a:{}", "[".repeat(100_000));
        let mut whole = Map::new();
        whole.insert(deep.clone(), json!(""));
        assert_eq!(fields(&deep), Value::Object(whole));
        // Not UTF-8: the form's own error, as before.
        assert_eq!(
            decode(&Method::POST, Some(FORM), None, b"{\"a\":\"\xff\"}"),
            Err(BodyError::Form(QueryError::Name))
        );
    }

    #[test]
    fn h4_bad_bodies_are_refused_saying_why() {
        assert!(matches!(
            post(None, None, "{"),
            Err(BodyError::Json(DecodeError::Syntax(_)))
        ));
        let cases = [
            (
                b"[1]".to_vec(),
                "the body must be a JSON object, got an array",
            ),
            (
                b"\"s\"".to_vec(),
                "the body must be a JSON object, got a string",
            ),
            (b"{\"a\":\"\xff\"} x".to_vec(), "the body is not UTF-8"),
            (
                "[".repeat(200).into_bytes(),
                "nested deeper than 128 levels",
            ),
        ];
        for (body, reason) in cases {
            let error = decode(&Method::POST, None, None, &body).expect_err("refused");
            assert_eq!(error.to_string(), format!("Invalid JSON format: {reason}"));
        }
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
    fn h3_form_and_query_decode_like_form_urlencoded() {
        let got = post(
            Some(FORM),
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
        let form =
            |body: &[u8]| decode(&Method::POST, Some(FORM), None, body).map_err(|e| e.to_string());
        let value = |name: &str| format!("the value of `{name}` is not UTF-8 once percent-decoded");
        assert_eq!(
            form(b"message=%FF"),
            Err(format!("Invalid form body: {}", value("message")))
        );
        assert_eq!(
            form(b"message=\xff"),
            Err(format!("Invalid form body: {}", value("message")))
        );
        assert_eq!(
            form(b"%C3=1"),
            Err("Invalid form body: a field name is not UTF-8 once percent-decoded".into())
        );
        let query = |method: &Method, query: &str| decode(method, None, Some(query), b"{}");
        assert_eq!(
            query(&Method::POST, "message=%FF%FE"),
            Err(BodyError::Query(QueryError::Value("message".into())))
        );
        assert_eq!(
            query(&Method::GET, "a=%80").map_err(|e| e.to_string()),
            Err(format!("Invalid query string: {}", value("a")))
        );
    }
}
