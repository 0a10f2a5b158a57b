//! `websocketClients` (reverse WebSocket, SPEC RW1–RW5): the host dials a bot played by a real
//! WebSocket server in the test (`bot`), and that socket behaves as a forward universal one
//! (W3–W6, M4). Every wait has a timeout; nothing sleeps.

pub(crate) mod bot;

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Setup, TestHost, failed, ok_data};
use crate::ws::client::{
    Client, WAIT, call, close_code, connect, next_event, next_json, next_reply,
};
use bot::{Bot, Connection};

/// mock-account's `get_login_info` user_id, the host's `self_id` with it loaded (E6).
const MOCK_SELF_ID: i64 = 2_854_196_310;

/// A host with probe and mock-account, `enableWebsocket` on its http server, and `clients`
/// as its `websocketClients` list.
async fn host_with_clients(clients: &str) -> TestHost {
    Setup::with_plugins(&[
        ("probe.wasm", "probe.wasm"),
        ("mock_account.wasm", "mock-account.wasm"),
    ])
    .server("enableWebsocket: true, heartInterval: 0")
    .network(&format!("websocketClients: [{clients}]"))
    .start()
    .await
}

/// One `websocketClients` entry for `url` with `fields`, and the test defaults for the
/// fields it does not set (name "bot", no heartbeats, redial after 100 ms).
pub(crate) fn client(url: &str, fields: &str) -> String {
    let defaults = [
        ("name", r#""bot""#),
        ("heartInterval", "0"),
        ("reconnectInterval", "100"),
    ]
    .iter()
    .filter(|(key, _)| !fields.contains(&format!("{key}:")))
    .map(|(key, value)| format!("{key}: {value}, "))
    .collect::<String>();
    format!(r#"{{ enable: true, url: "{url}", {defaults}{fields} }}"#)
}

/// The host's next connection to `bot`, once its lifecycle event has arrived (so it is
/// subscribed to events).
async fn connected(bot: &mut Bot) -> Connection {
    let mut connection = bot.next_connection().await;
    let first = next_json(&mut connection.socket).await;
    assert_eq!(first["meta_event_type"], "lifecycle", "RW2, W3: {first}");
    connection
}

#[tokio::test]
async fn rw1_rw2_the_host_dials_with_its_headers_then_sends_lifecycle_and_heartbeats() {
    let mut bot = Bot::listen().await;
    let host = host_with_clients(&client(
        &bot.url("/onebot/v11/ws"),
        r#"token: "s3cret", heartInterval: 50"#,
    ))
    .await;
    let mut connection = bot.next_connection().await;
    assert_eq!(connection.path, "/onebot/v11/ws", "RW1: the URL's path");
    assert_eq!(
        connection.header("x-self-id"),
        Some("2854196310"),
        "RW1, E6: the bot's id, from the plugin providing get_login_info"
    );
    assert_eq!(connection.header("x-client-role"), Some("Universal"), "RW1");
    assert_eq!(
        connection.header("authorization"),
        Some("Bearer s3cret"),
        "RW1"
    );
    assert!(
        connection
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("onebot-host/")),
        "RW1: {:?}",
        connection.header("user-agent")
    );

    let first = next_json(&mut connection.socket).await;
    assert_eq!(
        (
            &first["post_type"],
            &first["meta_event_type"],
            &first["sub_type"]
        ),
        (&json!("meta_event"), &json!("lifecycle"), &json!("connect")),
        "RW2, W3: the first frame is the lifecycle connect event"
    );
    assert_eq!(first["self_id"], MOCK_SELF_ID);
    for _ in 0..2 {
        let beat = next_json(&mut connection.socket).await;
        assert_eq!(beat["meta_event_type"], "heartbeat", "RW2, W3: {beat}");
        assert_eq!(beat["interval"], 50);
        assert_eq!(beat["self_id"], MOCK_SELF_ID);
    }
    host.stop().await;
}

#[tokio::test]
async fn rw1_without_a_token_no_authorization_header_is_sent() {
    let mut bot = Bot::listen().await;
    let host = host_with_clients(&client(&bot.url("/"), "")).await;
    let connection = bot.next_connection().await;
    assert_eq!(connection.header("authorization"), None, "RW1");
    assert_eq!(connection.header("x-client-role"), Some("Universal"));
    host.stop().await;
}

#[tokio::test]
async fn rw2_api_frames_get_the_answers_a_forward_socket_gets() {
    let mut bot = Bot::listen().await;
    let host = host_with_clients(&client(&bot.url("/"), "")).await;
    let mut reverse = connected(&mut bot).await.socket;
    let mut forward = connect(host.host.as_ref().expect("host").addrs[0], "/api").await;

    let frames = [
        json!({"action": "send_private_msg", "params": {"user_id": 10001, "message": "hi [CQ:face,id=178]"}, "echo": {"n": 1}}),
        json!({"action": "get_login_info", "echo": "who"}),
        json!({"action": "nope", "echo": 7}),
        json!({"params": {}, "echo": "no action"}),
    ];
    for frame in frames {
        let over_reverse = call(&mut reverse, frame.clone()).await;
        let over_forward = call(&mut forward, frame.clone()).await;
        assert_eq!(
            without_message_id(over_reverse),
            without_message_id(over_forward),
            "RW2: {frame}"
        );
    }
    // The reply to send_private_msg is mock-account's.
    let sent = call(
        &mut reverse,
        json!({"action": "send_private_msg", "params": {"user_id": 1, "message": "x"}, "echo": "s"}),
    )
    .await;
    assert!(ok_data(&sent)["message_id"].is_i64(), "{sent}");
    assert_eq!(sent["echo"], "s", "E3");
    // A frame that is not JSON: 1400 with echo null, and the socket stays open.
    reverse.send(Message::text("not json")).await.expect("sent");
    let reply = next_reply(&mut reverse).await;
    failed(&reply, 1400);
    assert_eq!(reply["echo"], Value::Null, "W4");
    assert_eq!(
        failed(&call(&mut reverse, json!({"action": "nope"})).await, 1404),
        "不支持的API nope"
    );
    host.stop().await;
}

/// A reply with `data.message_id` blanked: mock-account numbers each message anew.
fn without_message_id(mut reply: Value) -> Value {
    if let Some(id) = reply.pointer_mut("/data/message_id") {
        *id = json!("any");
    }
    reply
}

#[tokio::test]
async fn rw2_m4_events_arrive_in_each_clients_format_and_report_self_message_is_respected() {
    let (mut array_bot, mut string_bot) = (Bot::listen().await, Bot::listen().await);
    let clients = format!(
        "{}, {}",
        client(&array_bot.url("/"), "reportSelfMessage: true"),
        client(
            &string_bot.url("/"),
            r#"name: "s", messagePostFormat: "string""#
        ),
    );
    let host = host_with_clients(&clients).await;
    let mut array = connected(&mut array_bot).await.socket;
    let mut string = connected(&mut string_bot).await.socket;

    // M4: raw_message is the CQ string whatever the plugin put there.
    let env = host
        .post(
            "probe_emit",
            json!({"event": {"post_type": "message", "message_type": "private", "user_id": 1,
                   "raw_message": "", "message": [
                       {"type": "text", "data": {"text": "hi [x]"}},
                       {"type": "face", "data": {"id": "178"}}]}}),
        )
        .await;
    ok_data(&env);
    let a = next_event(&mut array).await;
    assert_eq!(a["message_format"], "array", "M4");
    assert_eq!(
        a["message"],
        json!([{"type":"text","data":{"text":"hi [x]"}},{"type":"face","data":{"id":"178"}}])
    );
    assert_eq!(a["raw_message"], "hi &#91;x&#93;[CQ:face,id=178]", "M4");
    assert_eq!(a["self_id"], MOCK_SELF_ID, "W5");
    let s = next_event(&mut string).await;
    assert_eq!(s["message_format"], "string", "M4");
    assert_eq!(s["message"], "hi &#91;x&#93;[CQ:face,id=178]");
    assert_eq!(s["raw_message"], "hi &#91;x&#93;[CQ:face,id=178]", "M4");

    // The bot's own message (message_sent) goes only to the entry with reportSelfMessage.
    ok_data(
        &host
            .post("send_private_msg", json!({"user_id": 5, "message": "mine"}))
            .await,
    );
    ok_data(
        &host
            .post(
                "probe_emit",
                json!({"event": {"post_type": "notice", "notice_type": "marker"}}),
            )
            .await,
    );
    let own = next_event(&mut array).await;
    assert_eq!(own["post_type"], "message_sent", "reportSelfMessage: true");
    assert_eq!(own["raw_message"], "mine");
    assert_eq!(next_event(&mut array).await["notice_type"], "marker");
    assert_eq!(
        next_event(&mut string).await["notice_type"],
        "marker",
        "reportSelfMessage: false (NapCat's default) skips message_sent"
    );
    host.stop().await;
}

#[tokio::test]
async fn rw3_when_the_bot_closes_the_host_dials_again() {
    let mut bot = Bot::listen().await;
    let host = host_with_clients(&client(&bot.url("/ws"), "")).await;
    let mut first = connected(&mut bot).await.socket;
    first.close(None).await.expect("bot closes");

    let mut second = connected(&mut bot).await;
    assert_eq!(second.path, "/ws", "RW3: the same URL");
    let reply = call(
        &mut second.socket,
        json!({"action": "get_login_info", "echo": 1}),
    )
    .await;
    assert_eq!(
        ok_data(&reply)["user_id"],
        MOCK_SELF_ID,
        "RW3: served again"
    );
    host.stop().await;
}

#[tokio::test]
async fn rw3_a_bot_that_is_not_up_yet_is_reached_once_it_listens() {
    // Reserve a port, then free it: nothing listens there until the bot binds it again.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let host = host_with_clients(&client(&format!("ws://127.0.0.1:{port}/"), "")).await;
    let mut bot = Bot::listen_on(port).await;
    connected(&mut bot).await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rw5_a_dead_bot_and_a_slow_bot_do_not_hold_up_a_healthy_one() {
    const EVENTS: u64 = 1_000;
    const BATCH: u64 = 25;
    let mut healthy_bot = Bot::listen().await;
    let mut slow_bot = Bot::listen_with_small_buffer().await;
    let dead_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    // A bot that accepts TCP but never answers the handshake.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("ws://{}/", silent.local_addr().expect("addr"));
    let clients = [
        client(&format!("ws://127.0.0.1:{dead_port}/"), r#"name: "dead""#),
        client(&silent_url, r#"name: "silent""#),
        client(&slow_bot.url("/"), r#"name: "slow", wsQueueMessages: 32"#),
        client(
            &healthy_bot.url("/"),
            r#"name: "healthy", wsQueueMessages: 64"#,
        ),
    ]
    .join(", ");
    let host = host_with_clients(&clients).await;
    // The slow bot never reads, not even its lifecycle event.
    let slow = slow_bot.next_connection().await;
    let mut healthy = connected(&mut healthy_bot).await.socket;

    // 8 MiB of events (the kernel buffers a few MiB before a write to the slow bot blocks),
    // 8 KiB each in batches of 25, the next once the healthy bot has read the last: it never
    // has more than 25 queued (of 64), whatever the machine's speed.
    let mut sent = 0;
    while sent < EVENTS {
        let env = host
            .post(
                "probe_emit",
                json!({"event": {"post_type": "notice", "notice_type": "r5"},
                       "count": BATCH, "seq_from": sent, "pad": 8192}),
            )
            .await;
        assert_eq!(
            ok_data(&env)["emitted"],
            BATCH,
            "the plugin is never held up"
        );
        for expected in sent..sent + BATCH {
            let event = next_event(&mut healthy).await;
            assert_eq!(event["seq"], expected, "RW5: every event, in order");
        }
        sent += BATCH;
    }
    // W6: the slow bot fell behind, was closed, and is dialled again.
    let mut again = slow_bot.next_connection().await;
    assert_eq!(
        next_json(&mut again.socket).await["meta_event_type"],
        "lifecycle",
        "RW3: a fresh connection after falling behind"
    );
    drop(slow);
    host.stop().await;
}

#[tokio::test]
async fn rw4_stopping_the_host_closes_the_socket_with_1001_and_ends_every_dialler() {
    let mut bot = Bot::listen().await;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("ws://{}/", listener.local_addr().expect("addr"))
    };
    let clients = format!(
        "{}, {}",
        client(&bot.url("/"), ""),
        client(&dead, r#"name: "dead", reconnectInterval: 86400000"#)
    );
    let host = host_with_clients(&clients).await;
    let mut socket: Client = connected(&mut bot).await.socket;
    let stop = tokio::spawn(host.stop());
    assert_eq!(close_code(&mut socket).await, Some(1001), "RW4");
    tokio::time::timeout(WAIT, stop)
        .await
        .expect("RW4: stop returns although a dialler waits a day to redial")
        .expect("stopped");
}
