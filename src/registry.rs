//! The registry: which plugin version serves which action (SPEC P2, P3).
//!
//! Readers take an immutable [`Snapshot`] (an `Arc`) and keep it for the whole call, so a
//! call in flight finishes on the version it started with however the registry changes
//! meanwhile. Writers build a new snapshot from the full set of plugins and swap it in whole.
//!
//! P3, two plugins claiming one action: the plugin whose name sorts first (byte order of the
//! file name) serves it, and every rebuild that finds the clash logs a warning naming both
//! files. When the winner goes away, the next one takes over at the next rebuild.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::plugin::Plugin;
use crate::sync;

/// One consistent view of the loaded plugins.
pub(crate) struct Snapshot {
    /// Increases by one with every swap; tests and `GET /` use it to see that a change landed.
    pub generation: u64,
    /// Loaded plugins by name, in name order.
    pub plugins: BTreeMap<Arc<str>, Arc<Plugin>>,
    actions: HashMap<String, Arc<Plugin>>,
    clashes: BTreeSet<Clash>,
    /// The plugins that handle events, in the order they run (T3): `priority`, then name.
    handlers: Vec<Arc<Plugin>>,
}

/// An action two plugin files provide: (action, the file serving it, the file ignored).
type Clash = (String, PathBuf, PathBuf);

impl Snapshot {
    /// Indexes `plugins` by action. Clashes (P3) are warned about when they are new, not on
    /// every rebuild: `known` holds the ones the previous snapshot had.
    fn build(
        generation: u64,
        plugins: BTreeMap<Arc<str>, Arc<Plugin>>,
        known: &BTreeSet<Clash>,
    ) -> Snapshot {
        let mut actions: HashMap<String, Arc<Plugin>> = HashMap::new();
        let mut clashes = BTreeSet::new();
        for plugin in plugins.values() {
            for action in &plugin.actions {
                match actions.get(action) {
                    Some(winner) => {
                        let clash = (action.clone(), winner.path.clone(), plugin.path.clone());
                        if !known.contains(&clash) {
                            tracing::warn!(
                                "two plugins provide `{action}`: {} serves it, {} is ignored \
                                 for it (the file name that sorts first wins)",
                                winner.path.display(),
                                plugin.path.display()
                            );
                        }
                        clashes.insert(clash);
                    }
                    None => {
                        actions.insert(action.clone(), plugin.clone());
                    }
                }
            }
        }
        // `plugins` is in name order and the sort is stable: equal priorities stay by name.
        let mut handlers: Vec<Arc<Plugin>> = plugins
            .values()
            .filter(|p| p.handles_events())
            .cloned()
            .collect();
        handlers.sort_by_key(|p| p.handler.priority);
        Snapshot {
            generation,
            plugins,
            actions,
            clashes,
            handlers,
        }
    }

    /// The plugin version serving `action`, if any.
    pub(crate) fn provider(&self, action: &str) -> Option<&Arc<Plugin>> {
        self.actions.get(action)
    }

    /// The plugins that handle events, in the order they run (T3).
    pub(crate) fn handlers(&self) -> &[Arc<Plugin>] {
        &self.handlers
    }

    /// Every action served by a plugin, with its provider, in name order.
    pub(crate) fn actions(&self) -> Vec<(&str, &Arc<Plugin>)> {
        let mut all: Vec<_> = self.actions.iter().map(|(a, p)| (a.as_str(), p)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }
}

pub(crate) struct Registry {
    current: RwLock<Arc<Snapshot>>,
    /// Files that failed to load, with why: shown by `GET /` so an operator sees them.
    failures: RwLock<BTreeMap<PathBuf, String>>,
    /// The writers' copy of the plugin set; a mutex so concurrent swaps cannot lose one another.
    plugins: Mutex<BTreeMap<Arc<str>, Arc<Plugin>>>,
    generation: AtomicU64,
    /// The generation of the current snapshot, for those who follow changes (schedules).
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            current: RwLock::new(Arc::new(Snapshot::build(
                0,
                BTreeMap::new(),
                &BTreeSet::new(),
            ))),
            failures: RwLock::new(BTreeMap::new()),
            plugins: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Follows changes: the receiver sees each new snapshot's generation.
    pub(crate) fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The current snapshot. Cheap: one read lock and an `Arc` clone.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        sync::read(&self.current).clone()
    }

    /// Records that `file` failed to load (`Some(reason)`) or no longer fails (`None`).
    pub(crate) fn set_failure(&self, file: &Path, reason: Option<String>) {
        let mut failures = sync::write(&self.failures);
        match reason {
            Some(reason) => failures.insert(file.to_owned(), reason),
            None => failures.remove(file),
        };
    }

    /// The files that failed to load and are still there, with why.
    pub(crate) fn failures(&self) -> BTreeMap<PathBuf, String> {
        sync::read(&self.failures).clone()
    }

    /// Adds or replaces (by name) a plugin version and returns the previous one.
    pub(crate) fn install(&self, plugin: Arc<Plugin>) -> Option<Arc<Plugin>> {
        self.change(|plugins| plugins.insert(plugin.name.clone(), plugin))
    }

    /// Removes the plugin called `name` and returns it, if it was loaded.
    pub(crate) fn remove(&self, name: &str) -> Option<Arc<Plugin>> {
        self.change(|plugins| plugins.remove(name))
    }

    fn change<R>(&self, edit: impl FnOnce(&mut BTreeMap<Arc<str>, Arc<Plugin>>) -> R) -> R {
        let mut plugins = sync::lock(&self.plugins);
        let result = edit(&mut plugins);
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let known = self.snapshot().clashes.clone();
        let snapshot = Arc::new(Snapshot::build(generation, plugins.clone(), &known));
        *sync::write(&self.current) = snapshot;
        self.changed.send_replace(generation);
        result
    }
}
