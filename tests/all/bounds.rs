//! Hostile bodies and frames (SPEC H3, H4, H9, W4; issue 7's parser bounds), against a real
//! server with real HTTP and WebSocket clients: 100,000 levels of nesting, multi-MB strings
//! and bytes that are not UTF-8 are each answered 1400 with a message that says what is wrong,
//! never a stack overflow, and the host keeps answering afterwards.
//!
//! Each input here is also a seed or a finding of the fuzz targets in `fuzz/` (see docs/development.md,
//! "Fuzzing").

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Setup, TestHost, envelope, failed, ok_data};
use crate::ws::client::{Client, addr, connect, next_json, ws_host};

const LEVELS: usize = 100_000;
const FORM: &str = "application/x-www-form-urlencoded";

/// Every way to nest 100,000 levels deep: JSON and JSON5, arrays and objects, open and
/// closed, and the JSON5 comment ended by `\r` that once hid the brackets behind it from the
/// depth guard (json5 then recursed until the stack overflowed and the whole host aborted).
fn deep_bodies() -> Vec<(&'static str, String)> {
    let open = |s: &str| s.repeat(LEVELS);
    vec![
        ("JSON arrays, open", open("[")),
        ("JSON arrays, closed", format!("{}{}", open("["), open("]"))),
        (
            "JSON objects",
            format!("{}1{}", open(r#"{"a":"#), open("}")),
        ),
        ("JSON5 objects", format!("{}1{}", open("{a:"), open("}"))),
        ("JSON5 arrays", format!("{{a:[{}", open("[1,"))),
        (
            "JSON5, comment ended by \\r",
            format!("{{a://x\r{}", open("[")),
        ),
        (
            "JSON5, comment ended by U+2028",
            format!("{{a://x\u{2028}{}", open("{b:")),
        ),
    ]
}

async fn post_bytes(
    host: &TestHost,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Value {
    let mut request = host.client.post(host.url(path)).body(body);
    if let Some(ct) = content_type {
        request = request.header("Content-Type", ct);
    }
    envelope(request).await
}

/// The host still answers a plain call, over a fresh request.
async fn assert_alive(host: &TestHost) {
    let env = host.post("probe_echo", json!({"ok": 1})).await;
    assert_eq!(
        ok_data(&env)["params"],
        json!({"ok": 1}),
        "the host still answers"
    );
}

#[tokio::test]
async fn h4_100k_levels_of_json_and_json5_are_1400_not_a_stack_overflow() {
    let host = Setup::default().start().await;
    for (what, body) in deep_bodies() {
        let env = post_bytes(&host, "/probe_echo", None, body.into_bytes()).await;
        let message = failed(&env, 1400);
        assert_eq!(
            message, "Invalid JSON format: nested deeper than 128 levels",
            "{what}"
        );
        assert_eq!(env["echo"], Value::Null);
    }
    assert_alive(&host).await;
    host.stop().await;
}

#[tokio::test]
async fn h3_nesting_up_to_128_levels_is_accepted() {
    let host = Setup::default().start().await;
    let nested = |levels: usize| format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    // The body object is level 1, so `x` holds 127 more: the host's limit, in JSON and JSON5.
    // Not echoed: serde_json, in a Rust guest and for a plugin's answer, stops at 127 levels.
    for body in [
        format!(r#"{{"x":{}}}"#, nested(127)),
        format!("{{x:{},}}", nested(127)),
    ] {
        let env = post_bytes(&host, "/get_version_info", None, body.into_bytes()).await;
        assert_eq!(ok_data(&env)["protocol_version"], "v11");
    }
    // Deep params reach the plugin intact (126 levels; the probe's answer adds one).
    let body = format!(r#"{{"x":{}}}"#, nested(124));
    let env = post_bytes(&host, "/probe_echo", None, body.into_bytes()).await;
    let mut x = &ok_data(&env)["params"]["x"];
    for _ in 0..123 {
        x = &x[0];
    }
    assert_eq!(x, &json!([1]));
    host.stop().await;
}

#[tokio::test]
async fn h3_h4_multi_megabyte_strings_decode_or_are_refused_by_kind() {
    let host = Setup::default().start().await;
    let big = "字".repeat(2 * 1024 * 1024); // 6 MiB of UTF-8, under the default 16 MiB cap
    // A huge string param decodes (the fallback ignores it, so nothing is echoed back).
    let body = json!({"message": big.clone(), "echo": "big"}).to_string();
    let env = post_bytes(&host, "/get_version_info", None, body.into_bytes()).await;
    assert_eq!(ok_data(&env)["protocol_version"], "v11");
    assert_eq!(env["echo"], "big");
    // A body that is one huge string is not an object.
    let env = post_bytes(
        &host,
        "/probe_echo",
        None,
        format!("\"{big}\"").into_bytes(),
    )
    .await;
    assert_eq!(
        failed(&env, 1400),
        "Invalid JSON format: the body must be a JSON object, got a string"
    );
    // An unterminated one, in JSON and in JSON5: a syntax error naming where it ends.
    for body in [format!("{{\"a\":\"{big}"), format!("{{a:'{big}")] {
        let env = post_bytes(&host, "/probe_echo", None, body.into_bytes()).await;
        let message = failed(&env, 1400);
        assert!(
            message.starts_with("Invalid JSON format: "),
            "{message:.200}"
        );
        assert!(message.len() < 200, "the message does not quote the body");
    }
    assert_alive(&host).await;
    host.stop().await;
}

#[tokio::test]
async fn h4_bytes_that_are_not_utf8_are_1400_in_json_json5_form_and_query() {
    let host = Setup::default().start().await;
    let not_json_utf8 = "Invalid JSON format: the body is not UTF-8";
    let form_value = "Invalid form body: the value of `message` is not UTF-8 once percent-decoded";
    let cases: [(&str, Option<&str>, &[u8], &str); 6] = [
        (
            "/probe_echo",
            None,
            b"{\"message\":\"\xff\xfe\"}",
            not_json_utf8,
        ),
        ("/probe_echo", None, b"{message:'a\xc3'}", not_json_utf8),
        ("/probe_echo", Some(FORM), b"message=%FF", form_value),
        ("/probe_echo", Some(FORM), b"message=\xe4\xbd", form_value),
        (
            "/probe_echo",
            Some(FORM),
            b"%C3%28=1",
            "Invalid form body: a field name is not UTF-8 once percent-decoded",
        ),
        (
            "/probe_echo?message=%E4%BD",
            None,
            b"{}",
            "Invalid query string: the value of `message` is not UTF-8 once percent-decoded",
        ),
    ];
    for (path, content_type, body, expected) in cases {
        let env = post_bytes(&host, path, content_type, body.to_vec()).await;
        assert_eq!(failed(&env, 1400), expected, "{path} {body:?}");
    }
    let env = host.get("/probe_echo?message=%FF").await;
    assert_eq!(
        failed(&env, 1400),
        "Invalid query string: the value of `message` is not UTF-8 once percent-decoded"
    );
    // Valid percent-encoded UTF-8 still passes, in a form and in a query.
    let env = post_bytes(
        &host,
        "/probe_echo?b=%E4%BD%A0",
        Some(FORM),
        b"a=%E5%A5%BD".to_vec(),
    )
    .await;
    assert_eq!(ok_data(&env)["params"], json!({"a": "好", "b": "你"}));
    assert_alive(&host).await;
    host.stop().await;
}

/// Sends one frame on `/api` (no events there) and returns the reply.
async fn ws_reply(socket: &mut Client, frame: Message) -> Value {
    socket.send(frame).await.expect("frame sent");
    next_json(socket).await
}

#[tokio::test]
async fn w4_hostile_frames_are_1400_and_the_socket_stays_open() {
    let host = ws_host("heartInterval: 0").await;
    let mut socket = connect(addr(&host), "/api").await;

    for (what, body) in deep_bodies() {
        for frame in [
            Message::text(body.clone()),
            Message::binary(body.into_bytes()),
        ] {
            let reply = ws_reply(&mut socket, frame).await;
            assert_eq!(
                failed(&reply, 1400),
                "Invalid JSON format: nested deeper than 128 levels",
                "{what}"
            );
            assert_eq!(reply["echo"], Value::Null, "W4: echo null");
        }
    }
    // Text frames are UTF-8 by the protocol; a binary frame can carry anything.
    for bytes in [
        &b"{\"action\":\"probe_echo\",\"echo\":\"\xff\"}"[..],
        b"{action:'\xc0'}",
    ] {
        let reply = ws_reply(&mut socket, Message::binary(bytes.to_vec())).await;
        assert_eq!(
            failed(&reply, 1400),
            "Invalid JSON format: the body is not UTF-8"
        );
    }
    let big = "x".repeat(4 * 1024 * 1024);
    let reply = ws_reply(&mut socket, Message::text(format!("\"{big}\""))).await;
    assert_eq!(
        failed(&reply, 1400),
        "Invalid JSON format: the body must be a JSON object, got a string"
    );
    // The same socket still serves calls.
    let call = json!({"action": "probe_echo", "params": {"n": 1}, "echo": 5});
    let reply = ws_reply(&mut socket, Message::text(call.to_string())).await;
    assert_eq!(ok_data(&reply)["params"], json!({"n": 1}));
    assert_eq!(reply["echo"], 5);
    host.stop().await;
}

/// H4a, W4: a body or frame of more than 262,144 values is refused with 1400 before it is
/// parsed (a 16 MB array of `1,` once took 300 MB to decode), in JSON and JSON5 alike; a large
/// body or frame within the limit (decoded off the async workers) is answered as before.
#[tokio::test]
async fn h4a_too_many_values_are_1400_before_parsing_and_large_bodies_still_work() {
    let host = ws_host("heartInterval: 0").await;
    let pad = format!("[{}1]", "1,".repeat(300_000));
    for body in [
        format!(r#"{{"user_id":1,"pad":{pad}}}"#),
        format!("{{user_id: 1, pad: {pad}}}"),
    ] {
        let env = post_bytes(&host, "/probe_echo", Some("application/json"), body.into()).await;
        assert_eq!(
            failed(&env, 1400),
            "Invalid JSON format: more than 262144 values (numbers, strings, arrays, objects); \
             send fewer"
        );
    }
    let mut socket = connect(addr(&host), "/api").await;
    let frame = format!(r#"{{"action":"probe_echo","params":{{"pad":{pad}}},"echo":1}}"#);
    let reply = ws_reply(&mut socket, Message::text(frame)).await;
    assert!(
        failed(&reply, 1400).contains("more than 262144 values"),
        "{reply}"
    );

    // 200,000 values and a megabyte of text: within the limit, answered whole.
    let pad = format!("[{}1]", "1,".repeat(199_999));
    let text = "x".repeat(1 << 20);
    let body = format!(r#"{{"pad":{pad},"text":"{text}"}}"#);
    let env = post_bytes(&host, "/probe_echo", Some("application/json"), body.into()).await;
    let params = &ok_data(&env)["params"];
    assert_eq!(params["pad"].as_array().map(Vec::len), Some(200_000));
    assert_eq!(params["text"].as_str().map(str::len), Some(1 << 20));
    let frame = format!(r#"{{"action":"probe_echo","params":{{"text":"{text}"}},"echo":2}}"#);
    let reply = ws_reply(&mut socket, Message::text(frame)).await;
    assert_eq!(reply["echo"], 2);
    assert_eq!(
        ok_data(&reply)["params"]["text"].as_str().map(str::len),
        Some(1 << 20)
    );
    assert_alive(&host).await;
    host.stop().await;
}
