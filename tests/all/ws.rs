//! WebSocket on the HTTP port, rule by rule (SPEC W1–W6, M4, E3, E3b, E6, P4), against a real
//! server with a real client (tokio-tungstenite). Every wait has a timeout; nothing sleeps.

mod slow_client;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::{Setup, TestHost, failed, guest, ok_data, shared_cache};

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single expected frame may take to arrive before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn addr(host: &TestHost) -> SocketAddr {
    host.host.as_ref().expect("host running").addrs[0]
}

/// Connects to `path`, with extra handshake headers.
pub async fn try_connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> Result<Client, tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, value.parse().expect("header value"));
    }
    let (client, _response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")?;
    Ok(client)
}

pub async fn connect(addr: SocketAddr, path: &str) -> Client {
    try_connect(addr, path, &[]).await.expect("connects")
}

/// The next text frame as JSON (pings and pongs skipped). Panics on close or timeout.
pub async fn next_json(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a frame in time")
            .expect("the stream is open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("frames are JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until the socket closes; returns the close frame, if the server sent one.
pub async fn until_closed(client: &mut Client) -> Option<CloseFrame> {
    loop {
        match tokio::time::timeout(WAIT, client.next())
            .await
            .expect("the server closes in time")
        {
            Some(Ok(Message::Close(frame))) => return frame,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

async fn send(client: &mut Client, frame: Value) {
    client
        .send(Message::text(frame.to_string()))
        .await
        .expect("frame sent");
}

/// Sends one API frame and returns the next reply (E3b: a frame without `post_type`),
/// skipping events.
async fn call(client: &mut Client, frame: Value) -> Value {
    send(client, frame).await;
    next_reply(client).await
}

async fn next_reply(client: &mut Client) -> Value {
    loop {
        let frame = next_json(client).await;
        if frame.get("post_type").is_none() {
            return frame;
        }
    }
}

/// The next event, skipping replies and heartbeats.
async fn next_event(client: &mut Client) -> Value {
    loop {
        let frame = next_json(client).await;
        if frame.get("post_type").is_some() && frame["meta_event_type"] != "heartbeat" {
            return frame;
        }
    }
}

/// A universal client that has read its lifecycle event, so it is subscribed (W3).
async fn subscribed(addr: SocketAddr, path: &str) -> Client {
    let mut client = connect(addr, path).await;
    let first = next_json(&mut client).await;
    assert_eq!(first["meta_event_type"], "lifecycle", "W3: {first}");
    client
}

async fn ws_host(server: &str) -> TestHost {
    Setup::default()
        .server(&format!("enableWebsocket: true, {server}"))
        .start()
        .await
}

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

#[tokio::test]
async fn stopping_the_host_closes_clients_with_1001() {
    let host = ws_host("heartInterval: 0").await;
    let mut client = subscribed(addr(&host), "/").await;
    let stop = tokio::spawn(host.stop());
    let close = until_closed(&mut client).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1001);
    stop.await.expect("stopped");
}
