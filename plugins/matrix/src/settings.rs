//! The sidecar's `config`, read and checked: every mistake is an error naming the key and
//! what to write, before anything is sent.

use std::collections::BTreeMap;

use onebot_plugin::{Error, Result};

/// How long a sync waits for news when the config does not say, in ms. Below the host's
/// 30 s bound on a response head (SPEC P4c), with room for the answer.
const SYNC_TIMEOUT_MS: u64 = 25_000;
const SYNC_TIMEOUT_MAX_MS: u64 = 28_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `http(s)://host[:port]`, no trailing slash.
    pub homeserver: String,
    /// The bridged account, `@name:server`.
    pub user_id: String,
    pub access_token: String,
    /// The rooms bridged as groups: `None` for every joined room.
    pub rooms: Option<Vec<String>>,
    /// Direct rooms are bridged as private chats.
    pub direct: bool,
    /// Invitations into bridged rooms (and direct ones when `direct`) are accepted.
    pub auto_join: bool,
    pub sync_timeout_ms: u64,
    /// Messages stay on the homeserver while no bot is connected to the host.
    pub wait_for_bot: bool,
}

impl Settings {
    /// The settings from the config's values.
    pub fn from_config(config: &BTreeMap<String, String>) -> Result<Settings> {
        let required = |key: &str, example: &str| -> Result<String> {
            match config.get(key).map(|v| v.trim()) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => Err(Error::failed(format!(
                    "matrix: config `{key}` is not set: add it under `config` in matrix.json5, e.g. `{key}: \"{example}\"`"
                ))),
            }
        };
        let homeserver = required("homeserver", "https://matrix.example.org")?;
        if !(homeserver.starts_with("http://") || homeserver.starts_with("https://")) {
            return Err(Error::failed(format!(
                "matrix: config `homeserver` must be an http:// or https:// URL, not {homeserver:?}"
            )));
        }
        let homeserver = homeserver.trim_end_matches('/').to_owned();
        let user_id = required("user_id", "@bot:example.org")?;
        if !user_id.starts_with('@') || !user_id.contains(':') {
            return Err(Error::failed(format!(
                "matrix: config `user_id` must be a Matrix user id like @bot:example.org, not {user_id:?}"
            )));
        }
        let access_token = required("access_token", "${MATRIX_TOKEN}")?;
        let rooms = match config.get("rooms").map(|v| v.trim()) {
            None | Some("") | Some("*") => None,
            Some(list) => {
                let rooms: Vec<String> = list
                    .split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = rooms
                    .iter()
                    .find(|r| !r.starts_with('!') || !r.contains(':'))
                {
                    return Err(Error::failed(format!(
                        "matrix: config `rooms` lists {bad:?}, which is not a room id (`!abc:example.org`; \
                         an alias like #room:server is not accepted); or write \"*\" for every joined room"
                    )));
                }
                Some(rooms)
            }
        };
        let flag = |key: &str, default: bool| -> Result<bool> {
            match config.get(key).map(|v| v.trim()) {
                None | Some("") => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(Error::failed(format!(
                    "matrix: config `{key}` must be \"true\" or \"false\", not {other:?}"
                ))),
            }
        };
        let sync_timeout_ms = match config.get("sync_timeout_ms").map(|v| v.trim()) {
            None | Some("") => SYNC_TIMEOUT_MS,
            Some(text) => text
                .parse()
                .ok()
                .filter(|ms| *ms <= SYNC_TIMEOUT_MAX_MS)
                .ok_or_else(|| {
                    Error::failed(format!(
                        "matrix: config `sync_timeout_ms` must be a number of ms from 0 to {SYNC_TIMEOUT_MAX_MS}, not {text:?}"
                    ))
                })?,
        };
        Ok(Settings {
            homeserver,
            user_id,
            access_token,
            rooms,
            direct: flag("direct", true)?,
            auto_join: flag("auto_join", true)?,
            sync_timeout_ms,
            wait_for_bot: flag("wait_for_bot", true)?,
        })
    }

    /// Whether `room` is bridged as a group (direct rooms are decided apart).
    pub fn bridges(&self, room: &str) -> bool {
        self.rooms
            .as_ref()
            .is_none_or(|rooms| rooms.iter().any(|r| r == room))
    }
}

/// The local part of a user id, as a name when there is no display name (`@bob:hs` → `bob`).
pub fn localpart(user: &str) -> &str {
    let user = user.strip_prefix('@').unwrap_or(user);
    user.split(':').next().unwrap_or(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const BASE: [(&str, &str); 3] = [
        ("homeserver", "http://127.0.0.1:8008/"),
        ("user_id", "@bot:localhost"),
        ("access_token", "secret"),
    ];

    #[test]
    fn defaults_bridge_every_room_and_direct_chats() {
        let s = Settings::from_config(&config(&BASE)).unwrap();
        assert_eq!(s.homeserver, "http://127.0.0.1:8008");
        assert_eq!(s.rooms, None);
        assert!(s.direct && s.auto_join && s.wait_for_bot);
        assert_eq!(s.sync_timeout_ms, SYNC_TIMEOUT_MS);
        assert!(s.bridges("!any:hs"));
    }

    #[test]
    fn listed_rooms_and_flags() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("rooms", "!a:hs, !b:hs"),
            ("direct", "false"),
            ("auto_join", "false"),
            ("sync_timeout_ms", "1000"),
            ("wait_for_bot", "false"),
        ]);
        let s = Settings::from_config(&config(&pairs)).unwrap();
        assert_eq!(s.rooms, Some(vec!["!a:hs".to_owned(), "!b:hs".to_owned()]));
        assert!(s.bridges("!b:hs") && !s.bridges("!c:hs"));
        assert!(!s.direct && !s.auto_join && !s.wait_for_bot);
        assert_eq!(s.sync_timeout_ms, 1000);
    }

    #[test]
    fn mistakes_name_the_key_and_what_to_write() {
        for (change, says) in [
            (("homeserver", ""), "`homeserver` is not set"),
            (("homeserver", "matrix.org"), "http:// or https://"),
            (("user_id", "bot"), "@bot:example.org"),
            (("access_token", " "), "`access_token` is not set"),
            (("rooms", "#alias:hs"), "not a room id"),
            (("direct", "yes"), "`direct` must be"),
            (("sync_timeout_ms", "60000"), "0 to 28000"),
        ] {
            let mut map = config(&BASE);
            map.insert(change.0.to_owned(), change.1.to_owned());
            let e = Settings::from_config(&map).unwrap_err();
            assert!(e.message.contains(says), "{change:?}: {}", e.message);
            assert!(!e.message.contains("secret"), "never the token");
        }
    }

    #[test]
    fn a_localpart_is_the_name_before_the_server() {
        assert_eq!(localpart("@bob:hs"), "bob");
        assert_eq!(localpart("plain"), "plain");
    }
}
