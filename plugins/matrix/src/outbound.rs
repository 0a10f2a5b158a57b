//! The OneBot actions: sends, redactions and look-ups against the homeserver.
//!
//! A send's transaction id is drawn from key-value before the first try and kept for the
//! retries (`client`), so a send the homeserver received but did not answer is posted once.
//! The new event's `message_id` is given out at once (it is what the sync later recognises as
//! already reported) and a `message_sent` event is emitted for it.

use onebot_plugin::onebot::Id;
use onebot_plugin::{Error, Level, Result, Value, emit_event, json, log};
use serde::Deserialize;

use crate::client::Matrix;
use crate::ids::{self, Kind};
use crate::segments;
use crate::settings::{Settings, localpart};
use crate::state::{Chat, InRoom, State};

#[derive(Deserialize)]
pub struct SendGroup {
    group_id: Id,
    message: Vec<Value>,
}

#[derive(Deserialize)]
pub struct SendPrivate {
    user_id: Id,
    message: Vec<Value>,
}

#[derive(Deserialize)]
pub struct Send {
    message_type: Option<String>,
    user_id: Option<Id>,
    group_id: Option<Id>,
    message: Vec<Value>,
}

#[derive(Deserialize)]
pub struct MessageRef {
    message_id: Id,
}

#[derive(Deserialize)]
pub struct Group {
    group_id: Id,
}

#[derive(Deserialize)]
pub struct Member {
    group_id: Id,
    user_id: Id,
}

#[derive(Deserialize)]
pub struct User {
    user_id: Id,
}

/// Everything an action needs.
struct Bridge {
    settings: Settings,
    matrix: Matrix,
    state: State,
}

impl Bridge {
    fn open() -> Result<Bridge> {
        let settings = crate::settings()?;
        let matrix = Matrix::new(&settings.homeserver, &settings.access_token);
        Ok(Bridge {
            settings,
            matrix,
            state: State::open(),
        })
    }

    /// The bridged, non-direct room of `group_id`.
    fn group_room(&self, group: Id) -> Result<String> {
        let room = self.state.matrix(Kind::Room, group.0)?.ok_or_else(|| {
            Error::bad_request(format!(
                "group_id {} is not a bridged Matrix room (get_group_list lists them)",
                group.0
            ))
        })?;
        match self.state.chat(&self.settings, &room)? {
            Chat::Group => Ok(room),
            _ => Err(Error::bad_request(format!(
                "group_id {} ({room}) is not bridged as a group",
                group.0
            ))),
        }
    }

    fn user(&self, user: Id) -> Result<String> {
        self.state.matrix(Kind::User, user.0)?.ok_or_else(|| {
            Error::bad_request(format!(
                "user_id {} is not a Matrix user the bridge has seen",
                user.0
            ))
        })
    }

    /// The direct room with `user`, created (and the user invited) when there is none.
    fn direct_room(&self, user: &str) -> Result<String> {
        if !self.settings.direct {
            return Err(Error::bad_request(
                "private chats are off (config `direct` is \"false\")",
            ));
        }
        if let Some(room) = self.state.direct_room(user)? {
            return Ok(room);
        }
        let room = self.matrix.create_direct(user)?;
        self.state.set_direct(&room, user)?;
        log(
            Level::Info,
            &format!("matrix: created direct chat {room} with {user}"),
        );
        Ok(room)
    }

    fn me(&self) -> Result<i64> {
        Ok(self.state.number(Kind::User, &self.settings.user_id)?.0)
    }

    /// Sends `message` to `room`: the new `message_id`.
    fn send(&self, room: &str, chat: Chat, message: &[Value]) -> Result<Value> {
        let content = segments::outbound(message, room, &self.state)?;
        let txn = self.state.next_txn()?;
        let event = self.matrix.send(room, &txn, &content)?;
        let (message_id, new) = self
            .state
            .number(Kind::Event, &ids::event_key(room, &event))?;
        if new {
            self.report_sent(room, chat, message_id, message)?;
        }
        Ok(json!({ "message_id": message_id }))
    }

    fn report_sent(
        &self,
        room: &str,
        chat: Chat,
        message_id: i64,
        message: &[Value],
    ) -> Result<()> {
        let me = self.me()?;
        let nickname = self.state.name(&self.settings.user_id)?;
        let mut event = json!({
            "post_type": "message_sent", "message_id": message_id, "user_id": me,
            "message": message, "font": 0, "sender": { "user_id": me, "nickname": nickname },
        });
        match chat {
            Chat::Private(other) => {
                event["message_type"] = "private".into();
                event["sub_type"] = "friend".into();
                event["target_id"] = self.state.number(Kind::User, &other)?.0.into();
            }
            _ => {
                event["message_type"] = "group".into();
                event["sub_type"] = "normal".into();
                event["group_id"] = self.state.number(Kind::Room, room)?.0.into();
            }
        }
        if let Err(e) = emit_event(&event) {
            log(
                Level::Error,
                &format!("matrix: the host refused an event: {e}"),
            );
        }
        Ok(())
    }

    fn send_group(&self, group: Id, message: &[Value]) -> Result<Value> {
        let room = self.group_room(group)?;
        self.send(&room, Chat::Group, message)
    }

    fn send_private(&self, user: Id, message: &[Value]) -> Result<Value> {
        let user = self.user(user)?;
        let room = self.direct_room(&user)?;
        self.send(&room, Chat::Private(user), message)
    }

    /// The room and event of `message_id`.
    fn message(&self, id: Id) -> Result<(String, String)> {
        self.state
            .event(id.0)?
            .ok_or_else(|| Error::failed(format!("消息不存在: message_id {} is not known", id.0)))
    }

    fn group_info(&self, room: &str) -> Result<Value> {
        let name = match self.matrix.state(room, "m.room.name", "")? {
            Some(content) => content["name"].as_str().map(str::to_owned),
            None => None,
        };
        let members = self.matrix.joined_members(room)?;
        Ok(json!({
            "group_id": self.state.number(Kind::Room, room)?.0,
            "group_name": name.filter(|n| !n.is_empty()).unwrap_or_else(|| room.to_owned()),
            "member_count": members.len(),
            "max_member_count": 0,
        }))
    }

    fn member_info(
        &self,
        room: &str,
        group_id: i64,
        user: &str,
        name: Option<String>,
        roles: &Roles,
    ) -> Result<Value> {
        let user_id = self.state.number(Kind::User, user)?.0;
        let nickname = name.unwrap_or_else(|| localpart(user).to_owned());
        Ok(json!({
            "group_id": group_id, "user_id": user_id, "nickname": nickname, "card": "",
            "sex": "unknown", "age": 0, "area": "", "join_time": 0, "last_sent_time": 0,
            "level": "", "role": roles.of(user), "unfriendly": false, "title": "",
            "title_expire_time": 0, "card_changeable": false,
            "matrix_user_id": user, "matrix_room_id": room,
        }))
    }

    fn roles(&self, room: &str) -> Result<Roles> {
        Ok(Roles::from_state(&self.matrix.full_state(room)?))
    }
}

/// What decides members' roles: the room's power levels and its creators.
#[derive(Debug, Default)]
pub struct Roles {
    levels: Value,
    creators: Vec<String>,
}

impl Roles {
    /// From a room's state events (`GET /rooms/{room}/state`).
    pub fn from_state(events: &[Value]) -> Roles {
        let mut roles = Roles::default();
        for event in events {
            match event["type"].as_str() {
                Some("m.room.power_levels") => roles.levels = event["content"].clone(),
                Some("m.room.create") => {
                    roles
                        .creators
                        .extend(event["sender"].as_str().map(str::to_owned));
                    if let Some(more) = event["content"]["additional_creators"].as_array() {
                        roles
                            .creators
                            .extend(more.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                }
                _ => {}
            }
        }
        roles
    }

    /// OneBot's role of `user`: power 100 and up `owner`, 50 and up `admin`, else `member`. A
    /// creator the power levels do not list is `owner` (room version 12 gives creators
    /// unlimited power and leaves them out of the list).
    pub fn of(&self, user: &str) -> &'static str {
        let listed = self.levels["users"][user].as_i64();
        if listed.is_none() && self.creators.iter().any(|c| c == user) {
            return "owner";
        }
        let level = listed
            .or_else(|| self.levels["users_default"].as_i64())
            .unwrap_or(0);
        match level {
            100.. => "owner",
            50.. => "admin",
            _ => "member",
        }
    }
}

pub fn send_group_msg(p: SendGroup) -> Result<Value> {
    Bridge::open()?.send_group(p.group_id, &p.message)
}

pub fn send_private_msg(p: SendPrivate) -> Result<Value> {
    Bridge::open()?.send_private(p.user_id, &p.message)
}

pub fn send_msg(p: Send) -> Result<Value> {
    let bridge = Bridge::open()?;
    match (p.message_type.as_deref(), p.group_id, p.user_id) {
        (Some("group"), Some(group), _) | (None, Some(group), _) => {
            bridge.send_group(group, &p.message)
        }
        (Some("private"), _, Some(user)) | (None, None, Some(user)) => {
            bridge.send_private(user, &p.message)
        }
        _ => Err(Error::bad_request(
            "send_msg: give `message_type` (\"private\" or \"group\") with `user_id` / `group_id`, or one of them",
        )),
    }
}

pub fn delete_msg(p: MessageRef) -> Result<Value> {
    let bridge = Bridge::open()?;
    let (room, event) = bridge.message(p.message_id)?;
    let txn = bridge.state.next_txn()?;
    bridge.matrix.redact(&room, &event, &txn)?;
    Ok(Value::Null)
}

pub fn get_msg(p: MessageRef) -> Result<Value> {
    let bridge = Bridge::open()?;
    let (room, event_id) = bridge.message(p.message_id)?;
    let event = bridge.matrix.event(&room, &event_id)?.ok_or_else(|| {
        Error::failed(format!(
            "消息不存在: message {} is gone from the homeserver",
            p.message_id.0
        ))
    })?;
    let sender = event["sender"].as_str().unwrap_or("").to_owned();
    let numbers = InRoom {
        state: &bridge.state,
        room: &room,
    };
    let message = segments::inbound(&event["content"], &bridge.settings.homeserver, &numbers)?;
    let user_id = bridge.state.number(Kind::User, &sender)?.0;
    let mut answer = json!({
        "time": event["origin_server_ts"].as_i64().unwrap_or(0) / 1000,
        "message_id": p.message_id.0, "real_id": p.message_id.0, "message_seq": p.message_id.0,
        "user_id": user_id, "message": message,
        "sender": { "user_id": user_id, "nickname": bridge.state.name(&sender)? },
    });
    match bridge.state.chat(&bridge.settings, &room)? {
        Chat::Private(_) => answer["message_type"] = "private".into(),
        _ => {
            answer["message_type"] = "group".into();
            answer["group_id"] = bridge.state.number(Kind::Room, &room)?.0.into();
        }
    }
    Ok(answer)
}

pub fn get_login_info(_: Value) -> Result<Value> {
    let bridge = Bridge::open()?;
    Ok(json!({
        "user_id": bridge.me()?,
        "nickname": bridge.state.name(&bridge.settings.user_id)?,
    }))
}

pub fn get_group_list(_: Value) -> Result<Value> {
    let bridge = Bridge::open()?;
    let mut groups = Vec::new();
    for room in bridge.matrix.joined_rooms()? {
        if bridge.state.chat(&bridge.settings, &room)? == Chat::Group {
            groups.push(bridge.group_info(&room)?);
        }
    }
    Ok(Value::Array(groups))
}

pub fn get_group_info(p: Group) -> Result<Value> {
    let bridge = Bridge::open()?;
    let room = bridge.group_room(p.group_id)?;
    bridge.group_info(&room)
}

pub fn get_group_member_list(p: Group) -> Result<Value> {
    let bridge = Bridge::open()?;
    let room = bridge.group_room(p.group_id)?;
    let roles = bridge.roles(&room)?;
    let mut members = Vec::new();
    for (user, name) in bridge.matrix.joined_members(&room)? {
        members.push(bridge.member_info(&room, p.group_id.0, &user, name, &roles)?);
    }
    Ok(Value::Array(members))
}

pub fn get_group_member_info(p: Member) -> Result<Value> {
    let bridge = Bridge::open()?;
    let room = bridge.group_room(p.group_id)?;
    let user = bridge.user(p.user_id)?;
    let member = bridge.matrix.state(&room, "m.room.member", &user)?;
    let member = member
        .filter(|m| m["membership"] == "join")
        .ok_or_else(|| {
            Error::failed(format!("{user} is not a member of group {}", p.group_id.0))
        })?;
    let name = member["displayname"].as_str().map(str::to_owned);
    let roles = bridge.roles(&room)?;
    bridge.member_info(&room, p.group_id.0, &user, name, &roles)
}

pub fn get_stranger_info(p: User) -> Result<Value> {
    let bridge = Bridge::open()?;
    let user = bridge.user(p.user_id)?;
    let profile = bridge.matrix.profile(&user)?.unwrap_or(Value::Null);
    let nickname = profile["displayname"]
        .as_str()
        .map_or_else(|| localpart(&user).to_owned(), str::to_owned);
    Ok(json!({
        "user_id": p.user_id.0, "nickname": nickname, "sex": "unknown", "age": 0,
        "matrix_user_id": user,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_power_levels_and_unlisted_creators_own_the_room() {
        let roles = Roles::from_state(&[
            json!({ "type": "m.room.create", "sender": "@creator:hs", "state_key": "",
                    "content": { "room_version": "12", "additional_creators": ["@co:hs"] } }),
            json!({ "type": "m.room.power_levels", "state_key": "", "content": {
                "users": { "@owner:hs": 100, "@mod:hs": 50, "@co:hs": 0 }, "users_default": 0 } }),
            json!({ "type": "m.room.name", "state_key": "", "content": { "name": "x" } }),
        ]);
        assert_eq!(
            roles.of("@creator:hs"),
            "owner",
            "v12: a creator is not listed"
        );
        assert_eq!(
            roles.of("@co:hs"),
            "member",
            "a listed creator has its listed power"
        );
        assert_eq!(roles.of("@owner:hs"), "owner");
        assert_eq!(roles.of("@mod:hs"), "admin");
        assert_eq!(roles.of("@x:hs"), "member");
        assert_eq!(Roles::default().of("@x:hs"), "member");
    }
}
