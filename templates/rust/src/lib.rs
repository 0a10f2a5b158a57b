//! {{name}}: an onebot-host plugin. Each action is a function from its params to its data.
//!
//! `{{prefix}}_greet` and `{{prefix}}_count` use capabilities that `{{prefix}}.json5` (copy it
//! beside `{{prefix}}.wasm`) grants: `config` and `keyValue`.

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

onebot_plugin::plugin! {
    "{{prefix}}_echo" => echo,
    "{{prefix}}_add" => add,
    "{{prefix}}_greet" => greet,
    "{{prefix}}_count" => count,
}
