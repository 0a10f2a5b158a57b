//! Calls of a plugin's trigger exports: its `event-handler` (SPEC T1–T8) and its
//! `schedule-handler` (T9–T15), on an instance from the pool like an action call, within the
//! same limits (`timeoutMs` or the schedule's own, `memoryMb`, `maxResultBytes` for a
//! replacement event), with the capabilities its sidecar grants.

use std::sync::Arc;
use std::time::SystemTime;

use super::{CallContext, CallError, Plugin, bindings};
use crate::envelope::Retcode;
use crate::sync::lock;

/// What a handler decided about an event (T1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Deliver the event as it was.
    Pass,
    /// Deliver this event (a JSON object's text) instead.
    Replace(String),
    /// Deliver nothing.
    Drop,
}

/// The label of a handler's call in logs and errors.
pub(crate) const HANDLE_EVENT: &str = "handle-event";

/// What the scheduler did with one schedule of one plugin version (T15, `GET /`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ScheduleStatus {
    /// When it is next due; `None` when it will not be (a cron that never matches again).
    pub(crate) next_due: Option<SystemTime>,
    /// Runs started, runs that failed, and ticks skipped because a run was still going (T11).
    pub(crate) runs: u64,
    pub(crate) failures: u64,
    pub(crate) skipped: u64,
}

impl Plugin {
    /// True the first time a failure of `trigger` (e.g. `handle-event`) is reported for this
    /// version: that one is logged at WARN, later ones at debug (T4).
    pub(crate) fn first_failure(&self, trigger: &str) -> bool {
        self.refusals.first("trigger", trigger)
    }

    /// Its triggers as the load log and `onebot-host plugins` show them (T8): one entry per
    /// kind it has, e.g. `events: message, notice (priority 0)`, `routes: /hooks/gh/github`.
    pub(crate) fn trigger_summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.handles_events() {
            let on_error = match self.handler.on_error {
                crate::config::triggers::OnError::Pass => "",
                crate::config::triggers::OnError::Drop => ", onError drop",
            };
            out.push(format!(
                "events: {} (priority {}{on_error})",
                self.handler.events.post_types().join(", "),
                self.handler.priority
            ));
        }
        if self.schedule_handler.is_some() {
            let status = lock(&self.schedule_status);
            for schedule in &self.schedules {
                let now = status.get(&schedule.name).cloned().unwrap_or_default();
                let next = now
                    .next_due
                    .map(|due| {
                        let due: chrono::DateTime<chrono::Utc> = due.into();
                        format!(
                            ", next {}",
                            due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                        )
                    })
                    .unwrap_or_default();
                out.push(format!(
                    "schedule {}: {} (runs {}, failed {}, skipped {}){next}",
                    schedule.name,
                    schedule.when.describe(),
                    now.runs,
                    now.failures,
                    now.skipped,
                ));
            }
        }
        if self.route.is_some() && !self.routes.is_empty() {
            let routes: Vec<String> = self
                .routes
                .iter()
                .map(|r| format!("/{}/{}{r}", crate::config::routes::HOOKS, self.name))
                .collect();
            out.push(format!("routes: {}", routes.join(", ")));
        }
        out
    }

    /// Whether this version handles events: its sidecar names post types (T2) and it exports
    /// the event handler (T1).
    pub(crate) fn handles_events(&self) -> bool {
        self.event_handler.is_some() && !self.handler.events.is_empty()
    }

    /// Calls the plugin's event handler with `event` (a JSON object's text). An error is the
    /// handler's own (`Err` from the guest, as [`CallError::Returned`]) or any failure an
    /// action call can have (trap, timeout, memory).
    pub(crate) async fn handle_event(
        self: Arc<Self>,
        event: String,
        context: CallContext,
    ) -> Result<Verdict, CallError> {
        let export = self.event_handler.as_ref();
        let answer = self
            .with_export(export, HANDLE_EVENT.into(), context, |store, guest| {
                Box::pin(async move { guest.call_handle_event(store, &event).await })
            })
            .await?;
        let cap = self.limits.max_result_bytes;
        match answer {
            Ok(bindings::Verdict::Pass) => Ok(Verdict::Pass),
            Ok(bindings::Verdict::Drop) => Ok(Verdict::Drop),
            Ok(bindings::Verdict::Replace(text)) if text.len() as u64 > cap => {
                Err(CallError::TooBig {
                    plugin: self.name.clone(),
                    action: HANDLE_EVENT.to_owned(),
                    bytes: text.len(),
                    cap,
                })
            }
            Ok(bindings::Verdict::Replace(text)) => Ok(Verdict::Replace(text)),
            Err(message) => Err(CallError::Returned {
                retcode: Retcode::FAILED,
                message,
            }),
        }
    }
}

impl Plugin {
    /// Whether this version has schedules the host should run (T9).
    pub(crate) fn runs_schedules(&self) -> bool {
        self.schedule_handler.is_some() && !self.schedules.is_empty()
    }

    /// Calls the plugin's schedule handler with `name` (T9), within `context.timeout_ms` when
    /// set (the schedule's own deadline, T12). An `Err` from the guest is
    /// [`CallError::Returned`].
    pub(crate) async fn run_schedule(
        self: &Arc<Self>,
        name: &str,
        context: CallContext,
    ) -> Result<(), CallError> {
        let export = self.schedule_handler.as_ref();
        let label = format!("schedule {name}");
        let name = name.to_owned();
        let answer = self
            .with_export(export, label, context, |store, guest| {
                Box::pin(async move { guest.call_run_schedule(store, &name).await })
            })
            .await?;
        answer.map_err(|message| CallError::Returned {
            retcode: Retcode::FAILED,
            message,
        })
    }

    /// Updates what `GET /` shows of schedule `name`.
    pub(crate) fn note_schedule(&self, name: &str, update: impl FnOnce(&mut ScheduleStatus)) {
        update(
            lock(&self.schedule_status)
                .entry(name.to_owned())
                .or_default(),
        );
    }
}
