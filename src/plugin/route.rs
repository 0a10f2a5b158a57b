//! One webhook request served by a plugin's standard `wasi:http/incoming-handler` export
//! (SPEC T22–T25), on an instance from the pool like an action call, within the same limits:
//! `timeoutMs` covers the whole exchange (the guest's answer and its body), `memoryMb` the
//! instance, and `maxResultBytes` the response body.
//!
//! The request arrives read whole (the HTTP layer applied `maxBodyBytes` and
//! `bodyTimeoutMs`); the response is collected whole before it is sent, so a guest that fails
//! half-way through its body answers 500, not a truncated 200.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use wasmtime::component::InstancePre;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::exports::wasi::http::incoming_handler::GuestIndices;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::host::HostState;
use super::{CallContext, CallError, Plugin};

/// The interface a plugin exports to serve webhook routes (its WASI 0.2 patch version may
/// be any; wasmtime matches it).
pub(crate) const ROUTE_INTERFACE: &str = "wasi:http/incoming-handler";

/// The export indices of `wasi:http/incoming-handler`.
pub(super) type RouteIndex = GuestIndices;

/// Where the export `handle` of `wasi:http/incoming-handler` sits, found once at load;
/// `None` for a plugin that does not export it.
pub(super) fn route_index(pre: &InstancePre<HostState>) -> Option<GuestIndices> {
    GuestIndices::new(pre).ok()
}

/// A request to a route: method, URI (path and query as received), headers, whole body.
pub(crate) type RouteRequest = hyper::Request<Bytes>;
/// The plugin's answer, its body read whole.
pub(crate) type RouteResponse = hyper::Response<Bytes>;

impl Plugin {
    /// Whether this version serves `rest`, the request path below `/hooks/<plugin>` (T21):
    /// its sidecar lists a route that is `rest` or above it, and it exports the handler.
    pub(crate) fn serves_route(&self, rest: &str) -> Option<&str> {
        self.route.as_ref()?;
        self.routes
            .iter()
            .find(|route| crate::config::routes::serves(route, rest))
            .map(String::as_str)
    }

    /// Hands `request` to the plugin's `wasi:http/incoming-handler` (T22) and returns its
    /// answer, within the plugin's limits (T24). `label` names the call in logs and errors.
    pub(crate) async fn serve_route(
        self: &Arc<Self>,
        label: &str,
        request: RouteRequest,
        context: CallContext,
    ) -> Result<RouteResponse, CallError> {
        let cap = self.limits.max_result_bytes;
        let export = self.route.as_ref();
        let answer = self
            .with_export(export, label.to_owned(), context, move |store, guest| {
                Box::pin(async move {
                    let (sender, receiver) = tokio::sync::oneshot::channel();
                    let mut http = store.data_mut().http();
                    let request =
                        http.new_incoming_request(Scheme::Http, request.map(Full::new))?;
                    let out = http.new_response_outparam(sender)?;
                    // The body is read while the guest writes it: a body larger than the
                    // host's buffer would otherwise wait for a reader that is not there yet.
                    let (called, answer) = tokio::join!(
                        guest.call_handle(&mut *store, request, out),
                        collect(receiver, cap)
                    );
                    called?;
                    Ok(answer)
                })
            })
            .await?;
        answer.map_err(|reason| CallError::Trap {
            plugin: self.name.clone(),
            action: label.to_owned(),
            reason,
        })
    }
}

/// The guest's response, its body read whole up to `cap` bytes; else why there is none.
async fn collect(
    receiver: tokio::sync::oneshot::Receiver<Result<hyper::Response<HyperOutgoingBody>, ErrorCode>>,
    cap: u64,
) -> Result<RouteResponse, String> {
    let response = match receiver.await {
        Ok(Ok(response)) => response,
        Ok(Err(code)) => return Err(format!("the route answered an error: {code:?}")),
        Err(_) => return Err("the route returned without setting a response".to_owned()),
    };
    let (parts, body) = response.into_parts();
    let limit = usize::try_from(cap).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(body) => Ok(RouteResponse::from_parts(parts, body.to_bytes())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(format!(
            "the response body is larger than maxResultBytes ({cap} bytes)"
        )),
        Err(e) => Err(format!("the response body failed: {e}")),
    }
}
