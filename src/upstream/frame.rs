//! The upstream's wire (SPEC G3, G6): the request frame the host sends, and what a frame it
//! receives is: a reply to one of the host's calls (matched by `echo`), or an event.
//!
//! One pass over each incoming frame: every field is borrowed as raw JSON, and only the ones
//! its kind needs are read further; an event's text goes on to the bus as it came.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::envelope::{ActionError, JsonText, Relayed};

/// One forwarded call: the client's action and params, the host's own echo.
#[derive(Serialize)]
struct Request<'a> {
    action: &'a str,
    params: &'a Map<String, Value>,
    echo: u64,
}

/// The text of one call frame (a map of JSON values always serialises).
pub(super) fn request(action: &str, params: &Map<String, Value>, echo: u64) -> String {
    serde_json::to_string(&Request {
        action,
        params,
        echo,
    })
    .unwrap_or_default()
}

/// A frame from the upstream, as far as the host needs to read it.
#[derive(Debug, PartialEq)]
pub(super) enum Incoming {
    /// An event; `meta` for its heartbeats and lifecycle, which stay with the upstream (G6).
    Event { meta: bool, self_id: Option<i64> },
    /// The reply to the call sent with `echo`, or why it could not be read.
    Reply {
        echo: u64,
        reply: Result<Relayed, ActionError>,
    },
    /// Not JSON, or a reply to nobody the host knows: logged and dropped.
    Stray(String),
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    post_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    self_id: Option<&'a RawValue>,
    #[serde(borrow)]
    echo: Option<&'a RawValue>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    retcode: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    wording: Option<&'a RawValue>,
}

/// Reads one text frame from the upstream.
pub(super) fn read(text: &str) -> Incoming {
    let fields: Fields = match serde_json::from_str(text) {
        Ok(fields) => fields,
        Err(e) => return Incoming::Stray(format!("not a OneBot frame: {e}")),
    };
    if let Some(post_type) = &fields.post_type {
        let self_id = fields.self_id.and_then(|raw| integer(raw.get()));
        return Incoming::Event {
            meta: post_type == "meta_event",
            self_id,
        };
    }
    let Some(echo) = fields.echo.and_then(|raw| raw.get().parse::<u64>().ok()) else {
        return Incoming::Stray("a reply with an echo the host never sent".to_owned());
    };
    Incoming::Reply {
        echo,
        reply: relayed(&fields),
    }
}

/// G3: the reply's fields, unchanged; a reply without a usable `retcode` is the upstream's
/// failure (1200), said so.
fn relayed(fields: &Fields) -> Result<Relayed, ActionError> {
    let retcode = fields
        .retcode
        .and_then(|raw| raw.get().parse::<i32>().ok())
        .ok_or_else(|| ActionError::failed("the upstream replied without an integer `retcode`"))?;
    let status = match &fields.status {
        Some(status) => status.clone().into_owned(),
        None if retcode == 0 => "ok".to_owned(),
        None => "failed".to_owned(),
    };
    let data = match fields.data {
        Some(raw) => JsonText::new(raw.get().to_owned())
            .map_err(|_| ActionError::failed("the upstream's `data` is not JSON"))?,
        None => JsonText::from_static("null"),
    };
    Ok(Relayed {
        status,
        retcode,
        data,
        message: text(fields.message),
        wording: text(fields.wording),
    })
}

/// A string field as text; absent, `null` or not a string is empty.
fn text(raw: Option<&RawValue>) -> String {
    raw.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .unwrap_or_default()
}

/// An id as a number or a numeric string (implementations differ).
fn integer(text: &str) -> Option<i64> {
    text.parse()
        .ok()
        .or_else(|| serde_json::from_str::<String>(text).ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// G3: a reply's five fields are kept as the upstream wrote them.
    #[test]
    fn g3_reply_fields_are_kept() {
        let text = r#"{"status":"failed","retcode":1404,"data":{"b":1,"a":[2]},"message":"不支持的API x","wording":"w","echo":7}"#;
        let Incoming::Reply { echo, reply } = read(text) else {
            panic!("a reply")
        };
        assert_eq!(echo, 7);
        let reply = reply.expect("readable");
        assert_eq!(reply.status, "failed");
        assert_eq!(reply.retcode, 1404);
        assert_eq!(reply.data.as_str(), r#"{"b":1,"a":[2]}"#);
        assert_eq!(reply.message, "不支持的API x");
        assert_eq!(reply.wording, "w");
    }

    /// G3: a reply without a retcode answers its caller with a 1200 that says why.
    #[test]
    fn g3_reply_without_retcode_is_a_failure() {
        let Incoming::Reply { reply, .. } = read(r#"{"status":"ok","echo":3}"#) else {
            panic!("a reply")
        };
        let error = reply.expect_err("no retcode");
        assert_eq!(error.retcode.0, 1200);
        assert!(error.message.contains("retcode"), "{error}");
    }

    /// G6: events are told apart from replies by `post_type`; meta events are marked, and
    /// the upstream's `self_id` is read as a number or a numeric string.
    #[test]
    fn g6_events_and_their_self_id() {
        let cases = [
            (
                json!({"post_type":"message","self_id":123,"echo":1}),
                false,
                Some(123),
            ),
            (
                json!({"post_type":"meta_event","self_id":"456"}),
                true,
                Some(456),
            ),
            (json!({"post_type":"notice"}), false, None),
        ];
        for (event, meta, self_id) in cases {
            assert_eq!(
                read(&event.to_string()),
                Incoming::Event { meta, self_id },
                "{event}"
            );
        }
    }

    #[test]
    fn stray_frames_are_recognised() {
        for text in [
            "nope",
            "[1]",
            r#"{"retcode":0,"echo":"x"}"#,
            r#"{"retcode":0}"#,
        ] {
            assert!(matches!(read(text), Incoming::Stray(_)), "{text}");
        }
    }

    #[test]
    fn request_frame_is_action_params_echo() {
        let params = json!({"group_id": 1, "message": "hi"});
        let text = request("send_group_msg", params.as_object().expect("object"), 9);
        assert_eq!(
            serde_json::from_str::<Value>(&text).expect("JSON"),
            json!({"action":"send_group_msg","params":{"group_id":1,"message":"hi"},"echo":9})
        );
    }
}
