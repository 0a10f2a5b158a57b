//! A guest's stdout and stderr, captured for the host log (SPEC P4, P5).
//!
//! wasmtime-wasi's `MemoryOutputPipe` traps the guest once its buffer is full, which would
//! turn a chatty plugin into a failing one, and never empties, which a warm instance that
//! lives for many calls would fill. [`Capture`] keeps up to a cap per call, counts what it
//! drops, never fails a write, and is emptied by [`Capture::take`] after each call.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::sync;

/// How much of one stream is kept per call; the rest is counted, not stored.
const CAP: usize = 64 * 1024;

#[derive(Clone, Default)]
pub(crate) struct Capture {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Capture {
    fn append(&self, bytes: &[u8]) {
        let mut captured = sync::lock(&self.inner);
        let room = CAP.saturating_sub(captured.bytes.len());
        let kept = bytes.len().min(room);
        captured.bytes.extend_from_slice(&bytes[..kept]);
        captured.dropped += bytes.len() - kept;
    }

    /// Everything written since the last take, and how many bytes past the cap were dropped.
    pub(crate) fn take(&self) -> (Vec<u8>, usize) {
        let mut captured = sync::lock(&self.inner);
        let dropped = std::mem::take(&mut captured.dropped);
        (std::mem::take(&mut captured.bytes), dropped)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(CAP)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_cap_and_counts_the_rest() {
        let capture = Capture::default();
        capture.append(&vec![b'x'; CAP + 10]);
        let (bytes, dropped) = capture.take();
        assert_eq!((bytes.len(), dropped), (CAP, 10));
        assert_eq!(capture.take(), (Vec::new(), 0), "take empties it");
    }
}
