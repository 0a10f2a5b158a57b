//! What is running, as one JSON value (SPEC H1): the host, its plugins with their limits and
//! grants, every action with who serves it, and the files that failed to load. `GET /`
//! answers it and `onebot-host plugins` prints it, so the two never disagree.

use serde_json::{Value, json};

use super::{Dispatcher, HostAction};
use crate::config::{ActionGrant, Grants};

impl Dispatcher {
    /// The health page's `data` (H1).
    pub fn describe(&self) -> Value {
        let snapshot = self.registry.snapshot();
        let plugins: Vec<Value> = snapshot
            .plugins
            .values()
            .map(|p| {
                json!({
                    "name": &*p.name,
                    "file": p.path.display().to_string(),
                    "version": p.version,
                    "actions": p.actions,
                    "size": p.size,
                    "loaded_at": unix(p.loaded_at),
                    "compile_ms": p.compile_time.as_secs_f64() * 1e3,
                    "cache_hit": p.cache_hit,
                    "timeout_ms": p.limits.timeout_ms,
                    "memory_mb": p.limits.memory_mb,
                    "warm_instances": p.warm.instances,
                    "grants": grants(&p.grants),
                    // T8: what starts it besides its actions.
                    "triggers": p.trigger_summary(),
                })
            })
            .collect();
        let mut actions: Vec<Value> = snapshot
            .actions()
            .into_iter()
            .map(|(action, p)| {
                json!({
                    "action": action,
                    "plugin": &*p.name,
                    "version": p.version,
                    "loaded_at": unix(p.loaded_at),
                })
            })
            .collect();
        for host in HostAction::ALL.map(HostAction::name) {
            if snapshot.provider(host).is_none() {
                actions.push(json!({"action": host, "plugin": null, "version": null}));
            }
        }
        let failures: Vec<Value> = self
            .registry
            .failures()
            .into_iter()
            .map(|(file, error)| json!({"file": file.display().to_string(), "error": error}))
            .collect();
        json!({
            "app_name": env!("CARGO_PKG_NAME"),
            "app_version": env!("CARGO_PKG_VERSION"),
            "self_id": self.self_id(),
            "generation": snapshot.generation,
            "plugins": plugins,
            "actions": actions,
            "failures": failures,
            // G4: null without an upstream.
            "upstream": self.upstream.as_ref().map(|u| u.describe()),
        })
    }
}

/// A plugin's grants (P4): the config keys but never their values, which may be secrets.
fn grants(grants: &Grants) -> Value {
    let call_actions = match &grants.call_actions {
        ActionGrant::All => json!(["*"]),
        ActionGrant::Only(names) => json!(names),
    };
    json!({
        "config": grants.config.keys().collect::<Vec<_>>(),
        // P12: the environment variables read into `config`, by name.
        "env": grants.env,
        "keyValue": grants.key_value,
        "callActions": call_actions,
        "allowedOutboundHosts": grants.outbound.iter().map(|p| &p.text).collect::<Vec<_>>(),
    })
}

fn unix(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
