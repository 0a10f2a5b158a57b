//! Reload latency (issue: hot reload): from the end of an atomic `mv` of a ~100 KB Rust
//! plugin to the first call answered by the new version, over 20 reloads, with a warm
//! compile cache (each version compiled once before) and with no cache (every load compiles).
//!
//! Run: `cargo bench --bench reload`. It prints one line per mode: median and max in ms.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

const RELOADS: usize = 20;
const VERSIONS: [&str; 2] = ["probe.wasm", "probe_alt.wasm"];

fn guest(file: &str) -> std::path::PathBuf {
    Path::new(env!("ONEBOT_GUEST_DIR")).join(file)
}

async fn answered_by(client: &reqwest::Client, url: &str) -> Option<&'static str> {
    let env: Value = client
        .post(url)
        .body("{}")
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    match (env["retcode"].as_i64(), env["data"]["from"].as_str()) {
        (Some(0), Some("probe-alt")) => Some("probe_alt.wasm"),
        (Some(0), _) => Some("probe.wasm"),
        _ => None,
    }
}

async fn measure(mode: &str, cache: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("mkdir");
    std::fs::copy(guest(VERSIONS[0]), plugins.join("x.wasm")).expect("copy");
    let cache = if cache == "off" {
        "off".to_owned()
    } else {
        dir.path().join("cache").display().to_string()
    };
    let text = format!(
        r#"{{ network: {{ httpServers: [{{ enable: true, port: 0 }}] }},
             plugins: {{ dir: {:?}, cacheDir: {cache:?} }} }}"#,
        plugins.display().to_string()
    );
    let config = onebot_host::config::parse(&text, &dir.path().join("c.json5"))
        .expect("config")
        .config;
    let host = onebot_host::start(config).await.expect("start");
    let url = format!("http://{}/probe_echo", host.addrs[0]);
    let client = reqwest::Client::new();

    let mut times = Vec::new();
    // Two extra rounds first so that, with a cache, both versions are in it.
    for round in 0..RELOADS + 2 {
        let version = VERSIONS[(round + 1) % 2];
        let tmp = plugins.join(".x.tmp");
        std::fs::copy(guest(version), &tmp).expect("copy");
        std::fs::rename(&tmp, plugins.join("x.wasm")).expect("mv");
        let moved = Instant::now();
        while answered_by(&client, &url).await != Some(version) {
            assert!(
                moved.elapsed() < Duration::from_secs(30),
                "reload never landed"
            );
        }
        if round >= 2 {
            times.push(moved.elapsed());
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "reload {mode:<10} n={} median {:.1} ms  max {:.1} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    host.stop().await;
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    runtime.block_on(async {
        measure("warm cache", "dir").await;
        measure("no cache", "off").await;
    });
}
