//! The sync schedule: Matrix → OneBot events.
//!
//! Each run long-polls `/sync` from the `next_batch` kept in key-value and turns each new
//! `m.room.message` of a bridged room into a OneBot `message` event (a group message, or a
//! private one in a direct room), or a `message_sent` event when the account itself sent it
//! from elsewhere; then it keeps the new `next_batch`. An event is reported when its
//! `message_id` is first given out (`ids::number` says so), so a batch fetched twice (the host
//! stopped between reporting and keeping `next_batch`) reports nothing twice, and a message
//! the bridge sent itself is not reported again.
//!
//! - The first run of an account only learns where "now" is: earlier history is skipped.
//! - A room whose timeline came back `limited` (more news than one sync carries, e.g. after
//!   the host was down a while) is read back page by page to the previous position.
//! - With `wait_for_bot` (default), a run while no client receives events (`get_status`'s
//!   `stat.event_subscribers` is 0) fetches nothing, and a batch that arrives when the last
//!   one has just gone is not kept: the messages stay on the homeserver until a bot is back.
//! - Invitations are accepted (`auto_join`) into bridged rooms and, marked `is_direct`, as
//!   direct chats with their sender.

use onebot_plugin::{Level, Result, Value, call_action, emit_event, json, log};

use crate::client::Matrix;
use crate::ids::{self, Kind};
use crate::segments;
use crate::settings::Settings;
use crate::state::{Chat, InRoom, State};
use crate::sync::{self, Batch, Message};

/// Pages of 100 read back for one limited timeline, at most (older news is skipped, and a
/// WARN says so).
const BACKFILL_PAGES: usize = 20;

pub fn run(_schedule: &str) -> Result<()> {
    let settings = crate::settings()?;
    let matrix = Matrix::new(&settings.homeserver, &settings.access_token);
    let state = State::open();
    if settings.wait_for_bot && !bot_listening()? {
        return Ok(());
    }
    let since = state.next_batch()?;
    let first = since.is_none();
    let timeout = if first { 0 } else { settings.sync_timeout_ms };
    let body = matrix.sync(since.as_deref(), timeout, first)?;
    let batch = sync::parse(&body, &settings.user_id)
        .map_err(|e| onebot_plugin::Error::failed(format!("matrix sync: {e}")))?;
    learn_direct(&state, &batch)?;
    join_invited(&settings, &matrix, &state, &batch)?;
    match since {
        None => log(
            Level::Info,
            &format!(
                "matrix: first sync of {}: earlier history skipped, new messages from now on",
                settings.user_id
            ),
        ),
        Some(since) => {
            if settings.wait_for_bot && !batch.rooms.is_empty() && !bot_listening()? {
                // The bot went away during the long poll: this batch is fetched again later.
                return Ok(());
            }
            for room in &batch.rooms {
                report_room(&settings, &matrix, &state, room, &since)?;
            }
        }
    }
    state.set_next_batch(&batch.next_batch)
}

/// Whether any client receives events now (the host's `get_status`, SPEC E6). A host that
/// does not say counts as yes.
fn bot_listening() -> Result<bool> {
    let status = call_action("get_status", ())?;
    Ok(status
        .pointer("/stat/event_subscribers")
        .and_then(Value::as_u64)
        .is_none_or(|n| n > 0))
}

/// Direct rooms from the account's `m.direct`.
fn learn_direct(state: &State, batch: &Batch) -> Result<()> {
    for (user, rooms) in batch.direct.iter().flatten() {
        for room in rooms {
            state.set_direct(room, user)?;
        }
    }
    Ok(())
}

fn join_invited(settings: &Settings, matrix: &Matrix, state: &State, batch: &Batch) -> Result<()> {
    if !settings.auto_join {
        return Ok(());
    }
    for invite in &batch.invites {
        let direct = invite.is_direct && settings.direct;
        if !direct && !settings.bridges(&invite.room_id) {
            continue;
        }
        if let (true, Some(inviter)) = (direct, &invite.inviter) {
            state.set_direct(&invite.room_id, inviter)?;
        }
        match matrix.join(&invite.room_id) {
            Ok(()) => log(
                Level::Info,
                &format!(
                    "matrix: joined {} ({}, invited by {})",
                    invite.room_id,
                    if direct { "direct chat" } else { "group" },
                    invite.inviter.as_deref().unwrap_or("?")
                ),
            ),
            // One room refusing (gone, banned) must not stop the others or the messages.
            Err(e) => log(
                Level::Warn,
                &format!("matrix: joining {}: {e}", invite.room_id),
            ),
        }
    }
    Ok(())
}

fn report_room(
    settings: &Settings,
    matrix: &Matrix,
    state: &State,
    room: &sync::Room,
    since: &str,
) -> Result<()> {
    let chat = state.chat(settings, &room.room_id)?;
    if chat == Chat::Hidden {
        return Ok(());
    }
    for (user, name) in &room.names {
        state.set_name(user, name)?;
    }
    let mut messages = Vec::new();
    if let (true, Some(prev)) = (room.limited, &room.prev_batch) {
        messages = backfill(matrix, &room.room_id, prev, since)?;
        log(
            Level::Info,
            &format!(
                "matrix: {} had more news than one sync carries: {} earlier message(s) read back",
                room.room_id,
                messages.len()
            ),
        );
    }
    messages.extend(room.events.iter().cloned());
    for message in messages.iter().filter(|m| m.forwarded()) {
        report(settings, state, &room.room_id, &chat, message)?;
    }
    Ok(())
}

/// The messages between `since` and `prev_batch` in `room`, oldest first.
fn backfill(matrix: &Matrix, room: &str, prev_batch: &str, since: &str) -> Result<Vec<Message>> {
    let mut pages = Vec::new();
    let mut from = prev_batch.to_owned();
    for _ in 0..BACKFILL_PAGES {
        let body = matrix.messages(room, &from, since)?;
        let (messages, end) = sync::parse_page(&body)
            .map_err(|e| onebot_plugin::Error::failed(format!("matrix messages: {e}")))?;
        pages.push(messages);
        match end {
            Some(end) if end != from => from = end,
            _ => {
                return Ok(pages
                    .into_iter()
                    .rev()
                    .flat_map(|p| p.into_iter().rev())
                    .collect());
            }
        }
    }
    log(
        Level::Warn,
        &format!(
            "matrix: {room} had more than {} new messages; older ones are skipped",
            BACKFILL_PAGES * 100
        ),
    );
    Ok(pages
        .into_iter()
        .rev()
        .flat_map(|p| p.into_iter().rev())
        .collect())
}

/// Emits one message as a OneBot event, unless it was reported (or sent by the bridge) before.
fn report(
    settings: &Settings,
    state: &State,
    room: &str,
    chat: &Chat,
    message: &Message,
) -> Result<()> {
    let (message_id, new) = state.number(Kind::Event, &ids::event_key(room, &message.event_id))?;
    if !new {
        return Ok(());
    }
    let numbers = InRoom { state, room };
    let segments = segments::inbound(&message.content, &settings.homeserver, &numbers)?;
    let own = message.sender == settings.user_id;
    let user_id = state.number(Kind::User, &message.sender)?.0;
    let nickname = state.name(&message.sender)?;
    let time = message.origin_server_ts / 1000;
    let post_type = if own { "message_sent" } else { "message" };
    let event = match chat {
        Chat::Group => {
            let group_id = state.number(Kind::Room, room)?.0;
            json!({
                "post_type": post_type, "time": time, "message_type": "group",
                "sub_type": "normal", "message_id": message_id, "group_id": group_id,
                "user_id": user_id, "anonymous": null, "message": segments, "font": 0,
                "sender": { "user_id": user_id, "nickname": nickname, "card": "", "role": "member" },
            })
        }
        Chat::Private(other) => {
            let mut event = json!({
                "post_type": post_type, "time": time, "message_type": "private",
                "sub_type": "friend", "message_id": message_id, "user_id": user_id,
                "message": segments, "font": 0,
                "sender": { "user_id": user_id, "nickname": nickname },
            });
            if own {
                event["target_id"] = state.number(Kind::User, other)?.0.into();
            }
            event
        }
        Chat::Hidden => return Ok(()),
    };
    if let Err(e) = emit_event(&event) {
        log(
            Level::Error,
            &format!("matrix: the host refused an event: {e}"),
        );
    }
    Ok(())
}
