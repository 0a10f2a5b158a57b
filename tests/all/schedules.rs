//! Schedules (issue 22; SPEC T9–T15): the fixture `react-probe` (tests/guests/react-probe)
//! with `schedules` in its sidecar, on a real host; what its runs emit reaches a real WebSocket
//! client, what they record is read back through its action.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::harness::{Setup, TestHost, ok_data, wait_for};
use crate::ws::client::{self, Client, next_event};

const PROBE: (&str, &str) = ("react_probe.wasm", "rs.wasm");

async fn host(sidecar: &str) -> TestHost {
    Setup::with_plugins(&[PROBE])
        .sidecar("rs.json5", sidecar.to_owned())
        .server("enableWebsocket: true")
        .start()
        .await
}

fn plugin_dir(host: &TestHost) -> PathBuf {
    host._dir.path().join("plugins")
}

/// The next tick notice the schedule `emit` published.
async fn next_tick(client: &mut Client) -> Value {
    loop {
        let event = next_event(client).await;
        if event["notice_type"] == "react_probe_tick" {
            return event;
        }
    }
}

/// A counter the probe keeps in key-value (`schedule:<name>` counts runs).
async fn counter(host: &TestHost, key: &str) -> i64 {
    ok_data(&host.post("probe_seen", json!({ "key": key })).await)
        .as_i64()
        .unwrap_or(0)
}

/// The plugin's `triggers` as `GET /` lists them (T15).
async fn triggers(host: &TestHost) -> Vec<String> {
    let root = host.get("/").await;
    ok_data(&root)["plugins"][0]["triggers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn t9_a_schedule_calls_the_handler_with_its_name_every_period() {
    let host = host(r#"{ config: { name: "v1" }, keyValue: ["default"],
                        schedules: [{ name: "emit", every: "100ms" }, { name: "morning", cron: "0 9 * * *", timezone: "Asia/Shanghai" }] }"#).await;
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    for _ in 0..3 {
        let tick = next_tick(&mut bot).await;
        assert_eq!(tick["by"], "v1", "{tick}");
    }
    assert!(counter(&host, "schedule:emit").await >= 3);
    assert_eq!(counter(&host, "schedule:morning").await, 0, "not due yet");
    let listed = triggers(&host).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed[0].starts_with("schedule emit: every 100ms (runs "),
        "{listed:?}"
    );
    assert!(
        listed[0].contains(", next 20"),
        "T15: the next due time: {listed:?}"
    );
    assert!(
        listed[1].starts_with("schedule morning: cron \"0 9 * * *\" Asia/Shanghai (runs 0, failed 0, skipped 0), next ")
            && listed[1].ends_with(":00:00.000Z"),
        "{listed:?}"
    );
    host.stop().await;
}

#[tokio::test]
async fn t11_a_run_still_going_makes_the_next_tick_skip_never_overlap() {
    let host =
        host(r#"{ keyValue: ["default"], schedules: [{ name: "slow", every: "100ms" }] }"#).await;
    // Each run takes 300 ms: of every three ticks, two find it still going.
    wait_for("three runs", || async {
        (counter(&host, "schedule:slow").await >= 3).then_some(())
    })
    .await;
    assert_eq!(
        counter(&host, "overlaps").await,
        0,
        "no run started while another went on"
    );
    let listed = triggers(&host).await;
    let skipped: u64 = listed[0]
        .split("skipped ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .expect("a skipped count");
    assert!(skipped >= 2, "ticks skipped and counted: {listed:?}");
    host.stop().await;
}

#[tokio::test]
async fn t12_t13_a_failing_or_overrunning_schedule_is_cut_off_and_counted() {
    let host = host(
        r#"{ keyValue: ["default"], timeoutMs: 5000,
             schedules: [{ name: "fail", every: "100ms" }, { name: "slow", every: "100ms", timeoutMs: 50 }] }"#,
    )
    .await;
    let listed = wait_for("failures counted", || async {
        let listed = triggers(&host).await;
        let failed = |i: usize| listed[i].contains("failed 0");
        (!failed(0) && !failed(1)).then_some(listed)
    })
    .await;
    // The slow run is cut off at its own 50 ms, far below the plugin's 5000 ms.
    assert!(
        listed[1].starts_with("schedule slow: every 100ms"),
        "{listed:?}"
    );
    // The plugin's actions still answer.
    assert_eq!(
        ok_data(&host.post("probe_seen", json!({ "key": "nothing" })).await),
        &Value::Null
    );
    host.stop().await;
}

#[tokio::test]
async fn t14_a_hot_swap_replaces_the_schedules() {
    let host = host(r#"{ config: { name: "v1" }, keyValue: ["default"], schedules: [{ name: "emit", every: "100ms" }] }"#).await;
    let mut bot = client::subscribed(client::addr(&host), "/").await;
    assert_eq!(next_tick(&mut bot).await["by"], "v1");
    // A new sidecar is a new version: its schedules replace the old ones.
    let dir = plugin_dir(&host);
    std::fs::write(
        dir.join(".rs.json5.tmp"),
        r#"{ config: { name: "v2" }, keyValue: ["default"], schedules: [{ name: "emit", every: "100ms" }] }"#,
    )
    .expect("write");
    std::fs::rename(dir.join(".rs.json5.tmp"), dir.join("rs.json5")).expect("mv");
    loop {
        if next_tick(&mut bot).await["by"] == "v2" {
            break;
        }
    }
    for _ in 0..3 {
        assert_eq!(
            next_tick(&mut bot).await["by"],
            "v2",
            "the old version's schedule stopped"
        );
    }
    // Removing the plugin stops its schedules: GET / no longer lists it.
    std::fs::remove_file(dir.join("rs.wasm")).expect("rm");
    wait_for("the plugin gone", || async {
        let root = host.get("/").await;
        ok_data(&root)["plugins"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(())
    })
    .await;
    host.stop().await;
}
