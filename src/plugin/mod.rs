//! Plugins: loading a `.wasm` component into a callable [`Plugin`] version, and calling it
//! (SPEC P1, P5, P6).
//!
//! A [`Plugin`] is one immutable version of one file: compiled, linked and asked for its
//! actions once at load. By default every call instantiates it afresh in its own `Store`, so
//! no state leaks between calls and a trap only ever kills that call's instance. A plugin
//! may opt in to warm instances (P5, sidecar `warmInstances`): up to that many idle
//! instances are kept and reused, each for at most `warmMaxCalls` calls, and any instance
//! whose call trapped is dropped. Everything here is blocking (compiling and running wasm);
//! callers run it off the async executor.

mod bindings;
mod host;
mod runtime;
mod stdio;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

pub use runtime::{Runtime, RuntimeError};

use crate::config::{Limits, PluginSettings, Warm};

/// One loaded version of one plugin file.
pub struct Plugin {
    /// The file stem: `mock-account` for `mock-account.wasm`. Tags its logs and errors.
    pub name: Arc<str>,
    pub path: PathBuf,
    /// The first 12 hex digits of the file's SHA-256: tells versions apart in logs and `GET /`.
    pub version: String,
    pub actions: Vec<String>,
    pub limits: Limits,
    pub warm: Warm,
    pub size: u64,
    pub loaded_at: SystemTime,
    /// Time spent compiling (or fetching from the compile cache) and linking.
    pub compile_time: Duration,
    pub cache_hit: bool,
    pre: bindings::PluginPre<host::HostState>,
    runtime: Arc<Runtime>,
    /// Idle warm instances; always empty unless `warm.instances > 0`.
    idle: Mutex<Vec<Instance>>,
}

/// One live instance with its store; reused only in warm mode.
struct Instance {
    store: wasmtime::Store<host::HostState>,
    bindings: bindings::Plugin,
    stdio: runtime::Stdio,
    calls: u32,
}

/// Why a file could not become a plugin. Each names the file and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a WebAssembly component{hint} (build for wasm32-wasip2, or wrap a core module with `wasm-tools component new`)"
    )]
    NotComponent { path: PathBuf, hint: &'static str },
    #[error("{path}: does not compile: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error("{path}: is not a plugin of world onebot:plugin/plugin@0.1.0: {reason}")]
    World { path: PathBuf, reason: String },
    #[error("{path}: calling `actions` failed: {source}")]
    Actions { path: PathBuf, source: CallError },
    #[error("{path}: bad action list: {reason}")]
    BadActions { path: PathBuf, reason: String },
}

/// Why one call failed. All but [`CallError::Returned`] become retcode 1200 (E4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin itself answered with an error; its retcode and message pass through.
    #[error("{message}")]
    Returned { retcode: i32, message: String },
    #[error("plugin {plugin}: `{action}` timed out after {timeout_ms} ms")]
    Timeout {
        plugin: Arc<str>,
        action: String,
        timeout_ms: u64,
    },
    #[error("plugin {plugin}: `{action}` exceeded its memory limit of {memory_mb} MiB")]
    Memory {
        plugin: Arc<str>,
        action: String,
        memory_mb: u64,
    },
    #[error("plugin {plugin}: `{action}` trapped: {reason}")]
    Trap {
        plugin: Arc<str>,
        action: String,
        reason: String,
    },
    #[error("plugin {plugin}: cannot start an instance: {reason}")]
    Instantiate { plugin: Arc<str>, reason: String },
}

const COMPONENT_MAGIC: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

impl Plugin {
    /// Compiles, links and lists the actions of the component at `path`, with `settings` from
    /// the config and its sidecar. Blocking: compiling can take seconds for large guests.
    pub fn load(
        runtime: &Arc<Runtime>,
        path: &Path,
        settings: PluginSettings,
    ) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        check_component_header(path, &bytes)?;
        let name: Arc<str> = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .into();
        let version = hex_prefix(&Sha256::digest(&bytes), 6);

        let started = Instant::now();
        let hits_before = runtime.cache_hits();
        let component =
            Component::new(&runtime.engine, &bytes).map_err(|e| LoadError::Compile {
                path: path.to_owned(),
                reason: format!("{e:#}"),
            })?;
        let cache_hit = runtime.cache_hits() > hits_before;
        let world_error = |e: wasmtime::Error| LoadError::World {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        let instance_pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(world_error)?;
        let pre = bindings::PluginPre::new(instance_pre).map_err(world_error)?;
        let compile_time = started.elapsed();

        let mut plugin = Plugin {
            name,
            path: path.to_owned(),
            version,
            actions: Vec::new(),
            limits: settings.limits,
            warm: settings.warm,
            size: bytes.len() as u64,
            loaded_at: SystemTime::now(),
            compile_time,
            cache_hit,
            pre,
            runtime: runtime.clone(),
            idle: Mutex::new(Vec::new()),
        };
        let actions = plugin.list_actions().map_err(|source| LoadError::Actions {
            path: path.to_owned(),
            source,
        })?;
        // The instance that listed the actions is not kept: a warm pool starts with the first
        // real call, so `warmMaxCalls` counts calls of actions only.
        lock(&plugin.idle).clear();
        plugin.actions = validate_actions(actions).map_err(|reason| LoadError::BadActions {
            path: path.to_owned(),
            reason,
        })?;
        Ok(plugin)
    }

    /// Runs `action` with `params` (a JSON object's text) in a fresh instance. Blocking.
    /// On success, the JSON text the plugin returned as the envelope's `data`.
    pub fn call(
        &self,
        action: &str,
        params: &str,
        self_id: Option<i64>,
    ) -> Result<String, CallError> {
        let call = bindings::ActionCall {
            action: action.to_owned(),
            params: params.to_owned(),
            self_id,
        };
        let result = self.with_instance(action, |store, instance| {
            instance
                .onebot_plugin_onebot_action()
                .call_handle(store, &call)
        })?;
        result.map_err(|e| CallError::Returned {
            retcode: e.retcode,
            message: e.message,
        })
    }

    fn list_actions(&self) -> Result<Vec<String>, CallError> {
        self.with_instance("actions", |store, instance| {
            instance.onebot_plugin_onebot_action().call_actions(store)
        })
    }

    /// Runs `f` on an instance (a fresh one, or an idle warm one), logs what the guest
    /// printed, and turns any trap into a [`CallError`] that names the plugin, the action and
    /// the cause. An instance whose call trapped is never reused.
    fn with_instance<R>(
        &self,
        action: &str,
        f: impl FnOnce(&mut wasmtime::Store<host::HostState>, &bindings::Plugin) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let mut instance = match self.take_idle() {
            Some(instance) => instance,
            None => self.instantiate(action)?,
        };
        instance
            .store
            .set_epoch_deadline(runtime::deadline_ticks(self.limits.timeout_ms));
        let result = f(&mut instance.store, &instance.bindings);
        let stderr_tail = log_guest_output(&self.name, &instance.stdio);
        match result {
            Ok(value) => {
                instance.calls += 1;
                self.put_back(instance);
                Ok(value)
            }
            Err(e) => Err(self.classify(action, &instance.store, e, stderr_tail)),
        }
    }

    fn instantiate(&self, action: &str) -> Result<Instance, CallError> {
        let (mut store, stdio) = self.runtime.store(&self.name, self.limits);
        match self.pre.instantiate(&mut store) {
            Ok(bindings) => Ok(Instance {
                store,
                bindings,
                stdio,
                calls: 0,
            }),
            Err(e) => {
                let stderr_tail = log_guest_output(&self.name, &stdio);
                let trapped = e.downcast_ref::<wasmtime::Trap>().is_some();
                if trapped || store.data().limiter.exceeded {
                    return Err(self.classify(action, &store, e, stderr_tail));
                }
                Err(CallError::Instantiate {
                    plugin: self.name.clone(),
                    reason: format!("{e:#}"),
                })
            }
        }
    }

    fn take_idle(&self) -> Option<Instance> {
        if self.warm.instances == 0 {
            return None;
        }
        lock(&self.idle).pop()
    }

    fn put_back(&self, instance: Instance) {
        if self.warm.instances == 0 || instance.calls >= self.warm.max_calls {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < self.warm.instances as usize {
            idle.push(instance);
        }
    }

    fn classify(
        &self,
        action: &str,
        store: &wasmtime::Store<host::HostState>,
        error: wasmtime::Error,
        stderr_tail: Option<String>,
    ) -> CallError {
        let plugin = self.name.clone();
        let action = action.to_owned();
        if store.data().limiter.exceeded {
            return CallError::Memory {
                plugin,
                action,
                memory_mb: self.limits.memory_mb,
            };
        }
        if let Some(wasmtime::Trap::Interrupt) = error.downcast_ref::<wasmtime::Trap>() {
            return CallError::Timeout {
                plugin,
                action,
                timeout_ms: self.limits.timeout_ms,
            };
        }
        let mut reason = match error.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{error:#}"),
        };
        if let Some(tail) = stderr_tail {
            reason.push_str(&format!(" (stderr: {tail})"));
        }
        CallError::Trap {
            plugin,
            action,
            reason,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn check_component_header(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.starts_with(&COMPONENT_MAGIC) {
        return Ok(());
    }
    let hint = if bytes.starts_with(b"\0asm\x01\0\0\0") {
        ": it is a core module"
    } else if bytes.is_empty() {
        ": the file is empty"
    } else {
        ""
    };
    Err(LoadError::NotComponent {
        path: path.to_owned(),
        hint,
    })
}

/// Action names must be non-empty, free of `/` (they are URL path segments) and unique.
fn validate_actions(mut actions: Vec<String>) -> Result<Vec<String>, String> {
    if let Some(bad) = actions
        .iter()
        .find(|a| a.is_empty() || a.contains('/') || a.chars().any(char::is_whitespace))
    {
        return Err(format!("invalid action name {bad:?}"));
    }
    actions.sort();
    actions.dedup();
    Ok(actions)
}

/// Sends what the guest printed since the last call to the log, one line each, tagged
/// with the plugin. Returns the last telling stderr line, which usually holds a Rust guest's
/// panic message (the hint about `RUST_BACKTRACE` that follows it tells nothing).
fn log_guest_output(plugin: &str, stdio: &runtime::Stdio) -> Option<String> {
    let (out, out_dropped) = stdio.out.take();
    for line in String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| !l.is_empty())
    {
        tracing::info!(%plugin, stream = "stdout", "{line}");
    }
    let (err, err_dropped) = stdio.err.take();
    let err = String::from_utf8_lossy(&err);
    let mut last = None;
    for line in err.lines().filter(|l| !l.trim().is_empty()) {
        tracing::warn!(%plugin, stream = "stderr", "{line}");
        if !line.starts_with("note: run with `RUST_BACKTRACE") {
            last = Some(line);
        }
    }
    if out_dropped + err_dropped > 0 {
        tracing::warn!(%plugin, "{} bytes of output past the 64 KiB per-call cap were dropped", out_dropped + err_dropped);
    }
    last.map(|l| l.chars().take(300).collect())
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    bytes.iter().take(n).map(|b| format!("{b:02x}")).collect()
}
