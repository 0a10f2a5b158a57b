//! CQ codes (SPEC M2): any string parses without panicking, and what it parses to survives
//! format → parse unchanged. A parsed code has a word type and string values, and unescaping
//! never makes text longer than the input (every entity is longer than its character).
#![no_main]

use libfuzzer_sys::fuzz_target;
use onebot_host::message::{format_cq, parse_cq};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let segments = parse_cq(text);
    let mut text_len = 0;
    for segment in &segments {
        match segment.plain_text() {
            Some(plain) => {
                assert!(!plain.is_empty(), "no empty text segment");
                text_len += plain.len();
            }
            None => {
                let word = |s: &str| {
                    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                };
                assert!(word(&segment.kind), "type {:?}", segment.kind);
                for (key, value) in &segment.data {
                    assert!(word(key), "key {key:?}");
                    assert!(matches!(value, Value::String(_)), "values parse as strings");
                }
            }
        }
    }
    assert!(text_len <= text.len(), "unescaping never grows text");
    let formatted = format_cq(&segments);
    assert_eq!(
        parse_cq(&formatted),
        segments,
        "format then parse is lossless via {formatted:?}"
    );
});
