//! A plugin's own settings, from the `<name>.json5` beside `<name>.wasm` (SPEC P6), layered over
//! the `plugins` section's defaults (C4). Read with the same JSON5 rules, unknown-key warnings and
//! error messages as the main file (C1, C5).
//!
//! To add a setting: an `Option` field in `raw::RawSidecar`, a field here, and one line in
//! `parse_sidecar` saying what "absent" means for it.

use std::path::Path;

use super::grants::{self, Grants, PartialGrants};
use super::raw::RawSidecar;
use super::{ConfigError, Limits, decode, validate};

/// What one plugin runs with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginSettings {
    /// The config defaults with the sidecar's limits (`timeoutMs`, `memoryMb`,
    /// `maxResultBytes`, `maxEventsPerCall`) on top.
    pub limits: Limits,
    /// P5's opt-in: reuse instances instead of a fresh one per call.
    pub warm: Warm,
    /// P4: the capabilities granted beyond logging and events (`super::grants`).
    pub grants: Grants,
    /// T20: the webhook routes served under `/hooks/<plugin>` (`super::routes`); none unless
    /// the sidecar lists them.
    pub routes: Vec<String>,
    /// T1–T5: which events its handler sees, in which order, and what its failure does.
    pub handler: super::triggers::Handler,
    /// T9: when the host calls its schedule handler; none unless the sidecar lists them.
    pub schedules: Vec<super::triggers::Schedule>,
}

/// Warm instances (P5): up to `instances` idle instances are kept and reused, each for at
/// most `max_calls` calls; `instances: 0` (the default) means a fresh instance per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Warm {
    pub instances: u32,
    pub max_calls: u32,
}

impl Default for Warm {
    fn default() -> Self {
        Warm {
            instances: 0,
            max_calls: 1000,
        }
    }
}

impl PluginSettings {
    /// The settings of a plugin without a sidecar file: the config's limits, and the
    /// config's grants for it (`base`), if any.
    pub fn defaults(limits: Limits, base: Option<&PartialGrants>) -> Self {
        Self {
            limits,
            warm: Warm::default(),
            grants: PartialGrants::default().over(base),
            routes: Vec::new(),
            handler: Default::default(),
            schedules: Vec::new(),
        }
    }
}

/// Checks a sidecar `text` read from `path`; keys it leaves out take `defaults` and, for
/// grants, the config's `base`. Returns the settings and one warning per unknown key.
pub fn parse_sidecar(
    text: &str,
    path: &Path,
    defaults: Limits,
    base: Option<&PartialGrants>,
) -> Result<(PluginSettings, Vec<String>), ConfigError> {
    let (mut raw, warnings) = decode::decode::<RawSidecar>(text, path)?;
    let grants = grants::resolve(raw.grants(), path, "", &grants::process_env)?.over(base);
    let limits = validate::limits(
        path,
        "",
        validate::RawLimits {
            timeout_ms: raw.timeout_ms.unwrap_or(defaults.timeout_ms),
            memory_mb: raw.memory_mb.unwrap_or(defaults.memory_mb),
            max_result_bytes: raw.max_result_bytes.unwrap_or(defaults.max_result_bytes),
            max_events_per_call: raw
                .max_events_per_call
                .unwrap_or(u64::from(defaults.max_events_per_call)),
            kv_quota_mb: raw.kv_quota_mb.unwrap_or(defaults.kv_quota_mb),
        },
    )?;
    let defaults_warm = Warm::default();
    let warm = Warm {
        instances: validate::bounded(path, "warmInstances", raw.warm_instances, 0..=16)?
            .unwrap_or(defaults_warm.instances),
        max_calls: validate::bounded(path, "warmMaxCalls", raw.warm_max_calls, 1..=1_000_000)?
            .unwrap_or(defaults_warm.max_calls),
    };
    let routes = super::routes::validate(path, raw.routes.take().unwrap_or_default())?;
    let handler =
        super::triggers::handler(path, raw.events.take(), raw.priority, raw.on_error.take())?;
    let schedules = super::triggers::schedules(path, raw.schedules.take().unwrap_or_default())?;
    Ok((
        PluginSettings {
            limits,
            warm,
            grants,
            routes,
            handler,
            schedules,
        },
        warnings,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Limits, PluginSettings, Warm, parse_sidecar};

    const PATH: &str = "plugins/echo.json5";

    #[test]
    #[rustfmt::skip]
    fn p6_sidecar_overrides_the_defaults_key_by_key() {
        let defaults = Limits { timeout_ms: 5_000, memory_mb: 128, ..Limits::default() };
        let cases = [
            ("{}", Limits { timeout_ms: 5_000, memory_mb: 128, ..Limits::default() }),
            ("{ timeoutMs: 100 }", Limits { timeout_ms: 100, memory_mb: 128, ..Limits::default() }),
            ("{ memoryMb: 512 }", Limits { timeout_ms: 5_000, memory_mb: 512, ..Limits::default() }),
            (r#"{"timeoutMs": 1, "memoryMb": 4096}"#, Limits { timeout_ms: 1, memory_mb: 4096, ..Limits::default() }),
        ];
        for (text, limits) in cases {
            let (settings, warnings) =
                parse_sidecar(text, Path::new(PATH), defaults, None).expect("valid sidecar");
            assert_eq!(settings, PluginSettings { limits, ..PluginSettings::default() }, "{text}");
            assert!(warnings.is_empty(), "{text}: {warnings:?}");
        }
        assert_eq!(PluginSettings::defaults(defaults, None).limits, defaults);
    }

    #[test]
    #[rustfmt::skip]
    fn p5_warm_instances_are_opt_in_and_bounded() {
        let path = Path::new(PATH);
        let defaults = Limits::default();
        let warm = |text| parse_sidecar(text, path, defaults, None).map(|(s, _)| s.warm);
        assert_eq!(warm("{}").expect("ok"), Warm { instances: 0, max_calls: 1000 });
        assert_eq!(warm("{ warmInstances: 4 }").expect("ok"), Warm { instances: 4, max_calls: 1000 });
        assert_eq!(
            warm("{ warmInstances: 2, warmMaxCalls: 3 }").expect("ok"),
            Warm { instances: 2, max_calls: 3 }
        );
        let error = warm("{ warmInstances: 17 }").expect_err("too many");
        assert_eq!(error.to_string(), format!("{PATH}: warmInstances: expected 0 to 16, got 17"));
        assert!(warm("{ warmMaxCalls: 0 }").is_err());
    }

    #[test]
    #[rustfmt::skip]
    fn p6_c5_sidecar_unknown_keys_warn_and_bad_values_are_refused() {
        let path = Path::new(PATH);
        let defaults = Limits::default();
        let (settings, warnings) =
            parse_sidecar("{ timeoutMs: 10, grant: ['http'] }", path, defaults, None).expect("valid");
        assert_eq!(settings.limits.timeout_ms, 10);
        assert_eq!(warnings, ["plugins/echo.json5: unknown key `grant` ignored"]);

        let refused = [
            ("{ timeoutMs: 0 }", ": timeoutMs: expected 1 to 86400000 ms, got 0"),
            ("{ memoryMb: 5000 }", ": memoryMb: expected 1 to 4096 MiB, got 5000"),
            ("{ memoryMb: '1' }", r#":1:13: memoryMb: invalid type: string "1", expected u64"#),
            ("{ timeoutMs: 1", ":1:1: the file ends before the object or array opened here is \
                                closed (EOF parsing object)"),
        ];
        for (text, expected) in refused {
            let error = parse_sidecar(text, path, defaults, None).expect_err(text);
            assert_eq!(error.to_string(), format!("{PATH}{expected}"));
        }
    }
}
