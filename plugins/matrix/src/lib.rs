//! matrix: a Matrix account as a OneBot 11 implementation (issue 23; docs/matrix.md), so an
//! unmodified OneBot bot (NoneBot2, Koishi, aiocqhttp) talks in Matrix rooms.
//!
//! - `inbound` — the `sync` schedule: `/sync` long polls → `message` events (rooms as groups,
//!   direct rooms as private chats), `next_batch` kept in key-value.
//! - `outbound` — the actions: sends (idempotent through a transaction id from key-value),
//!   `delete_msg` as a redaction, `get_msg`, and the account, group and member look-ups.
//! - `segments` — OneBot segments ⇄ Matrix message content (pure).
//! - `sync` — reading `/sync` and `/messages` answers (pure).
//! - `ids` — OneBot numbers ⇄ Matrix ids, both ways in key-value.
//! - `state` — the key-value store; `settings` — the sidecar's `config`; `client` — the HTTP
//!   calls.

mod client;
mod ids;
mod inbound;
mod outbound;
mod segments;
mod settings;
mod state;
mod sync;

use onebot_plugin::{Result, config};

use settings::Settings;

onebot_plugin::plugin! {
    schedule => inbound::run,
    "send_group_msg" => outbound::send_group_msg,
    "send_private_msg" => outbound::send_private_msg,
    "send_msg" => outbound::send_msg,
    "delete_msg" => outbound::delete_msg,
    "get_msg" => outbound::get_msg,
    "get_login_info" => outbound::get_login_info,
    "get_group_list" => outbound::get_group_list,
    "get_group_info" => outbound::get_group_info,
    "get_group_member_list" => outbound::get_group_member_list,
    "get_group_member_info" => outbound::get_group_member_info,
    "get_stranger_info" => outbound::get_stranger_info,
}

/// The sidecar's settings, checked.
fn settings() -> Result<Settings> {
    Settings::from_config(&config::all())
}
