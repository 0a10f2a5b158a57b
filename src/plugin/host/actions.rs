//! The call-action unit (SPEC P4; sidecar `callActions`): a plugin calls another action
//! through the host's dispatcher, with the same params normalisation, fallbacks, retcodes and
//! suffixes as a client's call.
//!
//! The dispatcher sits above the plugin runtime, so the runtime reaches it through
//! [`ActionCaller`], a trait the dispatcher implements and hands to the runtime once it exists
//! (no upward import; a weak reference, as the dispatcher owns the plugins). A nested call
//! carries the chain's depth and the caller's deadline: past [`MAX_DEPTH`] it is refused with a
//! 1200 naming the chain's depth (A→B→A… never hangs), and the callee never runs longer than
//! its caller has left.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker};

use super::{CallStart, Capability, Getter, Grantee, Guest, HostState, Refused, Shared};
use crate::envelope::Retcode;
use crate::events::Origin;
use crate::plugin::bindings::onebot::plugin::actions;
use crate::plugin::bindings::onebot::plugin::types::ActionError;

/// How deep a chain of nested calls may go: a plugin's call is depth 0, an action it calls
/// depth 1, and so on. Enough for real composition, small enough that recursion stops at once.
pub const MAX_DEPTH: u32 = 8;

/// One nested call: the action, its params (a JSON object's text), who calls, when it must
/// end, and where it sits: `origin.depth` is the depth of the call being made (1 for a
/// plugin's first nested call), `origin.handlers` the handlers whose calls led to it (T6).
pub(crate) struct NestedCall {
    pub(crate) caller: Arc<str>,
    pub(crate) action: String,
    pub(crate) params: String,
    pub(crate) deadline: Instant,
    pub(crate) origin: Origin,
}

/// The answer to a nested call: the `data` JSON text, or the failed envelope's retcode and
/// message.
pub(crate) type NestedResult = Result<String, crate::envelope::ActionError>;

/// What calls an action on a plugin's behalf. Implemented by the dispatcher.
pub(crate) trait ActionCaller: Send + Sync + 'static {
    fn call_nested(
        self: Arc<Self>,
        call: NestedCall,
    ) -> Pin<Box<dyn Future<Output = NestedResult> + Send>>;
}

/// Where the runtime finds the dispatcher, once the host has built it.
pub(crate) type CallerSlot = Arc<OnceLock<Weak<dyn ActionCaller>>>;

/// Nested calls for plugins granted `callActions`, through [`Shared::caller`].
pub(crate) struct Actions;

/// One instance's side: the plugin's grant, and the depth and deadline of its current call.
pub(crate) struct ActionsState {
    grantee: Grantee,
    caller: CallerSlot,
    /// Where the current call sits: its depth, and the handlers that led to it (T6).
    origin: Origin,
    deadline: Instant,
}

impl Capability for Actions {
    type State = ActionsState;

    fn add_to_linker(linker: &mut Linker<HostState>, get: Getter<Self>) -> wasmtime::Result<()> {
        actions::add_to_linker::<_, HasSelf<ActionsState>>(linker, get)
    }

    fn prepare(shared: &Shared, guest: &Guest<'_>) -> ActionsState {
        ActionsState {
            grantee: guest.grantee(),
            caller: shared.caller.clone(),
            origin: Origin::default(),
            deadline: Instant::now(),
        }
    }

    /// Where in a chain the call runs and when it must end: a nested call it makes carries both.
    fn begin_call(state: &mut ActionsState, call: &CallStart<'_>) {
        if state.origin != *call.origin {
            state.origin = call.origin.clone();
        }
        state.deadline = call.deadline;
    }
}

impl actions::Host for ActionsState {
    async fn call(&mut self, action: String, params: String) -> Result<String, ActionError> {
        let refuse = |retcode: Retcode, message: String| ActionError {
            retcode: retcode.0,
            message,
        };
        let plugin = &self.grantee.plugin;
        if !self.grantee.grants.call_actions.allows(&action) {
            let message = format!(
                "plugin {plugin}: calling `{action}` is not granted; add it to `callActions` in \
                 {plugin}.json5 (or `\"*\"` for every action)"
            );
            let message = self.grantee.refuse(Refused::Action(&action), message);
            return Err(refuse(Retcode::AUTH, message));
        }
        let depth = self.origin.depth + 1;
        if depth > MAX_DEPTH {
            let message = format!(
                "plugin {plugin}: calling `{action}` would nest {depth} calls deep, past the limit of \
                 {MAX_DEPTH} (a plugin calling itself through other actions?)"
            );
            tracing::warn!(%plugin, %action, depth, "call-action refused: too deep");
            return Err(refuse(Retcode::FAILED, message));
        }
        let Some(caller) = self.caller.get().and_then(Weak::upgrade) else {
            return Err(refuse(
                Retcode::FAILED,
                "the host is not serving calls (starting or stopping)".into(),
            ));
        };
        let call = NestedCall {
            caller: plugin.clone(),
            action,
            params,
            deadline: self.deadline,
            origin: Origin {
                depth,
                handlers: self.origin.handlers.clone(),
            },
        };
        caller
            .call_nested(call)
            .await
            .map_err(|error| refuse(error.retcode, error.message))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::config::{ActionGrant, Grants, Limits};
    use crate::plugin::host::prepared;

    /// Answers every call with its own depth, and remembers the calls it saw.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, u32, Instant)>>);

    impl ActionCaller for Recorder {
        fn call_nested(
            self: Arc<Self>,
            call: NestedCall,
        ) -> Pin<Box<dyn Future<Output = NestedResult> + Send>> {
            Box::pin(async move {
                let depth = call.origin.depth;
                crate::sync::lock(&self.0).push((call.action, depth, call.deadline));
                Ok(format!("{{\"depth\":{depth}}}"))
            })
        }
    }

    /// The state of plugin `alt` granted `grant`, its nested calls answered by `caller`.
    fn state(grant: ActionGrant, caller: Option<&Arc<dyn ActionCaller>>) -> ActionsState {
        let shared = Shared::for_tests();
        if let Some(caller) = caller {
            let _ = shared.caller.set(Arc::downgrade(caller));
        }
        let grants = Grants {
            call_actions: grant,
            ..Grants::default()
        };
        prepared::<Actions>(&shared, "alt", &Limits::default(), grants)
    }

    #[tokio::test]
    async fn p4_calls_are_refused_unless_granted_and_carry_depth_and_deadline() {
        let recorder = Arc::new(Recorder::default());
        let caller: Arc<dyn ActionCaller> = recorder.clone();
        let mut only = state(ActionGrant::Only(vec!["get_status".into()]), Some(&caller));
        let refused = actions::Host::call(&mut only, "send_msg".into(), "{}".into()).await;
        let error = refused.expect_err("not granted");
        assert_eq!(error.retcode, 1403);
        assert!(error.message.contains("callActions") && error.message.contains("alt.json5"));

        let deadline = Instant::now() + Duration::from_secs(1);
        Actions::begin_call(
            &mut only,
            &CallStart {
                action: "a",
                deadline,
                origin: &Origin {
                    depth: 3,
                    ..Origin::default()
                },
            },
        );
        let answer = actions::Host::call(&mut only, "get_status".into(), "{}".into()).await;
        assert_eq!(answer.ok().as_deref(), Some("{\"depth\":4}"));
        let seen = crate::sync::lock(&recorder.0).clone();
        assert_eq!(seen, [("get_status".to_owned(), 4, deadline)]);
    }

    #[tokio::test]
    async fn p4_a_call_past_the_depth_limit_is_refused_before_it_is_made() {
        let recorder = Arc::new(Recorder::default());
        let caller: Arc<dyn ActionCaller> = recorder.clone();
        let mut all = state(ActionGrant::All, Some(&caller));
        Actions::begin_call(
            &mut all,
            &CallStart {
                action: "a",
                deadline: Instant::now(),
                origin: &Origin {
                    depth: MAX_DEPTH,
                    ..Origin::default()
                },
            },
        );
        let error = actions::Host::call(&mut all, "x".into(), "{}".into())
            .await
            .expect_err("too deep");
        assert_eq!(error.retcode, 1200);
        assert!(
            crate::sync::lock(&recorder.0).is_empty(),
            "never dispatched"
        );
    }

    #[tokio::test]
    async fn p4_without_a_dispatcher_calls_fail_cleanly() {
        let mut state = state(ActionGrant::All, None);
        let error = actions::Host::call(&mut state, "x".into(), "{}".into())
            .await
            .expect_err("no dispatcher");
        assert_eq!(error.retcode, 1200);
    }
}
