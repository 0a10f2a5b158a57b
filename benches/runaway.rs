//! Runaway triggers (issue 22): what an event handler, a schedule or a webhook route that
//! spins or eats memory costs other calls. Actions have the same measurement as a test
//! (tests/all/hostile/load.rs, P5); this is its counterpart for triggers.
//!
//! Run: `cargo bench --bench runaway` (the bench profile is the release profile, so nothing is
//! rebuilt after `cargo test --release`). Options: `-- --phase-ms N --rounds N`.
//!
//! One host in this process: `probe` (the load's `probe_echo`, and `probe_emit` to publish
//! events), `runaway` (the react-probe fixture: a handler of `notice` events that spins or
//! allocates when the event says `probe: "loop"`/`"bomb"`, and schedules `loop` and `bomb`
//! every 100 ms that do so while armed) and `gh` (route-probe: `/hooks/gh/loop`,
//! `/hooks/gh/bomb`), and `hostile` (the actions `hostile_loop` and `hostile_memory`, the same
//! runaways as actions, for comparison). Every plugin has `timeoutMs: 200`, `memoryMb: 32`.
//!
//! The load is 4 clients each calling `probe_echo` every 5 ms (800 calls/s, well under what
//! the host serves, so latency is service time). Phases of `--phase-ms` alternate: alone, then
//! with one runaway at work, `--rounds` times, so a shared machine's noise falls on both
//! sides. Between phases the runaway is stopped and the host is given the trigger's deadline
//! (200 ms) plus a margin to finish the run in flight: a run is not observable from outside, so
//! this waits for a time, which a test must not do; here it only delays the next phase.
//! Prints p99 alone and with each runaway, the ratio (the aim: below 2), and the runaway's
//! runs: for handlers and schedules as the plugin counted them (all of its runs so far, armed
//! or not), for routes and actions the requests answered 500 or 1200.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The load: clients, each calling once per pace.
const CLIENTS: usize = 4;
const PACE: Duration = Duration::from_millis(5);
/// A trigger's deadline (its sidecar's `timeoutMs`) and the settle time after a phase.
const DEADLINE_MS: u64 = 200;
const SETTLE: Duration = Duration::from_millis(DEADLINE_MS + 150);

/// How a runaway is set going and stopped.
#[derive(Clone, Copy)]
enum Attack {
    /// Publish one `notice` event with this `probe` per deadline, from `probe` (not from the
    /// handler's own plugin, whose events it never sees: T4).
    Handler(&'static str),
    /// Arm the schedule of this name (it runs every 100 ms).
    Schedule(&'static str),
    /// Call this route one request after another.
    Route(&'static str),
    /// Call this action one call after another: the actions' row, for comparison (P5).
    Action(&'static str),
}

const FIXTURES: [(&str, Attack); 8] = [
    (
        "action that spins (for comparison)",
        Attack::Action("hostile_loop"),
    ),
    (
        "action that eats memory (for comparison)",
        Attack::Action("hostile_memory"),
    ),
    ("handler that spins", Attack::Handler("loop")),
    ("handler that eats memory", Attack::Handler("bomb")),
    ("schedule that spins", Attack::Schedule("loop")),
    ("schedule that eats memory", Attack::Schedule("bomb")),
    ("route that spins", Attack::Route("loop")),
    ("route that eats memory", Attack::Route("bomb")),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut phase = Duration::from_millis(500);
    let mut rounds = 6;
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--phase-ms" => phase = Duration::from_millis(pair[1].parse().unwrap_or(500)),
            "--rounds" => rounds = pair[1].parse().unwrap_or(6),
            _ => {}
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(phase, rounds));
}

async fn run(phase: Duration, rounds: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("plugin dir");
    let guests = std::path::Path::new(env!("ONEBOT_GUEST_DIR"));
    for (from, to) in [
        ("probe.wasm", "probe.wasm"),
        ("react_probe.wasm", "runaway.wasm"),
        ("route_probe.wasm", "gh.wasm"),
        ("hostile.wasm", "hostile.wasm"),
    ] {
        std::fs::copy(guests.join(from), plugins.join(to)).expect("copy a guest");
    }
    let limits = format!("timeoutMs: {DEADLINE_MS}, memoryMb: 32");
    std::fs::write(
        plugins.join("runaway.json5"),
        format!(
            r#"{{ events: ["notice"], keyValue: ["default"], {limits},
                 schedules: [{{ name: "loop", every: "100ms" }}, {{ name: "bomb", every: "100ms" }}] }}"#
        ),
    )
    .expect("sidecar");
    std::fs::write(
        plugins.join("gh.json5"),
        format!(r#"{{ routes: ["/loop", "/bomb"], {limits} }}"#),
    )
    .expect("sidecar");
    std::fs::write(plugins.join("hostile.json5"), format!("{{ {limits} }}")).expect("sidecar");
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-cache");
    let text = format!(
        r#"{{ network: {{ httpServers: [{{ enable: true, port: 0 }}] }},
           plugins: {{ dir: {:?}, cacheDir: {:?}, dataDir: {:?}, watch: false }} }}"#,
        plugins.display().to_string(),
        cache.display().to_string(),
        dir.path().join("data").display().to_string(),
    );
    let config = onebot_host::config::parse(&text, &dir.path().join("bench.json5"))
        .expect("config")
        .config;
    let host = onebot_host::start(config).await.expect("host starts");
    let base = format!("http://{}", host.addrs[0]);
    let http = reqwest::Client::new();

    // Warm up: connections open, components compiled and instantiated once.
    load(&http, &base, phase).await;
    println!("p99 of probe_echo (4 clients x 200 calls/s), alone and with one runaway trigger;");
    println!(
        "{rounds} alternating phases of {} ms each",
        phase.as_millis()
    );
    println!("| runaway | p99 alone ms | p99 with ms | ratio | runaway runs |");
    println!("|---|---:|---:|---:|---:|");
    for (what, attack) in FIXTURES {
        let (mut alone, mut with) = (Vec::new(), Vec::new());
        let runs = Arc::new(AtomicU64::new(0));
        for _ in 0..rounds {
            alone.extend(load(&http, &base, phase).await);
            let on = Arc::new(AtomicBool::new(true));
            let attacker = tokio::spawn(attack_loop(
                http.clone(),
                base.clone(),
                attack,
                on.clone(),
                runs.clone(),
            ));
            with.extend(load(&http, &base, phase).await);
            on.store(false, Ordering::SeqCst);
            attacker.await.expect("attacker");
            tokio::time::sleep(SETTLE).await;
        }
        let (a, w) = (p99(&mut alone), p99(&mut with));
        println!(
            "| {what} | {:.2} | {:.2} | {:.2} | {} |",
            ms(a),
            ms(w),
            w.as_secs_f64() / a.as_secs_f64(),
            runs.load(Ordering::SeqCst)
        );
    }
    host.stop().await;
}

/// Keeps one runaway going while `on`; counts what it started in `runs`.
async fn attack_loop(
    http: reqwest::Client,
    base: String,
    attack: Attack,
    on: Arc<AtomicBool>,
    runs: Arc<AtomicU64>,
) {
    if let Attack::Schedule(name) = attack {
        arm(&http, &base, name, true).await;
    }
    while on.load(Ordering::SeqCst) {
        match attack {
            Attack::Handler(probe) => {
                let event =
                    json!({"post_type": "notice", "notice_type": "runaway", "probe": probe});
                let env = post(
                    &http,
                    &format!("{base}/probe_emit"),
                    json!({ "event": event }),
                )
                .await;
                assert_eq!(env["retcode"], 0, "{env}");
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(DEADLINE_MS)).await;
            }
            Attack::Schedule(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            Attack::Action(action) => {
                let env = post(&http, &format!("{base}/{action}"), json!({})).await;
                assert_eq!(
                    env["retcode"], 1200,
                    "a runaway action fails with 1200: {env}"
                );
                runs.fetch_add(1, Ordering::SeqCst);
            }
            Attack::Route(path) => {
                let response = http
                    .post(format!("{base}/hooks/gh/{path}"))
                    .send()
                    .await
                    .expect("route answers");
                assert_eq!(response.status(), 500, "a runaway route fails with 500");
                runs.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    // The runs the plugin itself counted (each run counts itself before it runs away).
    let key = match attack {
        Attack::Schedule(name) => {
            arm(&http, &base, name, false).await;
            format!("schedule:{name}")
        }
        Attack::Handler(_) => "handled".to_owned(),
        Attack::Route(_) | Attack::Action(_) => return,
    };
    let env = post(&http, &format!("{base}/probe_seen"), json!({ "key": key })).await;
    runs.store(env["data"].as_u64().unwrap_or(0), Ordering::SeqCst);
}

async fn arm(http: &reqwest::Client, base: &str, schedule: &str, on: bool) {
    let env = post(
        http,
        &format!("{base}/probe_arm"),
        json!({ "schedule": schedule, "on": on }),
    )
    .await;
    assert_eq!(env["retcode"], 0, "{env}");
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    http.post(url)
        .json(&body)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("an envelope")
}

/// [`CLIENTS`] clients call `probe_echo` once per [`PACE`] for `span`; each call's latency.
async fn load(http: &reqwest::Client, base: &str, span: Duration) -> Vec<Duration> {
    let until = Instant::now() + span;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, url) = (http.clone(), format!("{base}/probe_echo"));
            tokio::spawn(async move {
                let mut pace = tokio::time::interval(PACE);
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    pace.tick().await;
                    let started = Instant::now();
                    let env = post(&http, &url, json!({ "n": 1 })).await;
                    assert_eq!(env["retcode"], 0, "{env}");
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("load client"));
    }
    all
}

fn p99(latencies: &mut [Duration]) -> Duration {
    latencies.sort_unstable();
    latencies
        .get(latencies.len() * 99 / 100)
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
