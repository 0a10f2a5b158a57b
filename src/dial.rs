//! Dialling a WebSocket server: the host's `websocketClients` entries (SPEC RW1) and the
//! gateway's upstream (G1) both connect here, so the user agent, the bearer token (marked
//! sensitive, never logged: H6b) and the time limit are written once.

use std::time::Duration;

use axum::http::HeaderValue;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// What the host calls itself when it dials.
pub const USER_AGENT: &str = concat!("onebot-host/", env!("CARGO_PKG_VERSION"));
/// How long one dial (TCP connect and WebSocket handshake) may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// A dialled connection.
pub type Dialled = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Why a dial failed; the reason in the outage's WARN line. Never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("{0}")]
    WebSocket(#[from] tungstenite::Error),
    #[error("no answer within {} s", DIAL_TIMEOUT.as_secs())]
    Timeout,
    #[error("the token cannot be sent in a header (control characters?): fix `token`")]
    BadToken,
}

/// One dial of `url`: TCP connect and the handshake with the user agent, `headers`, and
/// `token` (when not empty) as a bearer header, within [`DIAL_TIMEOUT`]; frames bounded by
/// `config` when given.
pub async fn dial(
    url: &str,
    token: &str,
    headers: &[(&'static str, HeaderValue)],
    config: Option<WebSocketConfig>,
) -> Result<Dialled, DialError> {
    let mut request = url.into_client_request()?;
    let sent = request.headers_mut();
    for (name, value) in headers {
        sent.insert(*name, value.clone());
    }
    sent.insert("user-agent", HeaderValue::from_static(USER_AGENT));
    if !token.is_empty() {
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| DialError::BadToken)?;
        bearer.set_sensitive(true);
        sent.insert("authorization", bearer);
    }
    let connect = tokio_tungstenite::connect_async_with_config(request, config, true);
    let (socket, _response) = tokio::time::timeout(DIAL_TIMEOUT, connect)
        .await
        .map_err(|_| DialError::Timeout)??;
    Ok(socket)
}
