//! Webhook routes (issue 22; SPEC T20–T25): the fixture `route-probe` (tests/guests/route-probe)
//! serves its paths through the SDK's `route!`, on a real host, called by a real HTTP client
//! that sends no OneBot token.

use serde_json::{Value, json};

use crate::harness::{Setup, TestHost, failed};

const PROBE: (&str, &str) = ("route_probe.wasm", "gh.wasm");

async fn host(sidecar: &str) -> TestHost {
    Setup::with_plugins(&[PROBE])
        .sidecar("gh.json5", sidecar.to_owned())
        .server(r#"token: "secret-token""#)
        .start()
        .await
}

#[tokio::test]
async fn t21_t22_t23_a_granted_route_serves_any_method_below_it_without_the_token() {
    let host = host(r#"{ routes: ["/echo", "/status"], timeoutMs: 2000 }"#).await;
    let response = host
        .client
        .put(host.url("/hooks/gh/echo/deeper?x=1"))
        .header("x-test", "yes")
        .body("hello")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-route"], "echo");
    let seen: Value = response.json().await.expect("json");
    assert_eq!(
        seen,
        json!({ "method": "PUT", "path": "/hooks/gh/echo/deeper?x=1", "x_test": "yes", "body": "hello" })
    );
    // The plugin's own status passes through.
    let teapot = host
        .client
        .get(host.url("/hooks/gh/status"))
        .send()
        .await
        .expect("sent");
    assert_eq!(teapot.status(), 418);
    assert_eq!(teapot.text().await.expect("text"), "teapot");
    // Actions still want the token (T23 is for /hooks/ only).
    let env = host.post("route_probe", json!({})).await;
    failed(&env, 1403);
    host.stop().await;
}

#[tokio::test]
async fn t21_an_ungranted_or_unknown_route_is_404() {
    let host = host(r#"{ routes: ["/echo"] }"#).await;
    for path in [
        "/hooks/gh/status",
        "/hooks/gh/echox",
        "/hooks/gh",
        "/hooks/nobody/echo",
        "/hooks/",
    ] {
        let response = host.client.post(host.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 404, "{path}");
    }
    host.stop().await;
}

#[tokio::test]
async fn t25_a_failing_route_is_500_with_no_internals_and_others_go_on() {
    let host = host(
        r#"{ routes: ["/trap", "/loop", "/bomb", "/big", "/echo"], timeoutMs: 300, memoryMb: 32, maxResultBytes: 100000 }"#,
    )
    .await;
    for path in [
        "/hooks/gh/trap",
        "/hooks/gh/loop",
        "/hooks/gh/bomb",
        "/hooks/gh/big",
    ] {
        let response = host.client.post(host.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 500, "{path}");
        let text = response.text().await.expect("text");
        assert!(
            !text.contains("route-probe") && !text.contains("panic") && !text.contains("wasm"),
            "{path}: no internals in {text:?}"
        );
    }
    let response = host
        .client
        .post(host.url("/hooks/gh/echo"))
        .body("after")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status(),
        200,
        "the plugin still serves after its failures"
    );
    host.stop().await;
}

#[tokio::test]
async fn t24_the_body_cap_applies_to_routes() {
    let host = Setup::with_plugins(&[PROBE])
        .sidecar("gh.json5", r#"{ routes: ["/echo"] }"#)
        .server("maxBodyBytes: 1000")
        .start()
        .await;
    let response = host
        .client
        .post(host.url("/hooks/gh/echo"))
        .body(vec![b'a'; 5000])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
    host.stop().await;
}

#[tokio::test]
async fn t20_an_action_called_hooks_is_refused_and_bad_routes_are_named() {
    let trust = onebot_host::config::Trust::default();
    let base = onebot_host::config::SidecarBase {
        plugin: "gh",
        limits: onebot_host::config::Limits::default(),
        grants: None,
        trust: &trust,
    };
    let error = onebot_host::config::parse_sidecar(
        r#"{ routes: ["github"] }"#,
        std::path::Path::new("gh.json5"),
        &base,
    )
    .expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("routes: \"github\" does not start with `/`"),
        "{error}"
    );
}
