//! Plugins as a user sees them through HTTP: the example plugin answers, hostile guests get
//! 1200 and harm nothing else, broken files are refused at load (SPEC P1, P5, P6).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Setup, envelope, failed, guest, ok_data};

#[tokio::test]
async fn mock_account_sends_a_private_message() {
    let host = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")])
        .start()
        .await;
    let env = host
        .post(
            "send_private_msg",
            json!({"user_id": 12345678, "message": "Hello", "echo": "r1"}),
        )
        .await;
    assert!(ok_data(&env)["message_id"].is_i64(), "{env}");
    assert_eq!(env["echo"], "r1");
    // Ids as strings are what GET queries carry; they work too.
    let env = host
        .get("/send_private_msg?user_id=12345678&message=hi")
        .await;
    assert!(ok_data(&env)["message_id"].is_i64(), "{env}");
    host.stop().await;
}

#[tokio::test]
async fn mock_account_rejects_missing_params_with_1400() {
    let host = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")])
        .start()
        .await;
    let env = host
        .post("send_private_msg", json!({"message": "Hello"}))
        .await;
    let message = failed(&env, 1400);
    assert!(message.contains("user_id"), "{message}");
    let env = host.post("send_group_msg", json!({"group_id": 1})).await;
    let message = failed(&env, 1400);
    assert!(message.contains("message"), "{message}");
    let env = host.get("/get_friend_list").await;
    assert!(ok_data(&env).is_array());
    host.stop().await;
}

#[tokio::test]
async fn p5_a_guest_that_loops_forever_times_out_and_others_still_answer() {
    let host = Setup::default()
        .plugin_settings("timeoutMs: 1000")
        .start()
        .await;
    let started = Instant::now();
    let spin = host.post("probe_spin", json!({}));
    let others = async {
        // While the loop runs, the same server answers other calls.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let env = host.post("probe_echo", json!({"n": 1})).await;
        (ok_data(&env)["params"]["n"].clone(), started.elapsed())
    };
    let (spin, (n, answered_at)) = tokio::join!(spin, others);
    let message = failed(&spin, 1200);
    assert!(
        message.contains("probe") && message.contains("timed out"),
        "{message}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "ran to its deadline"
    );
    assert_eq!(n, 1);
    assert!(
        answered_at < Duration::from_millis(1000),
        "the echo did not wait for the loop"
    );
    host.stop().await;
}

#[tokio::test]
async fn p5_a_memory_bomb_hits_the_cap_and_gets_1200() {
    let host = Setup::default()
        .plugin_settings("memoryMb: 32")
        .start()
        .await;
    let env = host.post("probe_hog_memory", json!({})).await;
    let message = failed(&env, 1200);
    assert!(
        message.contains("probe") && message.contains("memory limit of 32 MiB"),
        "{message}"
    );
    ok_data(&host.post("probe_echo", json!({})).await);
    host.stop().await;
}

#[tokio::test]
async fn p5_a_trap_gets_1200_naming_the_plugin_and_the_cause() {
    let host = Setup::default().start().await;
    let env = host.post("probe_trap", json!({})).await;
    let message = failed(&env, 1200);
    assert!(message.contains("plugin probe"), "{message}");
    assert!(message.contains("probe_trap"), "{message}");
    assert!(
        message.contains("probe trap"),
        "the panic message from stderr: {message}"
    );
    // Instances are fresh per call: the next call is unaffected.
    ok_data(&host.post("probe_echo", json!({})).await);
    host.stop().await;
}

#[tokio::test]
async fn p6_sidecar_limits_override_the_config_defaults() {
    let dir = tempfile::tempdir().expect("tmp");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("dir");
    std::fs::copy(guest("probe.wasm"), plugins.join("probe.wasm")).expect("copy");
    std::fs::write(plugins.join("probe.json5"), "{ timeoutMs: 300 }").expect("sidecar");
    let text = Setup::default()
        .plugin_settings("timeoutMs: 60000")
        .config_text(&plugins);
    let config = onebot_host::config::parse(&text, &dir.path().join("c.json5"))
        .expect("config")
        .config;
    let host = onebot_host::start(config).await.expect("start");
    let env =
        envelope(reqwest::Client::new().post(format!("http://{}/probe_spin", host.addrs[0]))).await;
    let message = failed(&env, 1200);
    assert!(message.contains("timed out after 300 ms"), "{message}");
    host.stop().await;
}

#[tokio::test]
async fn p1_files_that_are_not_plugins_are_refused_and_others_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("dir");
    std::fs::copy(guest("probe.wasm"), plugins.join("probe.wasm")).expect("copy");
    std::fs::write(plugins.join("garbage.wasm"), b"this is not wasm at all").expect("write");
    std::fs::write(plugins.join("empty.wasm"), b"").expect("write");
    // A component of another world: exports nothing.
    std::fs::write(
        plugins.join("wrong-world.wasm"),
        wat::parse_str("(component)").expect("wat"),
    )
    .expect("write");
    // A core module, not a component.
    std::fs::write(
        plugins.join("core.wasm"),
        wat::parse_str("(module)").expect("wat"),
    )
    .expect("write");
    std::fs::write(plugins.join("notes.txt"), "not a plugin").expect("write");
    let text = Setup::default().config_text(&plugins);
    let config = onebot_host::config::parse(&text, &dir.path().join("c.json5"))
        .expect("config")
        .config;
    let host = onebot_host::start(config)
        .await
        .expect("the host starts anyway");
    let described = host.dispatcher.describe();
    let loaded: Vec<&str> = described.plugins.iter().map(|p| &*p.name).collect();
    assert_eq!(loaded, ["probe"], "only the real plugin loads");
    let env: serde_json::Value = reqwest::get(format!("http://{}/probe_echo", host.addrs[0]))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    ok_data(&env);
    host.stop().await;
}

#[tokio::test]
async fn p5_guest_output_does_not_break_the_call() {
    let host = Setup::default().start().await;
    let env = host.post("probe_print", json!({})).await;
    assert_eq!(ok_data(&env)["printed"], true);
    host.stop().await;
}

#[tokio::test]
async fn large_results_come_back_whole() {
    let host = Setup::default().start().await;
    let env = host.post("probe_big", json!({"bytes": 2_000_000})).await;
    assert_eq!(ok_data(&env).as_str().map(str::len), Some(2_000_000));
    host.stop().await;
}

async fn counts(host: &crate::harness::TestHost, n: usize) -> Vec<i64> {
    let mut counts = Vec::new();
    for _ in 0..n {
        let env = host.post("probe_count", json!({})).await;
        counts.push(ok_data(&env)["count"].as_i64().expect("count"));
    }
    counts
}

#[tokio::test]
async fn p5_instances_are_fresh_per_call_by_default() {
    let host = Setup::default().start().await;
    assert_eq!(
        counts(&host, 4).await,
        [1, 1, 1, 1],
        "no state survives a call"
    );
    host.stop().await;
}

fn with_sidecar(sidecar: &'static str) -> Setup {
    Setup::default().sidecar("probe.json5", sidecar)
}

#[tokio::test]
async fn p5_warm_instances_are_reused_up_to_their_call_limit() {
    let host = with_sidecar("{ warmInstances: 1, warmMaxCalls: 3 }")
        .start()
        .await;
    assert_eq!(counts(&host, 7).await, [1, 2, 3, 1, 2, 3, 1]);
    let health = host.get("/").await;
    assert_eq!(ok_data(&health)["plugins"][0]["warm_instances"], 1);
    host.stop().await;
}

#[tokio::test]
async fn p5_a_warm_instance_that_traps_is_replaced() {
    let host = with_sidecar("{ warmInstances: 1 }").start().await;
    assert_eq!(counts(&host, 2).await, [1, 2]);
    failed(&host.post("probe_trap", json!({})).await, 1200);
    assert_eq!(
        counts(&host, 2).await,
        [1, 2],
        "a new instance after the trap"
    );
    // A plugin error (not a trap) keeps the instance.
    failed(&host.post("probe_fail", json!({})).await, 1200);
    assert_eq!(counts(&host, 1).await, [3]);
    host.stop().await;
}

/// P7: a plugin written with the Rust SDK (sdk/rust): typed params, typed results,
/// 1400 for params that do not fit, segments decoded from a CQ string by the host.
#[tokio::test]
async fn p7_an_sdk_plugin_gets_typed_params() {
    let host = Setup::with_plugins(&[("sdk_demo.wasm", "sdk-demo.wasm")])
        .start()
        .await;
    let env = host
        .post("sdk_reverse", json!({"text": "héllo 世界"}))
        .await;
    assert_eq!(ok_data(&env)["text"], "界世 olléh");
    let env = host.get("/sdk_word_count?text=one+two++three").await;
    assert_eq!(ok_data(&env)["words"], 3);
    let env = host
        .post(
            "sdk_send_private_msg",
            json!({"user_id": "12345", "message": "hi[CQ:face,id=178]"}),
        )
        .await;
    assert_eq!(ok_data(&env)["message_id"], 42);
    let env = host
        .post("sdk_send_private_msg", json!({"message": "hi"}))
        .await;
    let message = failed(&env, 1400);
    assert!(
        message.contains("bad params") && message.contains("user_id"),
        "{message}"
    );
    let env = host.post("sdk_reverse", json!({"text": 5})).await;
    assert!(failed(&env, 1400).contains("invalid type"));
    host.stop().await;
}

/// P7a: a query string sends every value as text; the SDK reads a decimal string as the
/// number and `true`/`false`/`1`/`0` as the bool its params type asks for, as NapCat does
/// (`GET /hello_add?a=1&b=2` from `onebot-host new`'s template).
#[tokio::test]
async fn p7_sdk_params_from_a_query_string_are_read_as_numbers_and_bools() {
    let host = Setup::with_plugins(&[("sdk_demo.wasm", "sdk-demo.wasm")])
        .start()
        .await;
    let env = host.get("/sdk_add?a=1&b=2").await;
    assert_eq!(ok_data(&env)["sum"], 3);
    let env = host.get("/sdk_add?a=-40&b=2&negate=true").await;
    assert_eq!(ok_data(&env)["sum"], 38);
    let env = host.get("/sdk_add?a=1&b=2&negate=0").await;
    assert_eq!(ok_data(&env)["sum"], 3);
    for bad in [
        "/sdk_add?a=1.5&b=2",
        "/sdk_add?a=one&b=2",
        "/sdk_add?a=1&b=2&negate=yes",
    ] {
        let env = host.get(bad).await;
        let message = failed(&env, 1400);
        assert!(
            message.contains("bad params") && message.contains("invalid"),
            "{bad}: {message}"
        );
    }
    host.stop().await;
}
