//! Persistent key-value storage (the host's `key-value` capability, SPEC P4): values that
//! outlive the call, the instance, hot swaps and restarts.
//!
//! A store is a label the plugin's sidecar grants, `keyValue: ["default"]` in
//! `<plugin>.json5`; each label is a namespace of its own, and no other plugin sees it. A
//! write returns once it is on disk. Every operation fails with retcode 1200 and the host's
//! message when the label is not granted, a key (1 KiB) or value (1 MiB) is too big, the
//! plugin's quota is used up, or the database fails; `?` passes that on as the action's error.
//!
//! ```ignore
//! use onebot_plugin::kv::Store;
//!
//! let store = Store::open("default");
//! store.set("greeting", "hello")?;
//! let hits = store.increment("hits", 1)?;
//! store.set_json("last", &serde_json::json!({ "hits": hits }))?;
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::onebot::plugin::key_value as host;
use crate::{Error, Result};

/// One granted store, by its label. Opening asks the host nothing: a label that is not
/// granted fails on its first use, with a message saying which sidecar key to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    label: String,
}

impl Store {
    pub fn open(label: impl Into<String>) -> Store {
        Store {
            label: label.into(),
        }
    }

    /// The label this store was opened with.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        host::get(&self.label, key).map_err(Error::failed)
    }

    /// Stores `value` at `key`, replacing what was there; returns once it is on disk.
    pub fn set(&self, key: &str, value: impl AsRef<[u8]>) -> Result<()> {
        host::set(&self.label, key, value.as_ref()).map_err(Error::failed)
    }

    /// Removes `key`; a key that is not there is not an error.
    pub fn delete(&self, key: &str) -> Result<()> {
        host::delete(&self.label, key).map_err(Error::failed)
    }

    pub fn exists(&self, key: &str) -> Result<bool> {
        host::exists(&self.label, key).map_err(Error::failed)
    }

    /// The keys starting with `prefix` (`""` for all), in byte order, at most `limit`.
    pub fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>> {
        host::list_keys(&self.label, prefix, limit).map_err(Error::failed)
    }

    /// Adds `delta` to the integer at `key` (absent counts as 0) atomically, and returns the
    /// new value. The value is kept as decimal text, so `get` reads e.g. `b"42"`.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64> {
        host::increment(&self.label, key, delta).map_err(Error::failed)
    }

    /// Sets `key` to `new` only if it now holds `old` (`None`: only if it is absent),
    /// atomically; returns whether it did.
    pub fn compare_and_swap(
        &self,
        key: &str,
        old: Option<&[u8]>,
        new: impl AsRef<[u8]>,
    ) -> Result<bool> {
        host::compare_and_swap(&self.label, key, old, new.as_ref()).map_err(Error::failed)
    }

    /// The value at `key` read as JSON into `T`; a value that is not `T`'s JSON fails with
    /// retcode 1200 naming the store and the key.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(bytes) = self.get(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::failed(format!(
                "key-value store \"{}\": the value at {key:?} is not the JSON expected: {e}",
                self.label
            ))
        })
    }

    /// Stores `value` as JSON at `key`.
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            Error::failed(format!(
                "key-value store \"{}\": cannot encode the value for {key:?}: {e}",
                self.label
            ))
        })?;
        self.set(key, bytes)
    }
}
