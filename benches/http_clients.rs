//! Events POSTed to `httpClients` endpoints (SPEC R1, R3): how many per second reach 10 local
//! HTTP endpoints.
//!
//! Run: `cargo bench --bench http_clients` (the bench profile is the release profile).
//! Options: `-- --endpoints N --events N`.
//!
//! A host runs in this process with the `probe` test plugin and one `httpClients` entry per
//! endpoint; each endpoint is an axum server on a free local port in the same process that
//! counts the events it receives and answers 204 (no quick operation), so the figure includes
//! the endpoints' own cost of reading every request. The plugin emits `--events` small events
//! in calls of 1,000 (`probe_emit` with `count`); the clock runs from the first call until
//! every endpoint has received every event. Deliveries per second = events × endpoints /
//! elapsed. Each endpoint's queue holds every event, so none is dropped (checked).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(300);
const PER_CALL: u64 = 1_000;

fn options() -> (usize, u64) {
    let (mut endpoints, mut events) = (10_usize, 20_000_u64);
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--endpoints" => endpoints = pair[1].parse().unwrap_or(endpoints),
            "--events" => events = pair[1].parse().unwrap_or(events),
            _ => {}
        }
    }
    (endpoints, events.div_ceil(PER_CALL) * PER_CALL)
}

fn main() {
    let (endpoints, events) = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(endpoints, events));
}

/// An endpoint counting the events POSTed to it; its URL.
async fn endpoint(received: Arc<AtomicU64>) -> String {
    let app = Router::new().fallback(move |body: axum::body::Bytes| {
        let received = received.clone();
        async move {
            if body.starts_with(b"{") {
                received.fetch_add(1, Ordering::Relaxed);
            }
            StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("endpoint binds");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn run(endpoints: usize, events: u64) {
    let counters: Vec<Arc<AtomicU64>> = (0..endpoints).map(|_| Arc::default()).collect();
    let mut clients = Vec::new();
    for (i, received) in counters.iter().enumerate() {
        let url = endpoint(received.clone()).await;
        clients.push(format!(
            r#"{{ name: "bench-{i}", enable: true, url: "{url}", queueEvents: 1000000 }}"#
        ));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("plugin dir");
    let guests = std::path::Path::new(env!("ONEBOT_GUEST_DIR"));
    std::fs::copy(guests.join("probe.wasm"), plugins.join("probe.wasm")).expect("probe.wasm");
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-cache");
    let text = format!(
        r#"{{ network: {{ httpServers: [{{ enable: true, port: 0 }}], httpClients: [{}] }},
           plugins: {{ dir: {:?}, cacheDir: {:?}, watch: false }} }}"#,
        clients.join(", "),
        plugins.display().to_string(),
        cache.display().to_string()
    );
    let config = onebot_host::config::parse(&text, &dir.path().join("bench.json5"))
        .expect("config")
        .config;
    let host = onebot_host::start(config).await.expect("host starts");
    let addr = host.addrs[0];
    let http = reqwest::Client::new();

    let started = Instant::now();
    for from in (0..events).step_by(PER_CALL as usize) {
        let body = json!({"event": {"post_type": "notice", "notice_type": "bench"},
                          "count": PER_CALL, "seq_from": from});
        let env: Value = http
            .post(format!("http://{addr}/probe_emit"))
            .json(&body)
            .send()
            .await
            .expect("emit sent")
            .json()
            .await
            .expect("envelope");
        assert_eq!(env["retcode"], 0, "{env}");
    }
    let emitted = started.elapsed();
    loop {
        let done = counters.iter().all(|c| c.load(Ordering::Relaxed) >= events);
        if done {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "endpoints received {:?} of {events} within {WAIT:?}",
            counters
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    let deliveries = events * endpoints as u64;
    println!(
        "http_clients: {events} events to {endpoints} endpoints: {deliveries} POSTs in {:.2} s \
         = {:.0} deliveries/s ({:.0} events/s per endpoint); emitting took {:.2} s",
        elapsed.as_secs_f64(),
        deliveries as f64 / elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        emitted.as_secs_f64(),
    );
    host.stop().await;
}
