//! NapCat's `network` lists beyond `httpServers` (issue 15): `websocketServers` and
//! `httpSseServers` become listeners like an HTTP server (one bind, one duplicate check), and
//! `httpClients` and `websocketClients` the connections the host makes to the bot. Field names
//! and defaults are NapCat's, so its `onebot11_<uin>.json` moves over unchanged.

use serde::Deserialize;

use super::raw::{
    DEFAULT_BODY_TIMEOUT_MS, DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_HEART_INTERVAL_MS, DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_WS_QUEUE_MESSAGES,
};
use super::{HttpServer, PostFormat, RemoteUrl, Secret, ServerKind};

/// `network.websocketServers[]`: a WebSocket server on a port of its own.
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawWsServer {
    pub name: String,
    pub enable: bool,
    pub host: String,
    pub port: u16,
    pub message_post_format: PostFormat,
    pub report_self_message: bool,
    /// NapCat's; events are always pushed here.
    pub enable_force_push_event: bool,
    pub token: Secret,
    pub debug: bool,
    pub allow_origins: Vec<String>,
    pub allow_hosts: Vec<String>,
    pub heart_interval: u64,
    pub max_body_bytes: u64,
    pub ws_queue_messages: usize,
}

impl Default for RawWsServer {
    fn default() -> Self {
        Self {
            name: "websocket-server".to_owned(),
            enable: false,
            host: DEFAULT_HOST.to_owned(),
            port: 3001,
            message_post_format: PostFormat::Array,
            report_self_message: false,
            enable_force_push_event: true,
            token: Secret::default(),
            debug: false,
            allow_origins: Vec::new(),
            allow_hosts: Vec::new(),
            heart_interval: DEFAULT_HEART_INTERVAL_MS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            ws_queue_messages: DEFAULT_WS_QUEUE_MESSAGES,
        }
    }
}

impl RawWsServer {
    pub fn into_server(self) -> HttpServer {
        HttpServer {
            name: self.name,
            host: self.host,
            port: self.port,
            kind: ServerKind::WebSocket,
            enable_cors: false,
            enable_websocket: true,
            message_post_format: self.message_post_format,
            report_self_message: self.report_self_message,
            token: self.token,
            debug: self.debug,
            heart_interval_ms: self.heart_interval,
            max_body_bytes: self.max_body_bytes,
            ws_queue_messages: self.ws_queue_messages,
            header_timeout_ms: DEFAULT_HEADER_TIMEOUT_MS,
            body_timeout_ms: DEFAULT_BODY_TIMEOUT_MS,
            allow_origins: self.allow_origins,
            allow_hosts: self.allow_hosts,
            metrics: false,
            dashboard: false,
        }
    }
}

/// `network.httpSseServers[]`: an HTTP server whose `GET /_events` streams events (SSE).
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawSseServer {
    pub name: String,
    pub enable: bool,
    pub host: String,
    pub port: u16,
    pub enable_cors: bool,
    pub enable_websocket: bool,
    pub message_post_format: PostFormat,
    pub report_self_message: bool,
    pub token: Secret,
    pub debug: bool,
    pub allow_origins: Vec<String>,
    pub allow_hosts: Vec<String>,
    pub max_body_bytes: u64,
    pub ws_queue_messages: usize,
    pub metrics: bool,
    pub dashboard: Option<bool>,
}

impl Default for RawSseServer {
    fn default() -> Self {
        Self {
            name: "http-sse-server".to_owned(),
            enable: false,
            host: DEFAULT_HOST.to_owned(),
            port: 3000,
            enable_cors: true,
            enable_websocket: false,
            message_post_format: PostFormat::Array,
            report_self_message: false,
            token: Secret::default(),
            debug: false,
            allow_origins: Vec::new(),
            allow_hosts: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            ws_queue_messages: DEFAULT_WS_QUEUE_MESSAGES,
            metrics: true,
            dashboard: None,
        }
    }
}

impl RawSseServer {
    pub fn into_server(self) -> HttpServer {
        // D1: on by default only where nothing but this machine can reach it.
        let dashboard = self
            .dashboard
            .unwrap_or_else(|| super::binds_loopback(&self.host));
        HttpServer {
            name: self.name,
            host: self.host,
            port: self.port,
            kind: ServerKind::HttpSse,
            enable_cors: self.enable_cors,
            enable_websocket: self.enable_websocket,
            message_post_format: self.message_post_format,
            report_self_message: self.report_self_message,
            token: self.token,
            debug: self.debug,
            heart_interval_ms: DEFAULT_HEART_INTERVAL_MS,
            max_body_bytes: self.max_body_bytes,
            ws_queue_messages: self.ws_queue_messages,
            header_timeout_ms: DEFAULT_HEADER_TIMEOUT_MS,
            body_timeout_ms: DEFAULT_BODY_TIMEOUT_MS,
            allow_origins: self.allow_origins,
            allow_hosts: self.allow_hosts,
            metrics: self.metrics,
            dashboard,
        }
    }
}

/// `network.httpClients[]` as written.
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawHttpClient {
    pub name: String,
    pub enable: bool,
    pub url: String,
    pub message_post_format: PostFormat,
    pub report_self_message: bool,
    pub token: Secret,
    pub debug: bool,
    /// Ours: events waiting for this endpoint; more are dropped (counted and logged).
    pub queue_events: usize,
    /// Ours: how long one POST may take.
    pub timeout_ms: u64,
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
    pub name: String,
    pub enable: bool,
    pub url: String,
    pub message_post_format: PostFormat,
    pub report_self_message: bool,
    pub reconnect_interval: u64,
    pub token: Secret,
    pub debug: bool,
    pub heart_interval: u64,
    pub max_body_bytes: u64,
    pub ws_queue_messages: usize,
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
pub struct HttpClient {
    pub name: String,
    /// An `http://` URL with a host (checked at load, C7).
    pub url: RemoteUrl,
    pub message_post_format: PostFormat,
    pub report_self_message: bool,
    /// The HMAC-SHA1 secret for `X-Signature`; empty = no signature.
    pub token: Secret,
    pub debug: bool,
    pub queue_events: usize,
    pub timeout_ms: u64,
}

/// One enabled `websocketClients` entry: the host dials `url` and keeps the connection up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsClient {
    pub name: String,
    /// A `ws://` URL with a host (checked at load, C7).
    pub url: RemoteUrl,
    pub message_post_format: PostFormat,
    pub report_self_message: bool,
    pub reconnect_interval_ms: u64,
    /// Sent as `Authorization: Bearer <token>`; empty = none.
    pub token: Secret,
    pub debug: bool,
    pub heart_interval_ms: u64,
    pub max_body_bytes: u64,
    pub ws_queue_messages: usize,
}

impl RawHttpClient {
    pub fn into_client(self, url: RemoteUrl) -> HttpClient {
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
    pub fn into_client(self, url: RemoteUrl) -> WsClient {
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
