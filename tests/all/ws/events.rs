//! Events from plugins on WebSocket clients (SPEC W5, M4, E6, P4), and mock-account's events
//! for testing a bot without QQ.

use serde_json::json;

use super::client::{call, connect, next_event, next_json, send, subscribed, ws_host};
use crate::harness::{failed, guest, ok_data, shared_cache};

async fn two_format_host(dir: &std::path::Path) -> onebot_host::Host {
    let plugins = dir.join("plugins");
    std::fs::create_dir(&plugins).expect("dir");
    for (from, to) in [
        ("probe.wasm", "probe.wasm"),
        ("mock_account.wasm", "mock-account.wasm"),
    ] {
        std::fs::copy(guest(from), plugins.join(to)).expect("copy");
    }
    let text = format!(
        r#"{{ network: {{ httpServers: [
            {{ name: "array", enable: true, port: 0, enableWebsocket: true, heartInterval: 0 }},
            {{ name: "string", enable: true, port: 0, enableWebsocket: true, heartInterval: 0,
               messagePostFormat: "string" }} ] }},
           plugins: {{ dir: {:?}, cacheDir: {:?} }} }}"#,
        plugins.display().to_string(),
        shared_cache().display().to_string()
    );
    let config = onebot_host::config::parse(&text, &dir.join("c.json5"))
        .expect("config")
        .config;
    onebot_host::start(config).await.expect("start")
}

#[tokio::test]
async fn w5_m4_events_reach_every_server_each_in_its_format() {
    let dir = tempfile::tempdir().expect("tmp");
    let host = two_format_host(dir.path()).await;
    let mut array = subscribed(host.addrs[0], "/").await;
    let mut string = subscribed(host.addrs[1], "/event").await;
    let mut api = connect(host.addrs[1], "/api").await;

    // A plugin emits a message event without time or self_id; the message is a CQ string.
    let emitted = call(
        &mut api,
        json!({"action": "probe_emit", "params": {"event": {
            "post_type": "message", "message_type": "private", "user_id": 1,
            "message": "a&#91;b&#93;[CQ:face,id=178]"}}, "echo": 1}),
    )
    .await;
    ok_data(&emitted);

    let a = next_event(&mut array).await;
    assert_eq!(a["message_format"], "array", "M4");
    assert_eq!(
        a["message"],
        json!([{"type":"text","data":{"text":"a[b]"}},{"type":"face","data":{"id":"178"}}])
    );
    assert_eq!(a["raw_message"], "a&#91;b&#93;[CQ:face,id=178]", "M4");
    let s = next_event(&mut string).await;
    assert_eq!(s["message_format"], "string", "M4");
    assert_eq!(s["message"], "a&#91;b&#93;[CQ:face,id=178]");
    assert_eq!(s["raw_message"], "a&#91;b&#93;[CQ:face,id=178]");
    for event in [&a, &s] {
        assert!(
            event["time"].as_i64().is_some_and(|t| t > 1_600_000_000),
            "W5"
        );
        // E6: mock-account provides get_login_info, so its user_id is the self_id.
        assert_eq!(event["self_id"], 2_854_196_310_i64, "W5, E6");
    }
    host.stop().await;
}

#[tokio::test]
async fn mock_account_receive_and_send_emit_message_events() {
    let dir = tempfile::tempdir().expect("tmp");
    let host = two_format_host(dir.path()).await;
    let mut bot = subscribed(host.addrs[0], "/").await;
    let mut api = connect(host.addrs[0], "/api").await;

    let reply = call(
        &mut api,
        json!({"action": "mock_receive_private_msg",
               "params": {"user_id": 10001, "message": "hello [CQ:face,id=1]", "nickname": "Alice"}}),
    )
    .await;
    let message_id = ok_data(&reply)["message_id"].clone();
    let event = next_event(&mut bot).await;
    assert_eq!(event["post_type"], "message");
    assert_eq!(event["message_type"], "private");
    assert_eq!(event["sub_type"], "friend");
    assert_eq!(event["message_id"], message_id);
    assert_eq!(event["user_id"], 10001);
    assert_eq!(event["font"], 0);
    assert_eq!(
        event["sender"],
        json!({"user_id": 10001, "nickname": "Alice"})
    );
    assert_eq!(
        event["message"],
        json!([{"type":"text","data":{"text":"hello "}},{"type":"face","data":{"id":"1"}}])
    );
    assert_eq!(event["raw_message"], "hello [CQ:face,id=1]");
    assert_eq!(event["self_id"], 2_854_196_310_i64);

    // The bot answers over its own socket: a reply, and a message_sent event.
    send(
        &mut bot,
        json!({"action": "send_private_msg", "params": {"user_id": 10001, "message": "hi"}, "echo": "s"}),
    )
    .await;
    let (mut reply, mut sent) = (None, None);
    while reply.is_none() || sent.is_none() {
        let frame = next_json(&mut bot).await;
        if frame.get("post_type").is_some() {
            sent = Some(frame);
        } else {
            reply = Some(frame);
        }
    }
    let (reply, sent) = (reply.expect("reply"), sent.expect("event"));
    assert_eq!(reply["echo"], "s");
    assert_eq!(sent["post_type"], "message_sent");
    assert_eq!(sent["message_type"], "private");
    assert_eq!(sent["target_id"], 10001);
    assert_eq!(sent["message_id"], ok_data(&reply)["message_id"]);
    assert_eq!(sent["raw_message"], "hi");

    // Group messages too; bad params are 1400 like any action.
    let reply = call(
        &mut api,
        json!({"action": "mock_receive_group_msg",
               "params": {"group_id": 20001, "user_id": 10002, "message": "yo"}}),
    )
    .await;
    ok_data(&reply);
    let event = next_event(&mut bot).await;
    assert_eq!(
        (
            &event["message_type"],
            &event["group_id"],
            &event["sender"]["nickname"]
        ),
        (&json!("group"), &json!(20001), &json!("user10002"))
    );
    let reply = call(
        &mut api,
        json!({"action": "mock_receive_private_msg", "params": {"message": "x"}}),
    )
    .await;
    failed(&reply, 1400);
    host.stop().await;
}

#[tokio::test]
async fn p4_an_invalid_event_is_refused_to_the_plugin() {
    let host = ws_host("heartInterval: 0").await;
    for (event, reason) in [
        (json!("not json"), "not JSON"),
        (json!("[1]"), "JSON object"),
        (json!({"no": "post_type"}), "post_type"),
    ] {
        let env = host.post("probe_emit", json!({"event": event})).await;
        let message = failed(&env, 1200);
        assert!(message.contains(reason), "{event}: {message}");
    }
    host.stop().await;
}
