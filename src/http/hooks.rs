//! Webhook routes on every `httpServers` entry (SPEC T21–T25): `/hooks/<plugin>/<path>`, any
//! method, handed to the plugin's `wasi:http/incoming-handler` through
//! [`crate::dispatch::Dispatcher::route`].
//!
//! No OneBot token is asked for (T23): GitHub, Gitea or Telegram cannot send it, so the
//! plugin authenticates the sender itself. The body is read under the server's
//! `maxBodyBytes` and `bodyTimeoutMs`, as for an action (T24). An unknown route is 404 and a
//! plugin's failure 500, each with a short fixed text: what went wrong is in the host's log,
//! with the plugin's name, never in the answer (T25).

use std::time::Instant;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{HttpApi, read_in_time};
use crate::dispatch::RouteOutcome;

/// Serves one request whose path starts with `/hooks/` (or is `/hooks`).
pub(super) async fn serve(
    server: &HttpApi,
    mut parts: Parts,
    body: Body,
    started: Instant,
) -> Response {
    let path = parts.uri.path().to_owned();
    let Some((plugin, rest)) = split(&path) else {
        return plain(StatusCode::NOT_FOUND, "no webhook route here\n");
    };
    let bytes = match read_in_time(&server.config, &parts.headers, body, started).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal.into_response(),
    };
    // wasi:http gives the guest an authority; a client without `Host` (HTTP/1.0) gets ours.
    if !parts.headers.contains_key(header::HOST) {
        parts
            .headers
            .insert(header::HOST, HeaderValue::from_static("localhost"));
    }
    let request = hyper::Request::from_parts(parts, bytes);
    let outcome = server.dispatcher.route(plugin, rest, request).await;
    if server.config.debug {
        tracing::info!(server = %server.config.name, via = "http", %plugin, path = %rest,
            ms = started.elapsed().as_secs_f64() * 1e3, "webhook");
    }
    match outcome {
        RouteOutcome::Answered(response) => {
            let (mut parts, body) = response.into_parts();
            // The body is whole: hyper sets its length.
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.remove(header::TRANSFER_ENCODING);
            Response::from_parts(parts, Body::from(body))
        }
        RouteOutcome::NotFound => plain(StatusCode::NOT_FOUND, "no webhook route here\n"),
        RouteOutcome::Failed => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the webhook route failed; the host's log says why\n",
        ),
        RouteOutcome::Unavailable => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the host is shutting down\n",
        ),
    }
}

/// `/hooks/<plugin><rest>` → (plugin, rest); `rest` is empty or starts with `/`.
fn split(path: &str) -> Option<(&str, &str)> {
    let below = path.strip_prefix("/hooks/")?;
    let (plugin, rest) = match below.find('/') {
        Some(at) => below.split_at(at),
        None => (below, ""),
    };
    (!plugin.is_empty()).then_some((plugin, rest))
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn t21_hook_paths_name_the_plugin_and_the_rest() {
        assert_eq!(split("/hooks/gh/github"), Some(("gh", "/github")));
        assert_eq!(split("/hooks/gh/github/x"), Some(("gh", "/github/x")));
        assert_eq!(split("/hooks/gh"), Some(("gh", "")));
        assert_eq!(split("/hooks/"), None);
        assert_eq!(split("/hooks"), None);
    }
}
