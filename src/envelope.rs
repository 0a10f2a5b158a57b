//! The OneBot 11 reply envelope and the one retcode table (SPEC E1–E4, G3).
//!
//! Both transports build replies here and nowhere else: a call ends as an [`Outcome`] (data,
//! `async`, an [`ActionError`], or an upstream's reply [`Relayed`]), and [`Envelope::new`] renders
//! it with the caller's echo. Keeping this in one place is what makes HTTP and WebSocket answer
//! identically.
//!
//! Over HTTP, an [`Envelope`] is an axum response (HTTP 200, H9), and a request refused before
//! any action ran is a [`Refusal`], whose status and envelope are built in one place for HTTP,
//! WebSocket handshakes, the event stream, metrics and the dashboard alike.
//!
//! [`Envelope::to_json`] writes the six fields directly rather than through a derived
//! `Serialize` (same bytes, fewer steps: it is on every reply's path), and splices a
//! [`JsonText`] `data` in as it is instead of building a tree only to print it again.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// OneBot retcodes used by the host itself (E4). Plugins may return their own, passed through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retcode(pub i32);

impl Retcode {
    pub(crate) const OK: Retcode = Retcode(0);
    /// The action ran and failed: a plugin error, trap, timeout or memory overrun.
    pub(crate) const FAILED: Retcode = Retcode(1200);
    /// Bad body, bad frame, or params that fail the action's schema.
    pub(crate) const BAD_REQUEST: Retcode = Retcode(1400);
    /// Missing or wrong access token.
    pub(crate) const AUTH: Retcode = Retcode(1403);
    /// No plugin or fallback provides the action.
    pub(crate) const UNKNOWN_ACTION: Retcode = Retcode(1404);
}

/// A failed call: the retcode and the message a client sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionError {
    pub(crate) retcode: Retcode,
    pub(crate) message: String,
}

impl ActionError {
    pub(crate) fn new(retcode: Retcode, message: impl Into<String>) -> Self {
        ActionError {
            retcode,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Retcode::BAD_REQUEST, message)
    }

    /// H8: the exact message NapCat uses, which some clients match on.
    pub(crate) fn unknown_action(action: &str) -> Self {
        Self::new(Retcode::UNKNOWN_ACTION, format!("不支持的API {action}"))
    }

    /// H6: the seed's message for a missing or wrong token.
    pub(crate) fn auth() -> Self {
        Self::new(Retcode::AUTH, "token verify failed")
    }

    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::new(Retcode::FAILED, message)
    }
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "retcode {}: {}", self.retcode.0, self.message)
    }
}

impl std::error::Error for ActionError {}

/// JSON text known to be one valid JSON value, written into an envelope as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonText(Cow<'static, str>);

impl JsonText {
    /// `text` must be valid JSON: only for the host's constants, each checked by a test.
    pub(crate) const fn from_static(text: &'static str) -> Self {
        JsonText(Cow::Borrowed(text))
    }

    /// Vouches for `text` (a plugin's result) when `serde_json::from_str::<Value>` would
    /// accept it, checked without building the tree; gives `text` back otherwise (including
    /// the odd inputs serde_json's `Value` reads specially), so the caller can take the
    /// `Value` path and report exactly what it always reported. Surrounding whitespace is
    /// trimmed; the rest is kept as the plugin wrote it (key order, number spelling).
    pub fn new(text: String) -> Result<Self, String> {
        if !crate::json::is_value(&text) {
            return Err(text);
        }
        let trimmed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        if trimmed.len() == text.len() {
            Ok(JsonText(Cow::Owned(text)))
        } else {
            Ok(JsonText(Cow::Owned(trimmed.to_owned())))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a call ended, before it is rendered for a transport.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The action ran; its `data`.
    Data(Value),
    /// The action ran; its `data`, already JSON text.
    Json(JsonText),
    /// E5: an `_async` call was accepted and runs in the background.
    Accepted,
    /// The action failed: its retcode and message (E2).
    Failed(ActionError),
    /// G3: the upstream's reply, its fields passed on unchanged.
    Relayed(Box<Relayed>),
}

/// An upstream implementation's reply to a forwarded call (G3): every field but `echo`,
/// exactly as it sent them.
#[derive(Clone, Debug, PartialEq)]
pub struct Relayed {
    pub(crate) status: String,
    pub(crate) retcode: i32,
    pub(crate) data: JsonText,
    pub(crate) message: String,
    pub(crate) wording: String,
}

impl From<Result<Value, ActionError>> for Outcome {
    fn from(result: Result<Value, ActionError>) -> Self {
        match result {
            Ok(data) => Outcome::Data(data),
            Err(error) => Outcome::Failed(error),
        }
    }
}

impl Outcome {
    pub(crate) fn retcode(&self) -> Retcode {
        match self {
            Outcome::Data(_) | Outcome::Json(_) | Outcome::Accepted => Retcode::OK,
            Outcome::Failed(error) => error.retcode,
            Outcome::Relayed(reply) => Retcode(reply.retcode),
        }
    }
}

/// H9: every OneBot-level outcome is HTTP 200 with a JSON envelope.
impl axum::response::IntoResponse for Envelope {
    fn into_response(self) -> axum::response::Response {
        json_response(StatusCode::OK, &self)
    }
}

fn json_response(status: StatusCode, envelope: &Envelope) -> axum::response::Response {
    let mut response = axum::response::Response::new(envelope.to_json_bytes().into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Why a transport refused a request before any action ran. Each answer is an envelope with
/// no echo, as JSON; the variant decides its HTTP status and retcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// H6: an API call without the right token: HTTP 200 and 1403 (the seed's table).
    Token,
    /// W2, O1, the event stream, the dashboard's data: without the right token, HTTP 403
    /// and 1403, so that a handshake fails and a scraper marks its target down.
    Forbidden,
    /// B3: a browser's `Origin` or `Host` is not allowed; the message names the key to set.
    Browser(String),
    /// B4: a browser's body typed other than JSON or form: HTTP 415 and 1400.
    BrowserBody(&'static str),
    /// H5: a body over `maxBodyBytes`: HTTP 413 and 1400; the rest is never read, so the
    /// connection is closed.
    TooLarge {
        /// The `maxBodyBytes` the body went over.
        max: u64,
    },
    /// The body did not arrive within `bodyTimeoutMs`: HTTP 408 and 1400, connection closed.
    TooSlow {
        /// The `bodyTimeoutMs` that ran out.
        ms: u64,
    },
    /// H4: a body that could not be read or decoded: HTTP 200 and 1400.
    BadRequest(String),
    /// A plain HTTP request to a `websocketServers` entry: HTTP 426 and 1400.
    UpgradeRequired,
}

impl Refusal {
    /// The HTTP status and the failure the envelope carries.
    fn parts(self) -> (StatusCode, ActionError) {
        match self {
            Refusal::Token => (StatusCode::OK, ActionError::auth()),
            Refusal::Forbidden => (StatusCode::FORBIDDEN, ActionError::auth()),
            Refusal::Browser(message) => (
                StatusCode::FORBIDDEN,
                ActionError::new(Retcode::AUTH, message),
            ),
            Refusal::BrowserBody(message) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ActionError::bad_request(message),
            ),
            Refusal::TooLarge { max } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ActionError::bad_request(format!(
                    "request body is larger than maxBodyBytes ({max} bytes)"
                )),
            ),
            Refusal::TooSlow { ms } => (
                StatusCode::REQUEST_TIMEOUT,
                ActionError::bad_request(format!(
                    "request body not received within bodyTimeoutMs ({ms} ms)"
                )),
            ),
            Refusal::BadRequest(message) => (StatusCode::OK, ActionError::bad_request(message)),
            Refusal::UpgradeRequired => (
                StatusCode::UPGRADE_REQUIRED,
                ActionError::bad_request(
                    "this is a WebSocket server: connect with a WebSocket client",
                ),
            ),
        }
    }
}

impl axum::response::IntoResponse for Refusal {
    fn into_response(self) -> axum::response::Response {
        // A body that was not read to its end: closing is cheaper than draining it.
        let close = matches!(self, Refusal::TooLarge { .. } | Refusal::TooSlow { .. });
        let upgrade = self == Refusal::UpgradeRequired;
        let (status, error) = self.parts();
        let mut response = json_response(status, &Envelope::new(Outcome::Failed(error), None));
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if upgrade {
            response
                .headers_mut()
                .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        }
        response
    }
}

/// The wire form of a reply (E1, E2). It has no `post_type`, which is how clients on a
/// universal socket tell replies from events (E3b).
#[derive(Debug)]
pub struct Envelope {
    pub(crate) status: Cow<'static, str>,
    pub(crate) retcode: i32,
    pub(crate) data: Data,
    pub(crate) message: String,
    pub(crate) wording: String,
    /// E3: exactly as the client sent it, JSON type kept; `null` when absent.
    pub(crate) echo: Value,
}

/// An envelope's `data`: a tree, or text that is already JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    /// A JSON value.
    Tree(Value),
    /// Text already known to be one JSON value, written out as it is.
    Json(JsonText),
}

impl Envelope {
    /// The envelope a call's `outcome` is answered with; `echo` is the client's, or null.
    pub fn new(outcome: Outcome, echo: Option<Value>) -> Self {
        let echo = echo.unwrap_or(Value::Null);
        match outcome {
            Outcome::Data(data) => Envelope {
                status: Cow::Borrowed("ok"),
                retcode: 0,
                data: Data::Tree(data),
                message: String::new(),
                wording: String::new(),
                echo,
            },
            Outcome::Json(text) => Envelope {
                status: Cow::Borrowed("ok"),
                retcode: 0,
                data: Data::Json(text),
                message: String::new(),
                wording: String::new(),
                echo,
            },
            Outcome::Accepted => Envelope {
                status: Cow::Borrowed("async"),
                retcode: 0,
                data: Data::Tree(Value::Null),
                message: String::new(),
                wording: String::new(),
                echo,
            },
            Outcome::Failed(error) => Envelope {
                status: Cow::Borrowed("failed"),
                retcode: error.retcode.0,
                data: Data::Tree(Value::Null),
                wording: error.message.clone(),
                message: error.message,
                echo,
            },
            Outcome::Relayed(reply) => {
                let Relayed {
                    status,
                    retcode,
                    data,
                    message,
                    wording,
                } = *reply;
                Envelope {
                    status: Cow::Owned(status),
                    retcode,
                    data: Data::Json(data),
                    message,
                    wording,
                    echo,
                }
            }
        }
    }

    /// The envelope as JSON text: the bytes `serde_json::to_string` gives for it.
    pub fn to_json(&self) -> String {
        // Only valid UTF-8 is ever written (JSON text and serde_json's output).
        String::from_utf8(self.to_json_bytes()).unwrap_or_else(|_| String::from("{}"))
    }

    /// [`Envelope::to_json`] as bytes, for a transport that takes bytes (HTTP).
    pub(crate) fn to_json_bytes(&self) -> Vec<u8> {
        let data_len = match &self.data {
            Data::Json(text) => text.as_str().len(),
            Data::Tree(_) => 64,
        };
        let mut out = Vec::with_capacity(96 + data_len + 2 * self.message.len());
        out.extend_from_slice(b"{\"status\":");
        match &self.status {
            // The host's own three need no escaping.
            Cow::Borrowed(status) => {
                out.push(b'"');
                out.extend_from_slice(status.as_bytes());
                out.push(b'"');
            }
            Cow::Owned(status) => write_value(&mut out, status),
        }
        out.extend_from_slice(b",\"retcode\":");
        write_value(&mut out, &self.retcode);
        out.extend_from_slice(b",\"data\":");
        match &self.data {
            Data::Json(text) => out.extend_from_slice(text.as_str().as_bytes()),
            Data::Tree(value) => write_value(&mut out, value),
        }
        out.extend_from_slice(b",\"message\":");
        write_str(&mut out, &self.message);
        out.extend_from_slice(b",\"wording\":");
        write_str(&mut out, &self.wording);
        out.extend_from_slice(b",\"echo\":");
        write_value(&mut out, &self.echo);
        out.push(b'}');
        out
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else {
        write_value(out, text);
    }
}

fn write_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a string or a `Value` into a Vec cannot fail (map keys are strings).
    let _ = serde_json::to_writer(out, value);
}

/// The same fields in the same order as [`Envelope::to_json`], for serde users (pretty
/// printing, `to_value` in tests).
impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Envelope", 6)?;
        s.serialize_field("status", &*self.status)?;
        s.serialize_field("retcode", &self.retcode)?;
        match &self.data {
            Data::Tree(value) => s.serialize_field("data", value)?,
            Data::Json(text) => {
                let raw: &RawValue =
                    serde_json::from_str(text.as_str()).map_err(serde::ser::Error::custom)?;
                s.serialize_field("data", raw)?;
            }
        }
        s.serialize_field("message", &self.message)?;
        s.serialize_field("wording", &self.wording)?;
        s.serialize_field("echo", &self.echo)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(outcome: Outcome, echo: Option<Value>) -> Value {
        serde_json::to_value(Envelope::new(outcome, echo)).expect("envelope serialises")
    }

    #[test]
    fn e1_success_shape() {
        let got = render(Outcome::Data(json!({"message_id": 1})), Some(json!("r1")));
        assert_eq!(
            got,
            json!({"status":"ok","retcode":0,"data":{"message_id":1},"message":"","wording":"","echo":"r1"})
        );
    }

    #[test]
    fn e2_failure_shape_repeats_message_as_wording() {
        let got = render(Outcome::Failed(ActionError::unknown_action("nope")), None);
        assert_eq!(
            got,
            json!({"status":"failed","retcode":1404,"data":null,"message":"不支持的API nope","wording":"不支持的API nope","echo":null})
        );
    }

    #[test]
    fn e3_echo_keeps_its_json_type() {
        for echo in [json!("7"), json!(7), json!({"a":[1,2]}), json!(null)] {
            let got = render(Outcome::Data(Value::Null), Some(echo.clone()));
            assert_eq!(got["echo"], echo);
        }
    }

    #[test]
    fn e5_async_is_status_async_retcode_0() {
        let got = render(Outcome::Accepted, Some(json!(1)));
        assert_eq!(got["status"], "async");
        assert_eq!(got["retcode"], 0);
        assert_eq!(got["data"], Value::Null);
    }

    /// `to_json` writes by hand what serde would write for the envelope, byte for byte.
    #[test]
    fn to_json_is_what_serde_writes() {
        let outcomes = [
            Outcome::Data(json!({"message_id": 1, "b": [1.5, null, "é\n\"x"]})),
            Outcome::Data(Value::Null),
            Outcome::Json(JsonText::from_static(r#"{"app_name":"x"}"#)),
            Outcome::Accepted,
            Outcome::Failed(ActionError::unknown_action("nope")),
            Outcome::Failed(ActionError::new(Retcode(-7), "a \"quoted\"\tmessage\u{1}")),
            Outcome::Relayed(Box::new(Relayed {
                status: "we\"ird".to_owned(),
                retcode: 1404,
                data: JsonText::from_static(r#"{"x":[1]}"#),
                message: "m".to_owned(),
                wording: "w\n".to_owned(),
            })),
        ];
        let echoes = [
            None,
            Some(json!("r1")),
            Some(json!(7)),
            Some(json!({"n": [1, "2"]})),
        ];
        for outcome in outcomes {
            for echo in &echoes {
                let envelope = Envelope::new(outcome.clone(), echo.clone());
                let by_serde = serde_json::to_string(&envelope).expect("serialises");
                assert_eq!(envelope.to_json(), by_serde);
                assert_eq!(envelope.to_json_bytes(), by_serde.into_bytes());
            }
        }
    }

    #[test]
    fn e1_json_text_data_is_spliced_as_data() {
        let text = JsonText::from_static(r#"{"app_name":"x","n":[1,2]}"#);
        let got = render(Outcome::Json(text), Some(json!("r1")));
        assert_eq!(
            got,
            json!({"status":"ok","retcode":0,"data":{"app_name":"x","n":[1,2]},"message":"","wording":"","echo":"r1"})
        );
    }

    /// A plugin's data is vouched for exactly when `Value` would parse it (the cases are
    /// `json::is_value`'s), kept as written but for surrounding whitespace, and given back
    /// unchanged otherwise.
    #[test]
    fn json_text_keeps_valid_text_and_gives_back_the_rest() {
        let cases = [
            r#" {"b": [1, 2.5, -0, 1e2], "a": "\u00e9\n"} "#,
            "\t\r\n18446744073709551616\n",
            r#"{"a":1,"a":2}"#,
            "",
            "[1,]",
            "{} x",
            r#"{"$serde_json::private::RawValue":"[1]"}"#,
        ];
        for text in cases {
            match JsonText::new(text.to_owned()) {
                Ok(json) => {
                    let value: Value = serde_json::from_str(text).expect("Value accepts it");
                    let spliced: Value = serde_json::from_str(json.as_str()).expect("JSON");
                    assert_eq!(spliced, value, "{text}");
                    assert_eq!(json.as_str(), text.trim(), "kept as written");
                }
                Err(back) => {
                    assert_eq!(back, text, "given back unchanged");
                    assert!(!crate::json::is_value(text), "{text}");
                }
            }
        }
    }

    /// G3: a relayed reply keeps the upstream's five fields and takes the client's echo.
    #[test]
    fn g3_relayed_reply_keeps_the_upstreams_fields() {
        let reply = Relayed {
            status: "failed".to_owned(),
            retcode: 1404,
            data: JsonText::from_static("null"),
            message: "不支持的API x".to_owned(),
            wording: "not supported".to_owned(),
        };
        let got = render(Outcome::Relayed(Box::new(reply)), Some(json!({"mine": 1})));
        assert_eq!(
            got,
            json!({"status":"failed","retcode":1404,"data":null,"message":"不支持的API x","wording":"not supported","echo":{"mine":1}})
        );
    }

    #[test]
    fn e3b_reply_never_has_post_type() {
        let got = render(Outcome::Data(json!({"post_type": "x"})), None);
        assert!(got.get("post_type").is_none());
    }
}
