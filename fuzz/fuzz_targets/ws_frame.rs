//! WebSocket API frames (SPEC W4): any bytes (text or binary frame) decode to a call or to a
//! refusal without panicking or overflowing the stack, and agree with the body decoder they
//! share: a frame is a call exactly when it is a JSON5 object with a string `action` and an
//! object (or null, or no) `params`; the echo is kept whenever the frame is an object.
#![no_main]

#[path = "stack.rs"]
mod stack;

use libfuzzer_sys::fuzz_target;
use onebot_host::http::decode_json;
use onebot_host::ws::frame;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    stack::on_small_stack(|| {
        let decoded = frame::decode(data);
        let Ok(object) = decode_json(data) else {
            assert!(
                matches!(decoded, Err((_, None))),
                "not an object: no call, no echo"
            );
            return;
        };
        let is_call = matches!(object.get("action"), Some(Value::String(_)))
            && matches!(
                object.get("params"),
                None | Some(Value::Null | Value::Object(_))
            );
        match decoded {
            Ok(call) => {
                assert!(is_call);
                assert_eq!(
                    Some(&Value::String(call.request.action)),
                    object.get("action")
                );
                assert_eq!(call.echo.as_ref(), object.get("echo"));
            }
            Err((_, echo)) => {
                assert!(!is_call);
                assert_eq!(echo.as_ref(), object.get("echo"));
            }
        }
    });
});
