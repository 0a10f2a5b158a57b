//! mock-account: a pretend QQ account, the example plugin of onebot-host.
//!
//! It implements the everyday OneBot 11 actions without any real QQ behind them, so a bot
//! framework (NoneBot2, Koishi, …) can be pointed at onebot-host and exercised end to end:
//! sending "succeeds" with a fresh `message_id` and is written to the host's log, the account
//! has a fixed identity, friend list and group list.
//!
//! Events (SPEC P4): every `send_*` also emits a `message_sent` event, and
//! `mock_receive_private_msg` / `mock_receive_group_msg` emit a `message` event as if a user had
//! written to the bot, so a bot can be tested end to end without QQ: connect it to the host's
//! WebSocket, call `mock_receive_private_msg`, and watch the bot answer with `send_private_msg`.
//! The host fills `time`, `self_id` and `raw_message`, and renders `message` per the server's
//! `messagePostFormat`.
//!
//! Messages (SPEC P4, P8): the host runs every call in a fresh instance (P5), so what the
//! account sent or received is kept in its key-value store `default` (granted by
//! `plugins/mock-account.json5`, `keyValue: ["default"]`), written to disk before the send
//! answers. `get_msg` reads a message back in OneBot 11's shape, `delete_msg` recalls it, and
//! `get_friend_msg_history` (NapCat's) lists the messages exchanged with a friend, oldest first.
//! An unknown `message_id` answers retcode 1200 with `消息不存在` in the message, as NapCat does
//! (go-cqhttp answers 100). Without the grant, sends still work and keep nothing; the message
//! actions then answer 1200 with the host's message saying which sidecar key to add.
//!
//! Params arrive as a JSON object; ids may be numbers or numeric strings (HTTP GET query
//! values are strings). Bad params are answered with retcode 1400 and a message naming the
//! action and the param.
//!
//! It is written on the Rust SDK (`sdk/rust`): `plugin!` below lists the actions. Each takes
//! its params as a raw JSON object and checks them itself, to give NapCat-style messages and
//! to pass `message` on into events exactly as it came.
//!
//! Build: `cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use onebot_plugin::kv::Store;
use onebot_plugin::{Error, Level, Result, emit_event, log};
use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

/// The account's QQ number and nickname, as `get_login_info` reports them.
const SELF_ID: i64 = 2_854_196_310;
const NICKNAME: &str = "mock-account";

/// Longest message preview written to the log, in characters.
const PREVIEW_CHARS: usize = 80;

/// The key-value store the messages are kept in (the sidecar's `keyValue`).
const STORE: &str = "default";
/// Set once the host refused the store (no `keyValue` grant): sends then keep nothing.
static NOT_GRANTED: AtomicBool = AtomicBool::new(false);
/// `get_friend_msg_history`'s `count` when absent, and the most it returns.
const HISTORY_COUNT: i64 = 20;
const HISTORY_MAX: i64 = 1000;
/// How far back `get_friend_msg_history` looks for its `message_seq`.
const HISTORY_SCAN: u32 = 10_000;

onebot_plugin::plugin! {
    "send_private_msg" => send_private_msg,
    "send_group_msg" => send_group_msg,
    "send_msg" => send_msg_action,
    "get_login_info" => get_login_info,
    "get_friend_list" => get_friend_list,
    "get_group_list" => get_group_list,
    "get_msg" => get_msg_action,
    "delete_msg" => delete_msg_action,
    "get_friend_msg_history" => get_friend_msg_history,
    "mock_receive_private_msg" => mock_receive_private_msg,
    "mock_receive_group_msg" => mock_receive_group_msg,
}

// One entry point per action: the SDK hands each its params as a JSON value (actions that
// read none take IgnoredAny, which checks the JSON without building it).
fn send_private_msg(p: Value) -> Result<Sent> {
    send_private(&Params::new("send_private_msg", p)?)
}
fn send_group_msg(p: Value) -> Result<Sent> {
    send_group(&Params::new("send_group_msg", p)?)
}
fn send_msg_action(p: Value) -> Result<Sent> {
    send_msg(&Params::new("send_msg", p)?)
}
fn get_login_info(_: IgnoredAny) -> Result<Value> {
    Ok(json!({ "user_id": SELF_ID, "nickname": NICKNAME }))
}
fn get_friend_list(_: IgnoredAny) -> Result<Value> {
    Ok(friend_list())
}
fn get_group_list(_: IgnoredAny) -> Result<Value> {
    Ok(group_list())
}
fn get_msg_action(p: Value) -> Result<Value> {
    get_msg(&Params::new("get_msg", p)?)
}
fn delete_msg_action(p: Value) -> Result<Value> {
    delete_msg(&Params::new("delete_msg", p)?)
}
fn get_friend_msg_history(p: Value) -> Result<Value> {
    friend_history(&Params::new("get_friend_msg_history", p)?)
}
fn mock_receive_private_msg(p: Value) -> Result<Sent> {
    receive_private(&Params::new("mock_receive_private_msg", p)?)
}
fn mock_receive_group_msg(p: Value) -> Result<Sent> {
    receive_group(&Params::new("mock_receive_group_msg", p)?)
}

fn send_msg(params: &Params) -> Result<Sent> {
    match params.get("message_type") {
        Some(Value::String(kind)) if kind == "private" => send_private(params),
        Some(Value::String(kind)) if kind == "group" => send_group(params),
        Some(other) => Err(params.invalid(format!(
            "param `message_type` must be \"private\" or \"group\", got {other}"
        ))),
        None if params.get("group_id").is_some() => send_group(params),
        None if params.get("user_id").is_some() => send_private(params),
        None => Err(params.invalid(
            "give `message_type` (\"private\" or \"group\"), or one of `user_id` / `group_id`",
        )),
    }
}

/// What every send answers: `{"message_id": …}`.
#[derive(Serialize)]
struct Sent {
    message_id: i32,
}

/// The `message_sent` event of a send. A struct rather than `json!`: sends are the hot path,
/// and serialising a struct builds no map.
#[derive(Serialize)]
struct MessageSent<'a> {
    post_type: &'static str,
    message_type: &'static str,
    sub_type: &'static str,
    message_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<i64>,
    user_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_id: Option<i64>,
    message: Option<&'a Value>,
    font: i32,
    sender: &'a SelfSender,
}

/// A message as kept in the store and as `get_msg` answers it (OneBot 11's fields, with
/// NapCat's `message_seq`, `user_id`, `group_id` and `target_id`).
#[derive(Serialize)]
struct Kept<'a, S: Serialize> {
    time: i64,
    message_type: &'static str,
    message_id: i32,
    real_id: i32,
    message_seq: i32,
    user_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<i64>,
    /// The friend a private message was sent to (NapCat's field for the bot's own messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    target_id: Option<i64>,
    sender: &'a S,
    message: Option<&'a Value>,
}

impl<S: Serialize> Kept<'_, S> {
    /// The friend of a private message: whom it went to, or who sent it.
    fn friend(&self) -> Option<i64> {
        match (self.message_type, self.target_id) {
            ("private", Some(to)) => Some(to),
            ("private", None) => Some(self.user_id),
            _ => None,
        }
    }
}

/// The account itself as the sender of a `message_sent` event.
#[derive(Serialize)]
struct SelfSender {
    user_id: i64,
    nickname: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
}

fn send_private(params: &Params) -> Result<Sent> {
    send(params, false, params.required_id("user_id")?)
}

fn send_group(params: &Params) -> Result<Sent> {
    send(params, true, params.required_id("group_id")?)
}

/// A send to a user (`group` false) or a group: logs it, emits `message_sent`, answers an id.
fn send(params: &Params, group: bool, target: i64) -> Result<Sent> {
    let preview = params.message()?;
    let to = if group { "group" } else { "user" };
    let line = format!("{} to {to} {target}: {preview}", params.action);
    log(Level::Info, &line);
    let message_id = new_message_id(&line);
    let sender = SelfSender {
        user_id: SELF_ID,
        nickname: NICKNAME,
        role: group.then_some("member"),
    };
    emit(&MessageSent {
        post_type: "message_sent",
        message_type: if group { "group" } else { "private" },
        sub_type: if group { "normal" } else { "friend" },
        message_id,
        group_id: group.then_some(target),
        user_id: SELF_ID,
        target_id: (!group).then_some(target),
        message: params.get("message"),
        font: 0,
        sender: &sender,
    });
    remember(&Kept {
        time: now_seconds(),
        message_type: if group { "group" } else { "private" },
        message_id,
        real_id: message_id,
        message_seq: message_id,
        user_id: SELF_ID,
        group_id: group.then_some(target),
        target_id: (!group).then_some(target),
        sender: &sender,
        message: params.get("message"),
    });
    Ok(Sent { message_id })
}

/// `mock_receive_private_msg {user_id, message, nickname?}`: a friend writes to the bot.
fn receive_private(params: &Params) -> Result<Sent> {
    let user_id = params.required_id("user_id")?;
    let preview = params.message()?;
    let nickname = params.nickname(user_id)?;
    let message_id = new_message_id(&format!("{user_id} {nickname}: {preview}"));
    let sender = json!({ "user_id": user_id, "nickname": nickname });
    remember(&Kept {
        time: now_seconds(),
        message_type: "private",
        message_id,
        real_id: message_id,
        message_seq: message_id,
        user_id,
        group_id: None,
        target_id: None,
        sender: &sender,
        message: params.get("message"),
    });
    emit(&json!({
        "post_type": "message",
        "message_type": "private",
        "sub_type": "friend",
        "message_id": message_id,
        "user_id": user_id,
        "message": params.get("message"),
        "font": 0,
        "sender": { "user_id": user_id, "nickname": nickname },
    }));
    Ok(Sent { message_id })
}

/// `mock_receive_group_msg {group_id, user_id, message, nickname?}`: a member writes in a group.
fn receive_group(params: &Params) -> Result<Sent> {
    let group_id = params.required_id("group_id")?;
    let user_id = params.required_id("user_id")?;
    let preview = params.message()?;
    let nickname = params.nickname(user_id)?;
    let message_id = new_message_id(&format!("{group_id} {user_id} {nickname}: {preview}"));
    let sender = json!({ "user_id": user_id, "nickname": nickname, "card": "", "role": "member" });
    remember(&Kept {
        time: now_seconds(),
        message_type: "group",
        message_id,
        real_id: message_id,
        message_seq: message_id,
        user_id,
        group_id: Some(group_id),
        target_id: None,
        sender: &sender,
        message: params.get("message"),
    });
    emit(&json!({
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "message_id": message_id,
        "group_id": group_id,
        "user_id": user_id,
        "anonymous": null,
        "message": params.get("message"),
        "font": 0,
        "sender": { "user_id": user_id, "nickname": nickname, "card": "", "role": "member" },
    }));
    Ok(Sent { message_id })
}

/// Emits an event; one the host refuses is a bug in this plugin, logged rather than failing
/// a call whose real work is done.
fn emit(event: &impl Serialize) {
    if let Err(e) = emit_event(event) {
        log(Level::Error, &format!("the host refused an event: {e}"));
    }
}

/// Keeps a message: under `msg/<id>` for `get_msg`, and for a private message also under
/// `friend/<friend>/<newest first>/<id>` for `get_friend_msg_history`. A message that cannot
/// be kept does not fail the send, whose real work is done: without the grant nothing is
/// kept, and any other failure is logged.
fn remember<S: Serialize>(kept: &Kept<'_, S>) {
    // A grant cannot change while an instance lives (a new sidecar is a new version), so a
    // warm instance asks once and then stops asking.
    if NOT_GRANTED.load(Ordering::Relaxed) {
        return;
    }
    let store = Store::open(STORE);
    let stored = (|| {
        if let Some(friend) = kept.friend() {
            store.set(&history_key(friend, kept.message_id), b"")?;
        }
        store.set_json(&message_key(kept.message_id), kept)
    })();
    match stored {
        Ok(()) => {}
        Err(e) if e.message.contains("is not granted") => {
            NOT_GRANTED.store(true, Ordering::Relaxed)
        }
        Err(e) => {
            let line = format!(
                "message {} was sent but not kept: {}",
                kept.message_id, e.message
            );
            log(Level::Warn, &line);
        }
    }
}

fn message_key(message_id: i32) -> String {
    format!("msg/{message_id}")
}

fn history_prefix(friend: i64) -> String {
    format!("friend/{friend}/")
}

/// Keys sort in byte order, so the time counts down: the newest message's key comes first.
fn history_key(friend: i64, message_id: i32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    format!(
        "{}{:020}/{message_id}",
        history_prefix(friend),
        u64::MAX - nanos
    )
}

fn not_found(action: &str, message_id: i32) -> Error {
    error(
        1200,
        format!("{action}: message {message_id} not found (消息不存在)"),
    )
}

/// `get_msg {message_id}`: the message as it was sent or received.
fn get_msg(params: &Params) -> Result<Value> {
    let message_id = params.message_id()?;
    Store::open(STORE)
        .get_json(&message_key(message_id))?
        .ok_or_else(|| not_found(params.action, message_id))
}

/// `delete_msg {message_id}`: recalls a message; it is gone from `get_msg` and the history.
fn delete_msg(params: &Params) -> Result<Value> {
    let message_id = params.message_id()?;
    let store = Store::open(STORE);
    let key = message_key(message_id);
    let kept: Value = store
        .get_json(&key)?
        .ok_or_else(|| not_found(params.action, message_id))?;
    store.delete(&key)?;
    let friend = match kept.get("target_id") {
        Some(to) => to.as_i64(),
        None if kept["message_type"] == "private" => kept["user_id"].as_i64(),
        None => None,
    };
    if let Some(friend) = friend {
        let suffix = format!("/{message_id}");
        let keys = store.list_keys(&history_prefix(friend), HISTORY_SCAN)?;
        if let Some(entry) = keys.iter().find(|k| k.ends_with(&suffix)) {
            store.delete(entry)?;
        }
    }
    log(
        Level::Info,
        &format!("delete_msg: recalled message {message_id}"),
    );
    Ok(Value::Null)
}

/// `get_friend_msg_history {user_id, message_seq?, count?}` (NapCat): up to `count` (20)
/// messages exchanged with the friend, oldest first, ending with `message_seq` when given
/// (a `message_id`), else with the newest. Answers `{"messages": [...]}`.
fn friend_history(params: &Params) -> Result<Value> {
    let friend = params.required_id("user_id")?;
    let count = match params.get("count") {
        None => HISTORY_COUNT,
        Some(value) => match as_integer(value) {
            Some(n) if (1..=HISTORY_MAX).contains(&n) => n,
            _ => {
                return Err(params.invalid(format!(
                    "param `count` must be an integer from 1 to {HISTORY_MAX}, got {value}"
                )));
            }
        },
    } as usize;
    let anchor = match params.get("message_seq") {
        None => None,
        Some(value) => match as_integer(value).and_then(|n| i32::try_from(n).ok()) {
            Some(0) => None,
            Some(seq) => Some(format!("/{seq}")),
            None => {
                return Err(params.invalid(format!(
                    "param `message_seq` must be a 32-bit integer, got {value}"
                )));
            }
        },
    };
    let store = Store::open(STORE);
    let scan = if anchor.is_some() {
        HISTORY_SCAN
    } else {
        count as u32
    };
    let keys = store.list_keys(&history_prefix(friend), scan)?;
    let start = match &anchor {
        Some(suffix) => keys
            .iter()
            .position(|k| k.ends_with(suffix.as_str()))
            .unwrap_or(keys.len()),
        None => 0,
    };
    let mut messages = Vec::with_capacity(count);
    for key in keys.iter().skip(start).take(count) {
        let id = key.rsplit('/').next().and_then(|id| id.parse::<i32>().ok());
        if let Some(kept) = id
            .map(|id| store.get_json::<Value>(&message_key(id)))
            .transpose()?
        {
            messages.extend(kept);
        }
    }
    messages.reverse();
    Ok(json!({ "messages": messages }))
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn friend_list() -> Value {
    json!([
        { "user_id": 10001, "nickname": "Alice", "remark": "alice from work" },
        { "user_id": 10002, "nickname": "Bob", "remark": "" },
        { "user_id": 10003, "nickname": "Carol", "remark": "carol (test account)" },
    ])
}

fn group_list() -> Value {
    json!([
        { "group_id": 20001, "group_name": "onebot-host testers", "member_count": 3, "max_member_count": 200 },
        { "group_id": 20002, "group_name": "mock lounge", "member_count": 42, "max_member_count": 500 },
    ])
}

/// A positive i32 that differs between calls: the wall clock's nanoseconds, a count of this
/// instance's calls (0 in a fresh instance) and the call's log line (action, target and message
/// preview), mixed by FNV-1a and a 64-bit finaliser. Cheap on purpose: it runs on every send.
fn new_message_id(line: &str) -> i32 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in line.bytes() {
        h = (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    h ^= nanos ^ CALLS.fetch_add(1, Ordering::Relaxed).rotate_left(40);
    // splitmix64's finaliser: every input bit moves about half of the output bits.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let id = h % (i32::MAX as u64) + 1; // 1 ..= i32::MAX
    i32::try_from(id).unwrap_or(i32::MAX)
}

fn error(retcode: i32, message: impl Into<String>) -> Error {
    Error::new(retcode, message)
}

/// One call's params: a JSON object, with the action name for error messages.
struct Params {
    action: &'static str,
    map: Map<String, Value>,
}

impl Params {
    fn new(action: &'static str, value: Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Params { action, map }),
            Value::Null => Ok(Params {
                action,
                map: Map::new(),
            }),
            other => Err(error(
                1400,
                format!(
                    "{action}: params must be a JSON object, got {}",
                    kind(&other)
                ),
            )),
        }
    }

    /// A param's value; `null` counts as absent.
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn invalid(&self, what: impl std::fmt::Display) -> Error {
        error(1400, format!("{}: {what}", self.action))
    }

    fn missing(&self, key: &str, expected: &str) -> Error {
        self.invalid(format!("missing required param `{key}` ({expected})"))
    }

    /// A required account or group number: a positive integer, as a number or numeric string.
    fn required_id(&self, key: &str) -> Result<i64> {
        let value = self.get(key).ok_or_else(|| self.missing(key, "integer"))?;
        match as_integer(value) {
            Some(id) if id > 0 => Ok(id),
            _ => Err(self.invalid(format!(
                "param `{key}` must be a positive integer, got {value}"
            ))),
        }
    }

    /// `message_id`: any 32-bit integer, as a number or numeric string.
    fn message_id(&self) -> Result<i32> {
        let value = self
            .get("message_id")
            .ok_or_else(|| self.missing("message_id", "integer"))?;
        as_integer(value)
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| {
                self.invalid(format!(
                    "param `message_id` must be a 32-bit integer, got {value}"
                ))
            })
    }

    /// `nickname`: a string when given, else `user<id>`.
    fn nickname(&self, user_id: i64) -> Result<String> {
        match self.get("nickname") {
            None => Ok(format!("user{user_id}")),
            Some(Value::String(name)) => Ok(name.clone()),
            Some(other) => Err(self.invalid(format!(
                "param `nickname` must be a string, got {}",
                kind(other)
            ))),
        }
    }

    /// Checks `message` (a CQ string, one segment, or an array of segments, not empty) and
    /// returns a short text preview of it for the log.
    fn message(&self) -> Result<String> {
        let expected = "string or array of segments";
        let value = self
            .get("message")
            .ok_or_else(|| self.missing("message", expected))?;
        let text = match value {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Object(_) => self.segment(value)?,
            Value::Array(segments) if !segments.is_empty() => {
                let parts: Result<Vec<String>> = segments.iter().map(|s| self.segment(s)).collect();
                parts?.concat()
            }
            Value::String(_) | Value::Array(_) => {
                return Err(self.invalid("param `message` must not be empty"));
            }
            other => {
                return Err(self.invalid(format!(
                    "param `message` must be a {expected}, got {}",
                    kind(other)
                )));
            }
        };
        Ok(truncate(&text.replace(['\r', '\n'], " "), PREVIEW_CHARS))
    }

    /// The preview of one segment `{"type": …, "data": {…}}`.
    fn segment(&self, segment: &Value) -> Result<String> {
        let Some(kind) = segment.get("type").and_then(Value::as_str) else {
            return Err(self.invalid(format!(
                "each message segment must be an object with a string `type`, got {segment}"
            )));
        };
        let data = |key: &str| match segment.get("data").and_then(|d| d.get(key)) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        Ok(match kind {
            "text" => data("text"),
            "at" => format!("@{}", data("qq")),
            "face" => format!("[face:{}]", data("id")),
            other => format!("[{other}]"),
        })
    }
}

/// An integer given as a JSON number or a decimal string (`"12345"`).
fn as_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
