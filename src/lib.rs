//! onebot-host: a OneBot 11 HTTP server whose every action runs in a WebAssembly component.
//!
//! # Layout
//!
//! A request flows one way, top to bottom: each module uses only modules listed below it
//! (the dispatcher reaches plugins through the registry, and a plugin that calls an action
//! goes back through [`plugin::ActionCaller`], a trait the dispatcher implements).
//! `tests/all/layers.rs` fails when code reaches a module listed above its own.
//! Rule ids in comments (H1, W3, P5, …) are those of `docs/SPEC.md`.
//!
//! - [`server`]: one enabled server → one listener: the WebSocket upgrade, CORS and HTTP
//!   layered into one app, and the accept loop with its per-connection limits.
//! - [`dashboard`]: `/dashboard`, the web page over the same data, on servers that enable it.
//! - [`reverse`]: the connections the host makes: events POSTed to `httpClients` endpoints
//!   (their answers' quick operations run through the dispatcher), and `websocketClients`
//!   dialled and served by [`ws`]'s loop.
//! - [`ws`]: WebSocket: handshake, API frames, events out to clients; one connection loop
//!   for any socket.
//! - [`http`]: the HTTP transport: body, decode, envelope out.
//! - [`sse`]: `GET /_events` on an `httpSseServers` entry: events as server-sent events.
//! - [`auth`]: the access token, one check for HTTP and the WebSocket handshake.
//! - [`watch`]: file events → debounced loader runs (hot reload).
//! - [`dispatch`]: one call in, one [`envelope::Outcome`] out; suffixes, fallbacks, limits;
//!   and the description of what runs (`GET /`, `onebot-host plugins`).
//! - [`triggers`]: what starts a plugin besides a client's call: the event handlers' chain,
//!   which every published event runs through before the bus delivers it.
//! - [`upstream`]: gateway mode: the connection to the OneBot implementation the host sits in
//!   front of; actions no plugin provides go there, its events come in to the bus.
//! - [`loader`]: plugin files (and their sidecars) on disk → versions in the registry.
//! - [`registry`]: the immutable snapshot of which plugin version serves which action.
//! - [`plugin`]: the wasmtime runtime; compile once per version, an instance per call, and
//!   what a plugin is given as capability units.
//! - [`kv`]: the key-value database behind plugins' `keyValue` stores: one redb file, a
//!   writer thread that commits concurrent writes together, durably.
//! - [`events`]: the bus carrying plugin and meta events to every WebSocket client, each
//!   through its own bounded queue; and the bot's identity stamped on them.
//! - [`envelope`]: the reply shape and the one retcode table, shared by every transport.
//! - [`dial`]: dialling a WebSocket server, for `websocketClients` and the upstream.
//! - [`config`]: the config file → a validated [`config::Config`].
//! - [`message`]: message segments and CQ codes; pure functions.
//! - [`json`]: the JSON rules, each written once: the object decoder and its depth guard,
//!   query and form pairs, the validators that check JSON without building it, and how
//!   JSON types are named in errors.
//! - [`metrics`]: what the host counts (calls, plugins, connections, the process) for
//!   `GET /metrics` and the dashboard; every module above counts into it.
//! - [`logtail`]: the last log lines, kept for the dashboard's log page.
//! - [`sync`]: locks that survive a panic elsewhere.
//!
//! [`start`] wires them together and binds every listener; [`run`] also waits for shutdown.
//!
//! # API
//!
//! The crate is a program first. Its library is what the program's `main`, the benchmarks,
//! the tests and the fuzz targets use, and nothing else is `pub`: [`start`] or [`run`] (or
//! [`open`], plugins without listeners) with a [`config::Config`] from [`config::parse`] or
//! [`config::load`]; the running [`Host`]'s [`dispatch::Dispatcher`] (a call is a
//! [`dispatch::ActionRequest`]; [`dispatch::Dispatcher::describe`] says what runs) and
//! [`events::EventBus`]; the parsers the fuzz targets feed ([`http::decode`],
//! [`ws::frame::decode`], [`message::parse_cq`], [`json::too_deep`], [`config::parse`]); and
//! [`plugin::Runtime`] with [`plugin::Plugin`] for the plugin-call benchmark. Modules that
//! only export an error type (`kv`, `server`, `watch`) are public for that type alone.
//!
//! Three lints keep it so: `unreachable_pub` (an item marked `pub` that nothing outside can
//! reach must say `pub(crate)`), `unnameable_types` (a type in a public signature must be
//! nameable from outside) and `missing_docs`.

// The API rules of "# API" above, checked.
#![deny(unreachable_pub, unnameable_types, missing_docs)]

pub mod auth;
pub mod config;
mod dashboard;
mod dial;
pub mod dispatch;
pub mod envelope;
pub mod events;
pub mod http;
pub mod json;
pub mod kv;
mod loader;
pub mod logtail;
pub mod message;
pub mod metrics;
pub mod plugin;
mod registry;
mod reverse;
pub mod server;
mod sse;
pub mod sync;
mod triggers;
mod upstream;
pub mod watch;
pub mod ws;

pub use server::listen::{FdLimit, raise_fd_limit};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashSet;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::events::{EventBus, Identity};
use crate::loader::Loader;
use crate::plugin::{Runtime, RuntimeError};
use crate::registry::Registry;

/// Why the host could not start. Nothing is left listening when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The WebAssembly engine or its compile cache could not be set up.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The key-value database could not be opened.
    #[error(transparent)]
    KeyValue(#[from] kv::OpenError),
    /// A server could not bind its address.
    #[error(transparent)]
    Bind(#[from] server::BindError),
    /// The plugin folder could not be watched.
    #[error(transparent)]
    Watch(#[from] watch::WatchError),
    /// Loading the plugins stopped before it finished.
    #[error("loading plugins failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A running host: its listeners' addresses and a handle to stop it.
pub struct Host {
    /// The bound address of each enabled server, in config order (port 0 resolved).
    pub addrs: Vec<SocketAddr>,
    /// Routes calls; what the servers answer with.
    pub dispatcher: Arc<Dispatcher>,
    /// The event bus every connection subscribes to.
    pub events: Arc<EventBus>,
    stop: tokio::sync::watch::Sender<bool>,
    servers: JoinSet<std::io::Result<()>>,
}

impl Host {
    /// Stops accepting, lets requests in flight finish, and returns when every server is down.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while let Some(result) = self.servers.join_next().await {
            if let Ok(Err(e)) = result {
                tracing::error!("server stopped with an error: {e}");
            }
        }
    }
}

/// What serving needs besides listeners: the loaded plugins behind a dispatcher, the event
/// bus, and the loader that keeps the registry in step with the folder (see [`watch`]).
pub struct Core {
    /// Routes calls to the loaded plugins.
    pub dispatcher: Arc<Dispatcher>,
    /// The event bus.
    pub events: Arc<EventBus>,
    pub(crate) loader: Loader,
}

/// Loads the plugins of `config` into a dispatcher, without any listener: what [`start`]
/// serves. The key-value database is opened first; a file that cannot be opened stops it.
pub async fn open(config: &Config) -> Result<Core, StartError> {
    let kv = open_kv(config).await?;
    open_with(config, Some(kv)).await
}

/// As [`open`], for the CLI's `call` and `plugins` commands, which may run while a server
/// holds the key-value database: then plugins' stores answer that it is unavailable (and a
/// warning says why) instead of the command failing.
pub async fn open_beside_a_server(config: &Config) -> Result<Core, StartError> {
    let kv = match open_kv(config).await {
        Ok(kv) => Some(kv),
        Err(e) => {
            tracing::warn!("{e}; key-value stores are unavailable to this command");
            None
        }
    };
    open_with(config, kv).await
}

async fn open_kv(config: &Config) -> Result<Arc<kv::Kv>, StartError> {
    let data_dir = config.plugins.data_dir.clone();
    // Blocking: after a crash, opening repairs the file first.
    let kv = tokio::task::spawn_blocking(move || kv::Kv::open(&data_dir)).await??;
    tracing::debug!(file = %kv.path().display(), "key-value database open");
    Ok(Arc::new(kv))
}

async fn open_with(config: &Config, kv: Option<Arc<kv::Kv>>) -> Result<Core, StartError> {
    // E6: dispatch learns the bot's id, the bus stamps it on events; both share it.
    let identity = Arc::new(Identity::new(config.bot.self_id));
    // O1: one set of metrics for the whole host, counted into by every part.
    let metrics = Arc::new(metrics::Metrics::new());
    let events = Arc::new(EventBus::new(identity.clone()).with_metrics(metrics.clone()));
    let runtime = Arc::new(
        Runtime::new(
            config.plugins.cache_dir.as_deref(),
            config.plugins.max_concurrent_calls,
            events.clone(),
            kv,
        )?
        .with_metrics(metrics.clone()),
    );
    let registry = Arc::new(Registry::new());
    let dir = loader::absolute(&config.plugins.dir);
    if !dir.is_dir() {
        tracing::warn!(
            "plugin folder {} does not exist: no plugins loaded yet",
            dir.display()
        );
    }
    let mut loader = Loader::new(
        runtime.clone(),
        registry.clone(),
        dir,
        loader::Defaults::of(&config.plugins),
    );
    let loader = tokio::task::spawn_blocking(move || {
        loader.sync(&HashSet::new());
        loader
    })
    .await?;
    // G1: the connection itself is started by `start`, not here (the CLI's commands do
    // not dial).
    let upstream = config.upstream.as_ref().map(|c| {
        Arc::new(upstream::Upstream::new(
            c.clone(),
            identity.clone(),
            events.clone(),
        ))
    });
    let dispatcher = Arc::new(
        Dispatcher::new(
            registry,
            config.bot.clone(),
            identity,
            config.plugins.max_concurrent_calls as usize,
            Duration::from_millis(config.plugins.rate_limit_gap_ms),
            &config.limits,
        )
        .with_upstream(upstream)
        .with_events(events.clone())
        // O9: per-call metrics are kept only where some server can show them.
        .with_metrics(config.keeps_metrics().then_some(metrics)),
    );
    // P4: plugins granted `callActions` call back into the dispatcher through the runtime.
    let caller: Arc<dyn plugin::ActionCaller> = dispatcher.clone();
    runtime.set_action_caller(Arc::downgrade(&caller));
    dispatcher.refresh_self_id().await;
    Ok(Core {
        dispatcher,
        events,
        loader,
    })
}

/// Loads the plugins, binds every enabled server, and starts serving.
pub async fn start(config: Config) -> Result<Host, StartError> {
    start_with(config, None).await
}

/// [`start`], with the process's log tail for the dashboards' log page (D5).
pub async fn start_with(config: Config, log: Option<logtail::LogTail>) -> Result<Host, StartError> {
    let Core {
        dispatcher,
        events,
        loader,
    } = open(&config).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // T1: events go through the plugins that handle them before they are delivered.
    let worker = triggers::Chain::attach(dispatcher.registry.clone(), &events);
    let mut servers = JoinSet::new();
    {
        let stopped = stopped.clone();
        servers.spawn(async move {
            worker.run(stopped).await;
            Ok(())
        });
    }
    // T9: the plugins' schedules, following the registry through hot swaps.
    let scheduler = triggers::Scheduler::new(
        dispatcher.registry.clone(),
        dispatcher.identity(),
        config.limits.max_schedule_timeout_ms,
    );
    {
        let stopped = stopped.clone();
        servers.spawn(async move {
            scheduler.run(stopped).await;
            Ok(())
        });
    }
    if config.plugins.watch {
        watch::spawn(loader, dispatcher.clone(), stopped.clone())?;
    }

    let bound = server::bind(&config.servers).await?;
    let addrs: Vec<SocketAddr> = bound.iter().map(|(_, addr)| *addr).collect();
    // W7: one byte budget for every WebSocket connection, forward and reverse.
    let pending = Arc::new(ws::budget::Pending::new(&config.limits));
    // D1: one dashboard for every server that shows it.
    let dashboard = (config.servers.iter())
        .any(|s| s.kind.http().is_some_and(|h| h.dashboard))
        .then(|| {
            Arc::new(dashboard::Dashboard::new(
                &config,
                &addrs,
                dispatcher.clone(),
                events.clone(),
                log,
            ))
        });
    if let Some(dashboard) = &dashboard {
        let (dashboard, stopped) = (dashboard.clone(), stopped.clone());
        servers.spawn(async move {
            dashboard.run(stopped).await;
            Ok(())
        });
    }
    server::serve(
        &mut servers,
        &config.servers,
        bound,
        &server::Shared {
            dispatcher: dispatcher.clone(),
            events: events.clone(),
            shutdown: stopped.clone(),
            pending: pending.clone(),
            dashboard,
        },
    );
    reverse::ws::spawn(
        &mut servers,
        &config.ws_clients,
        &dispatcher,
        &events,
        &stopped,
        &pending,
    );
    reverse::http::spawn(
        &mut servers,
        &config.http_clients,
        &dispatcher,
        &events,
        &stopped,
    );
    if let Some(upstream) = dispatcher.upstream() {
        upstream::spawn(&mut servers, upstream.clone(), &stopped);
    }
    Ok(Host {
        addrs,
        dispatcher,
        events,
        stop,
        servers,
    })
}

/// Runs the host until `shutdown` completes, then stops it gracefully. `log` is the
/// process's log tail, for the dashboards' log page (D5).
pub async fn run(
    config: Config,
    log: Option<logtail::LogTail>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let host = start_with(config, log).await?;
    shutdown.await;
    tracing::info!("shutting down");
    host.stop().await;
    Ok(())
}
