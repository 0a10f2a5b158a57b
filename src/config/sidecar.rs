//! A plugin's own settings, from the `<name>.json5` beside `<name>.wasm` (SPEC P6), layered over
//! the `plugins` section's defaults (C4). Read with the same JSON5 rules, unknown-key warnings and
//! error messages as the main file (C1, C5).
//!
//! The sidecar is the plugin author's, so it only asks (issue 20 item 3): `${VAR}` in its
//! `config` must be allowed by the operator's `plugins.env` (P12), and its limits and grants
//! must stay within the operator's `plugins.ceilings` (P13); either refusal names the config
//! key that would allow it.
//!
//! To add a setting: an `Option` field in `raw::RawSidecar`, a field here, and one line in
//! `parse_sidecar` saying what "absent" means for it.

use std::path::Path;

use super::grants::{self, Grants, PartialGrants};
use super::raw::RawSidecar;
use super::trust::{PluginCeiling, Trust, listed};
use super::validate::PartialLimits;
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
    /// Idle instances kept for reuse; 0 = a fresh instance per call.
    pub instances: u32,
    /// Calls one instance serves before it is replaced by a fresh one.
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
    pub(crate) fn defaults(limits: Limits, base: Option<&PartialGrants>) -> Self {
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

/// What a sidecar is read against: the operator's defaults, grants and trust for its plugin.
#[derive(Clone, Copy, Debug)]
pub struct SidecarBase<'a> {
    /// The plugin's name (its file stem), as the config's per-plugin keys name it.
    pub plugin: &'a str,
    /// The `plugins` section's limits.
    pub limits: Limits,
    /// The operator's `plugins.grants.<plugin>`.
    pub grants: Option<&'a PartialGrants>,
    /// The operator's `plugins.env` and `plugins.ceilings`.
    pub trust: &'a Trust,
}

/// Checks a sidecar `text` read from `path`; keys it leaves out take `base`'s limits and, for
/// grants, the operator's. Returns the settings and one warning per unknown key.
pub fn parse_sidecar(
    text: &str,
    path: &Path,
    base: &SidecarBase<'_>,
) -> Result<(PluginSettings, Vec<String>), ConfigError> {
    let (mut raw, warnings) = decode::decode::<RawSidecar>(text, path)?;
    let allow = |name: &str| base.trust.allow_env(base.plugin, name);
    let asked = grants::resolve(raw.grants(), path, "", &grants::process_env, &allow)?;
    let ceiling = base
        .trust
        .ceiling(base.plugin, base.limits)
        .with_operator_grants(base.grants);
    within_grants(base, path, &asked, &ceiling)?;
    let grants = asked.over(base.grants);
    let limits = validate::limits(path, "", PartialLimits::from(&raw).or(base.limits))?;
    let most = ceiling.limits;
    let asked_limits = [
        ("timeoutMs", raw.timeout_ms, most.timeout_ms, " ms"),
        ("memoryMb", raw.memory_mb, most.memory_mb, " MiB"),
        (
            "maxResultBytes",
            raw.max_result_bytes,
            most.max_result_bytes,
            " bytes",
        ),
        (
            "maxEventsPerCall",
            raw.max_events_per_call,
            u64::from(most.max_events_per_call),
            "",
        ),
        ("kvQuotaMb", raw.kv_quota_mb, most.kv_quota_mb, " MiB"),
    ];
    for (key, asked, most, unit) in asked_limits {
        if let Some(asked) = asked.filter(|asked| *asked > most) {
            let (asked, most) = (format!("{asked}{unit}"), format!("{most}{unit}"));
            return Err(base
                .trust
                .refuse(path, base.plugin, key, &asked, &most, "raise"));
        }
    }
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

impl From<&RawSidecar> for PartialLimits {
    fn from(sidecar: &RawSidecar) -> Self {
        PartialLimits {
            timeout_ms: sidecar.timeout_ms,
            memory_mb: sidecar.memory_mb,
            max_result_bytes: sidecar.max_result_bytes,
            max_events_per_call: sidecar.max_events_per_call,
            kv_quota_mb: sidecar.kv_quota_mb,
        }
    }
}

/// P13: each outbound pattern and action the sidecar grants itself lies within the ceiling
/// (widened by what the operator granted this plugin).
fn within_grants(
    base: &SidecarBase<'_>,
    path: &Path,
    asked: &PartialGrants,
    ceiling: &PluginCeiling,
) -> Result<(), ConfigError> {
    let patterns = || listed(ceiling.outbound.iter().map(|p| p.text.as_str()));
    for (i, pattern) in asked.outbound.iter().flatten().enumerate() {
        if !ceiling.outbound.iter().any(|c| c.covers(pattern)) {
            let key = format!("allowedOutboundHosts[{i}]");
            let asked = format!("{:?}", pattern.text);
            return Err(base.trust.refuse(
                path,
                base.plugin,
                &key,
                &asked,
                &patterns(),
                "add it to",
            ));
        }
    }
    if let Some(action) = asked
        .call_actions
        .as_ref()
        .and_then(|a| ceiling.call_actions.first_beyond(a))
    {
        let allowed = match &ceiling.call_actions {
            grants::ActionGrant::All => "[*]".to_owned(),
            grants::ActionGrant::Only(names) => listed(names.iter().map(String::as_str)),
        };
        let asked = format!("{action:?}");
        return Err(base.trust.refuse(
            path,
            base.plugin,
            "callActions",
            &asked,
            &allowed,
            "add it to",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Limits, PluginSettings, SidecarBase, Trust, Warm};
    use crate::config::ConfigError;

    const PATH: &str = "plugins/echo.json5";

    /// `parse_sidecar` for the plugin `echo`, with `defaults` and no operator grants or trust.
    fn parse_sidecar(
        text: &str,
        path: &Path,
        defaults: Limits,
        grants: Option<&super::PartialGrants>,
    ) -> Result<(PluginSettings, Vec<String>), ConfigError> {
        let trust = Trust::default();
        let base = SidecarBase {
            plugin: "echo",
            limits: defaults,
            grants,
            trust: &trust,
        };
        super::parse_sidecar(text, path, &base)
    }

    #[test]
    #[rustfmt::skip]
    fn p6_sidecar_overrides_the_defaults_key_by_key() {
        let defaults = Limits { timeout_ms: 5_000, memory_mb: 4096, ..Limits::default() };
        let cases = [
            ("{}", Limits { timeout_ms: 5_000, memory_mb: 4096, ..Limits::default() }),
            ("{ timeoutMs: 100 }", Limits { timeout_ms: 100, memory_mb: 4096, ..Limits::default() }),
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

    #[test]
    #[rustfmt::skip]
    fn p12_p13_a_sidecar_asks_only_within_the_operators_env_and_ceilings() {
        use std::collections::BTreeMap;

        use crate::config::grants::{RawGrants, any_variable, resolve};
        use crate::config::trust::RawCeiling;

        let path = Path::new(PATH);
        let config = Path::new("c.json5");
        let ceiling = RawCeiling {
            timeout_ms: Some(9_000),
            allowed_outbound_hosts: Some(vec!["https://*.example.com".into()]),
            call_actions: Some(vec!["get_status".into()]),
            ..RawCeiling::default()
        };
        let trust = Trust::validate(
            config,
            BTreeMap::from([("echo".to_owned(), vec!["PATH".to_owned()])]),
            BTreeMap::from([("*".to_owned(), ceiling)]),
        )
        .expect("valid");
        // The operator granted echo one more origin in plugins.grants.echo.
        let operator = RawGrants {
            allowed_outbound_hosts: Some(vec!["http://127.0.0.1:8080".into()]),
            ..RawGrants::default()
        };
        let operator = resolve(operator, config, "plugins.grants.echo.", &|_| None, &any_variable)
            .expect("valid");
        let base = SidecarBase {
            plugin: "echo",
            limits: Limits::default(),
            grants: Some(&operator),
            trust: &trust,
        };
        let parse = |text: &str| super::parse_sidecar(text, path, &base).map(|(s, _)| s);

        let accepted = [
            "{ timeoutMs: 9000, memoryMb: 128, config: { p: '${PATH}' } }",
            "{ allowedOutboundHosts: ['https://api.example.com', 'https://*.a.example.com', \
               'http://127.0.0.1:8080'] }",
            "{ callActions: ['get_status'], keyValue: ['any', 'label'] }",
        ];
        for text in accepted {
            parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        let settings = parse("{ config: { p: 'x${PATH}' } }").expect("allowed");
        assert_eq!(settings.grants.env.iter().collect::<Vec<_>>(), ["PATH"]);
        assert!(settings.grants.summary().contains(&"env [PATH]".to_owned()));

        let refused = [
            ("{ config: { k: '${HOME}' } }",
             "config.k: ${HOME}: the environment variable HOME is not allowed for this plugin's \
              sidecar; the operator allows it by adding \"HOME\" to plugins.env.echo in c.json5"),
            ("{ timeoutMs: 9001 }",
             "timeoutMs: 9001 ms is beyond the operator's ceiling (9000 ms); to allow it, raise \
              plugins.ceilings.echo.timeoutMs in c.json5"),
            ("{ memoryMb: 129 }",
             "memoryMb: 129 MiB is beyond the operator's ceiling (128 MiB); to allow it, raise \
              plugins.ceilings.echo.memoryMb in c.json5"),
            ("{ kvQuotaMb: 65 }", "kvQuotaMb: 65 MiB is beyond the operator's ceiling (64 MiB)"),
            ("{ allowedOutboundHosts: ['https://api.example.com', '*://*:*'] }",
             "allowedOutboundHosts[1]: \"*://*:*\" is beyond the operator's ceiling \
              ([https://*.example.com, http://127.0.0.1:8080]); to allow it, add it to \
              plugins.ceilings.echo.allowedOutboundHosts in c.json5"),
            ("{ allowedOutboundHosts: ['https://example.com'] }", "allowedOutboundHosts[0]"),
            ("{ allowedOutboundHosts: ['https://*.example.com:*'] }", "allowedOutboundHosts[0]"),
            ("{ callActions: ['get_status', 'send_msg'] }",
             "callActions: \"send_msg\" is beyond the operator's ceiling ([get_status]); to allow \
              it, add it to plugins.ceilings.echo.callActions in c.json5"),
            ("{ callActions: ['*'] }", "callActions: \"*\" is beyond"),
        ];
        for (text, expected) in refused {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.starts_with(&format!("{PATH}: ")), "{error}");
            assert!(error.contains(expected), "{text}\n{error}\nwanted: {expected}");
        }
        // The value of a refused variable is never read, so never shown.
        let home = std::env::var("HOME").unwrap_or_default();
        let error = parse("{ config: { k: '${HOME}' } }").expect_err("refused").to_string();
        assert!(home.is_empty() || !error.contains(&home), "{error}");
    }
}
