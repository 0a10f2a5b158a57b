//! hostile: a test-fixture plugin whose actions each attack the host in one way (not shipped to
//! users). `tests/all/hostile.rs` calls each and checks that the caller gets a 1200 naming the
//! cause, the log says so, and the rest of the server does not notice.
//!
//! Every hostile action ignores whatever the host answers and carries on; only a limit the host
//! enforces from outside can end it. Params are a JSON object; every param is optional.

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use std::hint::black_box;
use std::time::Duration;

use exports::onebot::plugin::onebot_action::{ActionCall, ActionError, Guest};
use onebot::plugin::host::emit_event;
use serde_json::{Value, json};

const ACTIONS: [&str; 7] = [
    "hostile_ok",
    "hostile_loop",
    "hostile_memory",
    "hostile_stack",
    "hostile_big",
    "hostile_flood",
    "hostile_block",
];

struct Hostile;

export!(Hostile);

impl Guest for Hostile {
    fn actions() -> Vec<String> {
        ACTIONS.iter().map(ToString::to_string).collect()
    }

    fn handle(call: ActionCall) -> Result<String, ActionError> {
        let params: Value = serde_json::from_str(&call.params).unwrap_or_default();
        match call.action.as_str() {
            "hostile_ok" => Ok(json!({ "ok": true }).to_string()),
            "hostile_loop" => guest_common::spin(),
            "hostile_memory" => guest_common::hog_memory(),
            "hostile_stack" => Ok(json!({ "depth": recurse(&params) }).to_string()),
            "hostile_big" => Ok(guest_common::big(&params, 64 << 20)),
            "hostile_flood" => flood(),
            "hostile_block" => block(),
            other => Err(ActionError {
                retcode: 1404,
                message: format!("不支持的API {other}"),
            }),
        }
    }
}

/// Unbounded recursion: a doubly recursive function (which no optimiser turns into a loop) on a
/// depth that only the params know (so none can fold it). With the default `n` it would need
/// 2^40 frames; the wasm call stack runs out long before.
fn recurse(params: &Value) -> u64 {
    let n = params["n"].as_u64().unwrap_or(1 << 40);
    deep(black_box(n))
}

#[inline(never)]
fn deep(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    deep(n - 1).wrapping_add(deep(n - 2)).rotate_left(1)
}

/// Emits notice events numbered from 0 for ever, ignoring every refusal: only a cap on events
/// per call (or the time limit) ends it.
fn flood() -> ! {
    let mut seq = 0u64;
    loop {
        let event = json!({ "post_type": "notice", "notice_type": "hostile_flood", "seq": seq });
        let _ = black_box(emit_event(&event.to_string()));
        seq += 1;
    }
}

/// Sleeps an hour in a WASI host call (`wasi:clocks` + `wasi:io/poll`), never running a wasm
/// instruction meanwhile: only a host that can cancel a call blocked in a host call ends it.
fn block() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
