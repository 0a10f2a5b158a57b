//! The `limits` section: how much memory and how many queued calls the host allows itself,
//! whoever sends them (SPEC C6; the limits themselves are M5).
//!
//! Every key bounds something that used to grow with what clients sent (so far: the segments
//! a `message` expands into and their size). Defaults and ranges live here together so one
//! file says what the host promises.

use std::path::Path;

use serde::Deserialize;

use super::ConfigError;
use super::validate::{Bound, check};

/// One MiB, for the defaults below.
const MIB: u64 = 1024 * 1024;
/// M5: a real message has tens of segments; ten thousand is far beyond any chat client.
pub(super) const DEFAULT_MAX_MESSAGE_SEGMENTS: u64 = 10_000;
/// M5: twice the default `maxBodyBytes`, room for a base64 image written as a segment.
pub(super) const DEFAULT_MAX_MESSAGE_BYTES: u64 = 32 * MIB;
/// T12: five minutes, room for a long poll (Matrix `/sync?timeout=30000`) with margin.
pub(super) const DEFAULT_MAX_SCHEDULE_TIMEOUT_MS: u64 = 300_000;
/// E5b: `_async` calls accepted and not yet finished. Four times the default
/// `maxConcurrentCalls`: a burst of sends queues, a flood is told "busy" at once.
pub(super) const DEFAULT_ASYNC_BACKLOG: u64 = 256;
/// W7: four default-size requests and their replies; one frame or reply larger than this is
/// still served when nothing else of the connection is pending.
pub(super) const DEFAULT_WS_PENDING_BYTES_PER_CONNECTION: u64 = 64 * MIB;
/// W7: what every WebSocket connection together may make the host hold.
pub(super) const DEFAULT_WS_PENDING_BYTES: u64 = 512 * MIB;

const SEGMENTS: Bound = Bound {
    range: 1..=10_000_000,
    unit: " segments",
};
/// At least 64 KiB: below that, ordinary messages would be refused.
const BYTES: Bound = Bound {
    range: 64 * 1024..=super::MAX_BODY_BYTES_LIMIT,
    unit: " bytes",
};
const SCHEDULE_MS: Bound = Bound {
    range: 1..=86_400_000,
    unit: " ms",
};

const BACKLOG: Bound = Bound {
    range: 1..=1_000_000,
    unit: " calls",
};
/// At least 64 KiB, as for a message: below that, ordinary replies would close sockets.
const PENDING_BYTES: Bound = Bound {
    range: 64 * 1024..=(1 << 40),
    unit: " bytes",
};

/// The section as written; absent keys are the defaults.
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawHostLimits {
    pub(super) max_message_segments: u64,
    pub(super) max_message_bytes: u64,
    pub(super) max_schedule_timeout_ms: u64,
    pub(super) async_backlog: u64,
    pub(super) ws_pending_bytes_per_connection: u64,
    pub(super) ws_pending_bytes: u64,
}

impl Default for RawHostLimits {
    fn default() -> Self {
        Self {
            max_message_segments: DEFAULT_MAX_MESSAGE_SEGMENTS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_schedule_timeout_ms: DEFAULT_MAX_SCHEDULE_TIMEOUT_MS,
            async_backlog: DEFAULT_ASYNC_BACKLOG,
            ws_pending_bytes_per_connection: DEFAULT_WS_PENDING_BYTES_PER_CONNECTION,
            ws_pending_bytes: DEFAULT_WS_PENDING_BYTES,
        }
    }
}

/// The validated `limits` section (C6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HostLimits {
    /// `maxMessageSegments` (M5).
    pub(crate) max_message_segments: usize,
    /// `maxMessageBytes` (M5): a `message`'s size as JSON once normalised.
    pub(crate) max_message_bytes: usize,
    /// `maxScheduleTimeoutMs` (T12): the longest a schedule's run may take, whatever its
    /// sidecar's `timeoutMs` asks.
    pub(crate) max_schedule_timeout_ms: u64,
    /// `asyncBacklog` (E5b): `_async` calls accepted and not finished; past it, 1200 at once.
    pub(crate) async_backlog: usize,
    /// `wsPendingBytesPerConnection` (W7): bytes of one WebSocket connection's running calls'
    /// frames and unwritten replies; past it, the connection is closed with 1008.
    pub(crate) ws_pending_bytes_per_connection: usize,
    /// `wsPendingBytes` (W7): the same over every connection; past it, calls are answered
    /// 1200 "busy" without running.
    pub(crate) ws_pending_bytes: usize,
}

impl Default for HostLimits {
    fn default() -> Self {
        let raw = RawHostLimits::default();
        Self::from_raw(&raw)
    }
}

impl HostLimits {
    fn from_raw(raw: &RawHostLimits) -> HostLimits {
        HostLimits {
            max_message_segments: size(raw.max_message_segments),
            max_message_bytes: size(raw.max_message_bytes),
            max_schedule_timeout_ms: raw.max_schedule_timeout_ms,
            async_backlog: size(raw.async_backlog),
            ws_pending_bytes_per_connection: size(raw.ws_pending_bytes_per_connection),
            ws_pending_bytes: size(raw.ws_pending_bytes),
        }
    }
}

/// Lossless on 64-bit targets; a 32-bit one saturates a byte size above 4 GiB.
fn size(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

pub(super) fn validate(raw: &RawHostLimits, path: &Path) -> Result<HostLimits, ConfigError> {
    let keys = [
        ("maxMessageSegments", raw.max_message_segments, &SEGMENTS),
        ("maxMessageBytes", raw.max_message_bytes, &BYTES),
        (
            "maxScheduleTimeoutMs",
            raw.max_schedule_timeout_ms,
            &SCHEDULE_MS,
        ),
        ("asyncBacklog", raw.async_backlog, &BACKLOG),
        (
            "wsPendingBytesPerConnection",
            raw.ws_pending_bytes_per_connection,
            &PENDING_BYTES,
        ),
        ("wsPendingBytes", raw.ws_pending_bytes, &PENDING_BYTES),
    ];
    for (key, value, bound) in keys {
        check(path, format!("limits.{key}"), value, bound)?;
    }
    Ok(HostLimits::from_raw(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c6_limits_out_of_range_name_the_key() {
        let raw = RawHostLimits {
            max_message_segments: 0,
            ..RawHostLimits::default()
        };
        let error = validate(&raw, Path::new("c.json5")).expect_err("0 segments");
        assert_eq!(
            error.to_string(),
            "c.json5: limits.maxMessageSegments: expected 1 to 10000000 segments, got 0"
        );
        let raw = RawHostLimits {
            max_message_bytes: 10,
            ..RawHostLimits::default()
        };
        let error = validate(&raw, Path::new("c.json5")).expect_err("10 bytes");
        assert!(
            error.to_string().contains("limits.maxMessageBytes"),
            "{error}"
        );
        let raw = RawHostLimits {
            async_backlog: 0,
            ..RawHostLimits::default()
        };
        let error = validate(&raw, Path::new("c.json5")).expect_err("no backlog");
        assert_eq!(
            error.to_string(),
            "c.json5: limits.asyncBacklog: expected 1 to 1000000 calls, got 0"
        );
        let raw = RawHostLimits {
            ws_pending_bytes_per_connection: 1000,
            ..RawHostLimits::default()
        };
        let error = validate(&raw, Path::new("c.json5")).expect_err("too small");
        assert!(
            error
                .to_string()
                .contains("limits.wsPendingBytesPerConnection: expected 65536"),
            "{error}"
        );
        let ok = validate(&RawHostLimits::default(), Path::new("c.json5")).expect("defaults");
        assert_eq!(ok, HostLimits::default());
    }
}
