//! The `onebot-host` command: parse the CLI, set up logging, load the config, run.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A OneBot 11 HTTP server whose every action is a WebAssembly plugin.
///
/// Serves the OneBot 11 HTTP API (as NapCat and go-cqhttp do) on each enabled entry of
/// `network.httpServers` in the config, and answers each action from the `.wasm` plugin in
/// the plugin folder that provides it. Unknown actions answer retcode 1404.
///
/// Logging follows RUST_LOG (default `info`), e.g. RUST_LOG=onebot_host=debug.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// The config file (JSON5; a NapCat onebot11_<uin>.json works unchanged).
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "config/onebot.json5"
    )]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, coloured only on a terminal, so they can be piped and grepped.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let loaded = match onebot_host::config::load(&cli.config) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match runtime.block_on(onebot_host::run(loaded.config, shutdown)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
