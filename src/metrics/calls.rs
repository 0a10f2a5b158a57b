//! Per plugin and action (SPEC O2, O3): calls by outcome and retcode, their duration, and
//! how many are in flight.
//!
//! A call takes its action's handles from one map lookup ([`super::Metrics::call`]) and then
//! only touches atomics and the histogram's lock: no allocation and no label hashing on the
//! way, so that keeping metrics costs a warm call next to nothing (measured in BENCHMARKS.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::DURATION_BUCKETS;
use crate::sync;

/// The most distinct failing retcodes kept as labels per action; later ones are counted
/// under `retcode="other"`, so a plugin inventing retcodes cannot grow the series unbounded.
pub(crate) const MAX_RETCODES: usize = 16;

/// Why the host ended a call (O2): the outcomes besides `ok` and `failed`, which the
/// retcode tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Past its `timeoutMs`.
    Timeout,
    /// A trap, a stack overflow, an instance that could not start.
    Trap,
    /// A limit: `memoryMb`, `maxResultBytes`, `maxEventsPerCall`.
    Limit,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::Timeout => "timeout",
            Cause::Trap => "trap",
            Cause::Limit => "limit",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ActionLabels {
    plugin: Arc<str>,
    action: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CallLabels {
    plugin: Arc<str>,
    action: Arc<str>,
    outcome: &'static str,
    retcode: Arc<str>,
}

type HistogramFamily = Family<ActionLabels, Histogram, fn() -> Histogram>;

/// The three families of O2/O3, registered once.
pub(super) struct Families {
    calls: Family<CallLabels, Counter>,
    durations: HistogramFamily,
    in_flight: Family<ActionLabels, Gauge>,
}

fn histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

impl Families {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let calls = Family::default();
        let durations: HistogramFamily = Family::new_with_constructor(histogram);
        let in_flight = Family::default();
        registry.register(
            "onebot_action_calls",
            "Calls of a plugin's action, by outcome (ok, failed, timeout, trap, limit, \
             cancelled) and retcode",
            calls.clone(),
        );
        registry.register(
            "onebot_action_duration_seconds",
            "Time from a call reaching its plugin (waiting for a maxConcurrentCalls slot \
             included) to its answer",
            durations.clone(),
        );
        registry.register(
            "onebot_action_in_flight",
            "Calls of a plugin's action running or waiting for a slot now",
            in_flight.clone(),
        );
        Families {
            calls,
            durations,
            in_flight,
        }
    }

    /// The handles of one action, made the first time it is called; it counts into `totals`
    /// too.
    pub(super) fn action(
        &self,
        plugin: &Arc<str>,
        action: &str,
        totals: &Arc<Totals>,
    ) -> ActionStats {
        let labels = ActionLabels {
            plugin: plugin.clone(),
            action: action.into(),
        };
        let count = |outcome: &'static str, retcode: &str| {
            self.calls.get_or_create_owned(&CallLabels {
                plugin: labels.plugin.clone(),
                action: labels.action.clone(),
                outcome,
                retcode: retcode.into(),
            })
        };
        ActionStats {
            ok: count("ok", "0"),
            cancelled: count("cancelled", "0"),
            timeout: count(Cause::Timeout.as_str(), "1200"),
            trap: count(Cause::Trap.as_str(), "1200"),
            limit: count(Cause::Limit.as_str(), "1200"),
            failed: Mutex::new(Vec::new()),
            duration: self.durations.get_or_create_owned(&labels),
            in_flight: self.in_flight.get_or_create_owned(&labels),
            calls: self.calls.clone(),
            labels,
            totals: totals.clone(),
        }
    }
}

/// One action's handles: a counter per fixed outcome, one per failing retcode seen.
pub(super) struct ActionStats {
    ok: Counter,
    cancelled: Counter,
    timeout: Counter,
    trap: Counter,
    limit: Counter,
    /// `failed` by retcode, at most [`MAX_RETCODES`] of them, then `other`.
    failed: Mutex<Vec<(i32, Counter)>>,
    duration: Histogram,
    in_flight: Gauge,
    calls: Family<CallLabels, Counter>,
    labels: ActionLabels,
    totals: Arc<Totals>,
}

/// Plugin calls and those that did not end ok, over every action: the dashboard's calls/s
/// and errors/s (D3).
#[derive(Debug, Default)]
pub(crate) struct Totals {
    calls: AtomicU64,
    errors: AtomicU64,
}

impl Totals {
    /// (calls, errors) since the host started.
    pub(crate) fn read(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }

    fn count(&self, ok: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl ActionStats {
    fn failed(&self, retcode: i32) -> Counter {
        let mut failed = sync::lock(&self.failed);
        if let Some((_, counter)) = failed.iter().find(|(r, _)| *r == retcode) {
            return counter.clone();
        }
        let label = if failed.len() < MAX_RETCODES {
            retcode.to_string()
        } else {
            "other".to_owned()
        };
        let counter = self.calls.get_or_create_owned(&CallLabels {
            plugin: self.labels.plugin.clone(),
            action: self.labels.action.clone(),
            outcome: "failed",
            retcode: label.into(),
        });
        if failed.len() < MAX_RETCODES {
            failed.push((retcode, counter.clone()));
        }
        counter
    }
}

/// One call being timed. [`CallProbe::finish`] records its outcome; a probe dropped unfinished
/// (the client went away and the call was cancelled) counts as `cancelled`.
pub struct CallProbe {
    stats: Arc<ActionStats>,
    started: Instant,
    cause: Option<Cause>,
    finished: bool,
}

impl CallProbe {
    pub(super) fn start(stats: Arc<ActionStats>) -> CallProbe {
        stats.in_flight.inc();
        CallProbe {
            stats,
            started: Instant::now(),
            cause: None,
            finished: false,
        }
    }

    /// The host ended the call for `cause` (its retcode is 1200 either way).
    pub(crate) fn cause(&mut self, cause: Cause) {
        self.cause = Some(cause);
    }

    /// The call answered with `retcode`: ok for 0, else failed under that retcode unless
    /// [`CallProbe::cause`] said why the host ended it.
    pub fn finish(mut self, retcode: i32) {
        self.finished = true;
        let stats = &self.stats;
        stats.totals.count(self.cause.is_none() && retcode == 0);
        match (self.cause, retcode) {
            (Some(Cause::Timeout), _) => stats.timeout.inc(),
            (Some(Cause::Trap), _) => stats.trap.inc(),
            (Some(Cause::Limit), _) => stats.limit.inc(),
            (None, 0) => stats.ok.inc(),
            (None, retcode) => stats.failed(retcode).inc(),
        };
    }
}

impl Drop for CallProbe {
    fn drop(&mut self) {
        if !self.finished {
            self.stats.cancelled.inc();
            self.stats.totals.count(false);
        }
        self.stats
            .duration
            .observe(self.started.elapsed().as_secs_f64());
        self.stats.in_flight.dec();
    }
}
