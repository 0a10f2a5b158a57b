//! Grants (SPEC P4, P6): plugin config and calling other actions, each denied unless the
//! plugin's sidecar (or the config's `plugins.grants.<name>`) grants it. The fixture is
//! `probe-alt`, built for the world `capable-plugin`; `probe` (world `plugin`) is the action
//! it calls.

use serde_json::{Value, json};

use crate::harness::{Setup, failed, ok_data};

/// `alt_call`'s answer: the nested call's data, or its (retcode, message).
fn nested(data: &Value) -> Result<Value, (i64, String)> {
    match data.get("error") {
        Some(error) => Err((
            error["retcode"].as_i64().unwrap_or_default(),
            error["message"].as_str().unwrap_or_default().to_owned(),
        )),
        None => Ok(data["data"].clone()),
    }
}

#[tokio::test]
async fn p4_config_is_empty_without_a_grant_and_resolves_env_vars_with_one() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .start()
        .await;
    let data = host.post("alt_config", json!({"key": "upstream"})).await;
    assert_eq!(ok_data(&data), &json!({"all": {}, "one": null}));
    host.stop().await;

    // `PATH` is set in every test environment; its value must arrive resolved, once the
    // operator lets this plugin's sidecar name it (P12).
    let path = std::env::var("PATH").expect("PATH is set");
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .plugin_settings(r#"env: { alt: ["PATH"] }"#)
        .sidecar(
            "alt.json5",
            r#"{ config: { upstream: "http://127.0.0.1:9", path: "${PATH}", price: "$$5" } }"#,
        )
        .start()
        .await;
    let data = host.post("alt_config", json!({"key": "upstream"})).await;
    assert_eq!(
        ok_data(&data),
        &json!({
            "all": {"upstream": "http://127.0.0.1:9", "path": path, "price": "$5"},
            "one": "http://127.0.0.1:9",
        })
    );
    // GET / names the config keys the plugin was granted, never their values.
    let health = host.get("/").await;
    let plugin = &ok_data(&health)["plugins"][0];
    assert_eq!(
        plugin["grants"]["config"],
        json!(["path", "price", "upstream"])
    );
    assert!(
        !health.to_string().contains(&path),
        "no config value in GET /"
    );
    host.stop().await;
}

#[tokio::test]
async fn p6_config_grants_in_the_config_file_apply_under_the_sidecar() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .plugin_settings(r#"grants: { alt: { config: { a: "from config", b: "from config" } } }"#)
        .start()
        .await;
    let data = host.post("alt_config", json!({"key": "a"})).await;
    assert_eq!(ok_data(&data)["one"], "from config");
    host.stop().await;
}

#[tokio::test]
async fn p4_call_action_is_refused_without_a_grant_naming_the_sidecar_key() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm"), ("probe.wasm", "probe.wasm")])
        .start()
        .await;
    let data = host
        .post(
            "alt_call",
            json!({"action": "get_version_info", "params": {}}),
        )
        .await;
    let (retcode, message) = nested(ok_data(&data)).expect_err("not granted");
    assert_eq!(retcode, 1403);
    assert!(
        message.contains("alt") && message.contains("callActions") && message.contains("alt.json5"),
        "{message}"
    );
    host.stop().await;
}

#[tokio::test]
async fn p4_call_action_goes_through_the_dispatcher_with_its_retcodes() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm"), ("probe.wasm", "probe.wasm")])
        .plugin_settings(r#"ceilings: { alt: { callActions: ["*"] } }"#)
        .sidecar(
            "alt.json5",
            r#"{ callActions: ["probe_count", "get_version_info", "nope", "send_msg"] }"#,
        )
        .start()
        .await;
    // Another plugin's action: its data as it wrote it.
    let data = host
        .post("alt_call", json!({"action": "probe_count", "params": {}}))
        .await;
    assert_eq!(nested(ok_data(&data)), Ok(json!({"count": 1})));
    // A host fallback (E6).
    let data = host
        .post(
            "alt_call",
            json!({"action": "get_version_info", "params": {}}),
        )
        .await;
    assert_eq!(
        nested(ok_data(&data)).expect("ok")["protocol_version"],
        "v11"
    );
    // Unknown action: 1404 as a client would get (H8).
    let data = host.post("alt_call", json!({"action": "nope"})).await;
    assert_eq!(
        nested(ok_data(&data)),
        Err((1404, "不支持的API nope".to_owned()))
    );
    // Granted but unknown, and not granted: a name on the list is all a grant gives.
    let data = host.post("alt_call", json!({"action": "probe_echo"})).await;
    assert_eq!(nested(ok_data(&data)).expect_err("not granted").0, 1403);
    // The grant is listed in GET /.
    let health = host.get("/").await;
    let plugins = ok_data(&health)["plugins"]
        .as_array()
        .expect("plugins")
        .clone();
    let alt = plugins
        .iter()
        .find(|p| p["name"] == "alt")
        .expect("alt listed");
    assert_eq!(
        alt["grants"]["callActions"],
        json!(["probe_count", "get_version_info", "nope", "send_msg"])
    );
    host.stop().await;
}

#[tokio::test]
async fn p4_recursion_is_refused_at_the_depth_limit_instead_of_hanging() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .plugin_settings(r#"ceilings: { alt: { callActions: ["*"] } }"#)
        .sidecar("alt.json5", r#"{ callActions: ["*"] }"#)
        .start()
        .await;
    let limit = u64::from(onebot_host::plugin::MAX_DEPTH);
    // Within the limit: each level calls the next, the innermost answers its depth.
    let data = host.post("alt_recurse", json!({"n": limit})).await;
    assert_eq!(ok_data(&data), &json!({"depth": limit}));
    // One more level is refused, and the refusal comes back up the chain.
    let data = host.post("alt_recurse", json!({"n": limit + 1})).await;
    let message = failed(&data, 1200);
    assert!(
        message.contains("nest") && message.contains(&format!("limit of {limit}")),
        "{message}"
    );
    // Unbounded recursion ends the same way.
    let data = host.post("alt_recurse", json!({"n": 1_000_000})).await;
    failed(&data, 1200);
    host.stop().await;
}

#[tokio::test]
async fn p5_a_nested_call_never_outlives_its_caller() {
    // The caller has 300 ms; the callee (probe_sleep) would sleep 5 s within its own 10 s.
    let host = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm"), ("probe.wasm", "probe.wasm")])
        .plugin_settings(
            r#"ceilings: { alt: { callActions: ["probe_sleep"] }, probe: { timeoutMs: 10000 } }"#,
        )
        .sidecar(
            "alt.json5",
            r#"{ callActions: ["probe_sleep"], timeoutMs: 300 }"#,
        )
        .sidecar("probe.json5", r#"{ timeoutMs: 10000 }"#)
        .start()
        .await;
    let started = std::time::Instant::now();
    let data = host
        .post(
            "alt_call",
            json!({"action": "probe_sleep", "params": {"ms": 5000}}),
        )
        .await;
    // The callee is cut off at its caller's deadline: either the caller sees the callee's
    // timeout as a nested error, or the caller's own deadline ends the whole call first.
    let message = if data["status"] == "ok" {
        nested(&data["data"]).expect_err("the callee timed out").1
    } else {
        failed(&data, 1200)
    };
    assert!(message.contains("timed out"), "{message}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the callee was cut off with its caller, not after its own sleep"
    );
    host.stop().await;
}
