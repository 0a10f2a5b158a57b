//! Triggers: what starts a plugin other than a client's action call (SPEC T1–T25). The host
//! drives every loop; guests stay short-lived and isolated, and each trigger is granted in the
//! plugin's sidecar.
//!
//! - `chain` — event handlers (T1–T8): every published event runs through the plugins whose
//!   sidecar names its post type, in order, before it is delivered.
//! - `schedule` — schedules (T9–T15): each plugin version's schedules, ticking until the
//!   version is replaced or removed.
//!
//! Webhook routes (T20–T25) are served by `crate::http::hooks` through the dispatcher.

pub(crate) mod chain;
pub(crate) mod schedule;

pub(crate) use chain::Chain;
pub(crate) use schedule::Scheduler;

/// Returns once `stopped` turns true (or its sender is gone). The borrow `wait_for` hands back
/// is dropped here, so a task selecting on this stays `Send`.
async fn stopping(stopped: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
