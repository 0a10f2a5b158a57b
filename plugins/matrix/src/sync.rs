//! The parts of a `/sync` answer (and of `/rooms/{id}/messages` pages) the bridge uses, read
//! with serde: a pure function of the JSON, so the tests feed it real answers' shapes.
//!
//! A sync is requested with [`filter`]: room messages only in timelines, member events (for
//! display names) lazily in state, the `m.direct` account data, nothing else (no presence,
//! receipts, typing), so a long-poll wakes only for what the bridge forwards.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

/// The timeline events one sync returns per room before it says `limited` (the rest are
/// fetched page by page from `prev_batch`).
pub const TIMELINE_LIMIT: u32 = 50;

/// The sync filter, as the JSON text the `filter` query parameter takes. `first`: the first
/// sync of an account, which only learns where "now" is (one event per room is enough).
pub fn filter(first: bool) -> String {
    let limit = if first { 1 } else { TIMELINE_LIMIT };
    json!({
        "presence": { "types": [] },
        "account_data": { "types": ["m.direct"] },
        "room": {
            "timeline": { "types": ["m.room.message"], "limit": limit },
            "state": { "types": ["m.room.member"], "lazy_load_members": true },
            "ephemeral": { "types": [] },
            "account_data": { "types": [] },
        },
    })
    .to_string()
}

/// What one sync brought.
#[derive(Debug, Default, PartialEq)]
pub struct Batch {
    pub next_batch: String,
    pub rooms: Vec<Room>,
    pub invites: Vec<Invite>,
    /// The account's `m.direct` (user → direct rooms), when it changed.
    pub direct: Option<BTreeMap<String, Vec<String>>>,
}

/// A joined room's news.
#[derive(Debug, Default, PartialEq)]
pub struct Room {
    pub room_id: String,
    /// Messages, oldest first.
    pub events: Vec<Message>,
    /// Whether messages were left out before `events` (fetch them from `prev_batch`).
    pub limited: bool,
    pub prev_batch: Option<String>,
    /// Display names of members, as the room's member events say.
    pub names: Vec<(String, String)>,
}

/// One `m.room.message` event.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Message {
    pub event_id: String,
    pub sender: String,
    #[serde(default)]
    pub origin_server_ts: i64,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub content: Value,
}

impl Message {
    /// Whether the bridge forwards it: a message that is not redacted and not an edit
    /// (an edit's `m.replace` relation; edits are not bridged).
    pub fn forwarded(&self) -> bool {
        self.kind == "m.room.message"
            && self.content.get("msgtype").is_some()
            && self
                .content
                .pointer("/m.relates_to/rel_type")
                .and_then(Value::as_str)
                != Some("m.replace")
    }
}

/// An invitation of the account into a room.
#[derive(Debug, Default, PartialEq)]
pub struct Invite {
    pub room_id: String,
    pub inviter: Option<String>,
    /// The invite says the room is a direct chat (`is_direct` on the member event).
    pub is_direct: bool,
}

#[derive(Deserialize)]
struct Wire {
    next_batch: String,
    #[serde(default)]
    rooms: WireRooms,
    #[serde(default)]
    account_data: Events,
}

#[derive(Default, Deserialize)]
struct WireRooms {
    #[serde(default)]
    join: BTreeMap<String, WireJoined>,
    #[serde(default)]
    invite: BTreeMap<String, WireInvited>,
}

#[derive(Default, Deserialize)]
struct WireJoined {
    #[serde(default)]
    timeline: WireTimeline,
    #[serde(default)]
    state: Events,
}

#[derive(Default, Deserialize)]
struct WireTimeline {
    #[serde(default)]
    events: Vec<Value>,
    #[serde(default)]
    limited: bool,
    prev_batch: Option<String>,
}

#[derive(Default, Deserialize)]
struct WireInvited {
    #[serde(default)]
    invite_state: Events,
}

#[derive(Default, Deserialize)]
struct Events {
    #[serde(default)]
    events: Vec<Value>,
}

/// Reads a sync answer; `me` is the account's user id (to find its own invite).
pub fn parse(text: &[u8], me: &str) -> Result<Batch, String> {
    let wire: Wire = serde_json::from_slice(text)
        .map_err(|e| format!("the sync answer is not what was expected: {e}"))?;
    let mut batch = Batch {
        next_batch: wire.next_batch,
        ..Batch::default()
    };
    for event in &wire.account_data.events {
        if event["type"] == "m.direct"
            && let Ok(map) = serde_json::from_value(event["content"].clone())
        {
            batch.direct = Some(map);
        }
    }
    for (room_id, joined) in wire.rooms.join {
        let mut names = Vec::new();
        for event in joined.state.events.iter().chain(&joined.timeline.events) {
            if let Some(pair) = member_name(event) {
                names.push(pair);
            }
        }
        batch.rooms.push(Room {
            room_id,
            events: messages(&joined.timeline.events),
            limited: joined.timeline.limited,
            prev_batch: joined.timeline.prev_batch,
            names,
        });
    }
    for (room_id, invited) in wire.rooms.invite {
        let mine = invited.invite_state.events.iter().find(|e| {
            e["type"] == "m.room.member"
                && e["state_key"] == me
                && e["content"]["membership"] == "invite"
        });
        batch.invites.push(Invite {
            room_id,
            inviter: mine.and_then(|e| e["sender"].as_str()).map(str::to_owned),
            is_direct: mine.is_some_and(|e| e["content"]["is_direct"] == true),
        });
    }
    Ok(batch)
}

/// One page of `/rooms/{id}/messages` (`dir=b`): its messages newest first, and the token of
/// the next page (`None` at the end).
pub fn parse_page(text: &[u8]) -> Result<(Vec<Message>, Option<String>), String> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        chunk: Vec<Value>,
        end: Option<String>,
    }
    let page: Page = serde_json::from_slice(text)
        .map_err(|e| format!("the messages page is not what was expected: {e}"))?;
    let end = page.end.filter(|_| !page.chunk.is_empty());
    Ok((messages(&page.chunk), end))
}

/// The `m.room.message` events among `events`, in their order; malformed ones skipped.
fn messages(events: &[Value]) -> Vec<Message> {
    events
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| serde_json::from_value(e.clone()).ok())
        .collect()
}

/// A member event's user and display name, if it has one.
fn member_name(event: &Value) -> Option<(String, String)> {
    if event["type"] != "m.room.member" || event["content"]["membership"] != "join" {
        return None;
    }
    let user = event["state_key"].as_str()?;
    let name = event["content"]["displayname"].as_str()?;
    Some((user.to_owned(), name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_answer_gives_messages_names_invites_and_direct_rooms() {
        let answer = json!({
            "next_batch": "s72595_4483_1934",
            "account_data": { "events": [
                { "type": "m.direct", "content": { "@alice:hs": ["!dm:hs"] } }
            ]},
            "rooms": {
                "join": {
                    "!room:hs": {
                        "state": { "events": [
                            { "type": "m.room.member", "state_key": "@alice:hs", "sender": "@alice:hs",
                              "content": { "membership": "join", "displayname": "Alice" } }
                        ]},
                        "timeline": {
                            "limited": true,
                            "prev_batch": "t34-23535_0_0",
                            "events": [
                                { "type": "m.room.message", "event_id": "$1", "sender": "@alice:hs",
                                  "origin_server_ts": 1700000000123u64,
                                  "content": { "msgtype": "m.text", "body": "/echo hello" } },
                                { "type": "m.room.message", "event_id": "$2", "sender": "@alice:hs",
                                  "content": {} },
                                { "type": "m.reaction", "event_id": "$3", "sender": "@alice:hs",
                                  "content": {} },
                                { "type": "m.room.message", "event_id": "$4", "sender": "@alice:hs",
                                  "content": { "msgtype": "m.text", "body": "* fixed",
                                    "m.relates_to": { "rel_type": "m.replace", "event_id": "$1" } } },
                                { "type": "m.room.message", "content": "no ids" }
                            ]
                        }
                    }
                },
                "invite": {
                    "!new:hs": { "invite_state": { "events": [
                        { "type": "m.room.name", "state_key": "", "content": { "name": "New" } },
                        { "type": "m.room.member", "state_key": "@bot:hs", "sender": "@bob:hs",
                          "content": { "membership": "invite", "is_direct": true } }
                    ]}},
                    "!group:hs": { "invite_state": { "events": [
                        { "type": "m.room.member", "state_key": "@bot:hs", "sender": "@bob:hs",
                          "content": { "membership": "invite" } }
                    ]}}
                }
            }
        });
        let batch = parse(answer.to_string().as_bytes(), "@bot:hs").unwrap();
        assert_eq!(batch.next_batch, "s72595_4483_1934");
        assert_eq!(
            batch.direct,
            Some(BTreeMap::from([(
                "@alice:hs".to_owned(),
                vec!["!dm:hs".to_owned()]
            )]))
        );
        let room = &batch.rooms[0];
        assert_eq!(room.room_id, "!room:hs");
        assert!(room.limited);
        assert_eq!(room.prev_batch.as_deref(), Some("t34-23535_0_0"));
        assert_eq!(
            room.names,
            vec![("@alice:hs".to_owned(), "Alice".to_owned())]
        );
        let ids: Vec<_> = room.events.iter().map(|m| m.event_id.as_str()).collect();
        assert_eq!(
            ids,
            ["$1", "$2", "$4"],
            "non-messages and malformed events are skipped"
        );
        let forwarded: Vec<_> = room
            .events
            .iter()
            .filter(|m| m.forwarded())
            .map(|m| m.event_id.as_str())
            .collect();
        assert_eq!(
            forwarded,
            ["$1"],
            "redacted (no msgtype) and edits are not forwarded"
        );
        assert_eq!(room.events[0].origin_server_ts, 1_700_000_000_123);
        assert_eq!(
            batch.invites,
            vec![
                Invite {
                    room_id: "!group:hs".into(),
                    inviter: Some("@bob:hs".into()),
                    is_direct: false
                },
                Invite {
                    room_id: "!new:hs".into(),
                    inviter: Some("@bob:hs".into()),
                    is_direct: true
                },
            ]
        );
    }

    #[test]
    fn an_empty_sync_and_a_bad_one() {
        let batch = parse(br#"{"next_batch":"s1"}"#, "@bot:hs").unwrap();
        assert_eq!(
            batch,
            Batch {
                next_batch: "s1".into(),
                ..Batch::default()
            }
        );
        let e = parse(b"<html>502</html>", "@bot:hs").unwrap_err();
        assert!(e.contains("not what was expected"), "{e}");
        assert!(
            parse(br#"{"rooms":{}}"#, "@bot:hs").is_err(),
            "next_batch is required"
        );
    }

    #[test]
    fn a_messages_page_ends_when_it_is_empty() {
        let page = json!({ "chunk": [
            { "type": "m.room.message", "event_id": "$9", "sender": "@a:hs", "content": { "msgtype": "m.text", "body": "x" } }
        ], "start": "a", "end": "b" });
        let (messages, end) = parse_page(page.to_string().as_bytes()).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(end.as_deref(), Some("b"));
        let (messages, end) = parse_page(br#"{"chunk":[],"start":"b","end":"c"}"#).unwrap();
        assert!(messages.is_empty());
        assert_eq!(end, None);
    }

    #[test]
    fn the_filter_asks_for_messages_and_members_only() {
        let f: Value = serde_json::from_str(&filter(false)).unwrap();
        assert_eq!(f["room"]["timeline"]["types"], json!(["m.room.message"]));
        assert_eq!(f["room"]["timeline"]["limit"], TIMELINE_LIMIT);
        let first: Value = serde_json::from_str(&filter(true)).unwrap();
        assert_eq!(first["room"]["timeline"]["limit"], 1);
    }
}
