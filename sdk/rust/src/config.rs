//! The plugin's own settings (the host's `wasi:config/store`, SPEC P4, P6): string values the
//! plugin's sidecar grants under `config`, with `${NAME}` already replaced by the host's
//! environment variable NAME, so secrets stay out of files.
//!
//! ```json5
//! // greeter.json5, beside greeter.wasm
//! { config: { greeting: "Hello", api_key: "${GREETER_API_KEY}" } }
//! ```
//!
//! ```ignore
//! use onebot_plugin::config;
//!
//! let greeting = config::get("greeting").unwrap_or_else(|| "Hi".to_owned());
//! let key = config::require("api_key")?; // retcode 1200 naming the key when it is not set
//! for (key, value) in config::all() { /* … */ }
//! ```
//!
//! A plugin without a `config` grant sees an empty store: every key is absent.

use std::collections::BTreeMap;

use crate::bindings::wasi::config::store;
use crate::{Error, Result};

/// The value of `key`, or `None` when the sidecar does not set it.
pub fn get(key: &str) -> Option<String> {
    match store::get(key) {
        Ok(value) => value,
        Err(e) => {
            crate::log(
                crate::Level::Warn,
                &format!("config: reading `{key}` failed: {}", describe(&e)),
            );
            None
        }
    }
}

/// The value of `key`, or an error (retcode 1200) saying which sidecar key to add.
pub fn require(key: &str) -> Result<String> {
    match store::get(key) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(Error::failed(format!(
            "config `{key}` is not set: add it under `config` in the plugin's sidecar \
             (<plugin>.json5 beside the .wasm), e.g. `config: {{ {key}: \"…\" }}`"
        ))),
        Err(e) => Err(Error::failed(format!(
            "config: reading `{key}` failed: {}",
            describe(&e)
        ))),
    }
}

/// Every value the sidecar grants, by key (empty without a `config` grant).
pub fn all() -> BTreeMap<String, String> {
    match store::get_all() {
        Ok(pairs) => pairs.into_iter().collect(),
        Err(e) => {
            crate::log(
                crate::Level::Warn,
                &format!("config: reading all values failed: {}", describe(&e)),
            );
            BTreeMap::new()
        }
    }
}

fn describe(error: &store::Error) -> &str {
    match error {
        store::Error::Upstream(message) | store::Error::Io(message) => message,
    }
}
