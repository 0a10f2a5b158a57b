//! WebSocket (SPEC W1–W4, W6): the handshake, who gets what, and the connection loop.
//!
//! [`upgrade`] takes an HTTP upgrade request on a server with `enableWebsocket` (the layer
//! that routes it here is [`crate::server::app`]'s). At the handshake the token is checked
//! with the HTTP check (H6, W2) and refused with HTTP 403; the path picks the role (W1):
//! `/api` for API calls only, any other path for events and calls.
//!
//! - `frame` — one API frame → [`Dispatcher::call_from`] → the envelope (W4).
//! - `budget` — the bytes connections make the host hold, per connection and in all (W7).
//! - `connection` — one socket: the frame reader, the writer fed by the event queue and the
//!   replies, heartbeats, and closing (W3–W6). It is generic over the socket and takes its
//!   settings as a [`Session`], so any WebSocket (this server's, or one the host dials out
//!   on) is served by the same loop.

pub(crate) mod budget;
mod connection;
pub mod frame;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

pub(crate) use connection::{End, serve};

use crate::auth::Token;
use crate::config::{Listener, PostFormat};
use crate::dispatch::Dispatcher;
use crate::envelope::Refusal;
use crate::events::EventBus;
use crate::metrics::{ConnectionKind, EntryStats};

/// What a client may do on its socket (W1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `/api`: API calls only, no events.
    Api,
    /// Every other path: events (lifecycle first, heartbeats) and API calls.
    Universal,
}

impl Role {
    /// W1: the first path segment decides, as it names the action over HTTP (H1); the query
    /// string plays no part.
    pub(crate) fn of(path: &str) -> Role {
        match path.trim_start_matches('/').split('/').next() {
            Some("api") => Role::Api,
            _ => Role::Universal,
        }
    }
}

/// The settings of the connections of one server (or one outgoing client): how they are
/// named in the log and what their clients receive.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// The server's (or client's) name, in every log line about its connections.
    pub(crate) name: String,
    /// W3: heartbeat period for universal clients; 0 = none.
    pub(crate) heart_interval_ms: u64,
    /// M4: how `message` is written in events to these clients.
    pub(crate) post_format: PostFormat,
    /// `reportSelfMessage`: whether the bot's own messages (`message_sent`) are sent too.
    pub(crate) report_self: bool,
    /// W6: events a client may fall behind before it is disconnected.
    pub(crate) queue_messages: usize,
    /// The largest frame read: one frame is one call's params, bounded like an HTTP body.
    pub(crate) max_frame_bytes: u64,
    /// One log line per call.
    pub(crate) debug: bool,
    /// Which connection kind its clients are counted under (O7).
    pub(crate) kind: ConnectionKind,
    /// The server or client entry its clients and events are counted under too (D6).
    pub(crate) entry: Option<Arc<EntryStats>>,
}

impl Session {
    /// The WebSocket settings of an `httpServers` entry with `enableWebsocket`, counted
    /// under `entry` (D6).
    pub(crate) fn of_server(config: &Listener, entry: Option<Arc<EntryStats>>) -> Session {
        Session {
            name: config.name.clone(),
            heart_interval_ms: config.heart_interval_ms,
            post_format: config.message_post_format,
            report_self: config.report_self_message,
            queue_messages: config.ws_queue_messages,
            max_frame_bytes: config.max_body_bytes,
            debug: config.debug,
            kind: ConnectionKind::WebSocketServer,
            entry,
        }
    }
}

/// What every connection of one server (or client) shares: the dispatcher that answers its
/// frames, the bus its events come from, its settings, and the host's stop signal.
pub(crate) struct Endpoint {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) events: Arc<EventBus>,
    pub(crate) session: Session,
    /// Becomes `true` when the host stops; open connections then close (1001).
    pub(crate) shutdown: tokio::sync::watch::Receiver<bool>,
    /// W7: the bytes every connection of the host may make it hold.
    pub(crate) pending: Arc<budget::Pending>,
}

/// The WebSocket side of one server: its endpoint and the token its handshakes need (W2).
pub(crate) struct WsApi {
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) token: Token,
}

/// An HTTP/1.1 upgrade to `websocket` (`Upgrade` is a token list, case-insensitive).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// Answers a WebSocket handshake: 403 without the token (W2), else the upgrade, after which
/// the connection is served by [`serve`] in the role its path names (W1).
pub(crate) async fn upgrade(api: Arc<WsApi>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let role = Role::of(parts.uri.path());
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let session = &api.endpoint.session;
    if api.token.check(&parts.headers, parts.uri.query()).is_err() {
        tracing::info!(server = %session.name, ?peer, "WebSocket refused: token verify failed");
        return Refusal::Forbidden.into_response();
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // The HTTP body cap bounds a frame too: one frame is one call's params.
    let limit = usize::try_from(session.max_frame_bytes).unwrap_or(usize::MAX);
    let name = session.name.clone();
    let endpoint = api.endpoint.clone();
    let peer = peer.map_or_else(|| "unknown peer".to_owned(), |p| p.to_string());
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(move |e| {
            tracing::debug!(server = %name, "WebSocket upgrade failed: {e}");
        })
        .on_upgrade(move |socket| async move {
            serve(socket, endpoint, role, peer).await;
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn w1_role_is_decided_by_the_first_path_segment() {
        for (path, role) in [
            ("/api", Role::Api),
            ("/api/", Role::Api),
            ("/api/x", Role::Api),
            ("/", Role::Universal),
            ("", Role::Universal),
            ("/event", Role::Universal),
            ("/apis", Role::Universal),
            ("/API", Role::Universal),
        ] {
            assert_eq!(Role::of(path), role, "{path}");
        }
    }

    #[test]
    fn upgrade_header_is_a_case_insensitive_token_list() {
        let mut headers = HeaderMap::new();
        assert!(!is_upgrade(&headers));
        headers.insert(header::UPGRADE, HeaderValue::from_static("h2c, WebSocket"));
        assert!(is_upgrade(&headers));
        headers.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
        assert!(!is_upgrade(&headers));
    }
}
