//! The OneBot 11 reply envelope and the one retcode table (SPEC E1–E4).
//!
//! Both transports build replies here and nowhere else: a call ends as an [`Outcome`]
//! (data, `async`, or an [`ActionError`]), and [`Envelope::new`] renders it with the caller's
//! echo. Keeping this in one place is what makes HTTP and WebSocket answer identically.

use serde::Serialize;
use serde_json::Value;

/// OneBot retcodes used by the host itself (E4). Plugins may return their own, passed through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retcode(pub i32);

impl Retcode {
    pub const OK: Retcode = Retcode(0);
    /// The action ran and failed: a plugin error, trap, timeout or memory overrun.
    pub const FAILED: Retcode = Retcode(1200);
    /// Bad body, bad frame, or params that fail the action's schema.
    pub const BAD_REQUEST: Retcode = Retcode(1400);
    /// Missing or wrong access token.
    pub const AUTH: Retcode = Retcode(1403);
    /// No plugin or fallback provides the action.
    pub const UNKNOWN_ACTION: Retcode = Retcode(1404);
}

/// A failed call: the retcode and the message a client sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionError {
    pub retcode: Retcode,
    pub message: String,
}

impl ActionError {
    pub fn new(retcode: Retcode, message: impl Into<String>) -> Self {
        ActionError {
            retcode,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Retcode::BAD_REQUEST, message)
    }

    /// H8: the exact message NapCat uses, which some clients match on.
    pub fn unknown_action(action: &str) -> Self {
        Self::new(Retcode::UNKNOWN_ACTION, format!("不支持的API {action}"))
    }

    /// H6: the seed's message for a missing or wrong token.
    pub fn auth() -> Self {
        Self::new(Retcode::AUTH, "token verify failed")
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Retcode::FAILED, message)
    }
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "retcode {}: {}", self.retcode.0, self.message)
    }
}

impl std::error::Error for ActionError {}

/// How a call ended, before it is rendered for a transport.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The action ran; its `data`.
    Data(Value),
    /// E5: an `_async` call was accepted and runs in the background.
    Accepted,
    Failed(ActionError),
}

impl From<Result<Value, ActionError>> for Outcome {
    fn from(result: Result<Value, ActionError>) -> Self {
        match result {
            Ok(data) => Outcome::Data(data),
            Err(error) => Outcome::Failed(error),
        }
    }
}

impl Outcome {
    pub fn retcode(&self) -> Retcode {
        match self {
            Outcome::Data(_) | Outcome::Accepted => Retcode::OK,
            Outcome::Failed(error) => error.retcode,
        }
    }
}

/// The wire form of a reply (E1, E2). It has no `post_type`, which is how clients on a
/// universal socket tell replies from events (E3b).
#[derive(Debug, Serialize)]
pub struct Envelope {
    pub status: &'static str,
    pub retcode: i32,
    pub data: Value,
    pub message: String,
    pub wording: String,
    /// E3: exactly as the client sent it, JSON type kept; `null` when absent.
    pub echo: Value,
}

impl Envelope {
    pub fn new(outcome: Outcome, echo: Option<Value>) -> Self {
        let echo = echo.unwrap_or(Value::Null);
        match outcome {
            Outcome::Data(data) => Envelope {
                status: "ok",
                retcode: 0,
                data,
                message: String::new(),
                wording: String::new(),
                echo,
            },
            Outcome::Accepted => Envelope {
                status: "async",
                retcode: 0,
                data: Value::Null,
                message: String::new(),
                wording: String::new(),
                echo,
            },
            Outcome::Failed(error) => Envelope {
                status: "failed",
                retcode: error.retcode.0,
                data: Value::Null,
                wording: error.message.clone(),
                message: error.message,
                echo,
            },
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising a struct of strings and `Value`s cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(outcome: Outcome, echo: Option<Value>) -> Value {
        serde_json::to_value(Envelope::new(outcome, echo)).expect("envelope serialises")
    }

    #[test]
    fn e1_success_shape() {
        let got = render(Outcome::Data(json!({"message_id": 1})), Some(json!("r1")));
        assert_eq!(
            got,
            json!({"status":"ok","retcode":0,"data":{"message_id":1},"message":"","wording":"","echo":"r1"})
        );
    }

    #[test]
    fn e2_failure_shape_repeats_message_as_wording() {
        let got = render(Outcome::Failed(ActionError::unknown_action("nope")), None);
        assert_eq!(
            got,
            json!({"status":"failed","retcode":1404,"data":null,"message":"不支持的API nope","wording":"不支持的API nope","echo":null})
        );
    }

    #[test]
    fn e3_echo_keeps_its_json_type() {
        for echo in [json!("7"), json!(7), json!({"a":[1,2]}), json!(null)] {
            let got = render(Outcome::Data(Value::Null), Some(echo.clone()));
            assert_eq!(got["echo"], echo);
        }
    }

    #[test]
    fn e5_async_is_status_async_retcode_0() {
        let got = render(Outcome::Accepted, Some(json!(1)));
        assert_eq!(got["status"], "async");
        assert_eq!(got["retcode"], 0);
        assert_eq!(got["data"], Value::Null);
    }

    #[test]
    fn e3b_reply_never_has_post_type() {
        let got = render(Outcome::Data(json!({"post_type": "x"})), None);
        assert!(got.get("post_type").is_none());
    }
}
