//! A one-pass check of plain JSON objects, without building them: the fast path of the
//! `emit-event` check (SPEC P4). While no client is subscribed the event bus only has to tell
//! the plugin whether its event was valid, and building a JSON tree just to drop it was the
//! largest host cost of a plugin call that emits one event.
//!
//! Most events are plain JSON objects written by a serialiser, so [`plain_object_with_string`]
//! accepts only a strict subset of JSON it can vouch for in one pass over the bytes (no `\u`
//! escapes, no exponents, no integers long enough to leave `u64`, shallow nesting). It only
//! ever answers "certainly valid" or "not sure": anything else, every invalid text included,
//! is left to serde_json, so the answers and their messages are serde's either way.

/// Deepest nesting [`plain_object_with_string`] follows; serde_json's own limit is 128.
const PLAIN_DEPTH: usize = 64;

/// True only when `text` is certainly one JSON object (surrounded by JSON whitespace at
/// most) whose last top-level `key` is a string, written in the plain subset of JSON
/// described in the module doc. False means "not sure", never "invalid".
///
/// Keys are compared as written, so `key` must have no character JSON lets a text spell with
/// an escape the scan accepts (`"`, `\`, `/`, controls): `post_type` qualifies.
pub(crate) fn plain_object_with_string(text: &[u8], key: &str) -> bool {
    debug_assert!(
        !key.bytes()
            .any(|b| matches!(b, b'"' | b'\\' | b'/' | 0..=0x1f))
    );
    let mut scan = Scan {
        text,
        at: 0,
        key: key.as_bytes(),
    };
    scan.skip_space();
    if scan.peek() != Some(b'{') {
        return false;
    }
    let Some(key_is_string) = scan.object(1) else {
        return false;
    };
    scan.skip_space();
    key_is_string && scan.at == text.len()
}

struct Scan<'a> {
    text: &'a [u8],
    at: usize,
    /// The top-level key whose last value must be a string.
    key: &'a [u8],
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// An object starting at `{`; at depth 1, whether its last `key` is a string.
    fn object(&mut self, depth: usize) -> Option<bool> {
        if depth > PLAIN_DEPTH {
            return None;
        }
        self.at += 1;
        let mut key_is_string = false;
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(false);
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.skip_space();
            if self.peek() != Some(b':') {
                return None;
            }
            self.at += 1;
            self.skip_space();
            let is_string = self.peek() == Some(b'"');
            self.value(depth)?;
            if depth == 1 && key == self.key {
                key_is_string = is_string;
            }
            self.skip_space();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(key_is_string);
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > PLAIN_DEPTH {
            return None;
        }
        self.at += 1;
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip_space();
            self.value(depth)?;
            self.skip_space();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// One value at `depth` (the depth of the container holding it).
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.object(depth + 1).map(|_| ()),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-?(0|[1-9][0-9]{0,17})(\.[0-9]+)?`: always in range, however serde reads it.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let start = self.at;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.at - start > 18 {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            let fraction = self.at;
            self.digits();
            if self.at == fraction {
                return None;
            }
        }
        match self.peek() {
            Some(b'e' | b'E') => None,
            _ => Some(()),
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    /// A string starting at `"`, returning its raw content; `None` for any `\u` escape or a
    /// control character (serde decides those).
    fn string(&mut self) -> Option<&'a [u8]> {
        let text: &'a [u8] = self.text;
        let start = self.at + 1;
        let mut at = start;
        loop {
            // Eight bytes at a time, straight to the first `"`, `\\` or control character.
            let byte = match text.get(at..at + 8) {
                Some(chunk) => {
                    let special = special_bytes(u64::from_le_bytes(chunk.try_into().ok()?));
                    if special == 0 {
                        at += 8;
                        continue;
                    }
                    at += (special.trailing_zeros() / 8) as usize;
                    text[at]
                }
                None => match *text.get(at)? {
                    b'"' | b'\\' | 0..=0x1f => text[at],
                    _ => {
                        at += 1;
                        continue;
                    }
                },
            };
            match byte {
                b'"' => {
                    self.at = at + 1;
                    return Some(&text[start..at]);
                }
                b'\\' => match text.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                    _ => return None,
                },
                _ => return None,
            }
        }
    }
}

/// A mask whose lowest set bit is the high bit of the first byte of `word` (little-endian)
/// that is `"`, `\\` or a control character (below 0x20); zero when there is none. Bits above
/// the first such byte may be wrong (borrows), so only the lowest is used. These are the
/// classic "has zero byte" and "has byte less than n" tests (exact for n up to 128).
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    (zero(quote) | zero(backslash) | control) & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The fast pass's promise: what it accepts, serde_json reads as an object whose last
    /// top-level `post_type` is a string (`Value` keeps the last of repeated keys).
    fn serde_agrees(text: &str) -> bool {
        serde_json::from_str::<Value>(text)
            .is_ok_and(|v| v.is_object() && v["post_type"].is_string())
    }

    fn plainly_valid(text: &[u8]) -> bool {
        plain_object_with_string(text, "post_type")
    }

    const EVENTS: [&str; 4] = [
        r#"{"post_type":"message_sent","message_type":"private","sub_type":"friend","message_id":-1298810323,"user_id":10001,"target_id":12345678,"message":[{"type":"text","data":{"text":"Hello, \"世界\"\n"}}],"font":0,"sender":{"user_id":10001,"nickname":"mock"}}"#,
        r#" {"time": 1.5, "post_type" : "notice", "a": [true, false, null, [], {}, -0, 0.25]} "#,
        r#"{"post_type":1,"x":{"post_type":2},"post_type":"m"}"#,
        "{\"post_type\":\"m\",\"k\":\"a\\/b\\\\c\\tq\"}\r\n",
    ];

    #[test]
    fn plain_events_take_the_fast_pass() {
        for text in EVENTS {
            assert!(plainly_valid(text.as_bytes()), "{text}");
            assert!(serde_agrees(text), "{text}");
        }
    }

    #[test]
    fn the_fast_pass_leaves_doubtful_or_invalid_text_to_serde() {
        for text in [
            "",
            "{}",
            "[1]",
            r#"{"post_type":5}"#,
            r#"{"post_type":"m","post_type":null}"#,
            r#"{"x":{"post_type":"m"}}"#,
            r#"{"post_\u0074ype":"m"}"#,
            r#"{"post_type":"m","n":1e999}"#,
            r#"{"post_type":"m","n":1E2}"#,
            r#"{"post_type":"m","n":12345678901234567890123}"#,
            r#"{"post_type":"m","n":01}"#,
            r#"{"post_type":"m","n":1.}"#,
            r#"{"post_type":"m","n":-}"#,
            r#"{"post_type":"m","s":"\ud800"}"#,
            "{\"post_type\":\"m\",\"s\":\"\u{1}\"}",
            r#"{"post_type":"m",}"#,
            r#"{"post_type":"m"} x"#,
            r#"{"post_type":"m""#,
            r#"{"post_type":"m","a":[1,]}"#,
            r#"{"post_type":"m","a":tru}"#,
            "\u{feff}{\"post_type\":\"m\"}",
        ] {
            assert!(!plainly_valid(text.as_bytes()), "{text}");
        }
        let deep = format!(
            r#"{{"post_type":"m","a":{}{}}}"#,
            "[".repeat(PLAIN_DEPTH),
            "]".repeat(PLAIN_DEPTH)
        );
        assert!(!plainly_valid(deep.as_bytes()));
    }

    /// Every mutation of the sample events that the fast pass accepts, serde accepts too.
    #[test]
    fn the_fast_pass_never_accepts_what_serde_refuses() {
        const BYTES: &[u8] = b"{}[]\",:\\ -.0123456789eEtfnu\x01xa";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let base = EVENTS[(next() % 4) as usize].as_bytes();
            let mut text = base.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() % text.len() as u64) as usize;
                let byte = BYTES[(next() % BYTES.len() as u64) as usize];
                match next() % 3 {
                    0 => text[at] = byte,
                    1 => text.insert(at, byte),
                    _ => {
                        text.remove(at);
                    }
                }
            }
            let Ok(text) = String::from_utf8(text) else {
                continue;
            };
            if plainly_valid(text.as_bytes()) {
                accepted += 1;
                assert!(serde_agrees(&text), "{text}");
            }
        }
        assert!(
            accepted > 1000,
            "the mutations exercise the fast pass ({accepted})"
        );
    }

    #[test]
    fn special_bytes_are_found_in_any_lane() {
        for lane in 0..8 {
            for byte in 0..=255u8 {
                let mut bytes = [b'a'; 8];
                bytes[lane] = byte;
                let special = byte == b'"' || byte == b'\\' || byte < 0x20;
                let mask = special_bytes(u64::from_le_bytes(bytes));
                let first = (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize);
                assert_eq!(first, special.then_some(lane), "{byte:#x} at {lane}");
            }
        }
        let mut word = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..100_000 {
            word = word.rotate_left(17).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ 0x94d0_49bb;
            let first = word
                .to_le_bytes()
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            let mask = special_bytes(word);
            let got = (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize);
            assert_eq!(got, first, "{word:#x}");
        }
    }
}
