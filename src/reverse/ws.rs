//! `websocketClients` (issue 15, SPEC RW1–RW5): the host dials each entry's `url`, plays the
//! universal WebSocket client there (what NapCat calls a reverse WebSocket), and keeps the
//! connection up.
//!
//! - **Handshake** (RW1): `X-Self-ID` (the bot's id, E6), `X-Client-Role: Universal`,
//!   `User-Agent`, and `Authorization: Bearer <token>` when the entry has a token. The bot
//!   (NoneBot2, aiocqhttp) checks these before it accepts.
//! - **Once connected** (RW2) the socket is served by the forward socket's loop,
//!   [`ws::serve`] in the universal role: the lifecycle `connect` event first, heartbeats
//!   every `heartInterval` ms, every event in the entry's `messagePostFormat` with its
//!   `reportSelfMessage`, API frames answered through the one dispatcher, and a bot that falls
//!   `wsQueueMessages` behind closed with 1008 (W6). So the two directions cannot drift apart.
//! - **Reconnecting** (RW3): when a dial fails or the connection ends, the next dial is
//!   `reconnectInterval` ms later, for as long as the host runs. One WARN per outage, naming
//!   the URL and the reason; later failed dials of the same outage are DEBUG; one INFO when
//!   connected again. A dial that gets no answer gives up after [`crate::dial::DIAL_TIMEOUT`].
//! - **Shutdown** (RW4): the host's stop signal ends every task, whether it is dialling,
//!   waiting to redial, or connected (then the bot gets close code 1001).
//!
//! Each entry's task is independent and reads the event bus through its own bounded queue, so
//! a dead or slow bot never holds up plugins, other bots or other clients (RW5).

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::socket::Dialled;
use crate::config::{RemoteUrl, Secret, WsClient};
use crate::dial::{DialError, Redial};
use crate::dispatch::Dispatcher;
use crate::events::EventBus;
use crate::ws::{self, End, Endpoint, Role, Session};

/// One `websocketClients` entry at run time: where to dial, with what, and the endpoint its
/// connections are served with.
struct Link {
    url: RemoteUrl,
    token: Secret,
    reconnect: Duration,
    endpoint: Arc<Endpoint>,
}

/// Starts one task per entry in `tasks`; each ends when `stop` turns `true`.
pub(crate) fn spawn(
    tasks: &mut JoinSet<std::io::Result<()>>,
    clients: &[WsClient],
    dispatcher: &Arc<Dispatcher>,
    events: &Arc<EventBus>,
    stop: &watch::Receiver<bool>,
    pending: &Arc<crate::ws::budget::Pending>,
) {
    for client in clients {
        let link = Link {
            url: client.url.clone(),
            token: client.token.clone(),
            reconnect: Duration::from_millis(client.reconnect_interval_ms),
            endpoint: Arc::new(Endpoint {
                dispatcher: dispatcher.clone(),
                events: events.clone(),
                session: session(client, events),
                shutdown: stop.clone(),
                pending: pending.clone(),
            }),
        };
        tracing::info!(
            client = %client.name,
            "reverse WebSocket to {} (token {}, reconnect every {} ms)",
            client.url.shown(),
            if client.token.is_empty() { "off" } else { "on" },
            client.reconnect_interval_ms,
        );
        tasks.spawn(async move {
            keep_up(link).await;
            Ok(())
        });
    }
}

/// The connection settings of one entry, as the connection loop takes them.
fn session(client: &WsClient, events: &EventBus) -> Session {
    Session {
        name: client.name.clone(),
        heart_interval_ms: client.heart_interval_ms,
        post_format: client.message_post_format,
        report_self: client.report_self_message,
        queue_messages: client.ws_queue_messages,
        max_frame_bytes: client.max_body_bytes,
        debug: client.debug,
        kind: crate::metrics::ConnectionKind::WebSocketClient,
        // D6: this entry's events, for the dashboard's connections page.
        entry: Some(events.metrics().entry("websocketClients", &client.name)),
    }
}

/// Dials, serves, and redials after `reconnect`, until the host stops (RW3, RW4).
async fn keep_up(link: Link) {
    let name = link.endpoint.session.name.clone();
    // Logs and the connection's peer show the URL without its query or user info (H6).
    let url = link.url.shown().to_owned();
    let every = link.reconnect.as_millis();
    // D6: what the dashboard shows of this entry.
    let state = link.endpoint.events.metrics().link(&name);
    let mut redial = Redial::new(link.endpoint.shutdown.clone());
    loop {
        let Some(dialled) = redial.dial(dial(&link)).await else {
            return;
        };
        match dialled {
            Ok(socket) => {
                state.connected();
                let again = if redial.connected() { " again" } else { "" };
                tracing::info!(client = %name, "connected to {url}{again}");
                let end =
                    ws::serve(socket, link.endpoint.clone(), Role::Universal, url.clone()).await;
                if matches!(end, End::ShuttingDown) {
                    return;
                }
                state.down(format!("connection lost: {end}"));
                redial.failed();
                tracing::warn!(
                    client = %name,
                    "connection to {url} lost: {end}; reconnecting every {every} ms"
                );
            }
            Err(error) => {
                state.down(error.to_string());
                if redial.failed() {
                    tracing::warn!(
                        client = %name,
                        "cannot connect to {url}: {error}; retrying every {every} ms"
                    );
                } else {
                    tracing::debug!(client = %name, "still cannot connect to {url}: {error}");
                }
            }
        }
        if !redial.pause(link.reconnect).await {
            return;
        }
    }
}

/// One dial with RW1's headers; frames are bounded by `maxBodyBytes`, as on a forward socket.
async fn dial(
    link: &Link,
) -> Result<Dialled<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, DialError> {
    let self_id = link.endpoint.dispatcher.self_id();
    let headers = [
        ("x-self-id", HeaderValue::from(self_id)),
        ("x-client-role", HeaderValue::from_static("Universal")),
    ];
    let limit = usize::try_from(link.endpoint.session.max_frame_bytes).unwrap_or(usize::MAX);
    let config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let socket = crate::dial::dial(&link.url, &link.token, &headers, Some(config)).await?;
    Ok(Dialled::new(socket))
}
