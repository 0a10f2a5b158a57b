//! Why a plugin did not load or a call failed (SPEC P2, P5, E4): each error names the plugin
//! (or file), the action and the cause, and says what to fix where there is something to fix.

use crate::envelope::Retcode;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a file could not become a plugin. Each names the file and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a WebAssembly component{hint} (build for wasm32-wasip2, or wrap a core module with `wasm-tools component new`)"
    )]
    NotComponent { path: PathBuf, hint: &'static str },
    #[error("{path}: does not compile: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error("{path}: is not a plugin of world onebot:plugin/plugin@0.1.0: {reason}")]
    World { path: PathBuf, reason: String },
    #[error("{path}: calling `actions` failed: {source}")]
    Actions { path: PathBuf, source: CallError },
    #[error("{path}: bad action list: {reason}")]
    BadActions { path: PathBuf, reason: String },
}

/// Why one call failed. All but [`CallError::Returned`] become retcode 1200 (E4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin itself answered with an error; its retcode and message pass through.
    #[error("{message}")]
    Returned { retcode: Retcode, message: String },
    #[error("plugin {plugin}: `{action}` timed out after {timeout_ms} ms")]
    Timeout {
        plugin: Arc<str>,
        action: String,
        timeout_ms: u64,
    },
    #[error("plugin {plugin}: `{action}` exceeded its memory limit of {memory_mb} MiB")]
    Memory {
        plugin: Arc<str>,
        action: String,
        memory_mb: u64,
    },
    #[error(
        "plugin {plugin}: `{action}` returned {bytes} bytes, more than its maxResultBytes cap of {cap}"
    )]
    TooBig {
        plugin: Arc<str>,
        action: String,
        bytes: usize,
        cap: u64,
    },
    #[error(
        "plugin {plugin}: `{action}` emitted more than {cap} events in one call (maxEventsPerCall)"
    )]
    EventFlood {
        plugin: Arc<str>,
        action: String,
        cap: u32,
    },
    #[error("plugin {plugin}: `{action}` overflowed its stack (unbounded recursion?)")]
    StackOverflow { plugin: Arc<str>, action: String },
    #[error("plugin {plugin}: `{action}` trapped: {reason}")]
    Trap {
        plugin: Arc<str>,
        action: String,
        reason: String,
    },
    #[error("plugin {plugin}: cannot start an instance: {reason}")]
    Instantiate { plugin: Arc<str>, reason: String },
}
