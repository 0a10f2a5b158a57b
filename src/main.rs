//! The `onebot-host` command: parse the CLI, set up logging (with SPEC H6b's filter of
//! records that may hold secrets), then serve (the default) or run one of the developer
//! commands in [`commands`].

// A program exports nothing: its items are `pub(crate)` at most, as in the library.
#![deny(unreachable_pub)]

mod commands;
mod logline;
mod logwriter;
mod templates;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// A OneBot 11 HTTP server whose every action is a WebAssembly plugin.
///
/// Without a command, serves the OneBot 11 HTTP API (as NapCat and go-cqhttp do) on each
/// enabled entry of `network.httpServers` in the config, answering each action from the
/// `.wasm` plugin in the plugin folder that provides it. Unknown actions answer retcode 1404.
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
        default_value = "config/onebot.json5",
        global = true
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one action against the plugin folder, without a server, and print the envelope.
    ///
    /// Example: onebot-host call send_private_msg '{"user_id":1,"message":"hi"}'
    /// Exits 0 when the envelope's status is ok (or async), 1 otherwise.
    Call {
        /// The action, e.g. send_private_msg (the `_async` and `_rate_limited` suffixes work).
        action: String,
        /// The params as a JSON or JSON5 object.
        #[arg(default_value = "{}")]
        params: String,
        /// The plugin folder to load instead of the config's `plugins.dir`.
        #[arg(long, value_name = "DIR")]
        plugins: Option<PathBuf>,
    },
    /// List each plugin in the folder with its actions, size, compile time and any load error.
    Plugins {
        /// The plugin folder to list instead of the config's `plugins.dir`.
        #[arg(long, value_name = "DIR")]
        plugins: Option<PathBuf>,
    },
    /// Create a new plugin from a template that builds and answers on the first try.
    ///
    /// Example: onebot-host new hello && cd hello && cargo build --release --target wasm32-wasip2
    New {
        /// The plugin's name; also its folder and its action prefix (e.g. hello → hello_echo).
        name: String,
        /// The language of the template.
        #[arg(long, value_enum, default_value = "rust")]
        lang: templates::Lang,
        /// Where to create the plugin's folder.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The developer commands keep the log to warnings and the plugins' own lines (what a
    // plugin logs or prints is what its author debugs with), so their output stands out.
    let default_level = if cli.command.is_some() {
        "warn,onebot_host::plugin=info"
    } else {
        "info"
    };
    // Logs go to stderr, coloured only on a terminal, so they can be piped and grepped;
    // a thread of their own writes them, so logging costs a request thread no syscall.
    let ansi = std::io::stderr().is_terminal();
    let (log, sink) = logwriter::LogWriter::start(ansi);
    // D5: the dashboards' log page sees what the log prints, behind the same filters.
    let tail = onebot_host::logtail::LogTail::new();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(sink)
        .with_ansi(ansi)
        .finish()
        .with(filter_fn(|meta| !may_hold_secrets(meta)))
        .with(tail.clone())
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            log.flush();
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        None => runtime.block_on(commands::serve(&cli.config, Some(tail))),
        Some(Command::Call {
            action,
            params,
            plugins,
        }) => runtime.block_on(commands::call(&cli.config, plugins, &action, &params)),
        Some(Command::Plugins { plugins }) => {
            runtime.block_on(commands::plugins(&cli.config, plugins))
        }
        Some(Command::New { name, lang, dir }) => templates::new(&name, lang, &dir),
    };
    // Every line logged so far goes out before the final error line and the exit.
    log.flush();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Log records that can carry a secret whatever `RUST_LOG` asks for (issue 20 item 5, SPEC
/// H6): tungstenite's trace records dump whole handshakes, and its client's holds the
/// `Authorization: Bearer` of every `websocketClients` entry. They are dropped here, under
/// any filter, rather than trusting users not to turn trace on, which is exactly what they do
/// when a connection misbehaves; tungstenite's debug records (handshake done or failed) stay.
fn may_hold_secrets(meta: &tracing::Metadata<'_>) -> bool {
    let target = meta.target();
    *meta.level() == tracing::Level::TRACE
        && (target.starts_with("tungstenite") || target.starts_with("tokio_tungstenite"))
}
