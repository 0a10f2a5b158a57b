//! CQ string ↔ segments (SPEC M2).
//!
//! The grammar accepted, over bytes (every delimiter is ASCII, so slicing at one is always a
//! char boundary):
//!
//! ```text
//! code  = "[CQ:" word { "," word "=" value } "]"
//! word  = 1*( ASCII letter | digit | "_" )       ; the standard's \w+, read as ASCII
//! value = *( any char except "," "[" "]" )       ; the first "=" of a param splits it
//! ```
//!
//! Everything that is not a complete `code` is text. A raw `[` anywhere inside a code makes
//! that code malformed (the standard escapes `[` in values), which is also what keeps parsing
//! linear: a failed attempt never reads past the next `[`, where the next attempt starts, so
//! each byte is read at most twice.

use serde_json::{Map, Value};

use super::escape::{escape_text, escape_value, unescape_text, unescape_value};
use super::segment::{Segment, is_word, is_word_byte};

/// Parses a CQ string into segments. Text between codes is unescaped and adjacent text is
/// merged into one segment; empty text never yields a segment, so `""` gives `[]`. A
/// duplicated key keeps its last value. A `[CQ:text,text=…]` code is text like any other.
pub fn parse_cq(text: &str) -> Vec<Segment> {
    parse_cq_at_most(text, usize::MAX).unwrap_or_default()
}

/// [`parse_cq`], giving up (`None`) as soon as the string would yield more than `max`
/// segments (M5): `[CQ:a]` is six bytes but a few hundred as a segment, so a long run of
/// codes must be refused while parsing, not after.
pub(crate) fn parse_cq_at_most(text: &str, max: usize) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    let mut text_start = 0;
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find('[') {
        let open = search_from + offset;
        match parse_code(text, open) {
            Some((segment, end)) => {
                push_text(&mut segments, unescape_text(&text[text_start..open]));
                push_segment(&mut segments, segment);
                if segments.len() > max {
                    return None;
                }
                text_start = end;
                search_from = end;
            }
            None => search_from = open + 1,
        }
    }
    push_text(&mut segments, unescape_text(&text[text_start..]));
    (segments.len() <= max).then_some(segments)
}

/// Writes segments as a CQ string. Plain text segments become escaped text; every other
/// segment becomes `[CQ:type,key=value,…]` with keys in `data`'s order. Values: strings are
/// escaped; numbers, booleans, arrays and objects are written as their compact JSON text
/// (`5`, `true`, `{"a":1}`), escaped; `null` means absent and writes no param. A type or key
/// that is not a word cannot be written without changing meaning (`face,id=1` as a type would
/// forge a param), so such a segment, or such a param, is left out.
pub fn format_cq(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        if let Some(text) = segment.plain_text() {
            out.push_str(&escape_text(text));
            continue;
        }
        if !is_word(&segment.kind) {
            continue;
        }
        out.push_str("[CQ:");
        out.push_str(&segment.kind);
        for (key, value) in &segment.data {
            if !is_word(key) {
                continue;
            }
            let value = match value {
                Value::Null => continue,
                Value::String(s) => escape_value(s),
                other => escape_value(&other.to_string()),
            };
            out.push(',');
            out.push_str(key);
            out.push('=');
            out.push_str(&value);
        }
        out.push(']');
    }
    out
}

/// Tries to read one code at `open` (a `[`). Returns the segment and the index just past its
/// `]`, or `None` when it is malformed, having read no further than the next `[`.
fn parse_code(text: &str, open: usize) -> Option<(Segment, usize)> {
    let bytes = text.as_bytes();
    if !bytes[open..].starts_with(b"[CQ:") {
        return None;
    }
    let mut pos = open + "[CQ:".len();
    let kind = read_word(bytes, &mut pos)?;
    let mut data = Map::new();
    loop {
        match bytes.get(pos) {
            Some(b']') => break,
            Some(b',') => pos += 1,
            _ => return None,
        }
        let key = read_word(bytes, &mut pos)?;
        if bytes.get(pos) != Some(&b'=') {
            return None;
        }
        pos += 1;
        let value_start = pos;
        while let Some(&b) = bytes.get(pos) {
            match b {
                b',' | b']' => break,
                b'[' => return None,
                _ => pos += 1,
            }
        }
        data.insert(
            text[key].to_owned(),
            Value::String(unescape_value(&text[value_start..pos])),
        );
    }
    Some((Segment::new(&text[kind], data), pos + 1))
}

/// Reads a non-empty word at `pos`, advancing past it; its byte range on success.
fn read_word(bytes: &[u8], pos: &mut usize) -> Option<std::ops::Range<usize>> {
    let start = *pos;
    while bytes.get(*pos).copied().is_some_and(is_word_byte) {
        *pos += 1;
    }
    (*pos > start).then_some(start..*pos)
}

/// Appends text, merging it into a preceding plain text segment and dropping it when empty.
fn push_text(segments: &mut Vec<Segment>, text: String) {
    if text.is_empty() {
        return;
    }
    if let Some(Value::String(last)) = segments
        .last_mut()
        .filter(|last| last.plain_text().is_some())
        .and_then(|last| last.data.get_mut("text"))
    {
        last.push_str(&text);
        return;
    }
    segments.push(Segment::text(text));
}

fn push_segment(segments: &mut Vec<Segment>, segment: Segment) {
    match segment.plain_text() {
        Some(text) => {
            let text = text.to_owned();
            push_text(segments, text);
        }
        None => segments.push(segment),
    }
}

#[cfg(test)]
mod tests;
