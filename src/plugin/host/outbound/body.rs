//! A response body as the guest reads it (SPEC P4c, P4d): cut off past the plugin's
//! `maxResultBytes` or past the call's deadline, and holding its request's slot until it is
//! read to the end or dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use super::Log;

/// A response body that ends in an error past `cap` bytes or past the call's deadline, and
/// holds its request's slot until it is read or dropped.
pub(super) struct Capped {
    pub(super) body: WasiBody,
    pub(super) left: u64,
    pub(super) cap: u64,
    pub(super) until: Pin<Box<tokio::time::Sleep>>,
    pub(super) log: Log,
    /// Held, not read: the slot is free again when the body is dropped.
    pub(super) _slot: OwnedSemaphorePermit,
}

impl Body for Capped {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let size = frame.data_ref().map_or(0, |d| d.len() as u64);
                if size > this.left {
                    this.log.warn(&format!(
                        "outbound response cut off: its body is over the plugin's maxResultBytes \
                         of {}",
                        this.cap
                    ));
                    this.left = 0;
                    return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                        this.cap + 1,
                    )))));
                }
                this.left -= size;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.until.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
