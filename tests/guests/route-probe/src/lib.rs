//! route-probe: webhook routes (SPEC T20–T27) written with the SDK's `route!`, one path each
//! for what the tests check: the request as the plugin saw it, events and action calls from
//! a route, the plugin's own statuses, and the ways a route can fail (trap, loop, memory).

use onebot_plugin::route::{Request, Response};
use onebot_plugin::{Error, Result, Value, call_action, emit_event, json};

fn serve(request: Request) -> Result<Response> {
    // The path as the client sent it: /hooks/<plugin>/<route>…
    let below = request.path.splitn(4, '/').nth(3).unwrap_or("");
    let route = below.split(['/', '?']).next().unwrap_or("");
    match route {
        // The benchmark's route (bench/run triggers): 200 and the shortest body wrk checks.
        "ok" => Ok(Response::json(200, &json!({ "retcode": 0 }))),
        "echo" => Ok(Response::json(
            200,
            &json!({
                "method": request.method,
                "path": request.path,
                "x_test": request.header("x-test"),
                "body": request.text()?,
            }),
        )
        .header("x-route", "echo")),
        "status" => Ok(Response::text(418, "teapot")),
        "emit" => {
            emit_event(&json!({
                "post_type": "notice",
                "notice_type": "route_probe",
                "body": request.text()?,
            }))?;
            Ok(Response::new(204))
        }
        "call" => {
            let answer: Value = call_action(
                "send_group_msg",
                json!({ "group_id": 20001, "message": request.text()? }),
            )?;
            Ok(Response::json(200, &answer))
        }
        "fail" => Err(Error::failed("the route says no")),
        "trap" => panic!("route-probe traps on purpose"),
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "bomb" => {
            let mut held: Vec<Vec<u8>> = Vec::new();
            loop {
                held.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&held);
            }
        }
        "big" => Ok(Response::new(200).body(vec![b'x'; 2 << 20])),
        _ => Ok(Response::text(404, "route-probe: no such path")),
    }
}

fn calls(_: Value) -> Result<Value> {
    Ok(json!({ "route_probe": true }))
}

onebot_plugin::route!(serve);

onebot_plugin::plugin! {
    "route_probe" => calls,
}
