//! The example plugins that react to the outside world, each as a user runs it: the real
//! binary, the sidecar shipped in plugins/optional/, mock-account to "send", and the outside
//! world played by the test (a feed server, GitHub's webhook deliveries).

mod feed;
mod github_notify;

use std::net::SocketAddr;

use serde_json::json;

use crate::harness::{envelope, ok_data};
use crate::ws::client::{Client, next_event};

/// The group both examples post to, in their sidecars as the tests write them.
const GROUP: i64 = 123_456_789;

/// The text of the next group message the account sends (its `message_sent` event).
async fn next_group_message(bot: &mut Client) -> String {
    loop {
        let event = next_event(bot).await;
        if event["post_type"] == "message_sent" {
            assert_eq!(event["group_id"], GROUP, "{event}");
            return event["message"][0]["data"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
    }
}

/// Sends `text` to the group from the test itself: once the bot sees it, it has seen every
/// message sent before it (events keep their order).
async fn send_to_group(addr: SocketAddr, text: &str) {
    let answer = envelope(
        reqwest::Client::new()
            .post(format!("http://{addr}/send_group_msg"))
            .json(&json!({ "group_id": GROUP, "message": text })),
    )
    .await;
    ok_data(&answer);
}
