//! Key-value storage (SPEC P4, P8) as plugins use it: the grant, every operation, the limits,
//! and what survives a hot swap, a restart and `kill -9`. The fixtures are `probe-alt`
//! (`alt_kv` runs one operation and answers `{"ok": …}` or `{"error": …}`) and the example
//! plugin `mock-account`, which keeps what it sends (`get_msg`, `delete_msg`,
//! `get_friend_msg_history`).

use std::path::Path;

use serde_json::{Value, json};

use crate::bin::Running;
use crate::harness::{Setup, TestHost, failed, guest, ok_data, shared_cache, wait_for};

/// `alt_kv` with `op` and its params: the operation's result or its error message.
async fn kv(host: &TestHost, op: Value) -> Result<Value, String> {
    let env = host.post("alt_kv", op).await;
    answer(ok_data(&env))
}

fn answer(data: &Value) -> Result<Value, String> {
    match data.get("error") {
        Some(message) => Err(message.as_str().unwrap_or_default().to_owned()),
        None => Ok(data["ok"].clone()),
    }
}

/// mock-account's account, the sender of what it sends.
const SELF_ID: i64 = 2_854_196_310;

#[tokio::test]
async fn p4_a_store_not_granted_is_refused_naming_the_plugin_and_the_sidecar_key() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .start()
        .await;
    let refused = kv(&host, json!({"op": "set", "key": "k", "value": "v"})).await;
    assert_eq!(
        refused,
        Err(
            "plugin alt: key-value store \"default\" is not granted; add `keyValue: \
             [\"default\"]` to its sidecar alt.json5"
                .to_owned()
        )
    );
    host.stop().await;

    // A grant names labels: another label is refused the same way, the granted one works.
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .sidecar("alt.json5", r#"{ keyValue: ["cache"] }"#)
        .start()
        .await;
    let refused = kv(&host, json!({"op": "get", "key": "k"})).await;
    assert!(
        refused.is_err_and(|m| m.contains("\"default\" is not granted")),
        "another label"
    );
    let ok = kv(&host, json!({"op": "set", "store": "cache", "key": "k"})).await;
    assert_eq!(ok, Ok(Value::Null));
    let health = host.get("/").await;
    assert_eq!(
        ok_data(&health)["plugins"][0]["grants"]["keyValue"],
        json!(["cache"])
    );
    host.stop().await;
}

/// A plugin that keeps asking for a store it was not granted (mock-account without its
/// sidecar does on every send) is told each time, but the operator is warned once per store,
/// not once per call.
#[tokio::test]
async fn p4_a_refused_store_is_warned_about_once_and_the_plugin_is_told_every_time() {
    let setup = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")]);
    let mut running = Running::start(&setup, "onebot_host=info", None);
    let base = format!("http://{}", running.addr("test"));
    let client = reqwest::Client::new();
    for store in ["default", "default", "default", "other", "other"] {
        let op = json!({"op": "set", "store": store, "key": "k", "value": "v"});
        let reply = call(&client, &base, "alt_kv", op).await;
        let message = answer(ok_data(&reply)).expect_err("not granted");
        assert!(message.contains("is not granted"), "{message}");
    }
    let (_, log) = running.terminate();
    let warned: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("key-value refused"))
        .collect();
    assert_eq!(warned.len(), 2, "one per store: {warned:#?}");
    assert!(warned[0].contains("store=\"default\"") || warned[0].contains("store=default"));
    assert!(
        warned[0].contains("keyValue: [\"default\"]"),
        "{}",
        warned[0]
    );
}

#[tokio::test]
async fn p8_every_operation_answers_through_a_plugin() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .sidecar("alt.json5", r#"{ keyValue: ["default", "other"] }"#)
        .start()
        .await;
    let op = |v: Value| kv(&host, v);
    assert_eq!(op(json!({"op": "get", "key": "a"})).await, Ok(Value::Null));
    assert_eq!(
        op(json!({"op": "exists", "key": "a"})).await,
        Ok(json!(false))
    );
    for (key, value) in [("user/2", "b"), ("user/1", "a"), ("team/1", "t")] {
        let set = op(json!({"op": "set", "key": key, "value": value})).await;
        assert_eq!(set, Ok(Value::Null));
    }
    // Each call is a fresh instance (P5): the values come from the store.
    assert_eq!(
        op(json!({"op": "get", "key": "user/1"})).await,
        Ok(json!("a"))
    );
    assert_eq!(
        op(json!({"op": "exists", "key": "user/1"})).await,
        Ok(json!(true))
    );
    let listed = op(json!({"op": "list", "prefix": "user/"})).await;
    assert_eq!(listed, Ok(json!(["user/1", "user/2"])));
    let limited = op(json!({"op": "list", "prefix": "", "limit": 2})).await;
    assert_eq!(limited, Ok(json!(["team/1", "user/1"])));
    // Labels are namespaces of their own.
    let other = op(json!({"op": "get", "store": "other", "key": "user/1"})).await;
    assert_eq!(other, Ok(Value::Null));

    assert_eq!(
        op(json!({"op": "increment", "key": "n", "delta": 5})).await,
        Ok(json!(5))
    );
    assert_eq!(
        op(json!({"op": "increment", "key": "n", "delta": -2})).await,
        Ok(json!(3))
    );
    assert_eq!(op(json!({"op": "get", "key": "n"})).await, Ok(json!("3")));
    let not_a_number = op(json!({"op": "increment", "key": "user/1"})).await;
    assert!(
        not_a_number.is_err_and(|m| m.contains("plugin alt: key-value store \"default\"")
            && m.contains("not a decimal integer")),
    );

    let cas = |old: Value, new: &str| op(json!({"op": "cas", "key": "c", "old": old, "new": new}));
    assert_eq!(cas(Value::Null, "1").await, Ok(json!(true)), "absent → set");
    assert_eq!(cas(Value::Null, "2").await, Ok(json!(false)), "present: no");
    assert_eq!(
        cas(json!("9"), "2").await,
        Ok(json!(false)),
        "other value: no"
    );
    assert_eq!(cas(json!("1"), "2").await, Ok(json!(true)));
    assert_eq!(op(json!({"op": "get", "key": "c"})).await, Ok(json!("2")));

    assert_eq!(
        op(json!({"op": "delete", "key": "user/1"})).await,
        Ok(Value::Null)
    );
    assert_eq!(
        op(json!({"op": "delete", "key": "user/1"})).await,
        Ok(Value::Null)
    );
    assert_eq!(
        op(json!({"op": "get", "key": "user/1"})).await,
        Ok(Value::Null)
    );
    host.stop().await;
}

#[tokio::test]
async fn p8_concurrent_increments_from_many_calls_lose_no_update() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .sidecar("alt.json5", r#"{ keyValue: ["default"] }"#)
        .start()
        .await;
    let calls = (0..64).map(|_| kv(&host, json!({"op": "increment", "key": "hits"})));
    let mut seen: Vec<i64> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("increment").as_i64().expect("a number"))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=64).collect::<Vec<_>>(),
        "each call saw its own count"
    );
    host.stop().await;
}

#[tokio::test]
async fn p8_keys_values_and_the_quota_have_limits_with_clear_errors() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .sidecar("alt.json5", r#"{ keyValue: ["default"], kvQuotaMb: 1 }"#)
        .start()
        .await;
    let long_key = "k".repeat(1025);
    let error = kv(&host, json!({"op": "set", "key": long_key})).await;
    assert!(
        error.is_err_and(|m| m.contains("the key is 1025 bytes, over the limit of 1024")),
        "key"
    );
    let big = kv(
        &host,
        json!({"op": "set", "key": "big", "repeat": (1 << 20) + 1}),
    )
    .await;
    assert!(
        big.is_err_and(|m| m.contains("1048577 bytes, over the limit of 1048576")),
        "value"
    );
    // 1 MiB of quota: 600 000 bytes fit once, not twice.
    let first = kv(&host, json!({"op": "set", "key": "a", "repeat": 600_000})).await;
    assert_eq!(first, Ok(Value::Null));
    let second = kv(&host, json!({"op": "set", "key": "b", "repeat": 600_000})).await;
    let message = second.expect_err("over the quota");
    assert!(
        message.starts_with("plugin alt: key-value store \"default\": writing key \"b\"")
            && message.contains("quota of 1048576 bytes (kvQuotaMb)"),
        "{message}"
    );
    // Deleting frees the room.
    kv(&host, json!({"op": "delete", "key": "a"}))
        .await
        .expect("delete");
    let again = kv(&host, json!({"op": "set", "key": "b", "repeat": 600_000})).await;
    assert_eq!(again, Ok(Value::Null));
    host.stop().await;
}

#[tokio::test]
async fn p2_p8_stored_values_survive_a_hot_swap_of_the_plugin_file() {
    let host = Setup::with_plugins(&[("mock_account.wasm", "x.wasm")])
        .sidecar("x.json5", r#"{ keyValue: ["default"] }"#)
        .start()
        .await;
    let sent = host
        .post(
            "send_private_msg",
            json!({"user_id": 10001, "message": "kept"}),
        )
        .await;
    let id = ok_data(&sent)["message_id"].as_i64().expect("message_id");
    // A new file under the same name is the same plugin: same stores.
    let dir = host._dir.path().join("plugins");
    let tmp = dir.join(".x.wasm.tmp");
    std::fs::copy(guest("probe_alt.wasm"), &tmp).expect("copy");
    std::fs::rename(&tmp, dir.join("x.wasm")).expect("mv");
    wait_for("the new version to answer", || async {
        (host.post("alt_only", json!({})).await["retcode"] == 0).then_some(())
    })
    .await;
    let text = kv(&host, json!({"op": "get", "key": format!("msg/{id}")}))
        .await
        .expect("get");
    let kept: Value = serde_json::from_str(text.as_str().expect("a stored message")).expect("JSON");
    assert_eq!(kept["message_id"], id);
    assert_eq!(
        kept["message"],
        json!([{"type": "text", "data": {"text": "kept"}}])
    );
    host.stop().await;
}

/// The texts of a `get_friend_msg_history` answer, oldest first.
fn texts(data: &Value) -> Vec<String> {
    data["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            m["message"][0]["data"]["text"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn mock_account_keeps_its_messages_for_get_msg_delete_msg_and_the_friend_history() {
    let host = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")])
        .sidecar("mock-account.json5", r#"{ keyValue: ["default"] }"#)
        .start()
        .await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let sent = host
            .post(
                "send_private_msg",
                json!({"user_id": 10001, "message": text}),
            )
            .await;
        ids.push(ok_data(&sent)["message_id"].as_i64().expect("id"));
    }
    let reply = host
        .post(
            "mock_receive_private_msg",
            json!({"user_id": 10001, "message": "reply"}),
        )
        .await;
    let reply_id = ok_data(&reply)["message_id"].as_i64().expect("id");
    let other = host
        .post(
            "send_private_msg",
            json!({"user_id": 10002, "message": "to bob"}),
        )
        .await;
    ok_data(&other);
    let group = host
        .post(
            "send_group_msg",
            json!({"group_id": 20001, "message": "hi all"}),
        )
        .await;
    let group_id = ok_data(&group)["message_id"].as_i64().expect("id");

    // get_msg: OneBot 11's fields, the message as sent (always segments, M3).
    let got = host.post("get_msg", json!({"message_id": ids[0]})).await;
    let got = ok_data(&got);
    assert_eq!(got["message_type"], "private");
    assert_eq!(
        (got["message_id"].as_i64(), got["real_id"].as_i64()),
        (Some(ids[0]), Some(ids[0]))
    );
    assert_eq!(got["sender"]["user_id"], SELF_ID);
    assert_eq!(got["target_id"], 10001);
    assert_eq!(
        got["message"],
        json!([{"type": "text", "data": {"text": "one"}}])
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    assert!(
        got["time"].as_i64().is_some_and(|t| (now - t).abs() < 600),
        "{got}"
    );
    let got = host
        .post("get_msg", json!({"message_id": reply_id.to_string()}))
        .await;
    assert_eq!(
        ok_data(&got)["sender"]["user_id"],
        10001,
        "a received message"
    );
    let got = host.post("get_msg", json!({"message_id": group_id})).await;
    assert_eq!(
        (&ok_data(&got)["message_type"], &ok_data(&got)["group_id"]),
        (&json!("group"), &json!(20001))
    );

    // The history with one friend, both ways, oldest first; `count` and `message_seq`.
    let history = |params: Value| host.post("get_friend_msg_history", params);
    let all = history(json!({"user_id": 10001})).await;
    assert_eq!(texts(ok_data(&all)), ["one", "two", "three", "reply"]);
    let last_two = history(json!({"user_id": 10001, "count": 2})).await;
    assert_eq!(texts(ok_data(&last_two)), ["three", "reply"]);
    let before = history(json!({"user_id": 10001, "message_seq": ids[1], "count": 5})).await;
    assert_eq!(texts(ok_data(&before)), ["one", "two"]);
    failed(&history(json!({"user_id": 10001, "count": 0})).await, 1400);

    // delete_msg recalls it: gone from get_msg and the history; twice is an unknown id.
    ok_data(&host.post("delete_msg", json!({"message_id": ids[1]})).await);
    let gone = host.post("get_msg", json!({"message_id": ids[1]})).await;
    let message = failed(&gone, 1200);
    assert!(
        message.contains(&format!("message {} not found", ids[1]))
            && message.contains("消息不存在")
    );
    failed(
        &host.post("delete_msg", json!({"message_id": ids[1]})).await,
        1200,
    );
    let all = history(json!({"user_id": 10001})).await;
    assert_eq!(texts(ok_data(&all)), ["one", "three", "reply"]);
    host.stop().await;
}

#[tokio::test]
async fn mock_account_without_its_grant_still_sends_and_says_how_to_keep_messages() {
    let host = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")])
        .start()
        .await;
    let sent = host
        .post(
            "send_private_msg",
            json!({"user_id": 10001, "message": "hi"}),
        )
        .await;
    let id = ok_data(&sent)["message_id"].clone();
    let message = failed(&host.post("get_msg", json!({"message_id": id})).await, 1200);
    assert!(
        message.contains("keyValue") && message.contains("mock-account.json5"),
        "{message}"
    );
    host.stop().await;
}

/// A config for the real binary whose key-value database lives in `data`, with the sidecars
/// granting `alt` and `mock-account` the store `default`.
fn config_with_data(plugin_dir: &Path, data: &Path) -> String {
    for name in ["alt", "mock-account"] {
        let sidecar = plugin_dir.join(format!("{name}.json5"));
        std::fs::write(sidecar, r#"{ keyValue: ["default"] }"#).expect("sidecar");
    }
    format!(
        r#"{{ network: {{ httpServers: [{{ name: "kv", enable: true, host: "127.0.0.1", port: 0 }}] }},
  plugins: {{ dir: {dir:?}, cacheDir: {cache:?}, dataDir: {data:?} }} }}"#,
        dir = plugin_dir.display().to_string(),
        cache = shared_cache().display().to_string(),
        data = data.display().to_string(),
    )
}

const PLUGINS: [(&str, &str); 2] = [
    ("probe_alt.wasm", "alt.wasm"),
    ("mock_account.wasm", "mock-account.wasm"),
];

/// The binary on a config whose database is in `data`, and its base URL once it listens.
fn launch(data: &Path) -> (Running, String) {
    let mut running = Running::launch(&PLUGINS, |dir| config_with_data(dir, data), "info", None);
    let addr = running.addr("kv");
    (running, format!("http://{addr}"))
}

async fn call(client: &reqwest::Client, base: &str, action: &str, params: Value) -> Value {
    crate::harness::envelope(client.post(format!("{base}/{action}")).json(&params)).await
}

#[tokio::test]
async fn p8_acknowledged_writes_survive_a_restart_and_kill_9() {
    let data = tempfile::tempdir().expect("tmp");
    let client = reqwest::Client::new();

    // 1. Write, stop gracefully (SIGTERM), start again on the same dataDir.
    let (running, base) = launch(data.path());
    let set = call(
        &client,
        &base,
        "alt_kv",
        json!({"op": "set", "key": "k", "value": "v"}),
    )
    .await;
    assert_eq!(answer(ok_data(&set)), Ok(Value::Null));
    let sent = call(
        &client,
        &base,
        "send_private_msg",
        json!({"user_id": 10001, "message": "before the restart"}),
    )
    .await;
    let id = ok_data(&sent)["message_id"].clone();
    let (status, _) = running.terminate();
    assert!(status.success());

    let (running, base) = launch(data.path());
    let got = call(&client, &base, "alt_kv", json!({"op": "get", "key": "k"})).await;
    assert_eq!(answer(ok_data(&got)), Ok(json!("v")));
    let got = call(&client, &base, "get_msg", json!({"message_id": id})).await;
    assert_eq!(
        ok_data(&got)["message"][0]["data"]["text"],
        "before the restart"
    );
    let history = call(
        &client,
        &base,
        "get_friend_msg_history",
        json!({"user_id": 10001}),
    )
    .await;
    assert_eq!(texts(ok_data(&history)), ["before the restart"]);

    // 2. Many concurrent writes, each acknowledged, then SIGKILL at once: all are on disk.
    let sets = (0..100).map(|i| {
        let params = json!({"op": "set", "key": format!("burst/{i:03}"), "value": format!("v{i}")});
        call(&client, &base, "alt_kv", params)
    });
    let increments = (0..50).map(|_| {
        call(
            &client,
            &base,
            "alt_kv",
            json!({"op": "increment", "key": "n"}),
        )
    });
    let (sets, increments) = tokio::join!(
        futures_util::future::join_all(sets),
        futures_util::future::join_all(increments)
    );
    for env in sets.iter().chain(&increments) {
        assert!(answer(ok_data(env)).is_ok(), "acknowledged: {env}");
    }
    // Dropping a `Running` kills the process with SIGKILL: no shutdown code runs.
    drop(running);

    let (running, base) = launch(data.path());
    let listed = call(
        &client,
        &base,
        "alt_kv",
        json!({"op": "list", "prefix": "burst/", "limit": 1000}),
    )
    .await;
    let listed = answer(ok_data(&listed)).expect("list");
    assert_eq!(listed.as_array().map(Vec::len), Some(100), "{listed}");
    let n = call(&client, &base, "alt_kv", json!({"op": "get", "key": "n"})).await;
    assert_eq!(answer(ok_data(&n)), Ok(json!("50")));
    let got = call(
        &client,
        &base,
        "alt_kv",
        json!({"op": "get", "key": "burst/042"}),
    )
    .await;
    assert_eq!(answer(ok_data(&got)), Ok(json!("v42")));
    drop(running);
}

/// Issue 20 item 6: the quota counts what each entry costs, not only its key and value: 64
/// bytes, its namespace (4 + "alt" + 4 + "default" = 18 bytes) and key, and its value. Two
/// values that fit 1 MiB as bare bytes (600,001 + 448,412) no longer do; the exact fit does.
/// Against the real binary, as an operator runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p8_the_quota_counts_each_entrys_overhead() {
    let setup = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .sidecar("alt.json5", r#"{ keyValue: ["default"], kvQuotaMb: 1 }"#);
    let mut running = Running::start(&setup, "info", None);
    let base = format!("http://{}", running.addr("test"));
    let client = reqwest::Client::new();
    let set = |key: &'static str, bytes: u64| {
        let request = call(
            &client,
            &base,
            "alt_kv",
            json!({"op": "set", "key": key, "repeat": bytes}),
        );
        async move { answer(ok_data(&request.await)) }
    };
    // "a": 64 + 19 + 600,000 = 600,083 bytes.
    assert_eq!(set("a", 600_000).await, Ok(Value::Null));
    let over = set("b", 448_411).await.expect_err("one byte over");
    assert!(
        over.contains("would bring the plugin's entries to 1048577 bytes")
            && over.contains("quota of 1048576 bytes (kvQuotaMb)"),
        "{over}"
    );
    assert_eq!(set("b", 448_410).await, Ok(Value::Null), "the exact fit");
    let (status, log) = running.terminate();
    assert!(status.success(), "{}", log.join("\n"));
}
