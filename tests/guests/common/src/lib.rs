//! guest-common: the guest code the `probe` and `hostile` test fixtures share (not shipped to
//! users). Each fixture names its own actions and defaults and calls these from `handle`; the
//! host's tests (SPEC P5: time and memory limits, `maxResultBytes`) rely on what they do, so
//! both fixtures behave exactly as before the code was shared.

use std::hint::black_box;

use serde_json::Value;

/// An infinite loop with no host call in it: only the host's time limit (epoch interruption)
/// can stop it. `black_box` keeps the optimiser from deleting the loop.
pub fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates and touches 1 MiB chunks, keeping every one, for ever: only the memory cap ends
/// it. Touching one byte a page makes the pages real, not just reserved.
pub fn hog_memory() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        for byte in chunk.iter_mut().step_by(4096) {
            *byte = 1;
        }
        chunks.push(black_box(chunk));
        black_box(&chunks);
    }
}

/// `{"bytes": n}` → a JSON string of n 'x' characters plus its two quotes: a result as large
/// as asked, `default_bytes` when the param is missing or not a size.
pub fn big(params: &Value, default_bytes: usize) -> String {
    let bytes = params["bytes"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(default_bytes);
    let mut out = String::with_capacity(bytes.saturating_add(2));
    out.push('"');
    out.extend(std::iter::repeat_n('x', bytes));
    out.push('"');
    out
}
