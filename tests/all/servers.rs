//! NapCat's other server kinds (issue 15), each on a port of its own beside the test's http
//! server: a `websocketServers` entry (WebSocket only: 426 to plain HTTP, W1–W6 otherwise) and
//! an `httpSseServers` entry (the HTTP API plus `GET /_events`); and M4's `raw_message` on
//! every connection kind that carries events.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

use crate::harness::{Setup, TestHost, envelope, failed, ok_data};
use crate::reverse_ws::bot::Bot;
use crate::ws::client::{WAIT, call, next_event, next_json, try_connect};

const MOCK_SELF_ID: i64 = 2_854_196_310;

async fn host_with(network: &str) -> TestHost {
    Setup::with_plugins(&[
        ("probe.wasm", "probe.wasm"),
        ("mock_account.wasm", "mock-account.wasm"),
    ])
    .network(network)
    .start()
    .await
}

fn addrs(host: &TestHost) -> Vec<std::net::SocketAddr> {
    host.host.as_ref().expect("host").addrs.clone()
}

/// The emitted message event of M4's example: `raw_message` empty, `message` as segments.
fn message_event() -> Value {
    json!({"event": {"post_type": "message", "message_type": "private", "user_id": 1,
        "raw_message": "", "message": [
            {"type": "text", "data": {"text": "hi [x]"}},
            {"type": "face", "data": {"id": "178"}}]}})
}

const RAW: &str = "hi &#91;x&#93;[CQ:face,id=178]";

#[tokio::test]
async fn websocket_servers_entry_has_its_own_port_token_heartbeats_and_format() {
    let host = host_with(
        r#"websocketServers: [{ name: "ws", enable: true, port: 0, token: "t0k",
            heartInterval: 50, messagePostFormat: "string" }]"#,
    )
    .await;
    let ws = addrs(&host)[1];
    assert_ne!(ws, addrs(&host)[0], "a port of its own");

    // Plain HTTP is told to upgrade, with an envelope for whoever reads it.
    let response = reqwest::get(format!("http://{ws}/get_status"))
        .await
        .expect("answered");
    assert_eq!(response.status(), 426, "WebSocket only");
    assert_eq!(
        response
            .headers()
            .get("upgrade")
            .and_then(|v| v.to_str().ok()),
        Some("websocket")
    );
    let body: Value = response.json().await.expect("an envelope");
    assert!(failed(&body, 1400).contains("WebSocket"), "{body}");

    // W2: the token is checked at the handshake.
    match try_connect(ws, "/", &[]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403, "W2"),
        other => panic!("W2: a handshake without the token is refused, got {other:?}"),
    }
    let mut client = try_connect(ws, "/", &[("authorization", "Bearer t0k")])
        .await
        .expect("the token is accepted");
    let first = next_json(&mut client).await;
    assert_eq!(first["sub_type"], "connect", "W3: {first}");
    assert_eq!(first["self_id"], MOCK_SELF_ID);
    let beat = next_json(&mut client).await;
    assert_eq!(beat["meta_event_type"], "heartbeat", "W3: heartInterval");
    assert_eq!(beat["interval"], 50);

    // M4: its own messagePostFormat, whatever the http server's.
    ok_data(&host.post("probe_emit", message_event()).await);
    let event = next_event(&mut client).await;
    assert_eq!(event["message_format"], "string", "M4");
    assert_eq!(event["message"], RAW);
    // W4: API frames are answered on it.
    let reply = call(
        &mut client,
        json!({"action": "get_login_info", "echo": "e"}),
    )
    .await;
    assert_eq!(ok_data(&reply)["user_id"], MOCK_SELF_ID);
    assert_eq!(reply["echo"], "e");
    host.stop().await;
}

#[tokio::test]
async fn http_sse_servers_entry_serves_the_api_and_streams_events() {
    let host =
        host_with(r#"httpSseServers: [{ name: "sse", enable: true, port: 0, token: "t0k" }]"#)
            .await;
    let sse = addrs(&host)[1];
    let http = reqwest::Client::new();

    // The HTTP API, with the HTTP token rules (H6).
    let env = envelope(
        http.post(format!("http://{sse}/get_login_info"))
            .bearer_auth("t0k")
            .json(&json!({})),
    )
    .await;
    assert_eq!(ok_data(&env)["user_id"], MOCK_SELF_ID);
    failed(
        &envelope(http.post(format!("http://{sse}/get_login_info"))).await,
        1403,
    );
    let refused = http
        .get(format!("http://{sse}/_events"))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 403, "H6: no token, no stream");

    let mut stream = EventStream::open(&format!("http://{sse}/_events?access_token=t0k")).await;
    let first = stream.next().await;
    assert_eq!(first["sub_type"], "connect", "W3: lifecycle first: {first}");
    ok_data(
        &host
            .post(
                "probe_emit",
                json!({"event": {"post_type": "notice", "notice_type": "n1"}}),
            )
            .await,
    );
    let event = stream.next().await;
    assert_eq!(event["notice_type"], "n1");
    assert_eq!(event["self_id"], MOCK_SELF_ID, "W5");
    host.stop().await;
}

#[tokio::test]
async fn m4_raw_message_is_the_cq_string_on_reverse_ws_websocket_server_and_sse() {
    let mut bot = Bot::listen().await;
    let host = host_with(&format!(
        r#"websocketClients: [{{ name: "bot", enable: true, url: "{}", heartInterval: 0 }}],
           websocketServers: [{{ name: "ws", enable: true, port: 0, heartInterval: 0,
                                 messagePostFormat: "string" }}],
           httpSseServers: [{{ name: "sse", enable: true, port: 0 }}]"#,
        bot.url("/")
    ))
    .await;
    let (ws, sse) = (addrs(&host)[1], addrs(&host)[2]);
    let mut reverse = bot.next_connection().await.socket;
    assert_eq!(next_json(&mut reverse).await["sub_type"], "connect");
    let mut forward = try_connect(ws, "/", &[]).await.expect("connects");
    assert_eq!(next_json(&mut forward).await["sub_type"], "connect");
    let mut stream = EventStream::open(&format!("http://{sse}/_events")).await;
    assert_eq!(stream.next().await["sub_type"], "connect");

    ok_data(&host.post("probe_emit", message_event()).await);
    let on_reverse = next_event(&mut reverse).await;
    let on_server = next_event(&mut forward).await;
    let on_sse = stream.next().await;
    for (kind, event, format) in [
        ("reverse WebSocket", &on_reverse, "array"),
        ("websocketServers", &on_server, "string"),
        ("httpSseServers", &on_sse, "array"),
    ] {
        assert_eq!(event["raw_message"], RAW, "M4 on {kind}: {event}");
        assert_eq!(event["message_format"], format, "M4 on {kind}");
    }
    host.stop().await;
}

/// A server-sent event stream read with reqwest: each event's `data` as JSON.
struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl EventStream {
    async fn open(url: &str) -> EventStream {
        let response = reqwest::get(url).await.expect("stream opens");
        assert_eq!(response.status(), 200, "{url}");
        EventStream {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next event's data (keep-alive comments skipped); fails the test after [`WAIT`].
    async fn next(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("UTF-8");
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(|data| data.strip_prefix(' ').unwrap_or(data))
                    .collect();
                if !data.is_empty() {
                    return serde_json::from_str(&data.join("\n")).expect("data is JSON");
                }
                continue;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let chunk =
                tokio::time::timeout(left.max(Duration::from_millis(1)), self.response.chunk())
                    .await
                    .expect("an event in time")
                    .expect("the stream reads")
                    .expect("the stream is open");
            self.buffer.extend_from_slice(&chunk);
        }
    }
}
