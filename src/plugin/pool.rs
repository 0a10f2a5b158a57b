//! Instances of a plugin version (SPEC P5): a fresh one per call by default, idle warm ones
//! when the plugin opted in, and the host's side of finished stores kept for the next fresh
//! instance.

use std::time::Instant;

use super::call::{log_guest_output, within};
use super::{ACTION_INTERFACE, CallError, Plugin, bindings, host, runtime};
use crate::sync::lock;

/// How many finished stores' data a plugin keeps for fresh instances: enough for the calls
/// that usually run at once, few enough to hold little memory.
pub(super) const SPARE_STATES: usize = 8;

/// One live instance with its store; reused only in warm mode.
pub(super) struct Instance {
    pub(super) store: wasmtime::Store<host::HostState>,
    pub(super) instance: wasmtime::component::Instance,
    /// The export `handle`, looked up and type-checked once per instance.
    pub(super) handle: bindings::Handle,
    pub(super) calls: u32,
}

impl Plugin {
    /// A new instance for a call of `action` that must end by `deadline`, on a finished
    /// store's data when one is spare.
    pub(super) async fn instantiate(
        &self,
        action: &str,
        deadline: Instant,
        origin: &crate::events::Origin,
    ) -> Result<Instance, CallError> {
        let spare = lock(&self.spare).pop();
        let state = match spare {
            Some(spare) => spare,
            None => self.runtime.state(&host::Guest {
                name: &self.name,
                limits: &self.limits,
                grants: &self.grants,
                in_flight: &self.in_flight,
                refusals: &self.refusals,
            }),
        };
        let mut store = self.runtime.store(state);
        store.data_mut().begin_call(&host::CallStart {
            action,
            deadline,
            origin,
        });
        let started = match within(
            (deadline + runtime::TICK).into(),
            self.pre.instantiate_async(&mut store),
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
                let stderr_tail = log_guest_output(&self.name, &store.data().wasi.stdio);
                let trapped = e.downcast_ref::<wasmtime::Trap>().is_some();
                if trapped || store.data().budget.limiter.exceeded {
                    return Err(self.classify(action, &store, e, stderr_tail));
                }
                Err(CallError::Instantiate {
                    plugin: self.name.clone(),
                    reason: format!("{e:#}"),
                })
            }
        }
    }

    /// Warm instances idle now, ready for a call (O5).
    pub(crate) fn idle_instances(&self) -> usize {
        lock(&self.idle).len()
    }

    pub(super) fn take_idle(&self) -> Option<Instance> {
        if self.warm.instances == 0 {
            return None;
        }
        lock(&self.idle).pop()
    }

    /// Keeps an instance whose call succeeded for the next call (warm mode), or drops it and
    /// keeps its store's data for the next fresh instance.
    pub(super) fn put_back(&self, instance: Instance) {
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
        let mut state = instance.store.into_data();
        state.recycle();
        let mut spare = lock(&self.spare);
        if spare.len() < SPARE_STATES {
            spare.push(state);
        }
    }
}
