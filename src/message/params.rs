//! Params in: any accepted `message` shape → the array form a plugin always receives (SPEC M3).
//!
//! Checking and converting are two passes: [`check`] reads by reference and is the only place
//! that fails, so a caller can refuse a bad `message` and still hold it untouched; [`convert`]
//! then moves the value apart without copying big payloads (`base64://…` images).

use serde_json::{Map, Value};

use super::cq::{parse_cq, parse_cq_at_most};
use super::segment::{MessageError, Position, Segment, is_word};
use crate::json::type_name;

/// Turns a `message` param into segments.
///
/// - a string is a CQ string, parsed by [`parse_cq`]; with `auto_escape` it is instead one
///   literal text segment (no segment at all for `""`, as `parse_cq("")` gives none);
/// - a segment object is wrapped in an array;
/// - an array must hold segment objects only.
///
/// A segment object needs a string `type` that is a word (ASCII letters, digits, `_`; anything
/// else can never be a real segment and could not be written as a CQ code); `data` must be an
/// object, and a missing or `null` `data` reads as `{}`. Other keys beside `type` and `data`
/// are dropped. Arrays are passed on as given: adjacent or empty text segments stay as sent.
pub(crate) fn normalize(message: Value, auto_escape: bool) -> Result<Vec<Segment>, MessageError> {
    check(&message)?;
    Ok(convert(message, auto_escape))
}

/// Replaces `params.message`, if present, with its normalized array form. `auto_escape` is read
/// from `params.auto_escape`: `true`, `1`, `"true"` (any case) and `"1"` count as true, because
/// HTTP form and query values arrive as strings; anything else, or its absence, as false.
/// On error `params` is left unchanged.
pub fn normalize_params(params: &mut Map<String, Value>) -> Result<(), MessageError> {
    let auto_escape = params.get("auto_escape").is_some_and(is_true);
    let Some(message) = params.get_mut("message") else {
        return Ok(());
    };
    check(message)?;
    let segments = convert(std::mem::take(message), auto_escape);
    *message = Value::Array(segments.into_iter().map(Segment::into_value).collect());
    Ok(())
}

/// M5: how large a `message` may grow as segments; see `limits` in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MessageLimits {
    pub(crate) max_segments: usize,
    /// The normalised array's size as compact JSON text.
    pub(crate) max_bytes: usize,
}

/// [`normalize_params`] within `limits` (M5): a CQ string stops parsing at the first segment
/// past `max_segments`, so a run of tiny codes never expands beyond it; the normalised
/// array's JSON size is counted without being written. On error the call is refused, and
/// `params.message` may already be gone.
pub(crate) fn normalize_params_within(
    params: &mut Map<String, Value>,
    limits: MessageLimits,
) -> Result<(), MessageError> {
    let auto_escape = params.get("auto_escape").is_some_and(is_true);
    let Some(message) = params.get_mut("message") else {
        return Ok(());
    };
    check(message)?;
    let too_many = MessageError::TooManySegments {
        max: limits.max_segments,
    };
    let segments = match message {
        Value::String(text) if !auto_escape => {
            parse_cq_at_most(text, limits.max_segments).ok_or(too_many)?
        }
        Value::Array(items) if items.len() > limits.max_segments => return Err(too_many),
        _ => convert(std::mem::take(message), auto_escape),
    };
    let array = Value::Array(segments.into_iter().map(Segment::into_value).collect());
    if json_len_over(&array, limits.max_bytes) {
        return Err(MessageError::TooLarge {
            max: limits.max_bytes,
        });
    }
    *message = array;
    Ok(())
}

/// Whether `value` written as compact JSON is longer than `max` bytes; stops counting there.
fn json_len_over(value: &Value, max: usize) -> bool {
    struct Count {
        len: usize,
        max: usize,
    }
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.len = self.len.saturating_add(buf.len());
            if self.len > self.max {
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(&mut Count { len: 0, max }, value).is_err()
}

/// Every way `message` can be refused; `convert` relies on this having passed.
pub(super) fn check(message: &Value) -> Result<(), MessageError> {
    match message {
        Value::String(_) => Ok(()),
        Value::Object(object) => check_segment(object, Position::Whole),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(index, item)| {
            let at = Position::Element(index);
            match item {
                Value::Object(object) => check_segment(object, at),
                other => Err(MessageError::NotASegment {
                    at,
                    got: type_name(other),
                }),
            }
        }),
        other => Err(MessageError::NotAMessage {
            got: type_name(other),
        }),
    }
}

fn check_segment(object: &Map<String, Value>, at: Position) -> Result<(), MessageError> {
    match object.get("type") {
        None => return Err(MessageError::MissingType { at }),
        Some(Value::String(kind)) if !is_word(kind) => {
            return Err(MessageError::BadType {
                at,
                kind: kind.clone(),
            });
        }
        Some(Value::String(_)) => {}
        Some(other) => {
            return Err(MessageError::TypeNotString {
                at,
                got: type_name(other),
            });
        }
    }
    match object.get("data") {
        None | Some(Value::Null | Value::Object(_)) => Ok(()),
        Some(other) => Err(MessageError::DataNotObject {
            at,
            got: type_name(other),
        }),
    }
}

/// Converts a message that passed [`check`]; on anything else it degrades instead of failing.
pub(super) fn convert(message: Value, auto_escape: bool) -> Vec<Segment> {
    match message {
        Value::String(text) if auto_escape => {
            if text.is_empty() {
                Vec::new()
            } else {
                vec![Segment::text(text)]
            }
        }
        Value::String(text) => parse_cq(&text),
        Value::Object(object) => vec![into_segment(object)],
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::Object(object) => Some(into_segment(object)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn into_segment(mut object: Map<String, Value>) -> Segment {
    let kind = match object.remove("type") {
        Some(Value::String(kind)) => kind,
        _ => String::new(),
    };
    let data = match object.remove("data") {
        Some(Value::Object(data)) => data,
        _ => Map::new(),
    };
    Segment::new(kind, data)
}

/// A OneBot flag as clients send it: `true`, `1`, `"true"` (any case) or `"1"`; anything else,
/// `false`. Form and query values arrive as strings, hence the string forms.
pub(crate) fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() == Some(1.0),
        Value::String(s) => s == "1" || s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
