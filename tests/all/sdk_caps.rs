//! The capabilities as a Rust plugin author uses them (issue 12; SPEC P4, P6): the fixture
//! `sdk-caps` (tests/guests/sdk-caps) calls `config`, `kv::Store`, `call_action` and `http`
//! of the SDK (sdk/rust) and answers what they returned, so each test checks what the SDK
//! gives a plugin against a real host and, for HTTP, a real server on loopback.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::any;
use serde_json::{Value, json};

use crate::harness::{Setup, failed, ok_data};

const CAPS: (&str, &str) = ("sdk_caps.wasm", "caps.wasm");

#[tokio::test]
async fn p6_sdk_config_reads_the_sidecar_and_require_names_what_to_add() {
    let host = Setup::with_plugins(&[CAPS])
        .sidecar(
            "caps.json5",
            r#"{ config: { greeting: "Hello", price: "$$5" } }"#,
        )
        .start()
        .await;
    let env = host.post("caps_config", json!({ "key": "greeting" })).await;
    assert_eq!(
        ok_data(&env),
        &json!({ "one": "Hello", "all": { "greeting": "Hello", "price": "$5" } })
    );
    let env = host.post("caps_config", json!({ "key": "absent" })).await;
    assert_eq!(ok_data(&env)["one"], Value::Null);

    let env = host
        .post("caps_require", json!({ "key": "greeting" }))
        .await;
    assert_eq!(ok_data(&env)["value"], "Hello");
    let message = failed(
        &host.post("caps_require", json!({ "key": "api_key" })).await,
        1200,
    );
    assert!(
        message.contains("`api_key`") && message.contains("config") && message.contains("sidecar"),
        "names the key and where to set it: {message}"
    );
    host.stop().await;
}

#[tokio::test]
async fn p4_sdk_key_value_counts_round_trips_json_and_names_an_ungranted_store() {
    let host = Setup::with_plugins(&[CAPS])
        .sidecar("caps.json5", r#"{ keyValue: ["counters"] }"#)
        .start()
        .await;
    let params = json!({ "store": "counters", "key": "hits" });
    let env = host.post("caps_count", params.clone()).await;
    assert_eq!(ok_data(&env), &json!({ "count": 1, "previous": null }));
    let env = host.post("caps_count", params).await;
    assert_eq!(
        ok_data(&env),
        &json!({ "count": 2, "previous": { "after": 1 } }),
        "set_json then get_json gives the value back"
    );

    let env = host
        .post("caps_count", json!({ "store": "secret", "key": "hits" }))
        .await;
    let message = failed(&env, 1200);
    assert!(
        message.contains("keyValue") && message.contains("secret"),
        "names the label and the sidecar key: {message}"
    );
    host.stop().await;
}

#[tokio::test]
async fn p4_sdk_call_action_passes_data_and_retcodes_through() {
    let host = Setup::with_plugins(&[CAPS, ("probe.wasm", "probe.wasm")])
        .plugin_settings(r#"ceilings: { caps: { callActions: ["*"] } }"#)
        .sidecar(
            "caps.json5",
            r#"{ callActions: ["probe_echo", "get_version_info", "no_such_action"] }"#,
        )
        .start()
        .await;
    let env = host
        .post(
            "caps_call",
            json!({ "action": "probe_echo", "params": { "n": 7 } }),
        )
        .await;
    assert_eq!(ok_data(&env)["params"]["n"], 7, "the callee's data: {env}");

    // Typed: `call_action_as` reads the data into a struct.
    let env = host.post("caps_version", json!({})).await;
    assert_eq!(
        ok_data(&env),
        &json!({ "app_name": "onebot-host", "protocol_version": "v11" })
    );
    let message = failed(&host.post("caps_version_mismatch", json!({})).await, 1200);
    assert!(
        message.contains("get_version_info") && message.contains("no_such_field"),
        "names the action and what did not fit: {message}"
    );

    // The callee's failure is the caller's, retcode and all (`?` in the plugin).
    let env = host
        .post("caps_call", json!({ "action": "no_such_action" }))
        .await;
    let message = failed(&env, 1404);
    assert!(message.contains("no_such_action"), "{message}");
    let env = host
        .post("caps_call", json!({ "action": "get_status" }))
        .await;
    let message = failed(&env, 1403);
    assert!(message.contains("callActions"), "{message}");
    host.stop().await;
}

/// Answers every request with what it received: `{method, path, query, headers, body}`;
/// `/status/<code>` answers that status instead.
async fn loopback_server() -> (String, tokio::task::JoinHandle<()>) {
    async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Json<Value> {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), Value::String(value))
            })
            .collect();
        Json(json!({
            "method": method.as_str(),
            "path": uri.path(),
            "query": uri.query(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        }))
    }
    async fn status(Path(code): Path<u16>) -> (StatusCode, String) {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
        (status, format!("status {code} as asked"))
    }
    let app = axum::Router::new()
        .route("/status/{code}", any(status))
        .fallback(echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn p4_sdk_http_client_talks_to_an_allowed_host_and_names_the_grant_otherwise() {
    let (base, server) = loopback_server().await;
    let sidecar = format!("{{ allowedOutboundHosts: [{base:?}] }}");
    // P13: the operator lets this plugin's sidecar ask for the loopback origin.
    let ceiling = format!("ceilings: {{ caps: {{ allowedOutboundHosts: [{base:?}] }} }}");
    let host = Setup::with_plugins(&[CAPS])
        .plugin_settings(&ceiling)
        .sidecar("caps.json5", sidecar)
        .start()
        .await;

    // http::get
    let env = host
        .post(
            "caps_get",
            json!({ "url": format!("{base}/echo/a?x=1#frag") }),
        )
        .await;
    let data = ok_data(&env);
    assert_eq!(data["status"], 200, "{data}");
    assert_eq!(data["success"], true);
    assert_eq!(data["content_type"], "application/json");
    let seen: Value = serde_json::from_str(data["body"].as_str().expect("text")).expect("json");
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["path"], "/echo/a");
    assert_eq!(seen["query"], "x=1", "the fragment is not sent: {seen}");

    // http::post_json, with a body larger than one 4 KiB write.
    let big = "é".repeat(50_000);
    let env = host
        .post(
            "caps_post",
            json!({ "url": format!("{base}/echo"), "body": { "text": big } }),
        )
        .await;
    let answer = &ok_data(&env)["answer"];
    assert_eq!(answer["method"], "POST");
    assert_eq!(answer["headers"]["content-type"], "application/json");
    let sent: Value = serde_json::from_str(answer["body"].as_str().expect("text")).expect("json");
    assert_eq!(sent, json!({ "text": big }), "the whole body arrived");

    // The Request builder: method, headers, text body.
    let env = host
        .post(
            "caps_http",
            json!({
                "method": "put",
                "url": format!("{base}/things/1"),
                "headers": { "x-test": "yes", "authorization": "Bearer t" },
                "text": "plain words",
                "timeout_ms": 5000,
            }),
        )
        .await;
    let data = ok_data(&env);
    let seen: Value = serde_json::from_str(data["body"].as_str().expect("text")).expect("json");
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["headers"]["x-test"], "yes");
    assert_eq!(seen["headers"]["authorization"], "Bearer t");
    assert_eq!(seen["body"], "plain words");

    // A 404 is a response, not an error; error_for_status makes a 500 one.
    let env = host
        .post("caps_get", json!({ "url": format!("{base}/status/404") }))
        .await;
    let data = ok_data(&env);
    assert_eq!(data["status"], 404);
    assert_eq!(data["success"], false);
    assert_eq!(data["body"], "status 404 as asked");
    let env = host
        .post(
            "caps_post",
            json!({ "url": format!("{base}/status/500"), "body": {} }),
        )
        .await;
    let message = failed(&env, 1200);
    assert!(
        message.contains("500") && message.contains("status 500 as asked"),
        "{message}"
    );

    // A host the sidecar does not allow: the error names the grant to add.
    let env = host
        .post("caps_get", json!({ "url": "http://127.0.0.1:9/nope" }))
        .await;
    let message = failed(&env, 1200);
    assert!(
        message.contains("allowedOutboundHosts")
            && message.contains("http GET http://127.0.0.1:9/nope"),
        "names the request and the sidecar key: {message}"
    );
    // A URL the SDK cannot send says why.
    let env = host
        .post("caps_get", json!({ "url": "ftp://127.0.0.1/x" }))
        .await;
    let message = failed(&env, 1200);
    assert!(message.contains("scheme `ftp`"), "{message}");

    host.stop().await;
    server.abort();
}
