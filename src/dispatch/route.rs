//! Webhook routes (SPEC T21–T25): `/hooks/<plugin>/<path>` → the plugin version serving it,
//! under the same concurrency cap as action calls (`maxConcurrentCalls`), and what became of
//! the request, logged with the plugin's name.
//!
//! The transport (`crate::http::hooks`) reads the body and renders the outcome; nothing here
//! knows about sockets, and nothing here asks for the OneBot token (T23).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Dispatcher, InFlight};
use crate::plugin::{CallContext, RouteRequest, RouteResponse};

/// What became of one webhook request.
pub(crate) enum RouteOutcome {
    /// The plugin's own answer, whatever its status.
    Answered(RouteResponse),
    /// T21: no loaded plugin of that name lists a route serving the path (or it does not
    /// export `wasi:http/incoming-handler`).
    NotFound,
    /// T24: the plugin failed (trap, timeout, memory, no response); the reason is logged,
    /// never sent.
    Failed,
    /// The host is shutting down.
    Unavailable,
}

impl Dispatcher {
    /// Serves `request` on the route of plugin `name` that covers `rest`, the path below
    /// `/hooks/<name>` (empty or starting with `/`).
    pub(crate) async fn route(
        self: &Arc<Self>,
        name: &str,
        rest: &str,
        request: RouteRequest,
    ) -> RouteOutcome {
        // The version is chosen once: a swap meanwhile leaves this request on it.
        let plugin = self.registry.snapshot().plugins.get(name).cloned();
        let Some((plugin, route)) = plugin.and_then(|p| {
            let route = p.serves_route(rest)?.to_owned();
            Some((p, route))
        }) else {
            tracing::info!(plugin = %name, path = %rest, "webhook request for a route no plugin serves: 404");
            return RouteOutcome::NotFound;
        };
        self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight(&self.stats.in_flight);
        let Ok(_permit) = self.permits.acquire().await else {
            return RouteOutcome::Unavailable;
        };
        let label = format!("route {route}");
        let context = CallContext {
            self_id: Some(self.self_id()),
            ..CallContext::default()
        };
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let served = plugin.serve_route(&label, request, context).await;
        if let Some(metrics) = &self.metrics {
            metrics.route_run(name, &route, served.is_ok());
        }
        match served {
            Ok(response) => RouteOutcome::Answered(response),
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                // The error names the plugin, the route and the cause.
                tracing::warn!(plugin = %name, path = %rest, "webhook request failed: {e}");
                RouteOutcome::Failed
            }
        }
    }
}
