//! HTTP request decoding (SPEC H2–H4): JSON, JSON5, form and query, as `http::decode`
//! sees them. Input: one selector byte (bit 0: GET, bit 1: form `Content-Type`), then the query
//! and the body separated by the first NUL byte (no NUL: all body, no query).
//!
//! Checks: no panic, no stack overflow (on a small stack, see `stack.rs`); `access_token` and
//! `echo` never reach the params (H2); a form-typed body that is a JSON object decodes as
//! that object (H3); an accepted JSON body nests no deeper than the guard;
//! json5 never recurses deeper than the guard allows, even into a body it then refuses.
#![no_main]

#[path = "depth.rs"]
mod depth;
#[path = "stack.rs"]
mod stack;

use http::Method;
use libfuzzer_sys::fuzz_target;
use onebot_host::http::{decode, decode_json};
use onebot_host::json::MAX_DEPTH;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let method = if selector & 1 == 1 {
        Method::GET
    } else {
        Method::POST
    };
    let content_type = (selector & 2 == 2).then_some("application/x-www-form-urlencoded");
    let (query, body) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (std::str::from_utf8(&rest[..nul]).ok(), &rest[nul + 1..]),
        None => (None, rest),
    };
    stack::on_small_stack(|| {
        let decoded = decode(&method, content_type, query, body);
        if let Ok(decoded) = &decoded {
            assert!(!decoded.params.contains_key("access_token"), "H2");
            assert!(!decoded.params.contains_key("echo"), "H2");
        }
        // H3: a form-typed body that is a JSON object decodes as the JSON body would.
        if method != Method::GET
            && content_type.is_some()
            && query.is_none()
            && body.trim_ascii_start().starts_with(b"{")
            && let Ok(mut object) = decode_json(body)
        {
            object.remove("access_token");
            let echo = object.remove("echo");
            let decoded = decoded.expect("a JSON object is a good form-typed body");
            assert_eq!((decoded.params, decoded.echo), (object, echo), "H3");
        }
        // The guard lets through only what json5 (the recursive parser) reads no deeper than
        // the limit, whether or not the parse then succeeds.
        if onebot_host::json::too_deep(body, MAX_DEPTH).is_none()
            && let Ok(text) = std::str::from_utf8(body)
        {
            let reached = depth::json5_depth(text);
            assert!(
                reached <= MAX_DEPTH,
                "json5 recursed {reached} levels deep past the guard"
            );
        }
        if let Ok(map) = decode_json(body) {
            let depth = 1 + map.values().map(depth).max().unwrap_or(0);
            assert!(depth <= MAX_DEPTH, "accepted {depth} levels");
        }
    });
});

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
