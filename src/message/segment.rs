//! The message segment (SPEC M1) and the errors of the message boundary (SPEC M3).
//!
//! A segment is `{"type": …, "data": {…}}` exactly as on the wire; `data` values stay JSON so a
//! plugin's numbers and nested arrays (`node` content) survive the array form untouched.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One OneBot 11 message segment: `{"type":"face","data":{"id":"178"}}` (SPEC M1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// The segment's `type` (`text`, `face`, `at`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Missing `data` reads as `{}` (the standard writes `[CQ:shake]` with no params).
    #[serde(default)]
    pub data: Map<String, Value>,
}

impl Segment {
    pub(crate) fn new(kind: impl Into<String>, data: Map<String, Value>) -> Self {
        Self {
            kind: kind.into(),
            data,
        }
    }

    /// `{"type":"text","data":{"text":…}}`.
    pub(crate) fn text(text: impl Into<String>) -> Self {
        let mut data = Map::new();
        data.insert("text".to_owned(), Value::String(text.into()));
        Self::new("text", data)
    }

    /// The text of a *plain* text segment: type `text` whose data is exactly one string
    /// `text`. Only these are written as bare text in a CQ string and merged when adjacent;
    /// any other `text` segment (extra keys, a non-string `text`) is kept whole as a CQ code.
    pub fn plain_text(&self) -> Option<&str> {
        match (self.kind.as_str(), self.data.len(), self.data.get("text")) {
            ("text", 1, Some(Value::String(text))) => Some(text),
            _ => None,
        }
    }

    /// The segment as a JSON value, without going through a fallible serializer.
    #[cfg(test)]
    pub(crate) fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    pub(crate) fn into_value(self) -> Value {
        let mut object = Map::new();
        object.insert("type".to_owned(), Value::String(self.kind));
        object.insert("data".to_owned(), Value::Object(self.data));
        Value::Object(object)
    }
}

/// Where in the `message` param a problem sits: the param itself or one array element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// The `message` param as a whole.
    Whole,
    /// The element at this index of a `message` array.
    Element(usize),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Whole => f.write_str("message"),
            Position::Element(index) => write!(f, "message[{index}]"),
        }
    }
}

/// Why a `message` could not be turned into segments (SPEC M3; the host answers 1400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// `message` is neither a string, a segment object nor an array.
    #[error("message must be a string, a segment object or an array of segments, got {got}")]
    NotAMessage {
        /// The JSON type found instead.
        got: &'static str,
    },
    /// An array element that is not an object.
    #[error("{at} must be a segment object, got {got}")]
    NotASegment {
        /// Where it is.
        at: Position,
        /// The JSON type found instead.
        got: &'static str,
    },
    /// A segment without `type`.
    #[error("{at} has no \"type\"")]
    MissingType {
        /// Where it is.
        at: Position,
    },
    /// A segment whose `type` is not a string.
    #[error("{at}.type must be a string, got {got}")]
    TypeNotString {
        /// Where it is.
        at: Position,
        /// The JSON type found instead.
        got: &'static str,
    },
    /// A segment whose `type` is not a word.
    #[error("{at}.type {kind:?} is not a segment type (ASCII letters, digits and _ only)")]
    BadType {
        /// Where it is.
        at: Position,
        /// The `type` as sent.
        kind: String,
    },
    /// A segment whose `data` is not an object.
    #[error("{at}.data must be an object, got {got}")]
    DataNotObject {
        /// Where it is.
        at: Position,
        /// The JSON type found instead.
        got: &'static str,
    },
    /// M5: more segments than `limits.maxMessageSegments`.
    #[error("message has more than {max} segments (limits.maxMessageSegments); send fewer")]
    TooManySegments {
        /// The limit.
        max: usize,
    },
    /// M5: larger than `limits.maxMessageBytes` once normalised to segments.
    #[error("message is larger than {max} bytes as segments (limits.maxMessageBytes); send less")]
    TooLarge {
        /// The limit, in bytes.
        max: usize,
    },
}

/// Whether `s` matches the standard's `\w+` for types and keys, read as ASCII: letters,
/// digits and `_`. (A Unicode `\w` would let `[CQ:表情]` through; no implementation emits that.)
pub(super) fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_word_byte)
}

pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn m1_segment_wire_shape() {
        let face: Segment =
            serde_json::from_value(json!({"type":"face","data":{"id":"178"}})).expect("segment");
        assert_eq!(face.kind, "face");
        assert_eq!(face.data.get("id"), Some(&json!("178")));
        assert_eq!(face.to_value(), json!({"type":"face","data":{"id":"178"}}));
        assert_eq!(
            serde_json::to_value(&face).expect("serialize"),
            face.to_value()
        );
        assert_eq!(
            Segment::text("hi").to_value(),
            json!({"type":"text","data":{"text":"hi"}})
        );
    }

    #[test]
    fn m1_missing_data_reads_as_empty() {
        let shake: Segment = serde_json::from_value(json!({"type":"shake"})).expect("segment");
        assert!(shake.data.is_empty());
    }

    #[test]
    fn m1_plain_text_only_for_exact_text_segments() {
        let with = |data: Value| Segment {
            kind: "text".into(),
            data: data.as_object().cloned().unwrap_or_default(),
        };
        assert_eq!(Segment::text("a").plain_text(), Some("a"));
        assert_eq!(with(json!({"text": 5})).plain_text(), None);
        assert_eq!(with(json!({"text": "a", "x": "b"})).plain_text(), None);
        assert_eq!(with(json!({})).plain_text(), None);
        let mut face = Segment::text("a");
        face.kind = "face".into();
        assert_eq!(face.plain_text(), None);
    }

    #[test]
    fn m2_word_is_ascii_letters_digits_underscore() {
        for ok in ["face", "at", "user_id", "_", "a1", "ABC", "0"] {
            assert!(is_word(ok), "{ok}");
        }
        for bad in ["", "fa ce", "a-b", "a.b", "表情", "é", "a,b", "a=b", "a]"] {
            assert!(!is_word(bad), "{bad}");
        }
    }

    #[test]
    fn m3_error_messages_name_the_problem() {
        let cases = [
            (
                MessageError::NotAMessage { got: "number" },
                "message must be a string, a segment object or an array of segments, got number",
            ),
            (
                MessageError::NotASegment {
                    at: Position::Element(2),
                    got: "string",
                },
                "message[2] must be a segment object, got string",
            ),
            (
                MessageError::MissingType {
                    at: Position::Whole,
                },
                "message has no \"type\"",
            ),
            (
                MessageError::TypeNotString {
                    at: Position::Element(0),
                    got: "null",
                },
                "message[0].type must be a string, got null",
            ),
            (
                MessageError::BadType {
                    at: Position::Whole,
                    kind: "fa ce".into(),
                },
                "message.type \"fa ce\" is not a segment type (ASCII letters, digits and _ only)",
            ),
            (
                MessageError::DataNotObject {
                    at: Position::Element(1),
                    got: "array",
                },
                "message[1].data must be an object, got array",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
