//! The HTTP transport: one axum router per enabled `httpServers` entry (SPEC H1–H9, B4).
//!
//! Every path and method reaches [`handle`]: `/hooks/…` goes to webhook routes (`hooks`, T21–T25),
//! `/metrics` to the host's metrics (`metrics`, O1); elsewhere the action is the first path segment
//! (H1), so there is no route table to keep in sync with the plugins. The flow is auth → body →
//! decode → [`Dispatcher::call`] → envelope; nothing here knows about wasm, WebSocket or CORS
//! (composed around this router by [`crate::server`]). The body's size and deadline are `handle`'s;
//! the connection's own limits are the accept loop's (`server::listen`).

pub(crate) mod body;
mod hooks;
pub(crate) mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http_body_util::{BodyExt, LengthLimitError, Limited};

pub use body::{BodyError, Decoded, decode, decode_json};

use crate::auth::Token;
use crate::config::Listener;
use crate::dispatch::{ClientKey, Dispatcher, Handled};
use crate::envelope::{Envelope, Outcome, Refusal};

/// What the HTTP side of one server needs: the shared dispatcher, the server's settings
/// (body limits, `debug`, its name for the log) and its token, hashed once (H6).
pub(crate) struct HttpApi {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) config: Listener,
    pub(crate) token: Token,
}

/// Every path and method of one server, answered by [`handle`]. CORS and WebSocket upgrades
/// are layered around it by [`crate::server::app`].
pub(crate) fn router(api: Arc<HttpApi>) -> Router {
    Router::new().fallback(handle).with_state(api)
}

async fn handle(State(server): State<Arc<HttpApi>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let action = action_name(parts.uri.path());
    let query = parts.uri.query();
    // T23: webhook routes answer for themselves, without the OneBot token.
    if action == crate::config::routes::HOOKS {
        return hooks::serve(&server, parts, body, started).await;
    }
    // O1: the host's metrics, where the server shows them.
    if action == metrics::PATH && server.config.kind.http().is_some_and(|h| h.metrics) {
        return metrics::serve(&server, &parts);
    }

    if server.token.check(&parts.headers, query).is_err() {
        tracing::debug!(server = %server.config.name, action, "token verify failed");
        return Refusal::Token.into_response();
    }
    let bytes = match read_in_time(&server.config, &parts.headers, body, started).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(message) = browser_body(&parts, &bytes) {
        tracing::debug!(server = %server.config.name, action, "{message}");
        return Refusal::BrowserBody(message).into_response();
    }
    let decoded = match decode_request(&parts, bytes).await {
        Ok(decoded) => decoded,
        Err(e) => {
            tracing::debug!(server = %server.config.name, action, "bad request: {e}");
            return Refusal::BadRequest(e.to_string()).into_response();
        }
    };

    let handled = if action.is_empty() {
        Handled {
            outcome: Outcome::Data(
                serde_json::to_value(server.dispatcher.describe()).unwrap_or_default(),
            ),
            plugin: None,
        }
    } else {
        // E5a: an HTTP client is told apart by its address (its pooled connections are one).
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(ClientKey::ANONYMOUS, |peer| ClientKey::address(peer.0.ip()));
        server
            .dispatcher
            .call_from(client, action, decoded.params)
            .await
    };
    if server.config.debug {
        handled.log(&server.config.name, "http", action, started);
    }
    Envelope::new(handled.outcome, decoded.echo).into_response()
}

/// H1: `/send_msg`, `/send_msg/` and `/send_msg/x` all name `send_msg`; `/` names nothing.
/// Public for the load benchmark's baseline (`bench/baseline.rs`), which repeats `handle`'s
/// pre-dispatch steps.
pub fn action_name(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

/// B4: a browser's request (one with an `Origin`) is read as JSON only when it says it is
/// JSON. A page may send `text/plain` (or `multipart/form-data`) across origins without a
/// preflight; H3 would read such a body as JSON5, so a body typed so is refused rather than
/// guessed at. Form bodies stay allowed: they are read as form fields (H3). Requests without an
/// `Origin` (curl, bot frameworks) are untouched.
fn browser_body(parts: &Parts, bytes: &[u8]) -> Result<(), &'static str> {
    if parts.method == Method::GET
        || bytes.is_empty()
        || !parts.headers.contains_key(header::ORIGIN)
    {
        return Ok(());
    }
    let mime = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if mime == "application/json"
        || mime.ends_with("+json")
        || mime == "application/x-www-form-urlencoded"
    {
        Ok(())
    } else {
        Err(
            "a request from a browser (it has an Origin header) must send its body as \
             Content-Type: application/json; text/plain and other types are not read as JSON",
        )
    }
}

/// Decodes a request's body with its method, `Content-Type` and query (H2–H4).
/// Public for the load benchmark's baseline, like [`action_name`].
pub fn decode_parts(parts: &Parts, bytes: &[u8]) -> Result<Decoded, BodyError> {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    body::decode(&parts.method, content_type, parts.uri.query(), bytes)
}

/// [`decode_parts`], on the blocking pool for a large body (H4a).
async fn decode_request(parts: &Parts, bytes: Bytes) -> Result<Decoded, BodyError> {
    if bytes.len() < body::LARGE {
        return decode_parts(parts, &bytes);
    }
    let method = parts.method.clone();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let query = parts.uri.query().map(str::to_owned);
    body::off_workers(move || {
        body::decode(&method, content_type.as_deref(), query.as_deref(), &bytes)
    })
    .await
}

/// Reads the body within `server`'s limits: at most `maxBodyBytes` ([`read_body`]), and whole
/// by `bodyTimeoutMs` after `started`, the moment its head arrived. Slowloris with a body: the
/// whole body must arrive in time, however it is trickled. Both the API and webhook routes
/// read their bodies through this.
async fn read_in_time(
    server: &Listener,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
) -> Result<Bytes, Refusal> {
    let ms = server.body_timeout_ms;
    let deadline = started + Duration::from_millis(ms);
    let read = read_body(body, headers, server.max_body_bytes);
    match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(read) => read,
        Err(_) => {
            tracing::debug!(server = %server.name, "request body timed out");
            Err(Refusal::TooSlow { ms })
        }
    }
}

/// Reads the body, refusing it (H5) as soon as it is known to exceed `max` bytes: from the
/// `Content-Length` in `headers` up front, or while streaming, never after buffering all of
/// it. Public for the load benchmark's baseline, like [`action_name`].
pub async fn read_body(body: Body, headers: &HeaderMap, max: u64) -> Result<Bytes, Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(Refusal::TooLarge { max });
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let mut body = Limited::new(body, limit);
    // Most bodies arrive as one frame, kept as it is; only a body in several frames is
    // copied into one buffer. (`collect` queues every frame first, even a single one.)
    let mut first = None;
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Err(e) if e.is::<LengthLimitError>() => return Err(Refusal::TooLarge { max }),
            Err(e) => return Err(Refusal::BadRequest(format!("cannot read the body: {e}"))),
        };
        match (&mut joined, first.take()) {
            (Some(joined), _) => joined.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(earlier)) => {
                let mut both = BytesMut::with_capacity(earlier.len() + data.len());
                both.extend_from_slice(&earlier);
                both.extend_from_slice(&data);
                joined = Some(both);
            }
        }
    }
    Ok(match joined {
        Some(joined) => joined.freeze(),
        None => first.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::action_name;

    #[test]
    fn h1_action_is_first_path_segment() {
        for (path, want) in [
            ("/send_msg", "send_msg"),
            ("/send_msg/", "send_msg"),
            ("/send_msg/x", "send_msg"),
            ("/", ""),
            ("", ""),
            ("/Send_Msg", "Send_Msg"),
        ] {
            assert_eq!(action_name(path), want, "{path}");
        }
    }
}
