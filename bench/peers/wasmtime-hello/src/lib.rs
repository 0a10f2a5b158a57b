//! The `wasmtime serve` peer of bench/run (issue 13): a wasi:http proxy component that answers
//! `POST /send_private_msg` the way mock-account does inside the host — the token checked,
//! the JSON body read into a tree, `user_id` and `message` checked, a message id made from the
//! clock, a per-instance counter and the message, and the OneBot envelope written
//! (`{"status":"ok","retcode":0,"data":{"message_id":N},"message":"","wording":"","echo":…}`).
//! It stands for "a WebAssembly component served by wasmtime's own HTTP server, with no OneBot
//! host around it": the same guest work, without plugin dispatch, events or logging.
//!
//! The token is read from the environment (`TOKEN`; unset or empty: no check), so it needs
//! wasi:cli/environment beside the proxy world:
//!
//! ```sh
//! wasmtime serve -S cli=y --env TOKEN=bench-token --addr 127.0.0.1:8080 wasmtime_hello.wasm
//! ```

use std::io::{Read, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Hello);

/// Bodies larger than this are refused (the host's default limit).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let (status, body) = answer(&request);
        respond(response_out, status, &body);
    }
}

/// The HTTP status and the envelope for one request.
fn answer(request: &IncomingRequest) -> (u16, Vec<u8>) {
    if !authorized(request) {
        return (401, envelope(1403, None, "token verify failed", None));
    }
    let path = request.path_with_query().unwrap_or_default();
    let action = path.split('?').next().unwrap_or("").trim_start_matches('/');
    if !matches!(request.method(), Method::Post) {
        return (405, envelope(1400, None, "only POST is served", None));
    }
    let bytes = match read_body(request) {
        Ok(bytes) => bytes,
        Err((status, message)) => return (status, envelope(1400, None, message, None)),
    };
    let mut params = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => map,
        Ok(Value::Null) => Map::new(),
        Ok(_) => {
            return (
                400,
                envelope(1400, None, "params must be a JSON object", None),
            );
        }
        Err(_) => return (400, envelope(1400, None, "body is not JSON", None)),
    };
    let echo = params.remove("echo");
    match action {
        "send_private_msg" => match send_private_msg(&params) {
            Ok(message_id) => {
                let data = format!("{{\"message_id\":{message_id}}}");
                (200, envelope(0, Some(&data), "", echo.as_ref()))
            }
            Err(message) => (200, envelope(1400, None, &message, echo.as_ref())),
        },
        _ => (404, envelope(1404, None, "unknown action", echo.as_ref())),
    }
}

/// `Authorization: Bearer TOKEN` against $TOKEN, compared without stopping at the first
/// difference.
fn authorized(request: &IncomingRequest) -> bool {
    let token = std::env::var("TOKEN").unwrap_or_default();
    if token.is_empty() {
        return true;
    }
    let expected = format!("Bearer {token}");
    request
        .headers()
        .get("authorization")
        .iter()
        .any(|given| same(given, expected.as_bytes()))
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, (u16, &'static str)> {
    let body = request.consume().map_err(|()| (400, "no body"))?;
    let mut bytes = Vec::new();
    {
        let mut stream = body.stream().map_err(|()| (400, "no body stream"))?;
        stream
            .by_ref()
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| (400, "the body could not be read"))?;
    }
    drop(IncomingBody::finish(body));
    if bytes.len() > MAX_BODY_BYTES {
        return Err((413, "body too large"));
    }
    Ok(bytes)
}

/// mock-account's checks: `user_id` a positive integer (number or numeric string), `message`
/// a non-empty string or array of segments. Answers the new message's id.
fn send_private_msg(params: &Map<String, Value>) -> Result<i32, String> {
    let user_id = match params.get("user_id").filter(|v| !v.is_null()) {
        None => return Err("send_private_msg: missing param `user_id` (integer)".into()),
        Some(v) => match as_integer(v) {
            Some(id) if id > 0 => id,
            _ => {
                return Err(format!(
                    "send_private_msg: param `user_id` must be a positive integer, got {v}"
                ));
            }
        },
    };
    let preview = match params.get("message").filter(|v| !v.is_null()) {
        None => return Err("send_private_msg: missing param `message`".into()),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(v @ Value::Array(segments)) if !segments.is_empty() => v.to_string(),
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(v) => {
            return Err(format!(
                "send_private_msg: param `message` must be a non-empty string or array of segments, got {v}"
            ));
        }
    };
    Ok(new_message_id(&format!(
        "send_private_msg to user {user_id}: {preview}"
    )))
}

fn as_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// mock-account's `new_message_id`: FNV-1a of the line, the clock's nanoseconds and a count of
/// this instance's calls, through splitmix64's finaliser; 1 ..= i32::MAX.
fn new_message_id(line: &str) -> i32 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in line.bytes() {
        h = (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    h ^= nanos ^ CALLS.fetch_add(1, Ordering::Relaxed).rotate_left(40);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let id = h % (i32::MAX as u64) + 1;
    i32::try_from(id).unwrap_or(i32::MAX)
}

/// The OneBot 11 envelope, in the key order the host writes.
fn envelope(retcode: i32, data: Option<&str>, message: &str, echo: Option<&Value>) -> Vec<u8> {
    let message = Value::String(message.to_owned()).to_string();
    let echo = echo.map_or_else(|| "null".to_owned(), Value::to_string);
    format!(
        "{{\"status\":\"{}\",\"retcode\":{retcode},\"data\":{},\"message\":{message},\"wording\":{message},\"echo\":{echo}}}",
        if retcode == 0 { "ok" } else { "failed" },
        data.unwrap_or("null"),
    )
    .into_bytes()
}

fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::from_list(&[
        ("content-type".to_owned(), b"application/json".to_vec()),
        (
            "content-length".to_owned(),
            body.len().to_string().into_bytes(),
        ),
    ])
    .expect("valid headers");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the body, taken once");
    ResponseOutparam::set(out, Ok(response));
    {
        let mut stream = outgoing.write().expect("the stream, taken once");
        // A write error here means the client went away; nothing is left to tell it.
        let _ = stream
            .write_all(body)
            .and_then(|()| std::io::Write::flush(&mut stream));
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
