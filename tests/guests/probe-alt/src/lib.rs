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
//! - `alt_kv` runs one key-value operation (P8) `params.op` on `params.store` (default
//!   `"default"`) and answers `{"ok": <result>}` or `{"error": <message>}`; values are text
//!   (`params.value`, or `params.repeat` bytes of `x`), read back as text.

wit_bindgen::generate!({ path: "../../../wit", world: "capable-plugin", generate_all });

use exports::onebot::plugin::onebot_action::{ActionCall, ActionError, Guest};
use onebot::plugin::{actions, key_value};
use serde_json::{Map, Value, json};
use wasi::config::store;

struct ProbeAlt;

export!(ProbeAlt);

impl Guest for ProbeAlt {
    fn actions() -> Vec<String> {
        [
            "probe_echo",
            "alt_only",
            "alt_config",
            "alt_call",
            "alt_recurse",
            "alt_kv",
        ]
        .map(String::from)
        .to_vec()
    }

    fn handle(call: ActionCall) -> Result<String, ActionError> {
        let params: Value = serde_json::from_str(&call.params).unwrap_or(Value::Null);
        match call.action.as_str() {
            "alt_config" => {
                let all: Map<String, Value> = match store::get_all() {
                    Ok(pairs) => pairs
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
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
            "alt_kv" => Ok(match kv(&params) {
                Ok(answer) => json!({ "ok": answer }),
                Err(message) => json!({ "error": message }),
            }
            .to_string()),
            _ => Ok(
                json!({ "from": "probe-alt", "action": call.action, "params": params }).to_string(),
            ),
        }
    }
}

/// One key-value operation as `alt_kv` describes it.
fn kv(params: &Value) -> Result<Value, String> {
    let store = params["store"].as_str().unwrap_or("default");
    let key = params["key"].as_str().unwrap_or("");
    let text = |name: &str| -> Vec<u8> {
        match params.get("repeat").and_then(Value::as_u64) {
            Some(n) if name == "value" => vec![b'x'; n as usize],
            _ => params[name].as_str().unwrap_or("").as_bytes().to_vec(),
        }
    };
    let shown = |bytes: Vec<u8>| Value::String(String::from_utf8_lossy(&bytes).into_owned());
    Ok(match params["op"].as_str().unwrap_or("") {
        "get" => key_value::get(store, key)?.map_or(Value::Null, shown),
        "set" => {
            key_value::set(store, key, &text("value"))?;
            Value::Null
        }
        "delete" => {
            key_value::delete(store, key)?;
            Value::Null
        }
        "exists" => Value::Bool(key_value::exists(store, key)?),
        "list" => {
            let prefix = params["prefix"].as_str().unwrap_or("");
            let limit = params["limit"].as_u64().unwrap_or(100) as u32;
            json!(key_value::list_keys(store, prefix, limit)?)
        }
        "increment" => json!(key_value::increment(
            store,
            key,
            params["delta"].as_i64().unwrap_or(1)
        )?),
        "cas" => {
            let old = params["old"].as_str().map(|s| s.as_bytes().to_vec());
            json!(key_value::compare_and_swap(
                store,
                key,
                old.as_deref(),
                &text("new")
            )?)
        }
        other => return Err(format!("alt_kv: unknown op {other:?}")),
    })
}
