//! The event bus: carries events emitted by plugins (SPEC P4 `emit-event`) towards event
//! subscribers (WebSocket clients, W5).
//!
//! Validation happens here, at the edge of the plugin runtime, so a plugin learns at once
//! that its event was malformed. Delivery to WebSocket clients arrives with the WebSocket
//! transport; until a subscriber exists, valid events are counted and dropped.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

#[derive(Default)]
pub struct EventBus {
    published: AtomicU64,
}

impl EventBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts one event from `plugin`: a JSON object with a string `post_type`.
    pub fn publish(&self, plugin: &str, event: Value) -> Result<(), String> {
        let Value::Object(event) = event else {
            return Err("an event must be a JSON object".into());
        };
        match event.get("post_type") {
            Some(Value::String(_)) => {}
            _ => return Err("an event needs a string `post_type`".into()),
        }
        self.published.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(plugin, "event accepted (no subscribers yet)");
        Ok(())
    }

    /// How many valid events plugins have emitted since start.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}
