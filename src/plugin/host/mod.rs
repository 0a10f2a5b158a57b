//! What the host gives a plugin (SPEC P4, P5): a composition of capability units, each one
//! file, in the shape of Spin's factors.
//!
//! A unit implements [`Capability`]: its imports are added to the engine's linker once
//! ([`Capability::add_to_linker`]), and each instance gets the unit's own part of the store's
//! data, built from what the host shares with every unit ([`Shared`]) and what the plugin
//! was granted ([`Capability::prepare`]). Before each call every unit resets its part
//! ([`Capability::begin_call`]); after a failed call each may name the cause
//! ([`Capability::failure`]). Every capability is denied unless a unit grants it: a unit
//! that is not granted adds no state and answers its imports with an error naming the plugin
//! and the sidecar key to add, through [`Grantee::refuse`], which warns the operator once
//! per plugin version, capability and name.
//!
//! The `units!` list below generates the rest, once for all units: [`HostState`] (a store's
//! data, one field per unit) with [`HostState::add_to_linker`], [`HostState::new`],
//! [`HostState::begin_call`], [`HostState::recycle`] and [`HostState::failure`].
//!
//! # Adding a unit
//!
//! 1. Write its file, say `host/clock.rs`: a type implementing [`Capability`], its `State`,
//!    and the bindings' `Host` trait on that state (the `config` unit, [`Config`], is the
//!    smallest example). Its `add_to_linker` hands the getter it is given to the bindings'
//!    `add_to_linker`; a grant it checks is a key of [`crate::config::Grants`], and a refusal
//!    goes through [`Grantee::refuse`].
//! 2. Add `mod clock;` and one line `clock: clock::Clock,` to `units!`.
//!
//! Nothing else names the units: the runtime links, prepares and resets them all through
//! [`HostState`]. A unit that needs something of the host's that no unit has used yet gets
//! it as a field of [`Shared`], which the runtime fills.

pub(super) mod actions;
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

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtxView, WasiView};

pub(super) use actions::Actions;
pub(super) use config::Config;
pub(super) use key_value::KeyValue;
pub(super) use limits::CallLimits;
pub(super) use onebot::Onebot;
pub(super) use outbound::{InFlight, Outbound};
pub(super) use refusals::{Grantee, Refusals, Refused};
pub(super) use wasi::{Stdio, Wasi};

use crate::config::{Grants, Limits};
use crate::events::{EventBus, Origin};
use crate::kv::Kv;
use crate::plugin::CallError;
use actions::CallerSlot;

/// What the host shares with every unit, built once by the runtime: each unit takes what it
/// needs into an instance's state ([`Capability::prepare`]).
pub(super) struct Shared {
    /// Where plugins' events go (the `onebot` unit).
    pub(super) events: Arc<EventBus>,
    /// The database behind `keyValue` stores; `None` where this process does not hold it.
    pub(super) kv: Option<Arc<Kv>>,
    /// What answers nested calls (the `actions` unit): the dispatcher, once built on the
    /// runtime.
    pub(super) caller: CallerSlot,
}

/// The plugin a unit prepares an instance for: its name (which tags its logs and errors),
/// its limits and its grants, from the config and its sidecar, and what all instances of
/// this version share (its outbound requests in flight, the refusals it was warned about).
pub(super) struct Guest<'a> {
    pub(super) name: &'a Arc<str>,
    pub(super) limits: &'a Limits,
    pub(super) grants: &'a Arc<Grants>,
    pub(super) in_flight: &'a InFlight,
    pub(super) refusals: &'a Refusals,
}

impl Guest<'_> {
    /// The plugin as a unit that checks its grants holds it.
    pub(super) fn grantee(&self) -> Grantee {
        Grantee {
            plugin: self.name.clone(),
            grants: self.grants.clone(),
            refusals: self.refusals.clone(),
        }
    }
}

/// The start of one call on an instance (fresh or warm): what a unit's per-call state is
/// reset from.
pub(super) struct CallStart<'a> {
    /// What runs: an action, or a trigger's label (`handle-event`, `schedule <name>`); for
    /// the log.
    pub(super) action: &'a str,
    /// When the call must end.
    pub(super) deadline: Instant,
    /// Where it sits: `origin.depth` calls deep in a chain of nested calls; what it
    /// publishes or calls carries `origin` (T6).
    pub(super) origin: &'a Origin,
}

/// Where a unit's state sits in a store's data: handed to [`Capability::add_to_linker`], so
/// a unit never names [`HostState`]'s fields.
pub(super) type Getter<U> = fn(&mut HostState) -> &mut <U as Capability>::State;

/// One capability unit: imports added to the linker once, and per instance a state of its own.
pub(super) trait Capability {
    /// This unit's part of a store's data.
    type State: Send + 'static;
    /// Adds the unit's imports to the linker shared by every plugin; `get` finds the unit's
    /// state in a store's data.
    fn add_to_linker(linker: &mut Linker<HostState>, get: Getter<Self>) -> wasmtime::Result<()>;
    /// The state of one instance of `guest`, from what the host shares.
    fn prepare(shared: &Shared, guest: &Guest<'_>) -> Self::State;
    /// Resets the per-call part of `state` before a call. Most units keep nothing per call.
    fn begin_call(state: &mut Self::State, call: &CallStart<'_>) {
        let _ = (state, call);
    }
    /// Readies `state` for a fresh instance on a finished store's data (see
    /// [`HostState::recycle`]). Most units keep nothing of an instance.
    fn recycle(state: &mut Self::State) {
        let _ = state;
    }
    /// Why the call of `action` that just failed failed, if this unit stopped it (out of
    /// memory, too many events): the error the caller gets instead of the bare trap.
    fn failure(state: &Self::State, plugin: &Arc<str>, action: &str) -> Option<CallError> {
        let _ = (state, plugin, action);
        None
    }
}

/// Generates, from one line per unit (`field: Type`), everything that goes through all the
/// units: [`HostState`] and its methods.
macro_rules! units {
    ($($(#[$doc:meta])* $field:ident: $unit:ty,)*) => {
        /// The data of one instance's `Store`: each unit's state, and the resource table they
        /// share.
        pub(crate) struct HostState {
            pub(crate) table: ResourceTable,
            $($(#[$doc])* pub(crate) $field: <$unit as Capability>::State,)*
        }

        impl HostState {
            /// Adds every unit's imports to `linker`.
            pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
                $(<$unit as Capability>::add_to_linker(linker, |s| &mut s.$field)?;)*
                Ok(())
            }

            /// The data of a fresh store for `guest`: each unit's state, built from the
            /// plugin's limits and grants.
            pub(crate) fn new(shared: &Shared, guest: &Guest<'_>) -> Self {
                HostState {
                    table: ResourceTable::new(),
                    $($field: <$unit as Capability>::prepare(shared, guest),)*
                }
            }

            /// Resets every unit's per-call state before `call` on this instance.
            pub(crate) fn begin_call(&mut self, call: &CallStart<'_>) {
                $(<$unit as Capability>::begin_call(&mut self.$field, call);)*
            }

            /// Readies the host's side of a finished store for a new, fresh instance: the
            /// guest's resources (streams and the like) go with the old resource table, and
            /// each unit drops what was the old instance's.
            pub(crate) fn recycle(&mut self) {
                self.table = ResourceTable::new();
                $(<$unit as Capability>::recycle(&mut self.$field);)*
            }

            /// Why a failed call of `action` failed, as the first unit (in the order of
            /// `units!`) that stopped it says.
            pub(crate) fn failure(&self, plugin: &Arc<str>, action: &str) -> Option<CallError> {
                None$(.or_else(|| <$unit as Capability>::failure(&self.$field, plugin, action)))*
            }
        }
    };
}

units! {
    /// WASI with nothing in it (no files, environment, args or network), stdout and stderr
    /// captured for the log.
    wasi: Wasi,
    /// The per-call budget: deadline, epoch ticks, memory limiter. Before `onebot`: a call
    /// out of memory reports that first.
    budget: CallLimits,
    /// The `onebot:plugin/host` imports: `log` and `emit-event`.
    onebot: Onebot,
    /// `wasi:config/store` with the plugin's granted values.
    config: Config,
    /// Calling other actions through [`actions::ActionCaller`], a trait the dispatcher above
    /// implements (no upward import).
    actions: Actions,
    /// `onebot:plugin/key-value`: the plugin's granted stores in the host's database
    /// ([`crate::kv`]).
    key_value: KeyValue,
    /// `wasi:http/outgoing-handler`, each request checked against the plugin's
    /// `allowedOutboundHosts` and bounded in time, size and number in flight.
    outbound: Outbound,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi.ctx,
            table: &mut self.table,
        }
    }
}

/// A unit's state for an instance of plugin `name`, as the units' tests build it: the rest
/// of the host left out (no database, a dispatcher only where `shared` sets one).
#[cfg(test)]
pub(crate) fn prepared<U: Capability>(
    shared: &Shared,
    name: &str,
    limits: &Limits,
    grants: Grants,
) -> U::State {
    U::prepare(
        shared,
        &Guest {
            name: &name.into(),
            limits,
            grants: &Arc::new(grants),
            in_flight: &InFlight::default(),
            refusals: &Refusals::default(),
        },
    )
}

#[cfg(test)]
impl Shared {
    /// What tests share: an event bus nothing listens to, no database, no dispatcher.
    pub(crate) fn for_tests() -> Self {
        Shared {
            events: Arc::new(EventBus::new(Arc::new(crate::events::Identity::new(1)))),
            kv: None,
            caller: CallerSlot::default(),
        }
    }
}
