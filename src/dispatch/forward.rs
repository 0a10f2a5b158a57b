//! What dispatch asks of the upstream (SPEC G2, G3, G5): whether it takes an action, and the
//! forwarded call itself. A plugin's action always wins; the host's own fallbacks answer only
//! while no upstream is connected; everything else goes to the upstream when one is
//! configured, and is 1404 only without one.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Dispatcher, Handled, Nesting};
use crate::envelope::{ActionError, Outcome};
use crate::upstream::Upstream;

/// What the per-call log names as the provider of a forwarded call.
const UPSTREAM: &str = "upstream";

impl Dispatcher {
    /// Gateway mode (G1): actions no plugin provides go to `upstream`.
    pub(crate) fn with_upstream(mut self, upstream: Option<Arc<Upstream>>) -> Self {
        self.upstream = upstream;
        self
    }

    pub(crate) fn upstream(&self) -> Option<&Arc<Upstream>> {
        self.upstream.as_ref()
    }

    pub(super) fn upstream_connected(&self) -> bool {
        self.upstream.as_ref().is_some_and(|u| u.is_connected())
    }

    /// G2, G3: `action` with the client's params, exactly as decoded, to the upstream; its
    /// reply comes back unchanged. 1404 without an upstream; 1200 at once while it is down.
    pub(super) async fn forward(
        &self,
        action: &str,
        params: Map<String, Value>,
        nesting: Nesting,
    ) -> Handled {
        let Some(upstream) = &self.upstream else {
            return Handled {
                outcome: Outcome::Failed(ActionError::unknown_action(action)),
                plugin: None,
            };
        };
        let outcome = match upstream.call(action, &params, nesting.deadline).await {
            Ok(Ok(reply)) => Outcome::Relayed(Box::new(reply)),
            Ok(Err(error)) => Outcome::Failed(error),
            Err(error) => Outcome::Failed(error.into()),
        };
        Handled {
            outcome,
            plugin: Some(Arc::from(UPSTREAM)),
        }
    }
}
