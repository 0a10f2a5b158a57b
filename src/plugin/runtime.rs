//! The WebAssembly engine shared by every plugin: one `Engine` and one `Linker`, built once,
//! and the per-call `Store` with its limits (SPEC P5).
//!
//! The shape follows `wasmtime serve`: compile and link once per plugin version
//! (`InstancePre`), then give each call a fresh `Store` from the pooling allocator. Calls are
//! async: a guest runs on a fiber, on threads of the plugin executor, apart from the threads
//! that serve sockets, so a busy guest is preempted by the OS rather than holding up I/O. A
//! background thread advances the epoch every [`TICK`]; at each tick a running guest yields
//! to other calls on its thread, and past its deadline it traps, so a guest that loops
//! forever neither stalls other calls nor outlives its `timeoutMs`, without any cooperation
//! from it.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use wasmtime::component::Linker;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use super::host::actions::ActionCaller;
use super::host::{Guest, HostState, Shared};
use crate::events::EventBus;
use crate::kv::Kv;
use crate::metrics::Metrics;

/// How often the epoch advances: the resolution of call timeouts, and how long a busy guest
/// runs before it yields to other work on its thread.
pub(super) const TICK: Duration = Duration::from_millis(2);

/// The engine, the linker and what every store needs. Cheap to share behind an `Arc`.
pub struct Runtime {
    pub(super) engine: Engine,
    pub(super) linker: Linker<HostState>,
    /// What the capability units (`super::host`) share, which each instance is given a part of.
    shared: Shared,
    cache: Option<wasmtime::Cache>,
    /// What plugins' loads and instances are counted into (O4, O5).
    metrics: Arc<Metrics>,
    /// Where guests run. `None` only while dropping (see `Drop`).
    executor: Option<tokio::runtime::Runtime>,
}

/// Why the plugin runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime refused the engine's settings.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// The threads guests run on could not be started.
    #[error("cannot start the plugin threads: {0}")]
    Threads(std::io::Error),
    /// The compile cache's folder cannot be used.
    #[error("cannot use the compile cache at {path}: {reason}")]
    Cache {
        /// The folder.
        path: String,
        /// What the file system said.
        reason: String,
    },
}

impl Runtime {
    /// `max_concurrent_calls` sizes the pooling allocator: every call in flight holds one
    /// component instance slot. `cache_dir` keeps compiled plugins across restarts. `kv` is
    /// the database behind plugins' `keyValue` stores; without it they answer unavailable.
    pub fn new(
        cache_dir: Option<&Path>,
        max_concurrent_calls: u32,
        events: Arc<EventBus>,
        kv: Option<Arc<Kv>>,
    ) -> Result<Self, RuntimeError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // `ONEBOT_PERFMAP=1` writes /tmp/perf-<pid>.map, so `perf report` names the guests'
        // functions (BENCHMARKS.md, profiling).
        if std::env::var_os("ONEBOT_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }

        let cache = match cache_dir {
            Some(dir) => {
                let mut cache_config = wasmtime::CacheConfig::new();
                // wasmtime wants an absolute path; a relative one means "from here".
                let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
                // It holds native code the host runs as trusted: private to this user (0700),
                // rather than wasmtime's world-readable default, when the host creates it.
                std::os::unix::fs::DirBuilderExt::mode(
                    std::fs::DirBuilder::new().recursive(true),
                    0o700,
                )
                .create(&dir)
                .map_err(|e| RuntimeError::Cache {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                })?;
                cache_config.with_directory(&dir);
                let cache =
                    wasmtime::Cache::new(cache_config).map_err(|e| RuntimeError::Cache {
                        path: dir.display().to_string(),
                        reason: e.to_string(),
                    })?;
                config.cache(Some(cache.clone()));
                Some(cache)
            }
            None => None,
        };

        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(
            max_concurrent_calls,
        )));
        let engine = Engine::new(&config).map_err(|e| RuntimeError::Engine(e.to_string()))?;

        let mut linker = Linker::new(&engine);
        HostState::add_to_linker(&mut linker).map_err(|e| RuntimeError::Engine(e.to_string()))?;

        start_epoch_ticker(&engine)?;
        Ok(Runtime {
            engine,
            linker,
            shared: Shared {
                events,
                kv,
                caller: Default::default(),
            },
            cache,
            metrics: Arc::new(Metrics::new()),
            executor: Some(executor().map_err(RuntimeError::Threads)?),
        })
    }

    /// The runtime counting into the host's `metrics` (O4, O5) rather than a set of its own.
    pub(crate) fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// What plugins' loads and instances are counted into.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The key-value database, if this process holds it.
    pub(super) fn kv(&self) -> Option<&Arc<Kv>> {
        self.shared.kv.as_ref()
    }

    /// The plugin executor, on which every guest call runs.
    pub(super) fn executor(&self) -> &tokio::runtime::Handle {
        match &self.executor {
            Some(executor) => executor.handle(),
            // Only `Drop` takes it, and nothing can call through a runtime being dropped.
            None => unreachable!("the plugin executor is gone only while dropping"),
        }
    }

    /// Hands the runtime what answers plugins' nested calls (the dispatcher, built after the
    /// runtime). Only the first call counts; until then nested calls are refused.
    pub(crate) fn set_action_caller(&self, caller: Weak<dyn ActionCaller>) {
        let _ = self.shared.caller.set(caller);
    }

    /// Cache hits so far; the loader compares before and after a compile to report a hit.
    pub(super) fn cache_hits(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.cache_hits())
    }

    /// The data of a fresh store for `guest`: each capability unit's state, built from the
    /// plugin's limits and grants. A plugin keeps the data of finished stores and hands it to its next
    /// fresh instance (see `Plugin::recycle`), as building it is a good part of a store's cost.
    pub(super) fn state(&self, guest: &Guest<'_>) -> HostState {
        HostState::new(&self.shared, guest)
    }

    /// A store for one instance around `state`, with the memory limiter and the epoch
    /// callback. The caller sets the call's deadline with `HostState::begin_call` before each
    /// call.
    pub(super) fn store(&self, state: HostState) -> Store<HostState> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.budget.limiter);
        // At every tick: past the call's deadline trap (a timeout), else yield to the executor
        // and go on for another tick.
        store.epoch_deadline_callback(|mut store| {
            store.data_mut().budget.ticks += 1;
            if Instant::now() >= store.data().budget.deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // tokio's yield lets the I/O driver and timers run before this guest goes on;
                // a plain wake-up would not, and a looping guest would starve the sockets.
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        store.set_epoch_deadline(1);
        store
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // The last `Arc<Runtime>` may go away on an async thread, where a blocking shutdown
        // would panic; calls still running are cancelled, which drops their instances.
        if let Some(executor) = self.executor.take() {
            executor.shutdown_background();
        }
    }
}

/// The threads guests run on: twice the cores, at least 4, so that guests that compute flat
/// out until their deadline share the cores with other calls under the OS's scheduler
/// instead of queueing behind them.
fn executor() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads((cores * 2).max(4))
        .thread_name("onebot-plugin")
        .enable_all()
        .build()
}

fn pooling(max_concurrent_calls: u32) -> PoolingAllocationConfig {
    let n = max_concurrent_calls.max(1);
    let mut pool = PoolingAllocationConfig::new();
    // One slot per call in flight. Components from JS and Python toolchains hold several
    // core instances, memories and tables each, hence the multipliers. Each memory slot
    // reserves address space (not RAM) for a 4 GiB memory, so the totals stay modest to let
    // many engines share one process (the test suite runs dozens).
    // Twice the calls in flight: idle warm instances (P5) hold slots too.
    pool.total_component_instances(n * 2);
    pool.total_core_instances(n * 16);
    pool.total_memories(n * 4);
    pool.total_tables(n * 16);
    // Each running call has a fiber stack of its own.
    pool.total_stacks(n * 2);
    // A fresh instance per call (P5) makes resetting a slot the hot path. By default every
    // page a guest touched is dropped with madvise (a TLB shootdown) and faulted in again by
    // the next call. Instead, keep the low pages resident and copy back only the ones the
    // call dirtied, found with the PAGEMAP_SCAN ioctl (Linux 6.7+; older kernels fall back
    // to memset). A Rust guest's stack and data sit in its first ~1.2 MiB.
    pool.linear_memory_keep_resident(2 << 20);
    pool.table_keep_resident(64 << 10);
    pool.pagemap_scan(wasmtime::Enabled::Auto);
    pool.max_memories_per_module(2);
    pool.table_elements(100_000);
    pool.max_memory_size(4 << 30);
    pool
}

/// Advances the engine's epoch every [`TICK`] until the engine is dropped. Without it no
/// call could time out, so failing to start it fails the runtime.
fn start_epoch_ticker(engine: &Engine) -> Result<(), RuntimeError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("onebot-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .map(drop)
        .map_err(|e| RuntimeError::Engine(format!("cannot start the epoch thread: {e}")))
}
