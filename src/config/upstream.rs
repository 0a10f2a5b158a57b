//! The `upstream` section (issue 24, SPEC G1): the OneBot 11 implementation the host sits in
//! front of (NapCat's `websocketServers` entry, or another onebot-host). Its own file so the
//! other sections' validation is untouched.
//!
//! `url` must be a `ws://` URL with a host ([`RemoteUrl`]: the host dials it plainly; a TLS
//! upstream sits on the same machine or behind a tunnel); `token` may name `${VAR}`s, resolved
//! at load like a plugin's config values, and is never printed (it is a [`Secret`]; the URL is
//! shown without query and user info).

use std::path::Path;

use serde::Deserialize;

use super::remote_url::{RemoteUrl, Scheme};
use super::{ConfigError, Secret};

/// How long a client's forwarded call may wait for the upstream's answer, unless
/// `upstream.timeoutMs` says otherwise (a plugin's nested call has its caller's deadline).
pub(crate) const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 30_000;

/// `upstream` as written.
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawUpstream {
    pub(super) url: String,
    pub(super) token: Secret,
    pub(super) timeout_ms: u64,
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

/// The validated `upstream` section (G1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Upstream {
    /// A `ws://` URL with a host; what is dialled. Logs and pages show [`RemoteUrl::shown`].
    pub(crate) url: RemoteUrl,
    /// Sent as `Authorization: Bearer <token>`; empty sends none. `${VAR}`s resolved.
    pub(crate) token: Secret,
    /// The longest a client's forwarded call waits for the answer.
    pub(crate) timeout_ms: u64,
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
    let url = RemoteUrl::parse(&raw.url, Scheme::Ws).map_err(|m| invalid("url", m))?;
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
        url,
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
        assert_eq!(up.url.as_str(), "ws://127.0.0.1:3001");
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
}
