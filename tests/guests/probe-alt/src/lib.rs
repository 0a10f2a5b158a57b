//! probe-alt: a test-fixture plugin for onebot-host's integration tests (not shipped).
//!
//! It claims `probe_echo`, which `probe` also provides (SPEC P3: two plugins, one action), and
//! `alt_only`. Both answer `{"from":"probe-alt","action":…,"params":…}`.
//!
//! It is built for the world `capable-plugin` (SPEC P4) to exercise the grants:
//! - `alt_config` answers `{"all": <get-all as an object>, "one": <get(params.key)>}`;
//! - `alt_call` calls `params.action` with `params.params` and answers
//!   `{"data": <data>}` or `{"error": {"retcode", "message"}}`, so a test sees a nested
//!   call's failure as data;
//! - `alt_recurse` calls itself `params.n` more times (A→A→…), answering the depth reached,
//!   or passes the innermost failure through as its own.

wit_bindgen::generate!({ path: "../../../wit", world: "capable-plugin", generate_all });

use exports::onebot::plugin::onebot_action::{ActionCall, ActionError, Guest};
use onebot::plugin::actions;
use serde_json::{Map, Value, json};
use wasi::config::store;

struct ProbeAlt;

export!(ProbeAlt);

impl Guest for ProbeAlt {
    fn actions() -> Vec<String> {
        ["probe_echo", "alt_only", "alt_config", "alt_call", "alt_recurse"]
            .map(String::from)
            .to_vec()
    }

    fn handle(call: ActionCall) -> Result<String, ActionError> {
        let params: Value = serde_json::from_str(&call.params).unwrap_or(Value::Null);
        match call.action.as_str() {
            "alt_config" => {
                let all: Map<String, Value> = match store::get_all() {
                    Ok(pairs) => pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
                    Err(_) => Map::new(),
                };
                let key = params["key"].as_str().unwrap_or("");
                let one = store::get(key).ok().flatten();
                Ok(json!({ "all": all, "one": one }).to_string())
            }
            "alt_call" => {
                let action = params["action"].as_str().unwrap_or("");
                let inner = params.get("params").cloned().unwrap_or(json!({}));
                let answer = match actions::call(action, &inner.to_string()) {
                    Ok(data) => {
                        json!({ "data": serde_json::from_str::<Value>(&data).unwrap_or(Value::Null) })
                    }
                    Err(e) => json!({ "error": { "retcode": e.retcode, "message": e.message } }),
                };
                Ok(answer.to_string())
            }
            "alt_recurse" => {
                let n = params["n"].as_u64().unwrap_or(0);
                let depth = params["depth"].as_u64().unwrap_or(0);
                if n == 0 {
                    return Ok(json!({ "depth": depth }).to_string());
                }
                let next = json!({ "n": n - 1, "depth": depth + 1 });
                actions::call("alt_recurse", &next.to_string())
            }
            _ => Ok(json!({ "from": "probe-alt", "action": call.action, "params": params })
                .to_string()),
        }
    }
}
