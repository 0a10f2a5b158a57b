//! A WebSocket the host dialled (tokio-tungstenite's client stream) as the connection loop's
//! `Socket`, the trait [`crate::ws::serve`] takes: axum's message and error types in and out,
//! so a reverse connection is served by exactly the loop that serves forward clients.
//!
//! The two libraries share tungstenite underneath; only the wrapper types differ. Text moves
//! between them as bytes (checked as UTF-8 again, not copied); errors are wrapped in
//! [`axum::Error`] as axum does for its own sockets, so the loop still recognises a frame over
//! the size limit (close code 1009).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{self as ts, frame::coding::CloseCode};

/// A dialled WebSocket, seen as an axum socket.
pub(super) struct Dialled<S> {
    inner: WebSocketStream<S>,
}

impl<S> Dialled<S> {
    pub(super) fn new(inner: WebSocketStream<S>) -> Self {
        Dialled { inner }
    }
}

impl<S> Stream for Dialled<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let message = match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => message,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(axum::Error::new(e)))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            // A raw frame only shows up when reading raw frames is asked for; skip it.
            if let Some(message) = from_tungstenite(message) {
                return Poll::Ready(Some(Ok(message)));
            }
        }
    }
}

impl<S> Sink<Message> for Dialled<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_ready(cx)
            .map_err(axum::Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner)
            .start_send(into_tungstenite(item))
            .map_err(axum::Error::new)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(axum::Error::new)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_close(cx)
            .map_err(axum::Error::new)
    }
}

fn from_tungstenite(message: ts::Message) -> Option<Message> {
    Some(match message {
        ts::Message::Text(text) => Message::Text(utf8(Bytes::from(text))),
        ts::Message::Binary(bytes) => Message::Binary(bytes),
        ts::Message::Ping(bytes) => Message::Ping(bytes),
        ts::Message::Pong(bytes) => Message::Pong(bytes),
        ts::Message::Close(frame) => Message::Close(frame.map(|frame| CloseFrame {
            code: frame.code.into(),
            reason: utf8(Bytes::from(frame.reason)),
        })),
        ts::Message::Frame(_) => return None,
    })
}

fn into_tungstenite(message: Message) -> ts::Message {
    match message {
        Message::Text(text) => ts::Message::Text(ts_utf8(Bytes::from(text))),
        Message::Binary(bytes) => ts::Message::Binary(bytes),
        Message::Ping(bytes) => ts::Message::Ping(bytes),
        Message::Pong(bytes) => ts::Message::Pong(bytes),
        Message::Close(frame) => ts::Message::Close(frame.map(|frame| ts::CloseFrame {
            code: CloseCode::from(frame.code),
            reason: ts_utf8(Bytes::from(frame.reason)),
        })),
    }
}

/// Bytes that came out of a UTF-8 string on the other side, so the check always passes; an
/// empty string stands in rather than a panic if it ever did not.
fn utf8(bytes: Bytes) -> Utf8Bytes {
    Utf8Bytes::try_from(bytes).unwrap_or_default()
}

fn ts_utf8(bytes: Bytes) -> ts::frame::Utf8Bytes {
    ts::frame::Utf8Bytes::try_from(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_round_trip_between_the_two_libraries() {
        for message in [
            Message::Text("héllo {\"a\":1}".into()),
            Message::Binary(Bytes::from_static(b"\x00\xff")),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Pong(Bytes::new()),
            Message::Close(None),
            Message::Close(Some(CloseFrame {
                code: 1008,
                reason: "too slow".into(),
            })),
        ] {
            let back = from_tungstenite(into_tungstenite(message.clone()));
            assert_eq!(back, Some(message));
        }
    }
}
