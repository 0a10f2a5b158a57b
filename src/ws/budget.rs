//! W7: the bytes WebSocket clients make the host hold, bounded per connection and host-wide
//! (issue 20 item 4).
//!
//! What is counted: the frame of every call still running, and every reply not yet written
//! to the socket. A client that sends calls and never reads used to pin them all (measured:
//! 300 frames with a 1 MiB `echo` held 386 MB; a second such client, 755 MB). Now:
//!
//! - past its connection's budget (`limits.wsPendingBytesPerConnection`) the connection is
//!   closed with 1008; one frame or reply larger than the whole budget is still served when
//!   nothing else of the connection is pending, so a budget below `maxBodyBytes` refuses no
//!   honest client;
//! - past the host's (`limits.wsPendingBytes`, all connections together) a new call is
//!   answered 1200 "busy" without running, and its frame is dropped at once.
//!
//! Each byte is counted by a [`Charge`] that gives it back when dropped, however the call or
//! the connection ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;

use crate::config::HostLimits;

/// What every WebSocket connection of the host shares.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Bytes held for every connection together.
    used: AtomicUsize,
    limit: usize,
    /// The budget of each connection.
    per_connection: usize,
    /// Numbers that tell connections apart (E5a's fair turns).
    next_id: AtomicU64,
}

/// One connection's budget.
#[derive(Debug)]
pub(crate) struct Budget {
    host: Arc<Pending>,
    used: AtomicUsize,
    /// The number this connection is known by.
    pub(crate) id: u64,
    over: AtomicBool,
    went_over: Notify,
}

/// Bytes held until this is dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<Budget>,
    bytes: usize,
}

/// Why a frame was not taken on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Past the connection's budget: close it (1008).
    Connection,
    /// Past the host's: answer "busy".
    Host,
}

impl Pending {
    pub(crate) fn new(limits: &HostLimits) -> Pending {
        Pending {
            used: AtomicUsize::new(0),
            limit: limits.ws_pending_bytes,
            per_connection: limits.ws_pending_bytes_per_connection,
            next_id: AtomicU64::new(1),
        }
    }

    /// A new connection's budget.
    pub(crate) fn connection(self: &Arc<Self>) -> Arc<Budget> {
        Arc::new(Budget {
            host: self.clone(),
            used: AtomicUsize::new(0),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            over: AtomicBool::new(false),
            went_over: Notify::new(),
        })
    }

    /// `limits.wsPendingBytes`, for the busy answer.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// `limits.wsPendingBytesPerConnection`, for the close reason.
    pub(crate) fn per_connection(&self) -> usize {
        self.per_connection
    }

    /// Bytes held now for every connection together.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

impl Budget {
    /// A frame of `bytes` arrived: held while its call runs, unless the connection or the
    /// host is past its budget.
    pub(crate) fn admit(self: &Arc<Self>, bytes: usize) -> Result<Charge, Refusal> {
        let before = self.used.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before + bytes > self.host.per_connection {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
            self.mark_over();
            return Err(Refusal::Connection);
        }
        let host_before = self.host.used.fetch_add(bytes, Ordering::AcqRel);
        if host_before > 0 && host_before + bytes > self.host.limit {
            self.host.used.fetch_sub(bytes, Ordering::AcqRel);
            self.used.fetch_sub(bytes, Ordering::AcqRel);
            return Err(Refusal::Host);
        }
        Ok(Charge {
            budget: self.clone(),
            bytes,
        })
    }

    /// A reply of `bytes` waits to be written: held until it is. A reply that takes the
    /// connection past its budget (with something else pending) closes it.
    pub(crate) fn hold(self: &Arc<Self>, bytes: usize) -> Charge {
        let before = self.used.fetch_add(bytes, Ordering::AcqRel);
        self.host.used.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before + bytes > self.host.per_connection {
            self.mark_over();
        }
        Charge {
            budget: self.clone(),
            bytes,
        }
    }

    /// Resolves once the connection has gone past its budget.
    pub(crate) async fn exceeded(&self) {
        loop {
            let notified = self.went_over.notified();
            if self.over.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Bytes held for this connection now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn mark_over(&self) {
        self.over.store(true, Ordering::Release);
        self.went_over.notify_waiters();
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.budget
            .host
            .used
            .fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(per_connection: usize, host: usize) -> Arc<Pending> {
        Arc::new(Pending::new(&HostLimits {
            ws_pending_bytes_per_connection: per_connection,
            ws_pending_bytes: host,
            ..HostLimits::default()
        }))
    }

    #[tokio::test]
    async fn w7_a_connection_past_its_budget_is_over_and_charges_come_back() {
        let host = pending(100, 1000);
        let a = host.connection();
        // One frame larger than the whole budget passes when nothing else is pending.
        let big = a.admit(150).expect("alone");
        drop(big);
        let first = a.admit(60).expect("fits");
        let reply = a.hold(30);
        assert_eq!((a.used(), host.used()), (90, 90));
        assert!(matches!(a.admit(20), Err(Refusal::Connection)));
        a.exceeded().await;
        drop((first, reply));
        assert_eq!((a.used(), host.used()), (0, 0));
    }

    #[test]
    fn w7_past_the_hosts_budget_a_frame_is_refused_without_closing_anyone() {
        let host = pending(100, 150);
        let (a, b) = (host.connection(), host.connection());
        assert_ne!(a.id, b.id);
        let _a = a.admit(90).expect("fits");
        let _b = b.admit(50).expect("fits");
        assert!(matches!(b.admit(20), Err(Refusal::Host)));
        assert_eq!((b.used(), host.used()), (50, 140));
        // A reply is always held (its call already ran), and counts host-wide.
        let _reply = b.hold(40);
        assert_eq!(host.used(), 180);
        assert!(!b.over.load(Ordering::Relaxed));
    }
}
