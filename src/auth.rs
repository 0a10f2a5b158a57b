//! The access token check (SPEC H6, W2), one function for HTTP and the WebSocket handshake.
//!
//! Accepted forms: `Authorization: Bearer <t>`, `Authorization: Token <t>` (Koishi),
//! a bare `Authorization: <t>`, or the `access_token` query parameter; when the query has
//! one, it is the one checked. Both sides are hashed before a constant-time comparison, so
//! neither the content nor the length of the token leaks through timing. The token is never
//! logged: errors here carry no value.

use std::borrow::Cow;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::json::query;

/// A missing or wrong token. Deliberately says nothing about what was sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Denied;

/// A server's configured token ([`Secret`]), hashed once when the server starts rather than on
/// every request. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct Token(Option<[u8; 32]>);

impl Token {
    /// An empty `expected` means no token: every request passes.
    pub fn new(expected: &Secret) -> Self {
        let expected = expected.expose();
        Token((!expected.is_empty()).then(|| Sha256::digest(expected.as_bytes()).into()))
    }

    /// Checks a request's credentials.
    pub fn check(&self, headers: &HeaderMap, query: Option<&str>) -> Result<(), Denied> {
        let Some(expected) = &self.0 else {
            return Ok(());
        };
        let presented = match query_token(query) {
            Some(token) => Some(Cow::Owned(token)),
            None => header_token(headers).map(Cow::Borrowed),
        };
        match presented {
            Some(token) if Sha256::digest(token.as_bytes()).ct_eq(expected).into() => Ok(()),
            _ => Err(Denied),
        }
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The last `access_token` in the query. Read lossily ([`query::pairs_lossy`]): a token that
/// is not UTF-8 cannot match, and bytes elsewhere in the query must not hide the token.
fn query_token(query: Option<&str>) -> Option<String> {
    query::pairs_lossy(query?)
        .filter(|(k, _)| k == "access_token")
        .last()
        .map(|(_, v)| v)
}

fn header_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") =>
        {
            rest.trim()
        }
        _ => value,
    };
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(AUTHORIZATION, HeaderValue::from_str(a).expect("header"));
        }
        h
    }

    /// Checks credentials against `expected` as a server configured with it would.
    fn check(expected: &str, headers: &HeaderMap, query: Option<&str>) -> Result<(), Denied> {
        Token::new(&Secret::from(expected)).check(headers, query)
    }

    #[test]
    fn h6_accepted_and_refused_forms() {
        let cases: &[(Option<&str>, Option<&str>, bool)] = &[
            (Some("Bearer s3cret"), None, true),
            (Some("bearer s3cret"), None, true),
            (Some("Token s3cret"), None, true),
            (Some("s3cret"), None, true),
            (None, Some("access_token=s3cret"), true),
            (None, Some("a=1&access_token=s3%63ret"), true),
            (None, Some("access_token=wrong&access_token=s3cret"), true),
            (None, Some("a=%FF&access_token=s3cret"), true),
            (None, Some("access_token=s3cret%FF"), false),
            (None, None, false),
            (Some("Bearer wrong"), None, false),
            (Some("Bearer s3cret"), Some("access_token=wrong"), false),
            (Some("Bearer wrong"), Some("access_token=s3cret"), true),
            (Some("Basic s3cret"), None, false),
            (Some(""), None, false),
        ];
        for (auth, query, ok) in cases {
            let got = check("s3cret", &headers(*auth), *query).is_ok();
            assert_eq!(got, *ok, "auth={auth:?} query={query:?}");
        }
    }

    #[test]
    fn h6_empty_token_means_open() {
        assert!(check("", &headers(None), None).is_ok());
    }
}
