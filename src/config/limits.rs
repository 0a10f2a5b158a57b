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
pub const DEFAULT_MAX_MESSAGE_SEGMENTS: u64 = 10_000;
/// M5: twice the default `maxBodyBytes`, room for a base64 image written as a segment.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 32 * MIB;
/// T12: five minutes, room for a long poll (Matrix `/sync?timeout=30000`) with margin.
pub const DEFAULT_MAX_SCHEDULE_TIMEOUT_MS: u64 = 300_000;

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

/// The section as written; absent keys are the defaults.
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawHostLimits {
    pub max_message_segments: u64,
    pub max_message_bytes: u64,
    pub max_schedule_timeout_ms: u64,
}

impl Default for RawHostLimits {
    fn default() -> Self {
        Self {
            max_message_segments: DEFAULT_MAX_MESSAGE_SEGMENTS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_schedule_timeout_ms: DEFAULT_MAX_SCHEDULE_TIMEOUT_MS,
        }
    }
}

/// The validated `limits` section (C6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostLimits {
    /// `maxMessageSegments` (M5).
    pub max_message_segments: usize,
    /// `maxMessageBytes` (M5): a `message`'s size as JSON once normalised.
    pub max_message_bytes: usize,
    /// `maxScheduleTimeoutMs` (T12): the longest a schedule's run may take, whatever its
    /// sidecar's `timeoutMs` asks.
    pub max_schedule_timeout_ms: u64,
}

impl Default for HostLimits {
    fn default() -> Self {
        let raw = RawHostLimits::default();
        Self {
            max_message_segments: size(raw.max_message_segments),
            max_message_bytes: size(raw.max_message_bytes),
            max_schedule_timeout_ms: raw.max_schedule_timeout_ms,
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
    ];
    for (key, value, bound) in keys {
        check(path, format!("limits.{key}"), value, bound)?;
    }
    Ok(HostLimits {
        max_message_segments: size(raw.max_message_segments),
        max_message_bytes: size(raw.max_message_bytes),
        max_schedule_timeout_ms: raw.max_schedule_timeout_ms,
    })
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
        let ok = validate(&RawHostLimits::default(), Path::new("c.json5")).expect("defaults");
        assert_eq!(ok, HostLimits::default());
    }
}
