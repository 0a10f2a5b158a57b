//! Every event an endpoint did not get is counted and logged, never silent (SPEC R4), but
//! without a WARN line per event: the first drop is logged at once, later ones are summed
//! and logged at most once per [`WARN_EVERY`], including those still unlogged when the host
//! stops.

use std::time::{Duration, Instant};

/// The least time between two drop warnings of one endpoint.
pub(super) const WARN_EVERY: Duration = Duration::from_secs(10);

/// One endpoint's drop counts.
pub(super) struct Drops {
    endpoint: String,
    /// Not yet logged: dropped because the queue was full, and after failed tries.
    overflow: u64,
    failed: u64,
    /// The last failure's reason, to say why in the next warning.
    reason: Option<String>,
    total: u64,
    /// The queue's own count the last time it was read, to take only what is new.
    overflow_seen: u64,
    last_warn: Option<Instant>,
}

impl Drops {
    pub(super) fn new(endpoint: &str) -> Self {
        Drops {
            endpoint: endpoint.to_owned(),
            overflow: 0,
            failed: 0,
            reason: None,
            total: 0,
            overflow_seen: 0,
            last_warn: None,
        }
    }

    /// The queue's running count of overflow drops ([`crate::events::Queue::dropped`]).
    pub(super) fn overflowed(&mut self, queue_total: u64, now: Instant) {
        let new = queue_total.saturating_sub(self.overflow_seen);
        self.overflow_seen = queue_total;
        if new > 0 {
            self.overflow += new;
            self.total += new;
            self.warn_if_due(now);
        }
    }

    /// One event given up on after its tries.
    pub(super) fn failed(&mut self, reason: String, now: Instant) {
        self.failed += 1;
        self.total += 1;
        self.reason = Some(reason);
        self.warn_if_due(now);
    }

    /// When the unlogged drops are due to be logged; `None` when there are none.
    pub(super) fn due(&self) -> Option<Instant> {
        if self.overflow + self.failed == 0 {
            return None;
        }
        Some(
            self.last_warn
                .map_or_else(Instant::now, |at| at + WARN_EVERY),
        )
    }

    /// Logs the unlogged drops if the last warning is old enough.
    pub(super) fn warn_if_due(&mut self, now: Instant) {
        let pending = self.overflow + self.failed > 0;
        if pending && self.last_warn.is_none_or(|at| at + WARN_EVERY <= now) {
            self.warn(now);
        }
    }

    /// Logs the unlogged drops now (at shutdown).
    pub(super) fn flush(&mut self) {
        if self.due().is_some() {
            self.warn(Instant::now());
        }
    }

    pub(super) fn total(&self) -> u64 {
        self.total
    }

    fn warn(&mut self, now: Instant) {
        let reason = self
            .reason
            .take()
            .map_or_else(String::new, |r| format!("; last failure: {r}"));
        tracing::warn!(
            endpoint = %self.endpoint,
            "httpClients endpoint: dropped {} events ({} queue full (queueEvents), {} failed{reason}); {} dropped since start",
            self.overflow + self.failed,
            self.overflow,
            self.failed,
            self.total,
        );
        self.overflow = 0;
        self.failed = 0;
        self.last_warn = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r4_first_drop_logs_at_once_later_ones_wait_their_turn() {
        let start = Instant::now();
        let mut drops = Drops::new("bot");
        assert_eq!(drops.due(), None, "nothing to log");
        drops.failed("HTTP 500".into(), start);
        assert_eq!((drops.failed, drops.due()), (0, None), "logged at once");
        drops.overflowed(3, start + Duration::from_secs(1));
        assert_eq!(drops.due(), Some(start + WARN_EVERY), "the next slot");
        drops.overflowed(3, start + Duration::from_secs(2));
        assert_eq!(drops.overflow, 3, "only new overflow counts");
        assert_eq!(drops.total(), 4);
        drops.warn_if_due(start + Duration::from_secs(5));
        assert_eq!(drops.overflow, 3, "not yet due");
        drops.warn_if_due(start + WARN_EVERY);
        assert_eq!(drops.overflow, 0, "logged");
        assert_eq!(drops.due(), None);
    }
}
