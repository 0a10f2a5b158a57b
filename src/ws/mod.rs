//! WebSocket on the HTTP port (SPEC W1–W4, W6): the handshake and who gets what.
//!
//! [`router`] puts a layer in front of the HTTP router of a server with `enableWebsocket`:
//! an upgrade request is taken here, anything else goes on to [`http`](crate::http) as before
//! (and with `enableWebsocket: false` an upgrade request is just an HTTP call). At the
//! handshake the token is checked with the HTTP check (H6, W2) and refused with HTTP 403; the
//! path picks the role (W1): `/api` for API calls only, any other path for events and calls.
//!
//! - `frame` — one API frame → [`Dispatcher::call`](crate::dispatch::Dispatcher::call) → the
//!   envelope (W4).
//! - `connection` — one socket: the frame reader, the writer fed by the event queue and the
//!   replies, heartbeats, and closing (W3–W6).

mod connection;
pub mod frame;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::envelope::{ActionError, Envelope, Outcome};
use crate::http::{self, ServerState};

/// What a client may do on its socket (W1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `/api`: API calls only, no events.
    Api,
    /// Every other path: events (lifecycle first, heartbeats) and API calls.
    Universal,
}

impl Role {
    /// W1: the first path segment decides, as it names the action over HTTP (H1); the query
    /// string plays no part.
    pub fn of(path: &str) -> Role {
        match path.trim_start_matches('/').split('/').next() {
            Some("api") => Role::Api,
            _ => Role::Universal,
        }
    }
}

/// The app of one server: HTTP, plus WebSocket upgrades when the server enables them.
pub fn router(server: Arc<ServerState>) -> Router {
    let router = http::router(server.clone());
    if server.config.enable_websocket {
        router.layer(axum::middleware::from_fn_with_state(server, intercept))
    } else {
        router
    }
}

async fn intercept(
    State(server): State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Response {
    if is_upgrade(request.headers()) {
        upgrade(server, request).await
    } else {
        next.run(request).await
    }
}

/// An HTTP/1.1 upgrade to `websocket` (`Upgrade` is a token list, case-insensitive).
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

async fn upgrade(server: Arc<ServerState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let role = Role::of(parts.uri.path());
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    if server
        .token
        .check(&parts.headers, parts.uri.query())
        .is_err()
    {
        tracing::info!(server = %server.config.name, ?peer, "WebSocket refused: token verify failed");
        return refused();
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // The HTTP body cap bounds a frame too: one frame is one call's params.
    let limit = usize::try_from(server.config.max_body_bytes).unwrap_or(usize::MAX);
    let name = server.config.name.clone();
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(move |e| {
            tracing::debug!(server = %name, "WebSocket upgrade failed: {e}");
        })
        .on_upgrade(move |socket| connection::serve(socket, server, role, peer))
}

/// W2: a bad or missing token refuses the upgrade with HTTP 403; the body is the envelope an
/// HTTP call would get, for whoever reads it.
fn refused() -> Response {
    let envelope = Envelope::new(Outcome::Failed(ActionError::auth()), None);
    (
        StatusCode::FORBIDDEN,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        envelope.to_json(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

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
