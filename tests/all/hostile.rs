//! Hostile plugins (SPEC P5, issue 7): each action of the `hostile` guest attacks the host in one
//! way (an infinite loop, a memory bomb, a stack overflow, a huge result, an `emit-event` flood,
//! a call that blocks in a WASI host call). For each: the caller gets HTTP 200 with retcode 1200
//! and a message naming the plugin, the action and the cause; the log has a warning saying the
//! same; the host answers normal calls afterwards; and the answer comes within the limit plus a
//! generous margin. The time to answer is printed (`hostile answer:` lines, `--nocapture`).
//!
//! - this file: one test per fixture;
//! - `load`: the p99 of other calls alone and while each fixture is being called (P5: "other
//!   calls are unaffected"), printed as `hostile p99:` lines;
//! - `reload`: a plugin replaced by a truncated file under load keeps serving (P2);
//! - `log`: the host's log, captured in memory.

mod load;
mod log;
mod reload;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Setup, TestHost, envelope, failed, ok_data};
use crate::ws::client as ws;

/// The time limit the fixtures that only a timeout can stop run with: short, to keep the suite
/// fast.
const TIMEOUT_MS: u64 = 200;
/// How long past its limit a hostile call may take to answer: generous, since the machine
/// running the tests may be busy with other builds.
const MARGIN: Duration = Duration::from_secs(3);

/// A host serving the `hostile` guest as `<plugin>.wasm` with the sidecar `settings`, beside
/// `probe.wasm` (the "other calls"). `server` is extra fields for the HTTP server.
async fn hostile_host(plugin: &str, settings: &'static str, server: &str) -> TestHost {
    log::captured();
    let file: &'static str = Box::leak(format!("{plugin}.wasm").into_boxed_str());
    let sidecar: &'static str = Box::leak(format!("{plugin}.json5").into_boxed_str());
    Setup::with_plugins(&[("hostile.wasm", file), ("probe.wasm", "probe.wasm")])
        // P13: the sidecars below may raise their time limit up to 10 s.
        .plugin_settings(r#"ceilings: { "*": { timeoutMs: 10000 } }"#)
        .sidecar(sidecar, settings)
        .server(server)
        .start()
        .await
}

/// A client that gives up on a call after a minute, so a host that never answers fails the
/// test instead of hanging it.
fn patient_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Calls `action` and checks the answer is a 1200 naming `plugin`, the action and `cause`,
/// and that the log has a warning saying so. Returns the message and the time to answer.
async fn expect_1200(
    host: &TestHost,
    plugin: &str,
    action: &str,
    params: Value,
    cause: &str,
) -> (String, Duration) {
    let started = Instant::now();
    let request = patient_client()
        .post(host.url(&format!("/{action}")))
        .json(&params);
    let env = envelope(request).await;
    let took = started.elapsed();
    let message = failed(&env, 1200);
    for part in [&format!("plugin {plugin}:"), &format!("`{action}`"), cause] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
    let line = log::captured()
        .wait_for(&[&format!("plugin {plugin}: `{action}`"), cause])
        .await;
    assert!(line.contains("WARN"), "a warning: {line}");
    eprintln!(
        "hostile answer: {action}: retcode 1200 in {:.1} ms: {message}",
        ms(took)
    );
    (message, took)
}

/// After an attack, the same plugin (in a fresh instance), another plugin and the host's own
/// health check all answer.
async fn still_serves(host: &TestHost) {
    ok_data(&host.post("hostile_ok", json!({})).await);
    assert_eq!(
        ok_data(&host.post("probe_echo", json!({"n": 1})).await)["params"]["n"],
        1
    );
    ok_data(&host.get("/").await);
}

fn within(took: Duration, limit_ms: u64) {
    assert!(
        took <= Duration::from_millis(limit_ms) + MARGIN,
        "answered in {:.0} ms, limit {limit_ms} ms + {MARGIN:?}",
        ms(took)
    );
}

/// Calls an action that only its timeout can stop: 1200 "timed out after …", answered no
/// sooner than the timeout and within [`MARGIN`] of it. Returns the cause it checked.
async fn expect_timeout(host: &TestHost, plugin: &str, action: &str) -> String {
    let cause = format!("timed out after {TIMEOUT_MS} ms");
    let (_, took) = expect_1200(host, plugin, action, json!({}), &cause).await;
    assert!(
        took >= Duration::from_millis(TIMEOUT_MS),
        "{action} ran to its limit"
    );
    within(took, TIMEOUT_MS);
    cause
}

#[tokio::test]
async fn p5_an_infinite_loop_answers_1200_at_its_timeout() {
    let host = hostile_host("hostile-loop", "{ timeoutMs: 200 }", "").await;
    expect_timeout(&host, "hostile-loop", "hostile_loop").await;
    still_serves(&host).await;
    host.stop().await;
}

#[tokio::test]
async fn p5_a_memory_bomb_answers_1200_at_its_memory_cap() {
    let host = hostile_host("hostile-memory", "{ memoryMb: 32, timeoutMs: 5000 }", "").await;
    let cause = "exceeded its memory limit of 32 MiB";
    let (_, took) = expect_1200(&host, "hostile-memory", "hostile_memory", json!({}), cause).await;
    within(took, 5000);
    still_serves(&host).await;
    host.stop().await;
}

#[tokio::test]
async fn p5_a_stack_overflow_answers_1200_as_a_trap() {
    let host = hostile_host("hostile-stack", "{ timeoutMs: 5000 }", "").await;
    let (_, took) = expect_1200(
        &host,
        "hostile-stack",
        "hostile_stack",
        json!({}),
        "overflowed its stack",
    )
    .await;
    within(took, 5000);
    // The recursion itself is sound: a shallow one returns what the guest's `deep` computes.
    fn deep(n: u64) -> u64 {
        if n < 2 {
            return n;
        }
        deep(n - 1).wrapping_add(deep(n - 2)).rotate_left(1)
    }
    assert_eq!(
        ok_data(&host.post("hostile_stack", json!({"n": 10})).await)["depth"],
        deep(10)
    );
    still_serves(&host).await;
    host.stop().await;
}

#[tokio::test]
async fn p5_a_result_over_max_result_bytes_answers_1200() {
    const CAP: u64 = 1 << 20;
    let host = hostile_host(
        "hostile-big",
        "{ maxResultBytes: 1048576, timeoutMs: 5000 }",
        "",
    )
    .await;
    // The result is the JSON text the plugin returns: n characters and two quotes.
    let over = CAP + 1000;
    let cause = format!(
        "returned {} bytes, more than its maxResultBytes cap of {CAP}",
        over + 2
    );
    let (_, took) = expect_1200(
        &host,
        "hostile-big",
        "hostile_big",
        json!({ "bytes": over }),
        &cause,
    )
    .await;
    within(took, 5000);
    let env = host.post("hostile_big", json!({ "bytes": CAP - 2 })).await;
    assert_eq!(
        ok_data(&env).as_str().map(str::len),
        Some((CAP - 2) as usize),
        "a result of exactly the cap passes"
    );
    still_serves(&host).await;
    host.stop().await;
}

#[tokio::test]
async fn p5_a_result_over_the_default_16_mib_cap_answers_1200() {
    const CAP: u64 = 16 << 20;
    let host = hostile_host("hostile-huge", "{ timeoutMs: 10000 }", "").await;
    let cause = format!(
        "returned {} bytes, more than its maxResultBytes cap of {CAP}",
        CAP + 3
    );
    let (_, took) = expect_1200(
        &host,
        "hostile-huge",
        "hostile_big",
        json!({ "bytes": CAP + 1 }),
        &cause,
    )
    .await;
    within(took, 10000);
    still_serves(&host).await;
    host.stop().await;
}

/// The flood is cut at `maxEventsPerCall`: exactly that many events reach a WebSocket client,
/// in order, the client stays connected (the flood never overran its queue), and it gets the
/// next event another plugin emits.
#[tokio::test]
async fn p5_an_event_flood_is_cut_at_max_events_per_call() {
    const CAP: u64 = 100;
    let host = hostile_host(
        "hostile-flood",
        "{ maxEventsPerCall: 100, timeoutMs: 5000 }",
        "enableWebsocket: true, heartInterval: 0",
    )
    .await;
    let mut client = ws::subscribed(ws::addr(&host), "/").await;
    let events = host.host.as_ref().expect("running").events.clone();
    let published = events.published();
    let cause = format!("emitted more than {CAP} events in one call (maxEventsPerCall)");
    let (_, took) = expect_1200(&host, "hostile-flood", "hostile_flood", json!({}), &cause).await;
    within(took, 5000);
    assert_eq!(
        events.published() - published,
        CAP,
        "the flood was cut at the cap"
    );

    let marker = json!({"post_type": "notice", "notice_type": "after_the_flood"});
    ok_data(&host.post("probe_emit", json!({ "event": marker })).await);
    let mut seqs = Vec::new();
    loop {
        let event = ws::next_event(&mut client).await;
        match event["notice_type"].as_str() {
            Some("hostile_flood") => seqs.push(event["seq"].as_u64().expect("seq")),
            Some("after_the_flood") => break,
            _ => panic!("unexpected event {event}"),
        }
    }
    assert_eq!(
        seqs,
        (0..CAP).collect::<Vec<_>>(),
        "every event up to the cap, in order"
    );
    still_serves(&host).await;
    host.stop().await;
}

/// A guest asleep in a WASI host call (`std::thread::sleep` for an hour) is cancelled at its
/// timeout. With `maxConcurrentCalls: 2` the host has 4 instance slots: were a cancelled call
/// to keep its instance (or its thread) until the sleep ends, the later calls here would find
/// no slot, or no answer.
#[tokio::test]
async fn p5_a_plugin_blocked_in_a_host_call_answers_1200_at_its_timeout() {
    const CALLS: u64 = 8;
    log::captured();
    let host = Setup::with_plugins(&[
        ("hostile.wasm", "hostile-block.wasm"),
        ("probe.wasm", "probe.wasm"),
    ])
    .sidecar("hostile-block.json5", "{ timeoutMs: 200 }")
    .plugin_settings("maxConcurrentCalls: 2")
    .start()
    .await;
    let cause = expect_timeout(&host, "hostile-block", "hostile_block").await;

    let started = Instant::now();
    let calls =
        (0..CALLS).map(|_| envelope(patient_client().post(host.url("/hostile_block")).body("{}")));
    for env in futures_util::future::join_all(calls).await {
        let message = failed(&env, 1200);
        assert!(message.contains(&cause), "{message}");
    }
    // Two at a time: CALLS / 2 rounds of the timeout.
    within(started.elapsed(), TIMEOUT_MS * CALLS / 2);
    still_serves(&host).await;
    host.stop().await;
}
