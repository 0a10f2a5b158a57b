//! CQ escaping, both ways (SPEC M2).
//!
//! Plain text escapes `&` `[` `]`; a parameter value also escapes `,` (the standard's two
//! tables). Unescaping is one left-to-right pass, so `&amp;#91;` becomes the text `&#91;`,
//! never `[`: replacing entity by entity would decode it twice.
//!
//! Both unescapers decode all four entities, `&#44;` included. The standard never escapes
//! `,` in text, so this changes nothing for well-formed input, but NoneBot's `escape()`
//! escapes commas by default and NapCat decodes `&#44;` in text, so a client relying on that
//! gets the comma it meant. Anything else after `&` (`&lt;`, `&#91` without `;`) is kept as is.

/// Every entity we decode, with the character it stands for.
const ENTITIES: [(&str, char); 4] = [
    ("&amp;", '&'),
    ("&#91;", '['),
    ("&#93;", ']'),
    ("&#44;", ','),
];

/// Escapes plain text for a CQ string: `&`→`&amp;`, `[`→`&#91;`, `]`→`&#93;`.
pub(crate) fn escape_text(s: &str) -> String {
    escape(s, false)
}

/// Escapes a CQ parameter value: as [`escape_text`], plus `,`→`&#44;`.
pub(crate) fn escape_value(s: &str) -> String {
    escape(s, true)
}

/// Decodes plain text from a CQ string (see the module doc for which entities).
pub(crate) fn unescape_text(s: &str) -> String {
    unescape(s)
}

/// Decodes a CQ parameter value. Same entities as [`unescape_text`]; a separate name so call
/// sites say which side of the grammar they are on.
pub(crate) fn unescape_value(s: &str) -> String {
    unescape(s)
}

fn escape(s: &str, comma: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            ',' if comma => out.push_str("&#44;"),
            _ => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match ENTITIES.iter().find(|(entity, _)| rest.starts_with(entity)) {
            Some((entity, c)) => {
                out.push(*c);
                rest = &rest[entity.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m2_text_escape_table() {
        let cases = [
            ("", ""),
            ("plain", "plain"),
            ("&", "&amp;"),
            ("[", "&#91;"),
            ("]", "&#93;"),
            (",", ","),
            // The standard's own example.
            (
                "- [x] 使用 `&data` 获取地址",
                "- &#91;x&#93; 使用 `&amp;data` 获取地址",
            ),
            ("&amp;", "&amp;amp;"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(escape_text(raw), escaped, "escape_text({raw:?})");
            assert_eq!(unescape_text(escaped), raw, "unescape_text({escaped:?})");
        }
    }

    #[test]
    fn m2_value_escape_table() {
        let cases = [
            (",", "&#44;"),
            ("震惊,小伙睡觉前居然...", "震惊&#44;小伙睡觉前居然..."),
            ("http://baidu.com/?a=1&b=2", "http://baidu.com/?a=1&amp;b=2"),
            ("a=b", "a=b"),
            ("[CQ:x,y=z]", "&#91;CQ:x&#44;y=z&#93;"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(escape_value(raw), escaped, "escape_value({raw:?})");
            assert_eq!(unescape_value(escaped), raw, "unescape_value({escaped:?})");
        }
    }

    #[test]
    fn m2_double_escapes_decode_once() {
        let cases = [
            ("&amp;#91;", "&#91;"),
            ("&amp;#93;", "&#93;"),
            ("&amp;#44;", "&#44;"),
            ("&amp;amp;", "&amp;"),
            ("&#91;&amp;&#93;", "[&]"),
        ];
        for (escaped, raw) in cases {
            assert_eq!(unescape_text(escaped), raw, "unescape_text({escaped:?})");
            assert_eq!(unescape_value(escaped), raw, "unescape_value({escaped:?})");
            assert_eq!(escape_value(raw), escaped, "escape_value({raw:?})");
        }
    }

    #[test]
    fn m2_unknown_or_partial_entities_stay_literal() {
        for s in [
            "&", "&&", "&lt;", "&#91", "&#9;", "&amp", "a & b", "&#x5B;", "&😀;",
        ] {
            assert_eq!(unescape_text(s), s);
        }
        assert_eq!(unescape_text("&&amp;"), "&&");
    }

    #[test]
    fn m2_text_comma_entity_is_decoded_like_napcat() {
        assert_eq!(unescape_text("a&#44;b"), "a,b");
    }

    #[test]
    fn m2_unicode_and_emoji_pass_through() {
        let s = "héllo 世界 😀👍🏽 \u{200d} \n\t";
        assert_eq!(escape_text(s), s);
        assert_eq!(escape_value(s), s);
        assert_eq!(unescape_text(s), s);
        assert_eq!(escape_text("😀[😀]"), "😀&#91;😀&#93;");
    }
}
