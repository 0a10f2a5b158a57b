//! P5 "other calls are unaffected", measured: for each fixture, a bounded load of `probe_echo`
//! calls (a separate plugin) runs in short phases, alternately alone and while a fifth client
//! calls the hostile action at the same pace, so the noise of a shared machine (and of the
//! other tests in this binary) falls on both sides alike. The p99 with the attacker must stay within 2× the
//! p99 alone, plus a small absolute floor for scheduler noise. Prints one `hostile p99:` line
//! per fixture.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::time::MissedTickBehavior;

use super::{TIMEOUT_MS, hostile_host, ms};
use crate::harness::TestHost;

/// The load: this many clients, each calling once every [`PACE`] (800 calls/s in all), for
/// [`PHASE`] per phase, [`ROUNDS`] phases alone and as many with an attacker per fixture,
/// alternating. Well under what the host serves, so latency is service time, not queueing.
const CLIENTS: usize = 4;
const PACE: Duration = Duration::from_millis(5);
const PHASE: Duration = Duration::from_millis(250);
const ROUNDS: usize = 4;
/// p99 with a hostile caller ≤ `FACTOR` × p99 alone + `FLOOR`.
const FACTOR: f64 = 2.0;
const FLOOR: Duration = Duration::from_millis(3);
/// Measurements per fixture before it counts as over the bound.
const ATTEMPTS: usize = 3;

/// (action, params, what its answers must contain). On a loaded machine any of them may reach
/// its deadline before its own limit (seen for the memory bomb and the big result with other
/// builds running): a timeout is a failure within its limits too.
const FIXTURES: [(&str, &str, &str); 6] = [
    ("hostile_loop", "{}", "timed out after"),
    ("hostile_memory", "{}", "exceeded its memory limit"),
    ("hostile_stack", "{}", "overflowed its stack"),
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
    load(&host, PHASE).await;

    let mut over = Vec::new();
    for (action, params, cause) in FIXTURES {
        let params: Value = serde_json::from_str(params).expect("params");
        // A burst of noise from the other tests in this binary can land on one side of a
        // measurement; a fixture fails only if it is over the bound in ATTEMPTS measurements
        // in a row. A real regression (a guest holding a socket thread: 6–16 ms) is over
        // every time.
        let mut tries = Vec::new();
        for _ in 0..ATTEMPTS {
            let (p99_alone, p99_with) = measure(&host, action, &params, cause).await;
            if p99_with <= p99_alone.mul_f64(FACTOR) + FLOOR {
                tries.clear();
                break;
            }
            tries.push(format!(
                "{:.2} ms alone, {:.2} ms with",
                ms(p99_alone),
                ms(p99_with)
            ));
        }
        if !tries.is_empty() {
            over.push(format!("{action}: {}", tries.join("; ")));
        }
    }
    assert!(
        over.is_empty(),
        "p99 with a hostile caller over {FACTOR}x alone + {FLOOR:?}: {over:?}"
    );
    host.stop().await;
}

/// One measurement for one fixture: p99 of the load alone and with the attacker, over
/// [`ROUNDS`] alternating phases; checks the attacker's answers and pace on the way.
async fn measure(
    host: &TestHost,
    action: &str,
    params: &Value,
    cause: &str,
) -> (Duration, Duration) {
    let attacker = Attacker::start(host, action, params.clone(), cause);
    let (mut alone, mut with) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        attacker.pause().await;
        alone.extend(load(host, PHASE).await);
        attacker.resume(host).await;
        with.extend(load(host, PHASE).await);
    }
    let attacks = attacker.stop().await;
    let (p99_alone, p99_with) = (p99(&mut alone), p99(&mut with));
    eprintln!(
        "hostile p99: {action}: alone {:.2} ms, with {:.2} ms ({} + {} calls; {attacks} hostile calls answered)",
        ms(p99_alone),
        ms(p99_with),
        alone.len(),
        with.len(),
    );
    assert!(
        attacks >= ROUNDS as u64,
        "{action}: hostile calls ran in every round"
    );
    // The attacks that run to a timeout cannot answer faster than it.
    if cause == "timed out after" {
        let most = ROUNDS as u64 * (PHASE.as_millis() as u64 / TIMEOUT_MS + 2);
        assert!(attacks <= most, "{action}: {attacks} timed out in time");
    }
    (p99_alone, p99_with)
}

/// One more client, calling a hostile action at the load's pace (or as soon as the previous
/// call answers, for the slow ones), every answer a 1200 holding its cause; paused between
/// rounds so the load can be measured alone. Paced, because a client calling even a harmless
/// action flat out would measure the host's throughput, not the harm of the hostile one.
struct Attacker {
    attack: tokio::sync::watch::Sender<bool>,
    /// A hostile call is in flight.
    busy: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Attacker {
    fn start(host: &TestHost, action: &str, params: Value, cause: &str) -> Attacker {
        let (attack, mut attacking) = tokio::sync::watch::channel(false);
        let busy = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let request = super::patient_client()
            .post(host.url(&format!("/{action}")))
            .json(&params);
        let (cause, flag, count) = (cause.to_owned(), busy.clone(), answered.clone());
        let task = tokio::spawn(async move {
            let mut pace = tokio::time::interval(PACE);
            pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
            // Ends when the sender is dropped.
            while attacking.wait_for(|on| *on).await.is_ok() {
                pace.tick().await;
                flag.store(true, Ordering::SeqCst);
                let request = request.try_clone().expect("a plain body clones");
                let env = crate::harness::envelope(request).await;
                let message = crate::harness::failed(&env, 1200);
                assert!(
                    message.contains(&cause) || message.contains("timed out after"),
                    "{message}"
                );
                count.fetch_add(1, Ordering::SeqCst);
                flag.store(false, Ordering::SeqCst);
            }
        });
        Attacker {
            attack,
            busy,
            answered,
            task,
        }
    }

    /// Stops attacking and waits for the call in flight to answer.
    async fn pause(&self) {
        self.attack.send_replace(false);
        crate::harness::wait_for("the hostile call to answer", || async {
            (!self.busy.load(Ordering::SeqCst)).then_some(())
        })
        .await;
    }

    /// Attacks again and waits until a hostile call is running in the host.
    async fn resume(&self, host: &TestHost) {
        self.attack.send_replace(true);
        let before = self.answered.load(Ordering::SeqCst);
        crate::harness::wait_for("a hostile call to be running", || async {
            let status = host.get("/get_status").await;
            let running = status["data"]["stat"]["calls_in_flight"].as_u64() >= Some(1);
            (running || self.answered.load(Ordering::SeqCst) > before).then_some(())
        })
        .await;
    }

    /// Stops for good; the number of hostile calls answered.
    async fn stop(self) -> u64 {
        // `wait_for` sees the value before it notices the sender is gone: set it off first.
        self.attack.send_replace(false);
        drop(self.attack);
        self.task
            .await
            .expect("every hostile call answered 1200 naming its cause");
        self.answered.load(Ordering::SeqCst)
    }
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
