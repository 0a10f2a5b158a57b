//! WebSocket on the HTTP port, rule by rule (SPEC W1–W6, M4, E3, E3b, E6, P4), against a real
//! server with a real client (tokio-tungstenite). Every wait has a timeout; nothing sleeps.
//!
//! - this file: the handshake and API frames (W1–W4) and shutdown;
//! - `events`: events from plugins to every server in its format (W5, M4, E6, P4), mock-account;
//! - `slow_client`: the slow-client rule (W6) with 100 readers;
//! - `client`: the test client.

pub(crate) mod client;
mod events;
mod slow_client;

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::harness::{Setup, failed, ok_data, wait_for};
use client::{
    addr, call, connect, next_event, next_json, next_reply, send, subscribed, try_connect,
    until_closed, ws_host,
};

#[tokio::test]
async fn w3_lifecycle_first_then_heartbeats_every_interval() {
    let host = ws_host("heartInterval: 50").await;
    let mut client = connect(addr(&host), "/").await;
    let first = next_json(&mut client).await;
    assert_eq!(first["post_type"], "meta_event");
    assert_eq!(first["meta_event_type"], "lifecycle");
    assert_eq!(first["sub_type"], "connect");
    assert_eq!(first["self_id"], 10000, "C3b: bot.selfId by default");
    assert!(first["time"].is_i64());
    for _ in 0..2 {
        let beat = next_json(&mut client).await;
        assert_eq!(beat["post_type"], "meta_event");
        assert_eq!(beat["meta_event_type"], "heartbeat");
        assert_eq!(beat["status"], json!({"online": true, "good": true}));
        assert_eq!(beat["interval"], 50);
        assert_eq!(beat["self_id"], 10000);
        assert!(beat["time"].is_i64());
    }
    host.stop().await;
}

/// E6a: `get_status` counts the connections that receive events now: universal clients, not
/// `/api` ones, and one fewer once a client has gone.
#[tokio::test]
async fn e6a_get_status_counts_the_connections_receiving_events() {
    let host = ws_host("heartInterval: 0").await;
    let addr = addr(&host);
    let subscribers = || async {
        ok_data(&host.post("get_status", json!({})).await)["stat"]["event_subscribers"].clone()
    };
    assert_eq!(subscribers().await, 0, "nobody connected");
    let first = subscribed(addr, "/").await;
    let _second = subscribed(addr, "/event").await;
    let _api = connect(addr, "/api").await;
    assert_eq!(
        subscribers().await,
        2,
        "two universal clients; /api receives no events"
    );
    drop(first);
    wait_for("event_subscribers back to 1", || async {
        (subscribers().await == 1).then_some(())
    })
    .await;
    host.stop().await;
}

#[tokio::test]
async fn w1_every_path_but_api_is_universal() {
    let host = ws_host("heartInterval: 0").await;
    let addr = addr(&host);
    let mut universal = Vec::new();
    for path in ["/", "/event", "/anything/else?x=1", "/apis"] {
        universal.push(subscribed(addr, path).await);
    }
    let mut api = connect(addr, "/api?x=1").await;
    assert_eq!(
        host.host.as_ref().expect("host").events.subscribers(),
        4,
        "W1: /api does not subscribe to events"
    );
    let env = host
        .post(
            "probe_emit",
            json!({"event": {"post_type": "notice", "n": 1}}),
        )
        .await;
    ok_data(&env);
    for client in &mut universal {
        assert_eq!(next_event(client).await["n"], 1, "W5");
    }
    // API calls work on both kinds; on /api the first frame is the reply, not an event.
    send(&mut api, json!({"action": "probe_echo", "echo": "a"})).await;
    let first = next_json(&mut api).await;
    assert!(first.get("post_type").is_none(), "W1, E3b: {first}");
    assert_eq!(first["echo"], "a");
    let reply = call(
        &mut universal[1],
        json!({"action": "probe_echo", "echo": "u"}),
    )
    .await;
    assert_eq!(ok_data(&reply)["action"], "probe_echo");
    assert_eq!(reply["echo"], "u");
    host.stop().await;
}

#[tokio::test]
async fn w2_a_bad_token_refuses_the_handshake_with_403() {
    let host = ws_host(r#"token: "s3cret""#).await;
    let addr = addr(&host);
    let refusals: [(&str, &[(&str, &str)]); 4] = [
        ("/", &[]),
        ("/api", &[("authorization", "Bearer wrong")]),
        ("/?access_token=wrong", &[]),
        // The query, when present, is the one checked (H6).
        (
            "/?access_token=wrong",
            &[("authorization", "Bearer s3cret")],
        ),
    ];
    for (path, headers) in refusals {
        match try_connect(addr, path, headers).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "W2: {path} {headers:?}");
            }
            other => panic!("W2: {path} {headers:?} should be refused, got {other:?}"),
        }
    }
    let accepted: [(&str, &[(&str, &str)]); 4] = [
        ("/", &[("authorization", "Bearer s3cret")]),
        ("/", &[("authorization", "Token s3cret")]),
        ("/?access_token=s3cret", &[]),
        ("/api?access_token=s3cret", &[]),
    ];
    for (path, headers) in accepted {
        let mut client = try_connect(addr, path, headers)
            .await
            .unwrap_or_else(|e| panic!("{path} {headers:?}: {e}"));
        let reply = call(&mut client, json!({"action": "get_status", "echo": 1})).await;
        ok_data(&reply);
    }
    host.stop().await;
}

#[tokio::test]
async fn w2_without_enable_websocket_an_upgrade_is_a_plain_http_call() {
    let host = Setup::default().start().await;
    match try_connect(addr(&host), "/probe_echo", &[]).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 200, "answered as an HTTP call");
            let body = response.body().as_deref().unwrap_or_default();
            let env: Value = serde_json::from_slice(body).expect("an envelope");
            assert_eq!(ok_data(&env)["action"], "probe_echo");
        }
        other => panic!("expected a plain HTTP answer, got {other:?}"),
    }
    host.stop().await;
}

#[tokio::test]
async fn w4_replies_keep_the_echo_and_its_json_type() {
    let host = ws_host("heartInterval: 0").await;
    let mut client = connect(addr(&host), "/api").await;
    for echo in [
        json!("123"),
        json!(7),
        json!({"seq": [1, "a"]}),
        json!(null),
    ] {
        let reply = call(
            &mut client,
            json!({"action": "probe_echo", "params": {"a": 1}, "echo": echo}),
        )
        .await;
        assert_eq!(reply["echo"], echo, "E3");
        assert_eq!(ok_data(&reply)["params"], json!({"a": 1}));
        assert!(reply.get("post_type").is_none(), "E3b");
        assert_eq!(reply["message"], "");
    }
    // No echo at all: null. JSON5 frames are accepted.
    let reply = call(&mut client, json!({"action": "get_status"})).await;
    assert_eq!(reply["echo"], Value::Null);
    client
        .send(Message::text(
            "{action: 'probe_echo', echo: 'j5', // JSON5\n}",
        ))
        .await
        .expect("sent");
    assert_eq!(next_reply(&mut client).await["echo"], "j5");
    // M3 applies on WebSocket too: the plugin sees segments.
    let reply = call(
        &mut client,
        json!({"action": "probe_echo", "params": {"message": "hi[CQ:face,id=1]"}}),
    )
    .await;
    assert_eq!(
        ok_data(&reply)["params"]["message"],
        json!([{"type":"text","data":{"text":"hi"}},{"type":"face","data":{"id":"1"}}])
    );
    host.stop().await;
}

#[tokio::test]
async fn w4_a_bad_frame_is_1400_with_echo_null_and_the_socket_stays_open() {
    let host = ws_host("heartInterval: 0").await;
    let mut client = connect(addr(&host), "/api").await;
    for text in ["not json", "[1,2]", "", "{\"action\": 5}", "\"x\""] {
        client.send(Message::text(text)).await.expect("sent");
        let reply = next_reply(&mut client).await;
        failed(&reply, 1400);
        assert_eq!(reply["echo"], Value::Null, "W4: {text:?}");
    }
    // A frame that parses keeps its echo even when it is not a call.
    let reply = call(&mut client, json!({"params": {}, "echo": "e1"})).await;
    assert!(failed(&reply, 1400).contains("action"));
    assert_eq!(reply["echo"], "e1");
    // Binary frames: JSON inside is a call, anything else a 1400.
    client
        .send(Message::binary(&b"\xff\x00garbage"[..]))
        .await
        .expect("sent");
    failed(&next_reply(&mut client).await, 1400);
    client
        .send(Message::binary(
            json!({"action": "probe_echo", "echo": "bin"})
                .to_string()
                .into_bytes(),
        ))
        .await
        .expect("sent");
    let reply = next_reply(&mut client).await;
    assert_eq!(ok_data(&reply)["action"], "probe_echo");
    assert_eq!(reply["echo"], "bin");
    host.stop().await;
}

#[tokio::test]
async fn w4_unknown_action_is_1404() {
    let host = ws_host("heartInterval: 0").await;
    let mut client = subscribed(addr(&host), "/").await;
    let reply = call(&mut client, json!({"action": "nope", "echo": "x"})).await;
    assert_eq!(failed(&reply, 1404), "不支持的API nope");
    assert_eq!(reply["echo"], "x");
    host.stop().await;
}

#[tokio::test]
async fn w4_a_frame_over_max_body_bytes_closes_with_1009() {
    let host = ws_host("maxBodyBytes: 1024").await;
    let mut client = connect(addr(&host), "/api").await;
    let huge = json!({"action": "probe_echo", "params": {"x": "y".repeat(4096)}});
    // The server may close before the whole frame is written.
    let _ = client.send(Message::text(huge.to_string())).await;
    let close = until_closed(&mut client).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w4_frames_run_concurrently_and_a_slow_call_does_not_block_a_fast_one() {
    let host = ws_host("heartInterval: 0").await;
    let mut client = connect(addr(&host), "/api").await;
    send(
        &mut client,
        json!({"action": "probe_sleep", "params": {"ms": 2000}, "echo": "slow"}),
    )
    .await;
    send(&mut client, json!({"action": "probe_echo", "echo": "fast"})).await;
    let first = next_reply(&mut client).await;
    assert_eq!(
        first["echo"], "fast",
        "W4: replies in the order calls finish"
    );
    let second = next_reply(&mut client).await;
    assert_eq!(second["echo"], "slow");
    assert_eq!(ok_data(&second)["slept"], 2000);
    host.stop().await;
}

/// Two servers, one in each `messagePostFormat`, sharing one plugin set.

#[tokio::test]
async fn stopping_the_host_closes_clients_with_1001() {
    let host = ws_host("heartInterval: 0").await;
    let mut client = subscribed(addr(&host), "/").await;
    let stop = tokio::spawn(host.stop());
    let close = until_closed(&mut client).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1001);
    stop.await.expect("stopped");
}
