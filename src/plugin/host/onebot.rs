//! The `onebot:plugin/host` unit (SPEC P4): `log` into the host's log tagged with the
//! plugin's name, and `emit-event` to the event bus, at most `maxEventsPerCall` per call.
//! Every plugin has both; nothing to grant.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::{CallStart, Capability, Getter, Guest, HostState, Shared};
use crate::events::{EventBus, Origin};
use crate::plugin::CallError;
use crate::plugin::bindings::{self, Level};

/// Logging and events for every plugin, to the host's event bus ([`Shared::events`]).
pub(crate) struct Onebot;

/// One instance's side: who it is, and this call's event count.
pub(crate) struct OnebotState {
    plugin: Arc<str>,
    events: Arc<EventBus>,
    /// `emit-event` calls made by the current call, and the most allowed (`maxEventsPerCall`).
    emitted: u32,
    max_events: u32,
    /// Set when the current call went past `maxEventsPerCall`, so its error can say so.
    exceeded: bool,
    /// Where the current call sits for the event handlers (T6): its events carry it.
    origin: Origin,
}

impl Capability for Onebot {
    type State = OnebotState;

    fn add_to_linker(linker: &mut Linker<HostState>, get: Getter<Self>) -> wasmtime::Result<()> {
        use bindings::onebot::plugin::{host, types};
        types::add_to_linker::<_, HasSelf<OnebotState>>(linker, get)?;
        host::add_to_linker::<_, HasSelf<OnebotState>>(linker, get)
    }

    fn prepare(shared: &Shared, guest: &Guest<'_>) -> OnebotState {
        OnebotState {
            plugin: guest.name.clone(),
            events: shared.events.clone(),
            emitted: 0,
            max_events: guest.limits.max_events_per_call,
            exceeded: false,
            origin: Origin::default(),
        }
    }

    fn begin_call(state: &mut OnebotState, call: &CallStart<'_>) {
        state.emitted = 0;
        state.exceeded = false;
        if state.origin != *call.origin {
            state.origin = call.origin.clone();
        }
    }

    fn failure(state: &OnebotState, plugin: &Arc<str>, action: &str) -> Option<CallError> {
        state.exceeded.then(|| CallError::EventFlood {
            plugin: plugin.clone(),
            action: action.to_owned(),
            cap: state.max_events,
        })
    }
}

/// The `types` interface has no functions; its bindings still want an implementation.
impl bindings::onebot::plugin::types::Host for OnebotState {}

impl bindings::onebot::plugin::host::Host for OnebotState {
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
        if self.emitted >= self.max_events {
            self.exceeded = true;
            return Err(wasmtime::format_err!(
                "emitted more than {} events in one call",
                self.max_events
            ));
        }
        self.emitted += 1;
        Ok(self
            .events
            .publish_from(&self.plugin, &event, &self.origin)
            .map_err(|e| e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Grants, Limits};
    use crate::plugin::bindings::onebot::plugin::host::Host;
    use crate::plugin::host::prepared;

    #[test]
    fn p5_emit_event_traps_past_max_events_per_call_and_resets_per_call() {
        let name: Arc<str> = "p".into();
        let limits = Limits {
            max_events_per_call: 2,
            ..Limits::default()
        };
        let shared = Shared::for_tests();
        let mut state = prepared::<Onebot>(&shared, &name, &limits, Grants::default());
        let event = r#"{"post_type":"notice"}"#.to_owned();
        for _ in 0..2 {
            assert!(matches!(state.emit_event(event.clone()), Ok(Ok(()))));
        }
        assert!(state.emit_event(event.clone()).is_err(), "the third traps");
        assert!(state.exceeded);
        let flood = Onebot::failure(&state, &name, "a");
        assert!(matches!(flood, Some(CallError::EventFlood { cap: 2, .. })));
        Onebot::begin_call(
            &mut state,
            &CallStart {
                action: "a",
                deadline: std::time::Instant::now(),
                origin: &Origin::default(),
            },
        );
        assert!(!state.exceeded);
        assert_eq!(Onebot::failure(&state, &name, "a"), None);
        assert!(matches!(state.emit_event(event), Ok(Ok(()))));
        // A bad event is the plugin's error to read, not a trap.
        assert!(matches!(state.emit_event("[]".into()), Ok(Err(_))));
    }
}
