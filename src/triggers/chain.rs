//! The event handlers' chain (SPEC T1–T8). The bus hands it every published event once some
//! loaded plugin handles events ([`crate::events::Screen`]); one task takes them in order and
//! runs each through the handlers whose sidecar names its post type, in the order of T3, then
//! delivers what is left. One task keeps the order of publication for every subscriber, and a
//! handler's own actions (a reply) publish events that queue behind the event it handles: the
//! chain never waits on itself.
//!
//! Loops (T6): an event carries the handlers whose calls led to it ([`Origin`]); none of them
//! sees it again, and past the nested-call depth limit no handler sees it at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::config::triggers::OnError;
use crate::events::{EventBus, Origin, Pending, Screen};
use crate::metrics::HandlerOutcome;
use crate::plugin::{CallContext, MAX_DEPTH, Plugin, Verdict};
use crate::registry::Registry;

/// How many events may wait for the handlers (T7). Past it an event is delivered without
/// them (and counted), rather than holding up the plugin that published it.
pub(crate) const QUEUE: usize = 4096;

/// The bus's side of the chain: where events wait for the handlers. It holds the registry
/// and the bus weakly: the bus holds the chain, and the registry's plugins hold the bus (their
/// runtime publishes to it), so strong references would make a cycle that outlives the host
/// (its engine, its key-value database).
pub(crate) struct Chain {
    registry: std::sync::Weak<Registry>,
    queue: mpsc::Sender<Pending>,
    /// Where an event the queue has no room for is delivered at once (T7).
    bus: std::sync::Weak<EventBus>,
    /// Events delivered without the handlers because the queue was full (T7): paces the WARN.
    overflowed: AtomicU64,
}

/// The chain's task: takes events in order and runs the handlers on them.
pub(crate) struct Worker {
    registry: Arc<Registry>,
    bus: Arc<EventBus>,
    events: mpsc::Receiver<Pending>,
}

impl Chain {
    /// Attaches a chain to `bus` (which keeps it); the returned [`Worker`] must be run for
    /// events to flow while handlers are loaded.
    pub(crate) fn attach(registry: Arc<Registry>, bus: &Arc<EventBus>) -> Worker {
        let (queue, events) = mpsc::channel(QUEUE);
        bus.set_screen(Arc::new(Chain {
            registry: Arc::downgrade(&registry),
            queue,
            bus: Arc::downgrade(bus),
            overflowed: AtomicU64::new(0),
        }));
        Worker {
            registry,
            bus: bus.clone(),
            events,
        }
    }
}

impl Screen for Chain {
    fn active(&self) -> bool {
        self.registry
            .upgrade()
            .is_some_and(|registry| !registry.snapshot().handlers().is_empty())
    }

    fn submit(&self, pending: Pending) {
        match self.queue.try_send(pending) {
            Ok(()) => {}
            Err(
                mpsc::error::TrySendError::Full(pending)
                | mpsc::error::TrySendError::Closed(pending),
            ) => {
                let before = self.overflowed.fetch_add(1, Ordering::Relaxed);
                if before.is_power_of_two() || before == 0 {
                    tracing::warn!(
                        source = %pending.source,
                        "{} events waiting for the event handlers: this one is delivered without \
                         them ({} so far)",
                        QUEUE,
                        before + 1
                    );
                }
                if let Some(bus) = self.bus.upgrade() {
                    bus.deliver(&pending.source, &pending.event);
                }
            }
        }
    }
}

impl Worker {
    /// Runs until `stopped` turns true; events still queued then are delivered through the
    /// handlers first, so a shutdown loses none that were published before it.
    pub(crate) async fn run(mut self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                biased;
                pending = self.events.recv() => match pending {
                    Some(pending) => self.screen(pending).await,
                    None => return,
                },
                () = super::stopping(&mut stopped) => break,
            }
        }
        while let Ok(pending) = self.events.try_recv() {
            self.screen(pending).await;
        }
    }

    /// One event through the handlers that want it, then to the subscribers (T1–T6).
    async fn screen(&self, pending: Pending) {
        let Pending {
            source,
            mut event,
            origin,
        } = pending;
        // T6: an event published `MAX_DEPTH` calls deep is delivered without handlers.
        if origin.depth < MAX_DEPTH {
            let handlers: Vec<Arc<Plugin>> = self.registry.snapshot().handlers().to_vec();
            // The event as the handlers receive it: written once, again only when replaced.
            let mut text: Option<String> = None;
            for handler in handlers {
                let Some(post_type) = event.get("post_type").and_then(Value::as_str) else {
                    break;
                };
                if !handler.handler.events.matches(post_type) || origin.caused_by(&handler.name) {
                    continue;
                }
                // A map of JSON values always serialises.
                let shown = text
                    .get_or_insert_with(|| serde_json::to_string(&event).unwrap_or_default())
                    .clone();
                let self_id = event.get("self_id").and_then(Value::as_i64);
                match self.run_one(&handler, shown, self_id, &origin).await {
                    Step::Pass => {}
                    Step::Replace(new) => {
                        event = new;
                        text = None;
                    }
                    Step::Drop => {
                        tracing::debug!(plugin = %handler.name, %source, "event dropped by its handler");
                        return;
                    }
                }
            }
        }
        self.bus.deliver(&source, &event);
    }

    /// One handler's call on the event (`text`, the JSON the handler receives), its failures
    /// turned into what T4 says they mean.
    async fn run_one(
        &self,
        handler: &Arc<Plugin>,
        text: String,
        self_id: Option<i64>,
        origin: &Origin,
    ) -> Step {
        let context = CallContext {
            self_id,
            deadline: None,
            origin: origin.through(&handler.name),
            timeout_ms: None,
        };
        let ran = |outcome| handler.stats.handler_run(outcome);
        let failure = match handler.clone().handle_event(text, context).await {
            Ok(Verdict::Pass) => {
                ran(HandlerOutcome::Pass);
                return Step::Pass;
            }
            Ok(Verdict::Drop) => {
                ran(HandlerOutcome::Drop);
                return Step::Drop;
            }
            Ok(Verdict::Replace(text)) => match crate::events::parse(&text) {
                Ok(mut new) => {
                    ran(HandlerOutcome::Replace);
                    self.bus.stamp(&mut new);
                    return Step::Replace(new);
                }
                Err(e) => format!("its replacement event is refused: {e}"),
            },
            Err(e) => e.to_string(),
        };
        ran(HandlerOutcome::Failed);
        let on_error = handler.handler.on_error;
        let effect = match on_error {
            OnError::Pass => "the event goes on as it was",
            OnError::Drop => "the event is dropped (onError: \"drop\")",
        };
        if handler.first_failure(crate::plugin::HANDLE_EVENT) {
            tracing::warn!(
                plugin = %handler.name,
                version = %handler.version,
                "event handler failed: {failure}; {effect} (later failures of this version are logged at debug)"
            );
        } else {
            tracing::debug!(plugin = %handler.name, "event handler failed: {failure}; {effect}");
        }
        match on_error {
            OnError::Pass => Step::Pass,
            OnError::Drop => Step::Drop,
        }
    }
}

/// What becomes of the event after one handler.
enum Step {
    Pass,
    Replace(Map<String, Value>),
    Drop,
}
