//! What a plugin is granted (SPEC P4, P5, P6): every capability is denied unless a grant
//! lists it, in the plugin's sidecar or in the config's `plugins.grants.<name>`.
//!
//! - `config`: values the plugin reads through `wasi:config/store`. `${NAME}` in a value is
//!   the host's environment variable NAME, resolved at load, so secrets stay out of files;
//!   `$$` is a literal `$`. An unset variable refuses the plugin, naming it.
//! - `keyValue`: the store labels the plugin may open.
//! - `callActions`: the actions it may call, or `"*"` for all.
//! - `allowedOutboundHosts`: `scheme://host[:port]` patterns for outbound HTTP. `*` stands for
//!   any scheme, host or port; a host `*.example.com` matches its subdomains (not itself);
//!   without a port, the scheme's default (80 for http, 443 for https; with the scheme `*`,
//!   each scheme's own: `*://host` is http on 80 and https on 443, P4a).
//!
//! A sidecar key replaces the config's for that key (not merged item by item): the sidecar
//! beside the plugin is what its author wrote, the config is the operator's default. What a
//! sidecar may name and grant itself is bounded by the operator (`super::trust`, P12, P13).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, Secret};

/// The grants as written, before `${VAR}` and host patterns are checked.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(crate) struct RawGrants {
    /// Values as written: already secret when literal, and `${VAR}` names a secret's source.
    pub(crate) config: Option<BTreeMap<String, Secret>>,
    pub(crate) key_value: Option<Vec<String>>,
    pub(crate) call_actions: Option<Vec<String>>,
    pub(crate) allowed_outbound_hosts: Option<Vec<String>>,
}

/// Grants checked but not yet combined: `None` is a key the file left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialGrants {
    pub(crate) config: Option<BTreeMap<String, Secret>>,
    /// The environment variables whose values are in `config` (names only).
    pub(crate) env: BTreeSet<String>,
    pub(crate) key_value: Option<Vec<String>>,
    pub(crate) call_actions: Option<ActionGrant>,
    pub(crate) outbound: Option<Vec<HostPattern>>,
}

impl PartialGrants {
    /// `self` (a sidecar's) over `base` (the config's), key by key.
    pub(crate) fn over(self, base: Option<&PartialGrants>) -> Grants {
        let base = base.cloned().unwrap_or_default();
        // The variables travel with the `config` map they were read into.
        let (config, env) = match self.config {
            Some(config) => (config, self.env),
            None => (base.config.unwrap_or_default(), base.env),
        };
        Grants {
            config,
            env,
            key_value: self.key_value.or(base.key_value).unwrap_or_default(),
            call_actions: self.call_actions.or(base.call_actions).unwrap_or_default(),
            outbound: self.outbound.or(base.outbound).unwrap_or_default(),
        }
    }
}

/// What one plugin may use beyond computing, logging and emitting events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// `config`, with `${VAR}` resolved; each value a [`Secret`], so `Debug` shows the keys only.
    pub(crate) config: BTreeMap<String, Secret>,
    /// The environment variables `config` holds the values of: named in the load log, so the
    /// operator sees what each plugin learnt (never the values).
    pub(crate) env: BTreeSet<String>,
    /// `keyValue` labels.
    pub(crate) key_value: Vec<String>,
    /// `callActions`.
    pub(crate) call_actions: ActionGrant,
    /// `allowedOutboundHosts`.
    pub(crate) outbound: Vec<HostPattern>,
}

impl Grants {
    /// The grants named in log lines and `GET /`: one short phrase per capability granted.
    pub(crate) fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.config.is_empty() {
            let keys: Vec<&str> = self.config.keys().map(String::as_str).collect();
            out.push(format!("config [{}]", keys.join(", ")));
        }
        if !self.env.is_empty() {
            let names: Vec<&str> = self.env.iter().map(String::as_str).collect();
            out.push(format!("env [{}]", names.join(", ")));
        }
        if !self.key_value.is_empty() {
            out.push(format!("keyValue [{}]", self.key_value.join(", ")));
        }
        match &self.call_actions {
            ActionGrant::All => out.push("callActions [*]".to_owned()),
            ActionGrant::Only(names) if !names.is_empty() => {
                out.push(format!("callActions [{}]", names.join(", ")));
            }
            ActionGrant::Only(_) => {}
        }
        if !self.outbound.is_empty() {
            let hosts: Vec<&str> = self.outbound.iter().map(|p| p.text.as_str()).collect();
            out.push(format!("allowedOutboundHosts [{}]", hosts.join(", ")));
        }
        out
    }
}

/// Which actions a plugin may call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ActionGrant {
    All,
    Only(Vec<String>),
}

impl Default for ActionGrant {
    fn default() -> Self {
        ActionGrant::Only(Vec::new())
    }
}

impl ActionGrant {
    /// A `callActions` list as written: `"*"` anywhere in it grants every action.
    pub(crate) fn from_names(names: Vec<String>) -> ActionGrant {
        if names.iter().any(|n| n == "*") {
            ActionGrant::All
        } else {
            ActionGrant::Only(names)
        }
    }

    pub(crate) fn allows(&self, action: &str) -> bool {
        match self {
            ActionGrant::All => true,
            ActionGrant::Only(names) => names.iter().any(|n| n == action),
        }
    }

    /// Every action either grant allows.
    pub(crate) fn union(&self, other: &ActionGrant) -> ActionGrant {
        match (self, other) {
            (ActionGrant::Only(a), ActionGrant::Only(b)) => {
                ActionGrant::Only(a.iter().chain(b).cloned().collect())
            }
            _ => ActionGrant::All,
        }
    }

    /// The first thing `asked` grants that this one does not (`"*"` for all of them).
    pub(crate) fn first_beyond<'a>(&self, asked: &'a ActionGrant) -> Option<&'a str> {
        match (self, asked) {
            (ActionGrant::All, _) => None,
            (ActionGrant::Only(_), ActionGrant::All) => Some("*"),
            (ActionGrant::Only(_), ActionGrant::Only(names)) => {
                names.iter().map(String::as_str).find(|n| !self.allows(n))
            }
        }
    }
}

/// One `allowedOutboundHosts` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostPattern {
    /// As written, for logs and `GET /`.
    pub(crate) text: String,
    /// `None` for `*`.
    scheme: Option<String>,
    host: HostMatch,
    port: PortMatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortMatch {
    /// `:*`.
    Any,
    /// A number, or left out with the scheme `http` (80) or `https` (443).
    Is(u16),
    /// Left out with the scheme `*`: each scheme's default port.
    SchemeDefault,
}

/// The port a URL of `scheme` has when it names none.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// `*.example.com`: the stored text is `.example.com`.
    Suffix(String),
}

impl HostPattern {
    /// Parses `scheme://host[:port]`; the error says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<HostPattern, String> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err("expected scheme://host[:port], e.g. https://api.example.com".to_owned());
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "*" => None,
            s @ ("http" | "https") => Some(s.to_owned()),
            other => return Err(format!("scheme `{other}`: expected http, https or *")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err("a host pattern has no path".to_owned());
        }
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            // An IPv6 address: `[::1]` or `[::1]:8080`.
            match inner.split_once(']') {
                Some((host, "")) => (host, None),
                Some((host, port)) => match port.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("`{rest}`: expected [address]:port")),
                },
                None => return Err(format!("`{rest}`: `[` without `]`")),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        let port = match port {
            Some("*") => PortMatch::Any,
            Some(port) => PortMatch::Is(
                port.parse::<u16>()
                    .map_err(|_| format!("port `{port}`: expected a number or *"))?,
            ),
            None => match scheme.as_deref().and_then(default_port) {
                Some(port) => PortMatch::Is(port),
                None => PortMatch::SchemeDefault,
            },
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostMatch::Suffix(format!(".{suffix}"))
        } else if host.is_empty() || host.contains('*') {
            return Err(format!(
                "host `{host}`: expected a name, an address, * or *.domain"
            ));
        } else {
            HostMatch::Exact(host)
        };
        Ok(HostPattern {
            text: text.to_owned(),
            scheme,
            host,
            port,
        })
    }

    /// Whether every request `other` allows is allowed by this pattern too (SPEC P13: a
    /// sidecar's pattern within the operator's ceiling).
    pub(crate) fn covers(&self, other: &HostPattern) -> bool {
        let scheme = match (&self.scheme, &other.scheme) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) => false,
        };
        let port = match (self.port, other.port) {
            (PortMatch::Any, _) => true,
            (PortMatch::Is(mine), PortMatch::Is(theirs)) => mine == theirs,
            (PortMatch::SchemeDefault, PortMatch::SchemeDefault) => true,
            // `http://h:80` is within `*://h`; `*://h:80` is not (it allows https on 80).
            (PortMatch::SchemeDefault, PortMatch::Is(theirs)) => other
                .scheme
                .as_deref()
                .and_then(default_port)
                .is_some_and(|port| port == theirs),
            (PortMatch::Is(_), _) | (PortMatch::SchemeDefault, PortMatch::Any) => false,
        };
        let host = match (&self.host, &other.host) {
            (HostMatch::Any, _) => true,
            (HostMatch::Exact(mine), HostMatch::Exact(theirs)) => mine == theirs,
            (HostMatch::Suffix(mine), HostMatch::Exact(theirs) | HostMatch::Suffix(theirs)) => {
                theirs.ends_with(mine.as_str())
            }
            _ => false,
        };
        scheme && port && host
    }

    /// Whether a request to `scheme://host:port` is allowed by this pattern.
    pub(crate) fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.scheme
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(scheme))
            && match self.port {
                PortMatch::Any => true,
                PortMatch::Is(p) => p == port,
                PortMatch::SchemeDefault => default_port(scheme) == Some(port),
            }
            && match &self.host {
                HostMatch::Any => true,
                HostMatch::Exact(exact) => exact == host,
                HostMatch::Suffix(suffix) => host.ends_with(suffix.as_str()),
            }
    }
}

/// Checks `raw` (from `path`, its keys under `prefix`): `${VAR}` resolved with `env` once
/// `allow` lets the file name the variable (its refusal is the message), labels and host
/// patterns checked.
pub(crate) fn resolve(
    raw: RawGrants,
    path: &Path,
    prefix: &str,
    env: &dyn Fn(&str) -> Option<String>,
    allow: &dyn Fn(&str) -> Result<(), String>,
) -> Result<PartialGrants, ConfigError> {
    let invalid = |key: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key: format!("{prefix}{key}"),
        message,
    };
    let mut names = BTreeSet::new();
    let config = match raw.config {
        Some(values) => {
            let mut config = BTreeMap::new();
            for (key, value) in values {
                let invalid_value = |m| invalid(format!("config.{key}"), m);
                // Every variable is judged before any is read: a refusal never depends on
                // whether (or to what) another variable is set.
                for name in variables(value.expose()) {
                    allow(name).map_err(invalid_value)?;
                    names.insert(name.to_owned());
                }
                let resolved = expand(value.expose(), env).map_err(invalid_value)?;
                config.insert(key, Secret::from(resolved));
            }
            Some(config)
        }
        None => None,
    };
    if let Some(bad) = raw
        .key_value
        .iter()
        .flatten()
        .find(|l| l.is_empty() || l.len() > 64 || l.contains(['/', '\0']))
    {
        return Err(invalid(
            "keyValue".to_owned(),
            format!("label {bad:?}: expected 1 to 64 characters, no `/`"),
        ));
    }
    let call_actions = raw.call_actions.map(ActionGrant::from_names);
    let outbound = match raw.allowed_outbound_hosts {
        Some(texts) => {
            let mut outbound = Vec::new();
            for (i, text) in texts.iter().enumerate() {
                let pattern = HostPattern::parse(text).map_err(|m| {
                    invalid(
                        format!("allowedOutboundHosts[{i}]"),
                        format!("{text:?}: {m}"),
                    )
                })?;
                outbound.push(pattern);
            }
            Some(outbound)
        }
        None => None,
    };
    Ok(PartialGrants {
        config,
        env: names,
        key_value: raw.key_value,
        call_actions,
        outbound,
    })
}

/// `${NAME}` → the variable's value; `$$` → `$`; any other `$` stays.
pub(super) fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err("`${` without a closing `}`".to_owned());
            };
            let name = &after[..end];
            match env(name) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(format!(
                        "environment variable {name} is not set (the value names ${{{name}}})"
                    ));
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The names of the `${NAME}` in `value`, as [`expand`] reads them (`$$` is no variable).
pub(super) fn variables(value: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                break; // `expand` refuses it
            };
            names.push(&after[..end]);
            rest = &after[end + 1..];
        } else {
            rest = &rest[1..];
        }
    }
    names
}

/// Any variable: the operator's own config file names what it likes.
pub(crate) fn any_variable(_: &str) -> Result<(), String> {
    Ok(())
}

/// The process environment, for [`resolve`].
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
#[path = "grants_tests.rs"]
mod tests;
