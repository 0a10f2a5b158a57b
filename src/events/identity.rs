//! The bot's identity as events carry it: `self_id` (SPEC E6, W5).
//!
//! Dispatch learns the id (it asks the plugin providing `get_login_info` whenever the plugin
//! set changes) and writes it here; the bus reads it to stamp events. Sharing this small value
//! keeps the flow one-way: the bus never calls up into dispatch.

use std::sync::atomic::{AtomicI64, Ordering};

/// The bot's `self_id`, shared by dispatch (which learns it) and the bus (which stamps it).
#[derive(Debug)]
pub struct Identity {
    self_id: AtomicI64,
}

impl Identity {
    /// Starts as the config's `bot.selfId` (C3b) until a plugin says otherwise.
    pub fn new(self_id: i64) -> Self {
        Identity {
            self_id: AtomicI64::new(self_id),
        }
    }

    pub(crate) fn self_id(&self) -> i64 {
        self.self_id.load(Ordering::Relaxed)
    }

    pub(crate) fn set_self_id(&self, self_id: i64) {
        self.self_id.store(self_id, Ordering::Relaxed);
    }
}
