//! Loading one plugin file (SPEC P1, P2, P6): check the header, compile (or fetch from the
//! compile cache), link against the host's imports, and ask for the action list. Blocking:
//! compiling can take seconds for a large guest, so the loader runs it off the executor.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentExportIndex};

use super::{ACTION_INTERFACE, LoadError, Plugin, Runtime, bindings};
use crate::config::PluginSettings;
use crate::sync::lock;

const COMPONENT_MAGIC: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

impl Plugin {
    /// Compiles, links and lists the actions of the component at `path`, with `settings` from
    /// the config and its sidecar. Blocking: compiling can take seconds for large guests.
    pub fn load(
        runtime: &Arc<Runtime>,
        path: &Path,
        settings: PluginSettings,
    ) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        check_component_header(path, &bytes)?;
        let name: Arc<str> = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .into();
        let version = hex_prefix(&Sha256::digest(&bytes), 6);

        let started = Instant::now();
        let hits_before = runtime.cache_hits();
        let component =
            Component::new(&runtime.engine, &bytes).map_err(|e| LoadError::Compile {
                path: path.to_owned(),
                reason: format!("{e:#}"),
            })?;
        let cache_hit = runtime.cache_hits() > hits_before;
        let world_error = |e: wasmtime::Error| LoadError::World {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        let pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(world_error)?;
        let actions_export = bindings::ActionIndices::new(&pre).map_err(world_error)?;
        let handle = handle_index(&component).ok_or_else(|| LoadError::World {
            path: path.to_owned(),
            reason: format!("no export `{ACTION_INTERFACE}#handle`"),
        })?;
        // Each trigger export is looked for on its own (T1, T20): a plugin built for the
        // world `plugin` or `capable-plugin` has none of them and loads as before.
        let route = super::route::route_index(&pre);
        let event_handler = bindings::EventHandlerIndices::new(&pre).ok();
        let schedule_handler = bindings::ScheduleHandlerIndices::new(&pre).ok();
        warn_unexported(
            path,
            !settings.schedules.is_empty(),
            schedule_handler.is_some(),
            "schedules",
            super::SCHEDULE_INTERFACE,
            "they never run",
        );
        warn_unexported(
            path,
            !settings.routes.is_empty(),
            route.is_some(),
            "routes",
            super::ROUTE_INTERFACE,
            "they answer 404",
        );
        warn_unexported(
            path,
            !settings.handler.events.is_empty(),
            event_handler.is_some(),
            "events",
            super::EVENT_INTERFACE,
            "it is not called with events",
        );
        let compile_time = started.elapsed();
        let stats = runtime.metrics().plugin(&name);

        let mut plugin = Plugin {
            name,
            path: path.to_owned(),
            version,
            actions: Vec::new(),
            limits: settings.limits,
            warm: settings.warm,
            grants: Arc::new(settings.grants),
            routes: settings.routes,
            handler: settings.handler,
            schedules: settings.schedules,
            schedule_status: Mutex::default(),
            size: bytes.len() as u64,
            loaded_at: SystemTime::now(),
            compile_time,
            cache_hit,
            pre,
            actions_export,
            handle,
            route,
            event_handler,
            schedule_handler,
            runtime: runtime.clone(),
            idle: Mutex::new(Vec::new()),
            spare: Mutex::new(Vec::new()),
            in_flight: super::host::InFlight::default(),
            refusals: super::host::Refusals::counting(stats.clone()),
            stats,
            heavy: AtomicBool::new(false),
        };
        let listed = runtime.executor().block_on(plugin.list_actions());
        let actions = listed.map_err(|source| LoadError::Actions {
            path: path.to_owned(),
            source,
        })?;
        // The instance that listed the actions is not kept: a warm pool starts with the first
        // real call, so `warmMaxCalls` counts calls of actions only.
        lock(&plugin.idle).clear();
        plugin.actions = validate_actions(actions).map_err(|reason| LoadError::BadActions {
            path: path.to_owned(),
            reason,
        })?;
        Ok(plugin)
    }
}

/// A sidecar that grants a trigger (`key`) to a plugin that does not export its interface is
/// a mistake worth a warning at every load, not an error: the plugin's actions still work.
fn warn_unexported(
    path: &Path,
    granted: bool,
    exported: bool,
    key: &str,
    interface: &str,
    effect: &str,
) {
    if granted && !exported {
        tracing::warn!(
            "{}: its sidecar sets `{key}` but it does not export `{interface}`: {effect}",
            path.display()
        );
    }
}

/// The index of the function `handle` in the exported interface, if the component has it.
fn handle_index(component: &Component) -> Option<ComponentExportIndex> {
    let interface = component.get_export_index(None, ACTION_INTERFACE)?;
    component.get_export_index(Some(&interface), "handle")
}

fn check_component_header(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.starts_with(&COMPONENT_MAGIC) {
        return Ok(());
    }
    let hint = if bytes.starts_with(b"\0asm\x01\0\0\0") {
        ": it is a core module"
    } else if bytes.is_empty() {
        ": the file is empty"
    } else {
        ""
    };
    Err(LoadError::NotComponent {
        path: path.to_owned(),
        hint,
    })
}

/// The first path segments the host serves itself, with what it serves there: no action may
/// take them (T20, O1).
const RESERVED: [(&str, &str); 3] = [
    (crate::config::routes::HOOKS, "webhook routes"),
    (crate::metrics::PATH, "the host's metrics"),
    (crate::metrics::DASHBOARD_PATH, "the host's dashboard"),
];

/// Action names must be non-empty, free of `/` (they are URL path segments) and unique, and
/// none may be a [`RESERVED`] name: `/hooks/` is where webhook routes are served (T20),
/// `/metrics` the host's metrics (O1).
fn validate_actions(mut actions: Vec<String>) -> Result<Vec<String>, String> {
    if let Some((name, what)) = RESERVED
        .iter()
        .find(|(name, _)| actions.iter().any(|a| a == name))
    {
        return Err(format!(
            "an action cannot be called `{name}`: /{name}/ is reserved for {what}"
        ));
    }
    if let Some(bad) = actions
        .iter()
        .find(|a| a.is_empty() || a.contains('/') || a.chars().any(char::is_whitespace))
    {
        return Err(format!("invalid action name {bad:?}"));
    }
    actions.sort();
    actions.dedup();
    Ok(actions)
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    bytes.iter().take(n).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::validate_actions;

    #[test]
    fn t20_an_action_called_hooks_is_refused_and_names_are_checked() {
        let list = |names: &[&str]| validate_actions(names.iter().map(|s| s.to_string()).collect());
        let error = list(&["ok", "hooks"]).expect_err("reserved");
        assert!(
            error.contains("/hooks/ is reserved for webhook routes"),
            "{error}"
        );
        assert!(list(&["a/b"]).is_err() && list(&[""]).is_err() && list(&["a b"]).is_err());
        assert_eq!(
            list(&["b", "a", "b", "hooks_x"]).expect("valid"),
            ["a", "b", "hooks_x"]
        );
    }

    #[test]
    fn t20_o1_reserved_names_are_refused_naming_what_is_served_there() {
        for (name, what) in [
            ("hooks", "webhook routes"),
            ("metrics", "the host's metrics"),
            (crate::metrics::DASHBOARD_PATH, "the host's dashboard"),
        ] {
            let error = validate_actions(vec!["ok".into(), name.into()]).expect_err(name);
            assert!(
                error.contains(&format!("`{name}`")) && error.contains(what),
                "{error}"
            );
        }
        assert_eq!(
            validate_actions(vec!["b".into(), "a".into(), "b".into()]),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
    }
}
