//! What the bridge keeps in key-value (store `default`, the sidecar's `keyValue`): the id maps
//! (`ids`), the sync position, direct rooms, display names and the transaction counter. Every
//! instance is fresh (SPEC P5), so nothing lives in memory between calls.
//!
//! Keys besides `ids`'s: `sync/next_batch`; `direct/<room>` → the other user and `dm/<user>` →
//! the room; `name/<user>` → display name; `txn/prefix` and `txn/count`.

use onebot_plugin::kv::Store;
use onebot_plugin::{Error, Result};

use crate::ids::{self, Kind, Kv};
use crate::segments::{Lookup, Numbers};
use crate::settings::{Settings, localpart};

/// The store label the sidecar grants.
const STORE: &str = "default";

/// The bridge's key-value store.
pub struct State {
    store: Store,
}

impl Kv for State {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.store.get(key).map_err(|e| e.message)
    }
    fn cas(&self, key: &str, old: Option<&[u8]>, new: &[u8]) -> Result<bool, String> {
        self.store
            .compare_and_swap(key, old, new)
            .map_err(|e| e.message)
    }
}

impl State {
    pub fn open() -> State {
        State {
            store: Store::open(STORE),
        }
    }

    fn text(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .get(key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The number of `id`, and whether this call gave it.
    pub fn number(&self, kind: Kind, id: &str) -> Result<(i64, bool)> {
        ids::number(self, kind, id).map_err(|e| Error::failed(format!("matrix: {e}")))
    }

    /// The Matrix id of number `n`.
    pub fn matrix(&self, kind: Kind, n: i64) -> Result<Option<String>> {
        ids::matrix(self, kind, n).map_err(|e| Error::failed(format!("matrix: {e}")))
    }

    /// The room and event of `message_id` `n`.
    pub fn event(&self, n: i64) -> Result<Option<(String, String)>> {
        Ok(self
            .matrix(Kind::Event, n)?
            .and_then(|key| ids::split_event_key(&key).map(|(r, e)| (r.to_owned(), e.to_owned()))))
    }

    pub fn next_batch(&self) -> Result<Option<String>> {
        self.text("sync/next_batch")
    }

    pub fn set_next_batch(&self, token: &str) -> Result<()> {
        self.store.set("sync/next_batch", token)
    }

    /// The other user of a direct room, if `room` is one.
    pub fn direct_user(&self, room: &str) -> Result<Option<String>> {
        self.text(&format!("direct/{room}"))
    }

    /// The direct room with `user`, if there is one.
    pub fn direct_room(&self, user: &str) -> Result<Option<String>> {
        self.text(&format!("dm/{user}"))
    }

    /// Remembers `room` as the direct chat with `user` (written only when it changes).
    pub fn set_direct(&self, room: &str, user: &str) -> Result<()> {
        if self.direct_user(room)?.as_deref() != Some(user) {
            self.store.set(&format!("direct/{room}"), user)?;
        }
        if self.direct_room(user)?.is_none() {
            self.store.set(&format!("dm/{user}"), room)?;
        }
        Ok(())
    }

    /// The display name last seen for `user`, else its localpart.
    pub fn name(&self, user: &str) -> Result<String> {
        Ok(self
            .text(&format!("name/{user}"))?
            .unwrap_or_else(|| localpart(user).to_owned()))
    }

    /// Remembers a display name (written only when it changes).
    pub fn set_name(&self, user: &str, name: &str) -> Result<()> {
        let key = format!("name/{user}");
        if self.text(&key)?.as_deref() != Some(name) {
            self.store.set(&key, name)?;
        }
        Ok(())
    }

    /// A transaction id never used before by this bridge: a prefix chosen once (so a lost
    /// store cannot reuse an old id, which the homeserver would answer with the old event
    /// and not post) and a counter.
    pub fn next_txn(&self) -> Result<String> {
        let prefix = match self.text("txn/prefix")? {
            Some(prefix) => prefix,
            None => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let mine = format!("ob{now:x}");
                if self
                    .store
                    .compare_and_swap("txn/prefix", None, mine.as_bytes())?
                {
                    mine
                } else {
                    self.text("txn/prefix")?.unwrap_or(mine)
                }
            }
        };
        let n = self.store.increment("txn/count", 1)?;
        Ok(format!("{prefix}-{n}"))
    }

    /// The kind of chat `room` is for OneBot: `Some(user)` a private chat with `user`, `None`
    /// a group; `Err` when the settings do not bridge it.
    pub fn chat(&self, settings: &Settings, room: &str) -> Result<Chat> {
        if let Some(user) = self.direct_user(room)? {
            return Ok(if settings.direct {
                Chat::Private(user)
            } else {
                Chat::Hidden
            });
        }
        Ok(if settings.bridges(room) {
            Chat::Group
        } else {
            Chat::Hidden
        })
    }
}

/// What a room is to OneBot.
#[derive(Clone, Debug, PartialEq)]
pub enum Chat {
    Group,
    /// A direct room with this user.
    Private(String),
    /// Not bridged.
    Hidden,
}

/// Numbers for a message coming in from `room`.
pub struct InRoom<'a> {
    pub state: &'a State,
    pub room: &'a str,
}

impl Numbers for InRoom<'_> {
    fn user(&self, user_id: &str) -> Result<i64> {
        Ok(self.state.number(Kind::User, user_id)?.0)
    }
    fn event(&self, event_id: &str) -> Result<i64> {
        Ok(self
            .state
            .number(Kind::Event, &ids::event_key(self.room, event_id))?
            .0)
    }
}

impl Lookup for State {
    fn user(&self, n: i64) -> Result<Option<(String, String)>> {
        match self.matrix(Kind::User, n)? {
            Some(user) => {
                let name = self.name(&user)?;
                Ok(Some((user, name)))
            }
            None => Ok(None),
        }
    }
    fn event(&self, n: i64) -> Result<Option<(String, String)>> {
        State::event(self, n)
    }
}
