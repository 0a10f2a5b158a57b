//! Outbound HTTP (SPEC P4a–P4d; sidecar `allowedOutboundHosts`): a plugin reaches only the
//! origins it was granted, within its call's time and its `maxResultBytes`, and a few
//! requests at a time. The fixture `fetch` makes requests through `wasi:http` and answers
//! what it saw; a loopback server in the test answers them. `forward`, the example plugin,
//! relays sends from one host to another.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use crate::bin::Running;
use crate::harness::{Setup, TestHost, envelope, failed, ok_data, wait_for};

/// What the test server saw, and the gate `/hold` waits behind.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    release: tokio::sync::Notify,
    released: AtomicBool,
    /// Where `/redirect` sends the client.
    redirect_to: std::sync::Mutex<String>,
}

/// A loopback HTTP server: `/echo` answers `<method> <body>`, `/redirect` a 302, `/big` and
/// `/big-stream` 10,000 bytes (with a length, and chunked), `/hang` never answers, `/hold`
/// answers once released.
async fn server() -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/redirect", get(redirect))
        .route("/big", get(|| async { "x".repeat(10_000) }))
        .route("/big-stream", get(big_stream))
        .route("/hang", get(std::future::pending::<String>))
        .route("/hold", get(hold))
        .with_state(seen.clone());
    let app = app.layer(axum::middleware::from_fn_with_state(
        seen.clone(),
        |State(seen): State<Arc<Seen>>,
         request: axum::extract::Request,
         next: axum::middleware::Next| async move {
            seen.requests.fetch_add(1, Ordering::SeqCst);
            next.run(request).await
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

async fn echo(method: Method, body: String) -> String {
    format!("{method} {body}")
}

async fn redirect(State(seen): State<Arc<Seen>>) -> Response {
    let to = seen.redirect_to.lock().expect("lock").clone();
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn big_stream() -> Response {
    let chunks = (0..10).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1000]));
    Body::from_stream(futures_util::stream::iter(chunks)).into_response()
}

async fn hold(State(seen): State<Arc<Seen>>) -> &'static str {
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let released = seen.release.notified();
    if !seen.released.load(Ordering::SeqCst) {
        released.await;
    }
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    "held"
}

/// A host serving `fetch.wasm` as `fetch`, granted `hosts` (none: no grant at all), with
/// `sidecar` beside it.
async fn fetch_host(hosts: &[String], sidecar: Option<&'static str>) -> TestHost {
    // The sidecar may set a limit up to 20 s (P13: the operator's ceiling).
    let mut settings = "ceilings: { fetch: { timeoutMs: 20000 } },".to_owned();
    if !hosts.is_empty() {
        let hosts = serde_json::to_string(hosts).expect("json");
        settings += &format!("grants: {{ fetch: {{ allowedOutboundHosts: {hosts} }} }}");
    }
    let mut setup = Setup::with_plugins(&[("fetch.wasm", "fetch.wasm")]).plugin_settings(&settings);
    if let Some(text) = sidecar {
        setup = setup.sidecar("fetch.json5", text);
    }
    setup.start().await
}

/// Calls `fetch` and returns what the guest saw.
async fn fetch(host: &TestHost, params: Value) -> Value {
    ok_data(&host.post("fetch", params).await).clone()
}

#[tokio::test]
async fn p4a_a_granted_origin_answers_and_the_body_makes_the_round_trip() {
    let (addr, _seen) = server().await;
    let host = fetch_host(&[format!("http://{addr}")], None).await;
    // Larger than one 4096-byte stream write, and not ASCII.
    let body = "héllo ✓ ".repeat(2000);
    let seen = fetch(
        &host,
        json!({"url": format!("http://{addr}/echo"), "method": "POST", "body": body}),
    )
    .await;
    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(seen["body"], format!("POST {body}"));
    assert_eq!(seen["body_error"], Value::Null);
    host.stop().await;
}

#[tokio::test]
async fn p4a_a_host_port_or_scheme_not_granted_is_refused_before_anything_is_sent() {
    let (granted, seen_granted) = server().await;
    let (other, seen_other) = server().await;
    let host = fetch_host(&[format!("http://{granted}")], None).await;
    for url in [
        format!("http://{other}/echo"),
        format!("http://localhost:{}/echo", granted.port()),
        format!("https://{granted}/echo"),
    ] {
        let seen = fetch(&host, json!({ "url": url })).await;
        let error = seen["error"].as_str().unwrap_or_default();
        assert!(error.contains("HttpRequestDenied"), "{url}: {seen}");
    }
    assert_eq!(seen_granted.requests.load(Ordering::SeqCst), 0);
    assert_eq!(seen_other.requests.load(Ordering::SeqCst), 0);
    host.stop().await;
}

#[tokio::test]
async fn p4a_without_a_grant_a_plugin_has_no_network() {
    let (addr, seen) = server().await;
    let host = fetch_host(&[], None).await;
    let answer = fetch(&host, json!({ "url": format!("http://{addr}/echo") })).await;
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("HttpRequestDenied")),
        "{answer}"
    );
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0, "nothing was sent");
    host.stop().await;
}

/// The refusal as an operator reads it: plugin, action, origin and the sidecar line to add.
#[tokio::test]
async fn p4a_a_refusal_is_logged_naming_plugin_action_origin_and_the_sidecar_key() {
    let (addr, _seen) = server().await;
    let setup = Setup::with_plugins(&[("fetch.wasm", "fetch.wasm")]);
    let mut running = Running::start(&setup, "onebot_host=info", None);
    let base = format!("http://{}", running.addr("test"));
    let reply = envelope(
        reqwest::Client::new()
            .post(format!("{base}/fetch"))
            .json(&json!({ "url": format!("http://{addr}/echo") })),
    )
    .await;
    assert!(reply.to_string().contains("HttpRequestDenied"), "{reply}");
    let line = running.wait_for("outbound request refused");
    let origin = format!("http://{addr}");
    for part in [
        "WARN",
        "plugin=fetch",
        "action=fetch",
        &format!("origin={origin}"),
        &format!("allowedOutboundHosts: [\"{origin}\"]"),
        "fetch.json5",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
}

/// P4a: `*://host` without a port is http on 80 and https on 443, as docs/capabilities.md says (it
/// used to allow every port); P4e: user info in the URL (`x@host`) is refused before anything
/// is resolved or sent, even to a granted origin. Against the real binary, as an operator
/// runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p4a_p4e_a_star_scheme_keeps_to_default_ports_and_user_info_is_refused() {
    let (granted, seen_granted) = server().await;
    let (other_port, seen_other) = server().await;
    let setup = Setup::with_plugins(&[("fetch.wasm", "fetch.wasm")]).plugin_settings(&format!(
        r#"grants: {{ fetch: {{ allowedOutboundHosts: ["*://127.0.0.1", "http://{granted}"] }} }}"#
    ));
    let mut running = Running::start(&setup, "onebot_host=info", None);
    let base = format!("http://{}", running.addr("test"));
    let fetch = |url: String| {
        let request = reqwest::Client::new()
            .post(format!("{base}/fetch"))
            .json(&json!({ "url": url }));
        async move { ok_data(&envelope(request).await).clone() }
    };
    // The origin granted with its port answers.
    let seen = fetch(format!("http://{granted}/echo")).await;
    assert_eq!(seen["status"], 200, "{seen}");
    // `*://127.0.0.1` does not reach another port of that host.
    let seen = fetch(format!("http://{other_port}/echo")).await;
    assert!(
        seen["error"].to_string().contains("HttpRequestDenied"),
        "{seen}"
    );
    assert_eq!(seen_other.requests.load(Ordering::SeqCst), 0);
    // User info, even in front of the granted origin: refused, nothing sent.
    for userinfo in ["x", "user:secret"] {
        let seen = fetch(format!("http://{userinfo}@{granted}/echo")).await;
        assert!(
            seen["error"].to_string().contains("HttpRequestDenied"),
            "{seen}"
        );
    }
    assert_eq!(seen_granted.requests.load(Ordering::SeqCst), 1);
    let line = running.wait_for("carries user info");
    assert!(
        line.contains("plugin=fetch") && !line.contains("secret"),
        "{line}"
    );
    running.wait_for(&format!("http://{other_port} is not granted"));
}

#[tokio::test]
async fn p4b_redirects_are_not_followed_and_a_hop_to_a_host_not_granted_is_refused() {
    let (granted, seen_granted) = server().await;
    let (other, seen_other) = server().await;
    *seen_granted.redirect_to.lock().expect("lock") = format!("http://{other}/echo");
    let host = fetch_host(&[format!("http://{granted}")], None).await;
    let url = format!("http://{granted}/redirect");
    // wasi:http hands the 302 to the guest as it is.
    let seen = fetch(&host, json!({ "url": url })).await;
    assert_eq!(seen["status"], 302, "{seen}");
    // A guest that follows it makes a new request, checked like any other.
    let seen = fetch(&host, json!({ "url": url, "follow": true })).await;
    assert_eq!(seen["hops"], json!([url, format!("http://{other}/echo")]));
    assert!(
        seen["error"]
            .as_str()
            .is_some_and(|e| e.contains("HttpRequestDenied")),
        "{seen}"
    );
    assert_eq!(seen_other.requests.load(Ordering::SeqCst), 0);
    host.stop().await;
}

#[tokio::test]
async fn p4c_a_response_over_max_result_bytes_is_a_clear_error() {
    let (addr, _seen) = server().await;
    let host = fetch_host(
        &[format!("http://{addr}")],
        Some("{ maxResultBytes: 4096 }"),
    )
    .await;
    // A length over the cap: refused as soon as the head arrives.
    let seen = fetch(&host, json!({ "url": format!("http://{addr}/big") })).await;
    let error = seen["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("HttpResponseBodySize") && error.contains("10000"),
        "{seen}"
    );
    // No length: cut off while reading, past the cap.
    let url = format!("http://{addr}/big-stream");
    let seen = fetch(&host, json!({ "url": url, "discard": true })).await;
    assert_eq!(seen["status"], 200, "{seen}");
    let body_error = seen["body_error"].as_str().unwrap_or_default();
    assert!(body_error.contains("body size exceeds limit"), "{seen}");
    assert!(
        seen["body_len"].as_u64().is_some_and(|n| n <= 4096),
        "{seen}"
    );
    // Under the cap, all is well.
    let seen = fetch(&host, json!({ "url": format!("http://{addr}/echo") })).await;
    assert_eq!(seen["body"], "GET ");
    host.stop().await;
}

#[tokio::test]
async fn p4c_a_server_that_never_answers_times_out_within_the_calls_deadline() {
    let (addr, _seen) = server().await;
    let host = fetch_host(&[format!("http://{addr}")], Some("{ timeoutMs: 1500 }")).await;
    let started = Instant::now();
    let hanging = host.post("fetch", json!({ "url": format!("http://{addr}/hang") }));
    let other = async {
        // The host goes on serving while that call waits.
        let seen = fetch(&host, json!({ "url": format!("http://{addr}/echo") })).await;
        (seen, started.elapsed())
    };
    let (hung, (seen, other_took)) = tokio::join!(hanging, other);
    let took = started.elapsed();
    assert_eq!(seen["body"], "GET ");
    assert!(other_took < Duration::from_millis(1000), "{other_took:?}");
    // The guest itself got the timeout, before the call's own deadline ended it.
    let hung = ok_data(&hung);
    assert!(
        hung["error"]
            .as_str()
            .is_some_and(|e| e.contains("Timeout")),
        "{hung}"
    );
    assert!(took >= Duration::from_millis(1000), "{took:?}");
    assert!(took < Duration::from_millis(3000), "{took:?}");
    host.stop().await;
}

#[tokio::test]
async fn p4d_requests_past_the_in_flight_cap_wait_for_a_slot() {
    let (addr, seen) = server().await;
    let host = fetch_host(&[format!("http://{addr}")], Some("{ timeoutMs: 20000 }")).await;
    let many = host.post(
        "fetch_many",
        json!({ "url": format!("http://{addr}/hold"), "n": 17 }),
    );
    let release = async {
        wait_for("16 requests held", || async {
            (seen.in_flight.load(Ordering::SeqCst) >= 16).then_some(())
        })
        .await;
        seen.released.store(true, Ordering::SeqCst);
        seen.release.notify_waiters();
    };
    let (answer, ()) = tokio::join!(many, release);
    let results = &ok_data(&answer)["results"];
    assert_eq!(results, &json!(vec![200; 17]), "the 17th waited, then went");
    assert_eq!(seen.max_in_flight.load(Ordering::SeqCst), 16);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 17);
    host.stop().await;
}

/// A host serving the example plugin `forward`, relaying to `upstream` with `token`.
async fn forward_host(upstream: &str, granted: &str, token: &str) -> TestHost {
    Setup::with_plugins(&[("forward.wasm", "forward.wasm")])
        .plugin_settings(&format!(
            "grants: {{ forward: {{ allowedOutboundHosts: [{granted:?}], \
             config: {{ upstream: {upstream:?}, token: {token:?} }} }} }}"
        ))
        .start()
        .await
}

#[tokio::test]
async fn forward_relays_sends_to_an_upstream_onebot_host_and_back() {
    let upstream = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")])
        .server(r#"token: "up-secret""#)
        .start()
        .await;
    let relay = forward_host(&upstream.base, &upstream.base, "up-secret").await;
    let data = relay
        .post(
            "send_private_msg",
            json!({"user_id": 12345678, "message": "hi[CQ:face,id=178]"}),
        )
        .await;
    assert!(ok_data(&data)["message_id"].is_i64(), "{data}");
    let data = relay
        .post(
            "send_group_msg",
            json!({"group_id": 87654321, "message": "hi"}),
        )
        .await;
    assert!(ok_data(&data)["message_id"].is_i64(), "{data}");
    // The upstream's failure comes back as it was: its retcode, its message.
    let data = relay
        .post("send_private_msg", json!({"message": "hi"}))
        .await;
    let message = failed(&data, 1400);
    assert!(
        message.starts_with("upstream: ") && message.contains("user_id"),
        "{message}"
    );
    relay.stop().await;

    let wrong = forward_host(&upstream.base, &upstream.base, "wrong").await;
    let data = wrong
        .post("send_private_msg", json!({"user_id": 1, "message": "hi"}))
        .await;
    assert_eq!(failed(&data, 1403), "upstream: token verify failed");
    wrong.stop().await;
    upstream.stop().await;
}

#[tokio::test]
async fn forward_with_the_upstream_down_or_not_granted_fails_clearly() {
    // A port nothing listens on: bound, then let go.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let upstream = format!("http://{down}");
    let relay = forward_host(&upstream, &upstream, "").await;
    let data = relay
        .post("send_private_msg", json!({"user_id": 1, "message": "hi"}))
        .await;
    let message = failed(&data, 1200);
    assert!(
        message.contains(&upstream) && message.contains("connection refused"),
        "{message}"
    );
    relay.stop().await;

    let relay = forward_host(&upstream, "http://127.0.0.1:1", "").await;
    let data = relay
        .post("send_private_msg", json!({"user_id": 1, "message": "hi"}))
        .await;
    let message = failed(&data, 1200);
    assert!(message.contains("allowedOutboundHosts"), "{message}");
    relay.stop().await;
}
