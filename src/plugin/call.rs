//! One call of a plugin version (SPEC P5, E4): on an instance from the pool, within the
//! plugin's time, memory, result and event limits; the guest's output logged; and every way
//! it can fail turned into a [`CallError`] that names the plugin, the action and the cause.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use wasmtime_wasi_http::p2::bindings::exports::wasi::http::incoming_handler;

use super::bindings::exports::onebot::plugin::{event_handler, schedule_handler};
use super::host::{CallStart, HostState, Stdio};
use super::{CallError, Plugin, bindings, runtime};
use crate::envelope::Retcode;

/// A guest export other than `handle` (T1, T9, T22): where it sits in the component (found
/// once at load), and how its functions are loaded from an instance.
pub(super) trait Export: Clone + Send + 'static {
    /// Its functions on one instance.
    type Guest: Send;
    /// The interface, which the error for a version without it names.
    const INTERFACE: &'static str;
    fn load(
        &self,
        store: &mut wasmtime::Store<HostState>,
        instance: &wasmtime::component::Instance,
    ) -> wasmtime::Result<Self::Guest>;
}

/// Implements [`Export`] for the indices bindgen made for an interface: each has a `load` of
/// its own, with no trait in common.
macro_rules! export {
    ($($indices:ty => $guest:ty, $interface:expr;)*) => {$(
        impl Export for $indices {
            type Guest = $guest;
            const INTERFACE: &'static str = $interface;

            fn load(
                &self,
                store: &mut wasmtime::Store<HostState>,
                instance: &wasmtime::component::Instance,
            ) -> wasmtime::Result<$guest> {
                self.load(store, instance)
            }
        }
    )*};
}

export! {
    bindings::EventHandlerIndices => event_handler::Guest, super::EVENT_INTERFACE;
    bindings::ScheduleHandlerIndices => schedule_handler::Guest, super::SCHEDULE_INTERFACE;
    super::route::RouteIndex => incoming_handler::Guest, super::ROUTE_INTERFACE;
}

/// Where a call sits: the bot it is for, and for a call another plugin made (P4
/// `callActions`), how deep the chain is and when the outermost call must end.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    /// The bot the call is for, when known (E6): what the plugin reads as `self-id`.
    pub self_id: Option<i64>,
    /// The caller's deadline, if the call is nested: the call ends by then at the latest.
    pub deadline: Option<Instant>,
    /// `origin.depth` is 0 for a client's call, n for a call made n plugin calls deep; its
    /// handlers are those whose calls led to this one (T6).
    pub origin: crate::events::Origin,
    /// A time limit other than the plugin's `timeoutMs`: a schedule's own (T12).
    pub timeout_ms: Option<u64>,
}

impl Plugin {
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
        context: CallContext,
    ) -> Result<String, CallError> {
        if !self.heavy.load(Ordering::Relaxed) {
            return self.call_here(action, params, context).await;
        }
        let action = action.to_owned();
        self.placed(|plugin| async move { plugin.call_here(&action, params, context).await })
            .await
    }

    /// Runs `work` (a call of any export: an action, an event handler, a schedule, a route)
    /// here, or on the plugin executor once this version is heavy (see [`Plugin::call`]), so
    /// that a runaway trigger competes under the OS scheduler like a runaway action.
    pub(super) async fn placed<T, F>(
        self: &Arc<Self>,
        work: impl FnOnce(Arc<Self>) -> F,
    ) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, CallError>> + Send + 'static,
    {
        if !self.heavy.load(Ordering::Relaxed) {
            return work(self.clone()).await;
        }
        let mut run = AbortOnDrop(self.runtime.executor().spawn(work(self.clone())));
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

    /// Runs `f` with `export` (an event handler, a schedule handler, a route) loaded from an
    /// instance, placed like an action's call (see [`Plugin::placed`]). A version without the
    /// export cannot start the call: the error names its interface. `label` names the call
    /// in logs and errors.
    pub(super) async fn with_export<E: Export, R: Send + 'static>(
        self: &Arc<Self>,
        export: Option<&E>,
        label: String,
        context: CallContext,
        f: impl for<'a> FnOnce(
            &'a mut wasmtime::Store<HostState>,
            E::Guest,
        )
            -> Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>
        + Send
        + 'static,
    ) -> Result<R, CallError> {
        let Some(export) = export.cloned() else {
            return Err(CallError::Instantiate {
                plugin: self.name.clone(),
                reason: format!("no export `{}`", E::INTERFACE),
            });
        };
        self.placed(|plugin| async move {
            plugin
                .with_instance(
                    &label,
                    &context,
                    move |store, instance, _handle| match export.load(store, &instance) {
                        Ok(guest) => f(store, guest),
                        Err(e) => Box::pin(std::future::ready(Err(e))),
                    },
                )
                .await
        })
        .await
    }

    async fn call_here(
        &self,
        action: &str,
        params: String,
        context: CallContext,
    ) -> Result<String, CallError> {
        let call = bindings::ActionCall {
            action: action.to_owned(),
            params,
            self_id: context.self_id,
        };
        let result = self
            .with_instance(action, &context, move |store, _instance, handle| {
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
                retcode: Retcode(e.retcode),
                message: e.message,
            }),
        }
    }

    pub(super) async fn list_actions(&self) -> Result<Vec<String>, CallError> {
        self.with_instance(
            "actions",
            &CallContext::default(),
            |store, instance, _handle| {
                let export = self.actions_export.load(&mut *store, &instance);
                Box::pin(async move { export?.call_actions(store).await })
            },
        )
        .await
    }

    /// Runs `f` on an instance (a fresh one, or an idle warm one) until it finishes or the
    /// plugin's `timeoutMs` passes, logs what the guest printed, and turns any trap into a
    /// [`CallError`] that names the plugin, the action and the cause. An instance whose call
    /// trapped or was cut off is never reused.
    pub(super) async fn with_instance<R>(
        &self,
        action: &str,
        context: &CallContext,
        f: impl for<'a> FnOnce(
            &'a mut wasmtime::Store<HostState>,
            wasmtime::component::Instance,
            bindings::Handle,
        )
            -> Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>,
    ) -> Result<R, CallError> {
        let timeout_ms = context.timeout_ms.unwrap_or(self.limits.timeout_ms);
        let timeout = Duration::from_millis(timeout_ms);
        // A nested call never outlives its caller.
        let own = Instant::now() + timeout;
        let deadline = context.deadline.map_or(own, |caller| caller.min(own));
        let mut instance = match self.take_idle() {
            Some(instance) => instance,
            None => self.instantiate(action, deadline, &context.origin).await?,
        };
        instance.store.data_mut().begin_call(&CallStart {
            action,
            deadline,
            origin: &context.origin,
        });
        instance.store.set_epoch_deadline(1);
        // A guest that computes traps at its deadline (the epoch callback); one that waits in
        // a host call (a WASI sleep) is cancelled here, one tick later.
        let run = f(&mut instance.store, instance.instance, instance.handle);
        let cut_off = tokio::time::Instant::from_std(deadline) + runtime::TICK;
        let result = match within(cut_off, run).await {
            Some(result) => result,
            None => {
                self.mark_heavy();
                log_guest_output(&self.name, &instance.store.data().wasi.stdio);
                return Err(self.timed_out(action));
            }
        };
        if instance.store.data().budget.ticks >= 2 {
            self.mark_heavy();
        }
        self.stats
            .memory(instance.store.data().budget.limiter.used_bytes());
        let stderr_tail = log_guest_output(&self.name, &instance.store.data().wasi.stdio);
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

    pub(super) fn mark_heavy(&self) {
        if !self.heavy.swap(true, Ordering::Relaxed) {
            tracing::info!(
                plugin = %self.name,
                version = %self.version,
                "calls of this plugin now run on the plugin threads (a call ran over 2 ms or failed)"
            );
        }
    }

    pub(super) fn timed_out(&self, action: &str) -> CallError {
        CallError::Timeout {
            plugin: self.name.clone(),
            action: action.to_owned(),
            timeout_ms: self.limits.timeout_ms,
        }
    }

    pub(super) fn classify(
        &self,
        action: &str,
        store: &wasmtime::Store<HostState>,
        error: wasmtime::Error,
        stderr_tail: Option<String>,
    ) -> CallError {
        let plugin = self.name.clone();
        let action = action.to_owned();
        // A unit that stopped the call (out of memory, too many events) names the cause.
        if let Some(failure) = store.data().failure(&plugin, &action) {
            return failure;
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
pub(super) async fn within<F: Future>(
    deadline: tokio::time::Instant,
    future: F,
) -> Option<F::Output> {
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

/// Sends what the guest printed since the last call to the log, one line each, tagged
/// with the plugin. Returns the last telling stderr line, which usually holds a Rust guest's
/// panic message (the hint about `RUST_BACKTRACE` that follows it tells nothing).
pub(super) fn log_guest_output(plugin: &str, stdio: &Stdio) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Runtime;
    use super::super::pool::SPARE_STATES;
    use super::*;
    use crate::config::{Limits, PluginSettings};
    use crate::events::{EventBus, Identity};
    use crate::sync::lock;

    /// Fresh instances reuse the host's side of earlier stores (`Plugin::recycle`): each
    /// instance must still start from nothing against `memoryMb` and see no earlier state.
    #[test]
    fn fresh_instances_on_recycled_store_data_start_from_scratch() {
        let runtime = Arc::new(
            Runtime::new(
                None,
                2,
                Arc::new(EventBus::new(Arc::new(Identity::new(1)))),
                None,
            )
            .expect("runtime"),
        );
        let settings = PluginSettings {
            limits: Limits {
                memory_mb: 12,
                ..Limits::default()
            },
            ..PluginSettings::default()
        };
        let probe = Path::new(env!("ONEBOT_GUEST_DIR")).join("probe.wasm");
        let plugin = Arc::new(Plugin::load(&runtime, &probe, settings).expect("load"));
        runtime.executor().block_on(async {
            // About 4 MiB each: three in a row would pass 12 MiB if memory were still counted.
            for _ in 0..6 {
                let data = plugin
                    .clone()
                    .call(
                        "probe_big",
                        r#"{"bytes":4000000}"#.into(),
                        CallContext::default(),
                    )
                    .await
                    .expect("probe_big within the cap");
                assert_eq!(data.len(), 4_000_002);
                let count = plugin
                    .clone()
                    .call("probe_count", "{}".into(), CallContext::default())
                    .await
                    .expect("probe_count");
                assert_eq!(count, r#"{"count":1}"#);
            }
        });
        assert!(lock(&plugin.spare).len() <= SPARE_STATES);
        assert!(!lock(&plugin.spare).is_empty(), "store data is kept");
    }
}
