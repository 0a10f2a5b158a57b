//! feed (plugins/feed): the real binary with the shipped sidecar (plugins/optional/feed.json5)
//! pointed at a loopback server the test controls, polling every 100 ms. What it sends to the
//! group reaches a WebSocket client as mock-account's `message_sent`; a restart of the binary
//! on the same `dataDir` shows what it remembered. Schedules: SPEC T9–T13; key-value: P8.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::{next_group_message, send_to_group};
use crate::bin::{Invocation, Running};
use crate::harness::{shared_cache, wait_for};
use crate::ws::client::{self, Client};

/// The group the shipped sidecar sends to.

#[derive(Clone, Copy, Debug)]
enum Format {
    Rss,
    Atom,
}

/// The feed the loopback server serves, and how often it was asked for it.
struct Feed {
    format: Format,
    /// (id, title), newest first, as feeds list them.
    items: Mutex<Vec<(String, String)>>,
    /// Served instead of the feed when set.
    broken: Mutex<Option<&'static str>>,
    polls: AtomicUsize,
}

impl Feed {
    fn document(&self) -> String {
        let items = self.items.lock().expect("lock").clone();
        let escape = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;");
        match self.format {
            Format::Rss => {
                let items: String = items
                    .iter()
                    .map(|(id, title)| {
                        format!(
                            "<item><title>{}</title><link>https://example.com/{id}</link>\
                             <guid isPermaLink=\"false\">{id}</guid>\
                             <pubDate>Sat, 05 Dec 2026 12:00:00 GMT</pubDate></item>",
                            escape(title)
                        )
                    })
                    .collect();
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
                     <title>Test feed</title><link>https://example.com/</link>{items}</channel></rss>"
                )
            }
            Format::Atom => {
                let entries: String = items
                    .iter()
                    .map(|(id, title)| {
                        format!(
                            "<entry><title>{}</title><link rel=\"alternate\" href=\"https://example.com/{id}\"/>\
                             <id>urn:test:{id}</id><updated>2026-12-05T12:00:00Z</updated></entry>",
                            escape(title)
                        )
                    })
                    .collect();
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
                     <title>Test feed</title><id>urn:test</id><updated>2026-12-05T12:00:00Z</updated>{entries}</feed>"
                )
            }
        }
    }

    fn add(&self, id: &str, title: &str) {
        self.items
            .lock()
            .expect("lock")
            .insert(0, (id.to_owned(), title.to_owned()));
    }

    fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }
}

async fn serve(State(feed): State<Arc<Feed>>) -> Response {
    feed.polls.fetch_add(1, Ordering::SeqCst);
    if let Some(broken) = *feed.broken.lock().expect("lock") {
        return ([(header::CONTENT_TYPE, "text/html")], broken).into_response();
    }
    let kind = match feed.format {
        Format::Rss => "application/rss+xml",
        Format::Atom => "application/atom+xml",
    };
    ([(header::CONTENT_TYPE, kind)], feed.document()).into_response()
}

/// A loopback server: `/feed.xml` is the feed, `/moved` a permanent redirect to it.
async fn feed_server(format: Format, items: &[(&str, &str)]) -> (SocketAddr, Arc<Feed>) {
    let feed = Arc::new(Feed {
        format,
        items: Mutex::new(
            items
                .iter()
                .map(|(id, title)| ((*id).to_owned(), (*title).to_owned()))
                .collect(),
        ),
        broken: Mutex::new(None),
        polls: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/feed.xml", get(serve))
        .route("/moved", get(|| async { Redirect::permanent("/feed.xml") }))
        .with_state(feed.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, feed)
}

/// The shipped sidecar, pointed at `url` on the loopback server and polling every 100 ms.
fn sidecar(server: SocketAddr, url: &str) -> String {
    let shipped = include_str!("../../../plugins/optional/feed.json5");
    let mut text = shipped.to_owned();
    for (from, to) in [
        (
            "\"https://blog.rust-lang.org/feed.xml\"",
            format!("\"{url}\""),
        ),
        (
            "\"https://blog.rust-lang.org\"",
            format!("\"http://{server}\""),
        ),
        ("every: \"10m\"", "every: \"100ms\"".to_owned()),
    ] {
        assert!(text.contains(from), "the shipped sidecar has {from}");
        text = text.replace(from, &to);
    }
    text
}

/// The binary serving mock-account and feed (with `sidecar`), its key-value store in `data`.
/// Reading its log blocks: the tests run on a multi-threaded runtime so that the feed server
/// keeps answering meanwhile.
fn launch(sidecar: &str, data: &Path) -> (Running, SocketAddr) {
    let plugins = [
        ("mock_account.wasm", "mock-account.wasm"),
        ("feed.wasm", "feed.wasm"),
    ];
    let invocation = Invocation::new().env("RUST_LOG", "info");
    let mut running = Running::launch_as(invocation, &plugins, |dir| {
        std::fs::write(dir.join("feed.json5"), sidecar).expect("sidecar");
        format!(
            r#"{{ network: {{ httpServers: [{{ name: "feed", enable: true, host: "127.0.0.1", port: 0, enableWebsocket: true }}] }},
  plugins: {{ dir: {dir:?}, cacheDir: {cache:?}, dataDir: {data:?},
    ceilings: {{ feed: {{ allowedOutboundHosts: ["http://127.0.0.1:*"], callActions: ["send_group_msg"] }} }} }} }}"#,
            dir = dir.display().to_string(),
            cache = shared_cache().display().to_string(),
            data = data.display().to_string(),
        )
    });
    let addr = running.addr("feed");
    (running, addr)
}

/// Waits until the feed has been fetched twice more: the run that fetched it before has then
/// finished, whatever it sent (runs of a schedule never overlap, T11).
async fn two_more_polls(feed: &Feed) {
    let after = feed.polls() + 2;
    wait_for("two more polls", || async {
        (feed.polls() >= after).then_some(())
    })
    .await;
}

/// Sends a marker to the group from the test and reads up to it: every message the plugin
/// sent before is then read, so the marker coming next means it sent nothing more.
async fn nothing_more_sent(addr: SocketAddr, bot: &mut Client) {
    send_to_group(addr, "marker").await;
    assert_eq!(next_group_message(bot).await, "marker", "nothing else sent");
}

/// An item added → exactly one group message with its title and link; a restart on the same
/// data → no repeat; the next item → one message again.
async fn new_items_are_sent_once_across_a_restart(format: Format, path: &str) {
    let (server, feed) = feed_server(format, &[("b", "Second post"), ("a", "First post")]).await;
    let url = format!("http://{server}{path}");
    let sidecar = sidecar(server, &url);
    let data = tempfile::tempdir().expect("tmp");

    let (mut running, addr) = launch(&sidecar, data.path());
    let mut bot = client::subscribed(addr, "/").await;
    running.wait_for(&format!(
        "feed {url}: first poll, its 2 item(s) remembered and not sent"
    ));
    feed.add("c", "Rust & WebAssembly <3 [CQ:at,qq=all]");
    assert_eq!(
        next_group_message(&mut bot).await,
        "Rust & WebAssembly <3 [CQ:at,qq=all]\nhttps://example.com/c",
        "{format:?}: the title as text (never CQ code), then the link"
    );
    two_more_polls(&feed).await;
    nothing_more_sent(addr, &mut bot).await;
    let (status, _) = running.terminate();
    assert!(status.success());

    let (running, addr) = launch(&sidecar, data.path());
    let mut bot = client::subscribed(addr, "/").await;
    two_more_polls(&feed).await;
    nothing_more_sent(addr, &mut bot).await;
    feed.add("d", "Fourth post");
    assert_eq!(
        next_group_message(&mut bot).await,
        "Fourth post\nhttps://example.com/d"
    );
    two_more_polls(&feed).await;
    nothing_more_sent(addr, &mut bot).await;
    let (status, log) = running.terminate();
    assert!(status.success());
    assert!(
        !log.iter().any(|l| l.contains("first poll")),
        "the restart remembered the feed:\n{}",
        log.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t9_feed_sends_each_new_rss_item_once_and_never_again_after_a_restart() {
    // Through a redirect, as feeds that moved answer.
    new_items_are_sent_once_across_a_restart(Format::Rss, "/moved").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t9_feed_sends_each_new_atom_entry_once_and_never_again_after_a_restart() {
    new_items_are_sent_once_across_a_restart(Format::Atom, "/feed.xml").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t13_a_bad_feed_is_logged_and_the_feed_is_read_once_it_is_good_again() {
    let (server, feed) = feed_server(Format::Rss, &[("a", "First post")]).await;
    *feed.broken.lock().expect("lock") = Some("<html><body>Maintenance</body></html>");
    let url = format!("http://{server}/feed.xml");
    let data = tempfile::tempdir().expect("tmp");
    let (mut running, addr) = launch(&sidecar(server, &url), data.path());
    let mut bot = client::subscribed(addr, "/").await;
    let line = running.wait_for("schedule failed");
    assert!(
        line.contains(&format!(
            "feed {url}: not an RSS or Atom feed but a web page"
        )),
        "{line}"
    );
    two_more_polls(&feed).await;

    // Good again: its first good poll remembers what is there, then a new item is sent.
    *feed.broken.lock().expect("lock") = None;
    running.wait_for(&format!("feed {url}: first poll, its 1 item(s)"));
    feed.add("b", "Second post");
    assert_eq!(
        next_group_message(&mut bot).await,
        "Second post\nhttps://example.com/b"
    );
    let (status, log) = running.terminate();
    assert!(status.success());
    assert!(
        !log.iter()
            .any(|l| l.contains("trapped") || l.contains("panicked")),
        "a bad feed is an error, never a trap:\n{}",
        log.join("\n")
    );
}
