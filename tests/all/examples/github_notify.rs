//! github-notify (plugins/github-notify): the real binary with the shipped sidecar
//! (plugins/optional/github-notify.json5) and the secret in the environment, as the sidecar's
//! comment tells a user to run it. Deliveries are real HTTP posts of a realistic push payload,
//! signed in the test as GitHub signs them; what the plugin sends to the group reaches a
//! WebSocket client as mock-account's `message_sent`. Routes: SPEC T21–T23; the send: P4.

use std::net::SocketAddr;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{next_group_message, send_to_group};
use crate::bin::{Invocation, Running};
use crate::harness::shared_cache;
use crate::ws::client;

const SECRET: &str = "s3cret shared with GitHub";
/// The group the shipped sidecar posts to.
const PUSH: &str = include_str!("push.json");
const PUSHED: &str =
    "octocat pushed 2 commit(s) to octocat/Hello-World: Feed: read Atom links by rel=alternate";

/// `sha256=<hex HMAC-SHA256 of body under secret>`, as GitHub sends it.
fn signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// The binary serving mock-account and github-notify with its shipped sidecar, the secret in
/// `GITHUB_WEBHOOK_SECRET`; returns it once github-notify is loaded, and its address.
fn launch() -> (Running, SocketAddr) {
    let invocation = Invocation::new()
        .env("RUST_LOG", "info")
        .env("GITHUB_WEBHOOK_SECRET", SECRET);
    let plugins = [
        ("mock_account.wasm", "mock-account.wasm"),
        ("github_notify.wasm", "github-notify.wasm"),
    ];
    let mut running = Running::launch_as(invocation, &plugins, |dir| {
        std::fs::write(
            dir.join("github-notify.json5"),
            include_str!("../../../plugins/optional/github-notify.json5"),
        )
        .expect("sidecar");
        format!(
            r#"{{ network: {{ httpServers: [{{ name: "gh", enable: true, host: "127.0.0.1", port: 0, enableWebsocket: true }}] }},
  plugins: {{ dir: {dir:?}, cacheDir: {cache:?},
    env: {{ "github-notify": ["GITHUB_WEBHOOK_SECRET"] }},
    ceilings: {{ "github-notify": {{ callActions: ["send_group_msg"] }} }} }} }}"#,
            dir = dir.display().to_string(),
            cache = shared_cache().display().to_string(),
        )
    });
    running.wait_for("github-notify.wasm (actions");
    let addr = running.addr("gh");
    (running, addr)
}

/// POSTs `body` as GitHub delivers event `event`, with `signature` if any; the status and text.
async fn deliver(
    addr: SocketAddr,
    event: &str,
    content_type: &str,
    body: &str,
    signature: Option<&str>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/hooks/github-notify/github"))
        .header("content-type", content_type)
        .header("user-agent", "GitHub-Hookshot/5c0a4a7")
        .header("x-github-event", event)
        .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .header("x-github-hook-id", "292430182")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    let response = request.send().await.expect("delivered");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

async fn signed(addr: SocketAddr, event: &str, body: &str) -> (u16, String) {
    let signature = signature(SECRET, body);
    deliver(addr, event, "application/json", body, Some(&signature)).await
}

#[tokio::test]
async fn t22_github_notify_answers_a_ping_and_posts_a_signed_push_to_the_group_once() {
    let (running, addr) = launch();
    let mut bot = client::subscribed(addr, "/").await;

    let ping = json!({ "zen": "Keep it logically awesome.", "hook_id": 292430182 }).to_string();
    assert_eq!(signed(addr, "ping", &ping).await, (200, "pong".to_owned()));
    assert_eq!(signed(addr, "push", PUSH).await, (200, "posted".to_owned()));
    assert_eq!(next_group_message(&mut bot).await, PUSHED);

    // Nothing else is posted: other events, a push without commits (a deleted branch), a
    // push sent form-encoded (the webhook's content type must be JSON).
    let issue = json!({ "action": "opened", "issue": { "number": 1 } }).to_string();
    let (status, text) = signed(addr, "issues", &issue).await;
    assert_eq!(
        (status, text.contains("`issues` ignored")),
        (200, true),
        "{text}"
    );
    let mut deleted: Value = serde_json::from_str(PUSH).expect("json");
    deleted["deleted"] = json!(true);
    deleted["commits"] = json!([]);
    deleted["head_commit"] = Value::Null;
    let (status, text) = signed(addr, "push", &deleted.to_string()).await;
    assert_eq!((status, text.as_str()), (200, "no commits: nothing posted"));
    let form = format!("payload={}", "%7B%7D");
    let (status, text) = deliver(
        addr,
        "push",
        "application/x-www-form-urlencoded",
        &form,
        Some(&signature(SECRET, &form)),
    )
    .await;
    assert_eq!(status, 415, "{text}");
    assert!(text.contains("application/json"), "{text}");
    send_to_group(addr, "marker").await;
    assert_eq!(next_group_message(&mut bot).await, "marker");

    let (status, _) = running.terminate();
    assert!(status.success());
}

#[tokio::test]
async fn t23_a_bad_or_missing_signature_is_401_and_sends_nothing() {
    let (running, addr) = launch();
    let mut bot = client::subscribed(addr, "/").await;

    let tampered = PUSH.replace("\"name\": \"octocat\"", "\"name\": \"mallory\"");
    assert_ne!(tampered, PUSH);
    let cases = [
        ("no signature", PUSH, None),
        (
            "another secret",
            PUSH,
            Some(signature("not the secret", PUSH)),
        ),
        (
            "a changed body",
            tampered.as_str(),
            Some(signature(SECRET, PUSH)),
        ),
        (
            "sha1",
            PUSH,
            Some("sha1=7d38cdd689735b008b3c702edd92eea23791c5f6".to_owned()),
        ),
        ("empty", PUSH, Some(String::new())),
    ];
    for (case, body, signature) in &cases {
        let (status, text) =
            deliver(addr, "push", "application/json", body, signature.as_deref()).await;
        assert_eq!(status, 401, "{case}: {text}");
        assert!(text.contains("X-Hub-Signature-256"), "{case}: {text}");
    }
    let (status, _) = deliver(addr, "ping", "application/json", "{}", None).await;
    assert_eq!(status, 401, "a ping is checked too");
    send_to_group(addr, "marker").await;
    assert_eq!(
        next_group_message(&mut bot).await,
        "marker",
        "no refused delivery sent anything"
    );

    let (status, log) = running.terminate();
    assert!(status.success());
    let refusals = log
        .iter()
        .filter(|l| l.contains("delivery 72d3162e-cc78-11e3-81ab-4c9367dc0958 refused: "))
        .count();
    assert_eq!(
        refusals,
        cases.len() + 1,
        "each refusal is logged:\n{}",
        log.join("\n")
    );
    assert!(
        !log.iter().any(|l| l.contains(SECRET)),
        "the secret is never logged:\n{}",
        log.join("\n")
    );
}
