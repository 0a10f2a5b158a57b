//! Events out to WebSocket clients (SPEC W5, W6): how many per second reach 100 connected
//! clients, and how long one takes from a plugin's `emit-event` to a client holding it.
//!
//! Run: `cargo bench --bench events` (the bench profile is the release profile, so nothing
//! is rebuilt after `cargo test --release`). Options: `-- --clients N --events N --samples N`,
//! `--reverse` for reverse WebSocket (`websocketClients`, RW2), and `--handlers N` for a chain
//! of N pass-through event handlers (SPEC T1: copies of the example `keyword`, which passes
//! every event that is not a `ping` message, with `events: ["*"]`; `--warm` gives them
//! `warmInstances: 1`; `--handler FILE` uses that component instead, e.g.
//! `plugins/optional/js-filter.wasm` for a JavaScript handler).
//!
//! A host runs in this process on a free port with the `probe` test plugin; 100 clients
//! (tokio-tungstenite) connect to `/` on the same machine, so the figures include the
//! clients' own cost of reading and parsing every frame. With `--reverse` the clients are
//! bots instead: one WebSocket server in this process, and one `websocketClients` entry per
//! client that the host dials; the rest is the same, so the two figures compare directly.
//!
//! - Throughput: the plugin emits `--events` small events in calls of 1,000 (`probe_emit`
//!   with `count`); the clock runs from the first call until every client has read every
//!   event. Deliveries per second = events × clients / elapsed.
//! - Latency: the plugin stamps each event with the wall clock just before `emit-event`
//!   (`stamp`), each client subtracts that from the wall clock when the frame is read. Events
//!   go one at a time, the next when all clients have the previous one (an idle host), so this
//!   is the cost the host adds: bus, queue, writer task, socket, plus the client's read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct Stamped {
    seq: u64,
    #[serde(default)]
    sent_ns: Option<u64>,
}

struct Options {
    clients: usize,
    events: u64,
    samples: u64,
    reverse: bool,
    handlers: usize,
    /// `--warm`: the handlers keep a warm instance (P5) instead of a fresh one per event.
    warm: bool,
    /// `--handler FILE`: the handler component; default the guests' `keyword.wasm`.
    handler: Option<std::path::PathBuf>,
}

fn options() -> Options {
    let mut options = Options {
        clients: 100,
        events: 20_000,
        samples: 500,
        reverse: false,
        handlers: 0,
        warm: false,
        handler: None,
    };
    let args: Vec<String> = std::env::args().collect();
    options.reverse = args.iter().any(|arg| arg == "--reverse");
    options.warm = args.iter().any(|arg| arg == "--warm");
    for pair in args.windows(2) {
        let value = || pair[1].parse().ok();
        match pair[0].as_str() {
            "--clients" => options.clients = value().unwrap_or(options.clients as u64) as usize,
            "--events" => options.events = value().unwrap_or(options.events),
            "--samples" => options.samples = value().unwrap_or(options.samples),
            "--handlers" => options.handlers = value().unwrap_or(0) as usize,
            "--handler" => options.handler = Some(pair[1].clone().into()),
            _ => {}
        }
    }
    options
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("plugin dir");
    let guests = std::path::Path::new(env!("ONEBOT_GUEST_DIR"));
    std::fs::copy(guests.join("probe.wasm"), plugins.join("probe.wasm")).expect("probe.wasm");
    let handler = options
        .handler
        .clone()
        .unwrap_or_else(|| guests.join("keyword.wasm"));
    for k in 1..=options.handlers {
        std::fs::copy(&handler, plugins.join(format!("handler{k}.wasm")))
            .unwrap_or_else(|e| panic!("{}: {e}", handler.display()));
        let warm = if options.warm { "warmInstances: 1" } else { "" };
        std::fs::write(
            plugins.join(format!("handler{k}.json5")),
            format!(r#"{{ events: ["*"], {warm} }}"#),
        )
        .expect("sidecar");
    }
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-cache");
    // With --reverse: the bots' server, and one websocketClients entry per client dialling it.
    let bots = match options.reverse {
        true => Some(TcpListener::bind("127.0.0.1:0").await.expect("bind")),
        false => None,
    };
    let ws_clients = bots.as_ref().map_or_else(String::new, |bots| {
        let url = format!("ws://{}/", bots.local_addr().expect("addr"));
        let entry = format!(
            r#"{{ enable: true, url: "{url}", heartInterval: 0, wsQueueMessages: 1000000 }}"#
        );
        format!(
            "websocketClients: [{}],",
            vec![entry; options.clients].join(", ")
        )
    });
    let text = format!(
        r#"{{ network: {{ httpServers: [{{ enable: true, port: 0, enableWebsocket: true,
             heartInterval: 0, wsQueueMessages: 1000000 }}], {ws_clients} }},
           plugins: {{ dir: {:?}, cacheDir: {:?}, watch: false }} }}"#,
        plugins.display().to_string(),
        cache.display().to_string()
    );
    let config = onebot_host::config::parse(&text, &dir.path().join("bench.json5"))
        .expect("config")
        .config;
    let host = onebot_host::start(config).await.expect("host starts");
    let addr = host.addrs[0];
    let http = reqwest::Client::new();
    let emit = |body: Value| {
        let http = http.clone();
        async move {
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
    };

    // Every client counts what it read and keeps the latency samples of stamped events.
    let received: Arc<Vec<AtomicU64>> =
        Arc::new((0..options.clients).map(|_| AtomicU64::new(0)).collect());
    let samples = Arc::new(Mutex::new(Vec::new()));
    let (notify, mut progressed) = watch::channel(());
    for i in 0..options.clients {
        let mut client = match &bots {
            Some(bots) => {
                let (stream, _) = bots.accept().await.expect("the host dials");
                tokio_tungstenite::accept_async(MaybeTlsStream::Plain(stream))
                    .await
                    .expect("handshake")
            }
            None => {
                tokio_tungstenite::connect_async(format!("ws://{addr}/"))
                    .await
                    .expect("client connects")
                    .0
            }
        };
        let first = client.next().await.expect("lifecycle").expect("frame");
        assert!(first.to_text().unwrap_or_default().contains("lifecycle"));
        let received = received.clone();
        let samples = samples.clone();
        let notify = notify.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(Ok(message)) = client.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let now = unix_nanos();
                let Ok(event) = serde_json::from_str::<Stamped>(&text) else {
                    continue;
                };
                if let Some(sent) = event.sent_ns {
                    mine.push(now.saturating_sub(sent));
                }
                received[i].store(event.seq + 1, Ordering::Release);
                if event.sent_ns.is_some() || (event.seq + 1) % 1000 == 0 {
                    samples.lock().await.append(&mut mine);
                    notify.send_replace(());
                }
            }
        });
    }
    let all_have = |n: u64| {
        let received = received.clone();
        move |_: &()| received.iter().all(|r| r.load(Ordering::Acquire) >= n)
    };

    // Throughput.
    let started = Instant::now();
    let mut sent = 0;
    while sent < options.events {
        let count = 1000.min(options.events - sent);
        emit(
            json!({"event": {"post_type": "notice", "notice_type": "bench"},
                    "count": count, "seq_from": sent}),
        )
        .await;
        sent += count;
        if options.handlers > 0 {
            // Events wait for the handlers in a queue of 4096 (T7): a batch at a time keeps
            // every event going through them.
            tokio::time::timeout(WAIT, progressed.wait_for(all_have(sent)))
                .await
                .expect("every client got the batch")
                .expect("clients alive");
        }
    }
    tokio::time::timeout(WAIT, progressed.wait_for(all_have(sent)))
        .await
        .expect("every client got every event")
        .expect("clients alive");
    let elapsed = started.elapsed().as_secs_f64();
    let deliveries = sent as f64 * options.clients as f64;
    let how = if options.reverse {
        "reverse"
    } else {
        "forward"
    };
    println!(
        "throughput ({how} WebSocket, {} event handlers): {sent} events to {} clients in {elapsed:.2} s = {:.0} events/s, {:.0} deliveries/s",
        options.handlers,
        options.clients,
        sent as f64 / elapsed,
        deliveries / elapsed,
    );

    // Latency, one event at a time.
    samples.lock().await.clear();
    for k in 0..options.samples {
        let seq = sent + k;
        emit(
            json!({"event": {"post_type": "notice", "notice_type": "bench"},
                    "count": 1, "seq_from": seq, "stamp": true}),
        )
        .await;
        tokio::time::timeout(WAIT, progressed.wait_for(all_have(seq + 1)))
            .await
            .expect("every client got the event")
            .expect("clients alive");
    }
    let mut samples = std::mem::take(&mut *samples.lock().await);
    samples.sort_unstable();
    let percentile = |p: f64| {
        let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples.get(index).copied().unwrap_or(0) as f64 / 1e6
    };
    println!(
        "latency ({how}, {} event handlers) emit-event → client read, {} samples ({} events × {} clients): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        options.handlers,
        samples.len(),
        options.samples,
        options.clients,
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
    );
    host.stop().await;
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
