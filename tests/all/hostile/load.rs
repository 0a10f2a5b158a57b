//! P5 "other calls are unaffected", measured: a bounded load of `probe_echo` calls (a separate
//! plugin) runs alone, then while one client calls a hostile action non-stop, in turn for each
//! fixture, with a phase alone between each two (so the machine's own noise falls on both
//! sides alike). Each fixture's p99 must stay within 2× the p99 alone, plus a small absolute
//! floor for scheduler noise. Prints one `hostile p99:` line per fixture.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::time::MissedTickBehavior;

use super::{TIMEOUT_MS, hostile_host, ms};
use crate::harness::TestHost;

/// The load: this many clients, each calling once every [`PACE`] (800 calls/s in all), for
/// [`PHASE`] per phase. Well under what the host serves, so latency is service time, not
/// queueing.
const CLIENTS: usize = 4;
const PACE: Duration = Duration::from_millis(5);
const PHASE: Duration = Duration::from_millis(1000);
/// p99 with a hostile caller ≤ `FACTOR` × p99 alone + `FLOOR`.
const FACTOR: f64 = 2.0;
const FLOOR: Duration = Duration::from_millis(3);

/// (action, params, what its answers must contain).
const FIXTURES: [(&str, &str, &str); 6] = [
    ("hostile_loop", "{}", "timed out after"),
    ("hostile_memory", "{}", "exceeded its memory limit"),
    ("hostile_stack", "{}", "call stack exhausted"),
    ("hostile_big", r#"{"bytes": 2000000}"#, "maxResultBytes"),
    ("hostile_flood", "{}", "maxEventsPerCall"),
    ("hostile_block", "{}", "timed out after"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p5_other_calls_keep_their_p99_while_hostile_plugins_are_called() {
    let host = hostile_host(
        "hostile-load",
        "{ timeoutMs: 200, memoryMb: 32, maxResultBytes: 1048576, maxEventsPerCall: 100 }",
        "",
    )
    .await;
    // Warm up: connections open, the compile cache and the pooling allocator in use.
    load(&host, Duration::from_millis(200)).await;

    let mut alone = load(&host, PHASE).await;
    let mut with = Vec::new();
    for (action, params, cause) in FIXTURES {
        let params: Value = serde_json::from_str(params).expect("params");
        with.push((action, under_attack(&host, action, params, cause).await));
        alone.extend(load(&host, PHASE).await);
    }
    let p99_alone = p99(&mut alone);
    let bound = p99_alone.mul_f64(FACTOR) + FLOOR;
    let mut over = Vec::new();
    for (action, (mut samples, attacks)) in with {
        let p99_with = p99(&mut samples);
        eprintln!(
            "hostile p99: {action}: alone {:.2} ms ({} calls), with {:.2} ms ({} calls, {attacks} hostile calls answered)",
            ms(p99_alone),
            alone.len(),
            ms(p99_with),
            samples.len(),
        );
        if p99_with > bound {
            over.push(format!("{action}: {:.2} ms", ms(p99_with)));
        }
    }
    assert!(
        over.is_empty(),
        "p99 over {FACTOR}× {:.2} ms + {FLOOR:?}: {over:?}",
        ms(p99_alone)
    );
    host.stop().await;
}

/// Runs the load while one client calls `action` non-stop; returns the load's latencies and
/// how many hostile calls were answered (each a 1200 holding `cause`).
async fn under_attack(
    host: &TestHost,
    action: &str,
    params: Value,
    cause: &str,
) -> (Vec<Duration>, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let attacker = {
        let (stop, answered) = (stop.clone(), answered.clone());
        let request = super::patient_client()
            .post(host.url(&format!("/{action}")))
            .json(&params);
        let cause = cause.to_owned();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let request = request.try_clone().expect("a plain body clones");
                let env = crate::harness::envelope(request).await;
                let message = crate::harness::failed(&env, 1200);
                assert!(message.contains(&cause), "{message}");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // The load starts once the first hostile call is running, not before.
    super::wait_until("the hostile call to be running", || async {
        let status = host.get("/get_status").await;
        (status["data"]["stat"]["calls_in_flight"].as_u64() >= Some(1)
            || answered.load(Ordering::Relaxed) > 0)
            .then_some(())
    })
    .await;
    let samples = load(host, PHASE).await;
    stop.store(true, Ordering::Relaxed);
    attacker
        .await
        .expect("the attacker's calls all answered 1200");
    let answered = answered.load(Ordering::Relaxed);
    assert!(
        answered >= 1,
        "{action}: at least one hostile call ran during the load"
    );
    // The attacks that run to a timeout cannot answer faster than it.
    if cause == "timed out after" {
        assert!(answered <= PHASE.as_millis() as u64 / TIMEOUT_MS + 2);
    }
    (samples, answered)
}

/// [`CLIENTS`] clients call `probe_echo`, each once per [`PACE`], for `span`; every call must
/// succeed. Returns each call's latency.
async fn load(host: &TestHost, span: Duration) -> Vec<Duration> {
    let until = Instant::now() + span;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let request = host
                .client
                .post(host.url("/probe_echo"))
                .json(&json!({ "client": i }));
            tokio::spawn(async move {
                let mut pace = tokio::time::interval(PACE);
                pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    pace.tick().await;
                    let request = request.try_clone().expect("a plain body clones");
                    let started = Instant::now();
                    let env = crate::harness::envelope(request).await;
                    latencies.push(started.elapsed());
                    assert_eq!(env["retcode"], 0, "{env}");
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.expect("every call of the load succeeded"));
    }
    all
}

fn p99(samples: &mut [Duration]) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    samples.sort_unstable();
    samples[(samples.len() * 99).div_ceil(100) - 1]
}
