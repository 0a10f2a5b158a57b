//! Gateway mode (issue 24, SPEC G1–G8): an in-process host in front of a second onebot-host
//! (the real binary, mock-account, a `websocketServers` entry) playing NapCat.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::bin::Running;
use crate::harness::{Setup, TestHost, failed, ok_data, wait_for};

/// The upstream binary: mock-account (whose account is 2854196310), an HTTP server "direct" and a WebSocket server "napcat"
/// on `ws_port` (0: any).
fn upstream(ws_port: u16) -> Running {
    Running::launch(
        &[("mock_account.wasm", "mock-account.wasm")],
        |dir| {
            std::fs::write(
                dir.join("mock-account.json5"),
                r#"{ keyValue: ["default"] }"#,
            )
            .expect("sidecar");
            format!(
                r#"{{
  network: {{
    httpServers: [{{ name: "direct", enable: true, host: "127.0.0.1", port: 0 }}],
    websocketServers: [{{ name: "napcat", enable: true, host: "127.0.0.1", port: {ws_port}, token: "up-token",
      reportSelfMessage: true }}],
  }},
  plugins: {{ dir: {dir:?}, cacheDir: {cache:?}, watch: false }},
}}"#,
                dir = dir.display().to_string(),
                cache = crate::harness::shared_cache().display().to_string(),
            )
        },
        "info",
        None,
    )
}

/// The gateway, with `plugins` and its `upstream` section pointing at `port`.
async fn gateway(port: u16, plugins: &[(&'static str, &'static str)]) -> TestHost {
    let mut setup = Setup::with_plugins(plugins);
    setup.rest = format!(r#"upstream: {{ url: "ws://127.0.0.1:{port}", token: "up-token" }},"#);
    setup.server("enableWebsocket: true").start().await
}

async fn connected(host: &TestHost) -> Value {
    wait_for("the gateway connected to the upstream", || async {
        let page = host.get("/").await;
        let up = ok_data(&page)["upstream"].clone();
        (up["connected"] == true && up["self_id"] == 2_854_196_310_i64).then_some(up)
    })
    .await
}

/// G2, G3, G4, G7: an action no plugin provides is answered by the upstream, its reply passed
/// on with the client's echo; `GET /` shows the upstream without its token.
#[tokio::test]
async fn g2_g3_actions_pass_through_to_the_upstream() {
    let mut up = upstream(0);
    let port = up.addr("napcat").port();
    let host = gateway(port, &[("probe.wasm", "probe.wasm")]).await;
    let shown = connected(&host).await;
    assert_eq!(shown["url"], format!("ws://127.0.0.1:{port}/"));
    assert!(!shown.to_string().contains("up-token"), "G4: no token");

    let groups = host.post("get_group_list", json!({})).await;
    let direct: Value = reqwest::get(format!("http://{}/get_group_list", up.addr("direct")))
        .await
        .expect("direct call")
        .json()
        .await
        .expect("JSON");
    assert_eq!(ok_data(&groups), &direct["data"], "G3: the upstream's data");

    // A plugin's action still runs in the plugin (G2).
    let echo = host.post("probe_echo", json!({"x": 1})).await;
    assert_eq!(ok_data(&echo)["action"], "probe_echo");

    // The upstream's own failure comes back unchanged (G3): its 1404.
    let unknown = host.post("no_such_action", json!({})).await;
    assert!(failed(&unknown, 1404).contains("no_such_action"));

    // G7: the host reports the upstream's self_id.
    let login = host.post("get_login_info", json!({})).await;
    assert_eq!(ok_data(&login)["user_id"], 2_854_196_310_i64);
    host.stop().await;
}

/// G6: an upstream event reaches a client of the gateway once, as a group message event.
#[tokio::test]
async fn g6_upstream_events_reach_gateway_clients() {
    let mut up = upstream(0);
    let port = up.addr("napcat").port();
    let direct = up.addr("direct");
    let host = gateway(port, &[("probe.wasm", "probe.wasm")]).await;
    connected(&host).await;
    let ws_url = host.base.replacen("http://", "ws://", 1);
    let (mut client, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("client connects");
    let sent = reqwest::Client::new()
        .post(format!("http://{direct}/mock_receive_group_msg"))
        .json(&json!({"group_id": 777, "user_id": 10001, "message": "hello gateway"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(sent.status(), 200);
    let mut seen = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    // Read until the event, then on for a marker call's reply, so a duplicate would show.
    let mut marker_sent = false;
    loop {
        let frame = tokio::time::timeout_at(until, client.next())
            .await
            .expect("frames in time")
            .expect("open")
            .expect("frame");
        let Message::Text(text) = frame else { continue };
        let value: Value = serde_json::from_str(&text).expect("JSON");
        if value["post_type"] == "message" && value["message_type"] == "group" {
            assert_eq!(value["group_id"], 777);
            assert_eq!(value["self_id"], 2_854_196_310_i64);
            seen += 1;
            if !marker_sent {
                marker_sent = true;
                let marker = json!({"action": "probe_echo", "params": {}, "echo": "marker"});
                futures_util::SinkExt::send(&mut client, Message::text(marker.to_string()))
                    .await
                    .expect("send");
            }
        } else if value["echo"] == "marker" {
            break;
        }
    }
    assert_eq!(seen, 1, "G6: no event duplicated");
    host.stop().await;
}

/// G2, G8: with the upstream killed, calls fail at once with 1200 naming it; once it is back,
/// the gateway redials and calls succeed again.
#[tokio::test]
async fn g2_upstream_down_is_1200_then_recovers() {
    let mut up = upstream(0);
    let port = up.addr("napcat").port();
    let host = gateway(port, &[("probe.wasm", "probe.wasm")]).await;
    connected(&host).await;
    drop(up); // killed

    let down = wait_for("the gateway to notice the upstream is gone", || async {
        let reply = host.post("get_group_list", json!({})).await;
        (reply["retcode"] == 1200).then_some(reply)
    })
    .await;
    let message = failed(&down, 1200);
    assert!(
        message.contains(&format!("ws://127.0.0.1:{port}")),
        "{message}"
    );
    assert!(message.contains("not connected"), "{message}");

    let mut again = upstream(port);
    again.addr("napcat");
    connected(&host).await;
    let groups = host.post("get_group_list", json!({})).await;
    ok_data(&groups);
    host.stop().await;
}

/// G6 with T1: upstream events go through the gateway's event handlers: a handler drops the
/// messages it is told to, and answers others through an upstream action (call-action reaches
/// the upstream like any action no plugin provides, G2), whose `message_sent` comes back.
#[tokio::test]
async fn g6_t1_upstream_events_go_through_handlers_which_reach_upstream_actions() {
    let mut up = upstream(0);
    let port = up.addr("napcat").port();
    let direct = up.addr("direct");
    let mut setup = Setup::with_plugins(&[("react_probe.wasm", "gw.wasm")])
        .plugin_settings(r#"ceilings: { gw: { callActions: ["send_msg"] } }"#)
        .sidecar(
            "gw.json5",
            r#"{ events: ["message"], keyValue: ["default"], callActions: ["send_msg"] }"#,
        );
    setup.rest = format!(r#"upstream: {{ url: "ws://127.0.0.1:{port}", token: "up-token" }},"#);
    let host = setup.server("enableWebsocket: true").start().await;
    connected(&host).await;
    let mut client = crate::ws::client::subscribed(crate::ws::client::addr(&host), "/").await;
    let receive = |text: &'static str| {
        reqwest::Client::new()
            .post(format!("http://{direct}/mock_receive_group_msg"))
            .json(&json!({"group_id": 777, "user_id": 10001, "message": text}))
            .send()
    };
    assert_eq!(receive("drop").await.expect("sent").status(), 200);
    assert_eq!(receive("reply").await.expect("sent").status(), 200);
    // The dropped one never arrives; the next is the one answered.
    let first = crate::ws::client::next_event(&mut client).await;
    assert_eq!(
        (first["post_type"].as_str(), first["raw_message"].as_str()),
        (Some("message"), Some("reply")),
        "{first}"
    );
    let answer = crate::ws::client::next_event(&mut client).await;
    assert_eq!(answer["post_type"], "message_sent", "{answer}");
    assert_eq!(
        (answer["group_id"].as_i64(), answer["raw_message"].as_str()),
        (Some(777), Some("pong"))
    );
    assert_eq!(
        answer["self_id"], 2_854_196_310_i64,
        "sent by the upstream's account"
    );
    host.stop().await;
}

/// G4, T8: `onebot-host plugins` names the upstream (never its token) and each plugin's
/// triggers, without dialling.
#[test]
fn g4_t8_the_plugins_command_shows_the_upstream_and_the_triggers() {
    let dir = tempfile::tempdir().expect("tmp");
    let plugins = crate::harness::plugin_folder(dir.path(), &[("react_probe.wasm", "ra.wasm")]);
    std::fs::write(
        plugins.join("ra.json5"),
        r#"{ events: ["notice"], schedules: [{ name: "poll", every: "30s" }] }"#,
    )
    .expect("sidecar");
    let config = dir.path().join("onebot.json5");
    std::fs::write(
        &config,
        format!(
            r#"{{ upstream: {{ url: "ws://127.0.0.1:1/?access_token=q", token: "tok-5e1f" }},
                 plugins: {{ dir: {:?}, cacheDir: {:?} }} }}"#,
            plugins.display().to_string(),
            crate::harness::shared_cache().display().to_string()
        ),
    )
    .expect("config");
    let out = crate::bin::Invocation::new()
        .arg("plugins")
        .arg("--config")
        .arg(&config)
        .run();
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("upstream  ws://127.0.0.1:1/  (gateway mode"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("tok-5e1f") && !out.stdout.contains("access_token"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("    events: notice (priority 0)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    schedule poll: every 30s (runs 0, failed 0, skipped 0)"),
        "{}",
        out.stdout
    );
}

/// G2, G5: a plugin in the gateway overriding `send_group_msg` (a filter refusing a word) wins;
/// what it lets through reaches the upstream through `send_msg`, and other actions pass through.
#[tokio::test]
async fn g2_g5_a_filter_plugin_wins_for_its_action_and_the_rest_passes_through() {
    let mut up = upstream(0);
    let port = up.addr("napcat").port();
    let direct = up.addr("direct");
    let mut setup = Setup::with_plugins(&[("react_probe.wasm", "filter.wasm")])
        .sidecar("filter.json5", r#"{ callActions: ["send_msg"] }"#)
        .plugin_settings(r#"ceilings: { filter: { callActions: ["send_msg"] } }"#);
    setup.rest = format!(r#"upstream: {{ url: "ws://127.0.0.1:{port}", token: "up-token" }},"#);
    let host = setup.start().await;
    connected(&host).await;
    let refused = host
        .post(
            "send_group_msg",
            json!({"group_id": 777, "message": "a forbidden word"}),
        )
        .await;
    assert!(failed(&refused, 1400).contains("forbidden"));
    let sent = host
        .post(
            "send_group_msg",
            json!({"group_id": 777, "message": "fine"}),
        )
        .await;
    let id = ok_data(&sent)["message_id"].clone();
    // The upstream has the message the filter let through, under the id the client got.
    let kept: Value = reqwest::Client::new()
        .post(format!("http://{direct}/get_msg"))
        .json(&json!({"message_id": id}))
        .send()
        .await
        .expect("direct call")
        .json()
        .await
        .expect("JSON");
    assert_eq!(kept["data"]["group_id"], 777, "{kept}");
    assert!(kept.to_string().contains("fine"), "{kept}");
    // An action the plugin does not provide still goes to the upstream.
    ok_data(&host.post("get_group_list", json!({})).await);
    host.stop().await;
}
