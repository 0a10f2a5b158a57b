//! What is running, as one typed, serialisable [`Description`] (SPEC H1): the host, its plugins
//! with their limits and grants, every action with who serves it, and the files that failed to
//! load. `GET /` answers it and `onebot-host plugins` prints it, so the two never disagree.

use serde::Serialize;

use super::{Dispatcher, HostAction};
use crate::config::{ActionGrant, Grants};
use crate::upstream::UpstreamInfo;

/// What runs (H1): the `data` of `GET /`, and what `onebot-host plugins` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Description {
    pub(crate) app_name: &'static str,
    pub(crate) app_version: &'static str,
    pub(crate) self_id: i64,
    /// The registry's snapshot number: it grows by one at every change of the plugin set.
    pub(crate) generation: u64,
    /// Every loaded plugin, by name.
    pub plugins: Vec<PluginInfo>,
    /// Every action with who serves it: the plugins', then the host's own that no plugin
    /// provides (`plugin` and `version` null).
    pub actions: Vec<ActionInfo>,
    /// The files that failed to load, with why.
    pub failures: Vec<FailureInfo>,
    /// G4: null without an upstream.
    pub upstream: Option<UpstreamInfo>,
}

/// One loaded plugin version.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// The plugin's name: its file name without `.wasm`.
    pub name: String,
    /// The `.wasm` file's path.
    pub file: String,
    /// A short hash of the file's bytes: it changes with every rebuild.
    pub version: String,
    /// The actions it provides.
    pub actions: Vec<String>,
    /// Bytes of the `.wasm`.
    pub size: u64,
    /// Unix seconds.
    pub(crate) loaded_at: u64,
    /// Time spent compiling (or reading from the compile cache) and linking.
    pub compile_ms: f64,
    /// Whether the compiled code came from the compile cache.
    pub cache_hit: bool,
    /// Its `timeoutMs` per call.
    pub timeout_ms: u64,
    /// Its `memoryMb` per instance.
    pub memory_mb: u64,
    /// Its `warmInstances`.
    pub warm_instances: u32,
    pub(crate) grants: GrantsInfo,
    /// T8: what starts it besides its actions, one line each.
    pub triggers: Vec<String>,
}

/// A plugin's grants (P4): the config keys but never their values, which may be secrets.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct GrantsInfo {
    pub(crate) config: Vec<String>,
    /// P12: the environment variables read into `config`, by name.
    pub(crate) env: Vec<String>,
    #[serde(rename = "keyValue")]
    pub(crate) key_value: Vec<String>,
    #[serde(rename = "callActions")]
    pub(crate) call_actions: Vec<String>,
    #[serde(rename = "allowedOutboundHosts")]
    pub(crate) allowed_outbound_hosts: Vec<String>,
}

/// Who serves an action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionInfo {
    /// The action's name.
    pub action: String,
    /// `None` for the host's own action.
    pub plugin: Option<String>,
    pub(crate) version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) loaded_at: Option<u64>,
}

/// A plugin file that failed to load, and why.
#[derive(Debug, Clone, Serialize)]
pub struct FailureInfo {
    /// The file's path.
    pub file: String,
    /// Why it failed, as the log said.
    pub error: String,
}

impl Dispatcher {
    /// What runs now (H1).
    pub fn describe(&self) -> Description {
        let snapshot = self.registry.snapshot();
        let plugins = snapshot
            .plugins
            .values()
            .map(|p| PluginInfo {
                name: p.name.to_string(),
                file: p.path.display().to_string(),
                version: p.version.clone(),
                actions: p.actions.clone(),
                size: p.size,
                loaded_at: unix(p.loaded_at),
                compile_ms: p.compile_time.as_secs_f64() * 1e3,
                cache_hit: p.cache_hit,
                timeout_ms: p.limits.timeout_ms,
                memory_mb: p.limits.memory_mb,
                warm_instances: p.warm.instances,
                grants: grants(&p.grants),
                triggers: p.trigger_summary(),
            })
            .collect();
        let mut actions: Vec<ActionInfo> = snapshot
            .actions()
            .into_iter()
            .map(|(action, p)| ActionInfo {
                action: action.to_string(),
                plugin: Some(p.name.to_string()),
                version: Some(p.version.clone()),
                loaded_at: Some(unix(p.loaded_at)),
            })
            .collect();
        for host in HostAction::ALL.map(HostAction::name) {
            if snapshot.provider(host).is_none() {
                actions.push(ActionInfo {
                    action: host.to_owned(),
                    plugin: None,
                    version: None,
                    loaded_at: None,
                });
            }
        }
        let failures = self
            .registry
            .failures()
            .into_iter()
            .map(|(file, error)| FailureInfo {
                file: file.display().to_string(),
                error,
            })
            .collect();
        Description {
            app_name: env!("CARGO_PKG_NAME"),
            app_version: env!("CARGO_PKG_VERSION"),
            self_id: self.self_id(),
            generation: snapshot.generation,
            plugins,
            actions,
            failures,
            upstream: self.upstream.as_ref().map(|u| u.describe()),
        }
    }
}

fn grants(grants: &Grants) -> GrantsInfo {
    GrantsInfo {
        config: grants.config.keys().cloned().collect(),
        env: grants.env.iter().cloned().collect(),
        key_value: grants.key_value.clone(),
        call_actions: match &grants.call_actions {
            ActionGrant::All => vec!["*".to_owned()],
            ActionGrant::Only(names) => names.clone(),
        },
        allowed_outbound_hosts: grants.outbound.iter().map(|p| p.text.clone()).collect(),
    }
}

fn unix(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
