//! Property tests across the module (SPEC M2, M3, M4): CQ round-trips are lossless for any
//! segments with string values, and no input string can make the parser panic.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::event::render;
use super::{PostFormat, Segment, format_cq, normalize, parse_cq};

/// Strings rich in what the grammar cares about, plus arbitrary Unicode.
fn tricky_string() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("&".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#91;".to_owned()),
        Just("&#93;".to_owned()),
        Just("&#44;".to_owned()),
        Just("[CQ:".to_owned()),
        Just("[CQ:face,id=1]".to_owned()),
        Just("😀".to_owned()),
        "[a-z_]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(fragment, 0..12).prop_map(|parts| parts.concat())
}

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,6}"
}

fn segment() -> impl Strategy<Value = Segment> {
    let kind = prop_oneof![1 => Just("text".to_owned()), 4 => word()];
    let data = prop::collection::btree_map(word(), tricky_string().prop_map(Value::String), 0..4);
    prop_oneof![
        tricky_string().prop_map(Segment::text),
        (kind, data)
            .prop_map(|(kind, data)| Segment::new(kind, data.into_iter().collect::<Map<_, _>>())),
    ]
}

/// What parsing gives back: adjacent plain text merged, empty plain text dropped.
fn canonical(segments: &[Segment]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for segment in segments {
        match segment.plain_text() {
            Some("") => {}
            Some(text) => match out.last_mut().filter(|last| last.plain_text().is_some()) {
                Some(last) => {
                    let merged = format!("{}{text}", last.plain_text().unwrap_or_default());
                    *last = Segment::text(merged);
                }
                None => out.push(segment.clone()),
            },
            None => out.push(segment.clone()),
        }
    }
    out
}

proptest! {
    #[test]
    fn m2_format_then_parse_is_lossless(segments in prop::collection::vec(segment(), 0..8)) {
        let cq = format_cq(&segments);
        prop_assert_eq!(parse_cq(&cq), canonical(&segments), "via {:?}", cq);
    }

    #[test]
    fn m2_parse_never_panics_and_is_stable(input in prop_oneof![any::<String>(), tricky_string()]) {
        let segments = parse_cq(&input);
        prop_assert!(segments.iter().all(|s| s.plain_text() != Some("")));
        prop_assert_eq!(parse_cq(&format_cq(&segments)), segments.clone());
        prop_assert_eq!(canonical(&segments), segments);
    }

    #[test]
    fn m3_m4_render_then_normalize(segments in prop::collection::vec(segment(), 0..8)) {
        let array = render(&segments, PostFormat::Array);
        prop_assert_eq!(normalize(array, false).ok(), Some(segments.clone()));
        let string = render(&segments, PostFormat::String);
        prop_assert_eq!(normalize(string, false).ok(), Some(canonical(&segments)));
    }
}
