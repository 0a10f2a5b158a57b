//! Putting a server together (SPEC C2, C3, H7, W1, B1–B3): one enabled `httpServers` entry → one
//! listener serving HTTP, and WebSocket upgrades when it enables them, with CORS around both
//! when it enables that.
//!
//! The transports ([`crate::http`], [`crate::ws`]) are siblings that know only the
//! dispatcher (and, for WebSocket, the event bus); this module is the one place that decides
//! how they are layered and how a listener is bound and served:
//!
//! - [`app`] — the router of one server: `ws` upgrade layer → CORS → HTTP.
//! - [`guard`] — what a browser may do (B1–B3): `Origin`, fetch metadata and `Host`, checked
//!   before anything else so that every route (HTTP, WebSocket handshake, SSE, any added
//!   later) is covered.
//! - `cors` — H7's headers and 204 preflight.
//! - `listen` — the accept loop with each connection's HTTP/1.1 limits.

mod cors;
pub(crate) mod guard;
pub(crate) mod listen;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::auth::Token;
use crate::config::{Listener, ListenerKind};
use crate::dashboard::{Dashboard, DashboardApi};
use crate::dispatch::Dispatcher;
use crate::envelope::Refusal;
use crate::events::EventBus;
use crate::http::{self, HttpApi};
use crate::sse::{self, SseApi};
use crate::ws::budget::Pending;
use crate::ws::{self, Endpoint, Session, WsApi};

/// A server that could not listen. Nothing is left listening when this is returned (C5).
#[derive(Debug, thiserror::Error)]
#[error("server `{name}`: cannot listen on {host}:{port}: {source}")]
pub struct BindError {
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) source: std::io::Error,
}

/// What every server of the host shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub dispatcher: Arc<Dispatcher>,
    pub events: Arc<EventBus>,
    /// Turning `true` closes the WebSocket clients (1001) and stops the listeners.
    pub shutdown: watch::Receiver<bool>,
    /// The host's WebSocket byte budget (W7).
    pub pending: Arc<Pending>,
    /// The dashboard, when some server shows it (D1).
    pub dashboard: Option<Arc<Dashboard>>,
}

/// The router of one server: HTTP for every path (H1), CORS when `enableCors` (H7),
/// WebSocket upgrades taken before either when `enableWebsocket` (W1), the dashboard when
/// `dashboard` (D1), and the browser guard (B1–B3) before all of them.
pub(crate) fn app(config: &Listener, shared: Shared) -> Router {
    let Shared {
        dispatcher,
        events,
        shutdown,
        pending,
        dashboard,
    } = shared;
    let token = Token::new(&config.token);
    // D6: this entry's clients and events, for the dashboard's connections page.
    let entry = events.metrics().entry("servers", &config.name);
    let mut router = match config.kind {
        ListenerKind::Http(_) => http::router(Arc::new(HttpApi {
            dispatcher: dispatcher.clone(),
            config: config.clone(),
            token: token.clone(),
        })),
        ListenerKind::HttpSse(_) => sse::router(Arc::new(SseApi {
            name: config.name.clone(),
            events: events.clone(),
            token: token.clone(),
            post_format: config.message_post_format,
            report_self: config.report_self_message,
            queue_messages: config.ws_queue_messages,
            shutdown: shutdown.clone(),
            kind: crate::metrics::ConnectionKind::Sse,
            entry: Some(entry.clone()),
        }))
        .merge(http::router(Arc::new(HttpApi {
            dispatcher: dispatcher.clone(),
            config: config.clone(),
            token: token.clone(),
        }))),
        // Only upgrades are served (by the layer below); anything else is told so.
        ListenerKind::WebSocket => Router::new().fallback(upgrade_required),
    };
    // D1: the dashboard's routes before the API's catch-all, on HTTP servers that show it.
    let http = config.kind.http();
    if let Some(dashboard) = dashboard.filter(|_| http.is_some_and(|h| h.dashboard)) {
        router = crate::dashboard::router(Arc::new(DashboardApi {
            dashboard,
            token: token.clone(),
            server: config.clone(),
            shutdown: shutdown.clone(),
        }))
        .merge(router);
    }
    if http.is_some_and(|h| h.enable_cors) {
        router = router.layer(axum::middleware::from_fn(cors::layer));
    }
    if config.kind.websocket() {
        let api = Arc::new(WsApi {
            endpoint: Arc::new(Endpoint {
                dispatcher,
                events,
                session: Session::of_server(config, Some(entry)),
                shutdown,
                pending,
            }),
            token,
        });
        // Outside CORS and HTTP: an upgrade never reaches the HTTP handler or the CORS layer; with
        // `enableWebsocket: false` an upgrade request is just an HTTP call.
        router = router.layer(axum::middleware::from_fn_with_state(api, intercept));
    }
    // Outermost of all: a browser's request is judged before any route sees it (B1–B3).
    let guard = Arc::new(guard::Guard::new(config));
    router.layer(axum::middleware::from_fn_with_state(guard, guard::layer))
}

/// A plain HTTP request to a `websocketServers` entry.
async fn upgrade_required() -> Response {
    Refusal::UpgradeRequired.into_response()
}

async fn intercept(State(api): State<Arc<WsApi>>, request: Request, next: Next) -> Response {
    if ws::is_upgrade(request.headers()) {
        ws::upgrade(api, request).await
    } else {
        next.run(request).await
    }
}

/// Binds every server before any serves (C3, C5): the process never runs half-configured.
pub(crate) async fn bind(
    servers: &[Listener],
) -> Result<Vec<(TcpListener, SocketAddr)>, BindError> {
    let mut bound = Vec::new();
    for server in servers {
        let error = |source| BindError {
            name: server.name.clone(),
            host: server.host.clone(),
            port: server.port,
            source,
        };
        let listener = TcpListener::bind((server.host.as_str(), server.port))
            .await
            .map_err(error)?;
        let addr = listener.local_addr().map_err(error)?;
        bound.push((listener, addr));
    }
    Ok(bound)
}

/// Serves each bound server's [`app`] on its listener, in `servers`, until `shared.shutdown`
/// turns `true`. Logs what each listens on, and warns about a server reachable from other
/// machines without a token.
pub(crate) fn serve(
    servers: &mut JoinSet<std::io::Result<()>>,
    configs: &[Listener],
    bound: Vec<(TcpListener, SocketAddr)>,
    shared: &Shared,
) {
    for (server, (listener, addr)) in configs.iter().zip(bound) {
        let http = server.kind.http();
        tracing::info!(
            server = %server.name,
            "listening on http://{addr} ({}; token {}, cors {}, websocket {})",
            server.kind.section(),
            if server.token.is_empty() { "off" } else { "on" },
            if http.is_some_and(|h| h.enable_cors) { "on" } else { "off" },
            if server.kind.websocket() { "on" } else { "off" },
        );
        if http.is_some_and(|h| h.dashboard) {
            tracing::info!(server = %server.name, "dashboard at http://{addr}/dashboard");
        }
        if server.token.is_empty() && !addr.ip().to_canonical().is_loopback() {
            tracing::warn!(
                server = %server.name,
                "NO TOKEN on {addr}, which other machines can reach: anyone who can connect \
                 can call every action (send messages as the bot, read its data). Set `token` \
                 on this server, or listen on 127.0.0.1"
            );
        }
        let app = app(server, shared.clone());
        let (server, stop) = (server.clone(), shared.shutdown.clone());
        servers.spawn(async move { listen::serve(listener, app, &server, stop).await });
    }
}
