//! The host's own answers (SPEC E6): `get_version_info`, `get_status` and `get_login_info`
//! when no plugin provides them, and the bot's `self_id`, asked of the plugin that provides
//! `get_login_info` whenever the plugin set changes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};

use super::{Dispatcher, HostAction, Nesting, parse_data};
use crate::envelope::{JsonText, Outcome};

/// E6: `get_version_info`'s answer never changes, so it is written once, as JSON text.
const VERSION_INFO: JsonText = JsonText::from_static(concat!(
    r#"{"app_name":""#,
    env!("CARGO_PKG_NAME"),
    r#"","app_version":""#,
    env!("CARGO_PKG_VERSION"),
    r#"","protocol_version":"v11"}"#
));

impl Dispatcher {
    /// E6, E7: the host's own answer to `host`, used when no plugin provides it.
    pub(super) async fn host_answer(
        self: &Arc<Self>,
        host: HostAction,
        params: Map<String, Value>,
        nesting: Nesting,
    ) -> Outcome {
        match host {
            HostAction::VersionInfo => Outcome::Json(VERSION_INFO),
            HostAction::LoginInfo => Outcome::Data(json!({
                "user_id": self.bot.self_id,
                "nickname": self.bot.nickname,
            })),
            HostAction::Status => self.status(),
            // E7: calls other actions, which may be forwarded.
            HostAction::QuickOperation => self.quick_operation(params, nesting).await,
        }
    }

    /// E6: `get_status`, with the host's counters (issue 20 item 4, E6a).
    fn status(&self) -> Outcome {
        let snapshot = self.registry.snapshot();
        let uptime = self
            .stats
            .started
            .get()
            .and_then(|s| s.elapsed().ok())
            .map_or(0, |d| d.as_secs());
        Outcome::Data(json!({
            "online": true,
            "good": true,
            "stat": {
                "calls": self.stats.calls.load(Ordering::Relaxed),
                "calls_failed": self.stats.failed.load(Ordering::Relaxed),
                "calls_in_flight": self.stats.in_flight.load(Ordering::Relaxed),
                // Issue 20 item 4: what waits, so a backlog can be watched.
                "calls_waiting": self.stats.waiting.load(Ordering::Relaxed),
                "async_backlog": self.async_backlog_size
                    - self.async_backlog.available_permits(),
                "rate_limited_waiting": self.rate.waiting(),
                "plugins": snapshot.plugins.len(),
                "uptime_s": uptime,
                // E6a: connections receiving events now, so a bridge plugin can leave
                // messages on its platform while no bot listens.
                "event_subscribers": self.events.as_ref().map_or(0, |e| e.subscribers()),
            },
        }))
    }

    /// E6: asks the plugin providing `get_login_info` for the bot's `user_id`, falling back to
    /// the config's `bot.selfId`. Called at start and after every change of the plugin set.
    pub(crate) async fn refresh_self_id(&self) {
        let snapshot = self.registry.snapshot();
        let id = match snapshot.provider("get_login_info").cloned() {
            Some(plugin) => {
                let name = plugin.name.clone();
                let data = match self.slot(&Nesting::default()).await {
                    Ok(_permit) => self
                        .call_plugin_text(
                            plugin,
                            "get_login_info",
                            String::from("{}"),
                            Nesting::default(),
                        )
                        .await
                        .and_then(|data| parse_data(&name, "get_login_info", &data)),
                    Err(e) => Err(e),
                };
                match data {
                    Ok(data) => data.get("user_id").and_then(as_i64).unwrap_or_else(|| {
                        tracing::warn!(plugin = %name, "get_login_info has no integer user_id; using bot.selfId");
                        self.bot.self_id
                    }),
                    Err(e) => {
                        tracing::warn!(plugin = %name, "get_login_info failed ({e}); using bot.selfId");
                        self.bot.self_id
                    }
                }
            }
            // G7: in gateway mode, the upstream's id once learned.
            None => self
                .upstream
                .as_ref()
                .and_then(|u| u.self_id())
                .unwrap_or(self.bot.self_id),
        };
        self.identity.set_self_id(id);
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn e6_version_info_is_the_json_it_always_was() {
        let data: Value = serde_json::from_str(VERSION_INFO.as_str()).expect("valid JSON");
        assert_eq!(
            data,
            json!({
                "app_name": env!("CARGO_PKG_NAME"),
                "app_version": env!("CARGO_PKG_VERSION"),
                "protocol_version": "v11",
            })
        );
        assert_eq!(
            VERSION_INFO.as_str(),
            data.to_string(),
            "same bytes as before"
        );
    }
}
