//! The key-value unit (SPEC P4, P8; sidecar `keyValue`): `onebot:plugin/key-value`, persistent
//! stores a plugin opens by label, backed by the host's one database ([`crate::kv`]).
//!
//! Each label the plugin's grant lists is a namespace of its own, apart from its other
//! labels and from every other plugin's; any other label is refused with a message naming
//! the sidecar key to add. Reads answer from a read transaction at once; writes wait, without
//! a thread, until the writer has committed them to disk.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::{Capability, Getter, Grantee, Guest, HostState, Refused, Shared};
use crate::kv::{Kv, KvError, Namespace};
use crate::plugin::bindings::onebot::plugin::key_value;

/// Key-value storage for plugins granted `keyValue`, in [`Shared::kv`]: `None` in a runtime
/// without the database (a CLI command while a server holds it, benchmarks, unit tests),
/// where every store answers that it is unavailable.
pub(crate) struct KeyValue;

/// One instance's side: who it is, what it was granted, and its quota.
pub(crate) struct KeyValueState {
    grantee: Grantee,
    kv: Option<Arc<Kv>>,
    quota: u64,
}

impl Capability for KeyValue {
    type State = KeyValueState;

    fn add_to_linker(linker: &mut Linker<HostState>, get: Getter<Self>) -> wasmtime::Result<()> {
        key_value::add_to_linker::<_, HasSelf<KeyValueState>>(linker, get)
    }

    fn prepare(shared: &Shared, guest: &Guest<'_>) -> KeyValueState {
        KeyValueState {
            grantee: guest.grantee(),
            kv: shared.kv.clone(),
            quota: guest.limits.kv_quota_mb.saturating_mul(1 << 20),
        }
    }
}

type Answer<T> = Result<T, String>;

impl KeyValueState {
    /// The database and the namespace of `store`, if the plugin was granted it.
    fn open(&self, store: &str) -> Result<(&Kv, Namespace), String> {
        let plugin = &self.grantee.plugin;
        if !self
            .grantee
            .grants
            .key_value
            .iter()
            .any(|label| label == store)
        {
            let message = format!(
                "plugin {plugin}: key-value store \"{store}\" is not granted; add `keyValue: \
                 [\"{store}\"]` to its sidecar {plugin}.json5"
            );
            return Err(self.grantee.refuse(Refused::Store(store), message));
        }
        let Some(kv) = &self.kv else {
            return Err(format!(
                "plugin {plugin}: key-value store \"{store}\": the key-value database is not open \
                 in this process (another onebot-host holds it? see the warning in the log)"
            ));
        };
        Ok((kv, Namespace::new(plugin, store)))
    }

    /// The message a plugin gets for a failed operation, naming it and the store.
    fn failed(&self, store: &str, error: KvError) -> String {
        let plugin = &self.grantee.plugin;
        match &error {
            KvError::Database(_) | KvError::Closed => {
                tracing::error!(%plugin, store, "key-value: {error}");
            }
            _ => tracing::debug!(%plugin, store, "key-value refused: {error}"),
        }
        format!("plugin {plugin}: key-value store \"{store}\": {error}")
    }
}

impl key_value::Host for KeyValueState {
    async fn get(&mut self, store: String, key: String) -> Answer<Option<Vec<u8>>> {
        let (kv, ns) = self.open(&store)?;
        kv.get(&ns, &key).map_err(|e| self.failed(&store, e))
    }

    async fn set(&mut self, store: String, key: String, value: Vec<u8>) -> Answer<()> {
        let (kv, ns) = self.open(&store)?;
        let done = kv.set(&ns, &key, value, self.quota).await;
        done.map_err(|e| self.failed(&store, e))
    }

    async fn delete(&mut self, store: String, key: String) -> Answer<()> {
        let (kv, ns) = self.open(&store)?;
        let done = kv.delete(&ns, &key).await;
        done.map_err(|e| self.failed(&store, e))
    }

    async fn exists(&mut self, store: String, key: String) -> Answer<bool> {
        let (kv, ns) = self.open(&store)?;
        kv.exists(&ns, &key).map_err(|e| self.failed(&store, e))
    }

    async fn list_keys(
        &mut self,
        store: String,
        prefix: String,
        limit: u32,
    ) -> Answer<Vec<String>> {
        let (kv, ns) = self.open(&store)?;
        kv.list_keys(&ns, &prefix, limit)
            .map_err(|e| self.failed(&store, e))
    }

    async fn increment(&mut self, store: String, key: String, delta: i64) -> Answer<i64> {
        let (kv, ns) = self.open(&store)?;
        let done = kv.increment(&ns, &key, delta, self.quota).await;
        done.map_err(|e| self.failed(&store, e))
    }

    async fn compare_and_swap(
        &mut self,
        store: String,
        key: String,
        old: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Answer<bool> {
        let (kv, ns) = self.open(&store)?;
        let done = kv.compare_and_swap(&ns, &key, old, new, self.quota).await;
        done.map_err(|e| self.failed(&store, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Grants, Limits};
    use crate::plugin::host::prepared;
    use key_value::Host as _;

    fn state(kv: Option<Arc<Kv>>, plugin: &str, labels: &[&str]) -> KeyValueState {
        let grants = Grants {
            key_value: labels.iter().map(|l| (*l).to_owned()).collect(),
            ..Grants::default()
        };
        let shared = Shared {
            kv,
            ..Shared::for_tests()
        };
        prepared::<KeyValue>(&shared, plugin, &Limits::default(), grants)
    }

    #[tokio::test]
    async fn p4_a_store_not_granted_is_refused_naming_the_sidecar_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv = Arc::new(Kv::open(dir.path()).expect("open"));
        let mut state = state(Some(kv), "notes", &["default"]);
        let error = state
            .set("cache".into(), "k".into(), b"v".to_vec())
            .await
            .expect_err("not granted");
        assert_eq!(
            error,
            "plugin notes: key-value store \"cache\" is not granted; add `keyValue: [\"cache\"]` \
             to its sidecar notes.json5"
        );
        // Reads are refused the same way, before touching the database.
        let error = state
            .get("cache".into(), "k".into())
            .await
            .expect_err("not granted");
        assert!(
            error.contains("keyValue") && error.contains("notes.json5"),
            "{error}"
        );
        // The granted label works.
        state
            .set("default".into(), "k".into(), b"v".to_vec())
            .await
            .expect("granted");
        let value = state.get("default".into(), "k".into()).await;
        assert_eq!(value, Ok(Some(b"v".to_vec())));
    }

    #[tokio::test]
    async fn p4_two_plugins_with_the_same_label_never_see_each_others_keys() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv = Arc::new(Kv::open(dir.path()).expect("open"));
        let mut a = state(Some(kv.clone()), "a", &["default"]);
        let mut b = state(Some(kv), "b", &["default"]);
        a.set("default".into(), "k".into(), b"from a".to_vec())
            .await
            .expect("set");
        assert_eq!(b.get("default".into(), "k".into()).await, Ok(None));
        let keys = b.list_keys("default".into(), String::new(), 10).await;
        assert_eq!(keys, Ok(Vec::new()));
    }

    #[tokio::test]
    async fn p4_errors_name_the_plugin_and_the_store() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv = Arc::new(Kv::open(dir.path()).expect("open"));
        let mut state = state(Some(kv), "notes", &["default"]);
        let long = "k".repeat(crate::kv::MAX_KEY_BYTES + 1);
        let error = state
            .get("default".into(), long)
            .await
            .expect_err("too long");
        assert!(
            error.starts_with("plugin notes: key-value store \"default\": the key is 1025 bytes"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn p4_without_a_database_every_store_is_unavailable() {
        let mut state = state(None, "notes", &["default"]);
        let error = state
            .exists("default".into(), "k".into())
            .await
            .expect_err("no db");
        assert!(error.contains("database is not open"), "{error}");
    }
}
