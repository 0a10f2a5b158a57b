//! Plugins: loading a `.wasm` component into a callable [`Plugin`] version, and calling it
//! (SPEC P1, P5, P6).
//!
//! A [`Plugin`] is one immutable version of one file: compiled, linked and asked for its
//! actions once at load. By default every call instantiates it afresh in its own `Store`, so
//! no state leaks between calls and a trap only ever kills that call's instance. A plugin
//! may opt in to warm instances (P5, sidecar `warmInstances`): up to that many idle
//! instances are kept and reused, each for at most `warmMaxCalls` calls, and any instance
//! whose call trapped is dropped. Loading is blocking (compiling can take seconds) and runs
//! off the async executor; calls are async and cheap to start (see [`runtime`]).

mod bindings;
mod host;
mod runtime;
mod stdio;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentExportIndex};

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
    /// Where `handle` sits among the component's exports, found once at load.
    handle: ComponentExportIndex,
    runtime: Arc<Runtime>,
    /// Idle warm instances; always empty unless `warm.instances > 0`.
    idle: Mutex<Vec<Instance>>,
    /// The data of finished stores (WASI context, output captures), reset and ready for the
    /// next fresh instance: building it is a good part of the cost of a fresh store.
    spare: Mutex<Vec<(host::HostState, runtime::Stdio)>>,
    /// Set once a call of this version ran for a whole epoch tick or failed in the host
    /// (timeout, memory, trap, …): from then on its calls run on the plugin executor.
    heavy: AtomicBool,
}

/// One live instance with its store; reused only in warm mode.
struct Instance {
    store: wasmtime::Store<host::HostState>,
    instance: wasmtime::component::Instance,
    /// The export `handle`, looked up and type-checked once per instance.
    handle: bindings::Handle,
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
    #[error(
        "plugin {plugin}: `{action}` returned {bytes} bytes, more than its maxResultBytes cap of {cap}"
    )]
    TooBig {
        plugin: Arc<str>,
        action: String,
        bytes: usize,
        cap: u64,
    },
    #[error(
        "plugin {plugin}: `{action}` emitted more than {cap} events in one call (maxEventsPerCall)"
    )]
    EventFlood {
        plugin: Arc<str>,
        action: String,
        cap: u32,
    },
    #[error("plugin {plugin}: `{action}` overflowed its stack (unbounded recursion?)")]
    StackOverflow { plugin: Arc<str>, action: String },
    #[error("plugin {plugin}: `{action}` trapped: {reason}")]
    Trap {
        plugin: Arc<str>,
        action: String,
        reason: String,
    },
    #[error("plugin {plugin}: cannot start an instance: {reason}")]
    Instantiate { plugin: Arc<str>, reason: String },
}

/// How many finished stores' data a plugin keeps for fresh instances: enough for the calls
/// that usually run at once, few enough to hold little memory.
const SPARE_STATES: usize = 8;

/// The interface of the world `plugin` that a plugin exports (SPEC P1).
const ACTION_INTERFACE: &str = "onebot:plugin/onebot-action@0.1.0";

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
        let handle = handle_index(&component).ok_or_else(|| LoadError::World {
            path: path.to_owned(),
            reason: format!("no export `{ACTION_INTERFACE}#handle`"),
        })?;
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
            handle,
            runtime: runtime.clone(),
            idle: Mutex::new(Vec::new()),
            spare: Mutex::new(Vec::new()),
            heavy: AtomicBool::new(false),
        };
        let listed = runtime.executor().block_on(plugin.list_actions());
        let actions = listed.map_err(|source| LoadError::Actions {
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

    /// Runs `action` with `params` (a JSON object's text) in an instance of its own (or a
    /// warm one, P5), within the plugin's limits. On success, the JSON text the plugin
    /// returned as the envelope's `data`.
    ///
    /// Where it runs: a call takes microseconds, so it runs right here, on the caller's
    /// thread, with no hand-off. A version that has shown it can keep a thread busy (a call
    /// that ran a whole 2 ms tick, or failed in the host) runs its calls on the plugin
    /// executor from then on, so that it competes with other calls under the OS scheduler
    /// instead of holding up the threads that serve sockets.
    pub async fn call(
        self: Arc<Self>,
        action: &str,
        params: String,
        self_id: Option<i64>,
    ) -> Result<String, CallError> {
        if !self.heavy.load(Ordering::Relaxed) {
            return self.call_here(action, params, self_id).await;
        }
        let plugin = self.clone();
        let owned_action = action.to_owned();
        let mut run = AbortOnDrop(
            self.runtime
                .executor()
                .spawn(async move { plugin.call_here(&owned_action, params, self_id).await }),
        );
        // If the caller goes away (its client hung up), the guard cancels the call, as
        // dropping it would have if it ran inline: the caller's slot (maxConcurrentCalls)
        // and the instance are released together.
        match (&mut run.0).await {
            Ok(result) => result,
            Err(e) => Err(CallError::Instantiate {
                plugin: self.name.clone(),
                reason: format!("the call was lost: {e}"),
            }),
        }
    }

    async fn call_here(
        &self,
        action: &str,
        params: String,
        self_id: Option<i64>,
    ) -> Result<String, CallError> {
        let call = bindings::ActionCall {
            action: action.to_owned(),
            params,
            self_id,
        };
        let result = self
            .with_instance(action, move |store, _instance, handle| {
                Box::pin(async move {
                    let (result,) = handle.call_async(store, (call,)).await?;
                    Ok(result)
                })
            })
            .await?;
        let cap = self.limits.max_result_bytes;
        let too_big = |bytes: usize| CallError::TooBig {
            plugin: self.name.clone(),
            action: action.to_owned(),
            bytes,
            cap,
        };
        match result {
            Ok(data) if data.len() as u64 > cap => {
                self.mark_heavy();
                Err(too_big(data.len()))
            }
            Ok(data) => Ok(data),
            Err(e) if e.message.len() as u64 > cap => Err(too_big(e.message.len())),
            Err(e) => Err(CallError::Returned {
                retcode: e.retcode,
                message: e.message,
            }),
        }
    }

    async fn list_actions(&self) -> Result<Vec<String>, CallError> {
        self.with_instance("actions", |store, instance, _handle| {
            Box::pin(async move {
                let bindings = bindings::Plugin::new(&mut *store, &instance)?;
                bindings
                    .onebot_plugin_onebot_action()
                    .call_actions(store)
                    .await
            })
        })
        .await
    }

    /// Runs `f` on an instance (a fresh one, or an idle warm one) until it finishes or the
    /// plugin's `timeoutMs` passes, logs what the guest printed, and turns any trap into a
    /// [`CallError`] that names the plugin, the action and the cause. An instance whose call
    /// trapped or was cut off is never reused.
    async fn with_instance<R>(
        &self,
        action: &str,
        f: impl for<'a> FnOnce(
            &'a mut wasmtime::Store<host::HostState>,
            wasmtime::component::Instance,
            bindings::Handle,
        )
            -> Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>,
    ) -> Result<R, CallError> {
        let timeout = Duration::from_millis(self.limits.timeout_ms);
        let deadline = Instant::now() + timeout;
        let mut instance = match self.take_idle() {
            Some(instance) => instance,
            None => self.instantiate(action, deadline).await?,
        };
        instance.store.data_mut().begin_call(deadline);
        instance.store.set_epoch_deadline(1);
        // A guest that computes traps at its deadline (the epoch callback); one that waits in
        // a host call (a WASI sleep) is cancelled here, one tick later.
        let run = f(&mut instance.store, instance.instance, instance.handle);
        let cut_off = tokio::time::Instant::now() + timeout + runtime::TICK;
        let result = match within(cut_off, run).await {
            Some(result) => result,
            None => {
                self.mark_heavy();
                log_guest_output(&self.name, &instance.stdio);
                return Err(self.timed_out(action));
            }
        };
        if instance.store.data().ticks >= 2 {
            self.mark_heavy();
        }
        let stderr_tail = log_guest_output(&self.name, &instance.stdio);
        match result {
            Ok(value) => {
                instance.calls += 1;
                self.put_back(instance);
                Ok(value)
            }
            Err(e) => {
                self.mark_heavy();
                Err(self.classify(action, &instance.store, e, stderr_tail))
            }
        }
    }

    fn mark_heavy(&self) {
        if !self.heavy.swap(true, Ordering::Relaxed) {
            tracing::info!(
                plugin = %self.name,
                version = %self.version,
                "calls of this plugin now run on the plugin threads (a call ran over 2 ms or failed)"
            );
        }
    }

    fn timed_out(&self, action: &str) -> CallError {
        CallError::Timeout {
            plugin: self.name.clone(),
            action: action.to_owned(),
            timeout_ms: self.limits.timeout_ms,
        }
    }

    async fn instantiate(&self, action: &str, deadline: Instant) -> Result<Instance, CallError> {
        let spare = lock(&self.spare).pop();
        let (state, stdio) = match spare {
            Some(spare) => spare,
            None => self.runtime.state(&self.name, self.limits),
        };
        let mut store = self.runtime.store(state);
        store.data_mut().begin_call(deadline);
        let started = match within(
            (deadline + runtime::TICK).into(),
            self.pre.instance_pre().instantiate_async(&mut store),
        )
        .await
        {
            Some(started) => started,
            None => return Err(self.timed_out(action)),
        };
        match started {
            Ok(instance) => match instance
                .get_func(&mut store, self.handle)
                .map(|f| f.typed(&store))
            {
                Some(Ok(handle)) => Ok(Instance {
                    store,
                    instance,
                    handle,
                    stdio,
                    calls: 0,
                }),
                Some(Err(e)) => Err(CallError::Instantiate {
                    plugin: self.name.clone(),
                    reason: format!("{e:#}"),
                }),
                None => Err(CallError::Instantiate {
                    plugin: self.name.clone(),
                    reason: format!("no export `{ACTION_INTERFACE}#handle`"),
                }),
            },
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

    /// Keeps an instance whose call succeeded for the next call (warm mode), or drops it and
    /// keeps its store's data for the next fresh instance.
    fn put_back(&self, instance: Instance) {
        if self.warm.instances > 0 && instance.calls < self.warm.max_calls {
            let mut idle = lock(&self.idle);
            if idle.len() < self.warm.instances as usize {
                idle.push(instance);
                return;
            }
        }
        self.recycle(instance);
    }

    /// Drops the instance (its memories, tables and globals go back to the pool) and keeps
    /// what is left of its store, the host's side, for a later fresh instance. Nothing the
    /// guest created survives: its resources (streams and the like) live in the resource
    /// table, which is replaced, its output was taken by `log_guest_output`, and the
    /// per-call counters are reset by `begin_call`. What stays is what the host set up: the
    /// WASI context (no files, no environment, no network; the random generators go on from
    /// where they were) and the output captures.
    fn recycle(&self, instance: Instance) {
        let Instance { store, stdio, .. } = instance;
        let mut state = store.into_data();
        state.recycle();
        let mut spare = lock(&self.spare);
        if spare.len() < SPARE_STATES {
            spare.push((state, stdio));
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
        if store.data().events_exceeded {
            return CallError::EventFlood {
                plugin,
                action,
                cap: self.limits.max_events_per_call,
            };
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => return self.timed_out(&action),
            Some(wasmtime::Trap::StackOverflow) => {
                return CallError::StackOverflow { plugin, action };
            }
            _ => {}
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

/// `tokio::time::timeout_at` (`None` once `deadline` passed), without a timer until the
/// future first has to wait. Almost no instantiation or call ever does (a guest runs on its
/// fiber until it returns, and yields only at an epoch tick or in a host call that waits),
/// and setting up and dropping a timer that never fires is a good part of the host's work
/// around a call. Like tokio's, it polls the future before the timer.
async fn within<F: Future>(deadline: tokio::time::Instant, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Cancels a spawned call when its caller stops waiting for it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The index of the function `handle` in the exported interface, if the component has it.
fn handle_index(component: &Component) -> Option<ComponentExportIndex> {
    let interface = component.get_export_index(None, ACTION_INTERFACE)?;
    component.get_export_index(Some(&interface), "handle")
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
    let (err, err_dropped) = stdio.err.take();
    if out.is_empty() && err.is_empty() && out_dropped + err_dropped == 0 {
        return None;
    }
    for line in String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| !l.is_empty())
    {
        tracing::info!(%plugin, stream = "stdout", "{line}");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventBus, Identity};

    /// Fresh instances reuse the host's side of earlier stores (`Plugin::recycle`): each
    /// instance must still start from nothing against `memoryMb` and see no earlier state.
    #[test]
    fn fresh_instances_on_recycled_store_data_start_from_scratch() {
        let runtime = Arc::new(
            Runtime::new(None, 2, Arc::new(EventBus::new(Arc::new(Identity::new(1)))))
                .expect("runtime"),
        );
        let settings = PluginSettings {
            limits: Limits {
                memory_mb: 12,
                ..Limits::default()
            },
            warm: Warm::default(),
        };
        let probe = Path::new(env!("ONEBOT_GUEST_DIR")).join("probe.wasm");
        let plugin = Arc::new(Plugin::load(&runtime, &probe, settings).expect("load"));
        runtime.executor().block_on(async {
            // About 4 MiB each: three in a row would pass 12 MiB if memory were still counted.
            for _ in 0..6 {
                let data = plugin
                    .clone()
                    .call("probe_big", r#"{"bytes":4000000}"#.into(), None)
                    .await
                    .expect("probe_big within the cap");
                assert_eq!(data.len(), 4_000_002);
                let count = plugin
                    .clone()
                    .call("probe_count", "{}".into(), None)
                    .await
                    .expect("probe_count");
                assert_eq!(count, r#"{"count":1}"#);
            }
        });
        assert!(lock(&plugin.spare).len() <= SPARE_STATES);
        assert!(!lock(&plugin.spare).is_empty(), "store data is kept");
    }
}
