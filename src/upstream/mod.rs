//! Gateway mode (issue 24, SPEC G1–G8): the OneBot 11 implementation the host sits in front
//! of. The host dials the upstream's forward WebSocket (universal: API frames and events on
//! one socket) and keeps it up; dispatch asks [`Upstream::call`] for every action no plugin
//! provides, and the upstream's events go on to the host's event bus.
//!
//! - `frame` — the wire: the call frame out, replies and events in.
//! - `link` — dialling, redialling with backoff, serving one connection, closing at stop.
//!
//! Calls are matched to replies by an echo of the host's own (a counter), so many calls share
//! the one socket; the client's echo never leaves the host. A call waits at most for the
//! caller's remaining deadline, or `upstream.timeoutMs` for a client's call; while no
//! connection is up it fails at once (G2). A connection that ends fails every call waiting
//! on it.

mod frame;
mod link;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

pub(crate) use link::spawn;

use crate::envelope::{ActionError, Relayed};
use crate::events::{EventBus, Identity};
use crate::sync;

/// Why a forwarded call got no reply (G2); the client sees it as retcode 1200.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error("upstream {0} is not connected")]
    Down(String),
    #[error("upstream {url} did not answer `{action}` within {ms} ms")]
    Timeout {
        url: String,
        action: String,
        ms: u128,
    },
    #[error("the connection to upstream {url} was lost before it answered `{action}`")]
    Lost { url: String, action: String },
}

impl From<ForwardError> for ActionError {
    fn from(error: ForwardError) -> Self {
        ActionError::failed(error.to_string())
    }
}

type Waiter = oneshot::Sender<Result<Relayed, ActionError>>;

/// The upstream: its settings, its connection (when up), the calls waiting for replies.
pub(crate) struct Upstream {
    config: crate::config::Upstream,
    identity: Arc<Identity>,
    events: Arc<EventBus>,
    next_echo: AtomicU64,
    pending: Mutex<HashMap<u64, Waiter>>,
    link: Mutex<Option<Link>>,
    /// The upstream's `self_id` once learned; 0 until then.
    self_id: AtomicI64,
    forwarded: AtomicU64,
    events_received: AtomicU64,
}

/// The connection now up: where call frames go, and since when.
struct Link {
    frames: mpsc::Sender<String>,
    since: SystemTime,
}

impl Upstream {
    pub(crate) fn new(
        config: crate::config::Upstream,
        identity: Arc<Identity>,
        events: Arc<EventBus>,
    ) -> Self {
        Upstream {
            config,
            identity,
            events,
            next_echo: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            link: Mutex::new(None),
            self_id: AtomicI64::new(0),
            forwarded: AtomicU64::new(0),
            events_received: AtomicU64::new(0),
        }
    }

    /// The URL as shown (no token).
    pub(crate) fn url(&self) -> &str {
        self.config.url.shown()
    }

    pub(crate) fn is_connected(&self) -> bool {
        sync::lock(&self.link).is_some()
    }

    /// The upstream's `self_id`, once learned from its events or `get_login_info` (G7).
    pub(crate) fn self_id(&self) -> Option<i64> {
        Some(self.self_id.load(Ordering::Relaxed)).filter(|id| *id != 0)
    }

    /// G2, G3: sends `action` with `params` as given, and waits for the reply until
    /// `deadline` or `upstream.timeoutMs`, whichever comes first.
    pub(crate) async fn call(
        &self,
        action: &str,
        params: &Map<String, Value>,
        deadline: Option<Instant>,
    ) -> Result<Result<Relayed, ActionError>, ForwardError> {
        let frames = sync::lock(&self.link).as_ref().map(|l| l.frames.clone());
        let Some(frames) = frames else {
            return Err(ForwardError::Down(self.url().to_owned()));
        };
        let echo = self.next_echo.fetch_add(1, Ordering::Relaxed);
        let text = frame::request(action, params, echo);
        let (waiter, reply) = oneshot::channel();
        sync::lock(&self.pending).insert(echo, waiter);
        let _waiting = Waiting {
            upstream: self,
            echo,
        };
        let limit = Instant::now() + Duration::from_millis(self.config.timeout_ms);
        let until = deadline.map_or(limit, |d| d.min(limit));
        let lost = || ForwardError::Lost {
            url: self.url().to_owned(),
            action: action.to_owned(),
        };
        let exchange = async {
            frames.send(text).await.map_err(|_| lost())?;
            self.forwarded.fetch_add(1, Ordering::Relaxed);
            reply.await.map_err(|_| lost())
        };
        let started = Instant::now();
        tokio::time::timeout_at(until.into(), exchange)
            .await
            .unwrap_or_else(|_| {
                Err(ForwardError::Timeout {
                    url: self.url().to_owned(),
                    action: action.to_owned(),
                    ms: started.elapsed().as_millis(),
                })
            })
    }

    /// G4: what `GET /` and `onebot-host plugins` show of the upstream.
    pub(crate) fn describe(&self) -> UpstreamInfo {
        let since = sync::lock(&self.link).as_ref().map(|l| l.since);
        UpstreamInfo {
            url: self.url().to_owned(),
            connected: since.is_some(),
            connected_since: since.map(unix),
            self_id: self.self_id(),
            actions_forwarded: self.forwarded.load(Ordering::Relaxed),
            events_received: self.events_received.load(Ordering::Relaxed),
        }
    }

    /// A connection is up: calls may go out on `frames`.
    fn connected(&self, frames: mpsc::Sender<String>) {
        *sync::lock(&self.link) = Some(Link {
            frames,
            since: SystemTime::now(),
        });
    }

    /// The connection ended: no new calls go out, and every call waiting fails (its waiter
    /// is dropped).
    fn disconnected(&self) {
        *sync::lock(&self.link) = None;
        sync::lock(&self.pending).clear();
    }

    /// One text frame from the upstream: a reply to its caller, an event to the bus (G6).
    fn receive(&self, text: &str) {
        match frame::read(text) {
            frame::Incoming::Reply { echo, reply } => {
                if let Some(waiter) = sync::lock(&self.pending).remove(&echo) {
                    // The caller may have given up (timeout, cancelled): nothing to do then.
                    let _ = waiter.send(reply);
                }
            }
            frame::Incoming::Event { meta, self_id } => {
                if let Some(id) = self_id {
                    self.learn_self_id(id);
                }
                if meta {
                    return;
                }
                self.events_received.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = self.events.publish("upstream", text) {
                    tracing::debug!(upstream = %self.url(), "event dropped: {e}");
                }
            }
            frame::Incoming::Stray(why) => {
                tracing::debug!(upstream = %self.url(), "frame ignored: {why}");
            }
        }
    }

    /// G7: the upstream's `self_id` is the one the host reports and stamps on events.
    fn learn_self_id(&self, id: i64) {
        if self.self_id.swap(id, Ordering::Relaxed) != id {
            tracing::info!(upstream = %self.url(), self_id = id, "upstream's self_id");
        }
        self.identity.set_self_id(id);
    }

    /// Asks a freshly connected upstream who it is (G7), in case no event says so soon.
    async fn ask_login_info(&self) {
        match self.call("get_login_info", &Map::new(), None).await {
            Ok(Ok(reply)) if reply.retcode == 0 => {
                let data: Value = serde_json::from_str(reply.data.as_str()).unwrap_or_default();
                match data.get("user_id").and_then(Value::as_i64) {
                    Some(id) => self.learn_self_id(id),
                    None => {
                        tracing::debug!(upstream = %self.url(), "get_login_info has no user_id")
                    }
                }
            }
            Ok(Ok(reply)) => {
                tracing::debug!(upstream = %self.url(), retcode = reply.retcode, "get_login_info refused")
            }
            Ok(Err(e)) => tracing::debug!(upstream = %self.url(), "get_login_info: {e}"),
            Err(e) => tracing::debug!(upstream = %self.url(), "get_login_info: {e}"),
        }
    }
}

/// Forgets a call's waiter however the call ends (reply, timeout, cancellation).
struct Waiting<'a> {
    upstream: &'a Upstream,
    echo: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        sync::lock(&self.upstream.pending).remove(&self.echo);
    }
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// G4: the upstream as `GET /` and `onebot-host plugins` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpstreamInfo {
    /// The URL as configured, without a token.
    pub url: String,
    pub(crate) connected: bool,
    /// Unix seconds.
    pub connected_since: Option<u64>,
    pub(crate) self_id: Option<i64>,
    pub(crate) actions_forwarded: u64,
    pub(crate) events_received: u64,
}
