//! Per plugin (SPEC O5, O10): what its instances did, across all its versions: outbound
//! requests by outcome, capabilities refused for want of a grant, the most linear memory one
//! instance held, and its triggers' runs (event handler, schedules) by outcome with the
//! schedule ticks skipped. A plugin version takes its [`PluginStats`] at load and its capability
//! units and the triggers' tasks count into it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// What became of one outbound HTTP request (P4a–P4d).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutboundOutcome {
    /// A response head arrived (whatever its status).
    Ok,
    /// Not granted by `allowedOutboundHosts`: nothing left the host.
    Denied,
    /// A bound refused it: too many in flight, a body over `maxResultBytes`.
    Limit,
    /// No response head in time.
    Timeout,
    /// Anything else: DNS, connection refused, TLS, protocol.
    Error,
}

const OUTCOMES: [OutboundOutcome; 5] = [
    OutboundOutcome::Ok,
    OutboundOutcome::Denied,
    OutboundOutcome::Limit,
    OutboundOutcome::Timeout,
    OutboundOutcome::Error,
];

impl OutboundOutcome {
    fn as_str(self) -> &'static str {
        match self {
            OutboundOutcome::Ok => "ok",
            OutboundOutcome::Denied => "denied",
            OutboundOutcome::Limit => "limit",
            OutboundOutcome::Timeout => "timeout",
            OutboundOutcome::Error => "error",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    plugin: Arc<str>,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    plugin: Arc<str>,
    capability: &'static str,
}

/// What became of one event handler call (T1, T4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HandlerOutcome {
    Pass,
    Replace,
    Drop,
    /// An error, trap, timeout, or a replacement that is not an event (T4), whatever
    /// `onError` then made of the event.
    Failed,
}

impl HandlerOutcome {
    fn as_str(self) -> &'static str {
        match self {
            HandlerOutcome::Pass => "pass",
            HandlerOutcome::Replace => "replace",
            HandlerOutcome::Drop => "drop",
            HandlerOutcome::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScheduleLabels {
    plugin: Arc<str>,
    schedule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScheduleRunLabels {
    plugin: Arc<str>,
    schedule: String,
    outcome: &'static str,
}

/// The trigger families (O10), shared by every plugin's stats.
#[derive(Clone, Debug, Default)]
struct Triggers {
    handler: Family<OutcomeLabels, Counter>,
    schedule: Family<ScheduleRunLabels, Counter>,
    skipped: Family<ScheduleLabels, Counter>,
}

pub(super) struct Families {
    outbound: Family<OutcomeLabels, Counter>,
    refused: Family<RefusalLabels, Counter>,
    triggers: Triggers,
}

impl Families {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let outbound = Family::default();
        let refused = Family::default();
        registry.register(
            "onebot_plugin_outbound_requests",
            "Outbound HTTP requests of a plugin, by outcome (ok, denied, limit, timeout, error)",
            outbound.clone(),
        );
        registry.register(
            "onebot_plugin_refused_grants",
            "Uses of a capability a plugin was not granted (key-value, call-action, outbound)",
            refused.clone(),
        );
        let triggers = Triggers::default();
        registry.register(
            "onebot_handler_runs",
            "Event handler calls of a plugin, by outcome (pass, replace, drop, failed)",
            triggers.handler.clone(),
        );
        registry.register(
            "onebot_schedule_runs",
            "Runs of a plugin's schedule, by outcome (ok, failed)",
            triggers.schedule.clone(),
        );
        registry.register(
            "onebot_schedule_skipped_ticks",
            "Due times of a schedule not run: the previous run was still going, or they passed",
            triggers.skipped.clone(),
        );
        Families {
            outbound,
            refused,
            triggers,
        }
    }

    pub(super) fn stats(&self, plugin: &Arc<str>) -> PluginStats {
        let outbound = OUTCOMES.map(|outcome| {
            self.outbound.get_or_create_owned(&OutcomeLabels {
                plugin: plugin.clone(),
                outcome: outcome.as_str(),
            })
        });
        PluginStats {
            name: plugin.clone(),
            outbound,
            refused: Some(self.refused.clone()),
            memory_peak: AtomicU64::new(0),
            triggers: Some(self.triggers.clone()),
        }
    }
}

/// One plugin's counters. `Default` gives detached ones, counting into nothing scraped (unit
/// tests, benchmarks).
#[derive(Debug, Default)]
pub(crate) struct PluginStats {
    pub(crate) name: Arc<str>,
    outbound: [Counter; 5],
    refused: Option<Family<RefusalLabels, Counter>>,
    memory_peak: AtomicU64,
    triggers: Option<Triggers>,
}

impl PluginStats {
    pub(crate) fn outbound(&self, outcome: OutboundOutcome) {
        let index = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(0);
        self.outbound[index].inc();
    }

    /// A capability (`key-value`, `call-action`, `outbound`) used without its grant.
    pub(crate) fn refused(&self, capability: &'static str) {
        if let Some(refused) = &self.refused {
            refused
                .get_or_create(&RefusalLabels {
                    plugin: self.name.clone(),
                    capability,
                })
                .inc();
        }
    }

    /// An instance of the plugin held `bytes` of linear memory.
    pub(crate) fn memory(&self, bytes: u64) {
        self.memory_peak.fetch_max(bytes, Ordering::Relaxed);
    }

    /// The most linear memory one instance held since the host started.
    pub(crate) fn memory_peak(&self) -> u64 {
        self.memory_peak.load(Ordering::Relaxed)
    }

    /// O10: one event handler call and what came of it.
    pub(crate) fn handler_run(&self, outcome: HandlerOutcome) {
        if let Some(triggers) = &self.triggers {
            triggers
                .handler
                .get_or_create(&OutcomeLabels {
                    plugin: self.name.clone(),
                    outcome: outcome.as_str(),
                })
                .inc();
        }
    }

    /// O10: one run of `schedule`, and whether it ended ok.
    pub(crate) fn schedule_run(&self, schedule: &str, ok: bool) {
        if let Some(triggers) = &self.triggers {
            triggers
                .schedule
                .get_or_create(&ScheduleRunLabels {
                    plugin: self.name.clone(),
                    schedule: schedule.to_owned(),
                    outcome: if ok { "ok" } else { "failed" },
                })
                .inc();
        }
    }

    /// O10: `ticks` due times of `schedule` skipped (T11).
    pub(crate) fn schedule_skipped(&self, schedule: &str, ticks: u64) {
        if let Some(triggers) = &self.triggers
            && ticks > 0
        {
            triggers
                .skipped
                .get_or_create(&ScheduleLabels {
                    plugin: self.name.clone(),
                    schedule: schedule.to_owned(),
                })
                .inc_by(ticks);
        }
    }
}
