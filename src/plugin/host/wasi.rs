//! The WASI unit (SPEC P5): every plugin gets WASI with nothing in it — no files, no
//! environment, no args, no network — so toolchains that expect WASI run, and see nothing of
//! the host. Its stdout and stderr are captured (`super::stdio`) and written to the host's
//! log after each call, tagged with the plugin.

use wasmtime::component::Linker;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::stdio::Capture;
use super::{Capability, Getter, Guest, HostState, Shared};

/// WASI for every plugin; nothing granted through it.
pub(crate) struct Wasi;

/// A guest's captured output streams.
#[derive(Default)]
pub(crate) struct Stdio {
    pub(crate) out: Capture,
    pub(crate) err: Capture,
}

/// One instance's WASI context and its captured output.
pub(crate) struct WasiState {
    pub(crate) ctx: WasiCtx,
    pub(crate) stdio: Stdio,
}

impl Capability for Wasi {
    type State = WasiState;

    /// All of WASI, reaching its context through `HostState`'s `WasiView` rather than `get`.
    fn add_to_linker(linker: &mut Linker<HostState>, _get: Getter<Self>) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)
    }

    /// Building the WASI context is about half the cost of a new store, so a plugin keeps the
    /// state of finished stores for its next fresh instance (`HostState::recycle`).
    fn prepare(_shared: &Shared, _guest: &Guest<'_>) -> WasiState {
        let stdio = Stdio::default();
        let ctx = WasiCtxBuilder::new()
            .stdout(stdio.out.clone())
            .stderr(stdio.err.clone())
            .build();
        WasiState { ctx, stdio }
    }
}
