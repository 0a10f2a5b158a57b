//! The host's own events and the stamp on every event (SPEC W3, W5).
//!
//! NoneBot2 drops events without `time` and `self_id`, and Koishi loses the bot's identity, so
//! the host fills both when a plugin leaves them out (absent or `null`); a value the plugin set
//! is kept as it is.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Seconds since the Unix epoch, as OneBot's `time` fields want.
pub(crate) fn unix_time() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// W5: `time` (integer seconds) and `self_id` (integer) unless the event has them.
pub(super) fn stamp(event: &mut Map<String, Value>, self_id: i64) {
    if event.get("time").is_none_or(Value::is_null) {
        event.insert("time".to_owned(), json!(unix_time()));
    }
    if event.get("self_id").is_none_or(Value::is_null) {
        event.insert("self_id".to_owned(), json!(self_id));
    }
}

/// W3: the first frame every universal client receives. NoneBot2 registers its bot from it.
pub(super) fn lifecycle_connect(self_id: i64) -> Map<String, Value> {
    object(json!({
        "time": unix_time(),
        "self_id": self_id,
        "post_type": "meta_event",
        "meta_event_type": "lifecycle",
        "sub_type": "connect",
    }))
}

/// W3: sent every `heartInterval` ms to every universal client.
pub(super) fn heartbeat(self_id: i64, interval_ms: u64) -> Map<String, Value> {
    object(json!({
        "time": unix_time(),
        "self_id": self_id,
        "post_type": "meta_event",
        "meta_event_type": "heartbeat",
        "status": {"online": true, "good": true},
        "interval": interval_ms,
    }))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w5_stamp_fills_missing_or_null_and_keeps_the_rest() {
        let mut event = object(json!({"post_type": "notice", "self_id": null}));
        stamp(&mut event, 42);
        assert_eq!(event["self_id"], 42);
        assert!(event["time"].as_i64().is_some_and(|t| t > 1_600_000_000));

        let mut event = object(json!({"post_type": "notice", "time": 5, "self_id": 7}));
        stamp(&mut event, 42);
        assert_eq!(
            (event["time"].clone(), event["self_id"].clone()),
            (json!(5), json!(7))
        );
    }

    #[test]
    fn w3_meta_event_shapes() {
        let connect = Value::Object(lifecycle_connect(9));
        assert_eq!(connect["post_type"], "meta_event");
        assert_eq!(connect["meta_event_type"], "lifecycle");
        assert_eq!(connect["sub_type"], "connect");
        assert_eq!(connect["self_id"], 9);
        assert!(connect["time"].is_i64());

        let beat = Value::Object(heartbeat(9, 1500));
        assert_eq!(beat["meta_event_type"], "heartbeat");
        assert_eq!(beat["status"], json!({"online": true, "good": true}));
        assert_eq!(beat["interval"], 1500);
        assert_eq!(beat["self_id"], 9);
    }
}
