//! fetch: a test-fixture plugin for onebot-host's outbound HTTP tests (not shipped).
//!
//! It makes requests through the standard `wasi:http/outgoing-handler` (the `wasip2` crate's
//! bindings) and answers what it saw as data, so a test reads a refusal or a timeout exactly
//! as the guest did:
//! - `fetch` `{url, method?, body?, follow?}`: one request (or, with `follow`, one per
//!   redirect hop, at most 5: wasi:http never follows redirects, so the guest does, and the
//!   host checks each hop). Answers `{hops, status, body, body_len, body_error}` or
//!   `{hops, error}`, `error` and `body_error` being the Debug text of the wasi:http error.
//!   With `discard: true` the body is left out (only `body_len`), to keep the answer small.
//! - `fetch_many` `{url, n}`: starts `n` GET requests at once, then reads them in order.
//!   Answers `{results: [status or error text, …]}`.

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use exports::onebot::plugin::onebot_action::{ActionCall, ActionError, Guest};
use serde_json::{Value, json};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    Scheme,
};
use wasip2::io::streams::StreamError;

struct Fetch;

export!(Fetch);

impl Guest for Fetch {
    fn actions() -> Vec<String> {
        vec!["fetch".to_owned(), "fetch_many".to_owned()]
    }

    fn handle(call: ActionCall) -> Result<String, ActionError> {
        let params: Value = serde_json::from_str(&call.params).unwrap_or(Value::Null);
        let url = params["url"].as_str().unwrap_or("");
        let answer = match call.action.as_str() {
            "fetch" => fetch(url, &params),
            "fetch_many" => fetch_many(url, params["n"].as_u64().unwrap_or(1)),
            other => {
                return Err(ActionError {
                    retcode: 1404,
                    message: format!("不支持的API {other}"),
                });
            }
        };
        Ok(answer.to_string())
    }
}

fn fetch(url: &str, params: &Value) -> Value {
    let method = params["method"].as_str().unwrap_or("GET");
    let body = params["body"].as_str();
    let follow = params["follow"].as_bool().unwrap_or(false);
    let discard = params["discard"].as_bool().unwrap_or(false);
    let mut hops = Vec::new();
    let mut url = url.to_owned();
    for _ in 0..5 {
        hops.push(url.clone());
        let answer = start(&url, method, body).and_then(wait);
        match answer {
            Err(error) => return json!({ "hops": hops, "error": error }),
            Ok(answer) => match answer.location {
                Some(next) if follow && (300..400).contains(&answer.status) => url = next,
                _ => {
                    return json!({
                        "hops": hops,
                        "status": answer.status,
                        "body": if discard { None } else { Some(&answer.body) },
                        "body_len": answer.body.len(),
                        "body_error": answer.body_error,
                    });
                }
            },
        }
    }
    json!({ "hops": hops, "error": "too many redirects" })
}

fn fetch_many(url: &str, n: u64) -> Value {
    let started: Vec<_> = (0..n).map(|_| start(url, "GET", None)).collect();
    let results: Vec<Value> = started
        .into_iter()
        .map(|f| match f.and_then(wait) {
            Ok(answer) => json!(answer.status),
            Err(error) => json!(error),
        })
        .collect();
    json!({ "results": results })
}

/// What came back: the status, the `Location` header, the body and how reading it ended.
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
    body_error: Option<String>,
}

/// Sends a request to `url` (`http[s]://authority/path`) and returns the response's future.
fn start(url: &str, method: &str, body: Option<&str>) -> Result<FutureIncomingResponse, String> {
    let (scheme, rest) = url.split_once("://").ok_or("no scheme")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let method = if method == "POST" { Method::Post } else { Method::Get };
    request.set_method(&method).map_err(|()| "bad method")?;
    let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|()| "bad scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "bad authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "bad path")?;
    let outgoing = match body {
        Some(_) => Some(request.body().map_err(|()| "no body")?),
        None => None,
    };
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    if let (Some(outgoing), Some(bytes)) = (outgoing, body) {
        {
            let stream = outgoing.write().map_err(|()| "no body stream")?;
            for chunk in bytes.as_bytes().chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| format!("writing the body: {e:?}"))?;
            }
        }
        OutgoingBody::finish(outgoing, None).map_err(|e| format!("{e:?}"))?;
    }
    Ok(future)
}

/// Waits for the response and reads its body to the end (or to its error).
fn wait(future: FutureIncomingResponse) -> Result<Answer, String> {
    future.subscribe().block();
    let response: IncomingResponse = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(format!("{e:?}")),
        _ => return Err("no response".to_owned()),
    };
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .first()
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let incoming = response.consume().map_err(|()| "no body")?;
    let mut bytes = Vec::new();
    let body_error = {
        let stream = incoming.stream().map_err(|()| "no body stream")?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend(chunk),
                Err(StreamError::Closed) => break None,
                Err(StreamError::LastOperationFailed(e)) => break Some(e.to_debug_string()),
            }
        }
    };
    drop(incoming);
    Ok(Answer {
        status,
        location,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        body_error,
    })
}
