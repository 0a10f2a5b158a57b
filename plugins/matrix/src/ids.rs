//! OneBot numbers for Matrix ids, kept both ways in key-value so either side can be found from
//! the other: a room is a `group_id`, a user a `user_id`, an event a `message_id`.
//!
//! A number is derived from SHA-256 of the Matrix id (so a fresh store gives a room the same
//! `group_id` again), in 1..=2^31-1 (it fits every client's integer, an `i32` `message_id`
//! included). Two ids that land on the same number: the later one takes the next free number,
//! and keeps it, because the pair is written to key-value before anyone sees the number.
//!
//! Keys: `id/<kind>/<matrix id>` → number, `n/<kind>/<number>` → matrix id. The number is
//! claimed first (compare-and-swap on `n/…`), then the forward key (compare-and-swap on
//! `id/…`): whoever writes the forward key first is told the number is *new*, which the sync
//! uses to report each message exactly once, even when a batch is fetched twice.

use sha2::{Digest, Sha256};

/// The largest number handed out (`i32::MAX`): `message_id` is an `i32` in OneBot 11.
pub const MAX: i64 = i32::MAX as i64;
/// How many numbers after the hashed one are tried before giving up (a store this full of
/// collisions is broken, not busy).
const PROBES: i64 = 64;

/// What a number stands for; each kind numbers its ids apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A room: `group_id`.
    Room,
    /// A Matrix user: `user_id`.
    User,
    /// An event, as `<room id> <event id>`: `message_id`.
    Event,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Room => "room",
            Kind::User => "user",
            Kind::Event => "event",
        }
    }
}

/// The key-value operations the map needs; `kv::Store` in the plugin, a map in the tests.
pub trait Kv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Sets `key` to `new` if it holds `old` (`None`: is absent); whether it did.
    fn cas(&self, key: &str, old: Option<&[u8]>, new: &[u8]) -> Result<bool, String>;
}

/// The number `hash` gives `id` before any collision.
pub fn hashed(kind: Kind, id: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(kind.name())
        .chain_update([0])
        .chain_update(id)
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % MAX as u64) as i64 + 1
}

/// The number of `id`, and whether this call gave it (`true`: nobody had asked before).
pub fn number(kv: &impl Kv, kind: Kind, id: &str) -> Result<(i64, bool), String> {
    let forward = format!("id/{}/{id}", kind.name());
    if let Some(n) = read_number(kv, &forward)? {
        return Ok((n, false));
    }
    let mut n = hashed(kind, id);
    for _ in 0..PROBES {
        let reverse = format!("n/{}/{n}", kind.name());
        let claimed = kv.cas(&reverse, None, id.as_bytes())?
            || kv.get(&reverse)?.as_deref() == Some(id.as_bytes());
        if claimed {
            let text = n.to_string();
            if kv.cas(&forward, None, text.as_bytes())? {
                return Ok((n, true));
            }
            // Someone else numbered it meanwhile: theirs is the same claim.
            let theirs = read_number(kv, &forward)?.unwrap_or(n);
            return Ok((theirs, false));
        }
        n = n % MAX + 1;
    }
    Err(format!(
        "no free {} number near {} for {id:?} after {PROBES} tries",
        kind.name(),
        hashed(kind, id)
    ))
}

/// The Matrix id of number `n`, if it was given out.
pub fn matrix(kv: &impl Kv, kind: Kind, n: i64) -> Result<Option<String>, String> {
    Ok(kv
        .get(&format!("n/{}/{n}", kind.name()))?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// An event's id in the map: room and event, since an action needs both.
pub fn event_key(room: &str, event: &str) -> String {
    format!("{room} {event}")
}

/// The room and event of an [`event_key`].
pub fn split_event_key(key: &str) -> Option<(&str, &str)> {
    key.split_once(' ')
}

fn read_number(kv: &impl Kv, key: &str) -> Result<Option<i64>, String> {
    match kv.get(key)? {
        None => Ok(None),
        Some(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("key-value {key:?} does not hold a number")),
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// A key-value store in memory.
    #[derive(Default)]
    pub struct Memory(pub RefCell<BTreeMap<String, Vec<u8>>>);

    impl Kv for Memory {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.0.borrow().get(key).cloned())
        }
        fn cas(&self, key: &str, old: Option<&[u8]>, new: &[u8]) -> Result<bool, String> {
            let mut map = self.0.borrow_mut();
            if map.get(key).map(Vec::as_slice) != old {
                return Ok(false);
            }
            map.insert(key.to_owned(), new.to_vec());
            Ok(true)
        }
    }

    #[test]
    fn a_number_is_positive_stable_and_reversible() {
        let kv = Memory::default();
        let room = "!abc:example.org";
        let (n, new) = number(&kv, Kind::Room, room).unwrap();
        assert!(new);
        assert!((1..=MAX).contains(&n));
        assert_eq!(n, hashed(Kind::Room, room), "no collision: the hash itself");
        assert_eq!(number(&kv, Kind::Room, room).unwrap(), (n, false));
        assert_eq!(matrix(&kv, Kind::Room, n).unwrap().as_deref(), Some(room));
        // A fresh store (the old one lost) gives the room the same number.
        assert_eq!(number(&Memory::default(), Kind::Room, room).unwrap().0, n);
        // Kinds are apart: the same text as a user is another number, free of the room's.
        let (u, new) = number(&kv, Kind::User, room).unwrap();
        assert!(new);
        assert_eq!(matrix(&kv, Kind::User, u).unwrap().as_deref(), Some(room));
        assert_eq!(matrix(&kv, Kind::User, 12345).unwrap(), None);
    }

    #[test]
    fn a_collision_takes_the_next_free_number_and_keeps_it() {
        let kv = Memory::default();
        let taken = hashed(Kind::User, "@b:x");
        // Pretend another user already holds @b's number.
        kv.cas(&format!("n/user/{taken}"), None, b"@a:x").unwrap();
        let (n, new) = number(&kv, Kind::User, "@b:x").unwrap();
        assert!(new);
        assert_eq!(n, taken % MAX + 1);
        assert_eq!(number(&kv, Kind::User, "@b:x").unwrap(), (n, false));
        assert_eq!(
            matrix(&kv, Kind::User, taken).unwrap().as_deref(),
            Some("@a:x")
        );
        assert_eq!(matrix(&kv, Kind::User, n).unwrap().as_deref(), Some("@b:x"));
    }

    #[test]
    fn numbers_wrap_below_max() {
        assert_eq!(MAX % MAX + 1, 1);
        for id in ["", "x", "!room:hs", "$event", "@ü:例子"] {
            let n = hashed(Kind::Event, id);
            assert!((1..=MAX).contains(&n), "{id}: {n}");
        }
    }

    #[test]
    fn event_keys_split_into_room_and_event() {
        let key = event_key("!r:hs", "$e");
        assert_eq!(split_event_key(&key), Some(("!r:hs", "$e")));
        assert_eq!(split_event_key("nospace"), None);
    }
}
