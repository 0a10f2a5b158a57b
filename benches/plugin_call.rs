//! Per-call latency of a plugin, fresh instance per call vs a warm instance (SPEC P5),
//! measured on the plugin runtime directly (no HTTP): compile time, cached load time, and
//! p50/p99 of `handle` over many calls.
//!
//! Run: `cargo bench --bench plugin_call` for the built-in Rust guests, or name others:
//! `cargo bench --bench plugin_call -- plugins/x.wasm some_action '{"text":"hi"}'`
//! (any number of FILE ACTION PARAMS triples).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onebot_host::config::{Limits, PluginSettings, Warm};
use onebot_host::events::{EventBus, Identity};
use onebot_host::plugin::{Plugin, Runtime};

const CALLS: usize = 2000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn measure(runtime: &Arc<Runtime>, file: &Path, action: &str, params: &str) {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    for (mode, warm) in [
        ("fresh", Warm::default()),
        (
            "warm",
            Warm {
                instances: 1,
                max_calls: u32::MAX,
            },
        ),
    ] {
        let settings = PluginSettings {
            limits: Limits::default(),
            warm,
            ..PluginSettings::default()
        };
        let started = Instant::now();
        let plugin = match Plugin::load(runtime, file, settings) {
            Ok(plugin) => Arc::new(plugin),
            Err(e) => {
                eprintln!("{e}");
                return;
            }
        };
        let load = started.elapsed();
        let how = if plugin.cache_hit {
            "cached load"
        } else {
            "compile"
        };
        let executor = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let times = executor.block_on(async {
            let mut times = Vec::with_capacity(CALLS);
            for _ in 0..CALLS {
                let t = Instant::now();
                if let Err(e) = plugin
                    .clone()
                    .call(
                        action,
                        params.to_owned(),
                        onebot_host::plugin::CallContext {
                            self_id: Some(1),
                            ..Default::default()
                        },
                    )
                    .await
                {
                    eprintln!("{name} {action}: {e}");
                    return None;
                }
                times.push(t.elapsed());
            }
            Some(times)
        });
        let Some(mut times) = times else { return };
        times.sort();
        println!(
            "{name:<22} {:>8} KB  {how:<11} {:>8.1} ms  {mode:<5} {action:<18} p50 {:>8.1} us  p99 {:>8.1} us",
            size / 1024,
            load.as_secs_f64() * 1e3,
            percentile(&times, 0.5),
            percentile(&times, 0.99),
        );
    }
}

fn main() {
    let cache = tempfile::tempdir().expect("tmp");
    let runtime = Arc::new(
        Runtime::new(
            Some(cache.path()),
            64,
            Arc::new(EventBus::new(Arc::new(Identity::new(1)))),
            None,
        )
        .expect("runtime"),
    );
    let guests = Path::new(env!("ONEBOT_GUEST_DIR"));
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut cases: Vec<(PathBuf, String, String)> = vec![
        (
            guests.join("probe.wasm"),
            "probe_echo".into(),
            r#"{"n":1}"#.into(),
        ),
        (
            guests.join("mock_account.wasm"),
            "send_private_msg".into(),
            r#"{"user_id":1,"message":[{"type":"text","data":{"text":"hi"}}]}"#.into(),
        ),
    ];
    for triple in args.chunks(3) {
        if let [file, action, params] = triple {
            cases.push((PathBuf::from(file), action.clone(), params.clone()));
        }
    }
    for (file, action, params) in &cases {
        measure(&runtime, file, action, params);
    }
}
