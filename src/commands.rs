//! What each `onebot-host` command does: `serve` (the default), and the developer loop's
//! `call` and `plugins`, which load the plugin folder without a server (issue 5). `new` is in
//! [`crate::templates`].
//!
//! Errors here are for a person at a terminal: they say which file or argument is wrong.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use onebot_host::config::{self, Config};
use onebot_host::dispatch::ActionRequest;
use onebot_host::envelope::{Envelope, Outcome};

/// Serves until Ctrl-C or SIGTERM.
pub(crate) async fn serve(
    config_path: &Path,
    log: Option<onebot_host::logtail::LogTail>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path, None)?;
    // Every connection holds a file descriptor; a default soft limit of 1024 would cap them.
    onebot_host::raise_fd_limit();
    onebot_host::run(config, log, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs one action and prints its envelope; exit code 1 when it failed.
pub(crate) async fn call(
    config_path: &Path,
    plugins: Option<PathBuf>,
    action: &str,
    params: &str,
) -> anyhow::Result<ExitCode> {
    let params = parse_params(params)?;
    let config = load_config(config_path, plugins)?;
    let dispatcher = onebot_host::open_beside_a_server(&config).await?.dispatcher;
    let handled = dispatcher
        .call(ActionRequest {
            action: action.to_owned(),
            params,
        })
        .await;
    let failed = matches!(handled.outcome, Outcome::Failed(_));
    let envelope = Envelope::new(handled.outcome, None);
    println!("{}", serde_json::to_string_pretty(&envelope)?);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Lists the plugins of the folder and the files that failed to load: the health page's
/// description (`Dispatcher::describe`, H1), printed for a person.
pub(crate) async fn plugins(
    config_path: &Path,
    plugins: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path, plugins)?;
    let dispatcher = onebot_host::open_beside_a_server(&config).await?.dispatcher;
    let described = dispatcher.describe();
    if described.plugins.is_empty() && described.failures.is_empty() {
        println!("no plugins in {}", config.plugins.dir.display());
    }
    for plugin in &described.plugins {
        let how = if plugin.cache_hit {
            "cached"
        } else {
            "compiled"
        };
        println!(
            "{}  {}  {} KB  {how} in {:.1} ms  timeout {} ms  memory {} MiB{}",
            plugin.name,
            plugin.version,
            plugin.size.div_ceil(1024),
            plugin.compile_ms,
            plugin.timeout_ms,
            plugin.memory_mb,
            match plugin.warm_instances {
                0 => String::new(),
                n => format!("  warm x{n}"),
            },
        );
        println!("    {}", plugin.file);
        for trigger in &plugin.triggers {
            println!("    {trigger}");
        }
        for action in &plugin.actions {
            let serving = described
                .actions
                .iter()
                .find(|a| a.action == *action)
                .and_then(|a| a.plugin.as_deref());
            match serving {
                Some(winner) if winner != plugin.name => {
                    println!("    - {action}  (served by {winner} instead)")
                }
                _ => println!("    - {action}"),
            }
        }
    }
    // G4: gateway mode. This command does not dial the upstream: it says where it is.
    if let Some(upstream) = &described.upstream {
        println!(
            "upstream  {}  (gateway mode: actions no plugin provides go there; this command does \
             not connect to it, GET / on a running host shows its state)",
            upstream.url
        );
    }
    let failures = &described.failures;
    for failure in failures {
        println!("FAILED {}\n    {}", failure.file, failure.error);
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The config file, or the defaults when only `--plugins` was given and there is no file.
/// The developer commands never watch the folder.
fn load_config(path: &Path, plugins: Option<PathBuf>) -> anyhow::Result<Config> {
    let loaded = match (&plugins, path.exists()) {
        // The defaults have no server, which the warnings would point out; no one asked.
        (Some(_), false) => config::Loaded {
            warnings: Vec::new(),
            ..config::parse("{}", Path::new("onebot.json5"))?
        },
        _ => config::load(path)?,
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let mut config = loaded.config;
    if let Some(dir) = plugins {
        if !dir.is_dir() {
            bail!("--plugins {}: no such folder", dir.display());
        }
        config.plugins.dir = dir;
        config.plugins.watch = false;
    }
    Ok(config)
}

fn parse_params(text: &str) -> anyhow::Result<Map<String, Value>> {
    // json5 has no depth limit of its own: the same guard as request bodies (H4).
    if let Some(at) = onebot_host::json::too_deep(text.as_bytes(), onebot_host::json::MAX_DEPTH) {
        bail!(
            "PARAMS nests deeper than {} levels (at byte {at})",
            onebot_host::json::MAX_DEPTH
        );
    }
    let value: Value = serde_json::from_str(text)
        .or_else(|_| json5::from_str(text))
        .with_context(|| format!("PARAMS is not JSON or JSON5: {text}"))?;
    match value {
        Value::Object(map) => Ok(map),
        other => bail!("PARAMS must be a JSON object, got {other}"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
