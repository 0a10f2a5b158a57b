//! Serving one listener: the accept loop and each connection's HTTP/1.1 limits (issue 7).
//!
//! hyper serves each connection directly (not through `axum::serve`) because the defences
//! against a client that holds a connection without finishing a request live in its
//! connection builder:
//!
//! - **Headers**: a request head must arrive within `headerTimeoutMs` of the connection opening
//!   or of the previous reply; hyper then closes the connection. This one timer covers both a
//!   trickled head (slowloris) and an idle keep-alive connection.
//! - **Header size**: a head above [`MAX_HEADER_BYTES`] is answered 431 and the connection
//!   closed. The body's own size and time limits are the handler's (`crate::http::read_in_time`).
//! - **Open files**: every connection holds a file descriptor. [`raise_fd_limit`] lifts the
//!   soft limit to the hard one at start; when `accept` still fails for want of descriptors
//!   (`EMFILE`/`ENFILE`), the loop logs it once (not once per attempt), pauses
//!   [`FULL_PAUSE`] so it does not spin on a listener that stays readable, and carries on:
//!   the waiting clients are accepted as soon as other connections close.
//!
//! Graceful stop: the loop stops accepting when the host's stop signal turns `true`, every
//! connection finishes the request it is serving and closes, and [`serve`] returns once all
//! have. A WebSocket leaves hyper at its upgrade and watches the same signal itself (1001).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::UPGRADE;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::config::Listener;

/// The largest request head (request line and headers) accepted: far above what any OneBot
/// client sends (a long GET query included), far below what would let a client make the
/// host buffer much per connection. nginx allows 4 × 8 KiB by default, Node.js 16 KiB.
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long the accept loop waits after running out of file descriptors before trying
/// again: long enough not to spin, short enough that clients hardly notice.
pub(crate) const FULL_PAUSE: Duration = Duration::from_millis(100);
/// While descriptors stay exhausted, the warning is repeated at most this often.
pub(crate) const FULL_LOG_EVERY: Duration = Duration::from_secs(60);

/// The open-file limit at start, after [`raise_fd_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdLimit {
    pub(crate) before: u64,
    pub(crate) now: u64,
    pub(crate) hard: u64,
}

/// Raises this process's soft limit on open files to its hard limit (each connection holds
/// one) and logs the result; a limit that stays low is a warning naming the fix.
pub fn raise_fd_limit() -> Option<FdLimit> {
    let (before, hard) = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!("cannot read the open-file limit: {e}");
            return None;
        }
    };
    let now = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => now,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit from {before}: {e}");
            before
        }
    };
    if now < 4096 {
        tracing::warn!(
            "open-file limit is {now} (hard limit {hard}): at most about {now} connections at once; \
             raise it with `ulimit -n` (or LimitNOFILE= in a systemd unit)"
        );
    } else if now != before {
        tracing::info!("open-file limit raised from {before} to {now}");
    } else {
        tracing::debug!("open-file limit is {now}");
    }
    Some(FdLimit { before, now, hard })
}

/// Serves `app` on `listener` until `stop` turns `true`, then lets open connections finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    server: &Listener,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(server.header_timeout_ms))
        .max_header_size(MAX_HEADER_BYTES);
    // Every connection holds a receiver; `closed()` below resolves when the last is dropped.
    let (open_tx, open_rx) = watch::channel(());
    let mut exhausted = Exhausted::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                if let Some(pause) = exhausted.failed(&e, &server.name) {
                    tokio::select! {
                        _ = stop.wait_for(|stop| *stop) => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                continue;
            }
        };
        exhausted.recovered(&server.name);
        let connection = connection(
            stream,
            peer,
            app.clone(),
            builder.clone(),
            stop.clone(),
            open_rx.clone(),
        );
        tokio::spawn(connection);
    }
    drop(listener);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// One connection: hyper with the builder's limits, upgrades allowed (WebSocket), and the
/// peer's address passed to upgrade requests as axum's `ConnectInfo` (it names WebSocket
/// clients in the log, W6) and to `_rate_limited` calls (whose turns go by client, E5a).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: http1::Builder,
    mut stop: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // Only a WebSocket handshake and a `_rate_limited` call read the peer (an upgrade
        // always has this header); skipping the insert spares every plain call an allocation.
        if request.headers().contains_key(UPGRADE) || request.uri().path().contains("_rate_limited")
        {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.oneshot(request).await.unwrap_or_else(|e| match e {})) }
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let stopping = async move {
        // The `Ref` it returns must not live across an await (it is not `Send`).
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopping => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    // Timeouts, resets and malformed requests end here; they concern one client only.
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

/// Whether `accept` is failing for want of file descriptors, and what has been logged.
#[derive(Default)]
struct Exhausted {
    /// When the current episode began, and when it was last logged.
    since: Option<(Instant, Instant)>,
    refused: u64,
}

impl Exhausted {
    /// Handles a failed `accept`: returns how long to pause before the next one, if at all.
    fn failed(&mut self, error: &io::Error, server: &str) -> Option<Duration> {
        if is_per_connection(error) {
            // The client gave up between connecting and being accepted; nothing to wait for.
            return None;
        }
        self.refused += 1;
        let now = Instant::now();
        let due = match self.since {
            None => true,
            Some((_, logged)) => now.duration_since(logged) >= FULL_LOG_EVERY,
        };
        if due {
            let started = self.since.map_or(now, |(started, _)| started);
            self.since = Some((started, now));
            if is_out_of_files(error) {
                let limit = rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .map_or_else(|_| "unknown".to_owned(), |(soft, _)| soft.to_string());
                tracing::warn!(
                    server = %server,
                    "cannot accept connections: out of file descriptors ({error}; open-file \
                     limit {limit}). New clients wait until connections close; raise the limit \
                     with `ulimit -n` (or LimitNOFILE= in a systemd unit)"
                );
            } else {
                tracing::warn!(server = %server, "cannot accept connections: {error}; retrying");
            }
        } else {
            tracing::debug!(server = %server, "accept failed again: {error}");
        }
        Some(FULL_PAUSE)
    }

    /// An accept succeeded: ends an episode of failures, saying so once.
    fn recovered(&mut self, server: &str) {
        if let Some((started, _)) = self.since.take() {
            tracing::info!(
                server = %server,
                "accepting connections again after {:.1} s ({} attempts refused)",
                started.elapsed().as_secs_f64(),
                self.refused
            );
            self.refused = 0;
        }
    }
}

/// `EMFILE` (this process) or `ENFILE` (the whole system).
fn is_out_of_files(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Errors about the one connection being accepted, not the listener.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_files_pauses_and_a_success_ends_the_episode() {
        let mut exhausted = Exhausted::default();
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(exhausted.failed(&emfile, "s"), Some(FULL_PAUSE));
        let first = exhausted.since.expect("episode started");
        assert_eq!(exhausted.failed(&emfile, "s"), Some(FULL_PAUSE));
        assert_eq!(
            exhausted.since,
            Some(first),
            "not logged again within a minute"
        );
        assert_eq!(exhausted.refused, 2);
        exhausted.recovered("s");
        assert_eq!((exhausted.since, exhausted.refused), (None, 0));

        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(
            exhausted.failed(&aborted, "s"),
            None,
            "no pause, no episode"
        );
        assert_eq!(exhausted.since, None);
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let limit = raise_fd_limit().expect("readable on this platform");
        assert!(limit.now >= limit.before);
        assert!(limit.now <= limit.hard);
    }
}
