//! `/dashboard` (SPEC D1–D7) over real HTTP: the page and its files, the JSON only it needs, its
//! event stream, and who may read them. The page itself is driven in a real browser by
//! tests/browser (D2–D5 as a user sees them).

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::harness::{Setup, TestHost, failed, ok_data, wait_for};
use crate::reverse_http::endpoint::{Endpoint, client, dead_url};
use crate::reverse_ws::bot::Bot;

const TOKEN: &str = "dash-token";

async fn host(server: &str) -> TestHost {
    Setup::default()
        .server(&format!(r#"token: "{TOKEN}", {server}"#))
        .start()
        .await
}

async fn get(host: &TestHost, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = host.client.get(host.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("sent")
}

#[tokio::test]
async fn d1_d7_the_page_is_served_on_loopback_without_the_token_and_cannot_be_framed() {
    let host = host("").await;
    for (path, kind) in [
        ("/dashboard", "text/html"),
        ("/dashboard/", "text/html"),
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/style.css", "text/css"),
    ] {
        let response = get(&host, path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with(kind)
        );
        let csp = headers["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("connect-src 'self'"));
        assert_eq!(headers["x-frame-options"], "DENY");
    }
    let page = get(&host, "/dashboard", None)
        .await
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("/dashboard/app.js") && !page.contains("http"),
        "D2: nothing from elsewhere"
    );
    assert_eq!(get(&host, "/dashboard/nope", None).await.status(), 404);
    host.stop().await;
}

/// D1: `dashboard: false`, and a server bound to every address without the key, leave
/// `/dashboard` to dispatch like any other path (1404); O9/D4: with `metrics: false` the page
/// still reads the metrics, through its own path.
#[tokio::test]
async fn d1_not_served_when_off_or_by_default_off_loopback() {
    let off = Setup::default()
        .server(&format!(r#"token: "{TOKEN}", dashboard: false"#))
        .network(&format!(
            r#"httpSseServers: [{{ name: "open", enable: true, host: "0.0.0.0", port: 0, token: "{TOKEN}" }}]"#
        ))
        .start()
        .await;
    let open_port = off.host.as_ref().expect("running").addrs[1].port();
    for base in [off.base.clone(), format!("http://127.0.0.1:{open_port}")] {
        for path in ["/dashboard", "/dashboard/api/metrics"] {
            let envelope: Value = off
                .client
                .get(format!("{base}{path}?access_token={TOKEN}"))
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("an envelope");
            failed(&envelope, 1404);
        }
    }
    off.stop().await;

    let no_metrics = host("metrics: false").await;
    failed(
        &no_metrics
            .get(&format!("/metrics?access_token={TOKEN}"))
            .await,
        1404,
    );
    let text = get(&no_metrics, "/dashboard/api/metrics", Some(TOKEN))
        .await
        .text()
        .await
        .expect("text");
    assert!(text.contains("onebot_registry_generation"), "{text}");
    no_metrics.stop().await;
}

#[tokio::test]
async fn d3_d5_d6_the_page_data_needs_the_token() {
    let host = Setup::default()
        .server(&format!(r#"token: "{TOKEN}""#))
        .network(r#"websocketClients: [{ name: "bot", enable: true, url: "ws://127.0.0.1:9/x?access_token=secret-in-url", token: "ws-secret" }]"#)
        .start()
        .await;
    for path in [
        "/dashboard/api/history",
        "/dashboard/api/log",
        "/dashboard/api/connections",
        "/dashboard/api/metrics",
        "/dashboard/events",
    ] {
        for token in [None, Some("wrong")] {
            let response = get(&host, path, token).await;
            assert_eq!(response.status(), 403, "{path} {token:?}");
            let envelope: Value = response.json().await.expect("envelope");
            failed(&envelope, 1403);
        }
    }
    let history: Value = get(&host, "/dashboard/api/history", Some(TOKEN))
        .await
        .json()
        .await
        .expect("json");
    let history = ok_data(&history);
    assert!(history["started_ms"].as_u64().is_some_and(|t| t > 0));
    assert_eq!(
        history["samples"][0].as_array().map(Vec::len),
        Some(3),
        "{history}"
    );
    let log: Value = get(&host, "/dashboard/api/log?level=info", Some(TOKEN))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        ok_data(&log)["kept"],
        false,
        "D5: a host started as a library keeps no tail"
    );
    let connections: Value = get(&host, "/dashboard/api/connections", Some(TOKEN))
        .await
        .json()
        .await
        .expect("json");
    let connections = ok_data(&connections);
    let server = &connections["servers"][0];
    assert_eq!(server["token"], true);
    assert_eq!(server["dashboard"], true);
    assert_eq!(
        connections["websocketClients"][0]["url"],
        "ws://127.0.0.1:9/x"
    );
    let text = connections.to_string();
    assert!(
        !text.contains(TOKEN) && !text.contains("ws-secret") && !text.contains("secret-in-url"),
        "D6: no token, nor a URL's query: {text}"
    );
    host.stop().await;
}

#[tokio::test]
async fn d4_the_event_stream_carries_plugin_events() {
    let host = host("").await;
    let response = get(&host, "/dashboard/events", Some(TOKEN)).await;
    assert_eq!(response.status(), 200);
    let mut response = response;
    let mut seen = String::new();
    while !seen.contains("lifecycle") {
        let chunk = response.chunk().await.expect("ok").expect("a chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let emitted = host
        .client
        .post(host.url("/probe_emit"))
        .bearer_auth(TOKEN)
        .json(&json!({"event": {"post_type": "notice", "notice_type": "dash_probe"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(emitted.status(), 200);
    while !seen.contains("dash_probe") {
        let chunk = response.chunk().await.expect("ok").expect("a chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("data: {"), "server-sent events: {seen}");
    let metrics = get(&host, "/metrics", Some(TOKEN))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("onebot_connection_clients{kind=\"dashboard\"} 1"),
        "{metrics}"
    );
    host.stop().await;
}

#[tokio::test]
async fn b1_d7_another_sites_page_cannot_read_the_dashboard() {
    let host = host("").await;
    for path in ["/dashboard", "/dashboard/api/history"] {
        let response = host
            .client
            .get(host.url(path))
            .bearer_auth(TOKEN)
            .header("origin", "http://evil.example")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 403, "{path}");
        let framed = host
            .client
            .get(host.url(path))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .expect("sent");
        assert_eq!(framed.status(), 403, "{path}");
    }
    host.stop().await;
}

/// The connections page's data, with the token.
async fn connections(host: &TestHost) -> Value {
    let envelope: Value = get(host, "/dashboard/api/connections", Some(TOKEN))
        .await
        .json()
        .await
        .expect("json");
    ok_data(&envelope).clone()
}

/// D6: each `websocketClients` entry shows whether it is connected, since when, how often it
/// connected, and why it last went down, without its token.
#[tokio::test]
async fn d6_reverse_websocket_entries_show_their_state() {
    let mut bot = Bot::listen().await;
    let host = Setup::default()
        .server(&format!(r#"token: "{TOKEN}""#))
        .network(&format!(
            r#"websocketClients: [
                {{ name: "up", enable: true, url: "{}", token: "ws-secret", reconnectInterval: 100 }},
                {{ name: "refused", enable: true, url: "ws://127.0.0.1:9/", reconnectInterval: 100 }}]"#,
            bot.url("/onebot")
        ))
        .start()
        .await;
    let connection = bot.next_connection().await;
    let state = wait_for("both entries' state", || async {
        let entries = connections(&host).await;
        let clients = entries["websocketClients"].clone();
        (clients[0]["state"]["connected"] == true
            && clients[0]["counters"]["delivered"].as_u64() >= Some(1)
            && clients[1]["state"]["last_error"].is_string())
        .then_some(clients)
    })
    .await;
    assert_eq!(state[0]["name"], "up");
    assert_eq!(state[0]["state"]["connects"], 1);
    assert!(
        state[0]["state"]["connected_since"]
            .as_u64()
            .is_some_and(|t| t > 0)
    );
    assert_eq!(state[1]["state"]["connected"], false, "{state}");
    assert_eq!(state[1]["state"]["connects"], 0);
    assert_eq!(
        state[1]["counters"]["delivered"], 0,
        "D6: nothing to a refused URL"
    );
    assert!(!state.to_string().contains("ws-secret"), "{state}");

    drop(connection);
    let down = wait_for("the lost connection to show", || async {
        let up = connections(&host).await["websocketClients"][0]["state"].clone();
        up["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("connection lost"))
            .then_some(up)
    })
    .await;
    assert!(down["connects"].as_u64().is_some_and(|n| n >= 1), "{down}");
    host.stop().await;
}

/// D6: each `httpClients` entry shows its events posted and failed, when a POST last
/// succeeded and the last error; each server entry its connected clients and the events it
/// delivered to them. Neither the signing token, the server's token nor the URL's query is
/// in the page's data.
#[tokio::test]
async fn d6_http_client_and_server_entries_show_their_counters() {
    let mut bot = Endpoint::quiet().await;
    let accepting = format!("{}?key=url-secret", bot.url);
    let host = Setup::default()
        .server(&format!(r#"token: "{TOKEN}", enableWebsocket: true"#))
        .network(&format!(
            "httpClients: [{}, {}]",
            client("bot", &accepting, r#"token: "sign-secret""#),
            client("gone", &dead_url(), ""),
        ))
        .start()
        .await;
    let addr = host.host.as_ref().expect("running").addrs[0];
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/?access_token={TOKEN}"))
            .await
            .expect("WebSocket connects");
    let lifecycle = socket.next().await.expect("a frame").expect("ok");
    assert!(lifecycle.to_text().expect("text").contains("lifecycle"));
    let emitted = host
        .client
        .post(host.url("/probe_emit"))
        .bearer_auth(TOKEN)
        .json(&json!({"event": {"post_type": "notice", "notice_type": "poke"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(emitted.status(), 200);
    assert_eq!(bot.next().await.event["notice_type"], "poke");
    let event = socket.next().await.expect("a frame").expect("ok");
    assert!(event.to_text().expect("text").contains("poke"));

    let entries = wait_for("one endpoint posting, one failing", || async {
        let entries = connections(&host).await;
        let clients = &entries["httpClients"];
        (clients[0]["counters"]["delivered"].as_u64() >= Some(1)
            && clients[1]["counters"]["failed"].as_u64() >= Some(1))
        .then_some(entries)
    })
    .await;
    let (posting, failing) = (&entries["httpClients"][0], &entries["httpClients"][1]);
    assert_eq!(posting["name"], "bot");
    assert_eq!(posting["url"], bot.url, "D6: the URL without its query");
    assert_eq!(posting["counters"]["delivered"], 1, "{posting}");
    assert_eq!(posting["counters"]["failed"], 0, "{posting}");
    assert!(
        posting["counters"]["last_success"]
            .as_u64()
            .is_some_and(|t| t > 0)
    );
    assert!(posting["counters"]["last_error"].is_null(), "{posting}");
    assert_eq!(failing["name"], "gone");
    assert_eq!(failing["counters"]["delivered"], 0, "{failing}");
    assert_eq!(failing["counters"]["failed"], 1, "{failing}");
    assert!(failing["counters"]["last_success"].is_null(), "{failing}");
    assert!(
        failing["counters"]["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("no connection")),
        "{failing}"
    );

    let server = &entries["servers"][0];
    assert_eq!(server["name"], "test");
    assert_eq!(server["counters"]["clients"], 1, "{server}");
    assert_eq!(
        server["counters"]["delivered"], 2,
        "the lifecycle event and the poke: {server}"
    );
    assert_eq!(server["counters"]["dropped"], 0, "{server}");
    let text = entries.to_string();
    for secret in ["url-secret", "sign-secret", TOKEN] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }

    drop(socket);
    wait_for("the WebSocket client to be counted out", || async {
        (connections(&host).await["servers"][0]["counters"]["clients"] == 0).then_some(())
    })
    .await;
    host.stop().await;
}
