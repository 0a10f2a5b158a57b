//! The key-value database behind the `key-value` capability (SPEC P4, P8): one redb file,
//! `<plugins.dataDir>/kv.redb`, holding a namespace per plugin and store label.
//!
//! Why redb: pure Rust (no C toolchain, unlike SQLite through rusqlite), one file, ACID
//! transactions that fsync on commit, copy-on-write B-trees that need no write-ahead log to
//! survive a crash, and readers that never wait for the writer.
//!
//! Writes go through one writer thread ([`writer`]) that batches the writes of concurrent
//! calls into one durable transaction (group commit, `Durability::Immediate`) and answers each
//! only after that transaction has committed: a write a plugin saw succeed is on disk, even if
//! the process is killed the next instant. A plugin call awaits its answer without holding a
//! thread. Reads open a read transaction on the caller's thread: they touch only pages the
//! OS has cached in the common case (microseconds), never wait for the writer, and see every
//! acknowledged write.
//!
//! Limits ([`MAX_KEY_BYTES`], [`MAX_VALUE_BYTES`], a quota per plugin across its stores given
//! with each write (`kvQuotaMb`), [`MAX_LIST_KEYS`]) are checked before anything is written,
//! and each refusal says what was too big and by how much. The quota counts what an entry
//! costs the file, not only its key and value ([`entry_size`], issue 20 item 6): before, a
//! plugin could store a million empty values for a few MiB of quota.

mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use redb::{Database, ReadableDatabase, TableDefinition};

use writer::{Done, Op, Write};

/// The longest key, in bytes of UTF-8.
pub(crate) const MAX_KEY_BYTES: usize = 1024;
/// The largest value, in bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 1 << 20;
/// The most keys one `list-keys` call returns, whatever its `limit`.
pub(crate) const MAX_LIST_KEYS: u32 = 10_000;
/// redb's page cache. Its default (1 GiB) would let a busy store grow the host's memory far
/// past everything else it holds; pages past this are read from the OS's file cache.
const CACHE_BYTES: usize = 32 << 20;
/// The database file's name in the data folder.
pub(crate) const FILE_NAME: &str = "kv.redb";

/// Every entry: the namespace's prefix (see [`Namespace`]) then the plugin's key → value.
const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("data");
/// Bytes each plugin's entries count ([`entry_size`]), kept in step with `DATA` by every
/// write. Named anew when what is counted changed: a database without it has its usage
/// recounted from `DATA` when opened ([`OLD_USAGE`] goes).
const USAGE: TableDefinition<&str, u64> = TableDefinition::new("usage_v2");
/// The usage table of versions that counted only keys and values.
const OLD_USAGE: &str = "usage";
/// What one entry costs the database beyond its key, value and namespace: redb's offsets and
/// page slack, rounded up. Counted so that many tiny entries cannot fill the disk.
pub(crate) const ENTRY_OVERHEAD: u64 = 64;

/// What an entry counts against its plugin's quota: its database key (the namespace, which
/// names the plugin and the store, then the plugin's key), its value, and [`ENTRY_OVERHEAD`].
pub(crate) fn entry_size(entry_len: usize, value_len: usize) -> u64 {
    ENTRY_OVERHEAD + entry_len as u64 + value_len as u64
}

/// The plugin an entry of `DATA` belongs to, from its namespace prefix (see [`Namespace`]).
fn entry_plugin(entry: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(entry.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(entry.get(4..4 + len)?).ok()
}

/// Why a key-value operation failed. The capability unit puts the plugin and store in front.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KvError {
    #[error("the key is {len} bytes, over the limit of {MAX_KEY_BYTES}; use a shorter key")]
    KeyTooLong { len: usize },
    #[error(
        "the value for key {key:?} is {len} bytes, over the limit of {MAX_VALUE_BYTES} (1 MiB); \
         split it over several keys"
    )]
    ValueTooBig { key: String, len: usize },
    #[error(
        "writing key {key:?} would bring the plugin's entries to {would} bytes (keys, values, \
         store names and 64 bytes each), over its quota of {quota} bytes (kvQuotaMb); delete \
         keys it no longer needs"
    )]
    Quota { key: String, would: u64, quota: u64 },
    #[error("the value at key {key:?} is not a decimal integer, so it cannot be incremented")]
    NotInteger { key: String },
    #[error("incrementing key {key:?} by {delta} would overflow a 64-bit integer")]
    Overflow { key: String, delta: i64 },
    #[error("the key-value database failed: {0}")]
    Database(String),
    #[error("the key-value database is closed (the host is stopping)")]
    Closed,
}

impl From<redb::Error> for KvError {
    fn from(e: redb::Error) -> Self {
        KvError::Database(e.to_string())
    }
}

/// Why the database could not be opened at start.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the key-value database {}: {reason}", path.display())]
pub struct OpenError {
    pub(crate) path: PathBuf,
    pub(crate) reason: String,
}

/// One plugin's store `label`: the plugin's name (whose quota it counts against) and the
/// prefix of its entries. The prefix spells both names with their lengths, so no plugin or
/// label, whatever its characters, can reach into another's entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Namespace {
    plugin: Arc<str>,
    prefix: Vec<u8>,
}

impl Namespace {
    pub(crate) fn new(plugin: &Arc<str>, label: &str) -> Namespace {
        let mut prefix = Vec::with_capacity(8 + plugin.len() + label.len());
        for part in [plugin.as_bytes(), label.as_bytes()] {
            // A plugin name is a file stem and a label a sidecar string: far below 4 GiB.
            prefix.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            prefix.extend_from_slice(part);
        }
        Namespace {
            plugin: plugin.clone(),
            prefix,
        }
    }

    /// The database key of the plugin's `key`.
    fn entry(&self, key: &str) -> Vec<u8> {
        let mut entry = Vec::with_capacity(self.prefix.len() + key.len());
        entry.extend_from_slice(&self.prefix);
        entry.extend_from_slice(key.as_bytes());
        entry
    }
}

/// The open database and its writer. Shared by every plugin instance behind an `Arc`; when
/// the last one goes, the writer finishes what it was given and the file is closed, so the
/// same folder can be opened again at once.
pub struct Kv {
    db: Arc<Database>,
    path: PathBuf,
    /// `None` only while dropping.
    writes: Option<mpsc::Sender<Write>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Kv {
    fn drop(&mut self) {
        // Closing the channel ends the writer's loop once the queued writes are committed.
        self.writes = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Kv {
    /// Opens (or creates) `<data_dir>/kv.redb`, creating the folder if needed, and starts the
    /// writer thread. After a crash, opening first repairs the file to its last commit.
    pub(crate) fn open(data_dir: &Path) -> Result<Kv, OpenError> {
        let path = data_dir.join(FILE_NAME);
        let fail = |reason: String| OpenError {
            path: path.clone(),
            reason,
        };
        // Plugins' data: private to this user (0700) when the host creates the folder.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(data_dir)
            .map_err(|e| fail(format!("cannot create the folder plugins.dataDir: {e}")))?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path);
        let db = db.map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => fail(
                "another process has it open (an onebot-host already running with the same \
                 plugins.dataDir?); stop it, or give this one another plugins.dataDir"
                    .to_owned(),
            ),
            other => fail(other.to_string()),
        })?;
        // Both tables exist from the start, so readers never meet a missing table.
        writer::create_tables(&db).map_err(|e| fail(e.to_string()))?;
        let db = Arc::new(db);
        let (writes, writer) =
            writer::spawn(db.clone()).map_err(|e| fail(format!("no writer thread: {e}")))?;
        Ok(Kv {
            db,
            path,
            writes: Some(writes),
            writer: Some(writer),
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of keys and values `plugin` holds across its stores, as its quota counts them.
    pub(crate) fn usage(&self, plugin: &str) -> Result<u64, KvError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(USAGE).map_err(redb::Error::from)?;
        let used = table.get(plugin).map_err(redb::Error::from)?;
        Ok(used.map_or(0, |v| v.value()))
    }

    pub(crate) fn get(&self, ns: &Namespace, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check_key(key)?;
        let entry = ns.entry(key);
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(DATA).map_err(redb::Error::from)?;
        let value = table.get(entry.as_slice()).map_err(redb::Error::from)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    pub(crate) fn exists(&self, ns: &Namespace, key: &str) -> Result<bool, KvError> {
        check_key(key)?;
        let entry = ns.entry(key);
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(DATA).map_err(redb::Error::from)?;
        let value = table.get(entry.as_slice()).map_err(redb::Error::from)?;
        Ok(value.is_some())
    }

    /// The keys starting with `prefix`, in byte order, at most `limit` (and [`MAX_LIST_KEYS`]).
    pub(crate) fn list_keys(
        &self,
        ns: &Namespace,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<String>, KvError> {
        check_key(prefix)?;
        let start = ns.entry(prefix);
        let limit = limit.min(MAX_LIST_KEYS) as usize;
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(DATA).map_err(redb::Error::from)?;
        let mut keys = Vec::new();
        for item in table.range(start.as_slice()..).map_err(redb::Error::from)? {
            if keys.len() >= limit {
                break;
            }
            let (entry, _) = item.map_err(redb::Error::from)?;
            let entry = entry.value();
            if !entry.starts_with(&start) {
                break;
            }
            // Keys were `string`s when written, so this is never lossy.
            keys.push(String::from_utf8_lossy(&entry[ns.prefix.len()..]).into_owned());
        }
        Ok(keys)
    }

    pub(crate) async fn set(
        &self,
        ns: &Namespace,
        key: &str,
        value: Vec<u8>,
        quota: u64,
    ) -> Result<(), KvError> {
        check_value(key, &value)?;
        self.write(ns, key, Op::Set(value), quota).await.map(drop)
    }

    pub(crate) async fn delete(&self, ns: &Namespace, key: &str) -> Result<(), KvError> {
        self.write(ns, key, Op::Delete, u64::MAX).await.map(drop)
    }

    pub(crate) async fn increment(
        &self,
        ns: &Namespace,
        key: &str,
        delta: i64,
        quota: u64,
    ) -> Result<i64, KvError> {
        match self.write(ns, key, Op::Increment(delta), quota).await? {
            Done::Number(n) => Ok(n),
            Done::Nothing | Done::Swapped(_) => Err(KvError::Database(
                "the writer answered an increment with no number".into(),
            )),
        }
    }

    pub(crate) async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &str,
        old: Option<Vec<u8>>,
        new: Vec<u8>,
        quota: u64,
    ) -> Result<bool, KvError> {
        check_value(key, &new)?;
        match self.write(ns, key, Op::Swap { old, new }, quota).await? {
            Done::Swapped(swapped) => Ok(swapped),
            Done::Nothing | Done::Number(_) => Err(KvError::Database(
                "the writer answered a compare-and-swap with no outcome".into(),
            )),
        }
    }

    /// Hands one write to the writer thread and waits, without a thread, for its commit.
    async fn write(&self, ns: &Namespace, key: &str, op: Op, quota: u64) -> Result<Done, KvError> {
        check_key(key)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let write = Write {
            plugin: ns.plugin.clone(),
            entry: ns.entry(key),
            key_len: key.len(),
            op,
            quota,
            reply,
        };
        let writes = self.writes.as_ref().ok_or(KvError::Closed)?;
        writes.send(write).map_err(|_| KvError::Closed)?;
        answer.await.map_err(|_| KvError::Closed)?
    }
}

fn check_key(key: &str) -> Result<(), KvError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::KeyTooLong { len: key.len() });
    }
    Ok(())
}

fn check_value(key: &str, value: &[u8]) -> Result<(), KvError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::ValueTooBig {
            key: shown(key),
            len: value.len(),
        });
    }
    Ok(())
}

/// A key as error messages show it: whole up to 64 bytes, else its start and an ellipsis.
pub(crate) fn shown(key: &str) -> String {
    match key.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &key[..cut]),
        None => key.to_owned(),
    }
}
