//! The per-call budget unit (SPEC P5): the deadline the epoch callback enforces
//! (`timeoutMs`), the ticks a call has seen, and the memory limiter (`memoryMb`). Every
//! plugin has one; it imports nothing, the runtime's store reads it (`Runtime::store`).

use std::sync::Arc;
use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::Linker;

use super::{CallStart, Capability, Getter, Guest, HostState, Shared};
use crate::plugin::CallError;

/// The per-call budget for every plugin, from its `limits`.
pub(crate) struct CallLimits;

/// One instance's limits for its current call.
pub(crate) struct Budget {
    /// When the current call must end; the epoch callback traps past it.
    pub(crate) deadline: Instant,
    /// Epoch ticks the current call has seen; two or more means it ran a whole tick.
    pub(crate) ticks: u32,
    pub(crate) limiter: CallLimiter,
    /// The plugin's `memoryMb`, which its out-of-memory error names.
    memory_mb: u64,
}

impl Capability for CallLimits {
    type State = Budget;

    /// Nothing to import: the budget is enforced from outside the guest.
    fn add_to_linker(_linker: &mut Linker<HostState>, _get: Getter<Self>) -> wasmtime::Result<()> {
        Ok(())
    }

    fn prepare(_shared: &Shared, guest: &Guest<'_>) -> Budget {
        Budget {
            deadline: Instant::now(),
            ticks: 0,
            limiter: CallLimiter::new(guest.limits.memory_mb),
            memory_mb: guest.limits.memory_mb,
        }
    }

    fn begin_call(budget: &mut Budget, call: &CallStart<'_>) {
        budget.deadline = call.deadline;
        budget.ticks = 0;
    }

    /// A fresh instance on a finished store's data: its memories start from zero (the old
    /// instance's went back to the pool with it).
    fn recycle(budget: &mut Budget) {
        budget.limiter.used_bytes = 0;
        budget.limiter.exceeded = false;
    }

    fn failure(budget: &Budget, plugin: &Arc<str>, action: &str) -> Option<CallError> {
        budget.limiter.exceeded.then(|| CallError::Memory {
            plugin: plugin.clone(),
            action: action.to_owned(),
            memory_mb: budget.memory_mb,
        })
    }
}

/// Caps the total linear memory of one call's instance (all its memories together).
///
/// Growing past the cap traps instead of returning -1 to the guest: most toolchains abort on
/// allocation failure anyway, and a trap lets the host name the cause in the 1200 reply.
pub(crate) struct CallLimiter {
    cap_bytes: usize,
    used_bytes: usize,
    /// Set when a growth was refused, so the call's error can say "out of memory".
    pub(crate) exceeded: bool,
}

impl CallLimiter {
    /// The linear memory the instance holds now, all its memories together.
    pub(crate) fn used_bytes(&self) -> u64 {
        self.used_bytes as u64
    }

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
