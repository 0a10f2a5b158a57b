//! One subscriber's bounded queue of outbound frames (SPEC W6).
//!
//! The bus and the connection's heartbeat push with [`Queue::push`], which never waits: a full
//! queue marks the subscriber as fallen behind (once, for good) and wakes whoever waits in
//! [`Queue::fell_behind`], the connection's writer, which then closes the socket with a close
//! frame and a log line. Nothing is skipped silently: after the first refused frame every
//! later push is refused too, and the client is disconnected.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Notify, mpsc};

/// One serialised event, shared by every subscriber of the same format.
pub type Frame = Arc<str>;

#[derive(Clone)]
pub struct Queue {
    frames: mpsc::Sender<Frame>,
    overflow: Arc<Overflow>,
}

#[derive(Default)]
struct Overflow {
    happened: AtomicBool,
    notify: Notify,
}

impl Queue {
    /// A queue holding at most `capacity` frames (at least one), and its receiving end.
    pub fn new(capacity: usize) -> (Queue, mpsc::Receiver<Frame>) {
        let (frames, receiver) = mpsc::channel(capacity.clamp(1, crate::config::WS_QUEUE_LIMIT));
        let queue = Queue {
            frames,
            overflow: Arc::default(),
        };
        (queue, receiver)
    }

    /// Queues `frame`. False when the subscriber is gone or has fallen behind (this push, or
    /// an earlier one, found the queue full); the caller drops the subscriber.
    pub fn push(&self, frame: Frame) -> bool {
        if self.overflow.happened.load(Ordering::Acquire) {
            return false;
        }
        match self.frames.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.happened.store(true, Ordering::Release);
                // `notify_one` keeps a permit when nobody waits yet, so the wake-up is not lost.
                self.overflow.notify.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Resolves once a push found the queue full; pending forever otherwise.
    pub async fn fell_behind(&self) {
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
        let (queue, mut frames) = Queue::new(2);
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
        let (queue, _frames) = Queue::new(4);
        assert!(queue.push("a".into()));
        assert!(queue.fell_behind().now_or_never().is_none());
    }

    #[test]
    fn a_closed_queue_refuses() {
        let (queue, frames) = Queue::new(4);
        drop(frames);
        assert!(!queue.push("a".into()));
    }
}
