//! {{name}}: an onebot-host plugin. Each action is a function from its params to its data;
//! `handle_event` is called with the events the sidecar names before the bot sees them, and
//! `run_schedule` when one of the sidecar's schedules is due.
//!
//! What `{{prefix}}.json5` (copy it beside `{{prefix}}.wasm`) grants or starts: `config`
//! (`{{prefix}}_greet`), `keyValue` (`{{prefix}}_count`, `{{prefix}}_stats` and the counters of
//! the handler and the schedule), `events` (the handler) and `schedules` (`tick`).

use onebot_plugin::events::{Event, Verdict};
use onebot_plugin::kv::Store;
use onebot_plugin::{Error, Result, Value, config, info, json};
use serde::Deserialize;

#[derive(Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

/// `{{prefix}}_echo`: answers with the params it was given.
fn echo(params: Value) -> Result<Value> {
    info(&format!("echo {params}"));
    Ok(params)
}

/// `{{prefix}}_add`: adds two integers; params that are not integers answer retcode 1400.
fn add(p: Add) -> Result<Value> {
    let sum = p.a.checked_add(p.b).ok_or_else(|| Error::bad_request("the sum overflows"))?;
    Ok(json!({ "sum": sum }))
}

#[derive(Deserialize)]
struct Greet {
    #[serde(default = "someone")]
    name: String,
}

fn someone() -> String {
    "world".to_owned()
}

/// `{{prefix}}_greet`: greets `name` with the sidecar's `config.greeting` ("Hi" without one).
fn greet(p: Greet) -> Result<Value> {
    let greeting = config::get("greeting").unwrap_or_else(|| "Hi".to_owned());
    Ok(json!({ "text": format!("{greeting}, {}!", p.name) }))
}

/// `{{prefix}}_count`: counts its calls in the key-value store `default` (sidecar
/// `keyValue`); the count survives restarts of the host.
fn count(_: Value) -> Result<Value> {
    let count = Store::open("default").increment("count", 1)?;
    Ok(json!({ "count": count }))
}

/// The event handler: each message event (sidecar `events: ["message"]`) is counted, and
/// every event goes on to the bot unchanged. `Verdict::Replace(new)` would deliver `new`
/// instead, `Verdict::Drop` nothing; an `Err` leaves the event as it was (and is logged).
fn handle_event(event: Event) -> Result<Verdict> {
    if event.post_type() == "message" {
        Store::open("default").increment("messages", 1)?;
    }
    Ok(Verdict::Pass)
}

/// The schedule handler, called with the name of the sidecar's schedule that is due: `tick`
/// (every minute) counts its runs.
fn run_schedule(name: &str) -> Result<()> {
    if name != "tick" {
        return Err(Error::failed(format!("no schedule named {name:?}")));
    }
    Store::open("default").increment("ticks", 1)?;
    Ok(())
}

/// `{{prefix}}_stats`: how many message events the handler has seen and how many times
/// `tick` has run.
fn stats(_: Value) -> Result<Value> {
    let store = Store::open("default");
    // Adding 0 reads a counter (one never incremented counts as 0).
    let messages = store.increment("messages", 0)?;
    let ticks = store.increment("ticks", 0)?;
    Ok(json!({ "messages": messages, "ticks": ticks }))
}

onebot_plugin::plugin! {
    "{{prefix}}_echo" => echo,
    "{{prefix}}_add" => add,
    "{{prefix}}_greet" => greet,
    "{{prefix}}_count" => count,
    "{{prefix}}_stats" => stats,
    on_event => handle_event,
    schedule => run_schedule,
}
