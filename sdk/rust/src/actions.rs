//! Calling other actions through the host (the host's `actions` capability, SPEC P4): the
//! same params normalisation, host fallbacks and retcodes a client's call gets, within what is
//! left of this call's time.
//!
//! The plugin's sidecar names the actions it may call:
//!
//! ```json5
//! // relay.json5, beside relay.wasm
//! { callActions: ["send_private_msg", "get_login_info"] }   // or ["*"] for every action
//! ```
//!
//! ```ignore
//! use onebot_plugin::{call_action, call_action_as, json};
//! use serde::Deserialize;
//!
//! let sent = call_action("send_private_msg", json!({ "user_id": 10001, "message": "hi" }))?;
//!
//! #[derive(Deserialize)]
//! struct Login { user_id: i64, nickname: String }
//! let me: Login = call_action_as("get_login_info", ())?;
//! ```
//!
//! A failed call is an [`Error`] with the callee's retcode and message (1404 for an action
//! nobody provides; 1403 when the sidecar does not grant it, naming `callActions`), so `?`
//! passes it on unchanged as this action's failure.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::onebot::plugin::actions;
use crate::{Error, Result};

/// Calls `action` with `params` (anything that serializes to a JSON object; `()` for none)
/// and returns the answer's `data`.
pub fn call_action(action: &str, params: impl Serialize) -> Result<Value> {
    call_action_as(action, params)
}

/// [`call_action`], with the answer's `data` read into `T`. Data that does not fit `T` is an
/// error (retcode 1200) naming the action and what did not fit.
pub fn call_action_as<T: DeserializeOwned>(action: &str, params: impl Serialize) -> Result<T> {
    let params = serde_json::to_string(&params)
        .map_err(|e| Error::failed(format!("calling `{action}`: cannot encode the params: {e}")))?;
    // `()` and `None` serialize to `null`: no params at all.
    let params = if params == "null" {
        "{}".to_owned()
    } else {
        params
    };
    let data = actions::call(action, &params).map_err(|e| Error::new(e.retcode, e.message))?;
    serde_json::from_str(&data).map_err(|e| {
        Error::failed(format!(
            "calling `{action}`: its data is not what was expected: {e}"
        ))
    })
}
