//! What a web browser may do with a listener (SPEC B1–B4, issue 20): one check, in front of
//! everything a server serves (the HTTP API, the WebSocket handshake, `GET /_events`, and any
//! route added later), so that a page open in a browser on the bot's machine cannot drive the
//! bot.
//!
//! - **Origin** (B1): a request that carries `Origin` is refused unless that origin is the
//!   server's own (its authority is the request's `Host`) or listed in `allowOrigins`.
//!   Browsers send `Origin` on every cross-origin read, every POST and every WebSocket
//!   handshake; bot frameworks and curl send none, and pass as before.
//! - **Fetch metadata** (B1): a request without `Origin` that a browser marks
//!   `Sec-Fetch-Site: cross-site` or `same-site` (a link, an `<img>`, a `no-cors` fetch) is
//!   refused too: it would call an action through `GET` without ever showing an `Origin`.
//! - **Host** (B2): on a server bound to a loopback address, a `Host` that is not a loopback
//!   name or address, nor listed in `allowHosts`, is refused. This defeats DNS rebinding,
//!   where a page at `evil.example` re-points its own name at 127.0.0.1 and so looks
//!   same-origin. A server bound to another address takes any `Host` (Docker service names,
//!   LAN names) and relies on its token.
//!
//! A refusal is 403 with an envelope (retcode 1403) whose message names the key to set. The
//! origin let through is put in the request's extensions as [`AllowedOrigin`], which the
//! CORS layer reflects (H7).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;

use crate::config::{Listener, is_loopback_name, normal_host};
use crate::envelope::Refusal;

/// The browser rules of one server, built once when it starts.
#[derive(Debug)]
pub(crate) struct Guard {
    server: String,
    /// `allowOrigins`, lower-cased, without a trailing `/`.
    origins: Vec<String>,
    any_origin: bool,
    /// Whether the server is bound to a loopback address, so that `Host` is checked.
    loopback: bool,
    /// `allowHosts`, lower-cased, IPv6 without brackets.
    hosts: Vec<String>,
    any_host: bool,
}

/// The `Origin` of a request that [`Guard::check`] let through; [`super::cors`] reflects it.
#[derive(Clone, Debug)]
pub(crate) struct AllowedOrigin(pub HeaderValue);

/// Why a request was refused. Values from the request are shown escaped (`{:?}`), so a header
/// cannot forge a log line.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error(
        "Origin {0:?} is not allowed on this server: add it to `allowOrigins` to let pages \
         from it call the API"
    )]
    Origin(String),
    #[error(
        "cross-site browser request (Sec-Fetch-Site: {0}) without an Origin refused: pages must \
         call the API with fetch() in cors mode from an origin listed in `allowOrigins`"
    )]
    CrossSite(String),
    #[error(
        "Host {0:?} is not a loopback name on this loopback-bound server (a DNS-rebinding \
         guard): add it to `allowHosts` if it is yours, e.g. a reverse proxy's name"
    )]
    Host(String),
}

impl Guard {
    pub(crate) fn new(config: &Listener) -> Self {
        let star = |list: &[String]| list.iter().any(|v| v == "*");
        Guard {
            server: config.name.clone(),
            origins: config
                .allow_origins
                .iter()
                .map(|o| normal_origin(o))
                .collect(),
            any_origin: star(&config.allow_origins),
            loopback: crate::config::binds_loopback(&config.host),
            hosts: config.allow_hosts.iter().map(|h| normal_host(h)).collect(),
            any_host: star(&config.allow_hosts),
        }
    }

    /// Checks a request's `Host`, `Origin` and `Sec-Fetch-Site`; returns the `Origin` it
    /// carried, if any, now known to be allowed.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, Refused> {
        let host = headers.get(header::HOST);
        if self.loopback
            && !self.any_host
            && let Some(host) = host
        {
            let text = String::from_utf8_lossy(host.as_bytes());
            let name = normal_host(host_name(&text));
            if !is_loopback_name(&name) && !self.hosts.contains(&name) {
                return Err(Refused::Host(text.into_owned()));
            }
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return match headers.get("sec-fetch-site").map(HeaderValue::as_bytes) {
                Some(site @ (b"cross-site" | b"same-site")) => Err(Refused::CrossSite(
                    String::from_utf8_lossy(site).into_owned(),
                )),
                _ => Ok(None),
            };
        };
        let text = String::from_utf8_lossy(origin.as_bytes());
        let normal = normal_origin(&text);
        let own = host.is_some_and(|host| {
            let authority = normal.split_once("://").map_or("", |(_, a)| a);
            authority.eq_ignore_ascii_case(&String::from_utf8_lossy(host.as_bytes()))
        });
        if own || self.any_origin || self.origins.contains(&normal) {
            Ok(Some(origin.clone()))
        } else {
            Err(Refused::Origin(text.into_owned()))
        }
    }

    /// The 403 a refusal gets (B3): an envelope naming the key to set.
    pub(crate) fn refuse(&self, refused: &Refused) -> Response {
        tracing::info!(server = %self.server, "browser request refused: {refused}");
        Refusal::Browser(refused.to_string()).into_response()
    }
}

/// The layer that applies a server's [`Guard`] before anything else sees the request.
pub(crate) async fn layer(
    State(guard): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    match guard.check(request.headers()) {
        Ok(origin) => {
            if let Some(origin) = origin {
                request.extensions_mut().insert(AllowedOrigin(origin));
            }
            next.run(request).await
        }
        Err(refused) => guard.refuse(&refused),
    }
}

/// `HTTP://Example.test:8080/` → `http://example.test:8080`.
fn normal_origin(origin: &str) -> String {
    let origin = origin.trim();
    origin
        .strip_suffix('/')
        .unwrap_or(origin)
        .to_ascii_lowercase()
}

/// A `Host` header without its port: `[::1]:3000` → `[::1]`, `localhost:3000` → `localhost`.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(host: &str, origins: &[&str], hosts: &[&str]) -> Guard {
        Guard::new(&Listener {
            host: host.to_owned(),
            allow_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allow_hosts: hosts.iter().map(|s| (*s).to_owned()).collect(),
            ..Listener::default()
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn b1_b2_origins_hosts_and_fetch_metadata() {
        let local = guard("127.0.0.1", &["http://localhost:5173/"], &["bot.example"]);
        let open = guard("0.0.0.0", &[], &[]);
        let ok = |g: &Guard, h: &[(&'static str, &str)]| g.check(&headers(h)).is_ok();
        // No Origin, a loopback Host: curl and every bot framework.
        assert!(ok(&local, &[("host", "127.0.0.1:3000")]));
        assert!(ok(&local, &[]));
        assert!(ok(&local, &[("host", "localhost:1")]));
        assert!(ok(&local, &[("host", "[::1]:3000")]));
        assert!(ok(&local, &[("host", "app.localhost")]));
        assert!(ok(&local, &[("host", "BOT.example:80")]));
        // DNS rebinding: a foreign name on a loopback server, with or without Origin.
        assert!(!ok(&local, &[("host", "evil.example:3000")]));
        assert!(!ok(
            &local,
            &[
                ("host", "evil.example:3000"),
                ("origin", "http://evil.example:3000")
            ]
        ));
        assert!(ok(&open, &[("host", "onebot:3000")]));
        // Origins: own, listed, other.
        let own = [
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ];
        assert!(ok(&local, &own));
        let listed = [
            ("host", "127.0.0.1:3000"),
            ("origin", "http://LOCALHOST:5173"),
        ];
        assert!(ok(&local, &listed));
        assert!(!ok(&local, &[("origin", "http://evil.example")]));
        assert!(!ok(&open, &[("host", "x:1"), ("origin", "null")]));
        assert!(ok(
            &guard("0.0.0.0", &["*"], &[]),
            &[("origin", "http://any.example")]
        ));
        // Fetch metadata without Origin.
        assert!(!ok(&open, &[("sec-fetch-site", "cross-site")]));
        assert!(!ok(&open, &[("sec-fetch-site", "same-site")]));
        assert!(ok(&open, &[("sec-fetch-site", "none")]));
        assert!(ok(&open, &[("sec-fetch-site", "same-origin")]));
    }

    #[test]
    fn b3_refusals_name_the_key_and_escape_the_value() {
        let local = guard("localhost", &[], &[]);
        let refused = local
            .check(&headers(&[("host", "a\tb")]))
            .expect_err("refused");
        let text = refused.to_string();
        assert!(
            text.contains("allowHosts") && text.contains(r"a\tb"),
            "{text}"
        );
        let refused = local
            .check(&headers(&[("origin", "http://e.example")]))
            .expect_err("refused");
        assert!(refused.to_string().contains("allowOrigins"));
    }
}
