//! Event handlers (issue 22; SPEC T1–T8): the example `keyword` answering `ping`, and the
//! fixture `react-probe` (tests/guests/react-probe) under several names, each with its own
//! sidecar, on a real host with a real WebSocket client receiving what the handlers let
//! through.

use serde_json::{Value, json};

use crate::harness::{Setup, TestHost, ok_data, wait_for};
use crate::ws::client::{self, Client, next_event};

const PROBE: &str = "react_probe.wasm";

/// A probe sidecar: handles `events`, knows its `name`, may call `probe_emit`.
fn probe_sidecar(name: &str, extra: &str) -> String {
    format!(
        r#"{{ events: ["notice"], config: {{ name: "{name}" }}, keyValue: ["default"],
              callActions: ["probe_emit"], {extra} }}"#
    )
}

async fn host_with(
    plugins: &[(&'static str, &'static str)],
    sidecars: Vec<(&'static str, String)>,
) -> TestHost {
    // P13: the sidecars' callActions, allowed by the operator.
    let mut setup = Setup::with_plugins(plugins)
        .server("enableWebsocket: true")
        .plugin_settings(
            r#"ceilings: { "*": { callActions: ["probe_emit"] }, keyword: { callActions: ["send_msg"] } }"#,
        );
    for (file, text) in sidecars {
        setup = setup.sidecar(file, text);
    }
    setup.start().await
}

/// A host whose only plugin is the probe as `ra`, its sidecar [`probe_sidecar`] with `extra`.
async fn ra_host(extra: &str) -> TestHost {
    host_with(
        &[(PROBE, "ra.wasm")],
        vec![("ra.json5", probe_sidecar("ra", extra))],
    )
    .await
}

/// Publishes `event` through the probe's action (a client's call: depth 0, no handler).
async fn emit(host: &TestHost, event: Value) {
    ok_data(&host.post("probe_emit", json!({ "event": event })).await);
}

/// The next notice the client receives (skipping lifecycle and other meta events).
async fn next_notice(client: &mut Client) -> Value {
    loop {
        let event = next_event(client).await;
        if event["post_type"] == "notice" {
            return event;
        }
    }
}

/// The counter or text `key` a probe plugin keeps (its action is `probe_seen`; with several
/// probes loaded, `plugin` names which one answers through its own copy of the action).
async fn seen(host: &TestHost, key: &str) -> Value {
    ok_data(&host.post("probe_seen", json!({ "key": key })).await).clone()
}

#[tokio::test]
async fn t1_keyword_answers_ping_with_pong_in_the_same_chat() {
    let host = host_with(
        &[
            ("mock_account.wasm", "mock-account.wasm"),
            ("keyword.wasm", "keyword.wasm"),
        ],
        vec![
            (
                "mock-account.json5",
                r#"{ keyValue: ["default"] }"#.to_owned(),
            ),
            (
                "keyword.json5",
                include_str!("../../plugins/keyword.json5").to_owned(),
            ),
        ],
    )
    .await;
    // Private: no client is connected, and the handler still answers (T1).
    ok_data(
        &host
            .post(
                "mock_receive_private_msg",
                json!({ "user_id": 10001, "message": "ping" }),
            )
            .await,
    );
    let texts = wait_for("pong in the history", || async {
        let data = ok_data(
            &host
                .post("get_friend_msg_history", json!({ "user_id": 10001 }))
                .await,
        )
        .clone();
        let texts: Vec<String> = data["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                m["message"][0]["data"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        texts.iter().any(|t| t == "pong").then_some(texts)
    })
    .await;
    assert_eq!(texts, ["ping", "pong"], "one pong after the ping");

    // Group: the bot sees the ping (passed on unchanged), then the pong sent in that group.
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    ok_data(
        &host
            .post(
                "mock_receive_group_msg",
                json!({ "group_id": 20001, "user_id": 10002, "message": "ping" }),
            )
            .await,
    );
    let ping = next_event(&mut bot).await;
    assert_eq!(
        (ping["post_type"].as_str(), ping["group_id"].as_i64()),
        (Some("message"), Some(20001))
    );
    assert_eq!(
        ping["message"],
        json!([{ "type": "text", "data": { "text": "ping" } }])
    );
    let pong = next_event(&mut bot).await;
    assert_eq!(pong["post_type"], "message_sent", "{pong}");
    assert_eq!(
        (pong["message_type"].as_str(), pong["group_id"].as_i64()),
        (Some("group"), Some(20001))
    );
    assert_eq!(pong["raw_message"], "pong");
    // Anything else is not answered.
    ok_data(
        &host
            .post(
                "mock_receive_private_msg",
                json!({ "user_id": 10003, "message": "ping!" }),
            )
            .await,
    );
    let other = next_event(&mut bot).await;
    assert_eq!(other["user_id"], 10003);
    ok_data(
        &host
            .post(
                "mock_receive_private_msg",
                json!({ "user_id": 10003, "message": "marker" }),
            )
            .await,
    );
    let marker = next_event(&mut bot).await;
    assert_eq!(
        marker["raw_message"], "marker",
        "no pong to `ping!`: {marker}"
    );
    host.stop().await;
}

#[tokio::test]
async fn t1_t2_a_handler_passes_replaces_or_drops_only_the_post_types_it_names() {
    let host = ra_host("").await;
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    emit(
        &host,
        json!({ "post_type": "notice", "probe": "drop", "n": 1 }),
    )
    .await;
    emit(
        &host,
        json!({ "post_type": "notice", "probe": "pass", "n": 2 }),
    )
    .await;
    emit(&host, json!({ "post_type": "notice", "chain": [], "n": 3 })).await;
    // A request: not named in `events`, so the handler never sees it.
    emit(
        &host,
        json!({ "post_type": "request", "probe": "drop", "n": 4 }),
    )
    .await;
    let second = next_event(&mut bot).await;
    assert_eq!(second["n"], 2, "the dropped event never arrives: {second}");
    let third = next_event(&mut bot).await;
    assert_eq!(
        (third["n"].as_i64(), &third["chain"]),
        (Some(3), &json!(["ra"])),
        "replaced"
    );
    assert!(
        third["time"].is_i64() && third["self_id"].is_i64(),
        "W5 stamp: {third}"
    );
    let fourth = next_event(&mut bot).await;
    assert_eq!(fourth["n"], 4, "other post types pass untouched");
    assert_eq!(
        seen(&host, "handled").await,
        3,
        "called for the three notices only"
    );
    host.stop().await;
}

#[tokio::test]
async fn t3_handlers_run_by_priority_then_name() {
    let host = host_with(
        &[(PROBE, "a.wasm"), (PROBE, "b.wasm"), (PROBE, "c.wasm")],
        vec![
            ("a.json5", probe_sidecar("a", "priority: 5")),
            ("b.json5", probe_sidecar("b", "priority: -1")),
            ("c.json5", probe_sidecar("c", "priority: 5")),
        ],
    )
    .await;
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    emit(&host, json!({ "post_type": "notice", "chain": [] })).await;
    let event = next_notice(&mut bot).await;
    assert_eq!(event["chain"], json!(["b", "a", "c"]));
    host.stop().await;
}

#[tokio::test]
async fn t4_a_failing_handler_leaves_the_event_as_it_was() {
    let host = ra_host("timeoutMs: 300").await;
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    for (n, probe) in ["trap", "loop", "fail", "bad-replace"]
        .into_iter()
        .enumerate()
    {
        emit(
            &host,
            json!({ "post_type": "notice", "probe": probe, "n": n }),
        )
        .await;
        let event = next_notice(&mut bot).await;
        assert_eq!(
            (event["probe"].as_str(), event["n"].as_u64()),
            (Some(probe), Some(n as u64)),
            "{event}"
        );
    }
    // The plugin still works after its failures.
    emit(&host, json!({ "post_type": "notice", "chain": [] })).await;
    assert_eq!(next_notice(&mut bot).await["chain"], json!(["ra"]));
    host.stop().await;
}

#[tokio::test]
async fn t4_on_error_drop_fails_closed() {
    let host = ra_host(r#"timeoutMs: 300, onError: "drop""#).await;
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    emit(&host, json!({ "post_type": "notice", "probe": "trap" })).await;
    emit(&host, json!({ "post_type": "notice", "probe": "loop" })).await;
    emit(&host, json!({ "post_type": "notice", "probe": "marker" })).await;
    assert_eq!(
        next_notice(&mut bot).await["probe"],
        "marker",
        "the failed ones were dropped"
    );
    host.stop().await;
}

#[tokio::test]
async fn t6_events_a_handler_causes_never_come_back_to_it() {
    // Both re-emit a copy of every notice they see. Without T6 they would feed each other
    // (and themselves) until the depth limit; with it each sees the original and the other's
    // first copy, and the two second-generation copies reach no handler.
    let host = host_with(
        &[(PROBE, "ra.wasm"), (PROBE, "rb.wasm")],
        vec![
            ("ra.json5", probe_sidecar("ra", "")),
            ("rb.json5", probe_sidecar("rb", "")),
        ],
    )
    .await;
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    emit(&host, json!({ "post_type": "notice", "probe": "re-emit" })).await;
    let mut copies = Vec::new();
    for _ in 0..5 {
        let event = next_notice(&mut bot).await;
        copies.push(event["copy_by"].as_str().unwrap_or("original").to_owned());
    }
    copies.sort();
    assert_eq!(copies, ["original", "ra", "ra", "rb", "rb"]);
    emit(&host, json!({ "post_type": "notice", "probe": "marker" })).await;
    assert_eq!(
        next_notice(&mut bot).await["probe"],
        "marker",
        "nothing more after the five"
    );
    // `probe_seen` is ra's (the name that sorts first serves the shared action, P3).
    assert_eq!(
        seen(&host, "handled").await,
        3,
        "ra: the original, rb's copy, the marker"
    );
    host.stop().await;
}

#[tokio::test]
async fn t8_get_root_and_the_load_log_show_handlers() {
    let host = ra_host(r#"priority: 3, onError: "drop""#).await;
    let root = host.get("/").await;
    let plugin = &ok_data(&root)["plugins"][0];
    assert_eq!(
        plugin["triggers"],
        json!(["events: notice (priority 3, onError drop)"]),
        "{plugin}"
    );
    host.stop().await;
}

/// T14 with T1, issue 22's soak: events flow while the handler plugin is swapped 30 times
/// (a new sidecar each time is a new version); every event reaches the client exactly once,
/// in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t1_thirty_swaps_of_a_handler_under_load_lose_and_duplicate_no_event() {
    let host = host_with(
        &[("probe.wasm", "probe.wasm"), ("keyword.wasm", "k.wasm")],
        vec![("k.json5", r#"{ events: ["*"] }"#.to_owned())],
    )
    .await;
    let dir = host._dir.path().join("plugins");
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    const BATCH: u64 = 50;
    const SWAPS: u64 = 30;
    let generation = |root: Value| ok_data(&root)["generation"].as_u64().unwrap_or(0);
    let mut seen_generation = generation(host.get("/").await);
    for swap in 0..=SWAPS {
        ok_data(
            &host
                .post(
                    "probe_emit",
                    json!({"event": {"post_type": "notice", "notice_type": "soak"},
                           "count": BATCH, "seq_from": swap * BATCH}),
                )
                .await,
        );
        if swap < SWAPS {
            let sidecar = format!(r#"{{ events: ["*"], priority: {} }}"#, swap + 1);
            std::fs::write(dir.join(".k.json5.tmp"), sidecar).expect("write");
            std::fs::rename(dir.join(".k.json5.tmp"), dir.join("k.json5")).expect("mv");
            // The next batch goes out while (or just after) this version replaces the last.
            seen_generation = wait_for("the swap", || async {
                let now = generation(host.get("/").await);
                (now > seen_generation).then_some(now)
            })
            .await;
        }
    }
    let total = BATCH * (SWAPS + 1);
    let mut next = 0;
    while next < total {
        let event = next_notice(&mut bot).await;
        assert_eq!(event["notice_type"], "soak", "{event}");
        assert_eq!(event["seq"], next, "every event once, in order");
        next += 1;
    }
    ok_data(
        &host
            .post(
                "probe_emit",
                json!({"event": {"post_type": "notice", "notice_type": "end"}}),
            )
            .await,
    );
    assert_eq!(
        next_notice(&mut bot).await["notice_type"],
        "end",
        "no duplicate after the last"
    );
    host.stop().await;
}
