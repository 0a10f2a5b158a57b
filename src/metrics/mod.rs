//! What the host counts, for `GET /metrics` and the dashboard (SPEC O1–O10, issue 25).
//!
//! A leaf: it knows no other module of the host. The modules that do the work count into it
//! through small handles ([`CallProbe`], [`PluginStats`], [`Flow`], [`Connected`]); the
//! transport that serves `GET /metrics` renders [`Metrics::render`], adding what is read at
//! scrape time (plugin versions, warm instances, key-value bytes, the process) from the modules
//! that own it. Built on `prometheus-client`, whose families, histograms and text encoder
//! are the Prometheus client library's own, rather than text written by hand.
//!
//! Labels are bounded (O2): a plugin's name (a file in the plugin folder), one of its actions (its
//! own list), an outcome from a fixed set, a retcode from at most
//! [`MAX_RETCODES`](calls::MAX_RETCODES) per action, a connection kind. Never a user, group,
//! message or anything else a client sends.
//!
//! - `calls` — per plugin and action: calls by outcome, duration, in flight.
//! - `plugin` — per plugin: what its instances did (outbound requests, refused grants,
//!   memory high-water).
//! - `process` — resident memory, CPU seconds, file descriptors, read from `/proc` at scrape.

mod calls;
mod links;
mod plugin;
mod process;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, RwLock};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use calls::CallProbe;
pub(crate) use calls::{Cause, Totals};
pub(crate) use links::{EntryStats, LinkState};
pub(crate) use plugin::{HandlerOutcome, OutboundOutcome, PluginStats};

use crate::sync;

/// The first path segment of `GET /metrics` (O1); no plugin action may take this name.
pub(crate) const PATH: &str = "metrics";
/// The first path segment of the dashboard (D1), reserved with [`PATH`].
pub(crate) const DASHBOARD_PATH: &str = "dashboard";

/// The `Content-Type` of [`Metrics::render`]'s text: Prometheus's text format 0.0.4.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Duration buckets in seconds (O3): OpenTelemetry's 1–2.5–5–7.5 steps from its HTTP
/// server buckets (5 ms … 10 s), extended down to 50 µs, since a warm call takes microseconds.
pub(crate) const DURATION_BUCKETS: [f64; 20] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
    0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// One plugin's actions' handles, by action name.
type ActionMap = HashMap<Box<str>, Arc<calls::ActionStats>>;

/// Every counter and gauge the host keeps while it runs; shared behind an `Arc`.
pub struct Metrics {
    registry: Registry,
    calls: calls::Families,
    /// Per-(plugin, action) handles, looked up once per call without allocating.
    actions: RwLock<HashMap<Arc<str>, ActionMap>>,
    plugin_families: plugin::Families,
    plugins: Mutex<HashMap<Arc<str>, Arc<PluginStats>>>,
    loads: Family<PluginLabel, Counter>,
    reloads: Family<PluginLabel, Counter>,
    load_failures: Family<PluginLabel, Counter>,
    routes: Family<RouteLabels, Counter>,
    clients: Family<KindLabel, Gauge>,
    delivered: Family<KindLabel, Counter>,
    dropped: Family<KindLabel, Counter>,
    published: Counter,
    totals: Arc<Totals>,
    /// Each `websocketClients` entry's state by name, in config order (D6).
    links: Mutex<Vec<(String, Arc<LinkState>)>>,
    /// Each server and client entry's counters by section and name, in config order (D6).
    entries: Mutex<Vec<(&'static str, String, Arc<EntryStats>)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All counts at zero, the process's gauges registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let calls = calls::Families::register(&mut registry);
        let plugin_families = plugin::Families::register(&mut registry);
        let loads = Family::default();
        let reloads = Family::default();
        let load_failures = Family::default();
        let routes = Family::default();
        let clients = Family::default();
        let delivered = Family::default();
        let dropped = Family::default();
        let published = Counter::default();
        registry.register(
            "onebot_plugin_loads",
            "Times a plugin file was loaded where none of its name was serving",
            loads.clone(),
        );
        registry.register(
            "onebot_plugin_reloads",
            "Times a changed plugin file replaced the version serving",
            reloads.clone(),
        );
        registry.register(
            "onebot_plugin_load_failures",
            "Times a plugin file (or its sidecar) failed to load",
            load_failures.clone(),
        );
        registry.register(
            "onebot_route_runs",
            "Webhook requests served by a plugin's route, by outcome (answered, failed)",
            routes.clone(),
        );
        registry.register(
            "onebot_connection_clients",
            "Clients connected now, by connection kind",
            clients.clone(),
        );
        registry.register(
            "onebot_events_delivered",
            "Events taken from a client's queue to be sent, by connection kind",
            delivered.clone(),
        );
        registry.register(
            "onebot_events_dropped",
            "Events a client did not get: its queue was full, or (httpClients) every try failed",
            dropped.clone(),
        );
        registry.register(
            "onebot_events_published",
            "Valid events plugins emitted",
            published.clone(),
        );
        Metrics {
            registry,
            calls,
            actions: RwLock::new(HashMap::new()),
            plugin_families,
            plugins: Mutex::new(HashMap::new()),
            loads,
            reloads,
            load_failures,
            routes,
            clients,
            delivered,
            dropped,
            published,
            totals: Arc::default(),
            links: Mutex::default(),
            entries: Mutex::default(),
        }
    }

    /// D6: the state of the `websocketClients` entry `name`, kept from now on.
    pub(crate) fn link(&self, name: &str) -> Arc<LinkState> {
        let state = Arc::new(LinkState::default());
        sync::lock(&self.links).push((name.to_owned(), state.clone()));
        state
    }

    /// D6: every `websocketClients` entry's state, in config order.
    pub(crate) fn links(&self) -> Vec<(String, Arc<LinkState>)> {
        sync::lock(&self.links).clone()
    }

    /// D6: the counters of the entry `name` of `section` (`servers`, `websocketClients` or
    /// `httpClients`), kept from now on; its connections and queues count into it through
    /// [`Metrics::connected_to`] and [`Metrics::flow_to`].
    pub(crate) fn entry(&self, section: &'static str, name: &str) -> Arc<EntryStats> {
        let stats = Arc::new(EntryStats::default());
        sync::lock(&self.entries).push((section, name.to_owned(), stats.clone()));
        stats
    }

    /// D6: every entry of `section`'s counters, in config order.
    pub(crate) fn entries(&self, section: &str) -> Vec<(String, Arc<EntryStats>)> {
        sync::lock(&self.entries)
            .iter()
            .filter(|(s, _, _)| *s == section)
            .map(|(_, name, stats)| (name.clone(), stats.clone()))
            .collect()
    }

    /// Plugin calls and errors since the host started, over every action (D3).
    pub(crate) fn totals(&self) -> (u64, u64) {
        self.totals.read()
    }

    /// Starts timing one call of `action` on `plugin` (O3): counted in flight until the
    /// probe is finished or dropped.
    pub fn call(&self, plugin: &Arc<str>, action: &str) -> CallProbe {
        let known = sync::read(&self.actions)
            .get(plugin)
            .and_then(|actions| actions.get(action))
            .cloned();
        let stats = known.unwrap_or_else(|| {
            let mut actions = sync::write(&self.actions);
            actions
                .entry(plugin.clone())
                .or_default()
                .entry(action.into())
                .or_insert_with(|| Arc::new(self.calls.action(plugin, action, &self.totals)))
                .clone()
        });
        CallProbe::start(stats)
    }

    /// The counters of `plugin`'s instances, shared by all its versions (O5).
    pub(crate) fn plugin(&self, name: &Arc<str>) -> Arc<PluginStats> {
        sync::lock(&self.plugins)
            .entry(name.clone())
            .or_insert_with(|| Arc::new(self.plugin_families.stats(name)))
            .clone()
    }

    /// O4: a plugin file loaded where none of its name was serving.
    pub(crate) fn loaded(&self, plugin: &str) {
        self.loads.get_or_create(&PluginLabel::of(plugin)).inc();
    }

    /// O4: a changed file replaced the version serving.
    pub(crate) fn reloaded(&self, plugin: &str) {
        self.reloads.get_or_create(&PluginLabel::of(plugin)).inc();
    }

    /// O4: a plugin file failed to load.
    pub(crate) fn load_failed(&self, plugin: &str) {
        self.load_failures
            .get_or_create(&PluginLabel::of(plugin))
            .inc();
    }

    /// O6: a webhook request a plugin's `route` served, and whether it answered.
    pub(crate) fn route_run(&self, plugin: &str, route: &str, answered: bool) {
        let labels = RouteLabels {
            plugin: plugin.to_owned(),
            route: route.to_owned(),
            outcome: if answered { "answered" } else { "failed" },
        };
        self.routes.get_or_create(&labels).inc();
    }

    /// [`Metrics::connected_to`] without an entry, for tests.
    #[cfg(test)]
    pub(crate) fn connected(&self, kind: ConnectionKind) -> Connected {
        self.connected_to(kind, None)
    }

    /// O7: one connected client of `kind`, counted until the guard is dropped; counted in its
    /// `entry`'s clients too (D6) when it has one.
    pub(crate) fn connected_to(
        &self,
        kind: ConnectionKind,
        entry: Option<&Arc<EntryStats>>,
    ) -> Connected {
        let gauge = self.clients.get_or_create_owned(&KindLabel { kind });
        gauge.inc();
        if let Some(entry) = entry {
            entry.connect();
        }
        Connected(gauge, entry.cloned())
    }

    /// [`Metrics::flow_to`] without an entry, for tests.
    #[cfg(test)]
    pub(crate) fn flow(&self, kind: ConnectionKind) -> Flow {
        self.flow_to(kind, None)
    }

    /// O7: the delivered and dropped counters of the clients of `kind`; counted in its
    /// `entry`'s counters too (D6) when it has one.
    pub(crate) fn flow_to(&self, kind: ConnectionKind, entry: Option<Arc<EntryStats>>) -> Flow {
        let label = KindLabel { kind };
        Flow {
            delivered: self.delivered.get_or_create_owned(&label),
            dropped: self.dropped.get_or_create_owned(&label),
            entry,
        }
    }

    /// A plugin emitted a valid event.
    pub(crate) fn published(&self) {
        self.published.inc();
    }

    /// Every plugin's stats, for the scrape-time gauges (memory high-water).
    pub(crate) fn plugins(&self) -> Vec<Arc<PluginStats>> {
        sync::lock(&self.plugins).values().cloned().collect()
    }

    /// The text a scrape gets (O1): the live families, then what `scrape` adds to a registry
    /// of its own (values read now: plugin versions, warm instances, key-value bytes), then
    /// the process's (O8).
    pub(crate) fn render(&self, scrape: impl FnOnce(&mut Registry)) -> String {
        let mut now = Registry::default();
        scrape(&mut now);
        process::register(&mut now);
        let mut text = String::with_capacity(16 << 10);
        // Writing into a String cannot fail; an encoder error would be a bug in a label type.
        if prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .and_then(|()| prometheus_client::encoding::prometheus_text::encode(&mut text, &now))
            .is_err()
        {
            let _ = writeln!(text, "# encoding failed");
        }
        text
    }
}

/// A plugin's name as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PluginLabel {
    pub(crate) plugin: String,
}

impl PluginLabel {
    pub(crate) fn of(plugin: &str) -> Self {
        PluginLabel {
            plugin: plugin.to_owned(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    plugin: String,
    route: String,
    outcome: &'static str,
}

/// Where a client is connected (O7): its `network` list, as a label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) enum ConnectionKind {
    /// A WebSocket client of `websocketServers`, or of an `httpServers` entry with
    /// `enableWebsocket`.
    WebSocketServer,
    /// A `websocketClients` connection the host dialled.
    WebSocketClient,
    /// A `GET /_events` stream of an `httpSseServers` entry.
    Sse,
    /// An `httpClients` endpoint events are POSTed to.
    HttpClient,
    /// A dashboard page's live events (D4).
    Dashboard,
}

impl ConnectionKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::WebSocketServer => "websocket_server",
            ConnectionKind::WebSocketClient => "websocket_client",
            ConnectionKind::Sse => "sse",
            ConnectionKind::HttpClient => "http_client",
            ConnectionKind::Dashboard => "dashboard",
        }
    }
}

impl EncodeLabelValue for ConnectionKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: ConnectionKind,
}

/// One connected client, counted in `onebot_connection_clients` (and its entry's clients,
/// D6) while it lives.
pub(crate) struct Connected(Gauge, Option<Arc<EntryStats>>);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.dec();
        if let Some(entry) = &self.1 {
            entry.disconnect();
        }
    }
}

/// The event counters of one connection kind, and of one entry when it has one (D6); clones
/// count into the same series.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flow {
    delivered: Counter,
    dropped: Counter,
    entry: Option<Arc<EntryStats>>,
}

impl Flow {
    pub(crate) fn delivered(&self) {
        self.delivered.inc();
        if let Some(entry) = &self.entry {
            entry.delivered();
        }
    }

    /// An event that found the client's queue full.
    pub(crate) fn dropped(&self) {
        self.dropped.inc();
        if let Some(entry) = &self.entry {
            entry.dropped();
        }
    }

    /// An event the client took but could not deliver (`httpClients`: every try failed):
    /// dropped for its kind (O7), failed for its entry (D6).
    pub(crate) fn failed(&self) {
        self.dropped.inc();
        if let Some(entry) = &self.entry {
            entry.failed();
        }
    }
}

#[cfg(test)]
mod tests;
