//! Event handlers and schedules (SPEC T1–T15): what [`plugin!`](crate::plugin)'s `on_event`
//! and `schedule` entries call.
//!
//! The sidecar decides which events the handler sees and when schedules are due:
//!
//! ```json5
//! // keyword.json5, beside keyword.wasm
//! {
//!   events: ["message"],          // post types, or ["*"]; "meta_event" only when named
//!   callActions: ["send_msg"],    // what the handler may call, e.g. to reply
//!   schedules: [{ name: "poll", every: "30s" }],
//! }
//! ```
//!
//! A handler answers with a [`Verdict`]: pass the event on, replace it, or drop it. An `Err`
//! (or a panic, or running out of time) leaves the event as it was, unless the sidecar says
//! `onError: "drop"`. The events caused by a handler's own actions (its reply's
//! `message_sent`) never come back to it.

use serde_json::{Map, Value};

use crate::bindings::exports::onebot::plugin::event_handler::Verdict as WitVerdict;
use crate::{Error, Result, call_action};

/// One OneBot 11 event as the host delivers it: a JSON object with `post_type`, `time` and
/// `self_id`, and for a message `message_type`, `user_id`, `group_id`, `message`, ….
#[derive(Clone, Debug, PartialEq)]
pub struct Event(pub Map<String, Value>);

impl Event {
    /// A field of the event.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// `message`, `message_sent`, `notice`, `request` or `meta_event`.
    pub fn post_type(&self) -> &str {
        self.str("post_type").unwrap_or_default()
    }

    /// `private` or `group`, for a message.
    pub fn message_type(&self) -> Option<&str> {
        self.str("message_type")
    }

    pub fn user_id(&self) -> Option<i64> {
        self.get("user_id").and_then(Value::as_i64)
    }

    pub fn group_id(&self) -> Option<i64> {
        self.get("group_id").and_then(Value::as_i64)
    }

    /// The message's plain text: its `text` segments joined (the host always hands handlers
    /// `message` as segments), else `raw_message`; empty for an event without a message.
    pub fn text(&self) -> String {
        match self.get("message") {
            Some(Value::Array(segments)) => segments
                .iter()
                .filter(|s| s.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|s| s.get("data")?.get("text")?.as_str())
                .collect(),
            Some(Value::String(text)) => text.clone(),
            _ => self.str("raw_message").unwrap_or_default().to_owned(),
        }
    }

    /// The event as a JSON value, to change it and answer [`Verdict::Replace`].
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// What becomes of the event.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Deliver it as it was.
    Pass,
    /// Deliver this event instead (a JSON object with a string `post_type`).
    Replace(Value),
    /// Deliver nothing.
    Drop,
}

/// Answers a message event in the chat it came from, through `send_msg` (the sidecar must
/// grant it in `callActions`): a private message to its sender, a group message to its group.
/// Returns the new message's `message_id`.
pub fn reply(event: &Event, message: impl Into<Value>) -> Result<i64> {
    let mut params = Map::new();
    match (event.message_type(), event.group_id(), event.user_id()) {
        (Some("group"), Some(group), _) => {
            params.insert("message_type".into(), "group".into());
            params.insert("group_id".into(), group.into());
        }
        (_, _, Some(user)) => {
            params.insert("message_type".into(), "private".into());
            params.insert("user_id".into(), user.into());
        }
        _ => return Err(Error::bad_request("the event is not a message to reply to")),
    }
    params.insert("message".into(), message.into());
    let sent = call_action("send_msg", Value::Object(params))?;
    Ok(sent.get("message_id").and_then(Value::as_i64).unwrap_or(0))
}

/// Runs the plugin's handler on the host's event text. Used by [`plugin!`](crate::plugin).
#[doc(hidden)]
pub fn __run_handler(
    event: &str,
    handler: fn(Event) -> Result<Verdict>,
) -> std::result::Result<WitVerdict, String> {
    let event: Map<String, Value> =
        serde_json::from_str(event).map_err(|e| format!("the event is not a JSON object: {e}"))?;
    match handler(Event(event)).map_err(|e| e.to_string())? {
        Verdict::Pass => Ok(WitVerdict::Pass),
        Verdict::Drop => Ok(WitVerdict::Drop),
        Verdict::Replace(value) => serde_json::to_string(&value)
            .map(WitVerdict::Replace)
            .map_err(|e| format!("cannot encode the replacement event: {e}")),
    }
}

/// Runs the plugin's schedule handler. Used by [`plugin!`](crate::plugin).
#[doc(hidden)]
pub fn __run_schedule(
    name: &str,
    handler: fn(&str) -> Result<()>,
) -> std::result::Result<(), String> {
    handler(name).map_err(|e| e.to_string())
}

/// The handler of a plugin without `on_event`: every event passes.
#[doc(hidden)]
pub fn __no_handler(_: Event) -> Result<Verdict> {
    Ok(Verdict::Pass)
}

/// The schedule handler of a plugin without `schedule`.
#[doc(hidden)]
pub fn __no_schedule(name: &str) -> Result<()> {
    Err(Error::failed(format!(
        "schedule {name:?}: this plugin has no `schedule =>` entry in plugin!"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: Value) -> Event {
        match value {
            Value::Object(map) => Event(map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn text_joins_text_segments_or_reads_raw_message() {
        let e = event(json!({"post_type": "message", "message": [
            {"type": "text", "data": {"text": "pi"}},
            {"type": "face", "data": {"id": "1"}},
            {"type": "text", "data": {"text": "ng"}}
        ]}));
        assert_eq!(e.text(), "ping");
        assert_eq!(e.post_type(), "message");
        let raw = event(json!({"post_type": "message", "raw_message": "hi"}));
        assert_eq!(raw.text(), "hi");
        assert_eq!(event(json!({"post_type": "notice"})).text(), "");
    }

    #[test]
    fn handler_verdicts_and_errors_cross_as_the_host_reads_them() {
        fn drop_all(_: Event) -> Result<Verdict> {
            Ok(Verdict::Drop)
        }
        fn fail(_: Event) -> Result<Verdict> {
            Err(Error::failed("nope"))
        }
        fn upper(e: Event) -> Result<Verdict> {
            let mut v = e.into_value();
            v["extra"] = json!(1);
            Ok(Verdict::Replace(v))
        }
        let text = r#"{"post_type":"notice"}"#;
        assert!(matches!(__run_handler(text, drop_all), Ok(WitVerdict::Drop)));
        assert!(matches!(__run_handler(text, __no_handler), Ok(WitVerdict::Pass)));
        assert_eq!(
            __run_handler(text, fail).err().as_deref(),
            Some("nope (retcode 1200)")
        );
        match __run_handler(text, upper) {
            Ok(WitVerdict::Replace(t)) => assert!(t.contains("\"extra\":1")),
            _ => panic!("replaced"),
        }
        assert!(__run_handler("[]", __no_handler).is_err());
        assert!(__run_schedule("poll", __no_schedule).is_err());
    }
}
