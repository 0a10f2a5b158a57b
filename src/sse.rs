//! Server-sent events (NapCat's `httpSseServers`, issue 15): `GET /_events` on such a server
//! streams every event as an SSE `data:` line, in the server's `messagePostFormat`, starting
//! with the lifecycle `connect` event (W3). The token is checked as for HTTP (H6: 403 when
//! wrong). Each stream has its own bounded queue (W6): a client that falls `wsQueueMessages`
//! behind is ended, with a warning naming it, rather than slowing anyone down. The host's
//! stop signal ends every stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::watch;

use crate::auth::Token;
use crate::config::PostFormat;
use crate::envelope::Refusal;
use crate::events::{EventBus, Subscription};
use crate::metrics::{Connected, ConnectionKind, EntryStats};

/// The path of the event stream.
pub(crate) const PATH: &str = "/_events";

/// What one SSE server's streams share.
pub(crate) struct SseApi {
    pub name: String,
    pub events: Arc<EventBus>,
    pub token: Token,
    pub post_format: PostFormat,
    pub report_self: bool,
    pub queue_messages: usize,
    pub shutdown: watch::Receiver<bool>,
    /// What its clients are counted as (O7): `sse`, or `dashboard` for a dashboard's page.
    pub kind: ConnectionKind,
    /// The server entry its clients and events are counted under too (D6); none for a
    /// dashboard's page, which is counted only as kind `dashboard`.
    pub entry: Option<Arc<EntryStats>>,
}

/// `GET /_events`; every other path is left to the router it is merged with.
pub(crate) fn router(api: Arc<SseApi>) -> Router {
    Router::new().route(PATH, get(stream)).with_state(api)
}

/// The stream of `api`'s events for one client, once its token is checked.
pub(crate) async fn stream(State(api): State<Arc<SseApi>>, request: Request) -> Response {
    if api
        .token
        .check(request.headers(), request.uri().query())
        .is_err()
    {
        tracing::info!(server = %api.name, "event stream refused: token verify failed");
        return Refusal::Forbidden.into_response();
    }
    tracing::info!(server = %api.name, "event stream client connected");
    let subscription = api.events.subscribe_as(
        api.kind,
        api.entry.clone(),
        api.post_format,
        api.report_self,
        api.queue_messages,
    );
    let connected = api
        .events
        .metrics()
        .connected_to(api.kind, api.entry.as_ref());
    Sse::new(frames(subscription, connected, api.clone()))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The subscription's frames as SSE events, until it falls behind or the host stops.
/// `connected` counts the client (O7) for as long as the stream lives.
fn frames(
    subscription: Subscription,
    connected: Connected,
    api: Arc<SseApi>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let queue = subscription.queue();
    let shutdown = api.shutdown.clone();
    futures_util::stream::unfold(
        (subscription, queue, shutdown, api, connected),
        |(mut subscription, queue, mut shutdown, api, connected)| async move {
            let frame = tokio::select! {
                biased;
                () = queue.fell_behind() => {
                    tracing::warn!(
                        server = %api.name,
                        "ending an event stream: it fell {} events behind (wsQueueMessages)",
                        api.queue_messages
                    );
                    None
                }
                _ = shutdown.wait_for(|stop| *stop) => None,
                frame = subscription.recv() => frame,
            }?;
            let event = Event::default().data(&*frame);
            Some((Ok(event), (subscription, queue, shutdown, api, connected)))
        },
    )
}
