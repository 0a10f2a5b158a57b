//! The bot side of a reverse WebSocket: a real WebSocket server (tokio-tungstenite) on a free
//! port that the host dials. Each accepted connection comes out of [`Bot::next_connection`]
//! with the handshake's path and headers; its socket has the test client's type, so the
//! helpers of `ws::client` (`next_json`, `call`, `next_event`, …) read and write it.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderMap;

use crate::ws::client::{Client, WAIT};

/// One connection the host made.
pub struct Connection {
    pub path: String,
    pub headers: HeaderMap,
    pub socket: Client,
}

impl Connection {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Bot {
    pub addr: SocketAddr,
    connections: mpsc::UnboundedReceiver<Connection>,
}

impl Bot {
    /// A bot that accepts every handshake.
    pub async fn listen() -> Bot {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Bot::serve(listener)
    }

    /// A bot on a chosen port of 127.0.0.1.
    pub async fn listen_on(port: u16) -> Bot {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        Bot::serve(listener)
    }

    /// A bot whose sockets have a 4 KiB receive buffer: one that never reads falls behind
    /// after a few KiB instead of the few MiB the kernel would otherwise buffer on loopback.
    pub async fn listen_with_small_buffer() -> Bot {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("rcvbuf");
        socket
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        Bot::serve(socket.listen(16).expect("listen"))
    }

    fn serve(listener: TcpListener) -> Bot {
        let addr = listener.local_addr().expect("addr");
        let (found, connections) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let found = found.clone();
                tokio::spawn(async move {
                    let mut seen = None;
                    // The error type is tungstenite's, fixed by its callback trait.
                    #[allow(clippy::result_large_err)]
                    let callback = |request: &Request, response: Response| {
                        seen = Some((request.uri().to_string(), request.headers().clone()));
                        Ok(response)
                    };
                    let stream = MaybeTlsStream::Plain(stream);
                    let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await
                    else {
                        return;
                    };
                    if let Some((path, headers)) = seen {
                        let _ = found.send(Connection {
                            path,
                            headers,
                            socket,
                        });
                    }
                });
            }
        });
        Bot { addr, connections }
    }

    /// `ws://` URL of this bot at `path`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The next connection the host makes; fails the test after [`WAIT`].
    pub async fn next_connection(&mut self) -> Connection {
        tokio::time::timeout(WAIT, self.connections.recv())
            .await
            .expect("the host connects in time")
            .expect("the bot is listening")
    }
}
