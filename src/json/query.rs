//! `application/x-www-form-urlencoded` pairs, the syntax of form bodies and of query strings
//! (SPEC H2, H3, H4), and of the `access_token` query parameter (H6, W2).
//!
//! One splitter and one percent-decoder, read two ways: [`pairs`] for params, which refuses a
//! name or value that is not UTF-8 once decoded (a plugin never receives text other than what
//! the client sent), and [`pairs_lossy`] for the token, where such bytes become U+FFFD and so
//! simply fail to match, as they did when the token was read with `serde_urlencoded`.
//!
//! The syntax, as in browsers and the `form_urlencoded` crate: `&`-separated, empty pieces
//! skipped, the first `=` splits name from value (none: the value is empty), `+` is a space,
//! `%XX` a byte, and a `%` not followed by two hex digits stays as it is.

/// A form or query pair that is not UTF-8 once percent-decoded; names the field when it can.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A field's name.
    #[error("a field name is not UTF-8 once percent-decoded")]
    Name,
    /// The value of the field named.
    #[error("the value of `{0}` is not UTF-8 once percent-decoded")]
    Value(String),
}

/// The pairs of a form body or query, in order, duplicates kept; refused when not UTF-8.
pub(crate) fn pairs(input: &[u8]) -> Result<Vec<(String, String)>, QueryError> {
    raw_pairs(input)
        .map(|(name, value)| {
            let name = String::from_utf8(name).map_err(|_| QueryError::Name)?;
            match String::from_utf8(value) {
                Ok(value) => Ok((name, value)),
                Err(_) => Err(QueryError::Value(name)),
            }
        })
        .collect()
}

/// The pairs of a query, in order, duplicates kept; bytes that are not UTF-8 become U+FFFD.
pub(crate) fn pairs_lossy(input: &str) -> impl Iterator<Item = (String, String)> + '_ {
    raw_pairs(input.as_bytes()).map(|(name, value)| (lossy(name), lossy(value)))
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Every non-empty `&`-separated piece, split at its first `=` and percent-decoded.
fn raw_pairs(input: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (percent_decode(&pair[..eq]), percent_decode(&pair[eq + 1..])),
            None => (percent_decode(pair), Vec::new()),
        })
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let byte = match input[i] {
            b'+' => b' ',
            b'%' => match (hex(input.get(i + 1)), hex(input.get(i + 2))) {
                (Some(high), Some(low)) => {
                    i += 2;
                    high << 4 | low
                }
                _ => b'%',
            },
            other => other,
        };
        out.push(byte);
        i += 1;
    }
    out
}

fn hex(byte: Option<&u8>) -> Option<u8> {
    char::from(*byte?)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn h3_syntax_is_form_urlencoded() {
        let got = pairs(b"a=1&&=empty&b&c=x=y&d=%26%3D&q=%E4%BD%A0+%2B&bad=%zz%4&a=2");
        let want = [
            ("a", "1"),
            ("", "empty"),
            ("b", ""),
            ("c", "x=y"),
            ("d", "&="),
            ("q", "你 +"),
            ("bad", "%zz%4"),
            ("a", "2"),
        ];
        assert_eq!(got, Ok(owned(&want)));
        assert_eq!(pairs(b""), Ok(Vec::new()));
    }

    #[test]
    fn h4_strict_pairs_refuse_what_is_not_utf8_naming_the_field() {
        assert_eq!(
            pairs(b"ok=1&message=%FF"),
            Err(QueryError::Value("message".into()))
        );
        assert_eq!(
            pairs(b"message=\xff"),
            Err(QueryError::Value("message".into()))
        );
        assert_eq!(pairs(b"%C3=1"), Err(QueryError::Name));
        assert_eq!(
            QueryError::Value("a".into()).to_string(),
            "the value of `a` is not UTF-8 once percent-decoded"
        );
    }

    /// H6: the token is read exactly as `serde_urlencoded` read it before: the same pairs
    /// where they are UTF-8, U+FFFD where they are not (so such a token never matches).
    #[test]
    fn h6_lossy_pairs_replace_what_is_not_utf8() {
        let got: Vec<_> = pairs_lossy("access_token=s3%63ret&x=%FF&%C3=&a+b=c%2Bd").collect();
        let want = [
            ("access_token", "s3cret"),
            ("x", "\u{FFFD}"),
            ("\u{FFFD}", ""),
            ("a b", "c+d"),
        ];
        assert_eq!(got, owned(&want));
    }
}
