//! Refusals of what a plugin was not granted (SPEC P4, P9, O5): one way for every unit to
//! refuse, count and log them. The plugin is told every time, in the error its import
//! returns; the operator is told which sidecar key to add, once per plugin version,
//! capability and name at WARN and the rest at debug, so a plugin that keeps asking for what
//! it was not granted (mock-account sends without its `keyValue` grant, say) does not flood
//! the log with a warning per call that costs more than the call itself.

use std::fmt::Display;
use std::sync::{Arc, Mutex};

use tracing::field::display;

use crate::config::Grants;
use crate::metrics::PluginStats;
use crate::sync::lock;

/// How many distinct refusals a version remembers; past it, new ones are logged at debug
/// too, so that a plugin making up names cannot grow the list or the log without bound.
const REMEMBERED: usize = 64;

/// Shared by all instances of one plugin version: (capability, name) pairs already warned
/// about. A list, not a set: it is short, and a lookup by `&str` needs no allocation.
/// Every refusal, first or not, is counted in the plugin's stats (O5).
#[derive(Clone, Default)]
pub(crate) struct Refusals(Arc<Mutex<Vec<(&'static str, String)>>>, Arc<PluginStats>);

/// What a unit refused, each kind with the log field that names it.
#[derive(Clone, Copy)]
pub(crate) enum Refused<'a> {
    /// A key-value store, by its label (`keyValue`).
    Store(&'a str),
    /// A nested call of an action (`callActions`).
    Action(&'a str),
    /// An outbound request to an origin (`allowedOutboundHosts`), made by a call of `action`.
    Origin { origin: &'a str, action: &'a str },
}

impl Refused<'_> {
    /// The capability, as the refusal counter labels it (O5) and the log line opens.
    fn capability(self) -> &'static str {
        match self {
            Refused::Store(_) => "key-value",
            Refused::Action(_) => "call-action",
            Refused::Origin { .. } => "outbound",
        }
    }

    /// What the log line calls it: the capability, or for outbound HTTP the request.
    fn label(self) -> &'static str {
        match self {
            Refused::Origin { .. } => "outbound request",
            other => other.capability(),
        }
    }

    /// What was refused, which is warned about once.
    fn name(&self) -> &str {
        match self {
            Refused::Store(name) | Refused::Action(name) => name,
            Refused::Origin { origin, .. } => origin,
        }
    }
}

/// The plugin as a unit that checks grants sees it: its name, its grants and the refusals of
/// its version. Cheap to clone into each instance's state.
#[derive(Clone)]
pub(crate) struct Grantee {
    pub(crate) plugin: Arc<str>,
    pub(crate) grants: Arc<Grants>,
    pub(crate) refusals: Refusals,
}

impl Grantee {
    /// Refuses `what`: counts it (O5), logs `message` at WARN the first time for this version
    /// and at debug after, and returns `message`, for the guest. `message` names the plugin,
    /// what was refused and the sidecar key that would allow it.
    pub(crate) fn refuse(&self, what: Refused<'_>, message: String) -> String {
        let capability = what.capability();
        let label = what.label();
        let plugin = display(&self.plugin);
        // Each kind's own field, as operators filter the log by it: `store`, `action`, `origin`.
        let (store, action, origin) = match what {
            Refused::Store(store) => (Some(store), None, None),
            Refused::Action(action) => (None, Some(action), None),
            Refused::Origin { origin, action } => (None, Some(action), Some(origin)),
        };
        let (store, action, origin) = (field(store), field(action), field(origin));
        if self.refusals.first(capability, what.name()) {
            tracing::warn!(
                plugin,
                capability,
                store,
                action,
                origin,
                "{label} refused: {message} (its later refusals are logged at debug)"
            );
        } else {
            tracing::debug!(
                plugin,
                capability,
                store,
                action,
                origin,
                "{label} refused: {message}"
            );
        }
        message
    }
}

/// A log field that is left out when it has no value, and written bare (`store=default`).
fn field<T: Display>(value: Option<T>) -> Option<tracing::field::DisplayValue<T>> {
    value.map(display)
}

impl Refusals {
    /// Refusals counted into `stats`.
    pub(crate) fn counting(stats: Arc<PluginStats>) -> Self {
        Refusals(Arc::default(), stats)
    }

    /// The plugin's stats, which its other capability units count into too (O5).
    pub(crate) fn stats(&self) -> &Arc<PluginStats> {
        &self.1
    }

    /// Counts a refusal of `name` (a store, an action, an origin; a trigger's failure) of
    /// `capability`; true the first time for this version: log that one at WARN. Units go
    /// through [`Grantee::refuse`], which logs too.
    pub(crate) fn first(&self, capability: &'static str, name: &str) -> bool {
        self.1.refused(capability);
        let mut seen = lock(&self.0);
        if seen.len() >= REMEMBERED || seen.iter().any(|(c, n)| *c == capability && n == name) {
            return false;
        }
        seen.push((capability, name.to_owned()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_is_first_once_and_the_list_is_bounded() {
        let refusals = Refusals::default();
        assert!(refusals.first("kv", "default"));
        assert!(!refusals.first("kv", "default"));
        assert!(refusals.first("call-action", "default"), "per capability");
        assert!(
            refusals.clone().first("kv", "other"),
            "clones share the list"
        );
        assert!(!refusals.first("kv", "other"));
        for i in 0..200 {
            refusals.first("kv", &i.to_string());
        }
        assert_eq!(lock(&refusals.0).len(), REMEMBERED);
        assert!(!refusals.first("kv", "never seen"));
    }

    #[test]
    fn the_guest_is_told_every_time_and_each_kind_and_name_is_warned_about_once() {
        let grantee = Grantee {
            plugin: "p".into(),
            grants: Arc::default(),
            refusals: Refusals::default(),
        };
        let origin = |origin| Refused::Origin {
            origin,
            action: "act",
        };
        for what in [
            Refused::Store("default"),
            Refused::Store("default"),
            Refused::Action("default"),
            origin("http://a"),
            origin("http://a"),
            origin("http://b"),
        ] {
            assert_eq!(grantee.refuse(what, "told".into()), "told");
        }
        let seen = lock(&grantee.refusals.0).clone();
        let expected = [
            ("key-value", "default"),
            ("call-action", "default"),
            ("outbound", "http://a"),
            ("outbound", "http://b"),
        ];
        let expected: Vec<_> = expected.iter().map(|(c, n)| (*c, n.to_string())).collect();
        assert_eq!(
            seen, expected,
            "outbound is warned about once per origin too"
        );
    }
}
