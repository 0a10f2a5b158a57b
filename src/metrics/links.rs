//! The state of each server and client entry (SPEC D6): for a `websocketClients` entry whether
//! it is connected and since when, how often it connected, and why the last dial or
//! connection ended ([`LinkState`]); for every entry its clients and events ([`EntryStats`]).
//! What the dashboard's connections page shows for each entry; not Prometheus series (O7
//! counts the connections by kind), so entry names never become labels.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::sync;

/// One entry's state, written by its dialling task.
#[derive(Debug, Default)]
pub(crate) struct LinkState {
    /// Unix seconds of the connection now up; 0 while not connected.
    since: AtomicU64,
    connects: AtomicU64,
    /// Why the last dial failed or the last connection ended (never holds the token: the
    /// dial errors do not, RW1).
    last_error: Mutex<Option<String>>,
}

impl LinkState {
    /// The entry connected.
    pub(crate) fn connected(&self) {
        self.since.store(now(), Ordering::Relaxed);
        self.connects.fetch_add(1, Ordering::Relaxed);
    }

    /// A dial failed, or the connection ended, because of `why`.
    pub(crate) fn down(&self, why: String) {
        self.since.store(0, Ordering::Relaxed);
        *sync::lock(&self.last_error) = Some(why);
    }

    /// As the dashboard shows it: `connected`, `connected_since` (Unix s or null),
    /// `connects`, `last_error`.
    pub(crate) fn describe(&self) -> Value {
        let since = self.since.load(Ordering::Relaxed);
        json!({
            "connected": since != 0,
            "connected_since": (since != 0).then_some(since),
            "connects": self.connects.load(Ordering::Relaxed),
            "last_error": *sync::lock(&self.last_error),
        })
    }
}

/// The counters of one server or client entry (D6), next to O7's per-kind ones: its clients
/// connected now, the events it delivered and dropped, and for an `httpClients` entry the
/// POSTs whose every try failed, when one last succeeded and the last failure. Like
/// [`LinkState`], kept for the dashboard only, so entry names never become labels (O2).
#[derive(Debug, Default)]
pub(crate) struct EntryStats {
    clients: AtomicU64,
    delivered: AtomicU64,
    /// Events that found the client's queue full.
    dropped: AtomicU64,
    /// `httpClients`: events whose POST failed on every try.
    failed: AtomicU64,
    /// `httpClients`: Unix seconds of the last POST the endpoint took; 0 before any.
    last_success: AtomicU64,
    /// `httpClients`: the last failure and its Unix second (never holds the token or the
    /// URL's query: the POST errors do not, R2).
    last_error: Mutex<Option<(u64, String)>>,
}

impl EntryStats {
    pub(super) fn connect(&self) {
        self.clients.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn disconnect(&self) {
        self.clients.fetch_sub(1, Ordering::Relaxed);
    }

    pub(super) fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// An `httpClients` POST succeeded now.
    pub(crate) fn succeeded(&self) {
        self.last_success.store(now(), Ordering::Relaxed);
    }

    /// An `httpClients` endpoint failed now, because of `why` (a POST's error, or why the
    /// entry was not started).
    pub(crate) fn error(&self, why: String) {
        *sync::lock(&self.last_error) = Some((now(), why));
    }

    /// As the dashboard shows it: `clients`, `delivered`, `dropped`, `failed`,
    /// `last_success` (Unix s or null), `last_error` and `last_error_at` (Unix s or null).
    pub(crate) fn describe(&self) -> Value {
        let last_success = self.last_success.load(Ordering::Relaxed);
        let last_error = sync::lock(&self.last_error).clone();
        json!({
            "clients": self.clients.load(Ordering::Relaxed),
            "delivered": self.delivered.load(Ordering::Relaxed),
            "dropped": self.dropped.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "last_success": (last_success != 0).then_some(last_success),
            "last_error": last_error.as_ref().map(|(_, why)| why),
            "last_error_at": last_error.as_ref().map(|(at, _)| at),
        })
    }
}

/// Unix seconds now (at least 1, so 0 can mean "never").
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs().max(1))
}
