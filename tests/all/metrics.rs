//! `GET /metrics` as Prometheus scrapes it (SPEC O1–O9): scrape, do something a user would,
//! scrape again, and see the series move. A real server, real plugins, a real WebSocket client.

use std::path::Path;

use futures_util::StreamExt;
use serde_json::json;

use crate::harness::{Setup, TestHost, failed, guest, ok_data, wait_for};

const TOKEN: &str = "s3cret";

/// One scrape with the token, as Prometheus's `authorization` setting sends it.
async fn scrape(host: &TestHost) -> String {
    let response = host
        .client
        .get(host.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("scrape sent");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "O1: Prometheus's text format, got {content_type}"
    );
    response.text().await.expect("text")
}

/// The value of the series `name{labels}` (labels exactly as rendered), 0 when absent (a
/// counter not yet created reads as 0 to Prometheus too).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().expect("a number"))
}

fn calls(text: &str, action: &str, outcome: &str, retcode: &str) -> f64 {
    value(
        text,
        &format!(
            "onebot_action_calls_total{{plugin=\"probe\",action=\"{action}\",outcome=\"{outcome}\",retcode=\"{retcode}\"}}"
        ),
    )
}

fn token_host() -> Setup {
    Setup::default()
        .server(&format!(
            r#"token: "{TOKEN}", enableWebsocket: true, heartInterval: 0"#
        ))
        .sidecar("probe.json5", r#"{ timeoutMs: 300, memoryMb: 16 }"#)
}

#[tokio::test]
async fn o1_a_scrape_needs_the_token() {
    let host = token_host().start().await;
    for request in [
        host.client.get(host.url("/metrics")),
        host.client.get(host.url("/metrics")).bearer_auth("wrong"),
    ] {
        let response = request.send().await.expect("sent");
        assert_eq!(
            response.status(),
            403,
            "O1: refused, so the target shows down"
        );
        let envelope: serde_json::Value = response.json().await.expect("an envelope");
        assert_eq!(failed(&envelope, 1403), "token verify failed");
    }
    let text = scrape(&host).await;
    assert!(
        text.contains("# TYPE onebot_plugin_loads_total counter")
            && text.contains("# TYPE process_resident_memory_bytes gauge"),
        "{text}"
    );
    // The query form of the token works as for every path (H6).
    let by_query = host
        .client
        .get(host.url(&format!("/metrics?access_token={TOKEN}")))
        .send()
        .await
        .expect("sent");
    assert_eq!(by_query.status(), 200);
    host.stop().await;
}

#[tokio::test]
async fn o2_o3_calls_move_their_outcome_counters_and_the_histogram() {
    let host = token_host().start().await;
    let call = |action: &'static str, params: serde_json::Value| {
        host.client
            .post(host.url(&format!("/{action}")))
            .bearer_auth(TOKEN)
            .json(&params)
    };
    let before = scrape(&host).await;
    for _ in 0..3 {
        let envelope = call("probe_echo", json!({"x": 1}))
            .send()
            .await
            .expect("sent");
        assert_eq!(envelope.status(), 200);
    }
    let answers = [
        ("probe_fail", json!({"retcode": 1403})),
        ("probe_trap", json!({})),
        ("probe_spin", json!({})),
        ("probe_hog_memory", json!({})),
    ];
    for (action, params) in answers {
        let envelope: serde_json::Value = call(action, params)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("envelope");
        assert_ne!(envelope["retcode"], 0, "{action}: {envelope}");
    }
    let after = scrape(&host).await;
    let moved = |action, outcome, retcode| {
        calls(&after, action, outcome, retcode) - calls(&before, action, outcome, retcode)
    };
    assert_eq!(moved("probe_echo", "ok", "0"), 3.0, "{after}");
    assert_eq!(moved("probe_fail", "failed", "1403"), 1.0);
    assert_eq!(moved("probe_trap", "trap", "1200"), 1.0);
    assert_eq!(moved("probe_spin", "timeout", "1200"), 1.0);
    assert_eq!(moved("probe_hog_memory", "limit", "1200"), 1.0);
    let count = "onebot_action_duration_seconds_count{plugin=\"probe\",action=\"probe_echo\"}";
    assert_eq!(value(&after, count) - value(&before, count), 3.0);
    let spin =
        "onebot_action_duration_seconds_bucket{le=\"0.25\",plugin=\"probe\",action=\"probe_spin\"}";
    assert_eq!(
        value(&after, spin),
        0.0,
        "O3: the 300 ms timeout is past the 0.25 s bucket"
    );
    assert_eq!(
        value(
            &after,
            "onebot_action_in_flight{plugin=\"probe\",action=\"probe_echo\"}"
        ),
        0.0
    );
    // O2: labels come from the plugin's own names, never from what a client sends.
    assert!(!after.contains("\"x\""));
    host.stop().await;
}

#[tokio::test]
async fn o4_o5_loads_reloads_failures_and_versions() {
    let host = token_host().start().await;
    let first = version(&host).await.expect("probe loaded");
    let text = scrape(&host).await;
    assert_eq!(
        value(&text, "onebot_plugin_loads_total{plugin=\"probe\"}"),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!("onebot_plugin_info{{plugin=\"probe\",version=\"{first}\"}}")
        ),
        1.0
    );
    assert!(value(&text, "onebot_plugin_memory_peak_bytes{plugin=\"probe\"}") >= 0.0);

    let dir = host._dir.path().join("plugins");
    replace(&dir, "probe_alt.wasm", "probe.wasm");
    std::fs::write(dir.join("broken.wasm"), b"not wasm").expect("write");
    let text = wait_for("the reload and the failure to be counted", || async {
        let text = scrape(&host).await;
        let done = value(&text, "onebot_plugin_reloads_total{plugin=\"probe\"}") == 1.0
            && value(
                &text,
                "onebot_plugin_load_failures_total{plugin=\"broken\"}",
            ) == 1.0;
        done.then_some(text)
    })
    .await;
    let second = version(&host).await.expect("probe still loaded");
    assert_ne!(first, second);
    assert!(text.contains(&format!(
        "onebot_plugin_info{{plugin=\"probe\",version=\"{second}\"}} 1"
    )));
    assert!(
        !text.contains(&format!("version=\"{first}\"")),
        "O5: only the version serving"
    );
    assert_eq!(value(&text, "onebot_plugin_files_failed"), 1.0);
    host.stop().await;
}

/// The version of the one plugin loaded, from `GET /`.
async fn version(host: &TestHost) -> Option<String> {
    let health = host.get(&format!("/?access_token={TOKEN}")).await;
    ok_data(&health)["plugins"][0]["version"]
        .as_str()
        .map(str::to_owned)
}

/// Deploys `guest_file` over `dir/name` with a temp file and a rename, as an operator would.
fn replace(dir: &Path, guest_file: &str, name: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(guest(guest_file), &tmp).expect("copy");
    std::fs::rename(&tmp, dir.join(name)).expect("rename");
}

#[tokio::test]
async fn o7_connected_clients_and_delivered_events() {
    let host = token_host().start().await;
    let clients = "onebot_connection_clients{kind=\"websocket_server\"}";
    let delivered = "onebot_events_delivered_total{kind=\"websocket_server\"}";
    assert_eq!(value(&scrape(&host).await, clients), 0.0);
    let url = format!(
        "ws://{}/?access_token={TOKEN}",
        host.host.as_ref().expect("host").addrs[0]
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let lifecycle = socket.next().await.expect("a frame").expect("ok");
    assert!(lifecycle.to_text().expect("text").contains("lifecycle"));
    let text = scrape(&host).await;
    assert_eq!(value(&text, clients), 1.0);
    assert_eq!(value(&text, delivered), 1.0, "O7: the lifecycle event");
    let emitted = host
        .client
        .post(host.url("/probe_emit"))
        .bearer_auth(TOKEN)
        .json(&json!({"event": {"post_type": "notice", "notice_type": "x"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(emitted.status(), 200);
    let event = socket.next().await.expect("a frame").expect("ok");
    assert!(event.to_text().expect("text").contains("notice"));
    let text = scrape(&host).await;
    assert_eq!(value(&text, delivered), 2.0);
    assert_eq!(value(&text, "onebot_events_published_total"), 1.0);
    drop(socket);
    wait_for("the client to be counted out", || async {
        (value(&scrape(&host).await, clients) == 0.0).then_some(())
    })
    .await;
    host.stop().await;
}

#[tokio::test]
async fn o9_a_server_with_metrics_off_has_no_metrics_path() {
    let host = Setup::default().server("metrics: false").start().await;
    failed(&host.get("/metrics").await, 1404);
    let health = host.get("/").await;
    assert!(ok_data(&health)["plugins"].is_array());
    host.stop().await;
}

#[tokio::test]
async fn o6_webhook_route_runs_are_counted_by_route_and_outcome() {
    let host = Setup::with_plugins(&[("route_probe.wasm", "gh.wasm")])
        .sidecar("gh.json5", r#"{ routes: ["/echo"] }"#)
        .server(&format!(r#"token: "{TOKEN}""#))
        .start()
        .await;
    for _ in 0..2 {
        let response = host
            .client
            .post(host.url("/hooks/gh/echo/x"))
            .body("hi")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
    }
    let unknown = host
        .client
        .get(host.url("/hooks/nobody/x"))
        .send()
        .await
        .expect("sent");
    assert_eq!(unknown.status(), 404);
    let text = scrape(&host).await;
    assert_eq!(
        value(
            &text,
            "onebot_route_runs_total{plugin=\"gh\",route=\"/echo\",outcome=\"answered\"}"
        ),
        2.0,
        "{text}"
    );
    assert!(
        !text.contains("nobody"),
        "O2: no label from a path no plugin serves"
    );
    host.stop().await;
}

/// O10: each event handler outcome, each schedule outcome and skipped ticks move their own
/// series. The fixture react-probe decides by the event's `probe` field (drop, fail,
/// bad-replace) or a `chain` (replace); its schedule `fail` fails, `slow` outlasts its period.
#[tokio::test]
async fn o10_handler_and_schedule_runs_are_counted_by_outcome_with_skipped_ticks() {
    let host = Setup::with_plugins(&[("react_probe.wasm", "rp.wasm")])
        .sidecar(
            "rp.json5",
            r#"{ events: ["notice"], config: { name: "rp" }, keyValue: ["default"],
                 schedules: [{ name: "ok", every: "100ms" }, { name: "fail", every: "100ms" },
                             { name: "slow", every: "100ms" }] }"#,
        )
        .server(&format!(r#"token: "{TOKEN}""#))
        .start()
        .await;
    for event in [
        json!({"post_type": "notice", "notice_type": "o10", "probe": "pass"}),
        json!({"post_type": "notice", "notice_type": "o10", "chain": []}),
        json!({"post_type": "notice", "notice_type": "o10", "probe": "drop"}),
        json!({"post_type": "notice", "notice_type": "o10", "probe": "fail"}),
        json!({"post_type": "notice", "notice_type": "o10", "probe": "bad-replace"}),
    ] {
        let emitted = host
            .client
            .post(host.url("/probe_emit"))
            .bearer_auth(TOKEN)
            .json(&json!({ "event": event }))
            .send()
            .await
            .expect("sent");
        assert_eq!(emitted.status(), 200);
    }
    let handler =
        |outcome: &str| format!("onebot_handler_runs_total{{plugin=\"rp\",outcome=\"{outcome}\"}}");
    let schedule = |name: &str, outcome: &str| {
        format!(
            "onebot_schedule_runs_total{{plugin=\"rp\",schedule=\"{name}\",outcome=\"{outcome}\"}}"
        )
    };
    let skipped = "onebot_schedule_skipped_ticks_total{plugin=\"rp\",schedule=\"slow\"}";
    let text = wait_for("every trigger series to move", || async {
        let text = scrape(&host).await;
        let handled: f64 = ["pass", "replace", "drop", "failed"]
            .iter()
            .map(|o| value(&text, &handler(o)))
            .sum();
        (handled == 5.0
            && value(&text, &schedule("ok", "ok")) >= 1.0
            && value(&text, &schedule("fail", "failed")) >= 1.0
            && value(&text, skipped) >= 1.0)
            .then_some(text)
    })
    .await;
    for (outcome, expected) in [
        ("pass", 1.0),
        ("replace", 1.0),
        ("drop", 1.0),
        ("failed", 2.0),
    ] {
        assert_eq!(
            value(&text, &handler(outcome)),
            expected,
            "{outcome}: {text}"
        );
    }
    assert_eq!(value(&text, &schedule("ok", "failed")), 0.0, "{text}");
    assert_eq!(value(&text, &schedule("fail", "ok")), 0.0, "{text}");
    host.stop().await;
}
