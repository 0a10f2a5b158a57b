//! probe-alt: a test-fixture plugin for onebot-host's integration tests (not shipped).
//!
//! It claims `probe_echo`, which `probe` also provides (SPEC P3: two plugins, one action), and
//! `alt_only`. Both answer `{"from":"probe-alt","action":…,"params":…}`.

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use exports::onebot::plugin::onebot_action::{ActionCall, ActionError, Guest};
use serde_json::{Value, json};

struct ProbeAlt;

export!(ProbeAlt);

impl Guest for ProbeAlt {
    fn actions() -> Vec<String> {
        vec!["probe_echo".to_string(), "alt_only".to_string()]
    }

    fn handle(call: ActionCall) -> Result<String, ActionError> {
        let params: Value = serde_json::from_str(&call.params).unwrap_or(Value::Null);
        Ok(json!({ "from": "probe-alt", "action": call.action, "params": params }).to_string())
    }
}
