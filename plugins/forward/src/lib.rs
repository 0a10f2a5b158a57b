//! forward: answers `send_private_msg` and `send_group_msg` by calling the same action on an
//! upstream OneBot 11 HTTP API (another onebot-host, NapCat, go-cqhttp, …) and passing its
//! answer back: the upstream's `data` on success, its retcode and message on failure.
//!
//! It is the example of outbound HTTP (docs/capabilities.md, "Outbound HTTP"): it reaches the upstream
//! through the standard `wasi:http/outgoing-handler` (the `wasip2` crate's bindings), which
//! the host allows only to the origins in the plugin's `allowedOutboundHosts`. Its settings
//! come from `wasi:config/store` (sidecar `config`):
//! - `upstream`: the API's base URL, e.g. `http://127.0.0.1:3001` (the action is appended);
//! - `token` (optional): sent as `Authorization: Bearer <token>`, never logged.
//!
//! It is not in the default plugin folder (it would clash with mock-account's
//! `send_private_msg`): `plugins/build forward` writes `plugins/optional/forward.wasm`, with
//! its sidecar example `plugins/optional/forward.json5` beside it.

mod client;

use onebot_plugin::{Error, Result, Value};

/// `wasi:config/store`, from the WIT the host ships (`wit/deps/config`).
mod config {
    wit_bindgen::generate!({ path: "../../wit/deps/config", world: "imports" });
    pub use wasi::config::store::get;
}

onebot_plugin::plugin! {
    "send_private_msg" => send_private_msg,
    "send_group_msg" => send_group_msg,
}

fn send_private_msg(params: Value) -> Result<Value> {
    forward("send_private_msg", &params)
}

fn send_group_msg(params: Value) -> Result<Value> {
    forward("send_group_msg", &params)
}

/// Calls `action` upstream with `params` and turns its envelope into this call's answer.
fn forward(action: &str, params: &Value) -> Result<Value> {
    let upstream = setting("upstream")?.ok_or_else(|| {
        Error::failed(
            "forward: no `upstream` in its config; set `config: { upstream: \"http://host:port\" }` \
             in forward.json5",
        )
    })?;
    let token = setting("token")?.filter(|t| !t.is_empty());
    let url = format!("{}/{action}", upstream.trim_end_matches('/'));
    let body = serde_json::to_vec(params).map_err(|e| Error::failed(e.to_string()))?;
    let reply = client::post_json(&url, token.as_deref(), &body)
        .map_err(|e| Error::failed(format!("forward: {action} to {upstream}: {e}")))?;
    if reply.status != 200 {
        return Err(Error::failed(format!(
            "forward: {action} to {upstream}: HTTP {} {}",
            reply.status,
            preview(&reply.body)
        )));
    }
    let envelope: Value = serde_json::from_slice(&reply.body).map_err(|e| {
        Error::failed(format!(
            "forward: {action} to {upstream}: the answer is not JSON ({e}): {}",
            preview(&reply.body)
        ))
    })?;
    match envelope["retcode"].as_i64() {
        Some(0) => Ok(envelope["data"].clone()),
        Some(retcode) => Err(Error::new(
            i32::try_from(retcode).unwrap_or(1200),
            format!(
                "upstream: {}",
                envelope["message"].as_str().unwrap_or("(no message)")
            ),
        )),
        None => Err(Error::failed(format!(
            "forward: {action} to {upstream}: the answer is not a OneBot envelope: {}",
            preview(&reply.body)
        ))),
    }
}

/// One config value; a config store that fails is this call's failure.
fn setting(key: &str) -> Result<Option<String>> {
    config::get(key).map_err(|e| Error::failed(format!("forward: reading config `{key}`: {e:?}")))
}

/// The start of a body, for an error message.
fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}
