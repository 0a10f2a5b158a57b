//! The writer thread: group commit. It takes the first write waiting, then every other write
//! already queued (up to [`MAX_BATCH`]), applies them in order in one write transaction,
//! commits it durably (`Durability::Immediate`: fsync), and only then answers each. While one
//! batch is being synced the next one queues up, so the cost of an fsync is shared by every
//! call that wrote meanwhile; a lone write pays one fsync, as it would without batching.
//!
//! A write the limits refuse (quota, not an integer) changes nothing and does not disturb its
//! batch. A failure of the database itself aborts the batch and every write in it is
//! answered with that failure: nothing of it was written.

use std::sync::Arc;
use std::sync::mpsc;

use redb::{Database, Durability, ReadableTable, Table, TableDefinition, TableHandle};
use tokio::sync::oneshot;

use super::{DATA, KvError, USAGE, shown};

/// The most writes one transaction carries: enough to share an fsync among every call in
/// flight (`maxConcurrentCalls` is at most 4096), few enough to answer the first soon.
const MAX_BATCH: usize = 1024;

/// One write, as the writer thread receives it.
pub(super) struct Write {
    pub plugin: Arc<str>,
    /// The namespaced database key.
    pub entry: Vec<u8>,
    /// The length of the plugin's own key, at the end of `entry` (named in refusals).
    pub key_len: usize,
    pub op: Op,
    pub quota: u64,
    pub reply: oneshot::Sender<Result<Done, KvError>>,
}

pub(super) enum Op {
    Set(Vec<u8>),
    Delete,
    Increment(i64),
    Swap { old: Option<Vec<u8>>, new: Vec<u8> },
}

/// What a write answers once committed.
pub(super) enum Done {
    Nothing,
    Number(i64),
    Swapped(bool),
}

type Data<'t> = Table<'t, &'static [u8], &'static [u8]>;
type Usage<'t> = Table<'t, &'static str, u64>;

pub(super) fn create_tables(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    let counted = txn.list_tables()?.any(|table| table.name() == USAGE.name());
    {
        let data = txn.open_table(DATA)?;
        let mut usage = txn.open_table(USAGE)?;
        if !counted {
            // A new file, or one whose usage counted only keys and values: count it anew.
            let mut totals = std::collections::BTreeMap::<String, u64>::new();
            for item in data.iter()? {
                let (entry, value) = item?;
                let entry = entry.value();
                if let Some(plugin) = super::entry_plugin(entry) {
                    *totals.entry(plugin.to_owned()).or_default() +=
                        super::entry_size(entry.len(), value.value().len());
                }
            }
            for (plugin, total) in totals {
                usage.insert(plugin.as_str(), total)?;
            }
        }
    }
    if !counted {
        let old: TableDefinition<&str, u64> = TableDefinition::new(super::OLD_USAGE);
        txn.delete_table(old)?;
    }
    txn.commit()?;
    Ok(())
}

/// Starts the writer thread; it ends when every sender is gone.
pub(super) fn spawn(
    db: Arc<Database>,
) -> std::io::Result<(mpsc::Sender<Write>, std::thread::JoinHandle<()>)> {
    let (send, receive) = mpsc::channel::<Write>();
    let thread = std::thread::Builder::new()
        .name("onebot-kv-writer".into())
        .spawn(move || {
            while let Ok(first) = receive.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receive.try_recv() {
                        Ok(write) => batch.push(write),
                        Err(_) => break,
                    }
                }
                commit(&db, batch);
            }
        })?;
    Ok((send, thread))
}

/// Applies and commits one batch, then answers every write in it.
fn commit(db: &Database, batch: Vec<Write>) {
    match apply_all(db, &batch) {
        Ok(results) => {
            for (write, result) in batch.into_iter().zip(results) {
                // The caller may have gone (its call timed out): the write stands regardless.
                let _ = write.reply.send(result);
            }
        }
        Err(e) => {
            let reason = e.to_string();
            tracing::error!(writes = batch.len(), "key-value commit failed: {reason}");
            for write in batch {
                let _ = write.reply.send(Err(KvError::Database(reason.clone())));
            }
        }
    }
}

fn apply_all(db: &Database, batch: &[Write]) -> Result<Vec<Result<Done, KvError>>, redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)
        .map_err(redb::Error::from)?;
    let mut results = Vec::with_capacity(batch.len());
    {
        let mut data = txn.open_table(DATA)?;
        let mut usage = txn.open_table(USAGE)?;
        for write in batch {
            results.push(apply(&mut data, &mut usage, write)?);
        }
    }
    txn.commit()?;
    Ok(results)
}

/// One write within the batch's transaction. The outer error is the database's (abort the
/// batch); the inner one is this write's own refusal, which changed nothing.
fn apply(
    data: &mut Data<'_>,
    usage: &mut Usage<'_>,
    write: &Write,
) -> Result<Result<Done, KvError>, redb::Error> {
    let current = data
        .get(write.entry.as_slice())?
        .map(|v| v.value().to_vec());
    let key = || {
        let key = &write.entry[write.entry.len() - write.key_len..];
        shown(&String::from_utf8_lossy(key))
    };
    match &write.op {
        Op::Set(value) => put(data, usage, write, current.as_deref(), value),
        Op::Delete => {
            if let Some(old) = current {
                data.remove(write.entry.as_slice())?;
                let used = used(usage, &write.plugin)?;
                let freed = super::entry_size(write.entry.len(), old.len());
                usage.insert(&*write.plugin, used.saturating_sub(freed))?;
            }
            Ok(Ok(Done::Nothing))
        }
        Op::Increment(delta) => {
            let base = match &current {
                None => 0,
                Some(text) => match std::str::from_utf8(text).ok().and_then(|t| t.parse().ok()) {
                    Some(n) => n,
                    None => return Ok(Err(KvError::NotInteger { key: key() })),
                },
            };
            let Some(next) = i64::checked_add(base, *delta) else {
                return Ok(Err(KvError::Overflow {
                    key: key(),
                    delta: *delta,
                }));
            };
            let stored = put(
                data,
                usage,
                write,
                current.as_deref(),
                next.to_string().as_bytes(),
            )?;
            Ok(stored.map(|_| Done::Number(next)))
        }
        Op::Swap { old, new } => {
            if current.as_deref() != old.as_deref() {
                return Ok(Ok(Done::Swapped(false)));
            }
            let stored = put(data, usage, write, current.as_deref(), new)?;
            Ok(stored.map(|_| Done::Swapped(true)))
        }
    }
}

/// Stores `value`, keeping the plugin's usage in step; refused if it would take the plugin
/// over its quota (a write that shrinks or keeps its size is always allowed).
fn put(
    data: &mut Data<'_>,
    usage: &mut Usage<'_>,
    write: &Write,
    current: Option<&[u8]>,
    value: &[u8],
) -> Result<Result<Done, KvError>, redb::Error> {
    let old = current.map_or(0, |v| super::entry_size(write.entry.len(), v.len()));
    let new = super::entry_size(write.entry.len(), value.len());
    let used = used(usage, &write.plugin)?;
    let would = used.saturating_sub(old).saturating_add(new);
    if new > old && would > write.quota {
        let key = &write.entry[write.entry.len() - write.key_len..];
        return Ok(Err(KvError::Quota {
            key: shown(&String::from_utf8_lossy(key)),
            would,
            quota: write.quota,
        }));
    }
    data.insert(write.entry.as_slice(), value)?;
    usage.insert(&*write.plugin, would)?;
    Ok(Ok(Done::Nothing))
}

fn used(usage: &Usage<'_>, plugin: &str) -> Result<u64, redb::Error> {
    Ok(usage.get(plugin)?.map_or(0, |v| v.value()))
}
