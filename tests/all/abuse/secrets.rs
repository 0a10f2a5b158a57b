//! Secrets (issue 7, H6, W2): the token in no log line, whichever way it was sent (the upstream
//! of gateway mode included), at every
//! log level; and a loud warning for a server that other machines can reach without a token.
//! Both read the real binary's log, as an operator would.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::bin::Running;
use crate::harness::{Setup, envelope, failed, ok_data, shared_cache};
use crate::reverse_http::endpoint::{Endpoint, client};
use crate::reverse_ws::bot::Bot;
use crate::ws::client::{close_code, connect, next_json, try_connect};

/// Everything at `trace` except the compiler's own chatter (it never sees a request).
const EVERYTHING: &str = "trace,cranelift_codegen=info,cranelift_frontend=info,regalloc2=info,\
                          wasmtime_cranelift=info,cranelift_entity=info";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h6_w2_the_token_is_in_no_log_line_from_query_header_or_websocket_handshake() {
    let secret = "7c1e4b9a";
    let token = format!("tok-{secret}");
    let setup = Setup::default().server(&format!(
        r#"token: "{token}", enableWebsocket: true, debug: true, heartInterval: 0"#
    ));
    let mut host = Running::start(&setup, EVERYTHING, None);
    let addr = host.addr("test");
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    // HTTP: right in the query and in each header form, wrong ones that contain it.
    let env = envelope(client.get(format!("{base}/probe_echo?access_token={token}&x=1"))).await;
    ok_data(&env);
    for auth in [
        format!("Bearer {token}"),
        format!("Token {token}"),
        token.clone(),
    ] {
        let env = envelope(
            client
                .post(format!("{base}/probe_echo"))
                .header("Authorization", auth),
        )
        .await;
        ok_data(&env);
    }
    let wrong = envelope(client.get(format!("{base}/probe_echo?access_token={token}x"))).await;
    failed(&wrong, 1403);
    let wrong = envelope(
        client
            .post(format!("{base}/probe_echo?echo=1"))
            .header("Authorization", format!("Bearer x{token}"))
            .body("{ bad json"),
    )
    .await;
    failed(&wrong, 1403);

    // WebSocket: the token in the handshake's query and in its header; a wrong one refused.
    let mut universal = connect(addr, &format!("/event?access_token={token}")).await;
    let bearer = format!("Bearer {token}");
    let mut api = try_connect(addr, "/api", &[("authorization", &bearer)])
        .await
        .expect("handshake");
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{addr}/?access_token={token}0")).await;
    assert!(refused.is_err(), "W2: a wrong token is refused");
    api.send(Message::text(
        json!({"action": "probe_echo", "params": {"y": 2}, "echo": "e"}).to_string(),
    ))
    .await
    .expect("sent");
    let reply = next_json(&mut api).await;
    assert_eq!(ok_data(&reply)["params"]["y"], 2);
    host.wait_for("token verify failed");
    host.wait_for("WebSocket refused");
    host.wait_for("action=probe_echo");

    // SIGTERM: the host stops gracefully and tells its WebSocket clients (1001).
    let (status, log) = host.terminate();
    assert!(status.success(), "{status:?}\n{}", log.join("\n"));
    assert_eq!(close_code(&mut universal).await, Some(1001));

    let joined = log.join("\n");
    assert!(
        log.iter().any(|l| l.contains("TRACE")),
        "the run logged at trace level"
    );
    assert!(
        !joined.contains(secret),
        "the token leaked into the log:\n{joined}"
    );
    println!(
        "{} log lines at trace level, none with the token",
        log.len()
    );
}

/// Issue 20 item 5: every connection kind with a token, at trace level, whatever RUST_LOG
/// asks for (tungstenite's client handshake, named outright here, used to log the
/// `Authorization: Bearer` of every `websocketClients` entry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h6_rw2_no_connection_kind_logs_its_token_at_any_level() {
    let secret = "9d3f61c2";
    let token = format!("tok-{secret}");
    let mut bot = Bot::listen().await;
    let mut endpoint = Endpoint::quiet().await;
    // Gateway mode (G1): the upstream is dialled with the token too.
    let mut upstream = Bot::listen().await;
    let mut setup = Setup::default()
        .server(&format!(r#"token: "{token}", enableWebsocket: true, heartInterval: 0"#))
        .network(&format!(
            r#"websocketServers: [{{ name: "ws", enable: true, port: 0, token: "{token}", heartInterval: 0 }}],
               httpSseServers: [{{ name: "sse", enable: true, port: 0, token: "{token}" }}],
               websocketClients: [{{ name: "rws", enable: true, url: "{rws}", token: "{token}", heartInterval: 0 }}],
               httpClients: [{client}]"#,
            rws = bot.url("/onebot"),
            client = client("post", &endpoint.url, &format!(r#"token: "{token}""#)),
        ));
    setup.rest = format!(
        r#"upstream: {{ url: "{}", token: "{token}" }},"#,
        upstream.url("/")
    );
    let log_level = format!("{EVERYTHING},tungstenite=trace,tungstenite::handshake::client=trace");
    let mut host = Running::start(&setup, &log_level, None);
    let (http, ws, sse) = (host.addr("test"), host.addr("ws"), host.addr("sse"));
    let emitted = envelope(
        reqwest::Client::new()
            .post(format!("http://{http}/probe_emit"))
            .header("Authorization", format!("Bearer {token}"))
            .json(&json!({"event": {"post_type": "notice", "notice_type": "poke"}})),
    )
    .await;
    ok_data(&emitted);

    // The reverse WebSocket dials in with the token; the POSTs are signed with it.
    let connection = bot.next_connection().await;
    assert_eq!(
        connection.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    let dialled = upstream.next_connection().await;
    assert_eq!(
        dialled.header("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "the upstream gets the token"
    );
    let post = endpoint.next().await;
    assert!(
        post.header("x-signature").is_some(),
        "signed with the token"
    );
    // The forward WebSocket server and the SSE stream, each with the token.
    let bearer = format!("Bearer {token}");
    let mut forward = try_connect(ws, "/", &[("authorization", &bearer)])
        .await
        .expect("handshake");
    assert_eq!(next_json(&mut forward).await["sub_type"], "connect");
    let stream = reqwest::Client::new()
        .get(format!("http://{sse}/_events?access_token={token}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(stream.status(), 200);
    host.wait_for("event stream client connected");
    drop(stream);

    let (_, log) = host.terminate();
    drop(connection);
    drop(dialled);
    let joined = log.join("\n");
    assert!(
        log.iter().any(|l| l.contains("TRACE")),
        "ran at trace level"
    );
    assert!(
        !joined.contains(secret),
        "a token leaked into the log:\n{joined}"
    );
}

#[tokio::test]
async fn a_server_reachable_from_other_machines_without_a_token_warns_loudly() {
    let plugins: [(&str, &str); 0] = [];
    let mut host = Running::launch(
        &plugins,
        |dir| {
            format!(
                r#"{{ network: {{ httpServers: [
                    {{ name: "open", enable: true, host: "0.0.0.0", port: 0 }},
                    {{ name: "local", enable: true, host: "127.0.0.1", port: 0 }},
                    {{ name: "guarded", enable: true, host: "0.0.0.0", port: 0, token: "t" }} ] }},
                   plugins: {{ dir: {:?}, cacheDir: {:?} }} }}"#,
                dir.display().to_string(),
                shared_cache().display().to_string()
            )
        },
        "info",
        None,
    );
    let open = host.addr("open");
    // Servers start in config order and each warns right after its "listening" line, so
    // once the last one listens every warning is in the log.
    host.addr("local");
    host.addr("guarded");
    let warnings: Vec<&String> = host.log.iter().filter(|l| l.contains("NO TOKEN")).collect();
    assert_eq!(warnings.len(), 1, "only the open server: {warnings:?}");
    let warning = warnings[0];
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("server=open"),
        "names the server: {warning}"
    );
    assert!(
        warning.contains(&format!("0.0.0.0:{}", open.port())),
        "names the address: {warning}"
    );
    assert!(
        warning.contains("anyone who can connect can call every action"),
        "{warning}"
    );
    println!("{warning}");
}
