//! Issue 20, item 1: a `message` cannot expand without bound before a plugin sees it
//! (SPEC M5, C6). Each test would have passed the message to the plugin on the old code.

use serde_json::json;

use crate::harness::{Setup, failed, ok_data};

/// M5: a megabyte of `[CQ:a]` is 174,763 segments, beyond the default 10,000: refused with
/// 1400 naming the key, instead of growing to hundreds of MB of segments.
#[tokio::test]
async fn m5_cq_string_past_max_message_segments_is_1400() {
    let host = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")])
        .start()
        .await;
    let message = "[CQ:a]".repeat((1 << 20) / 6);
    let env = host
        .post(
            "send_private_msg",
            json!({"user_id": 12345678, "message": message}),
        )
        .await;
    let error = failed(&env, 1400);
    assert!(error.contains("limits.maxMessageSegments"), "{error}");
    assert!(error.contains("10000"), "{error}");
    // The host still serves an ordinary message afterwards.
    let env = host
        .post(
            "send_private_msg",
            json!({"user_id": 12345678, "message": "[CQ:face,id=1] hi"}),
        )
        .await;
    assert!(ok_data(&env)["message_id"].is_i64(), "{env}");
    host.stop().await;
}

/// M5, C6: both limits are config keys; an array past `maxMessageSegments` and a message
/// past `maxMessageBytes` as segments are refused alike, and one within them is not.
#[tokio::test]
async fn m5_limits_section_bounds_arrays_and_bytes() {
    let mut setup = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")]);
    setup.rest = "limits: { maxMessageSegments: 3, maxMessageBytes: 65536 },".to_owned();
    let host = setup.start().await;
    let segment = json!({"type": "face", "data": {"id": "1"}});
    let env = host
        .post(
            "send_private_msg",
            json!({"user_id": 1, "message": [segment, segment, segment, segment]}),
        )
        .await;
    let error = failed(&env, 1400);
    assert!(error.contains("more than 3 segments"), "{error}");
    // 40,000 control characters are 40 KB of body but 240 KB as escaped JSON text.
    let text = "\u{1}".repeat(40_000);
    let env = host
        .post("send_private_msg", json!({"user_id": 1, "message": text}))
        .await;
    let error = failed(&env, 1400);
    assert!(error.contains("limits.maxMessageBytes"), "{error}");
    let env = host
        .post(
            "send_private_msg",
            json!({"user_id": 1, "message": [segment, segment, segment]}),
        )
        .await;
    assert!(ok_data(&env)["message_id"].is_i64(), "{env}");
    host.stop().await;
}
