//! sdk-caps: a test-fixture plugin (not shipped) using every capability through the Rust SDK
//! as a plugin author would: `config`, `kv::Store`, `call_action`/`call_action_as` and `http`.
//! Each action answers what the SDK call returned, so a test sees the SDK's view; an SDK error
//! becomes the action's failure (retcode and message), as `?` makes it in a real plugin.

use std::collections::BTreeMap;
use std::time::Duration;

use onebot_plugin::http::{self, Request, Response};
use onebot_plugin::kv::Store;
use onebot_plugin::{Result, Value, call_action, call_action_as, config, json};
use serde::Deserialize;

#[derive(Deserialize)]
struct Key {
    key: String,
}

/// `caps_config {key}` → `{"one": config::get(key), "all": config::all()}`.
fn read_config(p: Key) -> Result<Value> {
    Ok(json!({ "one": config::get(&p.key), "all": config::all() }))
}

/// `caps_require {key}` → `{"value": …}`, or `config::require`'s error.
fn require_config(p: Key) -> Result<Value> {
    Ok(json!({ "value": config::require(&p.key)? }))
}

#[derive(Deserialize)]
struct Count {
    store: String,
    key: String,
}

/// `caps_count {store, key}` → the counter after adding one, and the JSON note the previous
/// call left (`set_json`/`get_json` round trip).
fn count(p: Count) -> Result<Value> {
    let store = Store::open(p.store);
    let count = store.increment(&p.key, 1)?;
    let note_key = format!("{}.note", p.key);
    let previous: Option<Value> = store.get_json(&note_key)?;
    store.set_json(&note_key, &json!({ "after": count }))?;
    Ok(json!({ "count": count, "previous": previous }))
}

#[derive(Deserialize)]
struct Call {
    action: String,
    #[serde(default)]
    params: Option<Value>,
}

/// `caps_call {action, params?}` → the callee's data; its failure is this action's failure.
fn call(p: Call) -> Result<Value> {
    match p.params {
        Some(params) => call_action(&p.action, params),
        None => call_action(&p.action, ()),
    }
}

#[derive(Deserialize)]
struct VersionInfo {
    app_name: String,
    protocol_version: String,
}

/// `caps_version` → `get_version_info` read into a struct.
fn version(_: Value) -> Result<Value> {
    let info: VersionInfo = call_action_as("get_version_info", ())?;
    Ok(json!({ "app_name": info.app_name, "protocol_version": info.protocol_version }))
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct NotVersionInfo {
    no_such_field: u32,
}

/// `caps_version_mismatch` → the error of reading `get_version_info` into the wrong type.
fn version_mismatch(_: Value) -> Result<Value> {
    call_action_as::<NotVersionInfo>("get_version_info", ()).map(|_| Value::Null)
}

#[derive(Deserialize)]
struct Exchange {
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    json: Option<Value>,
    text: Option<String>,
    timeout_ms: Option<u64>,
}

/// `caps_http {method, url, headers?, json?, text?, timeout_ms?}` through the `Request`
/// builder → the response as `{status, headers, body}`.
fn exchange(p: Exchange) -> Result<Value> {
    let mut request = Request::new(&p.method, &p.url);
    for (name, value) in p.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &p.json {
        request = request.json(body);
    }
    if let Some(text) = p.text {
        request = request.body(text);
    }
    if let Some(ms) = p.timeout_ms {
        request = request.timeout(Duration::from_millis(ms));
    }
    describe(request.send()?)
}

#[derive(Deserialize)]
struct Url {
    url: String,
}

/// `caps_get {url}` → `http::get`.
fn get(p: Url) -> Result<Value> {
    describe(http::get(&p.url)?)
}

#[derive(Deserialize)]
struct Post {
    url: String,
    body: Value,
}

/// `caps_post {url, body}` → `http::post_json`, the answer read back as JSON; a 4xx or 5xx
/// is an error (`error_for_status`).
fn post(p: Post) -> Result<Value> {
    let response = http::post_json(&p.url, &p.body)?.error_for_status()?;
    let answer: Value = response.json()?;
    Ok(json!({ "status": response.status, "answer": answer }))
}

fn describe(response: Response) -> Result<Value> {
    let text = response.text()?;
    Ok(json!({
        "status": response.status,
        "success": response.is_success(),
        "content_type": response.header("Content-Type"),
        "headers": response.headers,
        "body": text,
    }))
}

onebot_plugin::plugin! {
    "caps_config" => read_config,
    "caps_require" => require_config,
    "caps_count" => count,
    "caps_call" => call,
    "caps_version" => version,
    "caps_version_mismatch" => version_mismatch,
    "caps_http" => exchange,
    "caps_get" => get,
    "caps_post" => post,
}
