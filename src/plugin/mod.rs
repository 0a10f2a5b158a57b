//! Plugins: loading a `.wasm` component into a callable [`Plugin`] version, and calling it
//! (SPEC P1, P4–P6).
//!
//! A [`Plugin`] is one immutable version of one file: compiled, linked and asked for its
//! actions once at load. By default every call instantiates it afresh in its own `Store`, so
//! no state leaks between calls and a trap only ever kills that call's instance. A plugin
//! may opt in to warm instances (P5, sidecar `warmInstances`): up to that many idle
//! instances are kept and reused, each for at most `warmMaxCalls` calls, and any instance
//! whose call trapped is dropped.
//!
//! - `load` — file → compiled, linked, listed version (blocking; runs off the executor).
//! - `pool` — instances: fresh ones, idle warm ones, and recycled store data.
//! - `route` — one webhook request served by the plugin's `wasi:http/incoming-handler`.
//! - `call` — one call within its limits, and every failure turned into a [`CallError`].
//! - `runtime` — the engine, linker, executor and per-store setup shared by all plugins.
//! - `host` — what a plugin is given: capability units, each its own file.
//! - `bindings` — the WIT world as Rust types.

mod bindings;
mod call;
mod error;
mod host;
mod load;
mod pool;
mod route;
mod runtime;
mod trigger;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use wasmtime::component::ComponentExportIndex;

pub use call::CallContext;
pub use error::{CallError, LoadError};
pub use host::actions::MAX_DEPTH;
pub(crate) use host::actions::{ActionCaller, NestedCall, NestedResult};
pub(crate) use route::{ROUTE_INTERFACE, RouteRequest, RouteResponse};
pub use runtime::{Runtime, RuntimeError};
pub(crate) use trigger::{HANDLE_EVENT, ScheduleStatus, Verdict};

use crate::config::{Grants, Limits, Warm};

/// One loaded version of one plugin file.
pub struct Plugin {
    /// The file stem: `mock-account` for `mock-account.wasm`. Tags its logs and errors.
    pub(crate) name: Arc<str>,
    pub(crate) path: PathBuf,
    /// The first 12 hex digits of the file's SHA-256: tells versions apart in logs and `GET /`.
    pub(crate) version: String,
    pub(crate) actions: Vec<String>,
    pub(crate) limits: Limits,
    pub(crate) warm: Warm,
    /// What it may use beyond logging and events (P4); each unit in `host` reads its key.
    pub(crate) grants: Arc<Grants>,
    /// T20: the webhook routes its sidecar lists, served under `/hooks/<name>`.
    pub(crate) routes: Vec<String>,
    /// T1–T5: the events its handler sees, its priority and what its failure does.
    pub(crate) handler: crate::config::triggers::Handler,
    /// T9: its schedules, and what the scheduler last did with each (for `GET /`).
    pub(crate) schedules: Vec<crate::config::triggers::Schedule>,
    pub(crate) schedule_status: Mutex<std::collections::BTreeMap<String, ScheduleStatus>>,
    pub(crate) size: u64,
    pub(crate) loaded_at: SystemTime,
    /// Time spent compiling (or fetching from the compile cache) and linking.
    pub(crate) compile_time: Duration,
    /// Whether the compiled code came from the compile cache.
    pub cache_hit: bool,
    pre: wasmtime::component::InstancePre<host::HostState>,
    /// Its `onebot-action` export (`actions` and `handle`), found once at load.
    actions_export: bindings::ActionIndices,
    /// Where `handle` sits among the component's exports, found once at load.
    handle: ComponentExportIndex,
    /// Its `wasi:http/incoming-handler` export (T22), if it has one.
    route: Option<route::RouteIndex>,
    /// Its `event-handler` export (T1), if it has one.
    event_handler: Option<bindings::EventHandlerIndices>,
    /// Its `schedule-handler` export (T9), if it has one.
    schedule_handler: Option<bindings::ScheduleHandlerIndices>,
    runtime: Arc<Runtime>,
    /// Idle warm instances; always empty unless `warm.instances > 0`.
    idle: Mutex<Vec<pool::Instance>>,
    /// The data of finished stores (WASI context, output captures), reset and ready for the
    /// next fresh instance: building it is a good part of the cost of a fresh store.
    spare: Mutex<Vec<host::HostState>>,
    /// Its outbound HTTP requests in flight, across all its instances (`host::outbound`).
    in_flight: host::InFlight,
    /// The refusals of a capability it was not granted that were logged at WARN (once each).
    refusals: host::Refusals,
    /// What its instances did (O5), shared with its other versions.
    pub(crate) stats: Arc<crate::metrics::PluginStats>,
    /// Set once a call of this version ran for a whole epoch tick or failed in the host
    /// (timeout, memory, trap, …): from then on its calls run on the plugin executor.
    heavy: AtomicBool,
}

impl Plugin {
    /// O5: the key-value bytes it holds and its quota, for a plugin granted stores in a
    /// process that holds the database.
    pub(crate) fn key_value_usage(&self) -> Option<(u64, u64)> {
        if self.grants.key_value.is_empty() {
            return None;
        }
        let used = self.runtime.kv()?.usage(&self.name).ok()?;
        Some((used, self.limits.kv_quota_mb.saturating_mul(1 << 20)))
    }
}

/// The interface of the world `plugin` that a plugin exports (SPEC P1).
const ACTION_INTERFACE: &str = "onebot:plugin/onebot-action@0.1.0";
/// The interface a plugin exports to handle events (T1).
pub(crate) const EVENT_INTERFACE: &str = "onebot:plugin/event-handler@0.1.0";
/// The interface a plugin exports to run schedules (T9).
pub(crate) const SCHEDULE_INTERFACE: &str = "onebot:plugin/schedule-handler@0.1.0";
