//! The web dashboard (SPEC D1–D7, issue 25): `/dashboard` on each server with `dashboard: true`.
//!
//! The page is three files in `assets/`, plain HTML, CSS and JavaScript with no third-party
//! code, embedded in the binary with `include_str!`, so `cargo run` needs no Node and the page
//! loads nothing from the network. It asks for the server's token once, keeps it in
//! `sessionStorage` and sends it as `Authorization: Bearer` (never in a URL or a cookie) to:
//!
//! - what every client has: `GET /` (plugins, actions, failures), `POST /<action>` (the
//!   playground);
//! - the few things only the page needs, under `/dashboard/api/`: `metrics` (`GET /metrics`'s
//!   text, for counters and per-action p50/p99, whatever the server's `metrics`), `history`
//!   (calls and errors sampled every [`SAMPLE_EVERY`] for the overview's chart), `log` (the
//!   log tail, [`crate::logtail`]), `connections` (every server and client entry); and
//!   `/dashboard/events`, the event stream as server-sent events (read with `fetch`, which can
//!   send the header, unlike `EventSource`).
//!
//! The static files need no token (they hold no data); every data path does, and answers 403
//! without it. The browser guard (B1–B3) is in front of all of it like every route, and the
//! page's own headers forbid framing and any script or connection to another origin.

mod api;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::auth::Token;
use crate::config::{Config, Listener, ListenerKind, PostFormat, RemoteUrl, Secret};
use crate::dispatch::Dispatcher;
use crate::events::EventBus;
use crate::logtail::LogTail;
use crate::metrics::ConnectionKind;
use crate::sse::SseApi;
use crate::sync;

/// How often calls and errors are sampled for the overview's chart.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Samples kept: 15 minutes.
pub(crate) const SAMPLES: usize = 180;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// D7: the page runs only its own script and talks only to its own origin, and no other site
/// may frame it (a click on a framed playground would send an action).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What every server's dashboard shows, built once when the host starts.
pub(crate) struct Dashboard {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) events: Arc<EventBus>,
    pub(crate) log: Option<LogTail>,
    /// `/dashboard/api/connections`'s entries: settings only, never a token.
    pub(crate) entries: Value,
    history: Mutex<VecDeque<Sample>>,
    started: SystemTime,
}

/// Calls and errors since start, at a time (Unix ms).
#[derive(Clone, Copy, Debug)]
struct Sample {
    at_ms: u64,
    calls: u64,
    errors: u64,
}

impl Dashboard {
    /// The dashboard of a host with `config`, whose servers listen on `addrs` (in config
    /// order); `log` is the log tail, when the process keeps one.
    pub(crate) fn new(
        config: &Config,
        addrs: &[SocketAddr],
        dispatcher: Arc<Dispatcher>,
        events: Arc<EventBus>,
        log: Option<LogTail>,
    ) -> Dashboard {
        let dashboard = Dashboard {
            dispatcher,
            events,
            log,
            entries: entries(config, addrs),
            history: Mutex::new(VecDeque::with_capacity(SAMPLES)),
            started: SystemTime::now(),
        };
        dashboard.sample();
        dashboard
    }

    /// Samples calls and errors every [`SAMPLE_EVERY`] until `stop` turns true.
    pub(crate) async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                _ = tick.tick() => self.sample(),
            }
        }
    }

    fn sample(&self) {
        let (calls, errors) = self
            .dispatcher
            .metrics()
            .map_or((0, 0), |metrics| metrics.totals());
        let mut history = sync::lock(&self.history);
        if history.len() == SAMPLES {
            history.pop_front();
        }
        history.push_back(Sample {
            at_ms: unix_ms(SystemTime::now()),
            calls,
            errors,
        });
    }

    /// The history as the page reads it: `[[unix ms, calls, errors], …]`, oldest first.
    pub(crate) fn history(&self) -> Value {
        let samples: Vec<Value> = sync::lock(&self.history)
            .iter()
            .map(|s| json!([s.at_ms, s.calls, s.errors]))
            .collect();
        json!({
            "started_ms": unix_ms(self.started),
            "sample_ms": SAMPLE_EVERY.as_millis() as u64,
            "samples": samples,
        })
    }
}

/// What one server's dashboard routes need: the host's dashboard, and the server's token,
/// name, event format and queue bound.
pub(crate) struct DashboardApi {
    pub dashboard: Arc<Dashboard>,
    pub token: Token,
    pub server: Listener,
    pub shutdown: watch::Receiver<bool>,
}

/// The dashboard's routes on one server (merged into its app by [`crate::server::app`]).
pub(crate) fn router(api: Arc<DashboardApi>) -> Router {
    let events = Arc::new(SseApi {
        name: api.server.name.clone(),
        events: api.dashboard.events.clone(),
        token: api.token.clone(),
        post_format: api.server.message_post_format,
        report_self: true,
        queue_messages: api.server.ws_queue_messages,
        shutdown: api.shutdown.clone(),
        kind: ConnectionKind::Dashboard,
        entry: None,
    });
    let page = Router::new()
        .route("/dashboard", get(|| async { asset(INDEX, "text/html") }))
        .route("/dashboard/", get(|| async { asset(INDEX, "text/html") }))
        .route(
            "/dashboard/app.js",
            get(|| async { asset(SCRIPT, "text/javascript") }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { asset(STYLE, "text/css") }),
        );
    let stream = Router::new()
        .route("/dashboard/events", get(crate::sse::stream))
        .with_state(events);
    page.merge(stream).merge(api::router(api))
}

/// One embedded file, with the page's security headers (D7).
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("{content_type}; charset=utf-8"))
            .unwrap_or(HeaderValue::from_static("text/plain")),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A path under `/dashboard/` that is none of the above.
pub(crate) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such dashboard page\n").into_response()
}

/// Every server and client entry with its settings (D6); URLs without query or user info,
/// and for a token only whether one is set.
fn entries(config: &Config, addrs: &[SocketAddr]) -> Value {
    let servers: Vec<Value> = config
        .servers
        .iter()
        .zip(addrs)
        .map(|(s, addr)| {
            let http = s.kind.http();
            json!({
                "name": s.name,
                "section": s.kind.section(),
                "listen": addr.to_string(),
                "websocket": s.kind.websocket(),
                "events": matches!(s.kind, ListenerKind::HttpSse(_)),
                "cors": http.is_some_and(|h| h.enable_cors),
                "token": !s.token.is_empty(),
                "metrics": http.is_some_and(|h| h.metrics),
                "dashboard": http.is_some_and(|h| h.dashboard),
                "format": s.message_post_format,
            })
        })
        .collect();
    // A client entry, dialled or POSTed to: its name, where (no secret), whether it sends a
    // token, and its event format.
    let client = |name: &str, url: &RemoteUrl, token: &Secret, format: &PostFormat| {
        json!({
            "name": name,
            "url": url.shown(),
            "token": !token.is_empty(),
            "format": format,
        })
    };
    let ws_clients: Vec<Value> = (config.ws_clients.iter())
        .map(|c| client(&c.name, &c.url, &c.token, &c.message_post_format))
        .collect();
    let http_clients: Vec<Value> = (config.http_clients.iter())
        .map(|c| client(&c.name, &c.url, &c.token, &c.message_post_format))
        .collect();
    json!({
        "servers": servers,
        "websocketClients": ws_clients,
        "httpClients": http_clients,
    })
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
