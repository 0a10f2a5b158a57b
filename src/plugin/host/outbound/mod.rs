//! The outbound HTTP unit (SPEC P4, P4a–P4d; sidecar `allowedOutboundHosts`):
//! `wasi:http/outgoing-handler` and `wasi:http/types`, with every request checked against the
//! plugin's grant before anything leaves the host.
//!
//! wasmtime-wasi-http does the protocol; this unit is its `send_request` hook. A request
//! whose scheme, host and port no pattern allows fails with `HTTP-request-denied` (the guest
//! reads it from the response future) and a line naming the plugin, the action, the origin
//! and the sidecar line that would allow it: at WARN the first time for that origin, at
//! debug after ([`super::Grantee::refuse`]). A plugin with no grant has no network.
//! Redirects are not followed (wasi:http never does): each hop is a new request, checked anew.
//!
//! Bounds (P4c): connecting within [`CONNECT_TIMEOUT`], the response head within
//! [`FIRST_BYTE_TIMEOUT`], each body chunk within [`BETWEEN_BYTES_TIMEOUT`] — a guest may ask
//! for less, never more — and all of it before the call's deadline, less a reserve so the
//! guest has time to report the failure itself. A response body is capped at the plugin's
//! `maxResultBytes`. At most [`MAX_IN_FLIGHT`] requests of one plugin version are in flight
//! at once, across all its instances; more wait for a slot until their connect timeout, then
//! fail with `connection-limit-reached`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use wasmtime::component::Linker;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

mod body;

use body::Capped;

use super::{CallStart, Capability, Getter, Grantee, Guest, HostState, Refused, Shared};
use crate::metrics::OutboundOutcome;

/// Longest wait for a connection (TCP and TLS), and for a free slot under [`MAX_IN_FLIGHT`].
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the response head once the request is sent.
pub(super) const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait between two chunks of a response body.
pub(super) const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests one plugin version may have in flight at once, across all its instances.
pub(super) const MAX_IN_FLIGHT: usize = 16;
/// The most of a call's remaining time kept back from its requests, so the guest can still
/// answer with the request's error before the call's own deadline.
const RESERVE: Duration = Duration::from_millis(250);

/// Outbound HTTP for every plugin; each request is allowed only by the plugin's grant.
pub(crate) struct Outbound;

/// The requests in flight of one plugin version: a slot each, shared by all its instances.
#[derive(Clone)]
pub(crate) struct InFlight(Arc<Semaphore>);

impl Default for InFlight {
    fn default() -> Self {
        InFlight(Arc::new(Semaphore::new(MAX_IN_FLIGHT)))
    }
}

/// One instance's side: wasi-http's context and the hook that checks each request.
pub(crate) struct OutboundState {
    ctx: WasiHttpCtx,
    hooks: Gate,
}

/// The `send_request` hook: checks the grant, bounds the time and the body, takes a slot.
struct Gate {
    /// Its grant, and the refusals of its version; its stats count requests by outcome (O5).
    grantee: Grantee,
    action: String,
    deadline: Instant,
    in_flight: InFlight,
    body_cap: u64,
}

impl Capability for Outbound {
    type State = OutboundState;

    /// Only the wasi:http interfaces: the rest of WASI comes from the `wasi` unit. They reach
    /// this unit's state through `HostState`'s `WasiHttpView` rather than `get`.
    fn add_to_linker(linker: &mut Linker<HostState>, _get: Getter<Self>) -> wasmtime::Result<()> {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
    }

    fn prepare(_shared: &Shared, guest: &Guest<'_>) -> OutboundState {
        OutboundState {
            ctx: WasiHttpCtx::new(),
            hooks: Gate {
                grantee: guest.grantee(),
                action: String::new(),
                deadline: Instant::now(),
                in_flight: guest.in_flight.clone(),
                body_cap: guest.limits.max_result_bytes,
            },
        }
    }

    /// Which action runs (for the log) and its deadline, which bounds its requests.
    fn begin_call(state: &mut OutboundState, call: &CallStart<'_>) {
        state.hooks.action.clear();
        state.hooks.action.push_str(call.action);
        state.hooks.deadline = call.deadline;
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.outbound.ctx,
            table: &mut self.table,
            hooks: &mut self.outbound.hooks,
        }
    }
}

/// The connection's own work, which goes on while the guest reads the body.
type Io = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
/// What a request comes to: the response (its body still to read) and the connection's work.
type Exchange = Result<(hyper::Response<WasiBody>, Io), HttpError>;
/// What `send_request` hands back to wasi-http.
type Sent = Box<dyn Future<Output = Exchange> + Send>;

impl WasiHttpHooks for Gate {
    fn send_request(
        &mut self,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Io,
    ) -> Sent {
        // P4e: credentials in the authority (`user:pass@host`) are refused before anything is
        // resolved or sent: the grant names origins, and a plugin that means to authenticate
        // says so in a header the operator can see in its code.
        if request
            .uri()
            .authority()
            .is_some_and(|a| a.as_str().contains('@'))
        {
            let host = request.uri().host().unwrap_or("");
            tracing::warn!(
                plugin = %self.grantee.plugin,
                action = %self.action,
                "outbound request refused: its URL carries user info (`…@{host}`); send \
                 credentials in a header (Authorization) instead"
            );
            return Box::new(std::future::ready::<Exchange>(Err(
                HttpError::HttpRequestDenied,
            )));
        }
        let target = Target::of(request.uri());
        let Grantee {
            plugin,
            grants,
            refusals,
        } = &self.grantee;
        let stats = refusals.stats().clone();
        if !grants
            .outbound
            .iter()
            .any(|p| p.allows(&target.scheme, &target.host, target.port))
        {
            let origin = &target.origin;
            // The guest reads only `HTTP-request-denied`: the message is the operator's.
            self.grantee.refuse(
                Refused::Origin {
                    origin,
                    action: &self.action,
                },
                format!(
                    "plugin {plugin}: {origin} is not granted; add `allowedOutboundHosts: \
                     [\"{origin}\"]` to {plugin}.json5"
                ),
            );
            stats.outbound(OutboundOutcome::Denied);
            return Box::new(std::future::ready::<Exchange>(Err(
                HttpError::HttpRequestDenied,
            )));
        }
        let (limits, until) = bounds(options, self.deadline, Instant::now());
        let slots = self.in_flight.0.clone();
        let log = Log {
            plugin: plugin.clone(),
            action: self.action.clone(),
            origin: target.origin,
        };
        let body_cap = self.body_cap;
        let exchange = async move {
            let connect = limits.connect_timeout.unwrap_or(CONNECT_TIMEOUT);
            let slot = match tokio::time::timeout(connect, slots.acquire_owned()).await {
                Ok(Ok(slot)) => slot,
                _ => {
                    log.warn(&format!(
                        "outbound request refused: {MAX_IN_FLIGHT} requests of this plugin were \
                         in flight for {} ms",
                        connect.as_millis()
                    ));
                    return Err(HttpError::ConnectionLimitReached);
                }
            };
            let sent = tokio::time::timeout_at(
                until.into(),
                wasmtime_wasi_http::default_send_request(request, Some(limits)),
            )
            .await;
            let (response, io) = match sent {
                Ok(sent) => sent?,
                Err(_) => return Err(HttpError::HttpResponseTimeout),
            };
            let length = response
                .headers()
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(length) = length.filter(|&l| l > body_cap) {
                log.warn(&format!(
                    "outbound response refused: its body of {length} bytes is over the plugin's \
                     maxResultBytes of {body_cap}"
                ));
                return Err(HttpError::HttpResponseBodySize(Some(length)));
            }
            let response = response.map(|body| {
                Capped {
                    body: body.boxed_unsync(),
                    left: body_cap,
                    cap: body_cap,
                    until: Box::pin(tokio::time::sleep_until(until.into())),
                    log,
                    _slot: slot,
                }
                .boxed_unsync()
            });
            let exchange: Exchange = Ok((response, Box::new(io)));
            exchange
        };
        Box::new(async move {
            let exchange = exchange.await;
            stats.outbound(outcome(&exchange));
            exchange
        })
    }
}

/// O5: how a request that was allowed out ended, as far as its response head.
fn outcome(exchange: &Exchange) -> OutboundOutcome {
    match exchange {
        Ok(_) => OutboundOutcome::Ok,
        Err(HttpError::ConnectionLimitReached | HttpError::HttpResponseBodySize(_)) => {
            OutboundOutcome::Limit
        }
        Err(HttpError::ConnectionTimeout | HttpError::HttpResponseTimeout) => {
            OutboundOutcome::Timeout
        }
        Err(_) => OutboundOutcome::Error,
    }
}

/// Where a request goes, as the grant sees it.
struct Target {
    scheme: String,
    host: String,
    port: u16,
    /// `scheme://host[:port]`, the port only when not the scheme's default: what the operator
    /// would write in `allowedOutboundHosts`.
    origin: String,
}

impl Target {
    fn of(uri: &hyper::Uri) -> Target {
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let host = uri.host().unwrap_or("").to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            _ => 80,
        };
        let port = uri.port_u16().unwrap_or(default_port);
        let origin = if port == default_port {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{port}")
        };
        Target {
            scheme,
            host,
            port,
            origin,
        }
    }
}

/// The timeouts of one request sent at `now` in a call that must end by `deadline`: ours,
/// or the guest's when shorter, and none past the call's deadline less the reserve. Also
/// returns that last moment, by which the whole exchange must be over.
fn bounds(
    asked: Option<RequestOptions>,
    deadline: Instant,
    now: Instant,
) -> (RequestOptions, Instant) {
    let left = deadline.saturating_duration_since(now);
    let left = left - RESERVE.min(left / 10);
    let asked = asked.unwrap_or_default();
    let bound = |ours: Duration, asked: Option<Duration>| {
        Some(asked.map_or(ours, |a| a.min(ours)).min(left))
    };
    let limits = RequestOptions {
        connect_timeout: bound(CONNECT_TIMEOUT, asked.connect_timeout),
        first_byte_timeout: bound(FIRST_BYTE_TIMEOUT, asked.first_byte_timeout),
        between_bytes_timeout: bound(BETWEEN_BYTES_TIMEOUT, asked.between_bytes_timeout),
    };
    (limits, now + left)
}

/// What a request's log lines name.
pub(super) struct Log {
    plugin: Arc<str>,
    action: String,
    origin: String,
}

impl Log {
    pub(super) fn warn(&self, message: &str) {
        tracing::warn!(
            plugin = %self.plugin,
            action = %self.action,
            origin = %self.origin,
            "{message}"
        );
    }
}

#[cfg(test)]
mod tests;
