//! The operator's config file: read, checked, and turned into a `Config` the rest of the host
//! trusts without re-checking (SPEC C1–C7; the per-server queue bound of W6; the rate-limit gap
//! of E5; per-plugin sidecars of P6 in `sidecar`).
//!
//! Layout, one way: `decode` (JSON5 text → `raw` structs, unknown keys, error positions) →
//! `validate` and `listeners` (ranges, duplicate listeners, URLs, folders) → the types below;
//! `raw` holds the defaults (`raw_listener` reads the three listening lists with one struct);
//! `sidecar` reuses `decode` and the limit checks. Values stay typed once read: a token or a
//! plugin's config value is a [`Secret`], a URL the host connects to a [`RemoteUrl`], so every
//! struct here derives `Debug` without showing either. This file holds the public types.
//! Nothing here logs warnings: `Loaded::warnings` goes back to the caller, which decides how to
//! print them (a CLI and a server print differently).

mod decode;
pub(crate) mod grants;
mod limits;
mod listeners;
mod network;
mod raw;
mod raw_listener;
mod remote_url;
pub(crate) mod routes;
mod secret;
mod sidecar;
#[cfg(test)]
mod tests;
pub mod triggers;
mod trust;
mod upstream;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) use grants::ActionGrant;
#[cfg(test)]
pub(crate) use grants::HostPattern;
pub use grants::{Grants, PartialGrants};
pub(crate) use limits::HostLimits;
pub(crate) use network::{HttpClient, WsClient};
use raw::RawFile;
use raw_listener::RawListener;
pub(crate) use remote_url::RemoteUrl;
pub use secret::Secret;
pub use sidecar::{PluginSettings, SidecarBase, Warm, parse_sidecar};
pub use trust::Trust;
pub(crate) use upstream::Upstream;
use validate::CacheEnv;

/// NapCat accepts bodies up to 5000 MB (seed page); we allow configuring that much, no more.
pub(crate) const MAX_BODY_BYTES_LIMIT: u64 = 5_000 * 1024 * 1024;
/// A wasm32 memory cannot grow past 4 GiB, so a larger limit would be a promise never kept.
pub(crate) const MEMORY_MB_LIMIT: u64 = 4096;
/// The cap on every millisecond setting: one day. Far beyond any sane value, and it keeps
/// `Instant + Duration` arithmetic elsewhere from overflowing (which panics).
pub(crate) const MILLIS_LIMIT: u64 = 24 * 60 * 60 * 1000;
/// The cap on `wsQueueMessages`; tokio's bounded channels panic on absurd capacities.
pub(crate) const WS_QUEUE_LIMIT: usize = 1_000_000;

/// The validated configuration (C1–C4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The config file read, as given.
    pub(crate) path: PathBuf,
    /// Only entries with `enable: true`, in file order (C3): `httpServers`, then
    /// `websocketServers`, then `httpSseServers`.
    pub(crate) servers: Vec<Listener>,
    /// Enabled `httpClients`: endpoints every event is POSTed to.
    pub(crate) http_clients: Vec<HttpClient>,
    /// Enabled `websocketClients`: reverse WebSocket connections the host keeps up.
    pub(crate) ws_clients: Vec<WsClient>,
    pub(crate) bot: Bot,
    /// The `plugins` section: where plugins are and how they load.
    pub plugins: Plugins,
    /// The `limits` section: memory and queue bounds of the whole host (issue 20).
    pub(crate) limits: HostLimits,
    /// `upstream` (G1): the OneBot implementation the host forwards to, if any.
    pub(crate) upstream: Option<Upstream>,
}

/// One enabled entry of `httpServers`, `websocketServers` or `httpSseServers`: one listener
/// (C2, C3, N1, N2). What every list has is here; what only HTTP listeners have is in `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Listener {
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Which list it came from, which decides what it serves.
    pub(crate) kind: ListenerKind,
    pub(crate) message_post_format: PostFormat,
    /// `reportSelfMessage`: whether its event clients get the bot's own messages
    /// (`message_sent`). NapCat's default is off; `httpServers` keep them on, as before.
    pub(crate) report_self_message: bool,
    pub(crate) token: Secret,
    pub(crate) debug: bool,
    /// `heartInterval`; 0 turns heartbeats off (W3). Not a key of `httpSseServers`.
    pub(crate) heart_interval_ms: u64,
    /// `maxBodyBytes`: requests above it are refused while reading (H5).
    pub(crate) max_body_bytes: u64,
    /// `wsQueueMessages`: outbound frames queued per WebSocket client before it is dropped (W6).
    pub(crate) ws_queue_messages: usize,
    /// `headerTimeoutMs` (`httpServers` only): a connection that has not sent a whole request
    /// head this long after opening or after its previous reply is closed (slowloris, idle
    /// keep-alive).
    pub(crate) header_timeout_ms: u64,
    /// `bodyTimeoutMs` (`httpServers` only): a request whose body has not fully arrived this
    /// long after its head is answered 408 and the connection closed.
    pub(crate) body_timeout_ms: u64,
    /// `allowOrigins`: browser origins besides the server's own that may call it (B1); `*`
    /// allows any. `enableCors` reflects them.
    pub(crate) allow_origins: Vec<String>,
    /// `allowHosts`: `Host` names besides loopback ones a loopback-bound server accepts (B2).
    pub(crate) allow_hosts: Vec<String>,
}

impl Default for Listener {
    /// The C2 defaults of an `httpServers` entry, except that one built in code listens.
    fn default() -> Self {
        RawListener::<raw_listener::HttpServers>::default().into_listener()
    }
}

/// The `network` list a listener comes from, with what only that kind has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListenerKind {
    /// `httpServers`: the HTTP API, and WebSocket on the same port with `enableWebsocket`.
    Http(HttpOptions),
    /// `websocketServers`: WebSocket only (a plain HTTP request gets 426).
    WebSocket,
    /// `httpSseServers`: the HTTP API plus `GET /_events`, a server-sent event stream.
    HttpSse(HttpOptions),
}

/// The keys of the lists that serve the HTTP API (`httpServers`, `httpSseServers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HttpOptions {
    /// `enableCors` (H7).
    pub(crate) enable_cors: bool,
    /// `enableWebsocket`: WebSocket upgrades on the same port (W1).
    pub(crate) enable_websocket: bool,
    /// `metrics` (ours, O1): whether `GET /metrics` is served.
    pub(crate) metrics: bool,
    /// `dashboard` (ours, D1): whether `/dashboard` is served; by default only on a server
    /// bound to a loopback address.
    pub(crate) dashboard: bool,
}

impl ListenerKind {
    /// The config key of its list, for messages.
    pub(crate) fn section(self) -> &'static str {
        match self {
            ListenerKind::Http(_) => "httpServers",
            ListenerKind::WebSocket => "websocketServers",
            ListenerKind::HttpSse(_) => "httpSseServers",
        }
    }

    /// The HTTP API's options; `None` on a `websocketServers` entry, which serves no HTTP
    /// (so no CORS, metrics or dashboard).
    pub(crate) fn http(self) -> Option<HttpOptions> {
        match self {
            ListenerKind::Http(http) | ListenerKind::HttpSse(http) => Some(http),
            ListenerKind::WebSocket => None,
        }
    }

    /// Whether it takes WebSocket upgrades: always on `websocketServers`, with
    /// `enableWebsocket` on the others (W1, N1).
    pub(crate) fn websocket(self) -> bool {
        self.http().is_none_or(|http| http.enable_websocket)
    }
}

impl Config {
    /// O9: whether any server shows metrics (`GET /metrics` or the dashboard); without one,
    /// calls are not timed or counted.
    pub(crate) fn keeps_metrics(&self) -> bool {
        (self.servers.iter()).any(|s| s.kind.http().is_some_and(|h| h.metrics || h.dashboard))
    }
}

/// Whether a server's `host` binds to loopback only: `localhost`, `*.localhost`, or a
/// loopback address (`[::1]` with or without brackets).
pub(crate) fn binds_loopback(host: &str) -> bool {
    is_loopback_name(&normal_host(host))
}

/// A host name or address as compared: lower case, IPv6 without brackets, no trailing dot
/// (`[::1]` and `::1`, `LOCALHOST.` and `localhost` name the same thing).
pub(crate) fn normal_host(host: &str) -> String {
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// Whether a [`normal_host`] is one that browsers and resolvers keep on this machine:
/// `localhost`, `*.localhost` (RFC 6761), or a loopback address.
pub(crate) fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// `messagePostFormat` (M4): defined with the message rendering it selects.
pub(crate) use crate::message::PostFormat;

/// The identity reported when no plugin provides `get_login_info` (C3b, E6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bot {
    pub(crate) self_id: i64,
    pub(crate) nickname: String,
}

impl Default for Bot {
    fn default() -> Self {
        let raw = raw::RawBot::default();
        Self {
            self_id: raw.self_id,
            nickname: raw.nickname,
        }
    }
}

/// The `plugins` section (C4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plugins {
    /// Absolute, or already joined to the config file's folder.
    pub dir: PathBuf,
    /// Whether file changes in `dir` reload plugins while the host runs (hot reload).
    pub watch: bool,
    /// Where compiled plugins are cached; `None` when turned off or when no cache folder exists.
    pub(crate) cache_dir: Option<PathBuf>,
    /// Each call's limits unless the plugin's sidecar overrides them (P6).
    pub(crate) limits: Limits,
    /// The gap between two `_rate_limited` calls (E5).
    pub(crate) rate_limit_gap_ms: u64,
    /// Plugin calls running at once; each holds one pooled instance slot (P5).
    pub(crate) max_concurrent_calls: u32,
    /// Where plugins' persistent data lives (the key-value database); absolute, or already
    /// joined to the config file's folder.
    pub(crate) data_dir: PathBuf,
    /// Grants per plugin name from the config file, under each sidecar's (P6).
    pub(crate) grants: BTreeMap<String, PartialGrants>,
    /// `env` and `ceilings`: what a sidecar may ask for (P12, P13).
    pub(crate) trust: Trust,
}

/// The limits one plugin call runs under (C4, P5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `timeoutMs`: wall-clock time for one call.
    pub(crate) timeout_ms: u64,
    /// `memoryMb`: the most linear memory one instance may grow to.
    pub(crate) memory_mb: u64,
    /// `maxResultBytes`: the largest `data` (or error message) one call may return.
    pub(crate) max_result_bytes: u64,
    /// `maxEventsPerCall`: the most `emit-event` calls one call may make; one more traps it.
    pub(crate) max_events_per_call: u32,
    /// `kvQuotaMb`: the bytes of keys and values the plugin may keep in its key-value stores,
    /// all of them together (P8), in MiB.
    pub(crate) kv_quota_mb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_ms: raw::DEFAULT_TIMEOUT_MS,
            memory_mb: raw::DEFAULT_MEMORY_MB,
            max_result_bytes: raw::DEFAULT_MAX_RESULT_BYTES,
            max_events_per_call: raw::DEFAULT_MAX_EVENTS_PER_CALL,
            kv_quota_mb: raw::DEFAULT_KV_QUOTA_MB,
        }
    }
}

/// A config and what the operator should be told about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The validated config.
    pub config: Config,
    /// One line each, already prefixed with the file path: unknown keys, nothing listening, …
    pub warnings: Vec<String>,
}

/// A 1-based line and column in a config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One enabled server, as named in a duplicate-listener error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRef {
    /// The list it is in (`httpServers`, `websocketServers`, `httpSseServers`).
    pub(crate) section: &'static str,
    /// The entry's index in its list, counting disabled entries, as in the file.
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for ServerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            section,
            index,
            name,
            host,
            port,
        } = self;
        // An IPv6 literal needs brackets before `:port` to be readable.
        if host.contains(':') && !host.starts_with('[') {
            write!(
                f,
                "network.{section}[{index}] (\"{name}\" on [{host}]:{port})"
            )
        } else {
            write!(
                f,
                "network.{section}[{index}] (\"{name}\" on {host}:{port})"
            )
        }
    }
}

/// Why a config file was refused (C5). Every message names the file and reads on one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why reading failed.
        error: std::io::Error,
    },
    /// Not JSON5 at all.
    #[error("{}:{at}: {message}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// Where the parser stopped.
        at: Location,
        /// What the parser expected.
        message: String,
    },
    /// Valid JSON5, but a value of the wrong type or out of its type's range.
    #[error("{}: {key}: {message}", with_location(path, *at))]
    Type {
        /// The config file.
        path: PathBuf,
        /// Where the value is, when the parser knows.
        at: Option<Location>,
        /// The key, as a dotted path (`servers[0].port`).
        key: String,
        /// What was wrong with its value.
        message: String,
    },
    /// The right type, but a value the host refuses.
    #[error("{}: {key}: {message}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The key, as a dotted path.
        key: String,
        /// Why the value is refused, and what to set instead.
        message: String,
    },
    /// Two enabled servers would bind the same address (C3).
    #[error(
        "{}: {first} and {second} would listen on the same address; \
         give one of them another port or disable it",
        path.display()
    )]
    DuplicateListener {
        /// The config file.
        path: PathBuf,
        // Boxed: a `Result` carries the largest variant's size on every success path.
        /// The server listed first.
        first: Box<ServerRef>,
        /// The server listed second.
        second: Box<ServerRef>,
    },
}

fn with_location(path: &Path, at: Option<Location>) -> String {
    match at {
        Some(at) => format!("{}:{at}", path.display()),
        None => path.display().to_string(),
    }
}

/// Reads and checks the config file at `path` (C1, C5).
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    let loaded = parse(&text, path)?;
    tracing::debug!(
        config = %path.display(),
        servers = loaded.config.servers.len(),
        plugins = %loaded.config.plugins.dir.display(),
        "config loaded"
    );
    Ok(loaded)
}

/// Checks config `text` as if read from `path`, which anchors relative folders and prefixes
/// messages. Pure apart from reading `$XDG_CACHE_HOME` and `$HOME` for the default cache folder.
pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    parse_in(text, path, &CacheEnv::from_process())
}

fn parse_in(text: &str, path: &Path, env: &CacheEnv) -> Result<Loaded, ConfigError> {
    let (raw, warnings) = decode::decode::<RawFile>(text, path)?;
    validate::config(raw, path, env, warnings)
}
