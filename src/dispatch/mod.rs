//! Dispatch: one action call in, one [`Outcome`] out (SPEC E4–E6, H8). HTTP and WebSocket
//! both call only [`Dispatcher::call_from`] (or [`Dispatcher::call`]).
//!
//! An action's name becomes a [`routing::Route`] once (`routing`: a plugin's action, the
//! host's own [`routing::HostAction`], an `_async` or `_rate_limited` call of a served name,
//! or the upstream in gateway mode, else 1404), and [`Dispatcher::call_in`] executes it.
//! Plugin calls run at most `max_concurrent_calls` at once (each holds a pooled instance
//! slot); further calls wait.

mod describe;
mod fallback;
mod forward;
mod nested;
pub(crate) mod quick;
mod rate;
mod route;
mod routing;
mod scrape;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::{Bot, HostLimits};
use crate::envelope::{ActionError, JsonText, Outcome, Retcode};
use crate::events::Identity;
use crate::message::MessageLimits;
use crate::metrics::{CallProbe, Cause, Metrics};
use crate::plugin::{CallContext, CallError, Plugin};
use crate::registry::Registry;

pub use crate::upstream::UpstreamInfo;
pub use describe::{ActionInfo, Description, FailureInfo, PluginInfo};
pub(crate) use rate::ClientKey;
pub(crate) use route::RouteOutcome;
pub(crate) use routing::{HostAction, Route, Target};

/// One action call as the transports decoded it; `echo` stays with the transport.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionRequest {
    /// The action's name, suffix included (`send_msg_async`).
    pub action: String,
    /// The call's params, decoded (the transport has taken `echo` out).
    pub params: Map<String, Value>,
}

/// What a call produced, and which plugin produced it (for the per-call debug log).
pub struct Handled {
    /// What the client is answered.
    pub outcome: Outcome,
    pub(crate) plugin: Option<Arc<str>>,
}

/// Routes each call to the plugin, host action or upstream that serves it (E4–E6, H8), within
/// the host's call limits; one per host, shared by every transport.
pub struct Dispatcher {
    pub(crate) registry: Arc<Registry>,
    bot: Bot,
    /// E6: `get_login_info`'s `user_id`, refreshed whenever the plugin set changes; shared
    /// with the event bus, which stamps it on events (W5).
    identity: Arc<Identity>,
    permits: Semaphore,
    /// E5b: one permit per `_async` call accepted and not finished (`limits.asyncBacklog`).
    async_backlog: Arc<Semaphore>,
    async_backlog_size: usize,
    /// E5, E5a: the `_rate_limited` turns, shared out between clients.
    rate: rate::RateQueue,
    /// M5: how far a `message` may expand before a plugin sees it.
    message_limits: MessageLimits,
    stats: Stats,
    /// G1: where actions no plugin provides go, in gateway mode.
    upstream: Option<Arc<crate::upstream::Upstream>>,
    /// O2, O3: where plugin calls are counted and timed; `None` when no server shows
    /// metrics (O9).
    metrics: Option<Arc<Metrics>>,
    /// E6a: the bus whose subscribers `get_status` counts.
    events: Option<Arc<crate::events::EventBus>>,
}

#[derive(Default)]
struct Stats {
    calls: AtomicU64,
    /// Plugin calls running now (holding or waiting for an instance slot).
    in_flight: AtomicU64,
    /// Of those, the calls waiting for a slot.
    waiting: AtomicU64,
    failed: AtomicU64,
    started: std::sync::OnceLock<SystemTime>,
}

impl Handled {
    /// The per-call log line of a server with `debug: true`: server, transport, action,
    /// plugin, retcode and duration; never the token, which is not among them.
    pub(crate) fn log(&self, server: &str, via: &str, action: &str, started: Instant) {
        tracing::info!(
            server = %server,
            via,
            action = %action,
            plugin = %self.plugin.as_deref().unwrap_or("host"),
            retcode = self.outcome.retcode().0,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "call"
        );
    }
}

impl Dispatcher {
    pub(crate) fn new(
        registry: Arc<Registry>,
        bot: Bot,
        identity: Arc<Identity>,
        max_concurrent_calls: usize,
        rate_limit_gap: Duration,
        limits: &HostLimits,
    ) -> Self {
        let stats = Stats::default();
        let _ = stats.started.set(SystemTime::now());
        Dispatcher {
            registry,
            identity,
            bot,
            permits: Semaphore::new(max_concurrent_calls.max(1)),
            async_backlog: Arc::new(Semaphore::new(limits.async_backlog.max(1))),
            async_backlog_size: limits.async_backlog.max(1),
            rate: rate::RateQueue::new(rate_limit_gap),
            message_limits: MessageLimits {
                max_segments: limits.max_message_segments,
                max_bytes: limits.max_message_bytes,
            },
            stats,
            upstream: None,
            metrics: None,
            events: None,
        }
    }

    /// The dispatcher whose `get_status` counts `events`' subscribers (E6a).
    pub(crate) fn with_events(mut self, events: Arc<crate::events::EventBus>) -> Self {
        self.events = Some(events);
        self
    }

    /// The dispatcher counting plugin calls into `metrics` (O2, O3), when given.
    pub(crate) fn with_metrics(mut self, metrics: Option<Arc<Metrics>>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics plugin calls are counted into, if any server shows them (O9).
    pub(crate) fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    /// The bot's identity, shared with the event bus (E6).
    pub(crate) fn identity(&self) -> Arc<Identity> {
        self.identity.clone()
    }

    /// The `self_id` stamped on events (E6).
    pub(crate) fn self_id(&self) -> i64 {
        self.identity.self_id()
    }

    /// A call from a client the host cannot tell apart from others.
    pub async fn call(self: &Arc<Self>, request: ActionRequest) -> Handled {
        let ActionRequest { action, params } = request;
        self.call_from(ClientKey::ANONYMOUS, &action, params).await
    }

    /// A client's call; `client` says whose turn a `_rate_limited` call waits for (E5a).
    pub(crate) async fn call_from(
        self: &Arc<Self>,
        client: ClientKey,
        action: &str,
        params: Map<String, Value>,
    ) -> Handled {
        let nesting = Nesting {
            client,
            ..Nesting::default()
        };
        self.call_in(action, params, nesting).await
    }

    /// A call at any depth: a client's (`Nesting::default()`), or one a plugin made (P4):
    /// routed once (E4), then executed.
    pub(super) async fn call_in(
        self: &Arc<Self>,
        action: &str,
        params: Map<String, Value>,
        nesting: Nesting,
    ) -> Handled {
        let handled = match self.routing(action) {
            Route::Now(target) => self.run_target(target, action, params, nesting).await,
            Route::Async(base) => Handled {
                outcome: self.run_in_background(base, params, nesting),
                plugin: None,
            },
            Route::RateLimited(base) => {
                // E5a: this client's turn, then the gap after the previous call of any client.
                let turn = self.rate.turn(nesting.client).await;
                let handled = self.run(base, params, nesting).await;
                drop(turn);
                handled
            }
        };
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        if handled.outcome.retcode() != crate::envelope::Retcode::OK {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
        handled
    }

    /// `action`'s route now (E4).
    fn routing<'a>(&self, action: &'a str) -> Route<'a, Arc<Plugin>> {
        Route::of(action, self.providers(), self.upstream_connected())
    }

    /// Who provides a name in the plugin set of now: one snapshot, dropped with the lookup,
    /// so only the plugin version a call finds is held across the call.
    fn providers(&self) -> impl Fn(&str) -> Option<Arc<Plugin>> + use<> {
        let snapshot = self.registry.snapshot();
        move |name| snapshot.provider(name).cloned()
    }

    /// E5, E5b, P11: `base` runs in the background once the backlog has room for it, else
    /// the caller hears "busy" at once. Its caller no longer waits for it, so a nested one
    /// takes a `maxConcurrentCalls` slot of its own and still ends by its caller's deadline.
    fn run_in_background(
        self: &Arc<Self>,
        base: &str,
        params: Map<String, Value>,
        nesting: Nesting,
    ) -> Outcome {
        let Ok(ticket) = self.async_backlog.clone().try_acquire_owned() else {
            return Outcome::Failed(ActionError::failed(format!(
                "busy: {} `_async` calls are already waiting or running (limits.asyncBacklog); \
                 try again later",
                self.async_backlog_size
            )));
        };
        let this = self.clone();
        let base = base.to_owned();
        let nesting = Nesting {
            in_callers_slot: false,
            ..nesting
        };
        tokio::spawn(async move {
            let handled = this.run(&base, params, nesting).await;
            drop(ticket);
            if let Outcome::Failed(error) = handled.outcome {
                tracing::warn!(action = %base, plugin = handled.plugin.as_deref(), "async call failed: {error}");
            }
        });
        Outcome::Accepted
    }

    /// Runs `action` on whichever serves it when it starts (G5): the base of an `_async` or
    /// `_rate_limited` call.
    async fn run(
        self: &Arc<Self>,
        action: &str,
        params: Map<String, Value>,
        nesting: Nesting,
    ) -> Handled {
        let target = Target::of(action, self.providers(), self.upstream_connected());
        self.run_target(target, action, params, nesting).await
    }

    async fn run_target(
        self: &Arc<Self>,
        target: Target<Arc<Plugin>>,
        action: &str,
        params: Map<String, Value>,
        nesting: Nesting,
    ) -> Handled {
        match target {
            Target::Plugin(plugin) => self.run_plugin(plugin, action, params, nesting).await,
            Target::Host(host) => Handled {
                outcome: self.host_answer(host, params, nesting).await,
                plugin: None,
            },
            Target::Forward => self.forward(action, params, nesting).await,
        }
    }

    /// A plugin's action: counted (in flight; O2, O3 however it ends, a cancelled call when
    /// dropped) around [`Dispatcher::run_plugin_in_slot`].
    async fn run_plugin(
        &self,
        plugin: Arc<Plugin>,
        action: &str,
        params: Map<String, Value>,
        nesting: Nesting,
    ) -> Handled {
        self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight(&self.stats.in_flight);
        let mut probe = self.metrics.as_ref().map(|m| m.call(&plugin.name, action));
        let handled = self
            .run_plugin_in_slot(plugin, action, params, nesting, probe.as_mut())
            .await;
        if let Some(probe) = probe {
            probe.finish(handled.outcome.retcode().0);
        }
        handled
    }

    /// A plugin's action in a `maxConcurrentCalls` slot, its `message` normalised (M3, M5),
    /// its `data` checked but not rebuilt: it goes into the envelope as the plugin wrote it.
    async fn run_plugin_in_slot(
        &self,
        plugin: Arc<Plugin>,
        action: &str,
        mut params: Map<String, Value>,
        nesting: Nesting,
        probe: Option<&mut CallProbe>,
    ) -> Handled {
        let refused = |error| Handled {
            outcome: Outcome::Failed(error),
            plugin: None,
        };
        // M5: the slot first, then the message: a call waiting for its turn holds only the
        // params it arrived with, never their expansion into segments and JSON text.
        let _permit = match self.slot(&nesting).await {
            Ok(permit) => permit,
            Err(error) => return refused(error),
        };
        // M3: plugins always receive `message` as an array of segments (M5: within the
        // configured limits). The host's own actions read no params, so they skip this.
        if let Err(e) = crate::message::normalize_params_within(&mut params, self.message_limits) {
            return refused(ActionError::bad_request(e.to_string()));
        }
        // Written straight into a byte buffer: `Value`'s `Display` goes through the
        // formatter a few bytes at a time and cost several times as much.
        let text = serde_json::to_string(&params).unwrap_or_else(|_| String::from("{}"));
        drop(params);
        let name = plugin.name.clone();
        let outcome = match plugin.call(action, text, self.context(nesting)).await {
            Ok(data) => match JsonText::new(data) {
                Ok(text) => Outcome::Json(text),
                Err(data) => {
                    parse_data(&name, action, &data).map_or_else(Outcome::Failed, Outcome::Data)
                }
            },
            Err(error) => {
                if let (Some(probe), Some(cause)) = (probe, cause(&error)) {
                    probe.cause(cause);
                }
                Outcome::Failed(call_error(error))
            }
        };
        Handled {
            outcome,
            plugin: Some(name),
        }
    }

    /// An instance slot for a call (`maxConcurrentCalls`), waited for in turn, and no later
    /// than the call's deadline (P11). A nested call its caller waits for runs inside the
    /// caller's slot: waiting for a slot of its own while the caller holds one could
    /// deadlock once every slot is held by a caller.
    pub(super) async fn slot(
        &self,
        nesting: &Nesting,
    ) -> Result<Option<SemaphorePermit<'_>>, ActionError> {
        if nesting.in_callers_slot {
            return Ok(None);
        }
        self.stats.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = InFlight(&self.stats.waiting);
        let acquire = self.permits.acquire();
        let permit = match nesting.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), acquire)
                .await
                .map_err(|_| {
                    ActionError::failed(
                        "timed out: the caller's deadline passed while the call waited for one \
                         of the maxConcurrentCalls slots",
                    )
                })?,
            None => acquire.await,
        };
        Ok(Some(permit.map_err(|_| {
            ActionError::failed("the host is shutting down")
        })?))
    }

    pub(super) async fn call_plugin_text(
        &self,
        plugin: Arc<Plugin>,
        action: &str,
        params: String,
        nesting: Nesting,
    ) -> Result<String, ActionError> {
        // The caller holds the slot ([`Dispatcher::slot`]) for as long as this runs.
        plugin
            .call(action, params, self.context(nesting))
            .await
            .map_err(call_error)
    }

    fn context(&self, nesting: Nesting) -> CallContext {
        CallContext {
            self_id: Some(self.self_id()),
            deadline: nesting.deadline,
            origin: nesting.origin,
            timeout_ms: None,
        }
    }
}

/// Where a call sits in a chain of nested calls (P4 `callActions`): 0 and no deadline for a
/// client's call; and the event handlers whose calls led to it (T6).
#[derive(Clone, Debug, Default)]
pub(super) struct Nesting {
    pub(super) deadline: Option<Instant>,
    /// How deep the call is (0 for a client's) and the handlers that led to it (T6).
    pub(super) origin: crate::events::Origin,
    /// P11: a nested call its caller waits for, which runs in the caller's slot.
    pub(super) in_callers_slot: bool,
    /// E5a: whose `_rate_limited` turn the call takes.
    pub(super) client: ClientKey,
}

/// Decrements a gauge (in flight, waiting) however the call ends (including cancellation).
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A plugin's `data` as a tree; text that is not JSON is the plugin's failure (1200).
pub(super) fn parse_data(plugin: &str, action: &str, data: &str) -> Result<Value, ActionError> {
    serde_json::from_str(data).map_err(|e| {
        ActionError::failed(format!(
            "plugin {plugin}: `{action}` returned data that is not JSON: {e}"
        ))
    })
}

/// O2: why the host ended a call, for the outcome it is counted under; `None` for the
/// plugin's own error, counted by its retcode.
fn cause(error: &CallError) -> Option<Cause> {
    match error {
        CallError::Returned { .. } => None,
        CallError::Timeout { .. } => Some(Cause::Timeout),
        CallError::Memory { .. } | CallError::TooBig { .. } | CallError::EventFlood { .. } => {
            Some(Cause::Limit)
        }
        CallError::StackOverflow { .. }
        | CallError::Trap { .. }
        | CallError::Instantiate { .. } => Some(Cause::Trap),
    }
}

fn call_error(error: CallError) -> ActionError {
    match error {
        // A plugin that fails with retcode 0 would produce a `failed` envelope claiming
        // success; such a reply becomes a plain 1200.
        CallError::Returned { retcode, message } if retcode != Retcode::OK => {
            ActionError::new(retcode, message)
        }
        // The host stopped the call (a limit, a trap): the operator should hear of it, not
        // only the caller. The message names the plugin, the action and the cause.
        other => {
            tracing::warn!("{other}");
            ActionError::failed(other.to_string())
        }
    }
}
