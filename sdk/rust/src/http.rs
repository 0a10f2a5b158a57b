//! Outbound HTTP (the host's `wasi:http/outgoing-handler`, SPEC P4): a small blocking client.
//! Cargo feature `http`, on by default.
//!
//! The plugin's sidecar lists where it may connect, as `scheme://host[:port]` patterns:
//!
//! ```json5
//! // weather.json5, beside weather.wasm
//! { allowedOutboundHosts: ["https://api.example.com", "http://127.0.0.1:8080"] }
//! ```
//!
//! ```ignore
//! use onebot_plugin::http::{self, Request};
//! use onebot_plugin::json;
//!
//! let page = http::get("https://api.example.com/today")?.error_for_status()?;
//! let today: Weather = page.json()?;
//!
//! let created = http::post_json("https://api.example.com/notes", &json!({ "text": "hi" }))?;
//!
//! let answer = Request::put("https://api.example.com/notes/1")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body("plain text")
//!     .timeout(std::time::Duration::from_secs(3))
//!     .send()?;
//! println!("{} {:?} {}", answer.status, answer.header("content-type"), answer.text()?);
//! ```
//!
//! Every failure is an [`Error`] with retcode 1200 whose message names the method and URL and
//! says what went wrong: a host the sidecar does not allow (the message says what to add to
//! `allowedOutboundHosts`), a refused connection, a timeout, a bad URL. A response is returned
//! whatever its status; [`Response::error_for_status`] turns 4xx and 5xx into an error. The
//! call's time limit covers the request: a slow server ends the whole call.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::{Error, Result};

/// `GET url`.
pub fn get(url: &str) -> Result<Response> {
    Request::get(url).send()
}

/// `POST url` with `body` as JSON (`content-type: application/json`).
pub fn post_json<T: Serialize + ?Sized>(url: &str, body: &T) -> Result<Response> {
    Request::post(url).json(body).send()
}

/// A request being built; [`Request::send`] sends it and waits for the whole response.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    /// A body that could not be encoded: reported by `send`, so building stays chainable.
    invalid: Option<String>,
}

impl Request {
    /// A request with any method (`"GET"`, `"PROPFIND"`, …).
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            invalid: None,
        }
    }

    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    pub fn put(url: &str) -> Request {
        Request::new("PUT", url)
    }

    pub fn delete(url: &str) -> Request {
        Request::new("DELETE", url)
    }

    /// Adds a header (a name given twice is sent twice).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body, as bytes or text.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The body as JSON, with `content-type: application/json` unless one was set.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Request {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = bytes,
            Err(e) => self.invalid = Some(format!("cannot encode the JSON body: {e}")),
        }
        if !self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            self.headers
                .push(("content-type".to_owned(), "application/json".to_owned()));
        }
        self
    }

    /// How long to wait to connect, for the first byte of the response, and between bytes.
    /// Without one, the call's own time limit is the only limit.
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response> {
        let what = format!("http {} {}", self.method, self.url);
        self.exchange()
            .map_err(|why| Error::failed(format!("{what}: {why}")))
    }

    fn exchange(self) -> Result<Response, String> {
        if let Some(invalid) = self.invalid {
            return Err(invalid);
        }
        let url = Url::parse(&self.url)?;
        let headers = Fields::new();
        for (name, value) in &self.headers {
            headers
                .append(name, value.as_bytes())
                .map_err(|e| format!("header `{name}`: {e:?}"))?;
        }
        let request = OutgoingRequest::new(headers);
        let refused = |part: &str| format!("the {part} is not accepted");
        request
            .set_method(&method(&self.method))
            .map_err(|()| refused("method"))?;
        request
            .set_scheme(Some(&url.scheme))
            .map_err(|()| refused("scheme"))?;
        request
            .set_authority(Some(url.authority))
            .map_err(|()| refused("host"))?;
        request
            .set_path_with_query(Some(&url.path_and_query))
            .map_err(|()| refused("path"))?;
        let options = self.timeout.map(|timeout| {
            let options = RequestOptions::new();
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            // A host may not support a setting; the call's time limit still applies.
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
            options
        });
        let body = request
            .body()
            .map_err(|()| "the request body is unavailable".to_owned())?;
        // Sent first, then the body written: a body larger than the host's buffer would
        // otherwise wait for a reader that does not exist yet.
        let origin = format!("{}://{}", url.scheme_text, url.authority);
        let describe = |code: &ErrorCode| describe(code, &origin);
        let pending = outgoing_handler::handle(request, options).map_err(|e| describe(&e))?;
        write_body(&body, &self.body)?;
        OutgoingBody::finish(body, None).map_err(|e| describe(&e))?;

        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(e))) => return Err(describe(&e)),
            Some(Err(())) | None => return Err("the response was lost".to_owned()),
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| "the response body is unavailable".to_owned())?;
        let body = read_body(&incoming, &origin)?;
        drop(IncomingBody::finish(incoming));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// A response: status, headers (names in lower case, in the order received) and the whole body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response itself when its status is below 400, else an error (retcode 1200) with
    /// the status and the start of the body.
    pub fn error_for_status(self) -> Result<Response> {
        if self.status < 400 {
            return Ok(self);
        }
        let text = String::from_utf8_lossy(&self.body);
        let start: String = text.chars().take(200).collect();
        Err(Error::failed(format!(
            "http: the server answered {}: {start}",
            self.status
        )))
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<String> {
        String::from_utf8(self.body.clone())
            .map_err(|e| Error::failed(format!("http: the body is not UTF-8 text: {e}")))
    }

    /// The body read as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::failed(format!(
                "http: the body (status {}) is not the JSON expected: {e}",
                self.status
            ))
        })
    }
}

/// The parts of an absolute `http://` or `https://` URL the request needs.
struct Url<'a> {
    scheme: Scheme,
    scheme_text: &'static str,
    authority: &'a str,
    path_and_query: String,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Result<Url<'a>, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "not an absolute URL (`http://host/path`)".to_owned())?;
        let (scheme, scheme_text) = match scheme.to_ascii_lowercase().as_str() {
            "http" => (Scheme::Http, "http"),
            "https" => (Scheme::Https, "https"),
            other => return Err(format!("scheme `{other}` is not supported (http, https)")),
        };
        // The fragment is the client's; it is never sent.
        let rest = rest.split('#').next().unwrap_or_default();
        let at = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(at);
        if authority.is_empty() {
            return Err("the URL has no host".to_owned());
        }
        let path_and_query = if path_and_query.starts_with('/') {
            path_and_query.to_owned()
        } else {
            format!("/{path_and_query}")
        };
        Ok(Url {
            scheme,
            scheme_text,
            authority,
            path_and_query,
        })
    }
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Ok(());
    }
    let stream = body
        .write()
        .map_err(|()| "the request body is unavailable".to_owned())?;
    // blocking-write-and-flush takes at most 4096 bytes at a time.
    for chunk in bytes.chunks(4096) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| stream_error("sending the body", e, ""))?;
    }
    Ok(())
}

fn read_body(incoming: &IncomingBody, origin: &str) -> Result<Vec<u8>, String> {
    let stream = incoming
        .stream()
        .map_err(|()| "the response body is unavailable".to_owned())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(e) => return Err(stream_error("reading the body", e, origin)),
        }
    }
}

fn stream_error(doing: &str, error: StreamError, origin: &str) -> String {
    match error {
        StreamError::Closed => format!("{doing}: the connection closed"),
        StreamError::LastOperationFailed(e) => match wasip2::http::types::http_error_code(&e) {
            Some(code) => format!("{doing}: {}", describe(&code, origin)),
            None => format!("{doing}: {}", e.to_debug_string()),
        },
    }
}

/// What went wrong, in words, for a request to `origin` (`scheme://host[:port]`); the host's
/// own message when it gave one.
fn describe(code: &ErrorCode, origin: &str) -> String {
    match code {
        ErrorCode::InternalError(Some(message)) => message.clone(),
        // onebot-host refuses an origin its sidecar does not grant this way.
        ErrorCode::HttpRequestDenied => format!(
            "refused: {origin} is not granted; add `allowedOutboundHosts: [\"{origin}\"]` \
             to the plugin's sidecar (<plugin>.json5 beside the .wasm)"
        ),
        ErrorCode::ConnectionRefused => "connection refused".to_owned(),
        ErrorCode::ConnectionTimeout => "timed out connecting".to_owned(),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            "timed out waiting for the response".to_owned()
        }
        ErrorCode::DnsError(payload) => format!(
            "the host name did not resolve ({})",
            payload.rcode.as_deref().unwrap_or("DNS error")
        ),
        ErrorCode::DestinationNotFound => "the host name did not resolve".to_owned(),
        ErrorCode::HttpRequestUriInvalid => "the URL is not valid".to_owned(),
        other => format!("{other:?}"),
    }
}
