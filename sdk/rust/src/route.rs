//! Webhook routes (the standard `wasi:http/incoming-handler` export, SPEC T20–T27): a plain
//! function from a [`Request`] to a [`Response`], exported with [`route!`](crate::route).
//! Cargo feature `http`, on by default.
//!
//! The plugin's sidecar names the paths the host serves for it; `routes: ["/github"]` makes
//! the host hand `/hooks/<plugin>/github` (and anything below it), any method, to the route:
//!
//! ```ignore
//! use onebot_plugin::route::{Request, Response};
//!
//! fn github(request: Request) -> onebot_plugin::Result<Response> {
//!     if request.header("x-github-event") == Some("ping") {
//!         return Ok(Response::text(200, "pong"));
//!     }
//!     Ok(Response::new(204))
//! }
//!
//! onebot_plugin::route!(github);
//! ```
//!
//! The host asks for no OneBot token on these paths (GitHub cannot send one): the route
//! authenticates the sender itself, e.g. by a signature over [`Request::body`]. An `Err`
//! from the function is logged through the host and answered 500 with no details.

use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse,
    ResponseOutparam,
};
use wasip2::io::streams::StreamError;

use crate::{Error, Result};

/// One request, read whole: method, path (with the query), headers (names in lower case, in
/// the order received) and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path the client asked for, `/hooks/<plugin>/github?x=1`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (retcode 1400 if it is not).
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::bad_request(format!("the body is not UTF-8: {e}")))
    }

    /// The body as JSON of type `T` (retcode 1400 if it does not fit).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::bad_request(format!("the body is not the JSON expected: {e}")))
    }
}

/// The answer: a status, headers and a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// `status` with no body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `status` with a `text/plain` body.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(body.into())
    }

    /// `status` with `body` as JSON (`application/json`).
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, body: &T) -> Response {
        match serde_json::to_vec(body) {
            Ok(bytes) => Response::new(status)
                .header("content-type", "application/json")
                .body(bytes),
            Err(_) => Response::new(500),
        }
    }

    /// Adds a header (a name given twice is sent twice).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body, as bytes or text.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }
}

/// Runs `handler` on one incoming request and sends its answer. Used by [`route!`](crate::route).
#[doc(hidden)]
pub fn __serve(
    request: IncomingRequest,
    out: ResponseOutparam,
    handler: fn(Request) -> Result<Response>,
) {
    let response = match read(request).and_then(handler) {
        Ok(response) => response,
        Err(e) => {
            crate::log(crate::Level::Error, &format!("route failed: {e}"));
            Response::new(500)
        }
    };
    send(out, response);
}

fn read(request: IncomingRequest) -> Result<Request> {
    let method = match request.method() {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Other(other) => other,
    };
    let path = request.path_with_query().unwrap_or_default();
    let headers = request
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = request
        .consume()
        .map_err(|()| Error::failed("the request body is unavailable"))?;
    let body = read_body(&incoming)?;
    drop(IncomingBody::finish(incoming));
    Ok(Request {
        method,
        path,
        headers,
        body,
    })
}

fn read_body(incoming: &IncomingBody) -> Result<Vec<u8>> {
    let stream = incoming
        .stream()
        .map_err(|()| Error::failed("the request body is unavailable"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(Error::failed(format!(
                    "reading the request body: {}",
                    e.to_debug_string()
                )));
            }
        }
    }
}

/// Sends `response`; a header the host refuses is left out (and logged) rather than losing
/// the whole answer.
fn send(out: ResponseOutparam, response: Response) {
    let headers = Fields::new();
    for (name, value) in &response.headers {
        if headers.append(name, value.as_bytes()).is_err() {
            crate::log(
                crate::Level::Warn,
                &format!("route: header `{name}` refused"),
            );
        }
    }
    let outgoing = OutgoingResponse::new(headers);
    if outgoing.set_status_code(response.status).is_err() {
        let _ = outgoing.set_status_code(500);
    }
    let Ok(body) = outgoing.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(stream) = body.write() {
        for chunk in response.body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(body, None);
}

/// Exports `handler`, a `fn(Request) -> Result<Response>`, as the component's
/// `wasi:http/incoming-handler`: the webhook route the sidecar's `routes` name.
#[macro_export]
macro_rules! route {
    ($handler:path $(,)?) => {
        struct __OnebotRoute;

        impl $crate::__wasip2::exports::http::incoming_handler::Guest for __OnebotRoute {
            fn handle(
                request: $crate::__wasip2::http::types::IncomingRequest,
                out: $crate::__wasip2::http::types::ResponseOutparam,
            ) {
                $crate::route::__serve(request, out, $handler)
            }
        }

        $crate::__wasip2::http::proxy::export!(__OnebotRoute);
    };
}
