//! Dialling a WebSocket server: the host's `websocketClients` entries (SPEC RW1) and the
//! gateway's upstream (G1) both connect here, so the user agent, the bearer token (marked
//! sensitive, never logged: H6b) and the time limit are written once; so is what keeping a
//! connection up means ([`Redial`]): a dial gives way to the host stopping, and an outage is
//! one WARN, not one per failed dial (RW3, G2).

use std::time::Duration;

use axum::http::HeaderValue;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::config::{RemoteUrl, Secret};

/// What the host calls itself when it dials.
pub(crate) const USER_AGENT: &str = concat!("onebot-host/", env!("CARGO_PKG_VERSION"));
/// How long one dial (TCP connect and WebSocket handshake) may take.
pub(crate) const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// A dialled connection.
pub(crate) type Dialled = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Why a dial failed; the reason in the outage's WARN line. Never holds the token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DialError {
    #[error("{0}")]
    WebSocket(#[from] tungstenite::Error),
    #[error("no answer within {} s", DIAL_TIMEOUT.as_secs())]
    Timeout,
    #[error("the token cannot be sent in a header (control characters?): fix `token`")]
    BadToken,
}

/// One dial of `url`: TCP connect and the handshake with the user agent, `headers`, and
/// `token` (when not empty) as a bearer header, within [`DIAL_TIMEOUT`]; frames bounded by
/// `config` when given. The token is read here and nowhere else on the way.
pub(crate) async fn dial(
    url: &RemoteUrl,
    token: &Secret,
    headers: &[(&'static str, HeaderValue)],
    config: Option<WebSocketConfig>,
) -> Result<Dialled, DialError> {
    let mut request = url.as_str().into_client_request()?;
    let sent = request.headers_mut();
    for (name, value) in headers {
        sent.insert(*name, value.clone());
    }
    sent.insert("user-agent", HeaderValue::from_static(USER_AGENT));
    if !token.is_empty() {
        let bearer = format!("Bearer {}", token.expose());
        let mut bearer = HeaderValue::from_str(&bearer).map_err(|_| DialError::BadToken)?;
        bearer.set_sensitive(true);
        sent.insert("authorization", bearer);
    }
    let connect = tokio_tungstenite::connect_async_with_config(request, config, true);
    let (socket, _response) = tokio::time::timeout(DIAL_TIMEOUT, connect)
        .await
        .map_err(|_| DialError::Timeout)??;
    Ok(socket)
}

/// The bookkeeping of one connection the host keeps up, shared by `websocketClients` and the
/// upstream: each caller still decides how long to wait between dials and what to log.
pub(crate) struct Redial {
    stop: watch::Receiver<bool>,
    /// Whether the outage going on (if any) has been reported.
    in_outage: bool,
}

impl Redial {
    /// Until `stop` turns `true`.
    pub(crate) fn new(stop: watch::Receiver<bool>) -> Self {
        Self {
            stop,
            in_outage: false,
        }
    }

    /// Runs `dial`, or gives it up when the host stops first (`None`).
    pub(crate) async fn dial<T>(&mut self, dial: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.stop.wait_for(|stop| *stop) => None,
            dialled = dial => Some(dialled),
        }
    }

    /// A connection is up: `true` when it ends an outage ("connected again").
    pub(crate) fn connected(&mut self) -> bool {
        std::mem::take(&mut self.in_outage)
    }

    /// A dial failed or a connection ended: `true` when this starts an outage, the one failure
    /// of it worth a WARN (the rest are logged at debug).
    pub(crate) fn failed(&mut self) -> bool {
        !std::mem::replace(&mut self.in_outage, true)
    }

    /// Waits `gap` before the next dial: `false` when the host stops meanwhile.
    pub(crate) async fn pause(&mut self, gap: Duration) -> bool {
        tokio::select! {
            biased;
            _ = self.stop.wait_for(|stop| *stop) => false,
            () = tokio::time::sleep(gap) => true,
        }
    }

    /// The host's stop signal, for serving a connection until it ends or the host stops.
    pub(crate) fn stop(&mut self) -> &mut watch::Receiver<bool> {
        &mut self.stop
    }
}
