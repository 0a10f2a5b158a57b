//! Table tests for `parse_cq` and `format_cq` (SPEC M2): the standard's examples, malformed
//! codes, odd values, round-trips and inputs built to make a naive parser quadratic.

use serde_json::{Value, json};

use super::{format_cq, parse_cq};
use crate::message::Segment;

/// A segment from `type` and a JSON object literal.
fn seg(kind: &str, data: Value) -> Segment {
    Segment::new(kind, data.as_object().cloned().unwrap_or_default())
}

fn text(s: &str) -> Segment {
    Segment::text(s)
}

#[test]
fn m2_standard_examples_parse() {
    let cases: Vec<(&str, Vec<Segment>)> = vec![
        (
            "[CQ:face,id=178]看看我刚拍的照片[CQ:image,file=123.jpg]",
            vec![
                seg("face", json!({"id": "178"})),
                text("看看我刚拍的照片"),
                seg("image", json!({"file": "123.jpg"})),
            ],
        ),
        ("[CQ:shake]", vec![seg("shake", json!({}))]),
        ("[CQ:face,id=178]", vec![seg("face", json!({"id": "178"}))]),
        (
            "[CQ:share,title=标题,url=http://baidu.com]",
            vec![seg(
                "share",
                json!({"title": "标题", "url": "http://baidu.com"}),
            )],
        ),
        (
            "[CQ:share,title=标题中有=等号,url=http://baidu.com]",
            vec![seg(
                "share",
                json!({"title": "标题中有=等号", "url": "http://baidu.com"}),
            )],
        ),
        (
            "[CQ:share,title=震惊&#44;小伙睡觉前居然...,url=http://baidu.com/?a=1&amp;b=2]",
            vec![seg(
                "share",
                json!({"title": "震惊,小伙睡觉前居然...", "url": "http://baidu.com/?a=1&b=2"}),
            )],
        ),
        (
            "- &#91;x&#93; 使用 `&amp;data` 获取地址",
            vec![text("- [x] 使用 `&data` 获取地址")],
        ),
        // "CQ 码中不应有多余的空格": a space before a key makes the key malformed.
        ("[CQ:face, id=178]", vec![text("[CQ:face, id=178]")]),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_cq(input), expected, "parse_cq({input:?})");
    }
}

#[test]
fn m2_malformed_codes_stay_literal_text() {
    let literal = [
        "[CQ:face,id=1",
        "[CQ:",
        "[CQ:]",
        "[CQ:fa ce]",
        "[CQ:face,id]",
        "[CQ:face,id=1,]",
        "[CQ:face,]",
        "[CQ:face,=1]",
        "[CQ:face id=1]",
        "[CQ:face;id=1]",
        "[CQ :face]",
        "[cq:face,id=1]",
        "[CQ:表情]",
        "[CQ:face-x]",
        "[CQ:face,id-x=1]",
        "[CQ:face,id=[1]]",
        "]",
        "[",
        "][",
        "[]",
        "[CQ]",
        "CQ:face,id=1]",
    ];
    for input in literal {
        assert_eq!(parse_cq(input), vec![text(input)], "parse_cq({input:?})");
    }
}

#[test]
fn m2_malformed_text_is_still_unescaped_text() {
    assert_eq!(parse_cq("[CQ:face&amp;]"), vec![text("[CQ:face&]")]);
    assert_eq!(parse_cq("a]&#93;b"), vec![text("a]]b")]);
}

#[test]
fn m2_codes_next_to_broken_ones() {
    let cases: Vec<(&str, Vec<Segment>)> = vec![
        // A raw `[` ends the broken code; the well-formed one after it still counts.
        (
            "[CQ:a,b=x[CQ:face,id=1]",
            vec![text("[CQ:a,b=x"), seg("face", json!({"id": "1"}))],
        ),
        (
            "[[CQ:face,id=1]]",
            vec![text("["), seg("face", json!({"id": "1"})), text("]")],
        ),
        (
            "[CQ:][CQ:shake][CQ:",
            vec![text("[CQ:]"), seg("shake", json!({})), text("[CQ:")],
        ),
        (
            "x]y[CQ:at,qq=1]]",
            vec![text("x]y"), seg("at", json!({"qq": "1"})), text("]")],
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_cq(input), expected, "parse_cq({input:?})");
    }
}

#[test]
fn m2_param_values() {
    let cases: Vec<(&str, Vec<Segment>)> = vec![
        // The first `=` splits key from value.
        (
            "[CQ:share,url=http://a?b=c]",
            vec![seg("share", json!({"url": "http://a?b=c"}))],
        ),
        ("[CQ:x,k===]", vec![seg("x", json!({"k": "=="}))]),
        ("[CQ:at,qq=]", vec![seg("at", json!({"qq": ""}))]),
        ("[CQ:x,a=,b=]", vec![seg("x", json!({"a": "", "b": ""}))]),
        // Spaces and newlines are part of a value.
        ("[CQ:x,a= b \n]", vec![seg("x", json!({"a": " b \n"}))]),
        // A duplicated key keeps its last value.
        ("[CQ:at,qq=1,qq=2]", vec![seg("at", json!({"qq": "2"}))]),
        ("[CQ:x,v=&amp;#44;]", vec![seg("x", json!({"v": "&#44;"}))]),
        ("[CQ:x,v=a&b]", vec![seg("x", json!({"v": "a&b"}))]),
        ("[CQ:x,v=😀é]", vec![seg("x", json!({"v": "😀é"}))]),
        ("[CQ:_,_=_]", vec![seg("_", json!({"_": "_"}))]),
        (
            "[CQ:Face9,ID_2=1]",
            vec![seg("Face9", json!({"ID_2": "1"}))],
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_cq(input), expected, "parse_cq({input:?})");
    }
}

#[test]
fn m2_text_segments_merge_and_empty_text_vanishes() {
    assert_eq!(parse_cq(""), Vec::<Segment>::new());
    assert_eq!(parse_cq("[CQ:text,text=a]b"), vec![text("ab")]);
    assert_eq!(parse_cq("a[CQ:text,text=]b"), vec![text("ab")]);
    assert_eq!(parse_cq("[CQ:text,text=]"), Vec::<Segment>::new());
    assert_eq!(
        parse_cq("a[CQ:text,text=b,x=1]c"),
        vec![
            text("a"),
            seg("text", json!({"text": "b", "x": "1"})),
            text("c")
        ]
    );
}

#[test]
fn m2_unicode_and_emoji_text() {
    assert_eq!(
        parse_cq("😀👍🏽[CQ:face,id=1]é世界\u{200d}"),
        vec![
            text("😀👍🏽"),
            seg("face", json!({"id": "1"})),
            text("é世界\u{200d}")
        ]
    );
}

#[test]
fn m2_format_values() {
    let cases: Vec<(Vec<Segment>, &str)> = vec![
        (vec![], ""),
        (vec![text("")], ""),
        (vec![text("a,b [c] &")], "a,b &#91;c&#93; &amp;"),
        (vec![seg("shake", json!({}))], "[CQ:shake]"),
        (vec![seg("face", json!({"id": 5}))], "[CQ:face,id=5]"),
        (
            vec![seg("x", json!({"f": 1.5, "n": -3}))],
            "[CQ:x,f=1.5,n=-3]",
        ),
        (
            vec![seg("x", json!({"b": true, "c": false}))],
            "[CQ:x,b=true,c=false]",
        ),
        (
            vec![seg("x", json!({"gone": null, "kept": "1"}))],
            "[CQ:x,kept=1]",
        ),
        (
            vec![seg("x", json!({"o": {"a": 1, "b": [2]}}))],
            "[CQ:x,o={\"a\":1&#44;\"b\":&#91;2&#93;}]",
        ),
        (
            vec![seg("x", json!({"v": "a,b=c[d]&"}))],
            "[CQ:x,v=a&#44;b=c&#91;d&#93;&amp;]",
        ),
        // Non-word types and keys would change meaning; they are left out.
        (vec![seg("face,id=1", json!({})), text("t")], "t"),
        (vec![seg("", json!({"a": "1"}))], ""),
        (
            vec![seg("x", json!({"bad key": "1", "k": "2", "": "3"}))],
            "[CQ:x,k=2]",
        ),
        // A text segment that is not plain keeps all its data as a code.
        (
            vec![seg("text", json!({"text": "a", "x": "b"}))],
            "[CQ:text,text=a,x=b]",
        ),
        (vec![seg("text", json!({"text": 5}))], "[CQ:text,text=5]"),
        (vec![seg("text", json!({}))], "[CQ:text]"),
    ];
    for (segments, expected) in cases {
        assert_eq!(format_cq(&segments), expected, "format_cq({segments:?})");
    }
}

#[test]
fn m2_canonical_strings_round_trip() {
    // Canonical: keys in sorted order (serde_json's default map order), minimal escaping.
    let canonical = [
        "",
        "hello",
        "[CQ:face,id=178]看看我刚拍的照片[CQ:image,file=123.jpg]",
        "[CQ:shake]",
        "[CQ:share,title=标题中有=等号,url=http://baidu.com]",
        "[CQ:share,title=震惊&#44;小伙睡觉前居然...,url=http://baidu.com/?a=1&amp;b=2]",
        "- &#91;x&#93; 使用 `&amp;data` 获取地址",
        "&amp;#91; is not &#91;",
        "[CQ:at,qq=]",
        "a,b=c[CQ:reply,id=-1]😀",
        "[CQ:text,text=a,x=b]",
        "[CQ:image,file=base64://AAAA==,summary=&#91;图片&#93;]",
    ];
    for s in canonical {
        assert_eq!(format_cq(&parse_cq(s)), s, "round trip of {s:?}");
    }
}

#[test]
fn m2_non_canonical_strings_normalise() {
    let cases = [
        ("]", "&#93;"),
        ("[CQ:face,id=1", "&#91;CQ:face,id=1"),
        ("a&#44;b", "a,b"),
        ("[CQ:at,qq=1,qq=2]", "[CQ:at,qq=2]"),
        ("[CQ:share,url=u,title=t]", "[CQ:share,title=t,url=u]"),
    ];
    for (input, canonical) in cases {
        assert_eq!(
            format_cq(&parse_cq(input)),
            canonical,
            "format_cq(parse_cq({input:?}))"
        );
    }
}

#[test]
fn m2_parsing_is_linear_on_hostile_input() {
    // Each of these makes a parser that rescans from every `[` quadratic. No timing assertion:
    // a quadratic parser simply does not finish in any sane test run (10^10+ steps).
    let n = 100_000;
    let hostile = [
        "[CQ:".repeat(n),
        "[CQ:a,b=".repeat(n),
        "[CQ:face,id=1".repeat(n),
        "[CQ:a".repeat(n),
        "[".repeat(n),
        "]".repeat(n),
        "&amp;".repeat(n),
        format!("[CQ:a,b={}", "x".repeat(10 * n)),
        format!("[CQ:a,b={}", "&#44;".repeat(n)),
    ];
    for input in &hostile {
        let segments = parse_cq(input);
        assert_eq!(
            segments.len(),
            1,
            "one text segment for {:?}…",
            &input[..20]
        );
    }
    let many = "[CQ:face,id=1]x".repeat(n);
    let segments = parse_cq(&many);
    assert_eq!(segments.len(), 2 * n);
    assert_eq!(format_cq(&segments), many);
}
