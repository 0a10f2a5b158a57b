//! Calls that plugins make (SPEC P4, `callActions`): the dispatcher is the runtime's
//! [`ActionCaller`], so a nested call takes the same path as a client's, at its depth and
//! within its caller's deadline.

use std::sync::Arc;

use serde_json::Value;

use super::{Dispatcher, Nesting};
use crate::envelope::{ActionError, Outcome, Retcode};
use crate::plugin::{ActionCaller, NestedCall, NestedResult};

/// P4: a plugin's call of another action goes through the same path as a client's, at its
/// depth and within its caller's deadline; the answer is the envelope's `data` or its error.
impl ActionCaller for Dispatcher {
    fn call_nested(
        self: Arc<Self>,
        call: NestedCall,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = NestedResult> + Send>> {
        Box::pin(async move {
            let params = match serde_json::from_str::<Value>(&call.params) {
                Ok(Value::Object(params)) => params,
                Ok(other) => {
                    let kind = crate::json::kind(&other);
                    return Err(ActionError::bad_request(format!(
                        "params must be a JSON object, got {kind}"
                    )));
                }
                Err(e) => {
                    return Err(ActionError::bad_request(format!(
                        "params are not JSON: {e}"
                    )));
                }
            };
            let depth = call.origin.depth;
            let nesting = Nesting {
                deadline: Some(call.deadline),
                origin: call.origin,
                // P11: the caller waits for the call, holding its slot meanwhile.
                in_callers_slot: true,
                // E5a: a plugin's `_rate_limited` calls take turns as one client.
                client: super::ClientKey::named("plugin", &call.caller),
            };
            let handled = self.call_in(&call.action, params, nesting).await;
            tracing::debug!(
                plugin = %call.caller,
                action = %call.action,
                depth,
                retcode = handled.outcome.retcode().0,
                "nested call"
            );
            match handled.outcome {
                Outcome::Data(data) => Ok(data.to_string()),
                Outcome::Json(text) => Ok(text.as_str().to_owned()),
                Outcome::Accepted => Ok("null".to_owned()),
                Outcome::Failed(error) => Err(error),
                // G5: the upstream's answer, as a plugin's call sees any other.
                Outcome::Relayed(reply) if reply.retcode == 0 => Ok(reply.data.as_str().to_owned()),
                Outcome::Relayed(reply) => {
                    Err(ActionError::new(Retcode(reply.retcode), reply.message))
                }
            }
        })
    }
}
