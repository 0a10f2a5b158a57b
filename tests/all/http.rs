//! The HTTP surface, rule by rule (SPEC H1–H9, E1–E6), against a real server.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Setup, envelope, failed, ok_data};

#[tokio::test]
async fn h1_action_is_the_first_path_segment() {
    let host = Setup::default().start().await;
    for path in ["/probe_echo", "/probe_echo/", "/probe_echo/extra/bits"] {
        let env = host.get(path).await;
        assert_eq!(ok_data(&env)["action"], "probe_echo", "{path}");
    }
    // Names are case-sensitive.
    failed(&host.get("/Probe_Echo").await, 1404);
    host.stop().await;
}

#[tokio::test]
async fn h1_get_root_is_a_health_check_listing_actions() {
    let host = Setup::default().start().await;
    let env = host.get("/").await;
    let data = ok_data(&env);
    assert_eq!(data["app_name"], "onebot-host");
    let actions = data["actions"].as_array().expect("actions list");
    let probe_echo = actions
        .iter()
        .find(|a| a["action"] == "probe_echo")
        .expect("probe_echo listed");
    assert_eq!(probe_echo["plugin"], "probe");
    assert_eq!(probe_echo["version"].as_str().map(str::len), Some(12));
    assert!(actions.iter().any(|a| a["action"] == "get_version_info"));
    host.stop().await;
}

#[tokio::test]
async fn h2_every_method_is_accepted() {
    let host = Setup::default().start().await;
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let env = envelope(host.client.request(method.clone(), host.url("/probe_echo"))).await;
        assert_eq!(ok_data(&env)["action"], "probe_echo", "{method}");
    }
    host.stop().await;
}

#[tokio::test]
async fn h2_get_takes_params_from_the_query_only() {
    let host = Setup::default().start().await;
    let env = envelope(
        host.client
            .get(host.url("/probe_echo?user_id=42"))
            .body(r#"{"ignored":true}"#),
    )
    .await;
    assert_eq!(ok_data(&env)["params"]["user_id"], "42");
    assert!(ok_data(&env)["params"].get("ignored").is_none());
    host.stop().await;
}

#[tokio::test]
async fn h2_query_fields_override_body_fields() {
    let host = Setup::default().start().await;
    let env = envelope(
        host.client
            .post(host.url("/probe_echo?a=from-query"))
            .json(&json!({"a": "from-body", "b": 2})),
    )
    .await;
    assert_eq!(ok_data(&env)["params"], json!({"a": "from-query", "b": 2}));
    host.stop().await;
}

#[tokio::test]
async fn h2_access_token_and_echo_are_never_params() {
    let host = Setup::default().server(r#"token: "s3cret""#).start().await;
    let env = envelope(
        host.client
            .post(host.url("/probe_echo?access_token=s3cret"))
            .json(&json!({"echo": "e1", "x": 1})),
    )
    .await;
    assert_eq!(ok_data(&env)["params"], json!({"x": 1}));
    assert_eq!(env["echo"], "e1");
    host.stop().await;
}

async fn post_raw(
    host: &crate::harness::TestHost,
    content_type: Option<&str>,
    body: &str,
) -> Value {
    let mut request = host
        .client
        .post(host.url("/probe_echo"))
        .body(body.to_owned());
    if let Some(ct) = content_type {
        request = request.header("Content-Type", ct);
    }
    let response = request.send().await.expect("sent");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

#[tokio::test]
async fn h3_bodies_in_json_json5_form_or_none() {
    let host = Setup::default().start().await;
    let cases: &[(Option<&str>, &str, Value)] = &[
        (Some("application/json"), r#"{"n":1}"#, json!({"n":1})),
        (None, r#"{"n":1}"#, json!({"n":1})),
        (
            Some("application/json"),
            "{n: 1, s: 'x', // c\n}",
            json!({"n":1,"s":"x"}),
        ),
        (
            Some("application/x-www-form-urlencoded"),
            "n=1&s=a+b",
            json!({"n":"1","s":"a b"}),
        ),
        (Some("application/json"), "", json!({})),
    ];
    for (ct, body, want) in cases {
        let env = post_raw(&host, *ct, body).await;
        assert_eq!(&ok_data(&env)["params"], want, "{ct:?} {body}");
    }
    host.stop().await;
}

/// SPEC H3, issue 12: `curl -d '{"message_id":1}'` sends JSON with curl's default
/// `Content-Type: application/x-www-form-urlencoded`. Like NapCat, the host reads a form-typed
/// body that is a JSON or JSON5 object as JSON (numbers stay numbers, `echo` is the echo);
/// a real form body is still form fields.
#[tokio::test]
async fn h3_form_typed_body_that_is_a_json_object_is_read_as_json() {
    let host = Setup::default().start().await;
    let form = Some("application/x-www-form-urlencoded");
    let env = post_raw(&host, form, r#"{"message_id":1,"echo":"e1"}"#).await;
    assert_eq!(ok_data(&env)["params"], json!({"message_id": 1}));
    assert_eq!(env["echo"], "e1");
    let env = post_raw(&host, form, "\n{message_id: 1, // JSON5\n}").await;
    assert_eq!(ok_data(&env)["params"], json!({"message_id": 1}));
    let env = post_raw(&host, form, "message_id=1&echo=e2").await;
    assert_eq!(ok_data(&env)["params"], json!({"message_id": "1"}));
    assert_eq!(env["echo"], "e2");
    host.stop().await;
}

#[tokio::test]
async fn h4_bad_body_is_1400_with_a_reason() {
    let host = Setup::default().start().await;
    for body in ["{not json", "[1,2]", "\"a string\"", "{\"a\":"] {
        let env = post_raw(&host, Some("application/json"), body).await;
        let message = failed(&env, 1400);
        assert!(
            message.starts_with("Invalid JSON format"),
            "{body}: {message}"
        );
    }
    let deep = "[".repeat(100_000);
    let message = failed(&post_raw(&host, None, &deep).await, 1400);
    assert!(message.contains("nested"), "{message}");
    host.stop().await;
}

#[tokio::test]
async fn h5_body_over_the_cap_is_413_with_an_envelope() {
    let host = Setup::default().server("maxBodyBytes: 1024").start().await;
    let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(4096));
    let response = host
        .client
        .post(host.url("/probe_echo"))
        .body(big)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
    let env: Value = response.json().await.expect("json");
    let message = failed(&env, 1400);
    assert!(message.contains("maxBodyBytes"), "{message}");
    // Just under the cap still works, and the server is unharmed.
    let small = format!(r#"{{"x":"{}"}}"#, "a".repeat(900));
    let env = post_raw(&host, None, &small).await;
    ok_data(&env);
    host.stop().await;
}

#[tokio::test]
async fn h6_token_forms_and_refusals() {
    let host = Setup::default().server(r#"token: "s3cret""#).start().await;
    let accepted = [
        ("/probe_echo", Some("Bearer s3cret")),
        ("/probe_echo", Some("Token s3cret")),
        ("/probe_echo", Some("s3cret")),
        ("/probe_echo?access_token=s3cret", None),
        ("/probe_echo?access_token=s3cret", Some("Bearer wrong")),
    ];
    for (path, auth) in accepted {
        let mut request = host.client.get(host.url(path));
        if let Some(a) = auth {
            request = request.header("Authorization", a);
        }
        let env = envelope(request).await;
        ok_data(&env);
    }
    let refused = [
        ("/probe_echo", None),
        ("/probe_echo", Some("Bearer wrong")),
        ("/probe_echo?access_token=wrong", Some("Bearer s3cret")),
        ("/", None),
        ("/get_version_info", None),
    ];
    for (path, auth) in refused {
        let mut request = host.client.get(host.url(path));
        if let Some(a) = auth {
            request = request.header("Authorization", a);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), 200, "H6: 1403 comes with HTTP 200");
        let env: Value = response.json().await.expect("json");
        assert_eq!(failed(&env, 1403), "token verify failed", "{path} {auth:?}");
    }
    host.stop().await;
}

#[tokio::test]
async fn h7_cors_preflight_and_headers() {
    let host = Setup::default()
        .server(r#"token: "s3cret", allowOrigins: ["http://example.test"]"#)
        .start()
        .await;
    let preflight = host
        .client
        .request(reqwest::Method::OPTIONS, host.url("/send_msg"))
        .header("Origin", "http://example.test")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(
        preflight.status(),
        204,
        "preflight answered before the token check"
    );
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "http://example.test");
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization,content-type"
    );
    assert!(h.contains_key("access-control-allow-methods"));
    let env = host.get("/get_version_info?access_token=s3cret").await;
    ok_data(&env);
    let response = host
        .client
        .get(host.url("/get_version_info"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    host.stop().await;

    let host = Setup::default()
        .server(r#"enableCors: false, allowOrigins: ["http://example.test"]"#)
        .start()
        .await;
    let response = host
        .client
        .get(host.url("/get_version_info"))
        .header("Origin", "http://example.test")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200, "an allowed origin is served");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    host.stop().await;
}

#[tokio::test]
async fn h8_unknown_action_is_1404_with_napcat_message() {
    let host = Setup::default().start().await;
    let env = host.get("/nope").await;
    assert_eq!(failed(&env, 1404), "不支持的API nope");
    assert_eq!(env["echo"], Value::Null);
    host.stop().await;
}

#[tokio::test]
async fn h9_replies_are_application_json() {
    let host = Setup::default().start().await;
    for path in ["/", "/nope", "/probe_echo"] {
        let response = host.client.get(host.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
    }
    host.stop().await;
}

#[tokio::test]
async fn e1_e3_echo_comes_back_with_its_type() {
    let host = Setup::default().start().await;
    for echo in [json!("r1"), json!(17), json!({"seq": [1, 2]}), json!(null)] {
        let env = host.post("get_version_info", json!({"echo": echo})).await;
        ok_data(&env);
        assert_eq!(env["echo"], echo);
        assert_eq!(env["message"], "");
        assert_eq!(env["wording"], "");
        assert!(env.get("post_type").is_none(), "E3b");
    }
    let env = host.get("/get_version_info?echo=q1").await;
    assert_eq!(env["echo"], "q1", "E3: echo from the query");
    let env = host.post("nope", json!({"echo": 5})).await;
    failed(&env, 1404);
    assert_eq!(env["echo"], 5, "E3: echo on failures too");
    host.stop().await;
}

#[tokio::test]
async fn e4_plugin_errors_keep_their_retcode() {
    let host = Setup::default().start().await;
    let env = host
        .post(
            "probe_fail",
            json!({"retcode": 1234, "error": "custom failure"}),
        )
        .await;
    assert_eq!(failed(&env, 1234), "custom failure");
    let env = host.post("probe_fail", json!({})).await;
    assert_eq!(failed(&env, 1200), "probe failed");
    host.stop().await;
}

#[tokio::test]
async fn e5_async_answers_at_once_with_status_async() {
    let host = Setup::default().start().await;
    let env = host
        .post("probe_sleep_async", json!({"ms": 300, "echo": "a"}))
        .await;
    assert_eq!(env["status"], "async");
    assert_eq!(env["retcode"], 0);
    assert_eq!(env["data"], Value::Null);
    assert_eq!(env["echo"], "a");
    // An unknown base action is still unknown.
    failed(&host.post("nope_async", json!({})).await, 1404);
    host.stop().await;
}

#[tokio::test]
async fn e5_rate_limited_calls_run_in_turn_with_the_gap() {
    let host = Setup::default()
        .plugin_settings("rateLimitGapMs: 200")
        .start()
        .await;
    let started = Instant::now();
    let (a, b, c) = tokio::join!(
        host.post("probe_echo_rate_limited", json!({"n": 1})),
        host.post("probe_echo_rate_limited", json!({"n": 2})),
        host.post("probe_echo_rate_limited", json!({"n": 3})),
    );
    for env in [&a, &b, &c] {
        assert_eq!(
            ok_data(env)["action"],
            "probe_echo",
            "the real result comes back"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "three rate-limited calls need at least two gaps"
    );
    host.stop().await;
}

#[tokio::test]
async fn e6_host_fallbacks_without_plugins() {
    let host = Setup::with_plugins(&[]).start().await;
    let env = host.get("/get_version_info").await;
    let data = ok_data(&env);
    assert_eq!(data["protocol_version"], "v11");
    assert_eq!(data["app_name"], "onebot-host");
    let env = host.get("/get_status").await;
    assert_eq!(ok_data(&env)["online"], true);
    assert_eq!(ok_data(&env)["good"], true);
    assert!(ok_data(&env)["stat"].is_object());
    let env = host.get("/get_login_info").await;
    assert_eq!(
        ok_data(&env),
        &json!({"user_id": 10000, "nickname": "onebot-host"})
    );
    host.stop().await;
}

#[tokio::test]
async fn e6_a_plugin_overrides_a_fallback_and_sets_self_id() {
    let host = Setup::with_plugins(&[
        ("mock_account.wasm", "mock-account.wasm"),
        ("probe.wasm", "probe.wasm"),
    ])
    .start()
    .await;
    let env = host.get("/get_login_info").await;
    let user_id = ok_data(&env)["user_id"].clone();
    assert_eq!(ok_data(&env)["nickname"], "mock-account");
    let env = host.get("/probe_echo").await;
    assert_eq!(
        ok_data(&env)["self_id"],
        user_id,
        "plugins get get_login_info's user_id"
    );
    let env = host.get("/").await;
    assert_eq!(ok_data(&env)["self_id"], user_id);
    host.stop().await;
}

#[tokio::test]
async fn c3_two_servers_share_one_registry() {
    let dir = tempfile::tempdir().expect("tmp");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("dir");
    std::fs::copy(
        crate::harness::guest("probe.wasm"),
        plugins.join("probe.wasm"),
    )
    .expect("copy");
    let text = format!(
        r#"{{ network: {{ httpServers: [
            {{ name: "a", enable: true, port: 0 }},
            {{ name: "b", enable: true, port: 0, token: "t" }},
            {{ name: "off", enable: false, port: 0 }} ] }},
           plugins: {{ dir: {:?}, cacheDir: {:?} }} }}"#,
        plugins.display().to_string(),
        crate::harness::shared_cache().display().to_string()
    );
    let config = onebot_host::config::parse(&text, &dir.path().join("c.json5"))
        .expect("config")
        .config;
    let host = onebot_host::start(config).await.expect("start");
    assert_eq!(host.addrs.len(), 2, "only enabled servers listen");
    let client = reqwest::Client::new();
    let a = envelope(client.get(format!("http://{}/probe_echo", host.addrs[0]))).await;
    ok_data(&a);
    let b = envelope(client.get(format!(
        "http://{}/probe_echo?access_token=t",
        host.addrs[1]
    )))
    .await;
    ok_data(&b);
    let b_no_token = envelope(client.get(format!("http://{}/probe_echo", host.addrs[1]))).await;
    failed(&b_no_token, 1403);
    host.stop().await;
}
