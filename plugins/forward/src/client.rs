//! A small blocking HTTP client on `wasi:http`: one POST with a JSON body, its whole answer
//! read. The host bounds its time and the answer's size; the errors here say what went wrong
//! in words an operator can act on.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

/// What the upstream answered.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs `body` (JSON) to `url`, with `Authorization: Bearer <token>` when a token is given.
pub fn post_json(url: &str, token: Option<&str>, body: &[u8]) -> Result<Reply, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL (expected http://host:port)"))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("scheme `{other}`: expected http or https")),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };

    let mut headers = vec![("content-type".to_owned(), b"application/json".to_vec())];
    if let Some(token) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {token}").into_bytes()));
    }
    let headers = Fields::from_list(&headers).map_err(|e| format!("bad header: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let invalid = |what: &str| format!("invalid {what} in `{url}`");
    request
        .set_method(&Method::Post)
        .map_err(|()| invalid("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| invalid("host"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| invalid("path"))?;
    let outgoing = request.body().map_err(|()| "cannot write the request body")?;
    let future = outgoing_handler::handle(request, None).map_err(explain)?;
    // A request the host refuses (or cannot send) closes the body stream: the response's
    // error then says why, so a failed write is reported only when the response has none.
    let sent = write_body(outgoing, body);
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(explain(e)),
        _ => return Err("no response".to_owned()),
    };
    sent?;
    let status = response.status();
    let incoming = response.consume().map_err(|()| "cannot read the answer")?;
    let mut body = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| "cannot read the answer")?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => body.extend(chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(format!("reading the answer failed: {}", e.to_debug_string()));
                }
            }
        }
    }
    drop(incoming);
    Ok(Reply { status, body })
}

/// Writes `body` and finishes it.
fn write_body(outgoing: OutgoingBody, body: &[u8]) -> Result<(), String> {
    {
        let stream = outgoing
            .write()
            .map_err(|()| "cannot write the request body")?;
        // A stream takes at most 4096 bytes per blocking write.
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("sending the request failed: {e:?}"))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(explain)
}

/// A wasi:http error as an operator would want to read it.
fn explain(error: ErrorCode) -> String {
    match error {
        ErrorCode::HttpRequestDenied => "the host refused the request: add the upstream's origin \
             to `allowedOutboundHosts` in forward.json5"
            .to_owned(),
        ErrorCode::ConnectionRefused => "connection refused (is the upstream running?)".to_owned(),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout => {
            format!("no answer in time ({error:?}; the plugin's timeoutMs bounds it)")
        }
        ErrorCode::HttpResponseBodySize(size) => format!(
            "the answer ({size:?} bytes) is over the plugin's maxResultBytes"
        ),
        other => format!("{other:?}"),
    }
}
