//! Hot reload through the folder, as an operator does it (SPEC P2, P3, P6): copy, `mv`,
//! delete, edit sidecars, while a real server keeps answering. Every wait is for a condition
//! (what the server answers, or what `GET /` reports), with a timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Setup, TestHost, guest, ok_data, wait_for};

/// Deploys `guest_file` as `dir/name` the recommended way: write a temp file, then `mv`.
fn deploy(dir: &Path, guest_file: &str, name: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(guest(guest_file), &tmp).expect("copy to temp");
    std::fs::rename(&tmp, dir.join(name)).expect("mv into place");
}

fn plugin_dir(host: &TestHost) -> PathBuf {
    host._dir.path().join("plugins")
}

/// Who answers `probe_echo` now: "probe", "probe-alt", or the retcode of a failure.
async fn echo_source(host: &TestHost) -> Result<&'static str, i64> {
    let env = host.post("probe_echo", json!({})).await;
    match env["retcode"].as_i64() {
        Some(0) if env["data"]["from"] == "probe-alt" => Ok("probe-alt"),
        Some(0) => Ok("probe"),
        other => Err(other.unwrap_or(-1)),
    }
}

async fn health(host: &TestHost) -> Value {
    ok_data(&host.get("/").await).clone()
}

#[tokio::test]
async fn p2_a_dropped_in_plugin_answers_without_a_restart() {
    let host = Setup::with_plugins(&[]).start().await;
    assert_eq!(echo_source(&host).await, Err(1404));
    deploy(&plugin_dir(&host), "probe.wasm", "probe.wasm");
    wait_for("probe_echo to answer", || async {
        echo_source(&host).await.ok()
    })
    .await;
    let listed = health(&host).await;
    let entry = listed["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["action"] == "probe_echo").cloned())
        .expect("GET / lists the new action");
    assert_eq!(entry["plugin"], "probe");
    assert!(entry["loaded_at"].as_u64().is_some_and(|t| t > 0));
    host.stop().await;
}

#[tokio::test]
async fn p2_a_replaced_plugin_serves_the_new_version() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "x.wasm")])
        .start()
        .await;
    assert_eq!(echo_source(&host).await, Ok("probe-alt"));
    let before = health(&host).await["plugins"][0]["version"].clone();
    deploy(&plugin_dir(&host), "probe.wasm", "x.wasm");
    wait_for("the new version to answer", || async {
        (echo_source(&host).await == Ok("probe")).then_some(())
    })
    .await;
    let after = health(&host).await;
    assert_ne!(
        after["plugins"][0]["version"], before,
        "a new version is listed"
    );
    // Its other action went with the old version.
    crate::harness::failed(&host.post("alt_only", json!({})).await, 1404);
    host.stop().await;
}

#[tokio::test]
async fn p2_a_deleted_plugin_answers_1404_again() {
    let host = Setup::default().start().await;
    assert_eq!(echo_source(&host).await, Ok("probe"));
    std::fs::remove_file(plugin_dir(&host).join("probe.wasm")).expect("rm");
    wait_for("probe_echo to be gone", || async {
        (echo_source(&host).await == Err(1404)).then_some(())
    })
    .await;
    assert_eq!(health(&host).await["plugins"], json!([]));
    host.stop().await;
}

#[tokio::test]
async fn p2_a_broken_replacement_keeps_the_old_version_serving_until_fixed() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "x.wasm")])
        .start()
        .await;
    let dir = plugin_dir(&host);
    let tmp = dir.join(".x.tmp");
    // A truncated component: what an interrupted copy leaves behind.
    let bytes = std::fs::read(guest("probe.wasm")).expect("read");
    std::fs::write(&tmp, &bytes[..bytes.len() / 2]).expect("write");
    std::fs::rename(&tmp, dir.join("x.wasm")).expect("mv");
    let failure = wait_for("the failure to be reported", || async {
        let failures = health(&host).await["failures"].clone();
        failures.as_array().and_then(|f| f.first().cloned())
    })
    .await;
    assert!(
        failure["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("x.wasm")),
        "{failure}"
    );
    assert!(
        failure["error"]
            .as_str()
            .is_some_and(|e| e.contains("x.wasm")),
        "{failure}"
    );
    assert_eq!(
        echo_source(&host).await,
        Ok("probe-alt"),
        "the old version keeps serving"
    );

    deploy(&dir, "probe.wasm", "x.wasm");
    wait_for("the fixed file to load", || async {
        (echo_source(&host).await == Ok("probe")).then_some(())
    })
    .await;
    assert_eq!(health(&host).await["failures"], json!([]));
    host.stop().await;
}

#[tokio::test]
async fn p2_a_file_being_written_is_not_loaded_until_it_is_complete() {
    use std::io::Write;
    let host = Setup::with_plugins(&[]).start().await;
    let dir = plugin_dir(&host);
    let bytes = std::fs::read(guest("probe.wasm")).expect("read");
    let mut file = std::fs::File::create(dir.join("slow.wasm")).expect("create");
    file.write_all(&bytes[..bytes.len() / 2])
        .expect("first half");
    file.flush().expect("flush");
    // Make the loader look at the folder while the copy is half done: a second plugin
    // arriving forces a pass, and once it answers, that pass has happened.
    deploy(&dir, "probe_alt.wasm", "other.wasm");
    wait_for("the other plugin", || async {
        let env = host.post("alt_only", json!({})).await;
        (env["retcode"] == 0).then_some(())
    })
    .await;
    let now = health(&host).await;
    assert_eq!(
        now["failures"],
        json!([]),
        "the half-written file was not tried"
    );
    assert_eq!(now["plugins"].as_array().map(Vec::len), Some(1));

    file.write_all(&bytes[bytes.len() / 2..])
        .expect("second half");
    drop(file);
    wait_for("the completed file to load", || async {
        let plugins = health(&host).await["plugins"].clone();
        plugins
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "slow"))
            .then_some(())
    })
    .await;
    host.stop().await;
}

#[tokio::test]
async fn p3_the_name_that_sorts_first_wins_and_the_other_takes_over() {
    let host = Setup::with_plugins(&[("probe_alt.wasm", "a.wasm"), ("probe.wasm", "b.wasm")])
        .start()
        .await;
    assert_eq!(
        echo_source(&host).await,
        Ok("probe-alt"),
        "a.wasm sorts before b.wasm"
    );
    std::fs::remove_file(plugin_dir(&host).join("a.wasm")).expect("rm");
    wait_for("b.wasm to take over", || async {
        (echo_source(&host).await == Ok("probe")).then_some(())
    })
    .await;
    host.stop().await;
}

#[tokio::test]
async fn p6_a_sidecar_change_is_applied_without_a_restart() {
    let host = Setup::default().start().await;
    let dir = plugin_dir(&host);
    std::fs::write(dir.join(".probe.json5.tmp"), "{ timeoutMs: 250 }").expect("write");
    std::fs::rename(dir.join(".probe.json5.tmp"), dir.join("probe.json5")).expect("mv");
    wait_for("the new limit", || async {
        (health(&host).await["plugins"][0]["timeout_ms"] == 250).then_some(())
    })
    .await;
    let env = host.post("probe_spin", json!({})).await;
    let message = crate::harness::failed(&env, 1200);
    assert!(message.contains("timed out after 250 ms"), "{message}");
    host.stop().await;
}

#[tokio::test]
async fn temp_files_and_a_recreated_folder_do_not_confuse_the_watcher() {
    let host = Setup::default().start().await;
    let dir = plugin_dir(&host);
    for junk in [
        ".probe.wasm.swp",
        "probe.wasm~",
        "probe.tmp",
        "notes.txt",
        "4913",
    ] {
        std::fs::copy(guest("probe_alt.wasm"), dir.join(junk)).expect("junk");
    }
    // A real change after the junk: once it is live, the junk has been seen and ignored.
    deploy(&dir, "probe_alt.wasm", "z.wasm");
    wait_for("z.wasm", || async {
        (host.post("alt_only", json!({})).await["retcode"] == 0).then_some(())
    })
    .await;
    assert_eq!(echo_source(&host).await, Ok("probe"), "junk did not load");
    let names: Vec<Value> = health(&host).await["plugins"]
        .as_array()
        .map(|p| p.iter().map(|p| p["name"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(names, [json!("probe"), json!("z")]);

    std::fs::remove_dir_all(&dir).expect("rm -r");
    wait_for("everything to be unloaded", || async {
        (echo_source(&host).await == Err(1404)).then_some(())
    })
    .await;
    std::fs::create_dir(&dir).expect("mkdir");
    deploy(&dir, "probe.wasm", "probe.wasm");
    wait_for("the recreated folder to be watched", || async {
        (echo_source(&host).await == Ok("probe")).then_some(())
    })
    .await;
    host.stop().await;
}

/// The soak: clients call one action non-stop while its file is replaced 50 times with
/// versions that answer differently. Not one call may fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p2_soak_no_call_is_lost_while_a_plugin_is_replaced_50_times() {
    let host = Setup::with_plugins(&[("probe.wasm", "x.wasm")])
        .start()
        .await;
    let dir = plugin_dir(&host);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (client, url, stop) = (host.client.clone(), host.url("/probe_echo"), stop.clone());
        clients.push(tokio::spawn(async move {
            let (mut seen, mut bad) = ([0u32; 2], Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match client.post(&url).body("{}").send().await {
                    Ok(response) => match response.json::<Value>().await {
                        Ok(env) if env["retcode"] == 0 => {
                            seen[usize::from(env["data"]["from"] == "probe-alt")] += 1;
                        }
                        Ok(env) => bad.push(env.to_string()),
                        Err(e) => bad.push(format!("body: {e}")),
                    },
                    Err(e) => bad.push(format!("connection: {e}")),
                }
            }
            (seen, bad)
        }));
    }
    let versions = ["probe.wasm", "probe_alt.wasm"];
    for round in 1..=50 {
        let generation = health(&host).await["generation"].clone();
        deploy(&dir, versions[round % 2], "x.wasm");
        wait_for("the swap", || async {
            (health(&host).await["generation"] != generation).then_some(())
        })
        .await;
        // Paced so the soak lasts about 10 s with clients calling throughout.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut seen, mut bad) = ([0u32; 2], Vec::new());
    for client in clients {
        let (s, b) = client.await.expect("client task");
        seen[0] += s[0];
        seen[1] += s[1];
        bad.extend(b);
    }
    assert!(
        bad.is_empty(),
        "{} failed calls, e.g. {:?}",
        bad.len(),
        bad.first()
    );
    assert!(
        seen[0] > 50 && seen[1] > 50,
        "both versions answered: {seen:?}"
    );
    host.stop().await;
}

#[tokio::test]
async fn p2_a_call_in_flight_finishes_on_the_version_it_started_on() {
    let host = Setup::with_plugins(&[("probe.wasm", "x.wasm")])
        .start()
        .await;
    let slow = host.post("probe_sleep", json!({"ms": 1500}));
    let remove = async {
        wait_for("the slow call to be running", || async {
            let status = host.get("/get_status").await;
            (status["data"]["stat"]["calls_in_flight"] == 1).then_some(())
        })
        .await;
        std::fs::remove_file(plugin_dir(&host).join("x.wasm")).expect("rm");
        wait_for("x.wasm to be unloaded", || async {
            (echo_source(&host).await == Err(1404)).then_some(())
        })
        .await;
    };
    let (slow, ()) = tokio::join!(slow, remove);
    assert_eq!(
        ok_data(&slow)["slept"],
        1500,
        "the old version finished the call"
    );
    host.stop().await;
}
