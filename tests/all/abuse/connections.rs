//! Holding many connections (issue 7): 10,000 idle TCP connections, a server out of file
//! descriptors, and 1,000 WebSocket clients that all receive their heartbeats.
//!
//! The first two run the real binary, whose open-file limit is its own (this test process
//! holds the client ends). Figures are printed (`--nocapture`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::WAIT;
use crate::bin::{Running, open_files, rss_mib};
use crate::harness::{Setup, envelope, ok_data};
use crate::ws::client::{addr, connect};

/// Raises this test process's soft open-file limit to the hard one; fails if that is short
/// of `need`, naming the fix.
fn raise_own_fd_limit(need: u64) {
    let now = rlimit::increase_nofile_limit(u64::MAX).expect("the open-file limit is readable");
    assert!(
        now >= need,
        "this test holds {need} open files but the hard limit is {now}: raise it (ulimit -Hn)"
    );
}

/// Polls `condition` every 20 ms until it holds; panics after `within`.
async fn until(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens `n` TCP connections to `addr`, one after another, and holds them.
async fn open_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connected in time")
            .expect("connected");
        streams.push(stream);
    }
    streams
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_connections_are_held_and_a_request_still_answers() {
    const IDLE: usize = 10_000;
    raise_own_fd_limit(IDLE as u64 + 1_000);
    // Idle connections are kept 10 minutes, so none is closed while the test runs.
    let setup = Setup::default().server("headerTimeoutMs: 600000");
    let mut host = Running::start(&setup, "info", None);
    let addr = host.addr("test");
    let pid = host.pid();
    let files_before = open_files(pid);
    let rss_before = rss_mib(pid);

    let started = Instant::now();
    let idle = open_connections(addr, IDLE).await;
    let connected = started.elapsed();
    // Accepted, not just queued by the kernel: the server holds a descriptor for each.
    until(WAIT * 2, "the server holds every connection", || {
        open_files(pid) >= files_before + IDLE
    })
    .await;
    let held = open_files(pid) - files_before;
    let rss_held = rss_mib(pid);

    let client = reqwest::Client::new();
    let asked = Instant::now();
    let env = envelope(client.get(format!("http://{addr}/probe_echo?n=1"))).await;
    let answered = asked.elapsed();
    assert_eq!(ok_data(&env)["params"]["n"], "1");

    // None of the idle connections was dropped to make room.
    let mut buf = [0u8; 16];
    let open = idle
        .iter()
        .filter(|s| {
            matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    assert_eq!(open, IDLE, "every idle connection is still open");
    println!(
        "{IDLE} idle connections opened in {connected:.2?}; the server holds {held} more files; \
         RSS {rss_before:.1} -> {rss_held:.1} MiB ({:.1} KiB each); a request answered in \
         {answered:.2?} meanwhile",
        (rss_held - rss_before) * 1024.0 / IDLE as f64
    );

    // SIGTERM with all of them still open: idle connections do not hold up the stop.
    let (status, log) = host.terminate();
    assert!(status.success(), "{status:?}\n{}", log.join("\n"));
    assert!(
        !log.iter().any(|l| l.contains("cannot accept")),
        "{}",
        log.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_is_logged_once_and_serving_resumes_when_connections_close() {
    // More than the host can accept (64 files), fewer than the listen backlog can queue.
    const CLIENTS: usize = 100;
    raise_own_fd_limit(CLIENTS as u64 + 1_000);
    let setup = Setup::default().server("headerTimeoutMs: 600000");
    // 64 open files at most, soft and hard: the host cannot raise it. Its debug lines show
    // each failed accept, which the warning must not repeat.
    let log = "info,onebot_host::server::listen=debug";
    let mut host = Running::start(&setup, log, Some(64));
    let addr = host.addr("test");
    let pid = host.pid();
    let files_before = open_files(pid);

    // The kernel completes these handshakes into the listen backlog even when the host cannot
    // accept them, so connecting never blocks.
    let held = open_connections(addr, CLIENTS).await;
    let warning = host.wait_for("out of file descriptors");
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("ulimit -n"), "names the fix: {warning}");
    assert!(warning.contains("limit 64"), "names the limit: {warning}");
    let accepted = open_files(pid) - files_before;
    // Several more attempts fail, each after a pause.
    host.wait_for_nth("accept failed again", 5);

    drop(held);
    let recovered = host.wait_for("accepting connections again");
    let env = envelope(reqwest::Client::new().get(format!("http://{addr}/probe_echo"))).await;
    ok_data(&env);

    // One warning for the whole episode, however many accepts failed in it.
    let warnings = host
        .log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("cannot accept"));
    assert_eq!(warnings.count(), 1, "{}", host.log.join("\n"));
    println!(
        "under `prlimit --nofile=64`: the host accepted {accepted} connections, then logged one \
         warning; {}",
        recovered.split("listen: ").last().unwrap_or(&recovered)
    );
    let (status, log) = host.terminate();
    assert!(status.success(), "{status:?}\n{}", log.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_websocket_clients_all_receive_heartbeats() {
    const CLIENTS: usize = 1_000;
    // This process holds both ends of every connection.
    raise_own_fd_limit(2 * CLIENTS as u64 + 1_000);
    let host = Setup::default()
        .server("enableWebsocket: true, heartInterval: 200")
        .start()
        .await;
    let addr = addr(&host);

    let started = Instant::now();
    let (twice, mut heard) = mpsc::unbounded_channel();
    let mut readers = JoinSet::new();
    for id in 0..CLIENTS {
        let mut client = connect(addr, "/").await;
        let twice = twice.clone();
        // Each client keeps reading for as long as it is open, so none falls behind (W6).
        readers.spawn(async move {
            let mut beats = 0;
            while let Some(Ok(message)) = client.next().await {
                if let Message::Text(text) = message
                    && text.contains(r#""meta_event_type":"heartbeat""#)
                {
                    beats += 1;
                    if beats == 2 {
                        let _ = twice.send(id);
                    }
                }
            }
            beats
        });
    }
    let connected = started.elapsed();
    drop(twice);
    let mut done = HashSet::new();
    while done.len() < CLIENTS {
        let id = tokio::time::timeout(WAIT * 4, heard.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {CLIENTS} clients had 2 heartbeats", done.len()))
            .expect("readers alive");
        done.insert(id);
    }
    let all_beat = started.elapsed();
    let subscribers = host.host.as_ref().expect("running").events.subscribers();
    assert_eq!(subscribers, CLIENTS, "every client is still connected");
    println!(
        "{CLIENTS} WebSocket clients connected in {connected:.2?}; every one had 2 heartbeats \
         (heartInterval 200 ms) {all_beat:.2?} after the first connected"
    );

    host.stop().await;
    while let Some(beats) = readers.join_next().await {
        assert!(beats.expect("reader") >= 2);
    }
}
