//! Which refusals of one plugin version were already logged at WARN (SPEC P4, P9: a capability
//! used without its grant is refused, and the operator is told which sidecar key to add). A
//! plugin that keeps asking for what it was not granted (mock-account sends without its
//! `keyValue` grant, say) gets one warning per capability and name, and the rest at debug,
//! instead of a warning per call that floods the log and costs more than the call itself.
//! The plugin itself is told every time, in the error its import returns.

use std::sync::{Arc, Mutex};

use crate::metrics::PluginStats;
use crate::sync::lock;

/// How many distinct refusals a version remembers; past it, new ones are logged at debug
/// too, so that a plugin making up names cannot grow the list or the log without bound.
const REMEMBERED: usize = 64;

/// Shared by all instances of one plugin version: (capability, name) pairs already warned
/// about. A list, not a set: it is short, and a lookup by `&str` needs no allocation.
/// Every refusal, first or not, is counted in the plugin's stats (O5).
#[derive(Clone, Default)]
pub struct Refusals(Arc<Mutex<Vec<(&'static str, String)>>>, Arc<PluginStats>);

impl Refusals {
    /// Refusals counted into `stats`.
    pub fn counting(stats: Arc<PluginStats>) -> Self {
        Refusals(Arc::default(), stats)
    }

    /// The plugin's stats, which its other capability units count into too (O5).
    pub fn stats(&self) -> &Arc<PluginStats> {
        &self.1
    }

    /// True the first time `name` (a store, an action) of `capability` is refused for this
    /// version: log that one at WARN.
    pub fn first(&self, capability: &'static str, name: &str) -> bool {
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
}
