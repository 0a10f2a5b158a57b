//! Schedules (SPEC T9–T15): the host calls a plugin's schedule handler with the schedule's
//! name when it is due. One task per schedule of each loaded plugin version sleeps until the
//! next due time; each run is a task of its own, so a run in flight finishes on its version
//! when a hot swap replaces the version's schedules (T14).
//!
//! No overlap (T11): a tick that finds the previous run of the same schedule (of this version
//! or the one before) still going is skipped and counted. No pile-up: after a slow run or a
//! pause, the next due time is the first one still ahead; the ones passed are counted as
//! skipped, never run late in a burst.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::triggers::{Schedule, When};
use crate::events::Identity;
use crate::plugin::{CallContext, Plugin};
use crate::registry::Registry;
use crate::sync::lock;

/// Runs the schedules of whatever plugin versions the registry holds.
pub(crate) struct Scheduler {
    registry: Arc<Registry>,
    shared: Arc<Shared>,
}

/// What every schedule task shares.
struct Shared {
    identity: Arc<Identity>,
    /// `limits.maxScheduleTimeoutMs` (T12).
    max_timeout_ms: u64,
    /// (plugin, schedule) with a run going now, across versions (T11).
    running: Mutex<HashSet<(Arc<str>, String)>>,
}

/// Each loaded version's schedule tasks, by the version's address: a version is one load of
/// the file and its sidecar, so a changed sidecar (same `.wasm`) is a new version too. The
/// entry holds the version, so its address cannot be reused while it is here.
type Tasks = HashMap<usize, (Arc<Plugin>, Vec<JoinHandle<()>>)>;

impl Scheduler {
    pub(crate) fn new(
        registry: Arc<Registry>,
        identity: Arc<Identity>,
        max_timeout_ms: u64,
    ) -> Self {
        Scheduler {
            registry,
            shared: Arc::new(Shared {
                identity,
                max_timeout_ms,
                running: Mutex::default(),
            }),
        }
    }

    /// Keeps one task per schedule of every loaded version until `stopped` turns true; then
    /// stops ticking (runs in flight finish within their deadline).
    pub(crate) async fn run(self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        let mut changes = self.registry.watch();
        let mut tasks = Tasks::new();
        loop {
            changes.borrow_and_update();
            self.reconcile(&mut tasks);
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { break },
                () = super::stopping(&mut stopped) => break,
            }
        }
        for (_, handles) in tasks.into_values() {
            for handle in handles {
                handle.abort();
            }
        }
    }

    /// Starts the schedules of versions that are new, stops those of versions gone (T14).
    fn reconcile(&self, tasks: &mut Tasks) {
        let snapshot = self.registry.snapshot();
        let current: HashMap<usize, &Arc<Plugin>> = snapshot
            .plugins
            .values()
            .filter(|p| p.runs_schedules())
            .map(|p| (Arc::as_ptr(p) as usize, p))
            .collect();
        tasks.retain(|key, (_, handles)| {
            let keep = current.contains_key(key);
            if !keep {
                for handle in handles.iter() {
                    handle.abort();
                }
            }
            keep
        });
        for (key, plugin) in current {
            if tasks.contains_key(&key) {
                continue;
            }
            let handles = plugin
                .schedules
                .iter()
                .map(|schedule| {
                    tokio::spawn(tick(plugin.clone(), schedule.clone(), self.shared.clone()))
                })
                .collect();
            tasks.insert(key, (plugin.clone(), handles));
        }
    }
}

/// When `when` is next due after `previous` (its last due time, or the version's start),
/// and how many due times already passed in between without a tick (T11: skipped, not run).
fn next_due(when: &When, previous: Instant) -> Option<(Instant, u64)> {
    match when {
        When::Every(period) => {
            let next = previous + *period;
            let now = Instant::now();
            if next >= now {
                return Some((next, 0));
            }
            // Late (a pause, a busy machine): the next one still ahead, not a burst.
            let missed = (now - next).as_nanos() / period.as_nanos().max(1) + 1;
            let skip = u32::try_from(missed).unwrap_or(u32::MAX);
            Some((next + period.saturating_mul(skip), u64::from(skip)))
        }
        When::Cron { .. } => {
            let now = chrono::Utc::now();
            let due = when.next_cron(now)?;
            let ahead = (due - now).to_std().unwrap_or(Duration::ZERO);
            Some((Instant::now() + ahead, 0))
        }
    }
}

/// One schedule of one version: sleep until due, run unless the last run is still going.
async fn tick(plugin: Arc<Plugin>, schedule: Schedule, shared: Arc<Shared>) {
    let mut previous = Instant::now();
    loop {
        let Some((due, missed)) = next_due(&schedule.when, previous) else {
            plugin.note_schedule(&schedule.name, |s| s.next_due = None);
            return;
        };
        let wall = SystemTime::now() + due.saturating_duration_since(Instant::now());
        plugin.note_schedule(&schedule.name, |s| {
            s.next_due = Some(wall);
            s.skipped += missed;
        });
        plugin.stats.schedule_skipped(&schedule.name, missed);
        tokio::time::sleep_until(due).await;
        previous = due;
        let key = (plugin.name.clone(), schedule.name.clone());
        if !lock(&shared.running).insert(key.clone()) {
            plugin.note_schedule(&schedule.name, |s| s.skipped += 1);
            plugin.stats.schedule_skipped(&schedule.name, 1);
            tracing::debug!(plugin = %plugin.name, schedule = %schedule.name, "tick skipped: the previous run is still going");
            continue;
        }
        plugin.note_schedule(&schedule.name, |s| s.runs += 1);
        tokio::spawn(run(plugin.clone(), schedule.clone(), shared.clone(), key));
    }
}

/// Takes the (plugin, schedule) off the running set however the run ends.
struct Running(Arc<Shared>, (Arc<str>, String));

impl Drop for Running {
    fn drop(&mut self) {
        lock(&self.0.running).remove(&self.1);
    }
}

/// One run, within the schedule's deadline (T12); failures logged as T13 says.
async fn run(
    plugin: Arc<Plugin>,
    schedule: Schedule,
    shared: Arc<Shared>,
    key: (Arc<str>, String),
) {
    let _running = Running(shared.clone(), key);
    let timeout_ms = schedule
        .timeout_ms
        .unwrap_or(plugin.limits.timeout_ms)
        .min(shared.max_timeout_ms);
    let context = CallContext {
        self_id: Some(shared.identity.self_id()),
        timeout_ms: Some(timeout_ms),
        ..CallContext::default()
    };
    let ran = plugin.run_schedule(&schedule.name, context).await;
    plugin.stats.schedule_run(&schedule.name, ran.is_ok());
    match ran {
        Ok(()) => tracing::debug!(plugin = %plugin.name, schedule = %schedule.name, "schedule ran"),
        Err(e) => {
            plugin.note_schedule(&schedule.name, |s| s.failures += 1);
            let label = format!("schedule {}", schedule.name);
            if plugin.first_failure(&label) {
                tracing::warn!(
                    plugin = %plugin.name,
                    version = %plugin.version,
                    schedule = %schedule.name,
                    "schedule failed: {e} (later failures of this version are logged at debug)"
                );
            } else {
                tracing::debug!(plugin = %plugin.name, schedule = %schedule.name, "schedule failed: {e}");
            }
        }
    }
}
