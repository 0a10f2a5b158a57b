//! NapCat's `network` lists the host connects from (issue 15): `httpClients` and
//! `websocketClients`, the connections the host makes to the bot (the listening lists are
//! `super::raw_listener`'s). Field names and defaults are NapCat's, so its
//! `onebot11_<uin>.json` moves over unchanged.

use serde::Deserialize;

use super::raw::{DEFAULT_HEART_INTERVAL_MS, DEFAULT_MAX_BODY_BYTES, DEFAULT_WS_QUEUE_MESSAGES};
use super::{PostFormat, RemoteUrl, Secret};

/// `network.httpClients[]` as written.
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawHttpClient {
    pub(super) name: String,
    pub(super) enable: bool,
    pub(super) url: String,
    pub(super) message_post_format: PostFormat,
    pub(super) report_self_message: bool,
    pub(super) token: Secret,
    pub(super) debug: bool,
    /// Ours: events waiting for this endpoint; more are dropped (counted and logged).
    pub(super) queue_events: usize,
    /// Ours: how long one POST may take.
    pub(super) timeout_ms: u64,
}

impl Default for RawHttpClient {
    fn default() -> Self {
        Self {
            name: "http-client".to_owned(),
            enable: false,
            url: "http://localhost:8080".to_owned(),
            message_post_format: PostFormat::Array,
            report_self_message: false,
            token: Secret::default(),
            debug: false,
            queue_events: DEFAULT_WS_QUEUE_MESSAGES,
            timeout_ms: 5_000,
        }
    }
}

/// `network.websocketClients[]` as written.
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawWsClient {
    pub(super) name: String,
    pub(super) enable: bool,
    pub(super) url: String,
    pub(super) message_post_format: PostFormat,
    pub(super) report_self_message: bool,
    pub(super) reconnect_interval: u64,
    pub(super) token: Secret,
    pub(super) debug: bool,
    pub(super) heart_interval: u64,
    pub(super) max_body_bytes: u64,
    pub(super) ws_queue_messages: usize,
}

impl Default for RawWsClient {
    fn default() -> Self {
        Self {
            name: "websocket-client".to_owned(),
            enable: false,
            url: "ws://localhost:8082".to_owned(),
            message_post_format: PostFormat::Array,
            report_self_message: false,
            reconnect_interval: 5_000,
            token: Secret::default(),
            debug: false,
            heart_interval: DEFAULT_HEART_INTERVAL_MS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            ws_queue_messages: DEFAULT_WS_QUEUE_MESSAGES,
        }
    }
}

/// One enabled `httpClients` entry: every event is POSTed to `url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpClient {
    pub(crate) name: String,
    /// An `http://` URL with a host (checked at load, C7).
    pub(crate) url: RemoteUrl,
    pub(crate) message_post_format: PostFormat,
    pub(crate) report_self_message: bool,
    /// The HMAC-SHA1 secret for `X-Signature`; empty = no signature.
    pub(crate) token: Secret,
    pub(crate) debug: bool,
    pub(crate) queue_events: usize,
    pub(crate) timeout_ms: u64,
}

/// One enabled `websocketClients` entry: the host dials `url` and keeps the connection up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WsClient {
    pub(crate) name: String,
    /// A `ws://` URL with a host (checked at load, C7).
    pub(crate) url: RemoteUrl,
    pub(crate) message_post_format: PostFormat,
    pub(crate) report_self_message: bool,
    pub(crate) reconnect_interval_ms: u64,
    /// Sent as `Authorization: Bearer <token>`; empty = none.
    pub(crate) token: Secret,
    pub(crate) debug: bool,
    pub(crate) heart_interval_ms: u64,
    pub(crate) max_body_bytes: u64,
    pub(crate) ws_queue_messages: usize,
}

impl RawHttpClient {
    pub(super) fn into_client(self, url: RemoteUrl) -> HttpClient {
        HttpClient {
            name: self.name,
            url,
            message_post_format: self.message_post_format,
            report_self_message: self.report_self_message,
            token: self.token,
            debug: self.debug,
            queue_events: self.queue_events,
            timeout_ms: self.timeout_ms,
        }
    }
}

impl RawWsClient {
    pub(super) fn into_client(self, url: RemoteUrl) -> WsClient {
        WsClient {
            name: self.name,
            url,
            message_post_format: self.message_post_format,
            report_self_message: self.report_self_message,
            reconnect_interval_ms: self.reconnect_interval,
            token: self.token,
            debug: self.debug,
            heart_interval_ms: self.heart_interval,
            max_body_bytes: self.max_body_bytes,
            ws_queue_messages: self.ws_queue_messages,
        }
    }
}
