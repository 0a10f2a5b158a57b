//! A value the operator keeps secret: every `token`, and every plugin config value (which may
//! come from a `${VAR}`) (SPEC H6, S1, P12).
//!
//! A type rather than a `String` so that no config struct needs a hand-written `Debug` to keep
//! it out of logs: its `Debug` prints `<redacted>`, and it has no `Display` and no `Serialize`,
//! so it cannot reach a log line, a JSON page or an error message by accident. Code that needs
//! the value says so with [`Secret::expose`].

use std::fmt;

use serde::Deserialize;

/// A secret string. Read from the config like a `String`; shown as `<redacted>` (or `""` when
/// empty, so a log still tells "no token" from "a token").
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for the one place that uses it (a hash, a header, a plugin's store).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty: for a token, that no token is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.0.is_empty() { "" } else { "<redacted>" };
        fmt::Debug::fmt(shown, f)
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn h6_debug_never_shows_the_value() {
        assert_eq!(format!("{:?}", Secret::from("s3cret")), "\"<redacted>\"");
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
        assert_eq!(Secret::from("s3cret").expose(), "s3cret");
    }

    #[test]
    fn reads_like_a_string() {
        let secret: Secret = serde_json::from_str("\"abc\"").expect("a string");
        assert_eq!(secret.expose(), "abc");
        assert!(serde_json::from_str::<Secret>("1").is_err());
    }
}
