//! Which refusals of one plugin version were already logged at WARN: a plugin that keeps
//! asking for what it was not granted (mock-account sends without its `keyValue` grant, say)
//! gets one warning naming the fix per capability and name, and the rest at debug, instead
//! of a warning per call that floods the log and costs more than the call itself. The
//! plugin itself is told every time, in the error its import returns.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::sync::lock;

/// How many distinct refusals a version remembers; past it, new ones are logged at debug
/// too, so that a plugin making up names cannot grow the set or the log without bound.
const REMEMBERED: usize = 64;

/// Shared by all instances of one plugin version.
#[derive(Clone, Default)]
pub struct Refusals(Arc<Mutex<HashSet<String>>>);

impl Refusals {
    /// True the first time `what` (a capability and the name refused) is refused for this
    /// version: log that one at WARN.
    pub fn first(&self, what: &str) -> bool {
        let mut seen = lock(&self.0);
        if seen.len() >= REMEMBERED || seen.contains(what) {
            return false;
        }
        seen.insert(what.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_is_first_once_and_the_set_is_bounded() {
        let refusals = Refusals::default();
        assert!(refusals.first("kv default"));
        assert!(!refusals.first("kv default"));
        assert!(refusals.clone().first("kv other"), "clones share the set");
        assert!(!refusals.first("kv other"));
        for i in 0..200 {
            refusals.first(&format!("kv {i}"));
        }
        assert_eq!(lock(&refusals.0).len(), REMEMBERED);
        assert!(!refusals.first("kv never seen"));
    }
}
