//! Calling other actions from a plugin (SPEC P4, granted per plugin): the interface the
//! plugin runtime calls through. The dispatcher implements it; the runtime holds it as a
//! trait object, so `plugin` never imports `dispatch` (the flow stays one-way).

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// One nested call: the action, its params (a JSON object's text), who calls, how deep the
/// chain already is, and the deadline the caller has left.
pub struct NestedCall {
    pub caller: String,
    pub action: String,
    pub params: String,
    pub depth: u32,
    pub deadline: Instant,
}

/// What calls an action on a plugin's behalf: the whole OneBot envelope of the answer, as
/// JSON text, exactly as a client would receive it.
pub trait ActionCaller: Send + Sync + 'static {
    fn call_action(&self, call: NestedCall) -> Pin<Box<dyn Future<Output = String> + Send + '_>>;
}
