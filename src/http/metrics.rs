//! `GET /metrics` (SPEC O1): the host's metrics in Prometheus's text format, on every
//! `httpServers` and `httpSseServers` entry with `metrics: true` (the default), behind the
//! server's token like every API path. A scraper without the token gets HTTP 403 (not H6's
//! 200 envelope, which Prometheus would try to parse as metrics), so the target shows as down
//! with the reason.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;

use super::HttpApi;
use crate::envelope::Refusal;

pub(crate) use crate::metrics::PATH;

pub(super) fn serve(server: &HttpApi, parts: &Parts) -> Response {
    if server
        .token
        .check(&parts.headers, parts.uri.query())
        .is_err()
    {
        tracing::debug!(server = %server.config.name, "metrics scrape refused: token verify failed");
        return Refusal::Forbidden.into_response();
    }
    // `None` only if no server shows metrics, and this one does: never, but answer sanely.
    let Some(text) = server.dispatcher.render_metrics() else {
        let mut response = Response::new(Body::from("metrics are off\n"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    response
}
