//! The bus on its own: validation, stamping, lifecycle first, per-format rendering, and a
//! subscriber that falls behind (SPEC P4, W3, W5, W6, M4).

use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::{Value, json};

use super::*;

fn bus(self_id: i64) -> Arc<EventBus> {
    Arc::new(EventBus::new(Arc::new(Identity::new(self_id))))
}

fn next(subscription: &mut Subscription) -> Value {
    let frame = subscription
        .recv()
        .now_or_never()
        .flatten()
        .expect("a frame is queued");
    serde_json::from_str(&frame).expect("frames are JSON")
}

#[test]
fn p4_invalid_events_are_refused_with_a_reason() {
    let bus = bus(1);
    for (text, want) in [
        ("{", "event is not JSON"),
        ("[1]", "an event must be a JSON object, got an array"),
        ("{}", "an event needs a string `post_type`"),
        (r#"{"post_type": 5}"#, "an event needs a string `post_type`"),
    ] {
        let error = bus.publish("p", text).expect_err(text).to_string();
        assert!(error.starts_with(want), "{text}: {error}");
    }
    assert_eq!(bus.published(), 0);
}

#[test]
fn w3_lifecycle_comes_first_then_events_in_order() {
    let bus = bus(77);
    let mut sub = bus.subscribe(PostFormat::Array, 16);
    for n in 0..3 {
        bus.publish("p", &json!({"post_type": "notice", "n": n}).to_string())
            .expect("valid");
    }
    let first = next(&mut sub);
    assert_eq!(first["meta_event_type"], "lifecycle");
    assert_eq!(first["sub_type"], "connect");
    assert_eq!(first["self_id"], 77);
    for n in 0..3 {
        assert_eq!(next(&mut sub)["n"], n);
    }
    assert!(sub.heartbeat(500));
    assert_eq!(next(&mut sub)["meta_event_type"], "heartbeat");
}

#[test]
fn w5_time_and_self_id_follow_the_identity() {
    let identity = Arc::new(Identity::new(1));
    let bus = Arc::new(EventBus::new(identity.clone()));
    let mut sub = bus.subscribe(PostFormat::Array, 16);
    next(&mut sub);
    identity.set_self_id(2_854_196_310);
    bus.publish("p", r#"{"post_type":"notice"}"#)
        .expect("valid");
    let event = next(&mut sub);
    assert_eq!(event["self_id"], 2_854_196_310_i64);
    assert!(event["time"].is_i64());
}

#[test]
fn m4_each_subscriber_gets_its_servers_format() {
    let bus = bus(1);
    let mut array = bus.subscribe(PostFormat::Array, 16);
    let mut string = bus.subscribe(PostFormat::String, 16);
    next(&mut array);
    next(&mut string);
    bus.publish(
        "p",
        r#"{"post_type":"message","message":"hi[CQ:face,id=1]"}"#,
    )
    .expect("valid");
    let a = next(&mut array);
    assert_eq!(a["message_format"], "array");
    assert_eq!(a["message"][1], json!({"type":"face","data":{"id":"1"}}));
    assert_eq!(a["raw_message"], "hi[CQ:face,id=1]");
    let s = next(&mut string);
    assert_eq!(s["message_format"], "string");
    assert_eq!(s["message"], "hi[CQ:face,id=1]");
}

#[test]
fn w6_a_subscriber_that_falls_behind_is_dropped_and_others_carry_on() {
    let bus = bus(1);
    let slow = bus.subscribe(PostFormat::Array, 3);
    let mut fast = bus.subscribe(PostFormat::Array, 100);
    next(&mut fast);
    for n in 0..10 {
        bus.publish("p", &json!({"post_type": "notice", "n": n}).to_string())
            .expect("publishing never fails because of a slow subscriber");
        assert_eq!(next(&mut fast)["n"], n);
    }
    assert!(slow.queue().fell_behind().now_or_never().is_some());
    assert_eq!(bus.subscribers(), 1, "the slow subscriber left the bus");
    drop(fast);
    assert_eq!(bus.subscribers(), 0, "dropping a subscription unsubscribes");
    assert_eq!(bus.published(), 10);
}

/// The check made while nobody listens answers exactly as the full parse does.
#[test]
fn p4_the_check_without_subscribers_agrees_with_the_full_parse() {
    let cases = [
        "{",
        "",
        " ",
        "[1]",
        "[]",
        "{}",
        "1",
        "-2.5",
        "1e999",
        "true",
        "null",
        r#""x""#,
        r#"{"post_type": 5}"#,
        r#"{"post_type": "message"}"#,
        r#"{"post_type": null}"#,
        r#"{"post_type": "a", "post_type": 1}"#,
        r#"{"post_type": 1, "post_type": "a"}"#,
        r#"{"post_\u0074ype": "notice"}"#,
        r#"{"post_type": "m"} x"#,
        r#"{"post_type": "m"}  "#,
        r#"{"a": [1, {"b": null}], "post_type": "meta_event"}"#,
        r#"{"post_type": ["m"]}"#,
        r#"{"post_type": "m", "x": tru}"#,
        "[1,",
        r#"{"a":1,}"#,
        "\u{feff}{}",
        r#"{"post_type": "m", "a": "\ud800"}"#,
        r#"{"post_type": "m", "a": {"\udc00": 1}}"#,
        r#"{"post_type": "m", "n": [1e999]}"#,
        r#"{"post_type": "m", "n": -1e400}"#,
    ];
    let with_subscriber = bus(1);
    let _listener = with_subscriber.subscribe(PostFormat::Array, 64);
    let without = bus(1);
    for text in cases {
        let full = with_subscriber
            .publish("p", text)
            .map_err(|e| e.to_string());
        let cheap = without.publish("p", text).map_err(|e| e.to_string());
        assert_eq!(full, cheap, "{text:?}");
    }
    assert_eq!(with_subscriber.published(), without.published());
}

/// NapCat's `reportSelfMessage`: a connection that turned it off never sees `message_sent`,
/// and still sees every other event.
#[test]
fn report_self_message_filters_only_the_bots_own_messages() {
    let bus = Arc::new(EventBus::new(Arc::new(Identity::new(1))));
    let mut quiet = bus.subscribe_as(
        ConnectionKind::WebSocketServer,
        None,
        PostFormat::Array,
        false,
        16,
    );
    let mut all = bus.subscribe_as(
        ConnectionKind::WebSocketServer,
        None,
        PostFormat::Array,
        true,
        16,
    );
    let sent = r#"{"post_type":"message_sent","message_type":"private","message":"hi"}"#;
    let notice = r#"{"post_type":"notice","notice_type":"x"}"#;
    bus.publish("p", sent).expect("valid");
    bus.publish("p", notice).expect("valid");
    let post_types = |sub: &mut Subscription| {
        let mut seen = Vec::new();
        while let Some(frame) = sub.try_recv() {
            let event: serde_json::Value = serde_json::from_str(&frame).expect("JSON");
            seen.push(event["post_type"].as_str().unwrap_or_default().to_owned());
        }
        seen
    };
    assert_eq!(post_types(&mut quiet), ["meta_event", "notice"]);
    assert_eq!(
        post_types(&mut all),
        ["meta_event", "message_sent", "notice"]
    );
}
