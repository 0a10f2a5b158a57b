//! Small JSON helpers shared by every decoder (HTTP bodies, WebSocket frames, plugin events),
//! so their error messages name things the same way.

use serde_json::Value;

/// A value's JSON type as a phrase for error messages: "an array", "a number", …
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
