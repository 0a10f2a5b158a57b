//! The load benchmark's ceiling (`bench/run`, row `baseline`): an axum app that does only what
//! the host does before dispatch — token check, body read and decode, envelope — with the
//! crate's own functions, and answers every POST with one constant `data`. The host can only
//! be slower than this; `bench/run` reports each host row as a ratio to it.
//!
//! Run: `cargo run --release --example bench-baseline -- PORT [TOKEN]` (port 0: any free port;
//! the bound address is printed as the host logs it, `listening on http://ADDR`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use onebot_host::auth::Token;
use onebot_host::config::Secret;
use onebot_host::envelope::{Envelope, Outcome, Refusal};
use onebot_host::http::{action_name, decode_parts, read_body};
use serde_json::{Value, json};

/// The host's defaults for the settings its pre-dispatch steps read.
struct Settings {
    token: Token,
    max_body_bytes: u64,
    /// What every call answers: the shape of mock-account's `send_private_msg`.
    data: Value,
}

/// `handle` in src/http/mod.rs up to the dispatcher call, then a constant answer.
async fn handle(State(settings): State<Arc<Settings>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let action = action_name(parts.uri.path()).to_owned();
    let query = parts.uri.query();
    if settings.token.check(&parts.headers, query).is_err() {
        return Refusal::Token.into_response();
    }
    let bytes = match read_body(body, &parts.headers, settings.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal.into_response(),
    };
    let decoded = match decode_parts(&parts, &bytes) {
        Ok(decoded) => decoded,
        Err(e) => return Refusal::BadRequest(e.to_string()).into_response(),
    };
    // The host moves the action and params into an `ActionRequest` here; keep them alive
    // as far as that so the work is not optimised away.
    std::hint::black_box((action, decoded.params));
    Envelope::new(Outcome::Data(settings.data.clone()), decoded.echo).into_response()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let port = match args.next().map(|p| p.parse::<u16>()) {
        Some(Ok(port)) => port,
        _ => {
            eprintln!("usage: bench-baseline PORT [TOKEN]");
            return ExitCode::from(2);
        }
    };
    let settings = Arc::new(Settings {
        token: Token::new(&Secret::from(args.next().unwrap_or_default())),
        max_body_bytes: 16 * 1024 * 1024,
        data: json!({ "message_id": 1_298_810_323 }),
    });
    // The same runtime as the host's `main`: multi-threaded, one worker per available core.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        let app = Router::new()
            .route("/{*action}", post(handle))
            .with_state(settings);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
