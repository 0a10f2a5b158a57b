//! NapCat's three listening lists as written: `httpServers`, `websocketServers` and
//! `httpSseServers` (SPEC C2, N1, N2, D1, W6), read by one struct and turned into a
//! [`Listener`] by one function.
//!
//! The lists share most keys but not all, and their defaults differ in three (`name`, `port`,
//! `reportSelfMessage`). So [`RawListener`] is generic over the list ([`ListenerList`]): the
//! list gives those defaults and says which of the keys only some lists have it reads. A key
//! its list does not read is an [`Only`] that skips its value through `IgnoredAny`, which
//! `serde_ignored` in `super::decode` records as an unknown key: each list warns about exactly
//! the keys it warned about when it was a struct of its own, with the same error positions.
//! (`#[serde(flatten)]` would share the keys too, but buffers the entry, losing both the
//! unknown-key warnings and the positions.)

use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny};

use super::raw::{
    DEFAULT_BODY_TIMEOUT_MS, DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_HEART_INTERVAL_MS, DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, DEFAULT_SERVER_NAME, DEFAULT_WS_QUEUE_MESSAGES,
};
use super::{HttpOptions, Listener, ListenerKind, PostFormat, Secret};

/// One entry of a listening list, as written; `L` is the list.
#[derive(serde::Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    expecting = "an object",
    bound(deserialize = "")
)]
pub(super) struct RawListener<L: ListenerList> {
    pub(super) name: String,
    pub(super) enable: bool,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) message_post_format: PostFormat,
    pub(super) report_self_message: bool,
    pub(super) token: Secret,
    pub(super) debug: bool,
    pub(super) allow_origins: Vec<String>,
    pub(super) allow_hosts: Vec<String>,
    pub(super) max_body_bytes: u64,
    pub(super) ws_queue_messages: usize,
    /// `httpServers` and `websocketServers`.
    pub(super) heart_interval: Only<u64, L::Heartbeat>,
    /// `httpServers` only.
    pub(super) header_timeout_ms: Only<u64, L::Timeouts>,
    pub(super) body_timeout_ms: Only<u64, L::Timeouts>,
    /// `httpServers` and `httpSseServers`: what only an HTTP listener has.
    pub(super) enable_cors: Only<bool, L::Http>,
    pub(super) enable_websocket: Only<bool, L::Http>,
    pub(super) metrics: Only<bool, L::Http>,
    /// Absent or `null`: on when `host` is a loopback address (D1).
    pub(super) dashboard: Only<Option<bool>, L::Http>,
    /// NapCat's, on `websocketServers`; events are always pushed, so it is read and not used.
    pub(super) enable_force_push_event: Only<bool, L::ForcePush>,
}

impl<L: ListenerList> Default for RawListener<L> {
    /// NapCat's defaults for its own keys (seed table), ours for the rest; the keys only some
    /// lists have take theirs in [`RawListener::into_listener`].
    fn default() -> Self {
        Self {
            name: L::NAME.to_owned(),
            enable: false,
            host: DEFAULT_HOST.to_owned(),
            port: L::PORT,
            message_post_format: PostFormat::Array,
            report_self_message: L::REPORT_SELF_MESSAGE,
            token: Secret::default(),
            debug: false,
            allow_origins: Vec::new(),
            allow_hosts: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            ws_queue_messages: DEFAULT_WS_QUEUE_MESSAGES,
            heart_interval: Only::default(),
            header_timeout_ms: Only::default(),
            body_timeout_ms: Only::default(),
            enable_cors: Only::default(),
            enable_websocket: Only::default(),
            metrics: Only::default(),
            dashboard: Only::default(),
            enable_force_push_event: Only::default(),
        }
    }
}

impl<L: ListenerList> RawListener<L> {
    /// The listener this entry describes; `enable` has done its job by now. A key absent, or
    /// not one of its list's, has its default.
    pub(super) fn into_listener(self) -> Listener {
        let http = HttpOptions {
            enable_cors: self.enable_cors.or(true),
            enable_websocket: self.enable_websocket.or(false),
            metrics: self.metrics.or(true),
            // D1: on by default only where nothing but this machine can reach it.
            dashboard: (self.dashboard.or(None))
                .unwrap_or_else(|| super::binds_loopback(&self.host)),
        };
        Listener {
            kind: L::kind(http),
            name: self.name,
            host: self.host,
            port: self.port,
            message_post_format: self.message_post_format,
            report_self_message: self.report_self_message,
            token: self.token,
            debug: self.debug,
            heart_interval_ms: self.heart_interval.or(DEFAULT_HEART_INTERVAL_MS),
            max_body_bytes: self.max_body_bytes,
            ws_queue_messages: self.ws_queue_messages,
            header_timeout_ms: self.header_timeout_ms.or(DEFAULT_HEADER_TIMEOUT_MS),
            body_timeout_ms: self.body_timeout_ms.or(DEFAULT_BODY_TIMEOUT_MS),
            allow_origins: self.allow_origins,
            allow_hosts: self.allow_hosts,
        }
    }
}

/// A listening list: its defaults where the lists differ, which of the keys only some lists
/// have it reads ([`Read`] or [`Unread`]), and the kind of listener its entries are.
pub(super) trait ListenerList {
    const NAME: &'static str;
    const PORT: u16;
    const REPORT_SELF_MESSAGE: bool;
    type Heartbeat: Presence;
    type Timeouts: Presence;
    type Http: Presence;
    type ForcePush: Presence;
    fn kind(http: HttpOptions) -> ListenerKind;
}

/// `httpServers`: every key but NapCat's `enableForcePushEvent`. `reportSelfMessage` stays on by
/// default, as it was before NapCat's other lists were read.
pub(super) enum HttpServers {}

impl ListenerList for HttpServers {
    const NAME: &'static str = DEFAULT_SERVER_NAME;
    const PORT: u16 = DEFAULT_PORT;
    const REPORT_SELF_MESSAGE: bool = true;
    type Heartbeat = Read;
    type Timeouts = Read;
    type Http = Read;
    type ForcePush = Unread;
    fn kind(http: HttpOptions) -> ListenerKind {
        ListenerKind::Http(http)
    }
}

/// `websocketServers`: WebSocket only, so none of the HTTP keys.
pub(super) enum WebsocketServers {}

impl ListenerList for WebsocketServers {
    const NAME: &'static str = "websocket-server";
    const PORT: u16 = 3001;
    const REPORT_SELF_MESSAGE: bool = false;
    type Heartbeat = Read;
    type Timeouts = Unread;
    type Http = Unread;
    type ForcePush = Read;
    fn kind(_: HttpOptions) -> ListenerKind {
        ListenerKind::WebSocket
    }
}

/// `httpSseServers`: HTTP, without heartbeats or our request timeouts.
pub(super) enum HttpSseServers {}

impl ListenerList for HttpSseServers {
    const NAME: &'static str = "http-sse-server";
    const PORT: u16 = 3000;
    const REPORT_SELF_MESSAGE: bool = false;
    type Heartbeat = Unread;
    type Timeouts = Unread;
    type Http = Read;
    type ForcePush = Unread;
    fn kind(http: HttpOptions) -> ListenerKind {
        ListenerKind::HttpSse(http)
    }
}

/// Whether a list reads a key.
pub(super) trait Presence {
    const READ: bool;
}

/// The list reads the key.
pub(super) enum Read {}

impl Presence for Read {
    const READ: bool = true;
}

/// The key is not one of the list's: an unknown key there.
pub(super) enum Unread {}

impl Presence for Unread {
    const READ: bool = false;
}

/// A key only some lists have: read as a `T` where `P` is [`Read`], skipped (and so warned
/// about as unknown) where it is [`Unread`]. `None` until a value is read.
pub(super) struct Only<T, P>(Option<T>, PhantomData<P>);

impl<T, P> Default for Only<T, P> {
    fn default() -> Self {
        Only(None, PhantomData)
    }
}

impl<T, P> Only<T, P> {
    /// The value read, else `default`.
    pub(super) fn or(self, default: T) -> T {
        self.0.unwrap_or(default)
    }
}

impl<'de, T: Deserialize<'de>, P: Presence> Deserialize<'de> for Only<T, P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if P::READ {
            T::deserialize(deserializer).map(|value| Only(Some(value), PhantomData))
        } else {
            IgnoredAny::deserialize(deserializer).map(|_| Only::default())
        }
    }
}
