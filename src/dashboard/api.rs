//! What only the dashboard needs (SPEC D3–D6), under `/dashboard/api/`, each behind the
//! server's token: 403 with a 1403 envelope without it, as `GET /metrics` (O1). `metrics` is
//! `GET /metrics`'s text, served here too so that the page works on a server with
//! `metrics: false`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use tracing::Level;

use super::{DashboardApi, not_found};
use crate::envelope::{Envelope, Outcome, Refusal};
use crate::json::query::pairs_lossy;
use crate::logtail;

/// Lines one `log` request returns at most.
const MAX_LOG_LINES: usize = 500;

pub(super) fn router(api: Arc<DashboardApi>) -> Router {
    Router::new()
        .route("/dashboard/api/history", get(history))
        .route("/dashboard/api/log", get(log))
        .route("/dashboard/api/connections", get(connections))
        .route("/dashboard/api/metrics", get(metrics))
        .route(
            "/dashboard/{*rest}",
            axum::routing::any(|| async { not_found() }),
        )
        .with_state(api)
}

/// `None` for a request with the token, else the 403 a page shows as "wrong token".
fn refusal(api: &DashboardApi, request: &Request) -> Option<Response> {
    if api
        .token
        .check(request.headers(), request.uri().query())
        .is_ok()
    {
        return None;
    }
    tracing::debug!(server = %api.server.name, "dashboard request refused: token verify failed");
    Some(Refusal::Forbidden.into_response())
}

fn data(value: Value) -> Response {
    Envelope::new(Outcome::Data(value), None).into_response()
}

/// D3: calls and errors sampled over the last minutes.
async fn history(State(api): State<Arc<DashboardApi>>, request: Request) -> Response {
    if let Some(refused) = refusal(&api, &request) {
        return refused;
    }
    data(api.dashboard.history())
}

/// D5: the log tail. `after` (a line's `seq`) for the lines after it, `level` (`error` …
/// `trace`, default `trace`) for that level and more severe.
async fn log(State(api): State<Arc<DashboardApi>>, request: Request) -> Response {
    if let Some(refused) = refusal(&api, &request) {
        return refused;
    }
    let Some(tail) = &api.dashboard.log else {
        return data(json!({"kept": false, "next": 0, "lines": []}));
    };
    let mut after = None;
    let mut level = Level::TRACE;
    for (key, value) in pairs_lossy(request.uri().query().unwrap_or("")) {
        match key.as_str() {
            "after" => after = value.parse().ok(),
            "level" => level = logtail::parse_level(&value).unwrap_or(Level::TRACE),
            _ => {}
        }
    }
    let lines = tail.lines(after, level, MAX_LOG_LINES);
    data(json!({"kept": true, "next": tail.next_seq(), "lines": lines}))
}

/// D6: every server and client entry with its counters, the reverse WebSocket entries and
/// the upstream with their state.
async fn connections(State(api): State<Arc<DashboardApi>>, request: Request) -> Response {
    if let Some(refused) = refusal(&api, &request) {
        return refused;
    }
    let mut entries = api.dashboard.entries.clone();
    let metrics = api.dashboard.events.metrics();
    let links = metrics.links().into_iter();
    attach(&mut entries, "websocketClients", "state", links, |s| {
        s.describe()
    });
    for section in ["servers", "websocketClients", "httpClients"] {
        let counters = metrics.entries(section).into_iter();
        attach(&mut entries, section, "counters", counters, |s| {
            s.describe()
        });
    }
    entries["upstream"] = json!(api.dashboard.dispatcher.upstream().map(|u| u.describe()));
    data(entries)
}

/// Sets `key` on each entry of `entries[section]` to what `describe` makes of its item in
/// `items`, matched by name in config order (names may repeat: each item is used once).
fn attach<T>(
    entries: &mut Value,
    section: &str,
    key: &str,
    mut items: impl Iterator<Item = (String, T)>,
    describe: impl Fn(&T) -> Value,
) {
    let Some(list) = entries[section].as_array_mut() else {
        return;
    };
    for entry in list {
        let name = entry["name"].as_str().unwrap_or_default().to_owned();
        if let Some((_, item)) = items.find(|(n, _)| *n == name) {
            entry[key] = describe(&item);
        }
    }
}

/// D4: the metrics the page computes rates and percentiles from (O3–O8), as `GET /metrics`
/// renders them.
async fn metrics(State(api): State<Arc<DashboardApi>>, request: Request) -> Response {
    if let Some(refused) = refusal(&api, &request) {
        return refused;
    }
    // A dashboard keeps the host's metrics (O9), so `None` cannot happen; answer sanely.
    let text = api
        .dashboard
        .dispatcher
        .render_metrics()
        .unwrap_or_default();
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    response
}
