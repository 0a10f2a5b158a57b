//! Typed params of common OneBot 11 actions, and message segments.
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
