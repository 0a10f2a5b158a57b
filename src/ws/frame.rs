//! API frames on a WebSocket (SPEC W4): `{"action":…, "params":{…}, "echo":…}` in, the E1–E4
//! envelope with the same echo out.
//!
//! The frame is decoded with the HTTP body's JSON5 decoder (same depth limit, same messages),
//! dispatched through [`crate::dispatch::Dispatcher::call`], and rendered by [`Envelope::new`]: a
//! WebSocket reply is built exactly like an HTTP one, so the two transports cannot drift apart.

use std::time::Instant;

use serde_json::{Map, Value};

use super::Endpoint;
use crate::dispatch::{ActionRequest, ClientKey};
use crate::envelope::{ActionError, Envelope, Outcome};
use crate::http::decode_json;

/// Why a frame is not a call; the client reads this next to retcode 1400.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not a JSON5 object.
    #[error("{0}")]
    Body(#[from] crate::http::BodyError),
    /// No string `action`.
    #[error("the frame has no string `action`")]
    NoAction,
    /// `params` present but not an object; the JSON type it was.
    #[error("`params` must be a JSON object, got {0}")]
    ParamsNotObject(&'static str),
}

/// A decoded frame: the call and its echo (E3: kept as sent, any JSON type).
#[derive(Debug, PartialEq)]
pub struct Frame {
    /// The call.
    pub request: ActionRequest,
    /// The client's `echo`, JSON type kept; `None` when it sent none.
    pub echo: Option<Value>,
}

/// Decodes one text or binary frame. A frame that is not a JSON5 object fails without an
/// echo (W4: echo null); one that is an object but not a call keeps its echo, so the client
/// can still match the 1400 to what it sent.
pub fn decode(bytes: &[u8]) -> Result<Frame, (FrameError, Option<Value>)> {
    let mut map = decode_json(bytes).map_err(|e| (FrameError::from(e), None))?;
    let echo = map.remove("echo");
    let action = match map.remove("action") {
        Some(Value::String(action)) => action,
        _ => return Err((FrameError::NoAction, echo)),
    };
    let params = match map.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(other) => return Err((FrameError::ParamsNotObject(crate::json::kind(&other)), echo)),
    };
    Ok(Frame {
        request: ActionRequest { action, params },
        echo,
    })
}

/// Answers one frame with the envelope's JSON text; `client` is the connection's key (E5a).
pub(crate) async fn answer(endpoint: &Endpoint, client: ClientKey, bytes: &[u8]) -> String {
    let session = &endpoint.session;
    let started = Instant::now();
    let decoded = if bytes.len() < crate::http::body::LARGE {
        decode(bytes)
    } else {
        // H4a: off the workers; the copy costs far less than the parse it moves.
        let owned = bytes.to_vec();
        crate::http::body::off_workers(move || decode(&owned)).await
    };
    let frame = match decoded {
        Ok(frame) => frame,
        Err((e, echo)) => {
            tracing::debug!(server = %session.name, "bad WebSocket frame: {e}");
            let outcome = Outcome::Failed(ActionError::bad_request(e.to_string()));
            return Envelope::new(outcome, echo).to_json();
        }
    };
    let ActionRequest { action, params } = frame.request;
    let handled = endpoint.dispatcher.call_from(client, &action, params).await;
    if session.debug {
        handled.log(&session.name, "ws", &action, started);
    }
    Envelope::new(handled.outcome, frame.echo).to_json()
}

/// W7: the answer to a frame the host has no room for (`limits.wsPendingBytes`): 1200
/// "busy", with the frame's echo when it has one, and the call not run.
pub(crate) fn busy(bytes: &[u8], limit: usize) -> String {
    let echo = decode(bytes).map_or_else(|(_, echo)| echo, |frame| frame.echo);
    let message = format!(
        "busy: WebSocket clients already make the host hold {limit} bytes of calls and \
         replies (limits.wsPendingBytes); try again later"
    );
    Envelope::new(Outcome::Failed(ActionError::failed(message)), echo).to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn w4_frames_decode_to_a_call_and_an_echo() {
        let frame = decode(br#"{"action":"send_msg","params":{"user_id":1},"echo":{"n":[1]}}"#)
            .expect("a call");
        assert_eq!(frame.request.action, "send_msg");
        assert_eq!(Value::Object(frame.request.params), json!({"user_id": 1}));
        assert_eq!(frame.echo, Some(json!({"n": [1]})));

        // JSON5, no params, no echo.
        let frame = decode(b"{action: 'get_status', // hi\n}").expect("JSON5");
        assert_eq!(frame.request.action, "get_status");
        assert!(frame.request.params.is_empty());
        assert_eq!(frame.echo, None);
    }

    #[test]
    fn w4_bad_frames_are_refused_keeping_the_echo_when_there_is_one() {
        for (bytes, echo) in [
            (&b"not json"[..], None),
            (b"[1,2]", None),
            (b"\xff\xfe", None),
            (b"{\"echo\":7}", Some(json!(7))),
            (b"{\"action\":5,\"echo\":\"e\"}", Some(json!("e"))),
            (
                b"{\"action\":\"a\",\"params\":[1],\"echo\":null}",
                Some(Value::Null),
            ),
        ] {
            let (error, got) = decode(bytes).expect_err("refused");
            assert_eq!(got, echo, "{error}");
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(
            decode(deep.as_bytes()).is_err(),
            "deep nesting is refused, not a crash"
        );
    }
}
