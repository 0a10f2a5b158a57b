//! The metrics read at scrape time (SPEC O4, O5): what the loaded plugins are now, from the
//! registry's snapshot, beside the counters [`crate::metrics`] keeps as things happen. The
//! dashboard and `GET /metrics` both render [`Dispatcher::render_metrics`].

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use super::Dispatcher;
use crate::metrics::{Metrics, PluginLabel};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    plugin: String,
    version: String,
}

impl Dispatcher {
    /// The text of `GET /metrics` (O1), or `None` when no server shows metrics (O9).
    pub(crate) fn render_metrics(&self) -> Option<String> {
        let metrics = self.metrics.as_ref()?;
        Some(metrics.render(|registry| self.scrape(registry, metrics)))
    }

    fn scrape(&self, registry: &mut Registry, metrics: &Metrics) {
        let snapshot = self.registry.snapshot();
        let info = Family::<VersionLabels, Gauge>::default();
        let loaded_at = Family::<PluginLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let warm = Family::<PluginLabel, Gauge>::default();
        let kv_bytes = Family::<PluginLabel, Gauge>::default();
        let kv_quota = Family::<PluginLabel, Gauge>::default();
        for plugin in snapshot.plugins.values() {
            let label = PluginLabel::of(&plugin.name);
            info.get_or_create(&VersionLabels {
                plugin: label.plugin.clone(),
                version: plugin.version.clone(),
            })
            .set(1);
            let at = plugin
                .loaded_at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            loaded_at.get_or_create(&label).set(at);
            warm.get_or_create(&label)
                .set(i64::try_from(plugin.idle_instances()).unwrap_or(i64::MAX));
            if let Some((used, quota)) = plugin.key_value_usage() {
                kv_bytes.get_or_create(&label).set(gauge(used));
                kv_quota.get_or_create(&label).set(gauge(quota));
            }
        }
        let memory = Family::<PluginLabel, Gauge>::default();
        for stats in metrics.plugins() {
            memory
                .get_or_create(&PluginLabel::of(&stats.name))
                .set(gauge(stats.memory_peak()));
        }
        registry.register(
            "onebot_plugin_info",
            "A loaded plugin and the version serving (the first 12 hex digits of its SHA-256)",
            info,
        );
        registry.register(
            "onebot_plugin_loaded_timestamp_seconds",
            "When the version serving was loaded, in Unix seconds",
            loaded_at,
        );
        registry.register(
            "onebot_plugin_warm_instances",
            "Idle warm instances a plugin keeps ready now (warmInstances)",
            warm,
        );
        registry.register(
            "onebot_plugin_memory_peak_bytes",
            "The most linear memory one instance of a plugin held since the host started",
            memory,
        );
        registry.register(
            "onebot_plugin_kv_bytes",
            "Bytes of keys and values a plugin holds in its key-value stores",
            kv_bytes,
        );
        registry.register(
            "onebot_plugin_kv_quota_bytes",
            "A plugin's key-value quota in bytes (kvQuotaMb)",
            kv_quota,
        );
        registry.register(
            "onebot_plugin_files_failed",
            "Plugin files in the folder that failed to load and are not serving a new version",
            ConstGauge::new(gauge(self.registry.failures().len() as u64)),
        );
        registry.register(
            "onebot_registry_generation",
            "Increases with every change of the set of loaded plugin versions",
            ConstGauge::new(gauge(snapshot.generation)),
        );
    }
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
