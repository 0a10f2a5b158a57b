//! Serving one listener: the accept loop and each connection's HTTP/1.1 limits (issue 7).
//!
//! hyper serves each connection directly (not through `axum::serve`) because the defences
//! against a client that holds a connection without finishing a request live in its
//! connection builder:
//!
//! - **Headers**: a request head must arrive within `headerTimeoutMs` of the connection opening
//!   or of the previous reply, or the connection is closed. This one timer covers both a
//!   trickled head (slowloris) and an idle keep-alive connection. It is [`Idle`], one timer
//!   per connection re-armed lazily, rather than hyper's `header_read_timeout`, which boxes
//!   and registers a fresh timer for every request (about 1.5 k instructions a request).
//! - **Header size**: a head above [`MAX_HEADER_BYTES`] is answered 431 and the connection
//!   closed. The body's own size and time limits are the handler's (`super::read_body`).
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
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::UPGRADE;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::config::HttpServer;

/// The largest request head (request line and headers) accepted: far above what any OneBot
/// client sends (a long GET query included), far below what would let a client make the
/// host buffer much per connection. nginx allows 4 × 8 KiB by default, Node.js 16 KiB.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long the accept loop waits after running out of file descriptors before trying
/// again: long enough not to spin, short enough that clients hardly notice.
pub const FULL_PAUSE: Duration = Duration::from_millis(100);
/// While descriptors stay exhausted, the warning is repeated at most this often.
pub const FULL_LOG_EVERY: Duration = Duration::from_secs(60);

/// The open-file limit at start, after [`raise_fd_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdLimit {
    pub before: u64,
    pub now: u64,
    pub hard: u64,
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
pub async fn serve(
    listener: TcpListener,
    app: Router,
    server: &HttpServer,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    builder.max_header_size(MAX_HEADER_BYTES);
    let header_timeout = Duration::from_millis(server.header_timeout_ms);
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
            header_timeout,
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

/// One connection: hyper with the builder's limits, upgrades allowed (WebSocket), the
/// header timeout ([`Idle`]), and the peer's address passed to upgrade requests as axum's
/// `ConnectInfo` (it names WebSocket clients in the log, W6).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: http1::Builder,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) {
    let idle = Arc::new(Idle::new());
    let activity = idle.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // Only a WebSocket handshake reads the peer (an upgrade always has this header);
        // skipping the insert spares every plain call an allocation.
        if request.headers().contains_key(UPGRADE) {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let app = app.clone();
        let busy = Busy::enter(activity.clone());
        async move {
            let response = app.oneshot(request).await.unwrap_or_else(|e| match e {});
            drop(busy);
            Ok::<_, Infallible>(response)
        }
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let expired = idle.expired(header_timeout);
    tokio::pin!(expired);
    let stopping = async move {
        // The `Ref` it returns must not live across an await (it is not `Send`).
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = expired.as_mut() => {
            tracing::debug!(%peer, "connection closed: no request head within headerTimeoutMs");
            return;
        }
        () = stopping => {
            connection.as_mut().graceful_shutdown();
            // A head still trickling in does not hold the stop up past its timeout.
            tokio::select! {
                result = connection.as_mut() => result,
                () = expired.as_mut() => return,
            }
        }
    };
    // Resets and malformed requests end here; they concern one client only.
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

/// The header timeout of one connection: a request head must arrive within the timeout of
/// the connection opening or of the previous reply. Requests only mark themselves busy and
/// note when they finished (two atomic counts and a clock reading); the timer is one sleep
/// per connection that, when it wakes, works out from those marks whether the connection is
/// really idle past its deadline or when to look again.
struct Idle {
    opened: Instant,
    /// Requests being served now (hyper serves one at a time; a count is simply robust).
    busy: AtomicU32,
    /// When the last request finished, in nanoseconds after `opened`; 0 before the first.
    finished: AtomicU64,
}

impl Idle {
    fn new() -> Self {
        Idle {
            opened: Instant::now(),
            busy: AtomicU32::new(0),
            finished: AtomicU64::new(0),
        }
    }

    /// Resolves when the connection has been idle (no request being served) for `timeout`
    /// since it opened or since its last request finished.
    async fn expired(&self, timeout: Duration) {
        let mut due = self.opened + timeout;
        loop {
            tokio::time::sleep_until(due.into()).await;
            if self.busy.load(Ordering::Acquire) > 0 {
                // A request ends after now, so its deadline is later than this one.
                due = Instant::now() + timeout;
                continue;
            }
            let finished =
                self.opened + Duration::from_nanos(self.finished.load(Ordering::Acquire));
            due = finished + timeout;
            if due <= Instant::now() {
                return;
            }
        }
    }
}

/// A request being served; dropping it (the reply is ready, or the request was cancelled)
/// records when it finished.
struct Busy(Arc<Idle>);

impl Busy {
    fn enter(idle: Arc<Idle>) -> Self {
        idle.busy.fetch_add(1, Ordering::AcqRel);
        Busy(idle)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let since = u64::try_from(self.0.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0.finished.fetch_max(since, Ordering::AcqRel);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
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

    /// The header timeout counts from the connection opening or the last request finishing,
    /// never while a request is being served.
    #[tokio::test]
    async fn idle_expires_only_when_no_request_is_served_for_the_timeout() {
        let timeout = Duration::from_millis(60);
        let idle = Arc::new(Idle::new());
        let started = Instant::now();
        idle.expired(timeout).await;
        let waited = started.elapsed();
        assert!(
            waited >= timeout - Duration::from_millis(2),
            "not before: {waited:?}"
        );

        let idle = Arc::new(Idle::new());
        let busy = Busy::enter(idle.clone());
        let early = tokio::time::timeout(3 * timeout, idle.expired(timeout)).await;
        assert!(
            early.is_err(),
            "a request being served holds the connection open"
        );
        drop(busy);
        let finished = Instant::now();
        idle.expired(timeout).await;
        let after = finished.elapsed();
        assert!(after >= timeout - Duration::from_millis(2), "{after:?}");
        assert!(
            after < 2 * timeout,
            "counted from the request's end: {after:?}"
        );
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let limit = raise_fd_limit().expect("readable on this platform");
        assert!(limit.now >= limit.before);
        assert!(limit.now <= limit.hard);
    }
}
