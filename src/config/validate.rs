//! Raw file → `Config`: value ranges, duplicate listeners, folders (SPEC C2–C5, W6, E5).
//!
//! Checks stop at the first problem: the operator fixes one line and runs again, and the process
//! never starts half-configured (C5).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use super::listeners::{clients, servers};
use super::raw::{self, RawFile, RawPlugins};
use super::{
    Bot, Config, ConfigError, Limits, Loaded, MAX_BODY_BYTES_LIMIT, MEMORY_MB_LIMIT, MILLIS_LIMIT,
    Plugins, WS_QUEUE_LIMIT,
};

/// An accepted range and how to describe it to the operator.
pub(super) struct Bound {
    pub(super) range: RangeInclusive<u64>,
    pub(super) unit: &'static str,
}

pub(super) const BODY_BYTES: Bound = Bound {
    range: 1..=MAX_BODY_BYTES_LIMIT,
    unit: " bytes (5000 MB)",
};
pub(super) const HEART_MS: Bound = Bound {
    range: 0..=MILLIS_LIMIT,
    unit: " ms (0 = off)",
};
/// At least 100 ms: a smaller value would cut off honest clients on a slow network.
pub(super) const REQUEST_TIMEOUT_MS: Bound = Bound {
    range: 100..=MILLIS_LIMIT,
    unit: " ms",
};
const CONCURRENT_CALLS: Bound = Bound {
    range: 1..=4096,
    unit: " calls",
};
const GAP_MS: Bound = Bound {
    range: 0..=MILLIS_LIMIT,
    unit: " ms (0 = no gap)",
};
const TIMEOUT_MS: Bound = Bound {
    range: 1..=MILLIS_LIMIT,
    unit: " ms",
};
const MEMORY_MB: Bound = Bound {
    range: 1..=MEMORY_MB_LIMIT,
    unit: " MiB",
};
// Lossless: usize is at most 64 bits on every target Rust supports.
pub(super) const WS_QUEUE: Bound = Bound {
    range: 1..=WS_QUEUE_LIMIT as u64,
    unit: " messages",
};

/// The environment the default `cacheDir` comes from; a parameter so tests neither depend on
/// nor mutate the process environment.
#[derive(Clone, Debug, Default)]
pub(super) struct CacheEnv {
    pub(super) xdg_cache_home: Option<OsString>,
    pub(super) home: Option<OsString>,
}

impl CacheEnv {
    pub(super) fn from_process() -> Self {
        Self {
            xdg_cache_home: std::env::var_os("XDG_CACHE_HOME"),
            home: std::env::var_os("HOME"),
        }
    }

    /// `$XDG_CACHE_HOME/onebot-host`, else `$HOME/.cache/onebot-host`. The XDG spec says a
    /// relative `$XDG_CACHE_HOME` is invalid and must be ignored.
    fn default_cache_dir(&self) -> Option<PathBuf> {
        let xdg = self.xdg_cache_home.as_ref().map(PathBuf::from);
        if let Some(xdg) = xdg.filter(|dir| dir.is_absolute()) {
            return Some(xdg.join(raw::CACHE_FOLDER_NAME));
        }
        let home = PathBuf::from(self.home.as_ref().filter(|home| !home.is_empty())?);
        Some(home.join(".cache").join(raw::CACHE_FOLDER_NAME))
    }
}

pub(super) fn config(
    raw: RawFile,
    path: &Path,
    env: &CacheEnv,
    mut warnings: Vec<String>,
) -> Result<Loaded, ConfigError> {
    let mut network = raw.network;
    let servers = servers(&mut network, path)?;
    let (http_clients, ws_clients) = clients(&mut network, path)?;
    if servers.is_empty() && http_clients.is_empty() && ws_clients.is_empty() {
        warnings.push(format!(
            "{}: no enabled httpServers: nothing will listen",
            path.display()
        ));
    }
    let plugins = plugins(raw.plugins, path, env, &mut warnings)?;
    let bot = Bot {
        self_id: raw.bot.self_id,
        nickname: raw.bot.nickname,
    };
    let limits = super::limits::validate(&raw.limits, path)?;
    let upstream = match raw.upstream {
        Some(raw) => Some(super::upstream::validate(
            raw,
            path,
            &super::grants::process_env,
        )?),
        None => None,
    };
    let config = Config {
        path: path.to_owned(),
        servers,
        http_clients,
        ws_clients,
        bot,
        plugins,
        limits,
        upstream,
    };
    Ok(Loaded { config, warnings })
}

fn plugins(
    raw: RawPlugins,
    path: &Path,
    env: &CacheEnv,
    warnings: &mut Vec<String>,
) -> Result<Plugins, ConfigError> {
    let limits = limits(
        path,
        "plugins.",
        RawLimits {
            timeout_ms: raw.timeout_ms,
            memory_mb: raw.memory_mb,
            max_result_bytes: raw.max_result_bytes,
            max_events_per_call: raw.max_events_per_call,
            kv_quota_mb: raw.kv_quota_mb,
        },
    )?;
    check(
        path,
        "plugins.rateLimitGapMs".to_owned(),
        raw.rate_limit_gap_ms,
        &GAP_MS,
    )?;
    check(
        path,
        "plugins.maxConcurrentCalls".to_owned(),
        raw.max_concurrent_calls,
        &CONCURRENT_CALLS,
    )?;
    if raw.dir.as_os_str().is_empty() {
        return Err(invalid(
            path,
            "plugins.dir",
            "empty; expected a folder path",
        ));
    }
    let cache_dir = match raw.cache_dir {
        Some(dir) if dir.as_os_str() == raw::CACHE_OFF => None,
        Some(dir) if dir.as_os_str().is_empty() => {
            let expected = "empty; expected a folder path, \"off\", or null for the default";
            return Err(invalid(path, "plugins.cacheDir", expected));
        }
        Some(dir) => Some(beside(path, &dir)),
        None => {
            let dir = env.default_cache_dir();
            if dir.is_none() {
                warnings.push(format!(
                    "{}: plugins.cacheDir: neither $XDG_CACHE_HOME nor $HOME is set; \
                     compiled plugins will not be cached",
                    path.display()
                ));
            }
            dir
        }
    };
    if raw.data_dir.as_os_str().is_empty() {
        return Err(invalid(
            path,
            "plugins.dataDir",
            "empty; expected a folder path",
        ));
    }
    let mut grants = BTreeMap::new();
    for (name, raw_grants) in raw.grants {
        let prefix = format!("plugins.grants.{name}.");
        let resolved = super::grants::resolve(
            raw_grants,
            path,
            &prefix,
            &super::grants::process_env,
            &super::grants::any_variable,
        )?;
        grants.insert(name, resolved);
    }
    let trust = super::trust::Trust::validate(path, raw.env, raw.ceilings)?;
    Ok(Plugins {
        dir: beside(path, &raw.dir),
        data_dir: beside(path, &raw.data_dir),
        grants,
        trust,
        watch: raw.watch,
        cache_dir,
        limits,
        rate_limit_gap_ms: raw.rate_limit_gap_ms,
        // Bounded to 1..=4096 just above.
        max_concurrent_calls: u32::try_from(raw.max_concurrent_calls).unwrap_or(4096),
    })
}

/// A folder named in the config file: relative means "next to the config file", so the file
/// works the same from any working directory (C4). `join` keeps an absolute `dir` as it is.
fn beside(config: &Path, dir: &Path) -> PathBuf {
    config.parent().unwrap_or(Path::new("")).join(dir)
}

/// The limits as written, before their bounds are checked.
pub(super) struct RawLimits {
    pub(super) timeout_ms: u64,
    pub(super) memory_mb: u64,
    pub(super) max_result_bytes: u64,
    pub(super) max_events_per_call: u64,
    pub(super) kv_quota_mb: u64,
}

/// The limits a sidecar or a ceiling sets: each `None` unless its key is written.
pub(super) struct PartialLimits {
    pub(super) timeout_ms: Option<u64>,
    pub(super) memory_mb: Option<u64>,
    pub(super) max_result_bytes: Option<u64>,
    pub(super) max_events_per_call: Option<u64>,
    pub(super) kv_quota_mb: Option<u64>,
}

impl PartialLimits {
    /// Each limit set here, else `defaults`'s; bounds not yet checked.
    pub(super) fn or(self, defaults: Limits) -> RawLimits {
        RawLimits {
            timeout_ms: self.timeout_ms.unwrap_or(defaults.timeout_ms),
            memory_mb: self.memory_mb.unwrap_or(defaults.memory_mb),
            max_result_bytes: self.max_result_bytes.unwrap_or(defaults.max_result_bytes),
            max_events_per_call: (self.max_events_per_call)
                .unwrap_or(u64::from(defaults.max_events_per_call)),
            kv_quota_mb: self.kv_quota_mb.unwrap_or(defaults.kv_quota_mb),
        }
    }
}

const RESULT_BYTES: Bound = Bound {
    range: 1..=(1 << 30),
    unit: " bytes",
};
const EVENTS_PER_CALL: Bound = Bound {
    range: 0..=1_000_000,
    unit: "",
};
/// Up to 1 TiB: the bound only keeps the byte count far from overflowing.
const KV_QUOTA_MB: Bound = Bound {
    range: 1..=(1 << 20),
    unit: " MiB",
};

/// The `Limits` checks, shared by the `plugins` section (C4) and sidecars (P6); `prefix` is the
/// section the keys sit in. Checked in this order, so the first bad key is the one reported.
pub(super) fn limits(path: &Path, prefix: &str, raw: RawLimits) -> Result<Limits, ConfigError> {
    let checks = [
        ("timeoutMs", raw.timeout_ms, &TIMEOUT_MS),
        ("memoryMb", raw.memory_mb, &MEMORY_MB),
        ("maxResultBytes", raw.max_result_bytes, &RESULT_BYTES),
        (
            "maxEventsPerCall",
            raw.max_events_per_call,
            &EVENTS_PER_CALL,
        ),
        ("kvQuotaMb", raw.kv_quota_mb, &KV_QUOTA_MB),
    ];
    for (key, value, bound) in checks {
        check(path, format!("{prefix}{key}"), value, bound)?;
    }
    Ok(Limits {
        kv_quota_mb: raw.kv_quota_mb,
        timeout_ms: raw.timeout_ms,
        memory_mb: raw.memory_mb,
        max_result_bytes: raw.max_result_bytes,
        max_events_per_call: u32::try_from(raw.max_events_per_call).unwrap_or(u32::MAX),
    })
}

/// An optional whole-number setting within `range`, as a `u32`.
pub(super) fn bounded(
    path: &Path,
    key: &str,
    value: Option<u64>,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u32>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let bound = Bound { range, unit: "" };
    check(path, key.to_owned(), value, &bound)?;
    Ok(Some(u32::try_from(value).unwrap_or(u32::MAX)))
}

pub(super) fn check(
    path: &Path,
    key: String,
    value: u64,
    bound: &Bound,
) -> Result<(), ConfigError> {
    if bound.range.contains(&value) {
        return Ok(());
    }
    let (min, max) = (bound.range.start(), bound.range.end());
    let message = format!("expected {min} to {max}{}, got {value}", bound.unit);
    Err(ConfigError::Invalid {
        path: path.to_owned(),
        key,
        message,
    })
}

pub(super) fn invalid(path: &Path, key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    }
}
