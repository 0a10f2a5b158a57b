//! Tests for `normalize` and `normalize_params` (SPEC M3): every input shape, `auto_escape`
//! in every spelling a client sends, and every refusal.

use serde_json::{Map, Value, json};

use super::{normalize, normalize_params};
use crate::message::{MessageError, Position};

fn ok(message: Value, auto_escape: bool) -> Value {
    let segments = normalize(message.clone(), auto_escape)
        .unwrap_or_else(|e| panic!("normalize({message}) failed: {e}"));
    serde_json::to_value(segments).expect("segments serialize")
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object literal")
}

#[test]
fn m3_cq_string_is_decoded() {
    assert_eq!(
        ok(json!("hi[CQ:face,id=178]"), false),
        json!([{"type":"text","data":{"text":"hi"}},{"type":"face","data":{"id":"178"}}])
    );
    assert_eq!(ok(json!(""), false), json!([]));
}

#[test]
fn m3_auto_escape_string_is_one_text_segment() {
    assert_eq!(
        ok(json!("hi[CQ:face,id=178]&amp;"), true),
        json!([{"type":"text","data":{"text":"hi[CQ:face,id=178]&amp;"}}])
    );
    assert_eq!(ok(json!(""), true), json!([]));
}

#[test]
fn m3_single_segment_object_is_wrapped() {
    let face = json!({"type":"face","data":{"id":178}});
    assert_eq!(ok(face.clone(), false), json!([face]));
    // auto_escape concerns strings only.
    assert_eq!(ok(face.clone(), true), json!([face]));
}

#[test]
fn m3_array_passes_through_as_sent() {
    let array = json!([
        {"type":"text","data":{"text":"a"}},
        {"type":"text","data":{"text":""}},
        {"type":"text","data":{"text":"[CQ:x]"}},
        {"type":"node","data":{"content":[{"type":"text","data":{"text":"n"}}]}},
    ]);
    assert_eq!(ok(array.clone(), false), array);
    assert_eq!(ok(json!([]), false), json!([]));
}

#[test]
fn m3_missing_or_null_data_is_empty_and_extra_keys_drop() {
    assert_eq!(
        ok(json!({"type":"shake"}), false),
        json!([{"type":"shake","data":{}}])
    );
    assert_eq!(
        ok(json!([{"type":"shake","data":null}]), false),
        json!([{"type":"shake","data":{}}])
    );
    assert_eq!(
        ok(json!({"type":"at","data":{"qq":"1"},"extra":true}), false),
        json!([{"type":"at","data":{"qq":"1"}}])
    );
}

#[test]
fn m3_refusals_name_what_was_wrong() {
    use MessageError::*;
    use Position::*;
    let cases = [
        (json!(5), NotAMessage { got: "number" }),
        (json!(null), NotAMessage { got: "null" }),
        (json!(true), NotAMessage { got: "boolean" }),
        (
            json!(["hi"]),
            NotASegment {
                at: Element(0),
                got: "string",
            },
        ),
        (
            json!([{"type":"a"}, [1]]),
            NotASegment {
                at: Element(1),
                got: "array",
            },
        ),
        (json!({"data":{}}), MissingType { at: Whole }),
        (
            json!([{"type":5}]),
            TypeNotString {
                at: Element(0),
                got: "number",
            },
        ),
        (
            json!({"type":null}),
            TypeNotString {
                at: Whole,
                got: "null",
            },
        ),
        (
            json!({"type":""}),
            BadType {
                at: Whole,
                kind: String::new(),
            },
        ),
        (
            json!([{"type":"fa ce"}]),
            BadType {
                at: Element(0),
                kind: "fa ce".into(),
            },
        ),
        (
            json!({"type":"face,id=1"}),
            BadType {
                at: Whole,
                kind: "face,id=1".into(),
            },
        ),
        (
            json!({"type":"face","data":"id=1"}),
            DataNotObject {
                at: Whole,
                got: "string",
            },
        ),
        (
            json!([{"type":"a"},{"type":"b","data":[]}]),
            DataNotObject {
                at: Element(1),
                got: "array",
            },
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(
            normalize(message.clone(), false).err(),
            Some(expected),
            "normalize({message})"
        );
    }
    assert_eq!(
        normalize(json!(5), false).map_err(|e| e.to_string()),
        Err(
            "message must be a string, a segment object or an array of segments, got number".into()
        )
    );
}

#[test]
fn m3_params_message_string_becomes_array() {
    let mut params = object(json!({"user_id": 1, "message": "[CQ:face,id=1]hi"}));
    normalize_params(&mut params).expect("normalizes");
    assert_eq!(
        Value::Object(params),
        json!({"user_id": 1, "message": [
            {"type":"face","data":{"id":"1"}},
            {"type":"text","data":{"text":"hi"}},
        ]})
    );
}

#[test]
fn m3_params_auto_escape_spellings() {
    let escaped = json!([{"type":"text","data":{"text":"[CQ:face,id=1]"}}]);
    let parsed = json!([{"type":"face","data":{"id":"1"}}]);
    let cases = [
        (json!(true), &escaped),
        (json!("true"), &escaped),
        (json!("TRUE"), &escaped),
        (json!(1), &escaped),
        (json!(1.0), &escaped),
        (json!("1"), &escaped),
        (json!(false), &parsed),
        (json!("false"), &parsed),
        (json!(0), &parsed),
        (json!("0"), &parsed),
        (json!(""), &parsed),
        (json!(null), &parsed),
        (json!("yes"), &parsed),
        (json!(2), &parsed),
    ];
    for (flag, expected) in cases {
        let mut params = object(json!({"message": "[CQ:face,id=1]", "auto_escape": flag}));
        normalize_params(&mut params).expect("normalizes");
        assert_eq!(
            params.get("message"),
            Some(expected),
            "auto_escape = {flag}"
        );
        assert_eq!(
            params.get("auto_escape"),
            Some(&flag),
            "auto_escape itself is kept"
        );
    }
    let mut params = object(json!({"message": "[CQ:face,id=1]"}));
    normalize_params(&mut params).expect("normalizes");
    assert_eq!(
        params.get("message"),
        Some(&parsed),
        "absent auto_escape is false"
    );
}

#[test]
fn m3_params_object_and_array_forms() {
    let mut params = object(json!({"message": {"type":"shake"}}));
    normalize_params(&mut params).expect("normalizes");
    assert_eq!(
        params.get("message"),
        Some(&json!([{"type":"shake","data":{}}]))
    );

    let array = json!([{"type":"text","data":{"text":"a"}}]);
    let mut params = object(json!({"message": array.clone()}));
    normalize_params(&mut params).expect("normalizes");
    assert_eq!(params.get("message"), Some(&array));
}

#[test]
fn m3_params_without_message_are_untouched() {
    let original = object(json!({"group_id": 5, "auto_escape": "true", "echo": "x"}));
    let mut params = original.clone();
    normalize_params(&mut params).expect("nothing to do");
    assert_eq!(params, original);
}

#[test]
fn m3_params_refused_are_left_unchanged() {
    let original = object(json!({"message": [{"type":"face"}, 7]}));
    let mut params = original.clone();
    assert_eq!(
        normalize_params(&mut params),
        Err(MessageError::NotASegment {
            at: Position::Element(1),
            got: "number"
        })
    );
    assert_eq!(params, original);
}
