//! One subscriber's bounded queue of outbound frames (SPEC W6).
//!
//! The bus and the connection's heartbeat push with [`Queue::push`], which never waits: a full
//! queue marks the subscriber as fallen behind (once, for good) and wakes whoever waits in
//! [`Queue::fell_behind`], the connection's writer, which then closes the socket with a close
//! frame and a log line. Nothing is skipped silently: after the first refused frame every
//! later push is refused too, and the client is disconnected.
//!
//! A *lossy* queue ([`Queue::lossy`], for `httpClients`, where an endpoint is not a connection
//! that could be closed) instead refuses only the frame that found it full, counts it in
//! [`Queue::dropped`], and stays subscribed; its owner logs the count.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::{Notify, mpsc};

use crate::metrics::Flow;

/// One serialised event, shared by every subscriber of the same format.
pub(crate) type Frame = Arc<str>;

#[derive(Clone)]
pub(crate) struct Queue {
    frames: mpsc::Sender<Frame>,
    overflow: Arc<Overflow>,
}

#[derive(Default)]
struct Overflow {
    happened: AtomicBool,
    notify: Notify,
    /// Lossy queues only: a full queue drops the one frame and counts it here.
    lossy: bool,
    dropped: AtomicU64,
    /// O7: the host's delivered and dropped counters of the subscriber's connection kind.
    flow: Flow,
}

impl Queue {
    /// A queue holding at most `capacity` frames (at least one), and its receiving end;
    /// what it delivers and drops is counted in `flow`.
    pub(crate) fn new(capacity: usize, flow: Flow) -> (Queue, mpsc::Receiver<Frame>) {
        Self::with(capacity, false, flow)
    }

    /// A queue that drops (and counts) the frames that find it full instead of falling behind.
    pub(crate) fn lossy(capacity: usize, flow: Flow) -> (Queue, mpsc::Receiver<Frame>) {
        Self::with(capacity, true, flow)
    }

    fn with(capacity: usize, lossy: bool, flow: Flow) -> (Queue, mpsc::Receiver<Frame>) {
        let (frames, receiver) = mpsc::channel(capacity.clamp(1, crate::config::WS_QUEUE_LIMIT));
        let overflow = Overflow {
            lossy,
            flow,
            ..Overflow::default()
        };
        let queue = Queue {
            frames,
            overflow: Arc::new(overflow),
        };
        (queue, receiver)
    }

    /// How many frames a lossy queue dropped because it was full, since it was made.
    pub(crate) fn dropped(&self) -> u64 {
        self.overflow.dropped.load(Ordering::Relaxed)
    }

    /// A frame was taken off the queue to be sent (`Subscription::recv`): delivered, unless
    /// the queue is lossy, where the owner reports with [`Queue::sent`] or [`Queue::lost`].
    pub(super) fn taken(&self, some: bool) {
        if some && !self.overflow.lossy {
            self.overflow.flow.delivered();
        }
    }

    /// A lossy queue's owner delivered a frame it took (an `httpClients` POST succeeded).
    pub(crate) fn sent(&self) {
        self.overflow.flow.delivered();
    }

    /// A lossy queue's owner gave up on a frame it took (every try of a POST failed).
    pub(crate) fn lost(&self) {
        self.overflow.flow.failed();
    }

    /// Queues `frame`. False when the subscriber is gone or has fallen behind (this push, or
    /// an earlier one, found the queue full); the caller drops the subscriber.
    pub(crate) fn push(&self, frame: Frame) -> bool {
        if self.overflow.happened.load(Ordering::Acquire) {
            return false;
        }
        match self.frames.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) if self.overflow.lossy => {
                self.overflow.dropped.fetch_add(1, Ordering::Relaxed);
                self.overflow.flow.dropped();
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.flow.dropped();
                self.overflow.happened.store(true, Ordering::Release);
                // `notify_one` keeps a permit when nobody waits yet, so the wake-up is not lost.
                self.overflow.notify.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Resolves once a push found the queue full; pending forever otherwise.
    pub(crate) async fn fell_behind(&self) {
        while !self.overflow.happened.load(Ordering::Acquire) {
            self.overflow.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::time::Duration;

    #[tokio::test]
    async fn w6_a_full_queue_refuses_for_good_and_signals() {
        let (queue, mut frames) = Queue::new(2, Flow::default());
        assert!(queue.push("a".into()));
        assert!(queue.push("b".into()));
        assert!(!queue.push("c".into()), "the third frame overflows");
        tokio::time::timeout(Duration::from_secs(5), queue.fell_behind())
            .await
            .expect("the overflow is signalled");
        // Room again, but a client that fell behind stays behind: no silent skipping.
        assert_eq!(frames.recv().await.as_deref(), Some("a"));
        assert!(!queue.push("d".into()));
        assert_eq!(frames.recv().await.as_deref(), Some("b"));
    }

    #[test]
    fn a_queue_with_room_does_not_signal() {
        let (queue, _frames) = Queue::new(4, Flow::default());
        assert!(queue.push("a".into()));
        assert!(queue.fell_behind().now_or_never().is_none());
    }

    #[test]
    fn a_lossy_queue_drops_and_counts_only_what_did_not_fit() {
        let (queue, mut frames) = Queue::lossy(2, Flow::default());
        assert!(queue.push("a".into()));
        assert!(queue.push("b".into()));
        assert!(queue.push("c".into()), "still subscribed");
        assert_eq!(queue.dropped(), 1);
        assert_eq!(frames.try_recv().ok().as_deref(), Some("a"));
        assert!(queue.push("d".into()));
        assert_eq!(queue.dropped(), 1, "room again: d is queued");
        assert!(queue.fell_behind().now_or_never().is_none());
        assert_eq!(frames.try_recv().ok().as_deref(), Some("b"));
        assert_eq!(frames.try_recv().ok().as_deref(), Some("d"));
    }

    #[test]
    fn a_closed_queue_refuses() {
        let (queue, frames) = Queue::new(4, Flow::default());
        drop(frames);
        assert!(!queue.push("a".into()));
    }
}
