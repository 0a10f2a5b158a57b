//! Events out: a message event's `message` in the server's `messagePostFormat` (SPEC M4).
//!
//! A plugin may emit `message` in any shape [`normalize`](super::normalize) accepts (a CQ
//! string, one segment, an array); each server renders the same event in its own format, so
//! rendering works on a copy per server and never assumes what another server did.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cq::format_cq;
use super::params::{check, convert};
use super::segment::{MessageError, Segment};

/// A server's `messagePostFormat` (SPEC C2, M4): `"array"` (the default) or `"string"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PostFormat {
    #[default]
    Array,
    String,
}

impl PostFormat {
    /// The wire name, as the config spells it and as `message_format` reports it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PostFormat::Array => "array",
            PostFormat::String => "string",
        }
    }
}

/// Segments as a `message` value: an array of segment objects, or one CQ string. The host
/// renders whole events ([`try_render_event`]); this is the rule it follows, for tests.
#[cfg(test)]
pub(crate) fn render(segments: &[Segment], format: PostFormat) -> Value {
    match format {
        PostFormat::Array => Value::Array(segments.iter().map(Segment::to_value).collect()),
        PostFormat::String => Value::String(format_cq(segments)),
    }
}

/// Renders a message event (`post_type` `"message"` or `"message_sent"`) for one server:
/// `message` per `format`, `message_format` set to `"array"` or `"string"`, and `raw_message`
/// always the message's CQ string, whatever the plugin put there (M4: OneBot 11 clients read
/// `raw_message` as exactly that, whatever `messagePostFormat` is). A string `message` is
/// read as a CQ string (`auto_escape` is a params-in notion). Any other event, or a message event
/// without `message`, is left as it is; so is one whose `message` is malformed, and then the
/// error says why.
pub(crate) fn try_render_event(
    event: &mut Map<String, Value>,
    format: PostFormat,
) -> Result<(), MessageError> {
    let is_message_event = matches!(
        event.get("post_type").and_then(Value::as_str),
        Some("message" | "message_sent")
    );
    if !is_message_event {
        return Ok(());
    }
    let Some(message) = event.get_mut("message") else {
        return Ok(());
    };
    check(message)?;
    let segments = convert(std::mem::take(message), false);
    let raw = format_cq(&segments);
    *message = match format {
        PostFormat::Array => Value::Array(segments.into_iter().map(Segment::into_value).collect()),
        PostFormat::String => Value::String(raw.clone()),
    };
    event.insert(
        "message_format".to_owned(),
        Value::String(format.as_str().to_owned()),
    );
    event.insert("raw_message".to_owned(), Value::String(raw));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object literal")
    }

    fn rendered(value: Value, format: PostFormat) -> Value {
        let mut e = event(value);
        // A malformed `message` leaves the event as it was, which these tests check.
        let _ = try_render_event(&mut e, format);
        Value::Object(e)
    }

    #[test]
    fn m4_post_format_wire_names() {
        assert_eq!(PostFormat::default(), PostFormat::Array);
        assert_eq!(
            serde_json::to_value(PostFormat::String).expect("ser"),
            json!("string")
        );
        let parsed: PostFormat = serde_json::from_value(json!("array")).expect("de");
        assert_eq!(parsed, PostFormat::Array);
        assert!(serde_json::from_value::<PostFormat>(json!("Array")).is_err());
        assert_eq!(PostFormat::String.as_str(), "string");
    }

    #[test]
    fn m4_render_both_forms() {
        let segments = [
            Segment::text("a[b]"),
            Segment::new("face", event(json!({"id": "1"}))),
        ];
        assert_eq!(
            render(&segments, PostFormat::Array),
            json!([{"type":"text","data":{"text":"a[b]"}},{"type":"face","data":{"id":"1"}}])
        );
        assert_eq!(
            render(&segments, PostFormat::String),
            json!("a&#91;b&#93;[CQ:face,id=1]")
        );
        assert_eq!(render(&[], PostFormat::Array), json!([]));
        assert_eq!(render(&[], PostFormat::String), json!(""));
    }

    #[test]
    fn m4_array_input_both_formats() {
        let input = json!({"post_type":"message","message_type":"private","user_id":1,
            "message":[{"type":"text","data":{"text":"hi,"}},{"type":"at","data":{"qq":"all"}}]});
        assert_eq!(
            rendered(input.clone(), PostFormat::Array),
            json!({"post_type":"message","message_type":"private","user_id":1,
                "message":[{"type":"text","data":{"text":"hi,"}},{"type":"at","data":{"qq":"all"}}],
                "message_format":"array","raw_message":"hi,[CQ:at,qq=all]"})
        );
        assert_eq!(
            rendered(input, PostFormat::String),
            json!({"post_type":"message","message_type":"private","user_id":1,
                "message":"hi,[CQ:at,qq=all]","message_format":"string",
                "raw_message":"hi,[CQ:at,qq=all]"})
        );
    }

    #[test]
    fn m4_string_and_object_input_both_formats() {
        let input = json!({"post_type":"message_sent","message":"&#91;x&#93;[CQ:face,id=1]"});
        assert_eq!(
            rendered(input.clone(), PostFormat::Array),
            json!({"post_type":"message_sent","message_format":"array",
                "message":[{"type":"text","data":{"text":"[x]"}},{"type":"face","data":{"id":"1"}}],
                "raw_message":"&#91;x&#93;[CQ:face,id=1]"})
        );
        assert_eq!(
            rendered(input, PostFormat::String),
            json!({"post_type":"message_sent","message_format":"string",
                "message":"&#91;x&#93;[CQ:face,id=1]","raw_message":"&#91;x&#93;[CQ:face,id=1]"})
        );
        let object = json!({"post_type":"message","message":{"type":"face","data":{"id":5}}});
        assert_eq!(
            rendered(object.clone(), PostFormat::Array),
            json!({"post_type":"message","message_format":"array",
                "message":[{"type":"face","data":{"id":5}}],"raw_message":"[CQ:face,id=5]"})
        );
        assert_eq!(
            rendered(object, PostFormat::String),
            json!({"post_type":"message","message_format":"string",
                "message":"[CQ:face,id=5]","raw_message":"[CQ:face,id=5]"})
        );
    }

    #[test]
    fn m4_raw_message_is_always_the_cq_string_of_the_message() {
        // Issue 15: an empty or stale raw_message from the plugin is replaced, in both formats.
        for format in [PostFormat::Array, PostFormat::String] {
            for raw in [json!(""), json!("original"), Value::Null] {
                let input = json!({"post_type":"message","raw_message":raw,"message":[
                    {"type":"text","data":{"text":"hi [x]"}},{"type":"face","data":{"id":"178"}}]});
                assert_eq!(
                    rendered(input, format)["raw_message"],
                    json!("hi &#91;x&#93;[CQ:face,id=178]"),
                    "{raw} in {format:?}"
                );
            }
        }
    }

    #[test]
    fn m4_message_format_overwritten() {
        let input = json!({"post_type":"message","message":"x","message_format":"array"});
        assert_eq!(
            rendered(input, PostFormat::String)["message_format"],
            json!("string")
        );
    }

    #[test]
    fn m4_other_events_untouched() {
        let untouched = [
            json!({"post_type":"notice","notice_type":"group_upload","message":"[CQ:x]"}),
            json!({"post_type":"meta_event","meta_event_type":"heartbeat"}),
            json!({"message":"no post_type"}),
            json!({"post_type":5,"message":"x"}),
            json!({"post_type":"message"}),
        ];
        for input in untouched {
            for format in [PostFormat::Array, PostFormat::String] {
                assert_eq!(
                    rendered(input.clone(), format),
                    input,
                    "{input} in {format:?}"
                );
            }
        }
    }

    #[test]
    fn m4_malformed_message_left_as_emitted_and_reported() {
        let input = json!({"post_type":"message","message":[{"type":"face"}, 5]});
        let mut e = event(input.clone());
        assert!(try_render_event(&mut e, PostFormat::String).is_err());
        assert_eq!(Value::Object(e), input);
        assert_eq!(rendered(input.clone(), PostFormat::Array), input);
    }
}
