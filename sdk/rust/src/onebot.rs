//! Typed params of common OneBot 11 actions, message segments, and [`shorten`] for text that
//! goes into a message.
//!
//! Ids accept what clients send: numbers, or numeric strings (HTTP query and form values are
//! strings). The host always hands plugins `message` as an array of segments (SPEC M3).

use serde::{Deserialize, Deserializer, Serialize};

/// A QQ number, group number or message id: a number or a numeric string on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Number(i64),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Number(n) => Ok(Id(n)),
            Wire::Text(s) => s.trim().parse().map(Id).map_err(|_| {
                serde::de::Error::custom(format!("expected an integer id, got {s:?}"))
            }),
        }
    }
}

/// One message segment (OneBot 11 `{"type": …, "data": {…}}`). Types this enum does not
/// name arrive as [`Segment::Other`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum Segment {
    Text {
        text: String,
    },
    Face {
        id: String,
    },
    At {
        qq: String,
    },
    Reply {
        id: String,
    },
    Image {
        file: String,
    },
    #[serde(other)]
    Other,
}

impl Segment {
    /// A short plain-text preview: text as is, other segments as `[type]`.
    pub fn preview(segments: &[Segment]) -> String {
        segments
            .iter()
            .map(|s| match s {
                Segment::Text { text } => text.clone(),
                Segment::Face { id } => format!("[face:{id}]"),
                Segment::At { qq } => format!("@{qq}"),
                Segment::Reply { .. } => "[reply]".into(),
                Segment::Image { .. } => "[image]".into(),
                Segment::Other => "[segment]".into(),
            })
            .collect()
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SendPrivateMsg {
    pub user_id: Id,
    pub message: Vec<Segment>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SendGroupMsg {
    pub group_id: Id,
    pub message: Vec<Segment>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SendMsg {
    pub message_type: Option<String>,
    pub user_id: Option<Id>,
    pub group_id: Option<Id>,
    pub message: Vec<Segment>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GetMsg {
    pub message_id: Id,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DeleteMsg {
    pub message_id: Id,
}

/// Params of actions that take none (`get_login_info`, `get_friend_list`, …): any object.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NoParams {}

/// `send_*`'s answer.
#[derive(Clone, Debug, Serialize)]
pub struct MessageId {
    pub message_id: i32,
}

/// `text` cut to `max` characters (at least 1), the last of them `…` when it was longer: for
/// a title or a commit line put into a chat message.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some(_) => {
            let kept: String = text.chars().take(max.saturating_sub(1)).collect();
            format!("{kept}…")
        }
    }
}

#[cfg(test)]
mod shorten_tests {
    use super::shorten;

    #[test]
    fn shorten_keeps_short_text_and_cuts_long_text_to_max_characters() {
        assert_eq!(shorten("short", 200), "short");
        assert_eq!(shorten(&"x".repeat(200), 200), "x".repeat(200));
        let long = shorten(&"界".repeat(300), 200);
        assert_eq!(long.chars().count(), 200);
        assert!(long.ends_with('…'));
    }
}
