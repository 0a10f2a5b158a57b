//! One record, one line (issue 20 item 6, SPEC S3): text a client or a plugin chose, with
//! newlines and other control characters in it, cannot forge log lines in the real binary's
//! log. Before, a plugin's `log("x\n<timestamp> ERROR …")` printed a second line that looked
//! like the host's own, and so did an action name sent in a WebSocket frame.

use serde_json::json;

use crate::bin::Running;
use crate::harness::{Setup, envelope, ok_data};
use crate::ws::client::{call, connect};

/// What an attacker would like an operator (or a log parser) to read as the host's own.
const FORGED: &str = "2026-12-06T00:00:00.000000Z ERROR onebot_host: FORGED";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_newlines_and_control_characters_from_clients_and_plugins_cannot_forge_log_lines() {
    let setup = Setup::default().server("enableWebsocket: true, debug: true");
    let mut host = Running::start(&setup, "info", None);
    let addr = host.addr("test");

    // A plugin's log message and stderr output, with a newline, a carriage return and a
    // terminal escape sequence (clear screen) in them.
    let text = format!("innocent\n{FORGED} by plugin\rCR\u{1b}[2J");
    let reply = envelope(
        reqwest::Client::new()
            .post(format!("http://{addr}/probe_print"))
            .json(&json!({ "text": text })),
    )
    .await;
    ok_data(&reply);
    // An action name sent in a WebSocket frame (a debug server logs every call).
    let mut ws = connect(addr, "/api").await;
    let action = format!("nope\n{FORGED} by client");
    let reply = call(&mut ws, json!({ "action": action, "params": {} })).await;
    assert_eq!(reply["retcode"], 1404);

    let plugin_line = host.wait_for("by plugin");
    let client_line = host.wait_for("by client");
    let (_, log) = host.terminate();
    assert!(
        plugin_line.contains("innocent\\n2026-12-06") && plugin_line.contains("\\rCR\\"),
        "the plugin's newline and escape are shown escaped, on its own line: {plugin_line}"
    );
    assert!(
        client_line.contains("nope\\n2026-12-06"),
        "the action's newline is escaped: {client_line}"
    );
    for line in &log {
        assert!(!line.starts_with(FORGED), "a forged line: {line}");
        assert!(
            !line.contains(['\r', '\u{1b}']),
            "a control character reached the log: {line:?}"
        );
    }
}
