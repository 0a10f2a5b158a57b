//! keyword: the example event handler (docs/triggers.md). A private or group
//! message whose text is exactly `ping` is answered `pong` in the same chat, through
//! `send_msg`; every event goes on to the bot unchanged.
//!
//! Its sidecar `plugins/keyword.json5` grants what it needs and no more: the `message`
//! events, and calling `send_msg`. Its own `pong` comes back as a `message_sent` event, which
//! it neither asked for nor would be shown (an event its own call caused never reaches it).

use onebot_plugin::Result;
use onebot_plugin::events::{Event, Verdict, reply};

fn on_message(event: Event) -> Result<Verdict> {
    if event.post_type() == "message" && event.text() == "ping" {
        reply(&event, "pong")?;
    }
    Ok(Verdict::Pass)
}

onebot_plugin::plugin! {
    on_event => on_message,
}
