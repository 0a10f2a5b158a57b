//! What the host gives a plugin (SPEC P4, P5): a composition of capability units, each one
//! file, in the shape of Spin's factors.
//!
//! A unit implements [`Capability`]: its imports are added to the engine's linker once
//! ([`Capability::add_to_linker`]), and each instance gets the unit's own part of the store's
//! data, built from what the plugin was granted ([`Capability::prepare`]). Every capability
//! is denied unless a unit grants it: a unit that is not granted adds no state and answers
//! its imports with an error naming the plugin and the sidecar key to add.
//!
//! - `wasi` — WASI with nothing in it (no files, environment, args or network), stdout and
//!   stderr captured for the log (`stdio`).
//! - `onebot` — the `onebot:plugin/host` imports: `log` and `emit-event`.
//! - `limits` — the per-call budget: deadline, epoch ticks, memory limiter.
//! - `config` — `wasi:config/store` with the plugin's granted values.
//! - `actions` — calling other actions through [`actions::ActionCaller`], a trait the
//!   dispatcher above implements (no upward import).
//! - `key_value` — `onebot:plugin/key-value`: the plugin's granted stores in the host's
//!   database ([`crate::kv`]).
//! - `outbound` — `wasi:http/outgoing-handler`, each request checked against the plugin's
//!   `allowedOutboundHosts` and bounded in time, size and number in flight.

pub mod actions;
mod config;
mod key_value;
mod limits;
mod onebot;
mod outbound;
mod refusals;
mod stdio;
mod wasi;

use std::sync::Arc;
use std::time::Instant;

use crate::events::Origin;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtxView, WasiView};

pub use actions::Actions;
pub use config::Config;
pub use key_value::KeyValue;
pub use limits::Budget;
pub use onebot::Onebot;
pub use outbound::{InFlight, Outbound};
pub use refusals::Refusals;
pub use wasi::{Stdio, Wasi};

use crate::config::{Grants, Limits};

/// The plugin a unit prepares an instance for: its name (which tags its logs and errors),
/// its limits and its grants, from the config and its sidecar, and what all instances of
/// this version share (its outbound requests in flight, the refusals it was warned about).
pub struct Guest<'a> {
    pub name: &'a Arc<str>,
    pub limits: &'a Limits,
    pub grants: &'a Arc<Grants>,
    pub in_flight: &'a InFlight,
    pub refusals: &'a Refusals,
}

/// One capability unit: imports added to the linker once, and per instance a state of its own.
pub trait Capability {
    /// This unit's part of a store's data.
    type State: Send + 'static;
    /// Adds the unit's imports to the linker shared by every plugin.
    fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()>;
    /// The state of one instance of `guest`.
    fn prepare(&self, guest: &Guest<'_>) -> Self::State;
}

/// The data of one instance's `Store`: each unit's state, and the resource table they share.
pub struct HostState {
    pub table: ResourceTable,
    pub wasi: <Wasi as Capability>::State,
    pub onebot: <Onebot as Capability>::State,
    pub config: <Config as Capability>::State,
    pub actions: <Actions as Capability>::State,
    pub key_value: <KeyValue as Capability>::State,
    pub outbound: <Outbound as Capability>::State,
    pub budget: Budget,
}

impl HostState {
    /// Readies the host's side of a finished store for a new, fresh instance: the guest's
    /// resources (streams and the like) go with the old resource table, and the memory count
    /// starts from zero (the old instance's memories went back to the pool with it).
    pub fn recycle(&mut self) {
        self.table = ResourceTable::new();
        self.budget.recycle();
    }

    /// Resets the per-call budgets before a call of `action` on this instance (fresh or
    /// warm): it must end by `deadline`, runs `origin.depth` calls deep in a chain of nested
    /// calls, and what it publishes or calls carries `origin` (T6).
    pub fn begin_call(&mut self, action: &str, deadline: Instant, origin: &Origin) {
        self.budget.begin_call(deadline);
        self.onebot.begin_call(origin);
        self.actions.begin_call(origin, deadline);
        self.outbound.begin_call(action, deadline);
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi.ctx,
            table: &mut self.table,
        }
    }
}
