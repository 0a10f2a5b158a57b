//! `httpClients` (issue 15): events POSTed to bot endpoints (SPEC R1–R5, M4) and the quick
//! operation (Q1–Q4), against real HTTP servers in the test (`reverse_http/endpoint.rs`).

pub mod endpoint;

use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

use crate::bin::Running;
use crate::harness::{Setup, failed, ok_data};
use endpoint::{Endpoint, client, dead_url};

fn network(clients: &[String]) -> String {
    format!("httpClients: [{}]", clients.join(", "))
}

fn hex_hmac_sha1(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn r2_posts_carry_json_self_id_and_a_signature_the_bot_can_verify() {
    let (mut signed, mut plain) = (Endpoint::quiet().await, Endpoint::quiet().await);
    let host = Setup::default()
        .network(&network(&[
            client("signed", &signed.url, r#"token: "s3cret""#),
            client("plain", &plain.url, ""),
        ]))
        .start()
        .await;
    let emitted = host
        .post(
            "probe_emit",
            json!({"event": {"post_type": "notice", "notice_type": "poke"}}),
        )
        .await;
    ok_data(&emitted);

    let post = signed.next().await;
    assert_eq!(post.event["notice_type"], "poke", "R1: the event itself");
    assert_eq!(post.header("content-type"), Some("application/json"), "R2");
    assert_eq!(post.header("x-self-id"), Some("10000"), "R2: bot.selfId");
    let expected = format!("sha1={}", hex_hmac_sha1("s3cret", &post.body));
    assert_eq!(post.header("x-signature"), Some(expected.as_str()), "R2");

    let post = plain.next().await;
    assert_eq!(post.event["notice_type"], "poke");
    assert_eq!(
        post.header("x-signature"),
        None,
        "R2: no token, no signature"
    );
    host.stop().await;
}

#[tokio::test]
async fn m4_r1_each_endpoint_gets_its_format_and_raw_message_is_the_cq_string() {
    let (mut array, mut string) = (Endpoint::quiet().await, Endpoint::quiet().await);
    let host = Setup::default()
        .network(&network(&[
            client("array", &array.url, ""),
            client("string", &string.url, r#"messagePostFormat: "string""#),
        ]))
        .start()
        .await;
    let segments = json!([{"type": "text", "data": {"text": "hi [x]"}},
                          {"type": "face", "data": {"id": "178"}}]);
    let emitted = host
        .post(
            "probe_emit",
            json!({"event": {"post_type": "message", "message_type": "private",
                             "user_id": 1, "raw_message": "", "message": segments}}),
        )
        .await;
    ok_data(&emitted);

    let cq = "hi &#91;x&#93;[CQ:face,id=178]";
    let a = array.next().await.event;
    assert_eq!(
        a["raw_message"], cq,
        "M4: raw_message is always the CQ string"
    );
    assert_eq!(a["message"], segments);
    assert_eq!(a["message_format"], "array");
    let s = string.next().await.event;
    assert_eq!(s["raw_message"], cq, "M4");
    assert_eq!(s["message"], cq);
    assert_eq!(s["message_format"], "string");
    host.stop().await;
}

#[tokio::test]
async fn r1_report_self_message_per_endpoint() {
    let (mut all, mut others) = (Endpoint::quiet().await, Endpoint::quiet().await);
    let host = Setup::default()
        .network(&network(&[
            client("all", &all.url, "reportSelfMessage: true"),
            client("others", &others.url, ""),
        ]))
        .start()
        .await;
    for (post_type, seq) in [("message_sent", 1), ("message", 2), ("notice", 3)] {
        let event = json!({"post_type": post_type, "message_type": "private", "user_id": 1,
                           "message": "m", "seq": seq});
        ok_data(&host.post("probe_emit", json!({"event": event})).await);
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(all.next().await.event["post_type"].clone());
    }
    seen.sort_by_key(|v| v.to_string());
    assert_eq!(seen, ["message", "message_sent", "notice"], "R1: all three");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(others.next().await.event["seq"].clone());
    }
    seen.sort_by_key(|v| v.as_i64());
    assert_eq!(
        seen,
        [2, 3],
        "R1: the bot's own message (seq 1) is not reported"
    );
    host.stop().await;
}

#[tokio::test]
async fn q1_q2_a_reply_in_the_answer_is_sent_through_whichever_plugin_sends() {
    // The bot answers a group message with a quick reply; mock-account's send_group_msg
    // sends it and emits `message_sent`, which this endpoint also receives.
    let mut bot = Endpoint::answering(|event| {
        if event["post_type"] == "message" {
            Json(json!({"reply": "pong [1]", "auto_escape": true})).into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    })
    .await;
    let host = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")])
        .network(&network(&[client(
            "bot",
            &bot.url,
            "reportSelfMessage: true",
        )]))
        .start()
        .await;
    let received = host
        .post(
            "mock_receive_group_msg",
            json!({"group_id": 100, "user_id": 42, "message": "ping"}),
        )
        .await;
    ok_data(&received);

    let sent = bot
        .next_where(|e| e["post_type"] == "message_sent")
        .await
        .event;
    assert_eq!(sent["group_id"], 100, "Q2: answered in the same group");
    assert_eq!(
        sent["raw_message"], "[CQ:at,qq=42] pong &#91;1&#93;",
        "Q2: at_sender by default in groups; auto_escape keeps [1] literal"
    );
    host.stop().await;
}

#[tokio::test]
async fn q1_clients_may_call_the_quick_operation_directly() {
    let host = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")])
        .start()
        .await;
    let context = json!({"post_type": "message", "message_type": "private", "user_id": 42,
                         "message_id": 5});
    let done = host
        .post(
            ".handle_quick_operation",
            json!({"context": context, "operation": {"reply": "hey"}}),
        )
        .await;
    assert_eq!(
        ok_data(&done),
        &Value::Null,
        "Q1: reply sent, nothing to return"
    );

    // Nobody provides set_friend_add_request: the failure names the step's action.
    let request = json!({"post_type": "request", "request_type": "friend", "flag": "f1"});
    let refused = host
        .post(
            ".handle_quick_operation",
            json!({"context": request, "operation": {"approve": true}}),
        )
        .await;
    let message = failed(&refused, 1404);
    assert!(message.contains("set_friend_add_request"), "{message}");

    let bad = host
        .post(".handle_quick_operation", json!({"operation": {}}))
        .await;
    assert!(failed(&bad, 1400).contains("context"));
    host.stop().await;
}

#[tokio::test]
async fn r3_dead_and_slow_endpoints_do_not_delay_a_healthy_one() {
    const EVENTS: u64 = 50;
    let slow = Endpoint::stuck().await;
    let mut healthy = Endpoint::quiet().await;
    let host = Setup::default()
        .network(&network(&[
            client("dead", &dead_url(), ""),
            client("slow", &slow.url, "timeoutMs: 30000"),
            client("healthy", &healthy.url, ""),
        ]))
        .start()
        .await;
    let started = Instant::now();
    let emitted = host
        .post(
            "probe_emit",
            json!({"event": {"post_type": "notice", "notice_type": "n"}, "count": EVENTS}),
        )
        .await;
    ok_data(&emitted);
    let mut seqs = Vec::new();
    while seqs.len() < EVENTS as usize {
        let event = healthy.next().await.event;
        seqs.push(event["seq"].as_u64().expect("seq"));
    }
    let elapsed = started.elapsed();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..EVENTS).collect::<Vec<_>>(),
        "R3: every event, once"
    );
    // Held up by the slow endpoint, this would take its 30 s timeout; by the dead one's
    // retries, about 50 × 0.75 s / 4 ≈ 9 s.
    assert!(
        elapsed < Duration::from_secs(5),
        "R3: the healthy endpoint got {EVENTS} events in {elapsed:?}"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r4_failures_are_retried_then_dropped_and_every_drop_is_logged() {
    const TOKEN: &str = "r4-secret-token-never-logged";
    let mut broken =
        Endpoint::answering(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()).await;
    let stuck = Endpoint::stuck().await;
    let setup = Setup::default().network(&network(&[
        client("broken", &broken.url, &format!("token: {TOKEN:?}")),
        client("stuck", &stuck.url, "queueEvents: 1, timeoutMs: 60000"),
    ]));
    let mut running = Running::start(&setup, "info", None);
    let addr = tokio::task::block_in_place(|| running.addr("test"));
    let emitted: Value = reqwest::Client::new()
        .post(format!("http://{addr}/probe_emit"))
        .json(&json!({"event": {"post_type": "notice", "notice_type": "n"}, "count": 10}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("envelope");
    ok_data(&emitted);

    // R4: a 5xx is tried 3 times in all, then the event is dropped.
    let mut tries = [0_u32; 10];
    for _ in 0..30 {
        let seq = broken.next().await.event["seq"].as_u64().expect("seq");
        tries[usize::try_from(seq).expect("small")] += 1;
    }
    assert_eq!(tries, [3; 10], "R4: three tries per event");
    tokio::task::block_in_place(|| {
        let line = running.wait_for("last failure: HTTP 500 after 3 tries");
        assert!(
            line.contains("WARN") && line.contains("endpoint=broken"),
            "{line}"
        );
        // The stuck endpoint holds 4 POSTs and 1 queued event; the rest (5 or more) found
        // the queue full.
        let line = (1..)
            .map(|n| running.wait_for_nth("httpClients endpoint: dropped", n))
            .find(|line| line.contains("endpoint=stuck"))
            .expect("a drop warning for stuck");
        assert!(line.contains("WARN") && line.contains("0 failed"), "{line}");
    });
    let (_, log) = tokio::task::block_in_place(|| running.terminate());
    let log = log.join("\n");
    assert!(
        !log.contains(TOKEN),
        "H6: the token is never logged:\n{log}"
    );
    drop(stuck);
}
