//! The loader: plugin files on disk → plugin versions in the registry (SPEC P2, P6).
//!
//! [`Loader::sync`] makes the registry match the folder: it loads new files, swaps changed
//! ones (the `.wasm` or its sidecar `<name>.json5`), and unloads deleted ones. The start-up
//! load and every hot reload go through it, so there is one way a plugin gets in or out. A
//! file that fails to load is logged once (until it changes again) and whatever version was
//! serving keeps serving. It blocks (compiling a large guest takes seconds): run it on a
//! blocking thread.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{self, Limits, PartialGrants, PluginSettings, SidecarBase, Trust};
use crate::plugin::{LoadError, Plugin, Runtime};
use crate::registry::Registry;

/// Why a plugin file was not loaded: its own problem, or its sidecar's.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}")]
    Sidecar(#[from] config::ConfigError),
}

/// A plugin file's stamp and its sidecar's, if it has one.
type Stamps = (Stamp, Option<Stamp>);

/// What a file looked like when it was last read: changes when it is written or replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// What a plugin runs with when its sidecar does not say: the config's limits, and the
/// config's grants by plugin name (`plugins.grants`); and what its sidecar may ask for
/// (`plugins.env`, `plugins.ceilings`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Defaults {
    pub limits: Limits,
    pub grants: BTreeMap<String, PartialGrants>,
    pub trust: Trust,
}

impl Defaults {
    pub(crate) fn of(plugins: &config::Plugins) -> Defaults {
        Defaults {
            limits: plugins.limits,
            grants: plugins.grants.clone(),
            trust: plugins.trust.clone(),
        }
    }
}

/// Keeps one plugin folder and the registry in step.
pub(crate) struct Loader {
    runtime: Arc<Runtime>,
    registry: Arc<Registry>,
    dir: PathBuf,
    defaults: Defaults,
    /// The `.wasm` and sidecar stamps each loaded plugin was read from.
    loaded: HashMap<Arc<str>, Stamps>,
    /// Files that failed, with the stamps that failed: not retried (nor re-logged) until
    /// either file changes.
    failed: HashMap<PathBuf, Stamps>,
}

impl Loader {
    pub(crate) fn new(
        runtime: Arc<Runtime>,
        registry: Arc<Registry>,
        dir: PathBuf,
        defaults: Defaults,
    ) -> Self {
        Loader {
            runtime,
            registry,
            dir,
            defaults,
            loaded: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Brings the registry in line with the folder, leaving alone the files in `busy` (still
    /// being written). Returns whether the set of plugin versions changed.
    pub(crate) fn sync(&mut self, busy: &HashSet<PathBuf>) -> bool {
        let on_disk: BTreeMap<Arc<str>, PathBuf> = plugin_files(&self.dir)
            .into_iter()
            .map(|path| (plugin_name(&path), path))
            .collect();
        let mut changed = false;

        let snapshot = self.registry.snapshot();
        for (name, plugin) in &snapshot.plugins {
            if !on_disk.contains_key(name) {
                self.registry.remove(name);
                self.loaded.remove(name);
                changed = true;
                tracing::info!(
                    plugin = %name,
                    version = %plugin.version,
                    "unloaded {} (removed actions: {})",
                    plugin.path.display(),
                    plugin.actions.join(", ")
                );
            }
        }
        let registry = &self.registry;
        self.failed.retain(|path, _| {
            let exists = path.exists();
            if !exists {
                registry.set_failure(path, None);
            }
            exists
        });

        let mut to_load = Vec::new();
        for (name, path) in &on_disk {
            if busy.contains(path) {
                continue;
            }
            let Some(stamp) = Stamp::of(path) else {
                continue; // gone since the listing
            };
            let stamps = (stamp, Stamp::of(&sidecar_path(path)));
            if self.loaded.get(name) == Some(&stamps) || self.failed.get(path) == Some(&stamps) {
                continue;
            }
            to_load.push((name, path, stamps));
        }
        let paths: Vec<&PathBuf> = to_load.iter().map(|(_, path, _)| *path).collect();
        let results = load_all(&self.runtime, &paths, &self.defaults);

        // Installed in name order whatever order the loads finished in, so logs and P3's
        // choice between two providers do not depend on timing.
        for ((name, path, stamps), result) in to_load.into_iter().zip(results) {
            match result {
                Ok(plugin) => {
                    if self.failed.remove(path).is_some() {
                        self.registry.set_failure(path, None);
                    }
                    self.loaded.insert(name.clone(), stamps);
                    let previous = snapshot.plugins.get(name);
                    if previous.is_some_and(|p| {
                        p.version == plugin.version
                            && p.limits == plugin.limits
                            && p.warm == plugin.warm
                            && p.grants == plugin.grants
                            && p.routes == plugin.routes
                            && p.handler == plugin.handler
                            && p.schedules == plugin.schedules
                    }) {
                        continue; // touched, not changed
                    }
                    // Install first, then log: whoever reads the line can call the plugin.
                    let plugin = Arc::new(plugin);
                    self.registry.install(plugin.clone());
                    match previous {
                        None => self.runtime.metrics().loaded(name),
                        Some(_) => self.runtime.metrics().reloaded(name),
                    }
                    log_loaded(&plugin, previous.map(|p| &**p));
                    changed = true;
                }
                Err(e) => {
                    self.failed.insert(path.clone(), stamps);
                    self.registry.set_failure(path, Some(e.to_string()));
                    self.runtime.metrics().load_failed(name);
                    let keeps = match snapshot.plugins.get(name) {
                        Some(p) => format!("; version {} keeps serving", p.version),
                        None => String::new(),
                    };
                    tracing::error!(plugin = %name, "plugin not loaded: {e}{keeps}");
                }
            }
        }
        changed
    }
}

/// `dir` as an absolute path without `.` or `..`, so that it matches the paths of file
/// events (which are absolute) and reads well in logs. Symlinks are resolved when it exists.
pub(crate) fn absolute(dir: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(dir) {
        return real;
    }
    let joined = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let mut clean = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    clean
}

/// The `.wasm` files directly inside `dir`, in name order. A missing folder has none.
pub(crate) fn plugin_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_plugin_file(p) && p.is_file())
        .collect();
    files.sort();
    files
}

/// `*.wasm`, not hidden. Editors' temp files (`.x.swp`, `x~`, `x.tmp`) are not plugins.
pub(crate) fn is_plugin_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.'))
}

/// The sidecar of a plugin file: `<name>.json5` beside `<name>.wasm`.
pub(crate) fn sidecar_path(wasm: &Path) -> PathBuf {
    wasm.with_extension("json5")
}

fn plugin_name(path: &Path) -> Arc<str> {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .into()
}

/// Loads `paths` on up to one thread per core: reading a cached plugin is single-threaded
/// work, and a start-up with many plugins would otherwise read them one after another.
/// Results come back in the order of `paths`.
fn load_all(
    runtime: &Arc<Runtime>,
    paths: &[&PathBuf],
    defaults: &Defaults,
) -> Vec<Result<Plugin, FileError>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(paths.len());
    if workers <= 1 {
        return paths
            .iter()
            .map(|path| load_file(runtime, path, defaults))
            .collect();
    }
    // Each worker takes the next file until none are left, and returns what it loaded with
    // each file's index.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut loaded: Vec<(usize, Result<Plugin, FileError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = paths.get(i) else {
                            return done;
                        };
                        done.push((i, load_file(runtime, path, defaults)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    loaded.sort_by_key(|(i, _)| *i);
    loaded.into_iter().map(|(_, result)| result).collect()
}

/// Loads one plugin file with its sidecar's limits and grants over `defaults`.
pub(crate) fn load_file(
    runtime: &Arc<Runtime>,
    path: &Path,
    defaults: &Defaults,
) -> Result<Plugin, FileError> {
    let sidecar = sidecar_path(path);
    let name = plugin_name(path);
    let base = defaults.grants.get(&*name);
    let settings = match std::fs::read_to_string(&sidecar) {
        Ok(text) => {
            let base = SidecarBase {
                plugin: &name,
                limits: defaults.limits,
                grants: base,
                trust: &defaults.trust,
            };
            let (settings, warnings) = config::parse_sidecar(&text, &sidecar, &base)?;
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            settings
        }
        Err(_) => PluginSettings::defaults(defaults.limits, base),
    };
    Ok(Plugin::load(runtime, path, settings)?)
}

/// One line per load or swap: plugin, version, actions added and removed, compile time.
fn log_loaded(plugin: &Plugin, previous: Option<&Plugin>) {
    let how = if plugin.cache_hit {
        "from cache"
    } else {
        "compiled"
    };
    let ms = plugin.compile_time.as_secs_f64() * 1e3;
    let grants = plugin.grants.summary();
    let mut grants = if grants.is_empty() {
        "grants: none".to_owned()
    } else {
        format!("grants: {}", grants.join("; "))
    };
    // T8: what starts it besides its actions.
    for trigger in plugin.trigger_summary() {
        grants.push_str("; ");
        grants.push_str(&trigger);
    }
    match previous {
        None => tracing::info!(
            plugin = %plugin.name,
            version = %plugin.version,
            "loaded {} (actions: {}; {grants}; {how} in {ms:.1} ms)",
            plugin.path.display(),
            if plugin.actions.is_empty() {
                "none".to_owned()
            } else {
                plugin.actions.join(", ")
            },
        ),
        Some(old) => {
            let added: Vec<&str> = plugin
                .actions
                .iter()
                .filter(|a| !old.actions.contains(a))
                .map(String::as_str)
                .collect();
            let removed: Vec<&str> = old
                .actions
                .iter()
                .filter(|a| !plugin.actions.contains(a))
                .map(String::as_str)
                .collect();
            tracing::info!(
                plugin = %plugin.name,
                version = %plugin.version,
                "swapped {} {} -> {} (actions added: [{}], removed: [{}]; {grants}; {how} in {ms:.1} ms)",
                plugin.path.display(),
                old.version,
                plugin.version,
                added.join(", "),
                removed.join(", "),
            );
        }
    }
}
