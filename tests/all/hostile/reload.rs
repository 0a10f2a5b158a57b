//! Reload under fault (SPEC P2, issue 7): while clients call an action non-stop, its file is
//! replaced by a truncated copy, once in place (an interrupted `cp`) and once by an atomic `mv`
//! (a broken build deployed the right way). Over the whole window no call of that action may
//! fail (no 1404, no 1200); `GET /` keeps listing the old version and names the file under
//! `failures`; a good file deployed afterwards is picked up.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::harness::wait_for;
use crate::harness::{Setup, TestHost, guest, ok_data};

const CLIENTS: usize = 4;

async fn health(host: &TestHost) -> Value {
    ok_data(&host.get("/").await).clone()
}

/// The failure `GET /` lists for `file`, if any.
async fn failure(host: &TestHost, file: &str) -> Option<String> {
    let failures = health(host).await["failures"].clone();
    failures.as_array()?.iter().find_map(|f| {
        let named = f["file"].as_str()?.ends_with(file);
        named.then(|| f["error"].as_str().unwrap_or_default().to_owned())
    })
}

/// Waits until `GET /` lists a failure for `x.wasm` other than `before`, and checks the old
/// version still serves.
async fn expect_refused(host: &TestHost, before: Option<String>, version: &Value) -> String {
    let error = wait_for("the truncated file to be refused", || async {
        failure(host, "x.wasm")
            .await
            .filter(|e| Some(e) != before.as_ref())
    })
    .await;
    assert!(
        error.contains("x.wasm"),
        "the error names the file: {error}"
    );
    let now = health(host).await;
    assert_eq!(
        &now["plugins"][0]["version"], version,
        "the old version: {now}"
    );
    error
}

fn truncated(len_fraction: (usize, usize)) -> Vec<u8> {
    let bytes = std::fs::read(guest("probe.wasm")).expect("read probe.wasm");
    bytes[..bytes.len() * len_fraction.0 / len_fraction.1].to_vec()
}

fn mv_into_place(dir: &Path, bytes: &[u8]) {
    let tmp = dir.join(".x.wasm.tmp");
    std::fs::write(&tmp, bytes).expect("write temp");
    std::fs::rename(&tmp, dir.join("x.wasm")).expect("mv");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_a_plugin_replaced_by_a_truncated_file_under_load_keeps_serving() {
    let host = Setup::with_plugins(&[("probe.wasm", "x.wasm")])
        .start()
        .await;
    let dir = host._dir.path().join("plugins");
    let version = health(&host).await["plugins"][0]["version"].clone();
    assert!(version.is_string(), "{version}");

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, url, stop) = (host.client.clone(), host.url("/probe_echo"), stop.clone());
            tokio::spawn(async move {
                let (mut ok, mut bad) = (0u32, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let env = crate::harness::envelope(client.post(&url).body("{}")).await;
                    match env["retcode"].as_i64() {
                        Some(0) if env["data"]["from"] != "probe-alt" => ok += 1,
                        // The good file deployed last answers too; the window is over then.
                        Some(0) => {}
                        _ => bad.push(env.to_string()),
                    }
                }
                (ok, bad)
            })
        })
        .collect();

    // An interrupted copy: the file is cut short where it stands.
    std::fs::write(dir.join("x.wasm"), truncated((1, 2))).expect("overwrite in place");
    let first = expect_refused(&host, None, &version).await;
    // A truncated build moved into place atomically: another length, another error.
    mv_into_place(&dir, &truncated((1, 3)));
    expect_refused(&host, Some(first), &version).await;

    // A good file afterwards is picked up, and the failure is gone.
    mv_into_place(
        &dir,
        &std::fs::read(guest("probe_alt.wasm")).expect("read probe_alt.wasm"),
    );
    wait_for("the good file to serve", || async {
        let env = host.post("probe_echo", serde_json::json!({})).await;
        (env["data"]["from"] == "probe-alt").then_some(())
    })
    .await;
    assert_eq!(
        failure(&host, "x.wasm").await,
        None,
        "the failure is cleared"
    );

    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut bad) = (0, Vec::new());
    for client in clients {
        let (o, b) = client.await.expect("client task");
        ok += o;
        bad.extend(b);
    }
    assert!(
        bad.is_empty(),
        "{} calls failed while the file was broken, e.g. {}",
        bad.len(),
        bad[0]
    );
    assert!(
        ok >= 10 * CLIENTS as u32,
        "the old version answered throughout: {ok} calls"
    );
    host.stop().await;
}
