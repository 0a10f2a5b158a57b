//! The items a feed has had, kept in the key-value store `default` so that nothing is sent
//! twice, across calls (each run is a fresh instance), hot swaps and restarts.
//!
//! One value per feed URL, under `seen/<SHA-256 of the URL>`: a JSON list of the SHA-256
//! digests (hex, first 16 bytes) of the item ids, most recent first. Digests keep the value
//! small whatever a feed puts in its guids. The list keeps every id of the feed as last read,
//! and up to [`KEEP`] in all: an item that leaves the feed is forgotten only after a thousand
//! newer ones, so one that comes back (a feed that reorders, or shows only a few items) is not
//! sent again.

use std::collections::HashSet;

use onebot_plugin::Result;
use onebot_plugin::kv::Store;
use sha2::{Digest, Sha256};

/// The store the sidecar grants (`keyValue: ["default"]`).
const STORE: &str = "default";
/// How many ids are kept for a feed beyond those it lists now.
const KEEP: usize = 1000;

/// The ids remembered for one feed.
pub struct Seen {
    key: String,
    digests: Vec<String>,
}

impl Seen {
    /// What was remembered for the feed at `url`; `None` before its first poll.
    pub fn load(url: &str) -> Result<Option<Seen>> {
        let key = format!("seen/{}", digest(url));
        let digests: Option<Vec<String>> = Store::open(STORE).get_json(&key)?;
        Ok(digests.map(|digests| Seen { key, digests }))
    }

    /// A first poll: every id in `ids` remembered, nothing sent.
    pub fn first<'a>(url: &str, ids: impl Iterator<Item = &'a str>) -> Seen {
        Seen {
            key: format!("seen/{}", digest(url)),
            digests: ids.map(digest).collect(),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.digests.contains(&digest(id))
    }

    /// Remembers `id`, first in the list.
    pub fn add(&mut self, id: &str) {
        self.digests.insert(0, digest(id));
    }

    /// Drops the oldest ids that are not in the feed any more (`current`, its ids as just
    /// read) beyond [`KEEP`] ids in all; whether it dropped any.
    pub fn forget_old<'a>(&mut self, current: impl Iterator<Item = &'a str>) -> bool {
        let current: HashSet<String> = current.map(digest).collect();
        let listed = self.digests.iter().filter(|d| current.contains(*d)).count();
        let mut room = KEEP.saturating_sub(listed);
        let before = self.digests.len();
        self.digests.retain(|d| {
            if current.contains(d) {
                return true;
            }
            let keep = room > 0;
            room = room.saturating_sub(1);
            keep
        });
        self.digests.len() < before
    }

    /// Writes the list (on disk when this returns).
    pub fn save(&self) -> Result<()> {
        Store::open(STORE).set_json(&self.key, &self.digests)
    }
}

/// The first 16 bytes of the SHA-256 of `text`, in hex.
fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_the_feed_are_kept_and_the_oldest_others_forgotten_past_the_limit() {
        let old: Vec<String> = (0..KEEP + 10).map(|i| format!("old-{i}")).collect();
        let mut seen = Seen::first("https://example.com/feed", old.iter().map(String::as_str));
        seen.add("new");
        assert!(seen.contains("new") && seen.contains("old-0"));
        assert!(!seen.contains("never"));
        // The feed now lists "new" and the very last of the old ones.
        let current = ["new", old.last().expect("ids").as_str()];
        assert!(seen.forget_old(current.into_iter()));
        assert_eq!(seen.digests.len(), KEEP);
        assert!(seen.contains("new") && seen.contains(current[1]));
        assert!(seen.contains("old-0"), "the most recent others stay");
        assert!(!seen.contains(&old[KEEP]), "the oldest others go");
        assert!(
            !seen.forget_old(current.into_iter()),
            "nothing more to drop"
        );
    }
}
