//! Bounded queues (issue 20 item 4; SPEC E5a, E5b, P11, W7): what a client or a plugin can
//! make the host queue is bounded, and waiting is fair. Calls are held at a loopback "gate"
//! server that the `fetch` fixture requests, so each test decides when a call may finish
//! and nothing depends on timing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::harness::{Setup, TestHost, failed, ok_data, wait_for};
use crate::ws::client::{self, close_code, connect, next_reply, send};

/// A loopback server whose `/hold/<name>` requests wait for a permit; it records the order
/// they arrived in and how many wait at once. `/hang` never answers.
struct Gate {
    addr: SocketAddr,
    permits: Arc<Semaphore>,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Default)]
struct Seen {
    arrived: Vec<String>,
    waiting: usize,
}

type Shared = (Arc<Semaphore>, Arc<Mutex<Seen>>);

impl Gate {
    async fn start() -> Gate {
        let permits = Arc::new(Semaphore::new(0));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let app = Router::new()
            .route("/hold/{name}", get(hold))
            .route("/hang", get(std::future::pending::<String>))
            .with_state((permits.clone(), seen.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Gate {
            addr,
            permits,
            seen,
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}/hold/{name}", self.addr)
    }

    fn arrived(&self) -> Vec<String> {
        self.seen.lock().expect("lock").arrived.clone()
    }

    fn waiting(&self) -> usize {
        self.seen.lock().expect("lock").waiting
    }

    /// Lets `n` more held requests through.
    fn release(&self, n: usize) {
        self.permits.add_permits(n);
    }
}

async fn hold(State((permits, seen)): State<Shared>, Path(name): Path<String>) -> String {
    {
        let mut seen = seen.lock().expect("lock");
        seen.arrived.push(name.clone());
        seen.waiting += 1;
    }
    permits.acquire().await.expect("open").forget();
    seen.lock().expect("lock").waiting -= 1;
    name
}

/// `get_status`'s `stat` (E6), where the host shows what waits.
async fn stat(host: &TestHost) -> Value {
    ok_data(&host.post("get_status", json!({})).await)["stat"].clone()
}

/// `stat`, read when `key` reaches `value`.
async fn stat_reaches(host: &TestHost, key: &str, value: u64) -> Value {
    wait_for(&format!("stat.{key} = {value}"), || async {
        let stat = stat(host).await;
        (stat[key] == value).then_some(stat)
    })
    .await
}

/// `fetch` granted the gate, and (as `alt`) probe-alt allowed to call `fetch_async`.
fn gate_setup(gate: &Gate, settings: &str) -> Setup {
    Setup::with_plugins(&[("fetch.wasm", "fetch.wasm"), ("probe_alt.wasm", "alt.wasm")])
        .server("enableWebsocket: true")
        .plugin_settings(&format!(
            r#"grants: {{ fetch: {{ allowedOutboundHosts: [{origin:?}] }},
                          alt: {{ callActions: ["fetch_async"] }} }},
               timeoutMs: 30000, ceilings: {{ "*": {{ timeoutMs: 60000 }} }}, {settings}"#,
            origin = gate.origin(),
        ))
}

/// E5b: past `limits.asyncBacklog`, `_async` is refused with 1200 at once, naming the key;
/// the backlog frees as its calls end.
#[tokio::test]
async fn e5b_async_calls_past_the_backlog_are_busy_at_once_and_room_returns() {
    let gate = Gate::start().await;
    let mut setup = gate_setup(&gate, "");
    setup.rest = "limits: { asyncBacklog: 2 },".to_owned();
    let host = setup.start().await;
    for name in ["a1", "a2"] {
        let reply = host
            .post("fetch_async", json!({ "url": gate.url(name) }))
            .await;
        assert_eq!(reply["status"], "async", "{reply}");
    }
    wait_for("both at the gate", || async {
        (gate.waiting() == 2).then_some(())
    })
    .await;
    assert_eq!(stat(&host).await["async_backlog"], 2);
    let busy = host
        .post("fetch_async", json!({ "url": gate.url("a3") }))
        .await;
    let message = failed(&busy, 1200);
    assert!(
        message.contains("busy") && message.contains("limits.asyncBacklog"),
        "{message}"
    );
    // Other calls are not affected.
    ok_data(&host.post("get_status", json!({})).await);
    gate.release(2);
    stat_reaches(&host, "async_backlog", 0).await;
    let reply = host
        .post("fetch_async", json!({ "url": gate.url("a4") }))
        .await;
    assert_eq!(reply["status"], "async", "{reply}");
    gate.release(1);
    stat_reaches(&host, "async_backlog", 0).await;
    assert_eq!(gate.arrived(), ["a1", "a2", "a4"], "a3 never ran");
    host.stop().await;
}

/// P11: a plugin's nested `_async` call, which its caller does not wait for, takes a
/// `maxConcurrentCalls` slot of its own: with one slot, held by it, a client's call waits.
#[tokio::test]
async fn p11_a_plugins_nested_async_call_takes_a_slot_of_its_own() {
    let gate = Gate::start().await;
    let host = Arc::new(gate_setup(&gate, "maxConcurrentCalls: 1").start().await);
    let params = json!({ "action": "fetch_async", "params": { "url": gate.url("n1") } });
    let data = host.post("alt_call", params).await;
    assert_eq!(ok_data(&data), &json!({ "data": null }), "accepted at once");
    wait_for("n1 at the gate", || async {
        (gate.waiting() == 1).then_some(())
    })
    .await;
    // A client's plugin call now waits for the one slot, which the nested call holds.
    let client = {
        let host = host.clone();
        tokio::spawn(async move { host.post("alt_only", json!({})).await })
    };
    let stat = stat_reaches(&host, "calls_waiting", 1).await;
    assert_eq!(stat["calls_in_flight"], 2, "{stat}");
    gate.release(1);
    let answer = client.await.expect("the client's call");
    assert_eq!(ok_data(&answer)["from"], "probe-alt");
    stat_reaches(&host, "calls_in_flight", 0).await;
    if let Ok(host) = Arc::try_unwrap(host) {
        host.stop().await;
    }
}

/// P11: a nested `_async` call ends by its caller's deadline, though the caller answered
/// long before: here the callee would wait 60 s for a server that never answers.
#[tokio::test]
async fn p11_a_nested_async_call_ends_by_its_callers_deadline() {
    let gate = Gate::start().await;
    let host = gate_setup(&gate, "")
        .sidecar("alt.json5", "{ timeoutMs: 1000 }")
        .sidecar("fetch.json5", "{ timeoutMs: 60000 }")
        .start()
        .await;
    let params = json!({
        "action": "fetch_async",
        "params": { "url": format!("{}/hang", gate.origin()) },
    });
    ok_data(&host.post("alt_call", params).await);
    // Without the caller's deadline it would stay in flight for a minute; wait_for gives up
    // after 30 s.
    stat_reaches(&host, "calls_in_flight", 0).await;
    host.stop().await;
}

/// E5a: `_rate_limited` turns go round the clients. A's five calls are queued first, then
/// B's one; B's runs after at most one more of A's, not after all of them.
#[tokio::test]
async fn e5a_rate_limited_calls_take_turns_between_clients() {
    let gate = Gate::start().await;
    let host = gate_setup(&gate, "rateLimitGapMs: 0").start().await;
    let addr = client::addr(&host);
    let (mut a, mut b) = (connect(addr, "/api").await, connect(addr, "/api").await);
    let frame = |name: &str| json!({ "action": "fetch_rate_limited", "params": { "url": gate.url(name) }, "echo": name });
    send(&mut a, frame("a1")).await;
    wait_for("a1 at the gate", || async {
        (gate.waiting() == 1).then_some(())
    })
    .await;
    for name in ["a2", "a3", "a4", "a5"] {
        send(&mut a, frame(name)).await;
    }
    stat_reaches(&host, "rate_limited_waiting", 4).await;
    send(&mut b, frame("b1")).await;
    stat_reaches(&host, "rate_limited_waiting", 5).await;
    // One call at a time: release each, and see who comes next.
    for arrived in 1..6 {
        wait_for("the next call at the gate", || async {
            (gate.arrived().len() == arrived && gate.waiting() == 1).then_some(())
        })
        .await;
        gate.release(1);
    }
    let reply = next_reply(&mut b).await;
    assert_eq!(ok_data(&reply)["status"], 200, "{reply}");
    assert_eq!(reply["echo"], "b1");
    gate.release(1);
    for _ in 0..5 {
        ok_data(&next_reply(&mut a).await);
    }
    // A's calls race each other into A's queue, so only B's place is certain: third.
    let arrived = gate.arrived();
    assert_eq!(
        (arrived[0].as_str(), arrived[2].as_str()),
        ("a1", "b1"),
        "{arrived:?}"
    );
    let mut a_calls: Vec<&str> = arrived
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with('a'))
        .collect();
    a_calls.sort_unstable();
    assert_eq!(a_calls, ["a1", "a2", "a3", "a4", "a5"]);
    host.stop().await;
}

/// W7: a connection whose running calls hold more than `wsPendingBytesPerConnection` is
/// closed with 1008; another connection carries on; past `wsPendingBytes` (all connections)
/// a call is answered 1200 "busy" with its echo and the connection stays open.
#[tokio::test]
async fn w7_websocket_byte_budgets_close_a_hog_and_answer_busy_past_the_hosts() {
    let gate = Gate::start().await;
    let mut setup = gate_setup(&gate, "");
    // 1 MiB a connection, 2 MiB for all of them.
    setup.rest =
        "limits: { wsPendingBytesPerConnection: 1048576, wsPendingBytes: 2097152 },".to_owned();
    let host = setup.start().await;
    let addr = client::addr(&host);
    let pad = "x".repeat(300 * 1024);
    let frame = |name: &str| json!({ "action": "fetch", "params": { "url": gate.url(name), "pad": pad }, "echo": name });

    // Two connections each hold three 300 KiB calls at the gate: 1.8 MB in all.
    let (mut a, mut b) = (connect(addr, "/api").await, connect(addr, "/api").await);
    for name in ["a1", "a2", "a3"] {
        send(&mut a, frame(name)).await;
    }
    for name in ["b1", "b2", "b3"] {
        send(&mut b, frame(name)).await;
    }
    wait_for("six at the gate", || async {
        (gate.waiting() == 6).then_some(())
    })
    .await;

    // A third connection's call would pass 2 MiB host-wide: busy, with its echo.
    let mut c = connect(addr, "/api").await;
    send(&mut c, frame("c1")).await;
    let busy = next_reply(&mut c).await;
    let message = failed(&busy, 1200);
    assert!(message.contains("limits.wsPendingBytes"), "{message}");
    assert_eq!(busy["echo"], "c1");

    // A fourth call on A passes its own 1 MiB: A is closed with 1008; B is not.
    send(&mut a, frame("a4")).await;
    assert_eq!(close_code(&mut a).await, Some(1008));
    gate.release(6);
    for _ in 0..3 {
        assert_eq!(ok_data(&next_reply(&mut b).await)["status"], 200);
    }
    // Room again: C's next call runs.
    send(&mut c, frame("c2")).await;
    wait_for("c2 at the gate", || async {
        gate.arrived().contains(&"c2".to_owned()).then_some(())
    })
    .await;
    gate.release(1);
    let reply = next_reply(&mut c).await;
    assert_eq!(ok_data(&reply)["body"], "c2", "{reply}");
    host.stop().await;
}
