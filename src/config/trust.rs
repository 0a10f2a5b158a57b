//! What the operator lets a plugin's own sidecar ask for (issue 20 item 3, SPEC P12–P14).
//!
//! A sidecar `<name>.json5` is written by the plugin's author and copied by users; the config
//! file is the operator's. So a sidecar only *asks*, within two lines the operator draws in
//! the `plugins` section:
//!
//! - `env: { "<plugin>": ["VAR", …], "*": [...] }` — the environment variables `${VAR}` in
//!   that plugin's sidecar may name (`"*"`: in every sidecar). Nothing by default.
//! - `ceilings: { "<plugin>": { … }, "*": { … } }` — the most a sidecar may set its limits to
//!   (`timeoutMs`, `memoryMb`, `maxResultBytes`, `maxEventsPerCall`, `kvQuotaMb`; by default
//!   the `plugins` section's own value, so a sidecar may lower a limit but not raise it) and
//!   grant itself (`allowedOutboundHosts` patterns, `callActions` names; by default none). A
//!   plugin's own entry wins over `"*"` key by key.
//!
//! What the operator writes in `plugins.grants.<name>` is granted as written and also widens
//! that plugin's ceiling: its sidecar may ask for what the operator granted it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::grants::{ActionGrant, HostPattern, PartialGrants};
use super::validate::{self, PartialLimits};
use super::{ConfigError, Limits};

/// The `plugins.env` and `plugins.ceilings` key naming every plugin.
pub(super) const ANY_PLUGIN: &str = "*";

/// One `plugins.ceilings` entry as written.
#[derive(Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawCeiling {
    pub(super) timeout_ms: Option<u64>,
    pub(super) memory_mb: Option<u64>,
    pub(super) max_result_bytes: Option<u64>,
    pub(super) max_events_per_call: Option<u64>,
    pub(super) kv_quota_mb: Option<u64>,
    pub(super) allowed_outbound_hosts: Option<Vec<String>>,
    pub(super) call_actions: Option<Vec<String>>,
}

/// One `plugins.ceilings` entry, checked; `None` is a key left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Ceiling {
    timeout_ms: Option<u64>,
    memory_mb: Option<u64>,
    max_result_bytes: Option<u64>,
    max_events_per_call: Option<u64>,
    kv_quota_mb: Option<u64>,
    outbound: Option<Vec<HostPattern>>,
    call_actions: Option<ActionGrant>,
}

/// `plugins.env` and `plugins.ceilings`, checked, with what they need to explain a refusal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trust {
    /// The config file, named in refusals as the file to edit.
    config: PathBuf,
    env: BTreeMap<String, BTreeSet<String>>,
    ceilings: BTreeMap<String, Ceiling>,
}

/// The most one plugin's sidecar may ask for, all keys resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PluginCeiling {
    pub(super) limits: Limits,
    pub(super) outbound: Vec<HostPattern>,
    pub(super) call_actions: ActionGrant,
}

impl Trust {
    /// Checks the sections as written in the config at `path`.
    pub(super) fn validate(
        path: &Path,
        env: BTreeMap<String, Vec<String>>,
        ceilings: BTreeMap<String, RawCeiling>,
    ) -> Result<Trust, ConfigError> {
        let mut checked_env = BTreeMap::new();
        for (plugin, names) in env {
            if let Some(bad) = names.iter().find(|n| !is_variable_name(n)) {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    key: format!("plugins.env.{plugin}"),
                    message: format!(
                        "{bad:?}: expected an environment variable's name (letters, digits and \
                         `_`, not starting with a digit), without `${{}}`"
                    ),
                });
            }
            checked_env.insert(plugin, names.into_iter().collect());
        }
        let mut checked = BTreeMap::new();
        for (plugin, raw) in ceilings {
            let ceiling = Ceiling::validate(path, &format!("plugins.ceilings.{plugin}."), raw)?;
            checked.insert(plugin, ceiling);
        }
        Ok(Trust {
            config: path.to_owned(),
            env: checked_env,
            ceilings: checked,
        })
    }

    /// Whether `${name}` may appear in the sidecar of `plugin`; the refusal says which key
    /// allows it, never the variable's value.
    pub(super) fn allow_env(&self, plugin: &str, name: &str) -> Result<(), String> {
        let listed = |key: &str| self.env.get(key).is_some_and(|names| names.contains(name));
        if listed(plugin) || listed(ANY_PLUGIN) {
            return Ok(());
        }
        Err(format!(
            "${{{name}}}: the environment variable {name} is not allowed for this plugin's \
             sidecar; the operator allows it by adding \"{name}\" to plugins.env.{plugin} in {}",
            self.config.display()
        ))
    }

    /// The ceiling of `plugin`: its own entry, then `"*"`'s, then `defaults` (the `plugins`
    /// section's limits) and no grants.
    pub(super) fn ceiling(&self, plugin: &str, defaults: Limits) -> PluginCeiling {
        let own = self.ceilings.get(plugin);
        let any = self.ceilings.get(ANY_PLUGIN);
        let pick = |get: fn(&Ceiling) -> Option<u64>, default: u64| {
            own.and_then(get)
                .or_else(|| any.and_then(get))
                .unwrap_or(default)
        };
        let limits = Limits {
            timeout_ms: pick(|c| c.timeout_ms, defaults.timeout_ms),
            memory_mb: pick(|c| c.memory_mb, defaults.memory_mb),
            max_result_bytes: pick(|c| c.max_result_bytes, defaults.max_result_bytes),
            max_events_per_call: u32::try_from(pick(
                |c| c.max_events_per_call,
                u64::from(defaults.max_events_per_call),
            ))
            .unwrap_or(u32::MAX),
            kv_quota_mb: pick(|c| c.kv_quota_mb, defaults.kv_quota_mb),
        };
        let outbound = own
            .and_then(|c| c.outbound.clone())
            .or_else(|| any.and_then(|c| c.outbound.clone()))
            .unwrap_or_default();
        let call_actions = own
            .and_then(|c| c.call_actions.clone())
            .or_else(|| any.and_then(|c| c.call_actions.clone()))
            .unwrap_or_default();
        PluginCeiling {
            limits,
            outbound,
            call_actions,
        }
    }

    /// The refusal of a sidecar at `sidecar` asking beyond the ceiling of `plugin`: the
    /// sidecar's key, what it asked, the ceiling, and the config key that raises it.
    pub(super) fn refuse(
        &self,
        sidecar: &Path,
        plugin: &str,
        key: &str,
        asked: &str,
        ceiling: &str,
        raise: &str,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: sidecar.to_owned(),
            key: key.to_owned(),
            message: format!(
                "{asked} is beyond the operator's ceiling ({ceiling}); to allow it, {raise} \
                 plugins.ceilings.{plugin}.{} in {}",
                ceiling_key(key),
                self.config.display()
            ),
        }
    }
}

/// The ceiling key a sidecar key is checked against (`allowedOutboundHosts[2]` →
/// `allowedOutboundHosts`).
fn ceiling_key(key: &str) -> &str {
    key.split_once('[').map_or(key, |(key, _)| key)
}

impl From<&RawCeiling> for PartialLimits {
    fn from(ceiling: &RawCeiling) -> Self {
        PartialLimits {
            timeout_ms: ceiling.timeout_ms,
            memory_mb: ceiling.memory_mb,
            max_result_bytes: ceiling.max_result_bytes,
            max_events_per_call: ceiling.max_events_per_call,
            kv_quota_mb: ceiling.kv_quota_mb,
        }
    }
}

impl Ceiling {
    fn validate(path: &Path, prefix: &str, raw: RawCeiling) -> Result<Ceiling, ConfigError> {
        // The same ranges as the limits themselves: a ceiling out of range is a typo.
        let asked = PartialLimits::from(&raw).or(Limits::default());
        validate::limits(path, prefix, asked)?;
        let outbound = match raw.allowed_outbound_hosts {
            Some(texts) => {
                let mut patterns = Vec::new();
                for (i, text) in texts.iter().enumerate() {
                    let pattern = HostPattern::parse(text).map_err(|m| ConfigError::Invalid {
                        path: path.to_owned(),
                        key: format!("{prefix}allowedOutboundHosts[{i}]"),
                        message: format!("{text:?}: {m}"),
                    })?;
                    patterns.push(pattern);
                }
                Some(patterns)
            }
            None => None,
        };
        Ok(Ceiling {
            timeout_ms: raw.timeout_ms,
            memory_mb: raw.memory_mb,
            max_result_bytes: raw.max_result_bytes,
            max_events_per_call: raw.max_events_per_call,
            kv_quota_mb: raw.kv_quota_mb,
            outbound,
            call_actions: raw.call_actions.map(ActionGrant::from_names),
        })
    }
}

impl PluginCeiling {
    /// Widens the ceiling by what the operator granted the plugin in `plugins.grants.<name>`.
    pub(super) fn with_operator_grants(mut self, base: Option<&PartialGrants>) -> PluginCeiling {
        let Some(base) = base else {
            return self;
        };
        if let Some(outbound) = &base.outbound {
            self.outbound.extend(outbound.iter().cloned());
        }
        if let Some(actions) = &base.call_actions {
            self.call_actions = self.call_actions.union(actions);
        }
        self
    }
}

/// `NAME` as an environment variable's name is written in a shell.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A list for a refusal message: `[a, b]`, or `none`.
pub(super) fn listed<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for item in items {
        let sep = if out.is_empty() { "" } else { ", " };
        let _ = write!(out, "{sep}{item}");
    }
    if out.is_empty() {
        "none".to_owned()
    } else {
        format!("[{out}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(env: &[(&str, &[&str])], ceilings: &[(&str, RawCeiling)]) -> Trust {
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        let ceilings = ceilings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        Trust::validate(Path::new("c.json5"), env, ceilings).expect("valid")
    }

    #[test]
    fn p12_env_is_allowed_per_plugin_or_for_all_and_the_refusal_names_the_key() {
        let trust = trust(&[("fwd", &["TOKEN"]), ("*", &["TZ"])], &[]);
        assert!(trust.allow_env("fwd", "TOKEN").is_ok());
        assert!(trust.allow_env("fwd", "TZ").is_ok());
        assert!(trust.allow_env("other", "TZ").is_ok());
        let refused = trust.allow_env("other", "TOKEN").expect_err("not listed");
        assert!(
            refused.contains("\"TOKEN\" to plugins.env.other in c.json5"),
            "{refused}"
        );
        let bad = Trust::validate(
            Path::new("c.json5"),
            BTreeMap::from([("x".to_owned(), vec!["${A}".to_owned()])]),
            BTreeMap::new(),
        )
        .expect_err("not a name");
        assert!(bad.to_string().contains("plugins.env.x"), "{bad}");
    }

    #[test]
    fn p13_a_plugins_ceiling_is_its_entry_then_stars_then_the_defaults() {
        let trust = trust(
            &[],
            &[
                (
                    "*",
                    RawCeiling {
                        timeout_ms: Some(9_000),
                        memory_mb: Some(256),
                        call_actions: Some(vec!["get_status".into()]),
                        ..RawCeiling::default()
                    },
                ),
                (
                    "big",
                    RawCeiling {
                        memory_mb: Some(1024),
                        ..RawCeiling::default()
                    },
                ),
            ],
        );
        let defaults = Limits::default();
        let big = trust.ceiling("big", defaults);
        assert_eq!((big.limits.timeout_ms, big.limits.memory_mb), (9_000, 1024));
        assert_eq!(big.limits.kv_quota_mb, defaults.kv_quota_mb);
        assert!(big.call_actions.allows("get_status"));
        let none = Trust::default().ceiling("x", defaults);
        assert_eq!(none.limits, defaults);
        assert!(none.outbound.is_empty() && !none.call_actions.allows("get_status"));
    }
}
