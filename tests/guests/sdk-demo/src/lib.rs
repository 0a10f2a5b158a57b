//! sdk-demo: a three-action plugin written with the Rust SDK, as the README shows it.

use onebot_plugin::onebot::{MessageId, Segment, SendPrivateMsg};
use onebot_plugin::{Error, Result, Value, info, json};
use serde::Deserialize;

#[derive(Deserialize)]
struct Text {
    text: String,
}

fn reverse(p: Text) -> Result<Value> {
    Ok(json!({ "text": p.text.chars().rev().collect::<String>() }))
}

fn word_count(p: Text) -> Result<Value> {
    Ok(json!({ "words": p.text.split_whitespace().count() }))
}

#[derive(Deserialize)]
struct Add {
    a: i64,
    b: i64,
    #[serde(default)]
    negate: bool,
}

/// As `onebot-host new`'s template has it: two integers, which a query string sends as text.
fn add(p: Add) -> Result<Value> {
    let sum = p.a.saturating_add(p.b);
    Ok(json!({ "sum": if p.negate { -sum } else { sum } }))
}

fn send_private_msg(p: SendPrivateMsg) -> Result<MessageId> {
    if p.message.is_empty() {
        return Err(Error::bad_request("message is empty"));
    }
    info(&format!("to {}: {}", p.user_id.0, Segment::preview(&p.message)));
    Ok(MessageId { message_id: 42 })
}

onebot_plugin::plugin! {
    "sdk_reverse" => reverse,
    "sdk_word_count" => word_count,
    "sdk_add" => add,
    "sdk_send_private_msg" => send_private_msg,
}
