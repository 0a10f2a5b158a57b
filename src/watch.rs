//! Hot reload: file events in the plugin folder → debounced [`Loader::sync`] runs (SPEC P2).
//!
//! The watcher never decides what to load; it only decides *when* to let the loader look.
//! A `.wasm` that is being written (created or modified, not yet closed) is "busy" and left
//! alone until its writer closes it, or until it has been quiet for [`QUIET`] (for writers
//! whose close we never see), so a slow `cp` is never loaded half-written. An atomic `mv`
//! is ready at once. The folder's parent is watched too, so removing and recreating the
//! folder is noticed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::dispatch::Dispatcher;
use crate::loader::{Loader, is_plugin_file};

/// How long the folder must be still before the loader looks: lets a burst of events settle.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(20);
/// A file written to but never closed counts as finished after this much silence.
pub(crate) const QUIET: Duration = Duration::from_secs(2);

/// The plugin folder could not be watched for changes (hot reload).
#[derive(Debug, thiserror::Error)]
#[error("cannot watch the plugin folder {dir}: {reason}")]
pub struct WatchError {
    dir: String,
    reason: String,
}

/// Starts watching `loader`'s folder; the task ends when `stop` turns true.
pub(crate) fn spawn(
    loader: Loader,
    dispatcher: Arc<Dispatcher>,
    mut stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, WatchError> {
    let dir = loader.dir().to_owned();
    let (events, mut received) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = events.send(event);
    })
    .map_err(|e| watch_error(&dir, e))?;
    if let Some(parent) = dir.parent().filter(|p| p.is_dir()) {
        watcher
            .watch(parent, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(parent, e))?;
    }
    let mut watching_dir = watcher.watch(&dir, RecursiveMode::NonRecursive).is_ok();

    Ok(tokio::spawn(async move {
        let mut loader = Some(loader);
        let mut state = Pending::default();
        loop {
            let wake = state.next_wake();
            tokio::select! {
                _ = stop.changed() => break,
                event = received.recv() => match event {
                    Some(Ok(event)) => state.note(&dir, &event),
                    Some(Err(e)) => {
                        tracing::warn!("plugin folder watch error: {e}; rescanning");
                        state.dirty_at = Some(Instant::now());
                    }
                    None => break,
                },
                _ = sleep_until(wake) => {
                    if !watching_dir && dir.is_dir() {
                        watching_dir = watcher.watch(&dir, RecursiveMode::NonRecursive).is_ok();
                    }
                    if !dir.is_dir() {
                        watching_dir = false;
                    }
                    let busy = state.take_busy();
                    let Some(mut owned) = loader.take() else { break };
                    let result = tokio::task::spawn_blocking(move || {
                        let changed = owned.sync(&busy);
                        (owned, changed)
                    })
                    .await;
                    match result {
                        Ok((owned, changed)) => {
                            loader = Some(owned);
                            if changed {
                                dispatcher.refresh_self_id().await;
                            }
                        }
                        Err(e) => {
                            tracing::error!("plugin reload failed: {e}; hot reload stops");
                            break;
                        }
                    }
                }
            }
        }
        drop(watcher);
    }))
}

fn watch_error(dir: &Path, e: notify::Error) -> WatchError {
    WatchError {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the watcher has seen since the loader last looked.
#[derive(Default)]
struct Pending {
    /// When the last relevant event arrived; `None` when nothing is waiting.
    dirty_at: Option<Instant>,
    /// Files opened for writing and not closed yet, with their last event's time.
    writing: HashMap<PathBuf, Instant>,
}

impl Pending {
    fn note(&mut self, dir: &Path, event: &notify::Event) {
        let now = Instant::now();
        let mut relevant = false;
        for path in &event.paths {
            let in_dir = path.parent() == Some(dir);
            if path == dir {
                relevant = true; // the folder itself came or went
            } else if in_dir && is_plugin_file(path) {
                relevant = true;
                match event.kind {
                    EventKind::Create(_)
                    | EventKind::Modify(notify::event::ModifyKind::Data(_)) => {
                        self.writing.insert(path.clone(), now);
                    }
                    EventKind::Access(AccessKind::Close(AccessMode::Write))
                    | EventKind::Remove(_) => {
                        self.writing.remove(path);
                    }
                    // A rename (an atomic `mv`) lands a complete file.
                    EventKind::Modify(notify::event::ModifyKind::Name(_)) => {
                        self.writing.remove(path);
                    }
                    _ => {}
                }
            } else if in_dir && path.extension().is_some_and(|e| e == "json5") {
                relevant = true;
            }
        }
        if relevant {
            self.dirty_at = Some(now);
        }
    }

    /// When the loader should next look: after the debounce, or when a busy file goes quiet.
    fn next_wake(&self) -> Option<Instant> {
        let settled = self.dirty_at.map(|at| at + DEBOUNCE);
        let quiet = self.writing.values().min().map(|at| *at + QUIET);
        match (settled, quiet) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The files still busy now; quiet ones are released. Clears the dirty mark.
    fn take_busy(&mut self) -> HashSet<PathBuf> {
        let now = Instant::now();
        self.writing.retain(|_, at| now < *at + QUIET);
        self.dirty_at = None;
        self.writing.keys().cloned().collect()
    }
}
