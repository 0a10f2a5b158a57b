//! One log record, one line (issue 20 item 6, SPEC S3): control characters in what reaches
//! the log are escaped, so text a client or a plugin chose (an action name in a WebSocket
//! frame, a plugin's `log` message or output) cannot forge log lines or drive the terminal.
//!
//! Applied to each formatted record as the log writer receives it, so every field of every
//! record is covered, whoever logged it. Escaped: every C0 control character but the record's
//! final newline (`\n` → `\n` as two characters, `\r`, `\t` likewise, others `\x1b`), DEL,
//! the C1 controls (U+0080–U+009F) and the Unicode line and paragraph separators (U+2028,
//! U+2029), which some viewers break lines at. With colours on (a terminal), the formatter's
//! own colour codes (`ESC [ digits ; … m`) are kept; any other escape sequence is escaped.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `record` (one formatted log record, ending in `\n`) with control characters escaped;
/// `ansi`: colour codes are the formatter's and are kept.
pub(crate) fn escape(record: &[u8], ansi: bool) -> Cow<'_, [u8]> {
    let body = record.strip_suffix(b"\n").unwrap_or(record);
    if !body.iter().any(|&b| suspicious(b)) {
        return Cow::Borrowed(record);
    }
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '\u{1b}'
            && ansi
            && let Some(len) = colour_code(&text[at..])
        {
            out.push_str(&text[at..at + len]);
            // Skip the rest of the code.
            while chars.peek().is_some_and(|(next, _)| *next < at + len) {
                chars.next();
            }
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    let mut bytes = out.into_bytes();
    if record.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    Cow::Owned(bytes)
}

/// A byte that may start something to escape: a C0 control, DEL, the lead byte of a C1
/// control (U+0080–U+009F are `C2 80`–`C2 9F`) or of U+2028/U+2029 (`E2 80 A8`/`A9`). A false
/// alarm (other characters with these lead bytes) only costs the slow path.
fn suspicious(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f || byte == 0xc2 || byte == 0xe2
}

/// The length of a colour code (SGR: `ESC [`, digits and `;`, `m`) at the start of `text`.
fn colour_code(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("\u{1b}[")?;
    let params = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (rest.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

#[cfg(test)]
mod tests {
    use super::escape;

    fn escaped(record: &str, ansi: bool) -> String {
        String::from_utf8(escape(record.as_bytes(), ansi).into_owned()).expect("UTF-8")
    }

    #[test]
    fn s3_control_characters_are_escaped_but_the_final_newline() {
        let cases = [
            ("plain line\n", "plain line\n"),
            ("no newline", "no newline"),
            ("héllo ✓ 中文\n", "héllo ✓ 中文\n"),
            (
                "x\n2026-01-01T00:00:00Z ERROR forged\n",
                "x\\n2026-01-01T00:00:00Z ERROR forged\n",
            ),
            ("a\rb\tc\n", "a\\rb\\tc\n"),
            (
                "bell\u{7} del\u{7f} esc\u{1b}[2J\n",
                "bell\\u{7} del\\u{7f} esc\\u{1b}[2J\n",
            ),
            (
                "nel\u{85} ls\u{2028} ps\u{2029}\n",
                "nel\\u{85} ls\\u{2028} ps\\u{2029}\n",
            ),
        ];
        for (record, expected) in cases {
            assert_eq!(escaped(record, false), expected, "{record:?}");
        }
    }

    #[test]
    fn s3_with_colours_only_colour_codes_stay() {
        let record = "\u{1b}[2m2026\u{1b}[0m \u{1b}[33mWARN\u{1b}[0m x\u{1b}]0;title\u{7}\n";
        assert_eq!(
            escaped(record, true),
            "\u{1b}[2m2026\u{1b}[0m \u{1b}[33mWARN\u{1b}[0m x\\u{1b}]0;title\\u{7}\n"
        );
        // Without colours every ESC is escaped.
        assert!(!escaped(record, false).contains('\u{1b}'));
    }
}
