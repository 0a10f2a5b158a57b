//! One event POSTed to one endpoint (SPEC R2, R3): the request, its signature, and the
//! bounded retries.
//!
//! Headers: `Content-Type: application/json`, `X-Self-ID`, and with a token
//! `X-Signature: sha1=<hex HMAC-SHA1(token, body)>` (what NoneBot2 and aiocqhttp verify).
//!
//! Retried (at most [`ATTEMPTS`] tries, [`BACKOFF`] doubling between them): a connection that
//! could not be made or broke before an answer, and a 5xx answer, both of which say the
//! endpoint did not take the event. Not retried: a 4xx (the endpoint refused this event; it
//! would refuse it again) and a timeout (the endpoint may be handling it still; a retry
//! could make the bot answer twice).

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha1::Sha1;

use crate::config::Secret;

/// Tries per event, the first included.
pub(super) const ATTEMPTS: u32 = 3;
/// The wait before the second try; doubled before each later one.
pub(super) const BACKOFF: Duration = Duration::from_millis(250);
/// The most of an endpoint's answer that is read (a quick operation is small).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why an event was given up on; the endpoint's drop counter counts each.
#[derive(Debug, thiserror::Error)]
pub(super) enum PostError {
    #[error("no connection after {ATTEMPTS} tries: {0}")]
    Connect(String),
    #[error("HTTP {0} after {ATTEMPTS} tries")]
    ServerError(u16),
    #[error("HTTP {0} (not retried: the endpoint refused the event)")]
    Refused(u16),
    #[error("no answer within {0} ms (not retried: the endpoint may be handling it)")]
    Timeout(u64),
}

/// What a delivered event was answered with.
pub(super) struct Answer {
    pub status: u16,
    /// The body of a 200 answer (empty for any other status, or when unreadable).
    pub body: Bytes,
    pub attempts: u32,
}

/// Sends events to one endpoint over a pool of kept-alive connections.
pub(super) struct Poster {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: hyper::Uri,
    token: Secret,
    timeout: Duration,
}

impl Poster {
    pub(super) fn new(
        uri: hyper::Uri,
        token: Secret,
        timeout: Duration,
        connections: usize,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Poster {
            client,
            uri,
            token,
            timeout,
        }
    }

    /// POSTs `body`, retrying as the module says; the answer, or why the event was dropped.
    pub(super) async fn deliver(&self, body: Bytes, self_id: i64) -> Result<Answer, PostError> {
        let signature = (!self.token.is_empty()).then(|| signature(self.token.expose(), &body));
        let mut backoff = BACKOFF;
        let mut attempt = 1;
        loop {
            let last = attempt == ATTEMPTS;
            match self.once(body.clone(), self_id, signature.as_deref()).await {
                Ok(answer) if answer.status >= 500 && !last => {}
                Ok(answer) if answer.status >= 500 => {
                    return Err(PostError::ServerError(answer.status));
                }
                Ok(answer) if answer.status >= 400 => {
                    return Err(PostError::Refused(answer.status));
                }
                Ok(answer) => {
                    return Ok(Answer {
                        attempts: attempt,
                        ..answer
                    });
                }
                Err(Try::Timeout) => return Err(PostError::Timeout(self.timeout_ms())),
                Err(Try::Connect(e)) if last => return Err(PostError::Connect(e)),
                Err(Try::Connect(_)) => {}
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }

    /// One try: the request and, for a 200, its answer's body, all within the timeout.
    async fn once(
        &self,
        body: Bytes,
        self_id: i64,
        signature: Option<&str>,
    ) -> Result<Answer, Try> {
        let mut request = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("X-Self-ID", self_id);
        if let Some(signature) = signature {
            request = request.header("X-Signature", signature);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| Try::Connect(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Try::Connect(error_chain(&e)))?;
            let status = response.status().as_u16();
            let body = if status == 200 {
                // An answer too big or cut short is no quick operation: read as empty.
                Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default()
            } else {
                Bytes::new()
            };
            Ok(Answer {
                status,
                body,
                attempts: 1,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(Try::Timeout))
    }

    fn timeout_ms(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

/// How one try failed, before retries are decided.
enum Try {
    Connect(String),
    Timeout,
}

/// R2: `sha1=<hex HMAC-SHA1(token, body)>`, the OneBot 11 `X-Signature` value.
pub(crate) fn signature(token: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(5 + 2 * digest.len());
    out.push_str("sha1=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The client error with its causes ("client error (Connect): tcp connect error: refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r2_signature_is_hex_hmac_sha1() {
        // RFC 2202 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }
}
