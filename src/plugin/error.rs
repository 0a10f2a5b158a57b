//! Why a plugin did not load or a call failed (SPEC P2, P5, E4): each error names the plugin
//! (or file), the action and the cause, and says what to fix where there is something to fix.

use crate::envelope::Retcode;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a file could not become a plugin. Each names the file and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file that is not a WebAssembly component.
    #[error(
        "{path}: not a WebAssembly component{hint} (build for wasm32-wasip2, or wrap a core module with `wasm-tools component new`)"
    )]
    NotComponent {
        /// The plugin file.
        path: PathBuf,
        /// A hint for a likely cause, or empty.
        hint: &'static str,
    },
    /// wasmtime could not compile it.
    #[error("{path}: does not compile: {reason}")]
    Compile {
        /// The plugin file.
        path: PathBuf,
        /// What wasmtime or the guest said.
        reason: String,
    },
    /// A component of another world: it lacks or mistypes the plugin world's exports.
    #[error("{path}: is not a plugin of world onebot:plugin/plugin@0.1.0: {reason}")]
    World {
        /// The plugin file.
        path: PathBuf,
        /// What wasmtime or the guest said.
        reason: String,
    },
    /// Its `actions` export failed.
    #[error("{path}: calling `actions` failed: {source}")]
    Actions {
        /// The plugin file.
        path: PathBuf,
        /// The underlying error.
        source: CallError,
    },
    /// Its action list is not usable: an invalid or reserved action name.
    #[error("{path}: bad action list: {reason}")]
    BadActions {
        /// The plugin file.
        path: PathBuf,
        /// What wasmtime or the guest said.
        reason: String,
    },
}

/// Why one call failed. All but [`CallError::Returned`] become retcode 1200 (E4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin itself answered with an error; its retcode and message pass through.
    #[error("{message}")]
    Returned {
        /// The plugin's retcode.
        retcode: Retcode,
        /// The plugin's message.
        message: String,
    },
    /// The call ran past the plugin's `timeoutMs`.
    #[error("plugin {plugin}: `{action}` timed out after {timeout_ms} ms")]
    Timeout {
        /// The plugin's name.
        plugin: Arc<str>,
        /// The action called.
        action: String,
        /// Its `timeoutMs`.
        timeout_ms: u64,
    },
    /// The call grew memory past the plugin's `memoryMb`.
    #[error("plugin {plugin}: `{action}` exceeded its memory limit of {memory_mb} MiB")]
    Memory {
        /// The plugin's name.
        plugin: Arc<str>,
        /// The action called.
        action: String,
        /// Its `memoryMb`.
        memory_mb: u64,
    },
    /// The result was larger than `maxResultBytes`.
    #[error(
        "plugin {plugin}: `{action}` returned {bytes} bytes, more than its maxResultBytes cap of {cap}"
    )]
    TooBig {
        /// The plugin's name.
        plugin: Arc<str>,
        /// The action called.
        action: String,
        /// The result's size.
        bytes: usize,
        /// The limit.
        cap: u64,
    },
    /// The call emitted more events than `maxEventsPerCall`.
    #[error(
        "plugin {plugin}: `{action}` emitted more than {cap} events in one call (maxEventsPerCall)"
    )]
    EventFlood {
        /// The plugin's name.
        plugin: Arc<str>,
        /// The action called.
        action: String,
        /// The limit.
        cap: u32,
    },
    /// The guest's stack overflowed.
    #[error("plugin {plugin}: `{action}` overflowed its stack (unbounded recursion?)")]
    StackOverflow {
        /// The plugin's name.
        plugin: Arc<str>,
        /// The action called.
        action: String,
    },
    /// The guest trapped (a panic, an unreachable, a bad memory access).
    #[error("plugin {plugin}: `{action}` trapped: {reason}")]
    Trap {
        /// The plugin's name.
        plugin: Arc<str>,
        /// The action called.
        action: String,
        /// What wasmtime or the guest said.
        reason: String,
    },
    /// No instance could be made for the call.
    #[error("plugin {plugin}: cannot start an instance: {reason}")]
    Instantiate {
        /// The plugin's name.
        plugin: Arc<str>,
        /// What wasmtime or the guest said.
        reason: String,
    },
}
