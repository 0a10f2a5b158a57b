//! What the host gives a plugin during one call: the `onebot:plugin/host` imports (SPEC P4:
//! `log` tagged with the plugin's name, `emit-event`) and the per-call memory limiter (P5).
//!
//! Capabilities beyond these (storage, outbound HTTP, calling other actions) are granted per
//! plugin and will each get a file of their own here.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{Level, onebot::plugin::host::Host};
use crate::config::Limits;
use crate::events::EventBus;

/// The data of one call's `Store`.
pub struct HostState {
    pub(super) plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: CallLimiter,
    events: Arc<EventBus>,
    /// When the current call must end; the epoch callback traps past it (P5 `timeoutMs`).
    pub(super) deadline: Instant,
    /// `emit-event` calls made by the current call, and the most allowed (`maxEventsPerCall`).
    pub(super) events_emitted: u32,
    max_events: u32,
    /// Set when the current call went past `maxEventsPerCall`, so its error can say so.
    pub(super) events_exceeded: bool,
    /// Epoch ticks the current call has seen; two or more means it ran a whole tick.
    pub(super) ticks: u32,
}

impl HostState {
    pub(super) fn new(
        plugin: Arc<str>,
        wasi: WasiCtx,
        limits: Limits,
        events: Arc<EventBus>,
    ) -> Self {
        HostState {
            plugin,
            wasi,
            table: ResourceTable::new(),
            limiter: CallLimiter::new(limits.memory_mb),
            events,
            deadline: Instant::now(),
            events_emitted: 0,
            max_events: limits.max_events_per_call,
            events_exceeded: false,
            ticks: 0,
        }
    }

    /// Resets the per-call budgets before a call on this instance (fresh or warm).
    /// Readies the host's side of a finished store for a new, fresh instance: the guest's
    /// resources (streams and the like) go with the old resource table, and the memory count
    /// starts from zero (the old instance's memories went back to the pool with it).
    pub(super) fn recycle(&mut self) {
        self.table = ResourceTable::new();
        self.limiter.used_bytes = 0;
        self.limiter.exceeded = false;
    }

    pub(super) fn begin_call(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.events_emitted = 0;
        self.events_exceeded = false;
        self.ticks = 0;
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The `types` interface has no functions; its bindings still want an implementation.
impl super::bindings::onebot::plugin::types::Host for HostState {}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(%plugin, "{message}"),
            Level::Debug => tracing::debug!(%plugin, "{message}"),
            Level::Info => tracing::info!(%plugin, "{message}"),
            Level::Warn => tracing::warn!(%plugin, "{message}"),
            Level::Error => tracing::error!(%plugin, "{message}"),
        }
    }

    /// Publishes one event. Past `maxEventsPerCall` in one call the call traps: a plugin
    /// that floods is stopped at once rather than at its timeout, and its caller is told why.
    fn emit_event(&mut self, event: String) -> wasmtime::Result<Result<(), String>> {
        if self.events_emitted >= self.max_events {
            self.events_exceeded = true;
            return Err(wasmtime::format_err!(
                "emitted more than {} events in one call",
                self.max_events
            ));
        }
        self.events_emitted += 1;
        Ok(self
            .events
            .publish(&self.plugin, &event)
            .map_err(|e| e.to_string()))
    }
}

/// Caps the total linear memory of one call's instance (all its memories together).
///
/// Growing past the cap traps instead of returning -1 to the guest: most toolchains abort on
/// allocation failure anyway, and a trap lets the host name the cause in the 1200 reply.
pub struct CallLimiter {
    cap_bytes: usize,
    used_bytes: usize,
    /// Set when a growth was refused, so the call's error can say "out of memory".
    pub(super) exceeded: bool,
}

impl CallLimiter {
    fn new(memory_mb: u64) -> Self {
        CallLimiter {
            cap_bytes: usize::try_from(memory_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
            used_bytes: 0,
            exceeded: false,
        }
    }
}

/// Table growth beyond this many elements is refused; no real toolchain needs more.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let used = self.used_bytes - current.min(self.used_bytes) + desired;
        if used > self.cap_bytes {
            self.exceeded = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} MiB exceeded",
                self.cap_bytes >> 20
            ));
        }
        self.used_bytes = used;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_all_memories_together() {
        let mut limiter = CallLimiter::new(2);
        assert!(limiter.memory_growing(0, 1 << 20, None).is_ok());
        assert!(limiter.memory_growing(0, 1 << 20, None).is_ok());
        assert!(limiter.memory_growing(1 << 20, 2 << 20, None).is_err());
        assert!(limiter.exceeded);
    }
}
