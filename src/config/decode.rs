//! JSON5 text → a raw serde struct, with the positions and key paths an operator needs
//! (SPEC C1: JSON5, unknown keys warned; C5: file, line/column or key path, what was expected;
//! S1: never the value of a token).
//!
//! First a depth guard: json5 recurses once per `{`/`[` with no limit of its own, so a file
//! nested 100,000 deep would overflow the stack; deeper than [`MAX_DEPTH`] is a syntax error
//! at the bracket that goes too deep (a real config nests 4 levels). Then three passes over
//! the text, because no single one gives everything:
//! 1. a syntax-only pass (`IgnoredAny`), so a syntax error is reported as one, with its position,
//!    even when a type error comes earlier in the file;
//! 2. the typed pass straight from the text, wrapped in `serde_ignored` (unknown keys, in file
//!    order) and `serde_path_to_error` (the key path); json5 1.x attaches the line and column;
//! 3. only when pass 2 fails inside json5 itself: json5 parses by the requested type, so a string
//!    where a number belongs reads "expected number". Re-running over a `serde_json::Value`
//!    yields serde's fuller `invalid type: string "abc", expected u16` for the same key.

use std::fmt::{self, Display, Write as _};
use std::path::Path;

use serde::de::{DeserializeOwned, IgnoredAny};

use super::{ConfigError, Location};
use crate::json::MAX_DEPTH;

/// Decodes `text` as a `T`, returning it with one warning per unknown key.
pub(crate) fn decode<T: DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<(T, Vec<String>), ConfigError> {
    if let Some(offset) = crate::json::too_deep(text.as_bytes(), MAX_DEPTH) {
        return Err(ConfigError::Syntax {
            path: path.to_owned(),
            // The offset is at an ASCII bracket, so a char boundary.
            at: location(json5::Position::from_offset(offset, text)),
            message: format!("nested deeper than {MAX_DEPTH} levels"),
        });
    }
    if let Err(error) = json5::from_str::<IgnoredAny>(text) {
        return Err(ConfigError::Syntax {
            path: path.to_owned(),
            // Only running out of text outside any `{`/`[` comes without a position.
            at: location(error.position().unwrap_or_else(|| end_of(text))),
            message: syntax_message(&error),
        });
    }

    let mut unknown = Vec::new();
    let mut record = |ignored: serde_ignored::Path<'_>| unknown.push(KeyPath(&ignored).to_string());
    let mut deserializer = json5::Deserializer::from_str(text);
    let typed = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        &mut deserializer,
        &mut record,
    ));
    match typed {
        Ok(value) => {
            let warnings = unknown
                .into_iter()
                .map(|key| format!("{}: unknown key `{key}` ignored", path.display()))
                .collect();
            Ok((value, warnings))
        }
        Err(error) => {
            let key = key_or_top(&error.path().to_string());
            let inner = error.into_inner();
            let message = if inner.code().is_some() {
                serde_message::<T>(text, &key).unwrap_or_else(|| message_of(&inner))
            } else {
                message_of(&inner)
            };
            let message = without_secret(&key, message);
            Err(ConfigError::Type {
                path: path.to_owned(),
                at: inner.position().map(location),
                key,
                message,
            })
        }
    }
}

/// C5, H6: serde's wording quotes the bad value (``invalid type: integer `12345678` ``); under
/// a `token` key that value is the secret, so only what was expected is kept.
fn without_secret(key: &str, message: String) -> String {
    if key != "token" && !key.ends_with(".token") {
        return message;
    }
    let expected = message
        .rsplit_once("expected ")
        .map_or("a string", |(_, expected)| expected);
    format!("invalid value (not shown: this key holds a secret), expected {expected}")
}

/// Pass 3: serde's own wording for the error at `key`, if the `Value` route fails there too.
fn serde_message<T: DeserializeOwned>(text: &str, key: &str) -> Option<String> {
    let value: serde_json::Value = json5::from_str(text).ok()?;
    match serde_path_to_error::deserialize::<_, T>(value) {
        Err(error) if key_or_top(&error.path().to_string()) == key => {
            Some(error.into_inner().to_string())
        }
        _ => None,
    }
}

/// json5 reports running out of text at the innermost `{` or `[` still open, or nowhere when
/// none is: say which, since "EOF parsing object" at line 3 alone puzzles.
fn syntax_message(error: &json5::Error) -> String {
    use json5::ErrorCode as Code;
    let eof = |code| {
        matches!(
            code,
            Code::EofParsingArray
                | Code::EofParsingBool
                | Code::EofParsingComment
                | Code::EofParsingEscapeSequence
                | Code::EofParsingIdentifier
                | Code::EofParsingNull
                | Code::EofParsingNumber
                | Code::EofParsingObject
                | Code::EofParsingString
                | Code::EofParsingValue
        )
    };
    match (error.code(), error.position()) {
        // Empty, or only comments.
        (Some(Code::EofParsingValue), None) => "no value; expected an object `{ … }`".to_owned(),
        (Some(code), Some(_)) if eof(code) => {
            format!("the file ends before the object or array opened here is closed ({code})")
        }
        (Some(code), None) if eof(code) => format!("unexpected end of file ({code})"),
        _ => message_of(error),
    }
}

/// json5's text without its " at line L column C" suffix: the position is reported separately,
/// in the `file:line:column:` form editors and terminals can jump to.
fn message_of(error: &json5::Error) -> String {
    match error.code() {
        // The typed pass asks for a `{` where the file has something else: name the type.
        Some(json5::ErrorCode::ExpectedOpeningBrace) => return "expected an object".to_owned(),
        Some(json5::ErrorCode::ExpectedOpeningBracket) => return "expected an array".to_owned(),
        Some(code) => return code.to_string(),
        None => {}
    }
    let full = error.to_string();
    match error.position() {
        Some(position) => full
            .strip_suffix(&format!(" at {position}"))
            .map_or_else(|| full.clone(), str::to_owned),
        None => full,
    }
}

/// serde_path_to_error writes the root as "."; say it in words.
fn key_or_top(key: &str) -> String {
    if key == "." {
        "top level".to_owned()
    } else {
        key.to_owned()
    }
}

fn end_of(text: &str) -> json5::Position {
    json5::Position::from_offset(text.len(), text)
}

/// json5 counts from 0; editors count from 1.
fn location(position: json5::Position) -> Location {
    Location {
        line: position.line + 1,
        column: position.column + 1,
    }
}

/// Renders a serde_ignored path the way serde_path_to_error does (`network.httpServers[0].x`),
/// so warnings and errors name keys alike; serde_ignored's own Display writes `httpServers.0`.
struct KeyPath<'a>(&'a serde_ignored::Path<'a>);

impl Display for KeyPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use serde_ignored::Path;
        match self.0 {
            Path::Root => Ok(()),
            Path::Seq { parent, index } => write!(f, "{}[{index}]", KeyPath(parent)),
            Path::Map { parent, key } => {
                let parent = KeyPath(parent).to_string();
                if !parent.is_empty() {
                    f.write_str(&parent)?;
                    f.write_char('.')?;
                }
                f.write_str(key)
            }
            // Option and newtype wrappers are not keys in the file.
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => KeyPath(parent).fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    //! C1 (unknown keys, in file order, with their path) and C5 (positions, key paths, what
    //! was expected), tested on the main file's raw shape.

    use std::path::Path;

    use super::super::raw::RawFile;
    use super::decode;

    fn refused(text: &str) -> String {
        match decode::<RawFile>(text, Path::new("c.json5")) {
            Ok(_) => panic!("accepted {text}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn c1_unknown_keys_are_warned_once_each_with_their_path() {
        let text = "{ network: { httpServers: [ {}, { reportSelf: false, x: { y: 1 } } ] },
                      bot: { uin: 1 }, plugins: { cacheDir: null, timeout: 3 }, extra: [1, 2] }";
        let (_, warnings) = decode::<RawFile>(text, Path::new("c.json5")).expect("valid");
        let keys: Vec<&str> = warnings
            .iter()
            .filter_map(|w| {
                w.strip_prefix("c.json5: unknown key `")?
                    .strip_suffix("` ignored")
            })
            .collect();
        let expected = [
            "network.httpServers[1].reportSelf",
            "network.httpServers[1].x",
            "bot.uin",
            "plugins.timeout",
            "extra",
        ];
        assert_eq!(keys, expected);
    }

    #[test]
    #[rustfmt::skip]
    fn c5_syntax_errors_give_file_line_and_column() {
        let cases = [
            ("{ network: { httpServers: [ {}\n   bot: 1 } }", "2:4: expected comma"),
            ("{ a: 1, b }", "1:11: expected colon"),
            ("{}\n}", "2:1: trailing characters"),
            ("{ \"a\": 'x\n' }", "1:10: line terminator in string"),
            ("{\n  network: { httpServers: [] \n",
             "2:12: the file ends before the object or array opened here is closed \
              (EOF parsing object)"),
            ("\"abc", "1:5: unexpected end of file (EOF parsing string)"),
            ("", "1:1: no value; expected an object `{ … }`"),
            ("// only a comment\n", "2:1: no value; expected an object `{ … }`"),
            // A syntax error wins over an earlier type error: the file is not JSON5 at all.
            ("{ bot: { selfId: 'x' }, plugins: { dir: } }", "1:41: expected value"),
        ];
        for (text, expected) in cases {
            assert_eq!(refused(text), format!("c.json5:{expected}"), "{text:?}");
        }
    }

    #[test]
    fn c5_deep_nesting_is_a_syntax_error_not_a_stack_overflow() {
        // 100,000 levels, as arrays, objects and behind a comment json5 ends at `\r`.
        let arrays = format!("{{ extra: {} }}", "[".repeat(100_000));
        assert_eq!(
            refused(&arrays),
            "c.json5:1:137: nested deeper than 128 levels"
        );
        let objects = format!("{{\n{}", "a: {".repeat(100_000));
        assert_eq!(
            refused(&objects),
            "c.json5:2:512: nested deeper than 128 levels"
        );
        let hidden = format!("{{ a: // x\r{}", "[".repeat(100_000));
        assert_eq!(
            refused(&hidden),
            "c.json5:2:128: nested deeper than 128 levels"
        );
        // At the limit it is only an unknown key.
        let deep_ok = format!("{{ x: {}{} }}", "[".repeat(127), "]".repeat(127));
        assert!(decode::<RawFile>(&deep_ok, Path::new("c.json5")).is_ok());
    }

    #[test]
    #[rustfmt::skip]
    fn c5_type_errors_give_key_path_and_what_was_expected() {
        let server = |s: &str| format!("{{ network: {{ httpServers: [{s}] }} }}");
        let cases = [
            (server(r#"{}, { port: "abc" }"#),
             r#"1:40: network.httpServers[1].port: invalid type: string "abc", expected u16"#),
            (server("{ port: 70000 }"),
             "1:36: network.httpServers[0].port: invalid value: integer `70000`, expected u16"),
            (server("{ enable: 'yes' }"),
             r#"1:38: network.httpServers[0].enable: invalid type: string "yes", expected a boolean"#),
            (server("{ messagePostFormat: 'xml' }"),
             "1:49: network.httpServers[0].messagePostFormat: unknown variant `xml`, \
              expected `array` or `string`"),
            (server("{ heartInterval: -5 }"),
             "1:45: network.httpServers[0].heartInterval: invalid value: integer `-5`, expected u64"),
            (server("{ port: 1, port: 2 }"), "1:28: network.httpServers[0]: duplicate field `port`"),
            ("{ network: [] }".into(), "1:12: network: expected an object"),
            ("[]".into(), "1:1: top level: expected an object"),
            ("{ bot: { selfId: '123' } }".into(),
             r#"1:18: bot.selfId: invalid type: string "123", expected i64"#),
            ("{ plugins: { dir: null } }".into(),
             "1:19: plugins.dir: invalid type: null, expected path string"),
        ];
        for (text, expected) in cases {
            assert_eq!(refused(&text), format!("c.json5:{expected}"), "{text}");
        }
    }
}
