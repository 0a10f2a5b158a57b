//! The connection to the upstream (SPEC G1, G2, G8): dial its forward WebSocket with
//! `Authorization: Bearer <token>`, serve the connection (call frames out, replies and events
//! in), and redial with backoff when it drops, until the host stops.
//!
//! One WARN per outage (naming the URL and the reason, never the token), DEBUG for the
//! later failed dials of the same outage, one INFO when connected again. The wait between
//! dials doubles from [`FIRST_RETRY`] up to [`LAST_RETRY`] and starts over once connected.
//! At shutdown the connection is closed with code 1001 (going away) rather than dropped.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Message};

use super::Upstream;
use crate::dial::{self, DialError, Redial};

/// The first wait before redialling; it doubles after each failed dial.
pub(super) const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between two dials.
pub(super) const LAST_RETRY: Duration = Duration::from_secs(5);
/// Call frames queued for the socket before a caller waits (within its deadline).
const QUEUE: usize = 1024;

type Socket = dial::Dialled;

/// One turn of a connection's loop.
enum Step {
    Stop,
    Send(String),
    Read(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

/// How one connection ended.
enum End {
    Stopped,
    Lost(String),
}

/// Starts the task that keeps the connection up; it ends when `stop` turns `true`.
pub(crate) fn spawn(
    tasks: &mut JoinSet<std::io::Result<()>>,
    upstream: Arc<Upstream>,
    stop: &watch::Receiver<bool>,
) {
    tracing::info!(
        "upstream {} (token {}): actions no plugin provides go there; its events go to every client",
        upstream.url(),
        if upstream.config.token.is_empty() {
            "off"
        } else {
            "on"
        },
    );
    let stop = stop.clone();
    tasks.spawn(async move {
        keep_up(upstream, stop).await;
        Ok(())
    });
}

async fn keep_up(upstream: Arc<Upstream>, stop: watch::Receiver<bool>) {
    let url = upstream.url().to_owned();
    let mut retry = FIRST_RETRY;
    let mut redial = Redial::new(stop);
    loop {
        let Some(dialled) = redial.dial(dial(&upstream)).await else {
            return;
        };
        match dialled {
            Ok(socket) => {
                let again = if redial.connected() { " again" } else { "" };
                tracing::info!("connected to upstream {url}{again}");
                retry = FIRST_RETRY;
                match serve(&upstream, socket, redial.stop()).await {
                    End::Stopped => return,
                    End::Lost(reason) => {
                        redial.failed();
                        tracing::warn!(
                            "connection to upstream {url} lost: {reason}; redialling (every {} ms at first, then up to {} s apart)",
                            FIRST_RETRY.as_millis(),
                            LAST_RETRY.as_secs()
                        );
                    }
                }
            }
            Err(error) => {
                if redial.failed() {
                    tracing::warn!(
                        "cannot connect to upstream {url}: {error}; retrying (up to {} s apart)",
                        LAST_RETRY.as_secs()
                    );
                } else {
                    tracing::debug!("still cannot connect to upstream {url}: {error}");
                }
            }
        }
        if !redial.pause(retry).await {
            return;
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// One dial of the upstream, with its token.
async fn dial(upstream: &Upstream) -> Result<Socket, DialError> {
    dial::dial(&upstream.config.url, &upstream.config.token, &[], None).await
}

/// Serves one connection until it ends or the host stops.
async fn serve(upstream: &Arc<Upstream>, socket: Socket, stop: &mut watch::Receiver<bool>) -> End {
    let (frames, mut outgoing) = mpsc::channel::<String>(QUEUE);
    upstream.connected(frames);
    let asking = upstream.clone();
    let login = tokio::spawn(async move { asking.ask_login_info().await });
    let (mut sink, mut stream) = socket.split();
    let end = loop {
        // What happened, decided inside `select!` and acted on outside it, so no borrow of
        // the stop signal is held while writing.
        let step = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => Step::Stop,
            Some(text) = outgoing.recv() => Step::Send(text),
            message = stream.next() => Step::Read(message),
        };
        match step {
            Step::Stop => break End::Stopped,
            Step::Send(text) => {
                if let Err(e) = sink.send(Message::text(text)).await {
                    break End::Lost(e.to_string());
                }
            }
            Step::Read(Some(Ok(Message::Text(text)))) => upstream.receive(text.as_str()),
            Step::Read(Some(Ok(Message::Close(frame)))) => {
                let why = frame.map_or_else(String::new, |f| {
                    format!(" ({} {})", u16::from(f.code), f.reason)
                });
                break End::Lost(format!("the upstream closed it{why}"));
            }
            Step::Read(Some(Ok(_))) => {}
            Step::Read(Some(Err(e))) => break End::Lost(e.to_string()),
            Step::Read(None) => break End::Lost("the connection closed".to_owned()),
        }
    };
    login.abort();
    upstream.disconnected();
    if let End::Stopped = end {
        // G8: a clean close, so the upstream does not count it as a failure.
        let close = CloseFrame {
            code: CloseCode::Away,
            reason: "onebot-host is shutting down".into(),
        };
        let closing = sink.send(Message::Close(Some(close)));
        let _ = tokio::time::timeout(Duration::from_secs(1), closing).await;
    }
    end
}
