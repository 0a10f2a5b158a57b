//! Network abuse (issue 7), against a real server with raw TCP and WebSocket clients:
//!
//! - this file: slowloris on the headers and on the body, idle keep-alive, oversized heads,
//!   WebSocket frames over the limit (W4, 1009);
//! - `connections`: 10,000 idle connections, running out of file descriptors, 1,000 WebSocket
//!   clients receiving heartbeats;
//! - `secrets`: the token in no log line (H6), the warning for an open port without a token;
//! - `log_lines`: no client or plugin text forges a log line (S3).
//!
//! `connections`, `secrets` and `log_lines` run the real binary in its own process
//! (`crate::bin`).
//!
//! Figures (how long a slowloris client lasts, connections held) are printed; run with
//! `--nocapture` to see them.

mod connections;
mod log_lines;
mod secrets;

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::harness::{Setup, failed, ok_data};
use crate::ws::client::{addr, close_code, connect, ws_host};

/// The bound on every wait here: far above any timeout configured in these tests.
const WAIT: Duration = Duration::from_secs(30);

/// One raw HTTP/1.1 response: status, head, body (by `Content-Length`).
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Reads one response from `stream`; `None` if the connection closes first.
async fn read_response(stream: &mut TcpStream) -> Option<Raw> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        read_more(stream, &mut buf, "a response or a close").await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        read_more(stream, &mut body, "the body").await?;
    }
    Some(Raw { status, head, body })
}

/// Appends what the server sends next to `buf`; `None` once it has closed the connection.
/// Fails the test if `what` does not come within [`WAIT`].
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, what: &str) -> Option<()> {
    let mut chunk = [0u8; 4096];
    let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
        .await
        .unwrap_or_else(|_| panic!("{what} in time"))
        .ok()?;
    if n == 0 {
        return None;
    }
    buf.extend_from_slice(&chunk[..n]);
    Some(())
}

/// Whether the server has closed `stream`: reads until EOF or a reset, within [`WAIT`].
async fn closed(stream: &mut TcpStream) -> bool {
    let mut chunk = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(WAIT, read_to_end).await.is_ok()
}

/// Sends `piece(i)` every `every` until the server closes the connection; returns what the
/// server sent and when it closed. Writing and reading go on together, as a slowloris does.
async fn trickle(
    stream: &mut TcpStream,
    every: Duration,
    piece: impl Fn(usize) -> Vec<u8>,
) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut tick = tokio::time::interval(every);
    let mut i = 0;
    let mut writing = true;
    let ended = async {
        loop {
            tokio::select! {
                read = reader.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received.extend_from_slice(&chunk[..n]),
                },
                _ = tick.tick(), if writing => {
                    // A failed write means the server is gone; the read side says so next.
                    writing = writer.write_all(&piece(i)).await.is_ok();
                    i += 1;
                }
            }
        }
    };
    tokio::time::timeout(WAIT, ended)
        .await
        .expect("the server closes a trickling connection");
    (received, started.elapsed())
}

const GET: &[u8] = b"GET /get_version_info HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn a_slowloris_head_an_idle_connection_and_an_idle_keep_alive_are_closed_in_time() {
    let host = Setup::default()
        .server("headerTimeoutMs: 300")
        .start()
        .await;
    let addr = addr(&host);

    // Trickles a header line every 50 ms, never ending the head.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /get_version_info HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    let idle = async {
        let mut idle = TcpStream::connect(addr).await.expect("connect");
        let started = Instant::now();
        assert!(closed(&mut idle).await, "a silent connection is closed");
        started.elapsed()
    };
    let kept_alive = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(GET).await.expect("write");
        let first = read_response(&mut stream).await.expect("a response");
        assert_eq!(first.status, 200, "{}", first.head);
        let envelope: Value = serde_json::from_slice(&first.body).expect("an envelope");
        ok_data(&envelope);
        let started = Instant::now();
        assert!(closed(&mut stream).await, "an idle keep-alive is closed");
        started.elapsed()
    };
    let slowloris = trickle(&mut slow, Duration::from_millis(50), |i| {
        format!("X-Slow-{i}: 1\r\n").into_bytes()
    });
    let ((received, slow_for), idle_for, kept_for) = tokio::join!(slowloris, idle, kept_alive);
    assert!(received.is_empty(), "no reply to an unfinished head");
    println!(
        "headerTimeoutMs 300: slowloris head closed after {slow_for:?}, silent connection after \
         {idle_for:?}, idle keep-alive after {kept_for:?}"
    );
    for (what, took) in [
        ("slowloris", slow_for),
        ("idle", idle_for),
        ("keep-alive", kept_for),
    ] {
        assert!(
            took >= Duration::from_millis(250),
            "{what} closed by the timeout, not before: {took:?}"
        );
    }

    // The server itself is fine.
    ok_data(&host.get("/get_version_info").await);
    host.stop().await;
}

#[tokio::test]
async fn a_trickled_body_is_answered_408_with_an_envelope_and_the_connection_closed() {
    let host = Setup::default().server("bodyTimeoutMs: 300").start().await;
    let addr = addr(&host);
    // (framing header, the body's first bytes, each trickled piece)
    type Framing = (&'static str, &'static [u8], fn(usize) -> Vec<u8>);
    let framings: [Framing; 2] = [
        ("Content-Length: 100000", b"{\"x\":\"", |_| b"a".to_vec()),
        ("Transfer-Encoding: chunked", b"6\r\n{\"x\":\"\r\n", |_| {
            b"1\r\na\r\n".to_vec()
        }),
    ];
    for (framing, start, piece) in framings {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST /probe_echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(start).await.expect("body start");
        let (received, took) = trickle(&mut stream, Duration::from_millis(50), piece).await;
        println!("bodyTimeoutMs 300, {framing}: answered and closed after {took:?}");
        assert!(took >= Duration::from_millis(250), "{framing}: {took:?}");

        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 408"), "{framing}: {text}");
        let (head, body) = text.split_once("\r\n\r\n").expect("a whole response");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        let envelope: Value = serde_json::from_str(body).expect("the body is an envelope");
        let message = failed(&envelope, 1400);
        assert!(message.contains("bodyTimeoutMs"), "{message}");
    }
    // An honest body, sent at once, is unaffected.
    let env = host.post("probe_echo", json!({"x": 1})).await;
    assert_eq!(ok_data(&env)["params"]["x"], 1);
    host.stop().await;
}

#[tokio::test]
async fn a_head_over_64_kib_is_refused_with_431_and_a_long_query_still_works() {
    let host = Setup::default().start().await;
    let addr = addr(&host);

    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let huge = format!(
        "GET /probe_echo HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    // The server may answer and close before the whole head is written.
    let _ = stream.write_all(huge.as_bytes()).await;
    let refused = read_response(&mut stream).await.expect("a response");
    assert_eq!(refused.status, 431, "{}", refused.head);
    assert!(
        closed(&mut stream).await,
        "the connection is closed after 431"
    );

    // A GET with a 30 KB message in its query is well within the limit.
    let text = "b".repeat(30 * 1024);
    let env = host.get(&format!("/probe_echo?text={text}")).await;
    assert_eq!(ok_data(&env)["params"]["text"], text.as_str());
    host.stop().await;
}

#[tokio::test]
async fn w4_a_fragmented_message_over_max_body_bytes_closes_with_1009() {
    let host = ws_host("maxBodyBytes: 1024").await;
    let mut client = connect(addr(&host), "/api").await;
    // Four 512-byte fragments: each under the limit, the message over it.
    let fragments = [
        Frame::message(vec![b' '; 512], OpCode::Data(Data::Text), false),
        Frame::message(vec![b' '; 512], OpCode::Data(Data::Continue), false),
        Frame::message(vec![b' '; 512], OpCode::Data(Data::Continue), false),
        Frame::message(b"{}".to_vec(), OpCode::Data(Data::Continue), true),
    ];
    for fragment in fragments {
        // The server may close before the last fragment is written.
        if client.send(Message::Frame(fragment)).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut client).await, Some(1009));
    host.stop().await;
}

#[tokio::test]
async fn w4_a_frame_declaring_more_than_max_body_bytes_closes_with_1009_before_its_payload() {
    let host = ws_host("maxBodyBytes: 1024").await;
    let mut client = connect(addr(&host), "/api").await;
    // A masked text frame header announcing 4 GiB, and not one byte of it.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(4u64 << 30).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let raw = match client.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(stream) => stream,
        _ => unreachable!("plain ws://"),
    };
    raw.write_all(&header).await.expect("header written");
    assert_eq!(
        close_code(&mut client).await,
        Some(1009),
        "closed on the header alone"
    );
    host.stop().await;
}
