//! The state of each `websocketClients` entry (SPEC D6): whether it is connected and since
//! when, how often it connected, and why the last dial or connection ended. What the
//! dashboard's connections page shows for each entry; not a Prometheus series (O7 counts the
//! connections by kind), so entry names never become labels.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::sync;

/// One entry's state, written by its dialling task.
#[derive(Debug, Default)]
pub struct LinkState {
    /// Unix seconds of the connection now up; 0 while not connected.
    since: AtomicU64,
    connects: AtomicU64,
    /// Why the last dial failed or the last connection ended (never holds the token: the
    /// dial errors do not, RW1).
    last_error: Mutex<Option<String>>,
}

impl LinkState {
    /// The entry connected.
    pub fn connected(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs().max(1));
        self.since.store(now, Ordering::Relaxed);
        self.connects.fetch_add(1, Ordering::Relaxed);
    }

    /// A dial failed, or the connection ended, because of `why`.
    pub fn down(&self, why: String) {
        self.since.store(0, Ordering::Relaxed);
        *sync::lock(&self.last_error) = Some(why);
    }

    /// As the dashboard shows it: `connected`, `connected_since` (Unix s or null),
    /// `connects`, `last_error`.
    pub fn describe(&self) -> Value {
        let since = self.since.load(Ordering::Relaxed);
        json!({
            "connected": since != 0,
            "connected_since": (since != 0).then_some(since),
            "connects": self.connects.load(Ordering::Relaxed),
            "last_error": *sync::lock(&self.last_error),
        })
    }
}
