//! Runs a decoder on a thread with a small stack, shared by the targets that parse JSON.
//!
//! libFuzzer keeps inputs short (4 KiB by default), and the main thread's 8 MiB stack would
//! absorb a few thousand levels of unguarded recursion without crashing. On 512 KiB, the
//! depth guard's 128 levels fit many times over while a parser that recursed past the guard
//! overflows within a few thousand levels, so a guard that misses a bracket is a crash the
//! fuzzer reports instead of a bug it walks past.

pub const SMALL_STACK: usize = 512 * 1024;

pub fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(SMALL_STACK)
            .spawn_scoped(scope, f)
            .expect("spawn the decoder thread")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
