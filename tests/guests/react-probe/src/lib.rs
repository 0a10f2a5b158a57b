//! react-probe: event handlers and schedules (SPEC T1–T15) written with the SDK's `plugin!`.
//! One copy of this component runs under several names in the tests, each with its own
//! sidecar; `config: { name }` tells it which one it is.
//!
//! What its handler does is chosen by the event's text (or its `probe` field):
//! - `drop` → drop it; `trap` → panic; `loop` → spin past the deadline; `bomb` → allocate
//!   past the memory limit; `fail` → an error;
//! - `bad-replace` → a replacement that is not an event;
//! - `reply` → answer it through `send_msg` (granted in the sidecar), then pass;
//! - `re-emit` → publish a copy of the event through the action `probe_emit`, then pass
//!   (the copy is caused by this handler: it must never come back to it);
//! - anything else → pass; with `chain: []` in the event, append its name and replace.
//!
//! Every call of the handler counts in key-value (`handled`), and the action `probe_seen`
//! reads the count; the last event text seen is kept as `last`.

use onebot_plugin::events::{Event, Verdict, reply};
use onebot_plugin::kv::Store;
use onebot_plugin::{Error, Result, Value, call_action, config, emit_event, json};

fn name() -> String {
    config::get("name").unwrap_or_else(|| "react-probe".to_owned())
}

fn on_event(event: Event) -> Result<Verdict> {
    let store = Store::open("default");
    store.increment("handled", 1)?;
    let probe = event
        .get("probe")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| event.text());
    store.set("last", probe.as_bytes())?;
    match probe.as_str() {
        "drop" => return Ok(Verdict::Drop),
        "trap" => panic!("react-probe traps on purpose"),
        "fail" => return Err(Error::failed("react-probe fails on purpose")),
        "loop" => spin(),
        "bomb" => bomb(),
        "bad-replace" => return Ok(Verdict::Replace(json!([1, 2, 3]))),
        "reply" => {
            reply(&event, "pong")?;
        }
        "re-emit" => {
            let mut copy = event.clone().into_value();
            copy["copy_by"] = json!(name());
            call_action("probe_emit", json!({ "event": copy }))?;
        }
        _ => {}
    }
    if let Some(Value::Array(_)) = event.get("chain") {
        let mut value = event.into_value();
        if let Some(Value::Array(chain)) = value.get_mut("chain") {
            chain.push(json!(name()));
        }
        return Ok(Verdict::Replace(value));
    }
    Ok(Verdict::Pass)
}

/// Spins until the host stops it (its deadline).
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Allocates until the host stops it (its memory limit).
fn bomb() -> ! {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        held.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&held);
    }
}

/// Schedules `loop` and `bomb` run away (spin, allocate) only while armed by `probe_arm`, so
/// a benchmark can measure other calls with and without them in one host.
fn on_schedule(schedule: &str) -> Result<()> {
    let store = Store::open("default");
    store.increment(&format!("schedule:{schedule}"), 1)?;
    match schedule {
        "loop" | "bomb" if store.get(&format!("armed:{schedule}"))?.is_none() => Ok(()),
        "loop" => spin(),
        "bomb" => bomb(),
        "fail" => Err(Error::failed("react-probe's schedule fails on purpose")),
        "slow" => {
            // Records an overlap if another run of this schedule is still going (T11).
            if store.get("busy")?.is_some() {
                store.increment("overlaps", 1)?;
            }
            store.set("busy", b"1")?;
            std::thread::sleep(std::time::Duration::from_millis(300));
            store.delete("busy")
        }
        "emit" => emit_event(&json!({
            "post_type": "notice",
            "notice_type": "react_probe_tick",
            "by": name(),
        })),
        _ => Ok(()),
    }
}

#[derive(serde::Deserialize)]
struct Emit {
    event: Value,
}

fn probe_emit(p: Emit) -> Result<Value> {
    emit_event(&p.event)?;
    Ok(Value::Null)
}

#[derive(serde::Deserialize)]
struct Arm {
    schedule: String,
    on: bool,
}

/// Arms or disarms the runaway schedule `loop` or `bomb`.
fn probe_arm(p: Arm) -> Result<Value> {
    let store = Store::open("default");
    let key = format!("armed:{}", p.schedule);
    match p.on {
        true => store.set(&key, b"1")?,
        false => store.delete(&key)?,
    }
    Ok(Value::Null)
}

#[derive(serde::Deserialize)]
struct Key {
    key: String,
}

fn probe_seen(p: Key) -> Result<Value> {
    let store = Store::open("default");
    let raw = store.get(&p.key)?;
    // Counters are decimal text (`increment`); `last` is the text itself.
    Ok(match raw {
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            text.parse::<i64>().map_or(json!(text), |n| json!(n))
        }
        None => Value::Null,
    })
}

#[derive(serde::Deserialize)]
struct GroupMessage {
    group_id: i64,
    message: Value,
}

/// A filter in front of the real `send_group_msg` (issue 24): refuses a message holding the
/// word `forbidden`, and sends any other through `send_msg`, which in gateway mode is the
/// upstream's (its sidecar must grant `callActions: ["send_msg"]`).
fn send_group_msg(p: GroupMessage) -> Result<Value> {
    if p.message.to_string().contains("forbidden") {
        return Err(Error::bad_request("react-probe refuses messages with the word `forbidden`"));
    }
    call_action(
        "send_msg",
        json!({ "message_type": "group", "group_id": p.group_id, "message": p.message }),
    )
}

onebot_plugin::plugin! {
    "send_group_msg" => send_group_msg,
    "probe_emit" => probe_emit,
    "probe_seen" => probe_seen,
    "probe_arm" => probe_arm,
    on_event => on_event,
    schedule => on_schedule,
}
