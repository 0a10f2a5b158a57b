//! The `upstream` section (issue 24, SPEC G1): the OneBot 11 implementation the host sits in
//! front of (NapCat's `websocketServers` entry, or another onebot-host). Its own file so the
//! other sections' validation is untouched.
//!
//! `url` must be a `ws://` URL with a host (the host dials it plainly; a TLS upstream sits on
//! the same machine or behind a tunnel); `token` may name `${VAR}`s, resolved at load like a
//! plugin's config values, and is never printed (`Debug` hides it, [`Upstream::shown_url`]
//! drops any query and user info from the URL).

use std::fmt;
use std::path::Path;

use axum::http::Uri;
use serde::Deserialize;

use super::{ConfigError, Secret};

/// How long a client's forwarded call may wait for the upstream's answer, unless
/// `upstream.timeoutMs` says otherwise (a plugin's nested call has its caller's deadline).
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 30_000;

/// `upstream` as written. No `Debug`: it holds the token.
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawUpstream {
    pub url: String,
    pub token: Secret,
    pub timeout_ms: u64,
}

impl Default for RawUpstream {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: Secret::default(),
            timeout_ms: DEFAULT_UPSTREAM_TIMEOUT_MS,
        }
    }
}

/// The validated `upstream` section (G1). `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The URL as written (it is what is dialled).
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`; empty sends none. `${VAR}`s resolved.
    pub token: Secret,
    /// The longest a client's forwarded call waits for the answer.
    pub timeout_ms: u64,
}

impl Upstream {
    /// The URL as logs, `GET /` and `onebot-host plugins` show it: scheme, host, port and
    /// path; no query (`?access_token=`) and no user info.
    pub fn shown_url(&self) -> String {
        shown(&self.url)
    }
}

/// A URL without its query and user info, which may hold a token: what logs and pages show.
pub fn shown(url: &str) -> String {
    let Ok(uri) = url.parse::<Uri>() else {
        return String::from("(invalid URL)");
    };
    let scheme = uri.scheme_str().unwrap_or("ws");
    let host = uri.host().unwrap_or("");
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{host}{port}{}", uri.path())
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("url", &self.shown_url())
            .field("token", &self.token)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// G1: checks the section read from `path`, resolving `${VAR}` in the token with `env`.
pub(super) fn validate(
    raw: RawUpstream,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Upstream, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key: format!("upstream.{key}"),
        message,
    };
    if raw.url.is_empty() {
        return Err(invalid(
            "url",
            "empty; expected the upstream's WebSocket address, e.g. \"ws://127.0.0.1:3001\""
                .to_owned(),
        ));
    }
    let uri = raw.url.parse::<Uri>().map_err(|e| {
        invalid(
            "url",
            format!(
                "{:?} is not a URL ({e}); expected e.g. \"ws://127.0.0.1:3001\"",
                shown(&raw.url)
            ),
        )
    })?;
    match uri.scheme_str() {
        Some("ws") => {}
        Some("wss") => {
            return Err(invalid(
                "url",
                "wss:// is not supported; dial the upstream over ws:// on the same machine or \
                 through a tunnel"
                    .to_owned(),
            ));
        }
        _ => {
            return Err(invalid(
                "url",
                format!(
                    "{:?} is not a ws:// URL; expected e.g. \"ws://127.0.0.1:3001\"",
                    shown(&raw.url)
                ),
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid(
            "url",
            "has no host; expected e.g. \"ws://127.0.0.1:3001\"".to_owned(),
        ));
    }
    let token = super::grants::expand(raw.token.expose(), env).map_err(|m| invalid("token", m))?;
    if !(1..=super::MILLIS_LIMIT).contains(&raw.timeout_ms) {
        let limit = super::MILLIS_LIMIT;
        let got = raw.timeout_ms;
        return Err(invalid(
            "timeoutMs",
            format!("expected 1 to {limit} ms, got {got}"),
        ));
    }
    Ok(Upstream {
        url: raw.url,
        token: token.into(),
        timeout_ms: raw.timeout_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "NAPCAT_TOKEN").then(|| "s3cret".to_owned())
    }

    fn run(url: &str, token: &str) -> Result<Upstream, String> {
        let raw = RawUpstream {
            url: url.to_owned(),
            token: token.into(),
            timeout_ms: DEFAULT_UPSTREAM_TIMEOUT_MS,
        };
        validate(raw, Path::new("/c/onebot.json5"), &env).map_err(|e| e.to_string())
    }

    /// G1: a good section is kept; the token's `${VAR}` is resolved.
    #[test]
    fn g1_good_section_resolves_the_token() {
        let up = run("ws://127.0.0.1:3001", "${NAPCAT_TOKEN}").expect("valid");
        assert_eq!(up.url, "ws://127.0.0.1:3001");
        assert_eq!(up.token.expose(), "s3cret");
        assert!(
            !format!("{up:?}").contains("s3cret"),
            "Debug hides the token"
        );
    }

    /// G1: each bad value is refused with a message naming the key and what to write.
    #[test]
    fn g1_bad_values_are_refused_with_what_to_fix() {
        let cases = [
            ("", "", "upstream.url: empty"),
            ("http://127.0.0.1:3001", "", "not a ws:// URL"),
            ("wss://example.com", "", "wss:// is not supported"),
            ("ws://", "", "upstream.url"),
            ("127.0.0.1:3001", "", "not a ws:// URL"),
            (
                "ws://127.0.0.1:3001",
                "${MISSING}",
                "upstream.token: environment variable MISSING",
            ),
        ];
        for (url, token, expected) in cases {
            let error = run(url, token).expect_err(url);
            assert!(error.contains(expected), "{url:?}: {error}");
            assert!(error.starts_with("/c/onebot.json5"), "{error}");
        }
    }

    /// G4: the URL shown never carries a query token or user info.
    #[test]
    fn g4_shown_url_has_no_secrets() {
        let up = Upstream {
            url: "ws://user:pw@127.0.0.1:3001/onebot?access_token=s3cret".to_owned(),
            token: Secret::default(),
            timeout_ms: 1,
        };
        assert_eq!(up.shown_url(), "ws://127.0.0.1:3001/onebot");
    }
}
