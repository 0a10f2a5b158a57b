//! The config file exactly as written: serde structs with NapCat's camelCase keys, and every
//! default in one place (SPEC C2, C3b, C4, W6, E5), but for the few in which NapCat's lists
//! differ from one another, which are with their lists (`super::raw_listener`,
//! `super::network`).
//!
//! Nothing here is checked beyond its type; `super::validate` turns these into `Config`. Every
//! struct is `#[serde(default)]`, so a missing key or a missing section means the default (C2),
//! and none is `deny_unknown_fields`: unknown keys are collected by `super::decode` and become
//! warnings, which is what lets a NapCat `onebot11_<uin>.json` load unchanged (C1).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::Secret;
use super::grants::RawGrants;
use super::network::{RawHttpClient, RawWsClient};
use super::raw_listener::{HttpServers, HttpSseServers, RawListener, WebsocketServers};

pub(super) const DEFAULT_SERVER_NAME: &str = "http-server";
pub(super) const DEFAULT_HOST: &str = "127.0.0.1";
pub(super) const DEFAULT_PORT: u16 = 3000;
pub(super) const DEFAULT_HEART_INTERVAL_MS: u64 = 30_000;
/// Large enough for images sent as base64, small enough that a stray upload can't eat the
/// host's memory; operators who need NapCat's 5000 MB raise it (C2).
pub(super) const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
pub(super) const DEFAULT_WS_QUEUE_MESSAGES: usize = 1024;
/// Slowloris defence: a request's headers must arrive within this, counted from when the
/// connection opens or its previous reply went out (so it is also the keep-alive idle limit).
/// Generous for any real client, which sends its headers in one write.
pub(super) const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
/// A request's whole body must arrive within this: 16 MiB (`maxBodyBytes`) in 60 s is
/// about 280 KB/s, slower than any link a bot runs on.
pub(super) const DEFAULT_BODY_TIMEOUT_MS: u64 = 60_000;
pub(super) const DEFAULT_SELF_ID: i64 = 10_000;
pub(super) const DEFAULT_NICKNAME: &str = "onebot-host";
pub(super) const DEFAULT_PLUGIN_DIR: &str = "plugins";
/// `plugins.dataDir`'s default, beside the config file like `dir`.
pub(super) const DEFAULT_DATA_DIR: &str = "data";
pub(super) const DEFAULT_TIMEOUT_MS: u64 = 5_000;
pub(super) const DEFAULT_MEMORY_MB: u64 = 128;
pub(super) const DEFAULT_MAX_RESULT_BYTES: u64 = 16 << 20;
pub(super) const DEFAULT_MAX_EVENTS_PER_CALL: u32 = 1000;
/// A plugin's key-value quota (P8): room for a busy bot's state, small enough that a runaway
/// plugin cannot fill the disk.
pub(super) const DEFAULT_KV_QUOTA_MB: u64 = 64;
pub(super) const DEFAULT_RATE_LIMIT_GAP_MS: u64 = 500;
pub(super) const DEFAULT_MAX_CONCURRENT_CALLS: u64 = 64;
/// The folder created under the user's cache folder for compiled plugins.
pub(super) const CACHE_FOLDER_NAME: &str = "onebot-host";
/// The `plugins.cacheDir` value that turns the compile cache off.
pub(super) const CACHE_OFF: &str = "off";

/// The whole file. Serde names the type in type errors, hence the `expecting` texts.
#[derive(Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub(super) struct RawFile {
    pub(super) network: RawNetwork,
    pub(super) bot: RawBot,
    pub(super) plugins: RawPlugins,
    pub(super) limits: super::limits::RawHostLimits,
    /// Gateway mode (issue 24): absent means none.
    pub(super) upstream: Option<super::upstream::RawUpstream>,
}

/// NapCat's `network` object: its five lists (`super::raw_listener` for the three that listen,
/// `super::network` for the two the host connects from); anything else (NapCat's `plugins`,
/// …) is an unknown key.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawNetwork {
    pub(super) http_servers: Vec<RawListener<HttpServers>>,
    pub(super) websocket_servers: Vec<RawListener<WebsocketServers>>,
    pub(super) http_sse_servers: Vec<RawListener<HttpSseServers>>,
    pub(super) http_clients: Vec<RawHttpClient>,
    pub(super) websocket_clients: Vec<RawWsClient>,
}

#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawBot {
    pub(super) self_id: i64,
    pub(super) nickname: String,
}

impl Default for RawBot {
    fn default() -> Self {
        Self {
            self_id: DEFAULT_SELF_ID,
            nickname: DEFAULT_NICKNAME.to_owned(),
        }
    }
}

#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawPlugins {
    pub(super) dir: PathBuf,
    pub(super) watch: bool,
    /// `None` (absent or `null`) means the per-user default; `"off"` disables the cache.
    pub(super) cache_dir: Option<PathBuf>,
    pub(super) timeout_ms: u64,
    pub(super) memory_mb: u64,
    pub(super) max_result_bytes: u64,
    pub(super) max_events_per_call: u64,
    pub(super) kv_quota_mb: u64,
    pub(super) rate_limit_gap_ms: u64,
    pub(super) max_concurrent_calls: u64,
    /// Where plugins' persistent data (key-value stores) lives.
    pub(super) data_dir: PathBuf,
    /// Grants per plugin name, under the sidecar's (P6).
    pub(super) grants: BTreeMap<String, RawGrants>,
    /// P12: the variables `${VAR}` in a sidecar may name, per plugin name or `"*"`.
    pub(super) env: BTreeMap<String, Vec<String>>,
    /// P13: the most a sidecar may ask for, per plugin name or `"*"`.
    pub(super) ceilings: BTreeMap<String, super::trust::RawCeiling>,
}

impl Default for RawPlugins {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(DEFAULT_PLUGIN_DIR),
            watch: true,
            cache_dir: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            memory_mb: DEFAULT_MEMORY_MB,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
            max_events_per_call: u64::from(DEFAULT_MAX_EVENTS_PER_CALL),
            kv_quota_mb: DEFAULT_KV_QUOTA_MB,
            rate_limit_gap_ms: DEFAULT_RATE_LIMIT_GAP_MS,
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            grants: BTreeMap::new(),
            env: BTreeMap::new(),
            ceilings: BTreeMap::new(),
        }
    }
}

/// A plugin's sidecar `<name>.json5` (P6). Every field is optional: absent means "the
/// `plugins` section's default". New settings (config values, grants, warm instances) are
/// added here as `Option`s and resolved in `super::sidecar`.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawSidecar {
    pub(super) timeout_ms: Option<u64>,
    pub(super) memory_mb: Option<u64>,
    pub(super) max_result_bytes: Option<u64>,
    pub(super) max_events_per_call: Option<u64>,
    pub(super) kv_quota_mb: Option<u64>,
    pub(super) warm_instances: Option<u64>,
    pub(super) warm_max_calls: Option<u64>,
    /// Webhook routes (`super::routes`).
    pub(super) routes: Option<Vec<String>>,
    /// Event handling (`super::triggers`).
    pub(super) events: Option<Vec<String>>,
    pub(super) priority: Option<i64>,
    pub(super) on_error: Option<String>,
    pub(super) schedules: Option<Vec<super::triggers::RawSchedule>>,
    // The grants (`super::grants`), each absent unless granted.
    pub(super) config: Option<BTreeMap<String, Secret>>,
    pub(super) key_value: Option<Vec<String>>,
    pub(super) call_actions: Option<Vec<String>>,
    pub(super) allowed_outbound_hosts: Option<Vec<String>>,
}

impl RawSidecar {
    /// The sidecar's grant keys.
    pub(super) fn grants(&mut self) -> RawGrants {
        RawGrants {
            config: self.config.take(),
            key_value: self.key_value.take(),
            call_actions: self.call_actions.take(),
            allowed_outbound_hosts: self.allowed_outbound_hosts.take(),
        }
    }
}
