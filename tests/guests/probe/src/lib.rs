//! probe: a test-fixture plugin for onebot-host's integration tests (not shipped to users).
//!
//! Each action exercises one edge of the host: echoing what the plugin received, failing with
//! a chosen retcode, trapping, spinning forever (time limit), hogging memory (memory limit),
//! printing to stdout/stderr, returning a large result, emitting events, sleeping.
//! Params are a JSON object; every param is optional and has a default.

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use exports::onebot::plugin::onebot_action::{ActionCall, ActionError, Guest};
use onebot::plugin::host::{Level, emit_event, log};
use serde_json::{Value, json};

const ACTIONS: [&str; 10] = [
    "probe_echo",
    "probe_fail",
    "probe_trap",
    "probe_spin",
    "probe_hog_memory",
    "probe_print",
    "probe_big",
    "probe_emit",
    "probe_sleep",
    "probe_count",
];

struct Probe;

static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

export!(Probe);

impl Guest for Probe {
    fn actions() -> Vec<String> {
        ACTIONS.iter().map(ToString::to_string).collect()
    }

    fn handle(call: ActionCall) -> Result<String, ActionError> {
        let params: Value = serde_json::from_str(&call.params)
            .map_err(|e| error(1400, format!("{}: params are not JSON: {e}", call.action)))?;
        match call.action.as_str() {
            "probe_echo" => Ok(
                json!({ "action": call.action, "params": params, "self_id": call.self_id })
                    .to_string(),
            ),
            "probe_fail" => Err(fail(&params)),
            "probe_trap" => panic!("probe trap"),
            "probe_spin" => guest_common::spin(),
            "probe_hog_memory" => guest_common::hog_memory(),
            "probe_print" => Ok(print(&params)),
            "probe_big" => Ok(guest_common::big(&params, 1_000_000)),
            "probe_emit" => emit(&params),
            "probe_sleep" => Ok(sleep(&params)),
            // Counts calls in this instance: 1 every time with fresh instances, rising with
            // warm ones (SPEC P5).
            "probe_count" => {
                let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                Ok(json!({ "count": n }).to_string())
            }
            other => Err(error(1404, format!("不支持的API {other}"))),
        }
    }
}

fn error(retcode: i32, message: impl Into<String>) -> ActionError {
    ActionError {
        retcode,
        message: message.into(),
    }
}

/// `{"retcode": n, "message": m}` → that error; defaults 1200 and "probe failed".
fn fail(params: &Value) -> ActionError {
    let retcode = params["retcode"]
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(1200);
    // Not `message`: the host turns a `message` param into segments (SPEC M3).
    let message = params["error"].as_str().unwrap_or("probe failed");
    error(retcode, message)
}

/// Prints and logs fixed lines; with `{"text": t}`, also logs `t` and prints it to stderr as
/// given (control characters included, for the log-forging test).
fn print(params: &Value) -> String {
    println!("probe stdout line");
    eprintln!("probe stderr line");
    log(Level::Warn, "probe log line");
    if let Some(text) = params["text"].as_str() {
        log(Level::Warn, text);
        eprintln!("{text}");
    }
    json!({ "printed": true }).to_string()
}

/// `{"event": {...}}` → emit-event with that object serialised. A string `event` is passed
/// verbatim, so tests can hand the host text that is not JSON or not an object.
///
/// With `"count": n` the object is emitted n times, each copy with `"seq"` set to
/// `seq_from + i` (`seq_from` defaults to 0); `"pad": n` adds a string field `pad` of n bytes
/// (a big event); `"stamp": true` sets `"sent_ns"` to the wall clock's Unix nanoseconds just
/// before each emit, for latency measurements.
fn emit(params: &Value) -> Result<String, ActionError> {
    let template = match &params["event"] {
        Value::Null => return Err(error(1400, "probe_emit: missing param `event`")),
        Value::String(text) => {
            emit_event(text).map_err(|e| error(1200, e))?;
            return Ok(json!({ "emitted": 1 }).to_string());
        }
        other => other.clone(),
    };
    let count = params["count"].as_u64();
    let seq_from = params["seq_from"].as_u64().unwrap_or(0);
    let pad = params["pad"].as_u64().and_then(|n| usize::try_from(n).ok());
    let stamp = params["stamp"].as_bool().unwrap_or(false);
    let mut event = template;
    if let (Some(n), Value::Object(map)) = (pad, &mut event) {
        map.insert("pad".into(), Value::String("p".repeat(n)));
    }
    for i in 0..count.unwrap_or(1) {
        if let Value::Object(map) = &mut event {
            if count.is_some() {
                map.insert("seq".into(), json!(seq_from + i));
            }
            if stamp {
                map.insert("sent_ns".into(), json!(unix_nanos()));
            }
        }
        emit_event(&event.to_string()).map_err(|e| error(1200, e))?;
    }
    Ok(json!({ "emitted": count.unwrap_or(1) }).to_string())
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `{"ms": n}` → busy-waits n milliseconds (default 0) on the monotonic clock.
fn sleep(params: &Value) -> String {
    let ms = params["ms"].as_u64().unwrap_or(0);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(ms) {
        black_box(());
    }
    json!({ "slept": ms }).to_string()
}
