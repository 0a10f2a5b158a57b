//! The WebSocket test client: connect, read frames as JSON, call actions, wait for events
//! and for the close. Every read has a timeout ([`WAIT`]); nothing sleeps.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::{Setup, TestHost};

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single expected frame may take to arrive before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn addr(host: &TestHost) -> SocketAddr {
    host.host.as_ref().expect("host running").addrs[0]
}

/// Connects to `path`, with extra handshake headers.
pub async fn try_connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> Result<Client, tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, value.parse().expect("header value"));
    }
    let (client, _response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")?;
    Ok(client)
}

pub async fn connect(addr: SocketAddr, path: &str) -> Client {
    try_connect(addr, path, &[]).await.expect("connects")
}

/// The next text frame as JSON (pings and pongs skipped). Panics on close or timeout.
pub async fn next_json(client: &mut Client) -> Value {
    serde_json::from_str(&next_text(client).await).expect("frames are JSON")
}

/// The next text frame (pings and pongs skipped). Panics on close or timeout.
pub async fn next_text(client: &mut Client) -> String {
    loop {
        let message = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a frame in time")
            .expect("the stream is open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until the socket closes; returns the close frame, if the server sent one.
pub async fn until_closed(client: &mut Client) -> Option<CloseFrame> {
    loop {
        match tokio::time::timeout(WAIT, client.next())
            .await
            .expect("the server closes in time")
        {
            Some(Ok(Message::Close(frame))) => return frame,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

/// The close code the server ends `client` with (`None`: no close frame).
pub async fn close_code(client: &mut Client) -> Option<u16> {
    until_closed(client)
        .await
        .map(|frame| u16::from(frame.code))
}

pub async fn send(client: &mut Client, frame: Value) {
    client
        .send(Message::text(frame.to_string()))
        .await
        .expect("frame sent");
}

/// Sends one API frame and returns the next reply (E3b: a frame without `post_type`),
/// skipping events.
pub async fn call(client: &mut Client, frame: Value) -> Value {
    send(client, frame).await;
    next_reply(client).await
}

pub async fn next_reply(client: &mut Client) -> Value {
    loop {
        let frame = next_json(client).await;
        if frame.get("post_type").is_none() {
            return frame;
        }
    }
}

/// The next event, skipping replies and heartbeats.
pub async fn next_event(client: &mut Client) -> Value {
    loop {
        let frame = next_json(client).await;
        if frame.get("post_type").is_some() && frame["meta_event_type"] != "heartbeat" {
            return frame;
        }
    }
}

/// A universal client that has read its lifecycle event, so it is subscribed (W3).
pub async fn subscribed(addr: SocketAddr, path: &str) -> Client {
    let mut client = connect(addr, path).await;
    let first = next_json(&mut client).await;
    assert_eq!(first["meta_event_type"], "lifecycle", "W3: {first}");
    client
}

pub async fn ws_host(server: &str) -> TestHost {
    Setup::default()
        .server(&format!("enableWebsocket: true, {server}"))
        .start()
        .await
}
