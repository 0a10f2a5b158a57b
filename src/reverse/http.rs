//! `httpClients` (issue 15; SPEC R1–R5): every event POSTed to each endpoint, and the quick
//! operation of an endpoint's answer run (Q1).
//!
//! - `post` — one event to one endpoint: headers, `X-Signature`, bounded retries.
//! - `drops` — the drop counts and their rate-limited warnings.
//!
//! One task per endpoint reads its own lossy subscription to the bus
//! ([`EventBus::subscribe_lossy`], `queueEvents` deep): publishing never waits for it, and an
//! event that finds the queue full is dropped and counted, so a slow or dead endpoint costs
//! the plugins and the other endpoints nothing. The task keeps up to [`CONCURRENT_POSTS`]
//! POSTs in flight: a bot handles events concurrently anyway (NoneBot2 runs each request on
//! its own), so strict order buys little and one slow answer would hold up every later event.
//! Events are therefore *sent* in order but may *arrive* out of order. A quick operation runs
//! inside its POST's slot, so an endpoint's operations are bounded by the same limit.

mod drops;
mod post;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::HttpClient;
use crate::dispatch::{ClientKey, Dispatcher, quick};
use crate::envelope::Outcome;
use crate::events::{EventBus, Frame, Subscription};
use crate::metrics::EntryStats;
use drops::Drops;
use post::{Answer, PostError, Poster};

/// POSTs in flight per endpoint.
pub(crate) const CONCURRENT_POSTS: usize = 4;

/// How often an idle endpoint task looks at its queue's overflow count.
const OVERFLOW_CHECK: Duration = Duration::from_secs(1);

/// Starts one task per enabled endpoint on `tasks`; each ends when `stopped` turns true. The
/// subscriptions are made before this returns, so no event published afterwards is missed.
pub(crate) fn spawn(
    tasks: &mut JoinSet<std::io::Result<()>>,
    clients: &[HttpClient],
    dispatcher: &Arc<Dispatcher>,
    events: &Arc<EventBus>,
    stopped: &watch::Receiver<bool>,
) {
    for client in clients {
        // D6: this entry's POSTs, for the dashboard's connections page.
        let stats = events.metrics().entry("httpClients", &client.name);
        let subscription = events.subscribe_lossy(
            stats.clone(),
            client.message_post_format,
            client.report_self_message,
            client.queue_events,
        );
        let endpoint = Arc::new(Endpoint {
            name: client.name.clone(),
            debug: client.debug,
            poster: Poster::new(
                client.url.uri().clone(),
                client.token.clone(),
                Duration::from_millis(client.timeout_ms),
                CONCURRENT_POSTS,
            ),
            dispatcher: dispatcher.clone(),
            stats: stats.clone(),
        });
        tracing::info!(
            endpoint = %client.name,
            "posting events to {} ({:?}; signature {}, reportSelfMessage {})",
            client.url.shown(),
            client.message_post_format,
            if client.token.is_empty() { "off" } else { "on" },
            client.report_self_message,
        );
        // O7: an endpoint counts as a connected client of its kind while its task runs.
        let connected = events
            .metrics()
            .connected_to(crate::metrics::ConnectionKind::HttpClient, Some(&stats));
        tasks.spawn(run(endpoint, subscription, connected, stopped.clone()));
    }
}

/// What one endpoint's POSTs share.
struct Endpoint {
    name: String,
    debug: bool,
    poster: Poster,
    dispatcher: Arc<Dispatcher>,
    /// D6: when a POST last succeeded, and the last failure.
    stats: Arc<EntryStats>,
}

/// The endpoint's task: frames from the queue into POSTs, at most [`CONCURRENT_POSTS`] at
/// once, until the host stops. POSTs still in flight then are abandoned.
async fn run(
    endpoint: Arc<Endpoint>,
    mut subscription: Subscription,
    _connected: crate::metrics::Connected,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let queue = subscription.queue();
    let mut drops = Drops::new(&endpoint.name);
    let mut in_flight: JoinSet<Result<(), PostError>> = JoinSet::new();
    // The bus counts overflow while this task may be waiting on POSTs; the tick reads that
    // count even when nothing else wakes the task, so no drop goes unlogged for long.
    let mut tick = tokio::time::interval(OVERFLOW_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let due = drops.due();
        tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop) => break,
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                match done {
                    Ok(Ok(())) => {
                        queue.sent();
                        endpoint.stats.succeeded();
                    }
                    Ok(Err(e)) => {
                        queue.lost();
                        endpoint.stats.error(e.to_string());
                        drops.failed(e.to_string(), Instant::now());
                    }
                    Err(_) => {}
                }
            }
            () = sleep_until(due), if due.is_some() => drops.warn_if_due(Instant::now()),
            _ = tick.tick() => {}
            frame = subscription.recv(), if in_flight.len() < CONCURRENT_POSTS => {
                let Some(frame) = frame else { break };
                in_flight.spawn(deliver(endpoint.clone(), frame));
            }
        }
        drops.overflowed(queue.dropped(), Instant::now());
    }
    drops.overflowed(queue.dropped(), Instant::now());
    drops.flush();
    tracing::info!(endpoint = %endpoint.name, dropped = drops.total(), "httpClients endpoint stopped");
    Ok(())
}

/// A frame as a request body.
struct Shared(Frame);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// POSTs one event and runs the quick operation its answer holds, if any (Q1).
async fn deliver(endpoint: Arc<Endpoint>, frame: Frame) -> Result<(), PostError> {
    let started = Instant::now();
    let self_id = endpoint.dispatcher.self_id();
    // The frame is shared with every other subscriber of its format: no copy.
    let body = Bytes::from_owner(Shared(frame.clone()));
    let result = endpoint.poster.deliver(body, self_id).await;
    if endpoint.debug {
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(a) => {
                tracing::info!(endpoint = %endpoint.name, status = a.status, attempts = a.attempts, ms, "event posted")
            }
            Err(e) => tracing::info!(endpoint = %endpoint.name, ms, "event not delivered: {e}"),
        }
    }
    let answer = result?;
    if let Some(operation) = quick_operation(&endpoint.name, &answer) {
        run_quick_operation(&endpoint, &frame, operation).await;
    }
    Ok(())
}

/// Q1: a 200 answer whose body is a non-empty JSON (or JSON5) object is a quick operation; an empty
/// body, `{}`, or a 204 asks nothing. A body that is not a JSON object is ignored (logged at
/// debug: some bots answer "ok").
fn quick_operation(endpoint: &str, answer: &Answer) -> Option<Map<String, Value>> {
    if answer.status != 200 || answer.body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    // JSON, or JSON5 as NapCat reads it, with the depth guard of every decoded body.
    match crate::json::decode_object(&answer.body) {
        Ok(operation) if !operation.is_empty() => Some(operation),
        Ok(_) => None,
        Err(_) => {
            tracing::debug!(
                endpoint,
                "the endpoint's answer is not a JSON object: no quick operation"
            );
            None
        }
    }
}

/// Runs the operation through the dispatcher; a failure is logged, not retried.
async fn run_quick_operation(endpoint: &Endpoint, frame: &Frame, operation: Map<String, Value>) {
    let Ok(Value::Object(context)) = serde_json::from_str::<Value>(frame) else {
        return;
    };
    let post_type = context.get("post_type").and_then(Value::as_str);
    if !matches!(post_type, Some("message" | "request")) {
        return;
    }
    let mut params = Map::new();
    params.insert("context".to_owned(), Value::Object(context));
    params.insert("operation".to_owned(), Value::Object(operation));
    let client = ClientKey::named("httpClients", &endpoint.name);
    let handled = endpoint
        .dispatcher
        .call_from(client, quick::ACTION, params)
        .await;
    if let Outcome::Failed(error) = handled.outcome {
        tracing::warn!(
            endpoint = %endpoint.name,
            action = quick::ACTION,
            "the endpoint's quick operation failed: {error}"
        );
    }
}
