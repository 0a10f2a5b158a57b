//! CORS for servers with `enableCors` (SPEC H7, B1): a response to a request whose `Origin`
//! the guard let through (`super::guard`: the server's own or one in `allowOrigins`) gets
//! that origin in `Access-Control-Allow-Origin`; one without an `Origin` (not a browser's CORS
//! request) keeps `*`. `Vary: Origin` keeps caches from mixing them. A preflight `OPTIONS` is
//! answered 204 before the token check (browsers never send credentials on a preflight).
//!
//! Hand-written rather than tower-http's `CorsLayer` because that answers preflights with
//! 200, and the contract (like NapCat's Express `cors()`) says 204.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::guard::AllowedOrigin;

const ALLOWED_METHODS: &str = "GET, HEAD, PUT, PATCH, POST, DELETE";

pub(super) async fn layer(request: Request, next: Next) -> Response {
    let allow_origin = request
        .extensions()
        .get::<AllowedOrigin>()
        .map_or_else(|| HeaderValue::from_static("*"), |o| o.0.clone());
    let headers = request.headers();
    if request.method() == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let allow_headers = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("*"));
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        h.insert(
            header::VARY,
            HeaderValue::from_static("Origin, Access-Control-Request-Headers"),
        );
        return response;
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    response
}
