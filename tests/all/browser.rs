//! What a web page can do to a bot on this machine (issue 20 item 2, SPEC B1–B4), against the
//! real binary with the default server settings: no token, `enableCors` on, 127.0.0.1. A
//! browser's requests are imitated by the headers a browser sends (`Origin`,
//! `Sec-Fetch-Site`, a rebound `Host`); every other client sends none and must work as before.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::bin::Running;
use crate::harness::{Setup, envelope, failed, ok_data};
use crate::ws::client::{connect, next_json, try_connect};

const EVIL: &str = "http://evil.example";

/// A request's status and envelope.
async fn status_and_envelope(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("an envelope: {text}"));
    (status, value)
}

/// Asserts a 403 whose envelope (retcode 1403) names `key` (B3).
async fn refused(request: reqwest::RequestBuilder, key: &str) {
    let (status, env) = status_and_envelope(request).await;
    assert_eq!(status, 403, "{env}");
    let message = failed(&env, 1403);
    assert!(message.contains(key), "{message}");
}

/// The handshake's HTTP status, when refused.
async fn handshake_status(addr: SocketAddr, path: &str, headers: &[(&'static str, &str)]) -> u16 {
    match try_connect(addr, path, headers).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("handshake failed otherwise: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b1_b2_b3_a_page_cannot_call_read_or_subscribe_on_the_default_config() {
    let setup = Setup::default()
        .server("enableWebsocket: true, heartInterval: 0")
        .network(
            r#"websocketServers: [{ name: "ws", enable: true, port: 0, heartInterval: 0 }],
               httpSseServers: [{ name: "sse", enable: true, port: 0 }]"#,
        );
    let mut host = Running::start(&setup, "info", None);
    let (addr, ws, sse) = (host.addr("test"), host.addr("ws"), host.addr("sse"));
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    // Bot frameworks and curl: no Origin, a loopback Host. Exactly as before.
    let env = envelope(
        client
            .post(format!("{base}/probe_echo"))
            .json(&json!({"x": 1})),
    )
    .await;
    assert_eq!(ok_data(&env)["params"]["x"], 1);
    let env = envelope(client.post(format!("{base}/probe_echo")).body("{x: 2}")).await;
    assert_eq!(
        ok_data(&env)["params"]["x"],
        2,
        "no Content-Type is JSON5 (H3)"
    );
    let mut universal = connect(addr, "/event").await;
    assert_eq!(next_json(&mut universal).await["sub_type"], "connect");

    // A page elsewhere: the no-preflight text/plain POST, a read of GET /, a preflight.
    let text_plain = client
        .post(format!("{base}/probe_echo"))
        .header("Origin", EVIL)
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(r#"{"x": 3}"#);
    refused(text_plain, "allowOrigins").await;
    refused(
        client.get(format!("{base}/")).header("Origin", EVIL),
        "allowOrigins",
    )
    .await;
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{base}/probe_echo"))
        .header("Origin", EVIL)
        .header("Access-Control-Request-Method", "POST");
    refused(preflight, "allowOrigins").await;
    // `Origin: null` (a sandboxed frame, a file:// page) is no exception.
    refused(
        client.get(format!("{base}/")).header("Origin", "null"),
        "allowOrigins",
    )
    .await;
    // An <img>, a link or a no-cors fetch: a GET with no Origin, marked cross-site.
    let img = client
        .get(format!("{base}/probe_echo?message=hi"))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Sec-Fetch-Mode", "no-cors");
    refused(img, "allowOrigins").await;

    // DNS rebinding: the page's own name now points at 127.0.0.1, so it is "same-origin".
    let port = addr.port();
    let rebound = format!("evil.example:{port}");
    refused(
        client.get(format!("{base}/")).header("Host", &rebound),
        "allowHosts",
    )
    .await;
    let rebound_post = client
        .post(format!("{base}/probe_echo"))
        .header("Host", &rebound)
        .header("Origin", format!("http://{rebound}"))
        .json(&json!({}));
    refused(rebound_post, "allowHosts").await;

    // Subscribing to events: every WebSocket kind and the SSE stream.
    for (at, path) in [(addr, "/event"), (addr, "/api"), (ws, "/")] {
        assert_eq!(
            handshake_status(at, path, &[("origin", EVIL)]).await,
            403,
            "{at}{path}"
        );
        let host_header = format!("evil.example:{}", at.port());
        assert_eq!(
            handshake_status(at, path, &[("host", &host_header)]).await,
            403,
            "rebound {at}{path}"
        );
    }
    refused(
        client
            .get(format!("http://{sse}/_events"))
            .header("Origin", EVIL),
        "allowOrigins",
    )
    .await;

    // The refusals are logged, and the WebSocket client from the start was never disturbed.
    host.wait_for("browser request refused");
    drop(universal);
    host.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b1_b2_b4_listed_origins_and_hosts_are_let_through_and_cors_reflects_them() {
    let page = "http://localhost:5173";
    let setup = Setup::default().server(&format!(
        r#"enableWebsocket: true, heartInterval: 0, allowOrigins: ["{page}"],
           allowHosts: ["bot.example"]"#
    ));
    let mut host = Running::start(&setup, "info", None);
    let addr = host.addr("test");
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{base}/probe_echo"))
        .header("Origin", page)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .expect("sent");
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], page);

    let response = client
        .post(format!("{base}/probe_echo"))
        .header("Origin", page)
        .json(&json!({"x": 1}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["access-control-allow-origin"], page);
    let vary = response.headers()["vary"].to_str().expect("ascii");
    assert!(vary.contains("Origin"), "{vary}");
    let env: Value = response.json().await.expect("envelope");
    assert_eq!(ok_data(&env)["params"]["x"], 1);

    // B4: even an allowed page's text/plain body is not read as JSON.
    let (status, env) = status_and_envelope(
        client
            .post(format!("{base}/probe_echo"))
            .header("Origin", page)
            .header("Content-Type", "text/plain")
            .body(r#"{"x": 1}"#),
    )
    .await;
    assert_eq!(status, 415, "{env}");
    assert!(failed(&env, 1400).contains("application/json"));

    // The server's own origin needs no listing; a listed Host passes the rebinding guard.
    let own = format!("http://{addr}");
    let env = envelope(client.get(format!("{base}/")).header("Origin", &own)).await;
    ok_data(&env);
    let named = format!("bot.example:{}", addr.port());
    let env = envelope(client.get(format!("{base}/")).header("Host", &named)).await;
    ok_data(&env);
    // Without an Origin, CORS stays as it was: `*`.
    let response = client.get(format!("{base}/")).send().await.expect("sent");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");

    let mut socket = try_connect(addr, "/event", &[("origin", page)])
        .await
        .expect("a listed origin may subscribe");
    assert_eq!(next_json(&mut socket).await["sub_type"], "connect");
    host.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2_a_server_bound_to_every_address_takes_any_host_but_still_checks_origin() {
    // An HTTP API on every address (an `httpSseServers` entry serves it too).
    let setup = Setup::default().network(
        r#"httpSseServers: [{ name: "open", enable: true, host: "0.0.0.0", port: 0, token: "t0k" }]"#,
    );
    let mut host = Running::start(&setup, "info", None);
    let port = host.addr("open").port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let env = envelope(
        client
            .get(format!("{base}/get_version_info?access_token=t0k"))
            .header("Host", format!("onebot:{port}")),
    )
    .await;
    ok_data(&env);
    refused(
        client
            .get(format!("{base}/get_version_info?access_token=t0k"))
            .header("Origin", EVIL),
        "allowOrigins",
    )
    .await;
    host.terminate();
}
