//! A URL the host connects to: `httpClients[].url`, `websocketClients[].url` and `upstream.url`
//! (SPEC C7, R1, RW1, G1, G4).
//!
//! Parsed once, at load: a URL that is not one, has no host, or has another scheme is a config
//! error naming its key, so the host refuses to start (C5) instead of finding out when it first
//! dials. The host connects in plain text only (a TLS endpoint sits behind a local proxy or a
//! tunnel), so `https://` and `wss://` are refused with that advice.
//!
//! A URL may carry a secret (`?access_token=…`, `user:password@`): `Debug` and [`RemoteUrl::shown`]
//! drop the query and the user info, and the messages here never quote the URL.

use std::fmt;

use axum::http::Uri;

/// The scheme an endpoint must have, with the TLS one it refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scheme {
    /// `httpClients`: events are POSTed.
    Http,
    /// `websocketClients` and `upstream`: dialled as a WebSocket.
    Ws,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Ws => "ws",
        }
    }

    fn tls(self) -> &'static str {
        match self {
            Scheme::Http => "https",
            Scheme::Ws => "wss",
        }
    }

    /// What the messages suggest writing.
    fn example(self) -> &'static str {
        match self {
            Scheme::Http => "\"http://127.0.0.1:8080/onebot\"",
            Scheme::Ws => "\"ws://127.0.0.1:3001\"",
        }
    }
}

/// A checked URL: the text as written (what is dialled), its parts, and the form logs and pages
/// show.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RemoteUrl {
    text: String,
    uri: Uri,
    shown: String,
}

impl RemoteUrl {
    /// Checks `text` as a URL of `scheme` with a host; the error is the message for its key.
    pub(super) fn parse(text: &str, scheme: Scheme) -> Result<RemoteUrl, String> {
        let example = scheme.example();
        if text.is_empty() {
            return Err(format!("empty; expected a URL such as {example}"));
        }
        let uri = text
            .parse::<Uri>()
            .map_err(|e| format!("not a URL ({e}); expected a URL such as {example}"))?;
        let (name, tls) = (scheme.name(), scheme.tls());
        match uri.scheme_str() {
            Some(given) if given == name => {}
            Some(given) if given == tls => {
                return Err(format!(
                    "{tls}:// is not supported; the host connects over plain {name}://, so put a \
                     local TLS proxy or a tunnel in front"
                ));
            }
            _ => {
                let article = if scheme == Scheme::Http { "an" } else { "a" };
                return Err(format!(
                    "not {article} {name}:// URL; expected a URL such as {example}"
                ));
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(format!("has no host; expected a URL such as {example}"));
        }
        // `Uri` accepts a port it cannot read as a number and then reports none, so the
        // connection would silently go to the scheme's default port.
        let written_port = (uri.authority().map(|a| a.as_str()))
            .and_then(|authority| authority.rsplit_once(':'))
            .map(|(_, port)| port)
            .filter(|port| !port.is_empty() && !port.contains(']'));
        if written_port.is_some() && uri.port_u16().is_none() {
            return Err(format!(
                "its port is not a number from 0 to 65535; expected a URL such as {example}"
            ));
        }
        let shown = format!(
            "{name}://{}{}{}",
            uri.host().unwrap_or_default(),
            uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default(),
            uri.path()
        );
        Ok(RemoteUrl {
            text: text.to_owned(),
            uri,
            shown,
        })
    }

    /// The URL as written, query included: what is dialled.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL, for an HTTP client.
    pub(crate) fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The URL as logs, `GET /` and the dashboard show it: scheme, host, port and path; no query
    /// (`?access_token=`) and no user info (G4).
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }
}

impl fmt::Debug for RemoteUrl {
    /// The shown form: a URL's query or user info may hold a secret (H6).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shown, f)
    }
}

#[cfg(test)]
mod tests {
    use super::{RemoteUrl, Scheme};

    /// C7: each kind of bad URL gets its own message; none quotes the URL.
    #[test]
    fn c7_bad_urls_are_refused_with_what_to_write() {
        let cases = [
            (
                "",
                Scheme::Ws,
                "empty; expected a URL such as \"ws://127.0.0.1:3001\"",
            ),
            ("ws://a b", Scheme::Ws, "not a URL ("),
            ("http://x", Scheme::Ws, "not a ws:// URL"),
            ("127.0.0.1:3001", Scheme::Ws, "not a ws:// URL"),
            ("wss://x", Scheme::Ws, "wss:// is not supported"),
            ("https://x", Scheme::Http, "https:// is not supported"),
            ("ws://x", Scheme::Http, "not an http:// URL"),
            ("/onebot", Scheme::Http, "not an http:// URL"),
            (
                "http:///onebot?access_token=s3cret",
                Scheme::Http,
                "not a URL",
            ),
            ("ws://:3001/?access_token=s3cret", Scheme::Ws, "has no host"),
            ("http://user:s3cret@:8080", Scheme::Http, "has no host"),
            ("http://x:99999", Scheme::Http, "its port is not a number"),
        ];
        for (text, scheme, expected) in cases {
            let error = RemoteUrl::parse(text, scheme).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("s3cret"), "{text}: {error}");
        }
    }

    /// G4: the shown form and `Debug` never carry a query token or user info.
    #[test]
    fn g4_shown_url_has_no_secrets() {
        let url = "ws://user:pw@127.0.0.1:3001/onebot?access_token=s3cret";
        let endpoint = RemoteUrl::parse(url, Scheme::Ws).expect("valid");
        assert_eq!(endpoint.shown(), "ws://127.0.0.1:3001/onebot");
        assert_eq!(format!("{endpoint:?}"), "\"ws://127.0.0.1:3001/onebot\"");
        assert_eq!(endpoint.as_str(), url);
        let endpoint = RemoteUrl::parse("http://[::1]:8080", Scheme::Http).expect("valid");
        assert_eq!(endpoint.shown(), "http://[::1]:8080/");
    }
}
