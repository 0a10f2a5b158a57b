//! The metrics as a scraper reads them: names, labels and values in the rendered text.

use std::sync::Arc;

use super::calls::MAX_RETCODES;
use super::*;

fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[test]
fn o2_o3_calls_are_counted_by_outcome_and_timed() {
    let metrics = Metrics::new();
    let plugin: Arc<str> = "demo".into();
    metrics.call(&plugin, "act").finish(0);
    metrics.call(&plugin, "act").finish(0);
    metrics.call(&plugin, "act").finish(1404);
    let mut timed_out = metrics.call(&plugin, "act");
    timed_out.cause(Cause::Timeout);
    timed_out.finish(1200);
    drop(metrics.call(&plugin, "act"));
    let in_flight = metrics.call(&plugin, "act");
    let text = metrics.render(|_| {});
    let count = |outcome: &str, retcode: &str| {
        let prefix = format!(
            "onebot_action_calls_total{{plugin=\"demo\",action=\"act\",outcome=\"{outcome}\",retcode=\"{retcode}\"}} "
        );
        line(&text, &prefix).map(|l| l[prefix.len()..].to_owned())
    };
    assert_eq!(count("ok", "0").as_deref(), Some("2"), "{text}");
    assert_eq!(count("failed", "1404").as_deref(), Some("1"));
    assert_eq!(count("timeout", "1200").as_deref(), Some("1"));
    assert_eq!(count("cancelled", "0").as_deref(), Some("1"));
    assert_eq!(count("trap", "1200").as_deref(), Some("0"));
    assert!(
        text.contains("onebot_action_duration_seconds_count{plugin=\"demo\",action=\"act\"} 5")
    );
    assert!(text.contains("onebot_action_in_flight{plugin=\"demo\",action=\"act\"} 1"));
    drop(in_flight);
    assert!(
        metrics
            .render(|_| {})
            .contains("onebot_action_in_flight{plugin=\"demo\",action=\"act\"} 0")
    );
}

#[test]
fn o2_retcodes_beyond_the_cap_share_one_series() {
    let metrics = Metrics::new();
    let plugin: Arc<str> = "p".into();
    for retcode in 1..=(MAX_RETCODES as i32 + 10) {
        metrics.call(&plugin, "a").finish(retcode);
    }
    let text = metrics.render(|_| {});
    let failed = text
        .lines()
        .filter(|l| l.starts_with("onebot_action_calls_total") && l.contains("\"failed\""))
        .count();
    assert_eq!(failed, MAX_RETCODES + 1, "{text}");
    assert!(text.contains("retcode=\"other\"} 10"));
}

#[test]
fn o4_o7_plugins_and_connections_render_with_their_labels() {
    let metrics = Metrics::new();
    metrics.loaded("a");
    metrics.reloaded("a");
    metrics.load_failed("b");
    let connected = metrics.connected(ConnectionKind::Sse);
    let flow = metrics.flow(ConnectionKind::Sse);
    flow.delivered();
    flow.delivered();
    flow.dropped();
    let stats = metrics.plugin(&"a".into());
    stats.outbound(OutboundOutcome::Denied);
    stats.refused("outbound");
    stats.memory(100);
    stats.memory(50);
    assert_eq!(stats.memory_peak(), 100);
    let text = metrics.render(|_| {});
    for expected in [
        "onebot_plugin_loads_total{plugin=\"a\"} 1",
        "onebot_plugin_reloads_total{plugin=\"a\"} 1",
        "onebot_plugin_load_failures_total{plugin=\"b\"} 1",
        "onebot_connection_clients{kind=\"sse\"} 1",
        "onebot_events_delivered_total{kind=\"sse\"} 2",
        "onebot_events_dropped_total{kind=\"sse\"} 1",
        "onebot_plugin_outbound_requests_total{plugin=\"a\",outcome=\"denied\"} 1",
        "onebot_plugin_refused_grants_total{plugin=\"a\",capability=\"outbound\"} 1",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    drop(connected);
    assert!(
        metrics
            .render(|_| {})
            .contains("onebot_connection_clients{kind=\"sse\"} 0")
    );
}

#[test]
fn o8_the_process_is_described_on_linux() {
    let text = Metrics::new().render(|_| {});
    for name in [
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
    ] {
        let value: f64 = line(&text, name)
            .and_then(|l| l[name.len()..].parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"));
        assert!(value > 0.0, "{name}{value}");
    }
}
