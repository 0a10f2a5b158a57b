//! `.handle_quick_operation` (SPEC Q1–Q4): the OneBot 11 quick operation, a host fallback
//! action. Params `{context: <event>, operation: <object>}`; the operation becomes ordinary
//! action calls through the dispatcher, so whichever plugin provides `send_group_msg`,
//! `delete_msg`, … answers them. An `httpClients` endpoint's 200 reply to a message or
//! request event is run through here (src/reverse/http.rs); clients may also call it
//! directly over HTTP or WebSocket, as go-cqhttp allows.
//!
//! [`plan`] is the pure part: event + operation → the calls to make, in order (a reply first,
//! then delete, kick, ban). [`Dispatcher::quick_operation`] makes every call even when one
//! fails, and answers the first failure, naming the step and the action.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{ActionRequest, Dispatcher, Nesting};
use crate::envelope::{ActionError, Outcome};
use crate::message::{Segment, is_true, normalize};

/// The action name, as go-cqhttp and NapCat spell it.
pub(crate) const ACTION: &str = ".handle_quick_operation";

/// `ban_duration`'s default, in seconds (OneBot 11: 30 minutes).
const DEFAULT_BAN_SECONDS: i64 = 30 * 60;

impl Dispatcher {
    /// Q1–Q4: runs the operation's calls in order; ok (`data` null) when all succeeded.
    ///
    /// Returns a boxed `Send` future: each step goes back through `call_in`, which may come
    /// back here (a plugin could call this action), and the compiler cannot infer `Send`
    /// through that cycle of opaque futures by itself.
    pub(super) fn quick_operation(
        self: &Arc<Self>,
        params: Map<String, Value>,
        nesting: Nesting,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + '_>> {
        Box::pin(async move {
            let calls = match plan_params(&params) {
                Ok(calls) => calls,
                Err(e) => return Outcome::Failed(e),
            };
            let mut first_failure = None;
            for call in calls {
                let handled = self
                    .call_in(&call.action, call.params, nesting.clone())
                    .await;
                if let Outcome::Failed(error) = handled.outcome {
                    let message = format!(
                        "{ACTION}: `{}` failed (retcode {}): {}",
                        call.action, error.retcode.0, error.message
                    );
                    first_failure.get_or_insert(ActionError::new(error.retcode, message));
                }
            }
            match first_failure {
                Some(error) => Outcome::Failed(error),
                None => Outcome::Data(Value::Null),
            }
        })
    }
}

/// The params as given: `context` and `operation` must both be objects.
fn plan_params(params: &Map<String, Value>) -> Result<Vec<ActionRequest>, ActionError> {
    let object = |key: &str| match params.get(key) {
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(ActionError::bad_request(format!(
            "{ACTION}: `{key}` must be an object, got {}",
            crate::json::type_name(other)
        ))),
        None => Err(ActionError::bad_request(format!(
            "{ACTION}: missing param `{key}` (an object)"
        ))),
    };
    plan(object("context")?, object("operation")?)
}

/// Q2–Q4: the calls an operation on an event stands for. Events other than `message` and
/// `request` (notices, meta events, the bot's own `message_sent`) have no quick operation.
pub(crate) fn plan(
    context: &Map<String, Value>,
    operation: &Map<String, Value>,
) -> Result<Vec<ActionRequest>, ActionError> {
    match context.get("post_type").and_then(Value::as_str) {
        Some("message") => plan_message(context, operation),
        Some("request") => Ok(plan_request(context, operation).into_iter().collect()),
        _ => Ok(Vec::new()),
    }
}

fn plan_message(
    context: &Map<String, Value>,
    operation: &Map<String, Value>,
) -> Result<Vec<ActionRequest>, ActionError> {
    let group = match context.get("message_type").and_then(Value::as_str) {
        Some("group") => true,
        Some("private") => false,
        other => {
            return Err(ActionError::bad_request(format!(
                "{ACTION}: no quick operation for message_type {}",
                other.map_or_else(|| "(none)".to_owned(), |t| format!("{t:?}"))
            )));
        }
    };
    let user_id = context.get("user_id").cloned().unwrap_or(Value::Null);
    let group_id = context.get("group_id").cloned().unwrap_or(Value::Null);
    let anonymous = context.get("anonymous").filter(|a| !a.is_null());
    let mut calls = Vec::new();

    if let Some(reply) = operation.get("reply").filter(|r| !r.is_null()) {
        let auto_escape = operation.get("auto_escape").is_some_and(is_true);
        let mut message = normalize(reply.clone(), auto_escape)
            .map_err(|e| ActionError::bad_request(format!("{ACTION}: `operation.reply`: {e}")))?;
        // Q2: in a group, `at_sender` (default true, as the standard says) mentions the
        // sender first; an anonymous sender cannot be mentioned.
        let at_sender = operation.get("at_sender").is_none_or(is_true);
        if group && at_sender && anonymous.is_none() {
            let qq = match &user_id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut data = Map::new();
            data.insert("qq".to_owned(), Value::String(qq));
            message.insert(0, Segment::new("at", data));
            message.insert(1, Segment::text(" "));
        }
        let message = Value::Array(message.into_iter().map(Segment::into_value).collect());
        calls.push(if group {
            call(
                "send_group_msg",
                json!({"group_id": group_id, "message": message}),
            )
        } else {
            call(
                "send_private_msg",
                json!({"user_id": user_id, "message": message}),
            )
        });
    }
    if !group {
        return Ok(calls);
    }
    // Q3: group moderation, in the standard's order.
    if operation.get("delete").is_some_and(is_true) {
        let message_id = context.get("message_id").cloned().unwrap_or(Value::Null);
        calls.push(call("delete_msg", json!({"message_id": message_id})));
    }
    if operation.get("kick").is_some_and(is_true) && anonymous.is_none() {
        calls.push(call(
            "set_group_kick",
            json!({"group_id": group_id, "user_id": user_id, "reject_add_request": false}),
        ));
    }
    if operation.get("ban").is_some_and(is_true) {
        let duration = operation
            .get("ban_duration")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_BAN_SECONDS);
        calls.push(match anonymous {
            Some(anonymous) => call(
                "set_group_anonymous_ban",
                json!({"group_id": group_id, "anonymous": anonymous, "duration": duration}),
            ),
            None => call(
                "set_group_ban",
                json!({"group_id": group_id, "user_id": user_id, "duration": duration}),
            ),
        });
    }
    Ok(calls)
}

/// Q4: `approve` (true or false) answers a friend or group request; absent, nothing is done.
fn plan_request(
    context: &Map<String, Value>,
    operation: &Map<String, Value>,
) -> Option<ActionRequest> {
    let approve = operation.get("approve").filter(|a| !a.is_null())?;
    let approve = is_true(approve);
    let flag = context.get("flag").cloned().unwrap_or(Value::Null);
    match context.get("request_type").and_then(Value::as_str)? {
        "friend" => {
            let mut params = json!({"flag": flag, "approve": approve});
            if let Some(remark) = operation.get("remark") {
                params["remark"] = remark.clone();
            }
            Some(call("set_friend_add_request", params))
        }
        "group" => {
            let sub_type = context.get("sub_type").cloned().unwrap_or(Value::Null);
            // `type` is the standard's older name for `sub_type`; some implementations read it.
            let mut params = json!({"flag": flag, "sub_type": sub_type, "type": sub_type,
                                    "approve": approve});
            if let Some(reason) = operation.get("reason") {
                params["reason"] = reason.clone();
            }
            Some(call("set_group_add_request", params))
        }
        _ => None,
    }
}

fn call(action: &str, params: Value) -> ActionRequest {
    ActionRequest {
        action: action.to_owned(),
        params: match params {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn planned(context: Value, operation: Value) -> Vec<(String, Value)> {
        plan(&object(context), &object(operation))
            .expect("plans")
            .into_iter()
            .map(|c| (c.action, Value::Object(c.params)))
            .collect()
    }

    fn group_message() -> Value {
        json!({"post_type": "message", "message_type": "group", "message_id": 7,
               "group_id": 100, "user_id": 42, "anonymous": null})
    }

    #[test]
    fn q2_private_reply_is_send_private_msg_with_segments() {
        let calls = planned(
            json!({"post_type": "message", "message_type": "private", "user_id": 42}),
            json!({"reply": "hi[CQ:face,id=178]", "delete": true}),
        );
        assert_eq!(
            calls,
            vec![(
                "send_private_msg".to_owned(),
                json!({"user_id": 42, "message": [
                    {"type": "text", "data": {"text": "hi"}},
                    {"type": "face", "data": {"id": "178"}}]})
            )],
            "no delete, kick or ban outside groups"
        );
    }

    #[test]
    fn q2_group_reply_mentions_the_sender_unless_told_not_to() {
        let calls = planned(
            group_message(),
            json!({"reply": "[x]", "auto_escape": true}),
        );
        assert_eq!(
            calls[0].1["message"],
            json!([{"type": "at", "data": {"qq": "42"}}, {"type": "text", "data": {"text": " "}},
                   {"type": "text", "data": {"text": "[x]"}}])
        );
        assert_eq!(calls[0].0, "send_group_msg");
        assert_eq!(calls[0].1["group_id"], 100);
        let calls = planned(group_message(), json!({"reply": "x", "at_sender": false}));
        assert_eq!(
            calls[0].1["message"],
            json!([{"type": "text", "data": {"text": "x"}}])
        );
    }

    #[test]
    fn q3_moderation_in_order_with_default_ban_duration() {
        let calls = planned(
            group_message(),
            json!({"reply": "bye", "delete": true, "kick": true, "ban": true}),
        );
        let actions: Vec<&str> = calls.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            actions,
            [
                "send_group_msg",
                "delete_msg",
                "set_group_kick",
                "set_group_ban"
            ]
        );
        assert_eq!(calls[1].1, json!({"message_id": 7}));
        assert_eq!(calls[3].1["duration"], 1800);
        let calls = planned(group_message(), json!({"ban": true, "ban_duration": 60}));
        assert_eq!(calls[0].1["duration"], 60);
    }

    #[test]
    fn q4_requests_are_answered_only_when_approve_is_given() {
        let friend = json!({"post_type": "request", "request_type": "friend", "flag": "f1"});
        assert!(planned(friend.clone(), json!({})).is_empty());
        assert_eq!(
            planned(friend, json!({"approve": true, "remark": "pal"})),
            vec![(
                "set_friend_add_request".to_owned(),
                json!({"flag": "f1", "approve": true, "remark": "pal"})
            )]
        );
        let group = json!({"post_type": "request", "request_type": "group",
                           "sub_type": "invite", "flag": "g1"});
        assert_eq!(
            planned(group, json!({"approve": false, "reason": "no"})),
            vec![(
                "set_group_add_request".to_owned(),
                json!({"flag": "g1", "sub_type": "invite", "type": "invite",
                       "approve": false, "reason": "no"})
            )]
        );
    }

    #[test]
    fn q1_other_events_and_bad_operations() {
        assert!(planned(json!({"post_type": "notice"}), json!({"reply": "x"})).is_empty());
        assert!(planned(json!({"post_type": "message_sent"}), json!({"reply": "x"})).is_empty());
        let bad = plan(&object(group_message()), &object(json!({"reply": 5})));
        assert!(bad.is_err_and(|e| e.message.contains("operation.reply")));
        let missing = plan_params(&object(json!({"operation": {}})));
        assert!(missing.is_err_and(|e| e.message.contains("`context`")));
    }
}
