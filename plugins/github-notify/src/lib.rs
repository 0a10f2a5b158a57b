//! github-notify: posts GitHub pushes to a QQ group, the webhook-route example of onebot-host
//! (docs/triggers.md, "Webhook routes"). Its sidecar's `routes: ["/github"]` makes every HTTP server of
//! the host hand `/hooks/github-notify/github` to [`github`]:
//!
//! 1. The delivery is authenticated before anything else is read: `X-Hub-Signature-256` must
//!    be the HMAC-SHA256 of the body under the config's `secret` (`signature`). Otherwise it
//!    answers 401 and does nothing. The host asks for no OneBot token on `/hooks/` (SPEC T23),
//!    so this check is the only gate.
//! 2. `ping` (sent when the webhook is created) answers 200 `pong`.
//! 3. `push` sends `<pusher> pushed <n> commit(s) to <repo>: <first message>` to the config's
//!    `group_id` with `send_group_msg`, as one text segment (a commit message is never read as
//!    CQ code), then answers 200. A failed send answers 500, so GitHub shows the delivery as
//!    failed and it can be redelivered.
//! 4. Any other event answers 200 and is ignored (GitHub's settings can narrow the webhook to
//!    pushes).

mod push;
mod signature;

use onebot_plugin::route::{Request, Response};
use onebot_plugin::{Error, Level, Result, call_action, config, json, log};

fn github(request: Request) -> Result<Response> {
    let secret = config::get("secret")
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| {
            Error::failed(
                "github-notify: no `secret` in its config, so no delivery can be checked; set \
                 `config: { secret: \"${GITHUB_WEBHOOK_SECRET}\" }` in github-notify.json5",
            )
        })?;
    let signature = request.header("x-hub-signature-256");
    if let Err(refused) = signature::verify(secret.as_bytes(), signature, &request.body) {
        let delivery: String = request
            .header("x-github-delivery")
            .unwrap_or("-")
            .chars()
            .take(64)
            .collect();
        log(
            Level::Warn,
            &format!("github-notify: delivery {delivery} refused: {refused}"),
        );
        return Ok(Response::text(401, refused.to_string()));
    }
    match request.header("x-github-event") {
        Some("ping") => Ok(Response::text(200, "pong")),
        Some("push") => post_push(&request),
        Some(other) => Ok(Response::text(
            200,
            format!("github-notify posts push events only; `{other}` ignored"),
        )),
        None => Ok(Response::text(400, "no X-GitHub-Event header")),
    }
}

/// Sends the push's line to the group; 4xx for a payload that cannot be read.
fn post_push(request: &Request) -> Result<Response> {
    let form = request
        .header("content-type")
        .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
    if form {
        return Ok(Response::text(
            415,
            "set the webhook's Content type to application/json in GitHub's settings",
        ));
    }
    let push: push::Push = match serde_json::from_slice(&request.body) {
        Ok(push) => push,
        Err(e) => {
            return Ok(Response::text(
                400,
                format!("not a GitHub push payload: {e}"),
            ));
        }
    };
    let Some(line) = push.summary() else {
        return Ok(Response::text(200, "no commits: nothing posted"));
    };
    call_action(
        "send_group_msg",
        json!({
            "group_id": group_id()?,
            "message": [{ "type": "text", "data": { "text": line } }],
        }),
    )?;
    Ok(Response::text(200, "posted"))
}

/// The config's `group_id`, a group number.
fn group_id() -> Result<i64> {
    let text = config::require("group_id")?;
    text.trim().parse().map_err(|_| {
        Error::failed(format!(
            "github-notify: config `group_id` must be a group number, not {text:?}; set it in \
             github-notify.json5"
        ))
    })
}

onebot_plugin::route!(github);

// No actions: the plugin is started by its route only.
onebot_plugin::plugin! {}
