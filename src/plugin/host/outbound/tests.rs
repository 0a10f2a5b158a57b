//! The gate's own tests: what it allows, its timeouts, its slots (SPEC P4a, P4c, P4d).

use std::pin::Pin;

use super::*;
use crate::config::{Grants, HostPattern};

/// The gate of plugin `p`, granted `hosts`, in a call with `left` to go.
fn gate(hosts: &[&str], left: Duration, in_flight: &InFlight) -> Gate {
    let grants = Grants {
        outbound: hosts
            .iter()
            .map(|h| HostPattern::parse(h).expect(h))
            .collect(),
        ..Grants::default()
    };
    Gate {
        grantee: Grantee {
            plugin: "p".into(),
            grants: Arc::new(grants),
            refusals: Default::default(),
        },
        action: "act".to_owned(),
        deadline: Instant::now() + left,
        in_flight: in_flight.clone(),
        body_cap: 1 << 20,
    }
}

async fn send(gate: &mut Gate, url: &str) -> Result<u16, HttpError> {
    let request = hyper::Request::get(url)
        .body(
            http_body_util::Empty::new()
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .expect("request");
    let sent = gate.send_request(request, None, Box::new(async { Ok(()) }));
    Pin::from(sent)
        .await
        .map(|(response, _io)| response.status().as_u16())
}

#[tokio::test]
async fn p4a_a_request_no_pattern_allows_is_denied_without_a_connection() {
    let in_flight = InFlight::default();
    let mut none = gate(&[], Duration::from_secs(5), &in_flight);
    // Port 9 (discard) on loopback: were it tried, the error would be a connection one.
    let denied = send(&mut none, "http://127.0.0.1:9/").await;
    assert!(
        matches!(denied, Err(HttpError::HttpRequestDenied)),
        "{denied:?}"
    );
    let mut some = gate(
        &["https://api.example.com"],
        Duration::from_secs(5),
        &in_flight,
    );
    for url in [
        "http://api.example.com/",
        "https://api.example.com:8443/",
        "https://x.com/",
    ] {
        let denied = send(&mut some, url).await;
        assert!(
            matches!(denied, Err(HttpError::HttpRequestDenied)),
            "{url}: {denied:?}"
        );
    }
}

#[tokio::test]
async fn p4e_user_info_in_the_authority_is_denied_even_for_a_granted_host() {
    let in_flight = InFlight::default();
    let mut granted = gate(&["http://127.0.0.1:9"], Duration::from_secs(5), &in_flight);
    for url in ["http://x@127.0.0.1:9/", "http://u:p@127.0.0.1:9/"] {
        let denied = send(&mut granted, url).await;
        assert!(
            matches!(denied, Err(HttpError::HttpRequestDenied)),
            "{url}: {denied:?}"
        );
    }
}

#[tokio::test]
async fn p4d_a_request_waits_for_a_slot_then_fails_clearly() {
    let in_flight = InFlight::default();
    let held = in_flight
        .0
        .clone()
        .acquire_many_owned(MAX_IN_FLIGHT as u32)
        .await
        .expect("all slots");
    let mut gate = gate(
        &["http://127.0.0.1:9"],
        Duration::from_millis(300),
        &in_flight,
    );
    let started = Instant::now();
    let refused = send(&mut gate, "http://127.0.0.1:9/").await;
    assert!(
        matches!(refused, Err(HttpError::ConnectionLimitReached)),
        "{refused:?}"
    );
    // It waited for a slot, within the call's time.
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not the 10 s connect timeout"
    );
    drop(held);
}

#[test]
fn p4c_timeouts_never_reach_past_the_calls_deadline() {
    let now = Instant::now();
    // A long call: our timeouts as they are.
    let (limits, until) = bounds(None, now + Duration::from_secs(300), now);
    assert_eq!(limits.connect_timeout, Some(CONNECT_TIMEOUT));
    assert_eq!(limits.first_byte_timeout, Some(FIRST_BYTE_TIMEOUT));
    assert_eq!(until, now + Duration::from_secs(300) - RESERVE);
    // A short call: everything ends a tenth of the time left before its deadline.
    let (limits, until) = bounds(None, now + Duration::from_secs(1), now);
    assert_eq!(limits.connect_timeout, Some(Duration::from_millis(900)));
    assert_eq!(
        limits.between_bytes_timeout,
        Some(Duration::from_millis(900))
    );
    assert_eq!(until, now + Duration::from_millis(900));
    // A guest may ask for less, not more.
    let asked = RequestOptions {
        connect_timeout: Some(Duration::from_millis(5)),
        first_byte_timeout: Some(Duration::from_secs(3600)),
        between_bytes_timeout: None,
    };
    let (limits, _) = bounds(Some(asked), now + Duration::from_secs(300), now);
    assert_eq!(limits.connect_timeout, Some(Duration::from_millis(5)));
    assert_eq!(limits.first_byte_timeout, Some(FIRST_BYTE_TIMEOUT));
    // Past the deadline: nothing left.
    let (limits, _) = bounds(None, now, now + Duration::from_secs(1));
    assert_eq!(limits.connect_timeout, Some(Duration::ZERO));
}

#[test]
fn p4a_the_target_is_what_a_host_pattern_names() {
    let target = |uri: &str| Target::of(&uri.parse().expect(uri));
    let t = target("https://API.example.com/v1?x=1");
    assert_eq!(
        (t.scheme.as_str(), t.host.as_str(), t.port),
        ("https", "api.example.com", 443)
    );
    assert_eq!(t.origin, "https://api.example.com");
    let t = target("http://127.0.0.1:8080/");
    assert_eq!(t.origin, "http://127.0.0.1:8080");
    let t = target("http://[::1]:9/");
    assert_eq!(t.origin, "http://[::1]:9");
    // The suggested line in the log allows exactly what was refused.
    for uri in [
        "https://api.example.com/x",
        "http://127.0.0.1:8080/",
        "http://[::1]:9/",
    ] {
        let t = target(uri);
        let pattern = HostPattern::parse(&t.origin).expect("origin parses as a pattern");
        assert!(pattern.allows(&t.scheme, &t.host, t.port), "{uri}");
    }
}
