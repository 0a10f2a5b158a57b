//! One WebSocket connection (SPEC W3, W4, W6): a reader that answers API frames concurrently,
//! and a writer that sends replies, queued events and heartbeats, until one side ends it.
//!
//! - Reader: each frame is answered in a task of its own, so a slow call never holds up a fast
//!   one and replies go out in the order they finish (W4). At most [`MAX_IN_FLIGHT`] calls run
//!   per connection; beyond that the reader stops reading, so a client that floods calls is
//!   slowed by TCP rather than by the host's memory.
//! - Writer: the only task that writes to the socket. Replies have their own bounded channel;
//!   events and heartbeats come from the connection's [`Subscription`] queue (W6). While a
//!   write waits on a client that does not read, the writer still watches for the queue
//!   overflowing, so a client that fell behind is closed instead of waited for. Frames that
//!   are already waiting are written together and flushed once (up to [`MAX_BATCH`]).
//! - Budget (W7, `super::budget`): the frames of running calls and the replies not yet written
//!   are counted; past the connection's budget it is closed (1008), past the host's a call is
//!   answered "busy" without running.
//! - Closing: a close frame saying why (1008 fell behind or too much pending, 1001 shutdown,
//!   1009 frame too large, 1002 protocol error), sent within [`CLOSE_TIMEOUT`]; then the
//!   socket is dropped.

use std::future::pending;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, close_code};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Interval, MissedTickBehavior};

use super::budget::{Budget, Charge, Refusal};
use super::{Endpoint, Role, frame};
use crate::dispatch::ClientKey;
use crate::events::{Queue, Subscription};

/// A WebSocket as the loop sees it: axum's messages in and out. axum's own socket is one; a
/// socket from another library is adapted to these message and error types.
pub(crate) trait Socket:
    Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Send + 'static
{
}

impl<S> Socket for S where
    S: Stream<Item = Result<Message, axum::Error>>
        + Sink<Message, Error = axum::Error>
        + Send
        + 'static
{
}

/// API calls one connection may have running at once.
pub(crate) const MAX_IN_FLIGHT: usize = 256;
/// Frames written with one flush at most.
pub(crate) const MAX_BATCH: usize = 64;
/// How long a close frame may take to go out before the socket is simply dropped: a client
/// that fell behind may never read it.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a connection ended; decides the close frame, and tells a reverse connection what to
/// log before it dials again.
#[derive(Debug)]
pub(crate) enum End {
    /// The client sent a close frame or the stream ended.
    ClientClosed,
    /// The client broke the protocol or sent a frame over the size limit.
    ReadFailed(axum::Error),
    /// W6: the event queue overflowed.
    FellBehind,
    /// W7: the connection's calls and unread replies went past its byte budget.
    OverBudget,
    ShuttingDown,
    /// The socket is gone; nothing more can be sent.
    SendFailed,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::ClientClosed => f.write_str("the other side closed the connection"),
            End::ReadFailed(error) => write!(f, "reading failed: {error}"),
            End::FellBehind => f.write_str("it fell behind on events (wsQueueMessages)"),
            End::OverBudget => {
                f.write_str("its calls and unread replies went past wsPendingBytesPerConnection")
            }
            End::ShuttingDown => f.write_str("the host is shutting down"),
            End::SendFailed => f.write_str("the connection was lost while sending"),
        }
    }
}

/// Serves one connection in `role` until either side ends it, and says why it ended. `peer`
/// names the other side in the log.
pub(crate) async fn serve<S: Socket>(
    socket: S,
    endpoint: Arc<Endpoint>,
    role: Role,
    peer: String,
) -> End {
    let session = &endpoint.session;
    let name = session.name.clone();
    tracing::info!(server = %name, %peer, ?role, "WebSocket client connected");
    let _connected = endpoint
        .events
        .metrics()
        .connected_to(session.kind, session.entry.as_ref());

    let (mut sink, stream) = socket.split();
    // W1, W3: only universal clients subscribe; the lifecycle event is already queued.
    let mut subscription = (role == Role::Universal).then(|| {
        endpoint.events.subscribe_as(
            session.kind,
            session.entry.clone(),
            session.post_format,
            session.report_self,
            session.queue_messages,
        )
    });
    let (replies, reply_queue) = mpsc::channel(MAX_IN_FLIGHT);
    let budget = endpoint.pending.connection();
    let end = tokio::select! {
        end = read(stream, &endpoint, &budget, replies) => end,
        end = write(&mut sink, subscription.as_mut(), reply_queue, &endpoint, &budget) => end,
    };
    // Leave the bus before the close, which may take a while on a client that does not read.
    drop(subscription);

    let close = match &end {
        End::ClientClosed => {
            tracing::info!(server = %name, %peer, "WebSocket client disconnected");
            // Flushes the reply to the client's close frame, which the socket queued itself.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
            return end;
        }
        End::SendFailed => {
            tracing::info!(server = %name, %peer, "WebSocket client gone");
            return end;
        }
        End::FellBehind => {
            let limit = session.queue_messages;
            tracing::warn!(
                server = %name,
                %peer,
                "closing WebSocket client: it fell {limit} events behind (wsQueueMessages)"
            );
            (
                close_code::POLICY,
                format!("too slow: more than {limit} events queued"),
            )
        }
        End::OverBudget => {
            let limit = endpoint.pending.per_connection();
            tracing::warn!(
                server = %name,
                %peer,
                "closing WebSocket client: its running calls and unread replies passed \
                 {limit} bytes (limits.wsPendingBytesPerConnection); it sends calls but does \
                 not read the replies"
            );
            (
                close_code::POLICY,
                format!("too much pending: more than {limit} bytes of calls and unread replies"),
            )
        }
        End::ShuttingDown => (close_code::AWAY, "server shutting down".to_owned()),
        End::ReadFailed(error) => {
            tracing::info!(server = %name, %peer, "closing WebSocket client: {error}");
            if too_large(error) {
                (
                    close_code::SIZE,
                    "frame larger than maxBodyBytes".to_owned(),
                )
            } else {
                (close_code::PROTOCOL, "protocol error".to_owned())
            }
        }
    };
    let frame = CloseFrame {
        code: close.0,
        reason: Utf8Bytes::from(close.1),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    end
}

/// Reads frames until the client closes, answering each in its own task (W4), within the
/// connection's byte budget (W7).
async fn read<S: Socket>(
    mut stream: SplitStream<S>,
    endpoint: &Arc<Endpoint>,
    budget: &Arc<Budget>,
    replies: mpsc::Sender<(String, Charge)>,
) -> End {
    let client = ClientKey::connection(budget.id);
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let message = match stream.next().await {
            None | Some(Ok(Message::Close(_))) => return End::ClientClosed,
            Some(Err(error)) => return End::ReadFailed(error),
            // The socket answers pings itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(message)) => message,
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return End::ClientClosed;
        };
        let size = match &message {
            Message::Text(text) => text.len(),
            Message::Binary(bytes) => bytes.len(),
            _ => continue,
        };
        let held = match budget.admit(size) {
            Ok(charge) => Some(charge),
            Err(Refusal::Connection) => return End::OverBudget,
            Err(Refusal::Host) => None,
        };
        let endpoint = endpoint.clone();
        let replies = replies.clone();
        let budget = budget.clone();
        tokio::spawn(async move {
            // Some clients send JSON in binary frames; it is decoded the same way.
            let bytes: &[u8] = match &message {
                Message::Text(text) => text.as_bytes(),
                Message::Binary(bytes) => bytes,
                _ => return,
            };
            let reply = match held {
                Some(_) => frame::answer(&endpoint, client, bytes).await,
                None => frame::busy(bytes, endpoint.pending.limit()),
            };
            // The reply is held until written; the frame, no longer needed, is let go.
            let charge = budget.hold(reply.len());
            drop((held, message));
            // Fails only when the connection is gone, and the reply with it.
            let _ = replies.send((reply, charge)).await;
            drop(permit);
        });
    }
}

/// Writes replies, events and heartbeats until the queue overflows, the server stops, or
/// the socket fails.
async fn write<S: Socket>(
    sink: &mut SplitSink<S, Message>,
    mut subscription: Option<&mut Subscription>,
    mut replies: mpsc::Receiver<(String, Charge)>,
    endpoint: &Endpoint,
    budget: &Budget,
) -> End {
    let mut shutdown = endpoint.shutdown.clone();
    let queue = subscription.as_deref().map(Subscription::queue);
    let heart_ms = endpoint.session.heart_interval_ms;
    let mut heartbeat = (heart_ms > 0 && subscription.is_some()).then(|| {
        let period = Duration::from_millis(heart_ms);
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval
    });
    // The budget's hold on the replies of the batch being written (W7).
    let mut charges = Vec::new();
    loop {
        let message = tokio::select! {
            biased;
            () = fell_behind(queue.as_ref()) => return End::FellBehind,
            () = budget.exceeded() => return End::OverBudget,
            _ = shutdown.wait_for(|stop| *stop) => return End::ShuttingDown,
            Some((reply, charge)) = replies.recv() => {
                charges.push(charge);
                Message::Text(reply.into())
            }
            Some(event) = next_event(subscription.as_deref_mut()) => Message::Text((&*event).into()),
            () = tick(heartbeat.as_mut()) => {
                if let Some(subscription) = subscription.as_deref() {
                    // A full queue is noticed by `fell_behind` on the next turn.
                    subscription.heartbeat(heart_ms);
                }
                continue;
            }
        };
        // Whatever else is already waiting goes out with it, in one flush: one write for many
        // frames when events come in bursts.
        let mut batch = vec![message];
        while batch.len() < MAX_BATCH {
            if let Ok((reply, charge)) = replies.try_recv() {
                charges.push(charge);
                batch.push(Message::Text(reply.into()));
            } else if let Some(event) = subscription.as_deref_mut().and_then(Subscription::try_recv)
            {
                batch.push(Message::Text((&*event).into()));
            } else {
                break;
            }
        }
        tokio::select! {
            biased;
            () = fell_behind(queue.as_ref()) => return End::FellBehind,
            () = budget.exceeded() => return End::OverBudget,
            _ = shutdown.wait_for(|stop| *stop) => return End::ShuttingDown,
            sent = send_all(sink, batch) => if sent.is_err() {
                return End::SendFailed;
            },
        }
        // Written: the replies no longer count against the budget.
        charges.clear();
    }
}

async fn send_all<S: Socket>(
    sink: &mut SplitSink<S, Message>,
    batch: Vec<Message>,
) -> Result<(), axum::Error> {
    for message in batch {
        sink.feed(message).await?;
    }
    sink.flush().await
}

async fn fell_behind(queue: Option<&Queue>) {
    match queue {
        Some(queue) => queue.fell_behind().await,
        None => pending().await,
    }
}

async fn next_event(subscription: Option<&mut Subscription>) -> Option<crate::events::Frame> {
    match subscription {
        Some(subscription) => subscription.recv().await,
        None => pending().await,
    }
}

async fn tick(interval: Option<&mut Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => pending().await,
    }
}

/// A frame over `max_message_size` / `max_frame_size` (tungstenite's capacity error).
fn too_large(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}
