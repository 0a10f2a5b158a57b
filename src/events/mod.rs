//! The event bus: carries events emitted by plugins (SPEC P4 `emit-event`) and the host's meta
//! events (W3) to every event subscriber, that is every universal WebSocket client of every
//! server (W5), each in its own bounded queue (W6).
//!
//! - `identity` — the bot's `self_id` (E6): written by dispatch, read here; flow stays one-way.
//! - `meta` — the lifecycle and heartbeat events, and the `time`/`self_id` stamp (W3, W5).
//! - `queue` — one subscriber's bounded queue and its "fell behind" signal (W6).
//!
//! [`EventBus::publish`] validates at the edge of the plugin runtime, so a plugin learns at
//! once that its event was malformed. With no subscriber it only checks, without building the
//! event: [`crate::json::plain_object_with_string`] vouches for plain events in one pass, and
//! anything else takes the same full parse as with subscribers, so the answers and their
//! messages do not depend on who is listening.
//!
//! Delivery never waits: each event is rendered once per `messagePostFormat` (M4) and offered
//! to every queue with `try_send`. A full queue marks its subscriber as fallen behind and
//! drops it from the bus; its connection closes itself. So a slow client costs the plugin
//! nothing and the other clients nothing.
//!
//! The subscriber list sits behind a std mutex, held only for the synchronous fan-out (never
//! across an `.await`): holding it while offering one event to every queue is what makes every
//! subscriber see concurrent publishers' events in the same order.
//!
//! Event handlers (SPEC T1–T8): once a [`Screen`] is attached (the host's handler chain,
//! `crate::triggers`) and says it is active (some loaded plugin handles events), every
//! published event, from any source, is handed to it instead of being delivered; the screen
//! runs the handlers in order and delivers what they let through with
//! [`EventBus::deliver`]. Every event then takes that one path, so the order in which
//! subscribers see events stays the order of publication.

mod identity;
mod meta;
mod queue;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

pub use identity::Identity;
pub(crate) use queue::{Frame, Queue};

use crate::json;
use crate::message::{PostFormat, try_render_event};
use crate::metrics::{ConnectionKind, EntryStats, Metrics};
use crate::sync;

/// Why `emit-event` refused an event; the plugin reads this message.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EventError {
    /// Not JSON text; the parser's message.
    #[error("event is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object; the type it was.
    #[error("an event must be a JSON object, got {0}")]
    NotObject(&'static str),
    /// An object without a string `post_type`.
    #[error("an event needs a string `post_type`")]
    NoPostType,
}

/// Carries events (plugins' and the host's meta events) to every subscriber, each
/// through its own bounded queue, after the event handlers' chain has seen them (T1).
pub struct EventBus {
    identity: Arc<Identity>,
    subscribers: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
    published: AtomicU64,
    /// The event handlers' chain (T1), once the host attached it.
    screen: OnceLock<Arc<dyn Screen>>,
    /// O7: where connections count their clients and events.
    metrics: Arc<Metrics>,
}

/// Where an event comes from, as the event handlers need to know it (T6): how deep in a chain
/// of plugin calls it was published, and which handlers' calls led to it. A client's call and
/// the host's own sources have the default: depth 0, no handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub(crate) depth: u32,
    /// The handlers whose calls (or the actions those called) published the event.
    pub(crate) handlers: Arc<[Arc<str>]>,
}

impl Origin {
    /// The origin of what `handler` does while it handles an event of this origin.
    pub(crate) fn through(&self, handler: &Arc<str>) -> Origin {
        let mut handlers = self.handlers.to_vec();
        if !handlers.contains(handler) {
            handlers.push(handler.clone());
        }
        Origin {
            depth: self.depth,
            handlers: handlers.into(),
        }
    }

    /// Whether `handler` took part in publishing the event: it is then not shown the event.
    pub(crate) fn caused_by(&self, handler: &str) -> bool {
        self.handlers.iter().any(|h| &**h == handler)
    }
}

/// An event on its way through the handlers: parsed, stamped (`time`, `self_id`), with who
/// published it (a plugin's name, `upstream`, …) and its [`Origin`].
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) source: Arc<str>,
    pub(crate) event: Map<String, Value>,
    pub(crate) origin: Origin,
}

/// What the bus hands events to before they are delivered: the event handlers' chain (T1).
/// Implemented above the plugin runtime, attached once with [`EventBus::set_screen`].
pub(crate) trait Screen: Send + Sync + 'static {
    /// Whether events go through the screen now (some loaded plugin handles events).
    fn active(&self) -> bool;
    /// Takes one event; the screen delivers it (or not) later, in the order submitted.
    fn submit(&self, pending: Pending);
}

/// One subscriber as the bus sees it: where to put its frames and in which format.
struct Subscriber {
    id: u64,
    format: PostFormat,
    /// `reportSelfMessage`: whether it receives the bot's own messages (`message_sent`).
    report_self: bool,
    queue: Queue,
}

impl EventBus {
    /// A bus with no subscriber that stamps events with `identity`'s `self_id`.
    pub fn new(identity: Arc<Identity>) -> Self {
        EventBus {
            identity,
            subscribers: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            published: AtomicU64::new(0),
            screen: OnceLock::new(),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// The bus counting into the host's `metrics` (O7) rather than a set of its own.
    pub(crate) fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The host's metrics, which the connections fed by this bus count into (O7).
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Attaches the event handlers' chain (T1). Once only; later calls are ignored.
    pub(crate) fn set_screen(&self, screen: Arc<dyn Screen>) {
        let _ = self.screen.set(screen);
    }

    /// Accepts one event from `plugin` (the JSON text `emit-event` was given): a JSON object
    /// with a string `post_type`. Fills `time` and `self_id` when the plugin left them out
    /// (W5), then offers it to every subscriber. Never blocks on a subscriber.
    pub(crate) fn publish(&self, plugin: &str, text: &str) -> Result<(), EventError> {
        self.publish_from(plugin, text, &Origin::default())
    }

    /// [`EventBus::publish`] for an event whose [`Origin`] the handlers must know (T6): one
    /// published during a plugin call, which may be a handler's or caused by one.
    pub(crate) fn publish_from(
        &self,
        plugin: &str,
        text: &str,
        origin: &Origin,
    ) -> Result<(), EventError> {
        if let Some(screen) = self.screen.get().filter(|screen| screen.active()) {
            let mut event = parse(text)?;
            meta::stamp(&mut event, self.identity.self_id());
            self.published.fetch_add(1, Ordering::Relaxed);
            self.metrics.published();
            screen.submit(Pending {
                source: plugin.into(),
                event,
                origin: origin.clone(),
            });
            return Ok(());
        }
        if self.lock().is_empty() {
            // Nobody to deliver to: check it (the plugin still learns of a bad event) but do
            // not build it. A client subscribing now only sees later events anyway.
            check(text)?;
            self.published.fetch_add(1, Ordering::Relaxed);
            self.metrics.published();
            return Ok(());
        }
        let mut event = parse(text)?;
        meta::stamp(&mut event, self.identity.self_id());
        self.published.fetch_add(1, Ordering::Relaxed);
        self.metrics.published();
        self.deliver(plugin, &event);
        Ok(())
    }

    /// [`EventBus::subscribe_as`] for a WebSocket server's client that sees its own messages:
    /// what the bus's tests need.
    #[cfg(test)]
    pub(crate) fn subscribe(self: &Arc<Self>, format: PostFormat, capacity: usize) -> Subscription {
        self.subscribe_as(
            ConnectionKind::WebSocketServer,
            None,
            format,
            true,
            capacity,
        )
    }

    /// Registers a subscriber whose frames are rendered in `format` and queued up to
    /// `capacity` deep. Its first frame is the lifecycle `connect` event (W3), queued before
    /// the subscriber can see anything else. Dropping the [`Subscription`] unsubscribes.
    ///
    /// The connection is of `kind`: its events are counted under it (O7), and under its server
    /// or client `entry` when it has one (D6). It receives the bot's own messages
    /// (`message_sent` events) only when `report_self` (NapCat's `reportSelfMessage`).
    pub(crate) fn subscribe_as(
        self: &Arc<Self>,
        kind: ConnectionKind,
        entry: Option<Arc<EntryStats>>,
        format: PostFormat,
        report_self: bool,
        capacity: usize,
    ) -> Subscription {
        let (queue, frames) = Queue::new(capacity, self.metrics.flow_to(kind, entry));
        let connect = meta::lifecycle_connect(self.identity.self_id());
        self.add(format, report_self, queue, frames, Some(to_frame(&connect)))
    }

    /// A subscriber for an `httpClients` endpoint: no lifecycle event (there is no
    /// connection), and a lossy queue ([`Queue::lossy`]) that drops and counts what does not
    /// fit rather than unsubscribing, since an endpoint cannot be disconnected. Counted under
    /// the endpoint's `entry` too (D6).
    pub(crate) fn subscribe_lossy(
        self: &Arc<Self>,
        entry: Arc<EntryStats>,
        format: PostFormat,
        report_self: bool,
        capacity: usize,
    ) -> Subscription {
        let flow = self
            .metrics
            .flow_to(ConnectionKind::HttpClient, Some(entry));
        let (queue, frames) = Queue::lossy(capacity, flow);
        self.add(format, report_self, queue, frames, None)
    }

    fn add(
        self: &Arc<Self>,
        format: PostFormat,
        report_self: bool,
        queue: Queue,
        frames: mpsc::Receiver<Frame>,
        first: Option<Frame>,
    ) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subscribers = self.lock();
        // A fresh queue has room for at least one frame (capacity ≥ 1).
        if let Some(first) = first {
            queue.push(first);
        }
        subscribers.push(Subscriber {
            id,
            format,
            report_self,
            queue: queue.clone(),
        });
        drop(subscribers);
        Subscription {
            id,
            frames,
            queue,
            bus: self.clone(),
        }
    }

    /// How many valid events plugins have emitted since start.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// How many subscribers are connected now (those that fell behind are already gone).
    pub fn subscribers(&self) -> usize {
        self.lock().len()
    }

    /// Fills `time` and `self_id` where an event lacks them (W5); for a handler's replacement.
    pub(crate) fn stamp(&self, event: &mut Map<String, Value>) {
        meta::stamp(event, self.identity.self_id());
    }

    /// Offers a checked, stamped event to every subscriber; the screen (T1) calls it with what
    /// the handlers let through (it stamps replacements itself, with [`EventBus::stamp`]).
    pub(crate) fn deliver(&self, plugin: &str, event: &Map<String, Value>) {
        // Rendered lazily, at most once per format present among the subscribers (M4).
        let (mut array, mut string) = (None, None);
        let mut warned = false;
        let own = event.get("post_type").and_then(Value::as_str) == Some("message_sent");
        let mut subscribers = self.lock();
        subscribers.retain(|subscriber| {
            if own && !subscriber.report_self {
                return true;
            }
            let slot = match subscriber.format {
                PostFormat::Array => &mut array,
                PostFormat::String => &mut string,
            };
            let frame =
                slot.get_or_insert_with(|| render(plugin, event, subscriber.format, &mut warned));
            subscriber.queue.push(frame.clone())
        });
    }

    fn unsubscribe(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
    }

    /// The subscriber list; every change to it is one `push` or `retain`, so a panic elsewhere
    /// cannot leave it half-changed and [`sync::lock`] may ignore poisoning.
    fn lock(&self) -> MutexGuard<'_, Vec<Subscriber>> {
        sync::lock(&self.subscribers)
    }
}

/// One subscriber's end: its frames, in order, and its own queue for the meta events the
/// connection produces itself (heartbeats, W3).
pub(crate) struct Subscription {
    id: u64,
    frames: mpsc::Receiver<Frame>,
    queue: Queue,
    bus: Arc<EventBus>,
}

impl Subscription {
    /// The next frame to send. Never `None` while the subscription lives (it holds a sender).
    /// Taking it counts it as delivered (O7), except on a lossy queue, whose owner says.
    pub(crate) async fn recv(&mut self) -> Option<Frame> {
        let frame = self.frames.recv().await;
        self.queue.taken(frame.is_some());
        frame
    }

    /// The next frame if one is queued already.
    pub(crate) fn try_recv(&mut self) -> Option<Frame> {
        let frame = self.frames.try_recv().ok();
        self.queue.taken(frame.is_some());
        frame
    }

    /// A handle on this subscriber's queue, to wait for [`Queue::fell_behind`] (W6) while the
    /// subscription itself is busy receiving.
    pub(crate) fn queue(&self) -> Queue {
        self.queue.clone()
    }

    /// Queues a heartbeat (W3) behind the events already queued. False when the queue was
    /// full, which counts as falling behind like any other frame.
    pub(crate) fn heartbeat(&self, interval_ms: u64) -> bool {
        let event = meta::heartbeat(self.bus.identity.self_id(), interval_ms);
        self.queue.push(to_frame(&event))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.bus.unsubscribe(self.id);
    }
}

/// An emitted event as P4 accepts it: one JSON object (strict JSON: plugins write it with a
/// serialiser) whose `post_type` (the last one, if repeated) is a string.
pub(crate) fn parse(text: &str) -> Result<Map<String, Value>, EventError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| EventError::NotJson(e.to_string()))?;
    let event = json::object(value).map_err(EventError::NotObject)?;
    if !matches!(event.get("post_type"), Some(Value::String(_))) {
        return Err(EventError::NoPostType);
    }
    Ok(event)
}

/// [`parse`]'s answer without the event: the fast pass when it is sure, else `parse` itself.
fn check(text: &str) -> Result<(), EventError> {
    if json::plain_object_with_string(text.as_bytes(), "post_type") {
        return Ok(());
    }
    parse(text).map(drop)
}

/// The event as one server's clients see it: a message event's `message` in `format` (M4).
/// A malformed `message` is logged once per event (`warned`), not once per format.
fn render(
    plugin: &str,
    event: &Map<String, Value>,
    format: PostFormat,
    warned: &mut bool,
) -> Frame {
    let mut event = event.clone();
    if let Err(e) = try_render_event(&mut event, format)
        && !std::mem::replace(warned, true)
    {
        tracing::warn!(
            plugin,
            "event sent as emitted: its `message` is malformed: {e}"
        );
    }
    to_frame(&event)
}

fn to_frame(event: &Map<String, Value>) -> Frame {
    // A map of JSON values always serialises.
    Frame::from(serde_json::to_string(event).unwrap_or_default())
}

#[cfg(test)]
mod tests;
