//! W6: one client that never reads while 100 others receive 1,000 events each. The others get
//! every event, in order; the slow one is disconnected; the plugin is never held up.
//!
//! The events are large (8 KiB each, 8 MiB in all) because the kernel buffers a few MiB for a
//! socket on loopback before a write blocks; only then does the slow client's queue fill up.
//! The plugin emits in batches of 32, the next batch once every fast client has read the last
//! one, so a fast client never has more than 32 events queued (`wsQueueMessages` is 64): the
//! fast clients cannot fall behind whatever the machine's speed, and the test needs no timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::client::{Client, WAIT, addr, next_text, subscribed, ws_host};
use crate::harness::ok_data;

const CLIENTS: usize = 100;
const EVENTS: u64 = 1_000;
const BATCH: u64 = 32;
const PAD_BYTES: u64 = 8 * 1024;

#[derive(Deserialize)]
struct Seq {
    seq: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w6_a_client_that_never_reads_is_dropped_and_100_others_get_every_event_in_order() {
    let host = ws_host("heartInterval: 0, wsQueueMessages: 64").await;
    let addr = addr(&host);
    let bus = host.host.as_ref().expect("host").events.clone();

    // The slow client: a small receive buffer, and it never reads, not even its lifecycle.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(addr).await.expect("tcp");
    let (mut slow, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream)
        .await
        .expect("slow client connects");

    // The fast clients: each reads every event and reports how far it got.
    let progress: Arc<Vec<AtomicU64>> = Arc::new((0..CLIENTS).map(|_| AtomicU64::new(0)).collect());
    let (notify, mut progressed) = watch::channel(());
    let mut readers = Vec::new();
    for i in 0..CLIENTS {
        let mut client = subscribed(addr, "/").await;
        let progress = progress.clone();
        let notify = notify.clone();
        readers.push(tokio::spawn(async move {
            for expected in 0..EVENTS {
                let event = next_json_seq(&mut client).await;
                assert_eq!(event, expected, "client {i}: W6 every event, in order");
                progress[i].store(expected + 1, Ordering::Release);
                if (expected + 1) % BATCH == 0 || expected + 1 == EVENTS {
                    notify.send_replace(());
                }
            }
            client
        }));
    }
    assert_eq!(bus.subscribers(), CLIENTS + 1);

    let mut sent = 0;
    while sent < EVENTS {
        let count = BATCH.min(EVENTS - sent);
        let env = host
            .post(
                "probe_emit",
                json!({"event": {"post_type": "notice", "notice_type": "w6"},
                       "count": count, "seq_from": sent, "pad": PAD_BYTES}),
            )
            .await;
        assert_eq!(
            ok_data(&env)["emitted"],
            count,
            "the plugin is never refused"
        );
        sent += count;
        let all_read = |_: &()| progress.iter().all(|p| p.load(Ordering::Acquire) >= sent);
        tokio::time::timeout(WAIT, progressed.wait_for(all_read))
            .await
            .unwrap_or_else(|_| panic!("fast clients stuck before event {sent}"))
            .expect("readers alive");
    }
    let mut fast = Vec::new();
    for reader in readers {
        fast.push(
            reader
                .await
                .expect("every fast client got every event in order"),
        );
    }
    // Overflowing drops a subscriber inside `publish`, so this holds as soon as emitting ends.
    assert_eq!(
        bus.subscribers(),
        CLIENTS,
        "W6: the client that never read was dropped from the bus, and only it"
    );

    // Now the slow client reads what reached it: a prefix of the events, then the end of the
    // connection (the close frame 1008 if it was still waiting to go out).
    let mut received = 0;
    loop {
        let message = tokio::time::timeout(WAIT, slow.next())
            .await
            .expect("the slow client's connection ends");
        match message {
            Some(Ok(Message::Text(_))) => received += 1,
            Some(Ok(Message::Close(frame))) => {
                if let Some(frame) = frame {
                    assert_eq!(u16::from(frame.code), 1008, "W6: {frame:?}");
                }
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    assert!(
        received < EVENTS,
        "W6: the slow client was cut off, not served everything ({received} frames)"
    );
    drop(fast);
    host.stop().await;
}

/// The next event's `seq`, parsed without building the 8 KiB padding into a value.
async fn next_json_seq(client: &mut Client) -> u64 {
    let seq: Seq = serde_json::from_str(&next_text(client).await).expect("an event with seq");
    seq.seq
}
