//! Where log lines go: stderr, written by a thread of its own. It carries the host's lines
//! and the plugins' (SPEC P4's `log` import and captured stdout/stderr); what a line holds
//! (never the token, H6) is decided by whoever logs it, not here.
//!
//! A request thread that logs (a plugin's `log` call, a `debug: true` server's line per call)
//! only appends the formatted line to a shared buffer; the writer thread takes the whole
//! buffer and writes it with one `write` call. Before, every line was a `write` to stderr
//! under stderr's lock on the thread answering the request: mock-account's one info line per
//! send cost about 19 µs of CPU per request under load (the syscall, and the two socket
//! threads waiting for each other on the lock), more than the whole call without it.
//!
//! Each record is written as one line: its control characters are escaped on the way in
//! (`crate::logline`, SPEC S3), so no client or plugin text can forge a line.
//!
//! Nothing is dropped: a writer that falls [`MAX_PENDING`] bytes behind (stderr is a pipe
//! nobody reads) makes loggers wait, as a blocked stderr did before. WARN and ERROR lines
//! are waited for until they are written (with every line before them), so the lines that
//! explain a failure are out before the process can die of it. [`LogWriter::flush`] waits
//! for everything; `main` calls it before it prints its final error and exits.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use onebot_host::sync;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Bytes waiting to be written beyond which loggers wait for the writer.
const MAX_PENDING: usize = 4 << 20;

/// How long the writer lets lines gather after the first one before it writes them.
const BATCH_DELAY: Duration = Duration::from_millis(5);

/// The writer thread and the buffer it drains; flushes and stops it when dropped.
pub(crate) struct LogWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What loggers hand to tracing-subscriber: one per event, appending to the shared buffer.
#[derive(Clone)]
pub(crate) struct Sink {
    shared: Arc<Shared>,
    /// The formatter writes colour codes (stderr is a terminal): keep those, escape the rest.
    ansi: bool,
}

/// One event's writer; `wait` = block until the line is on stderr (WARN and ERROR).
pub(crate) struct Line<'a> {
    shared: &'a Shared,
    wait: bool,
    ansi: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when bytes arrive or the writer should stop.
    work: Condvar,
    /// Signalled after every write, for loggers waiting for room or for their line.
    written: Condvar,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    /// Bytes ever appended, and ever written: a logger waits for `written >= its end`.
    appended: u64,
    written: u64,
    stop: bool,
    /// Someone waits for the lines (a WARN line, a flush): write without gathering.
    urgent: bool,
}

impl LogWriter {
    /// Starts the writer thread. Without it (it cannot be started, or it has stopped) lines
    /// are written on the caller's thread, as before.
    pub(crate) fn start(ansi: bool) -> (LogWriter, Sink) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            written: Condvar::new(),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || worker.run())
            .map_err(|e| {
                shared.lock().stop = true;
                eprintln!("warning: no log writer thread ({e}); logging inline");
            })
            .ok();
        let sink = Sink {
            shared: shared.clone(),
            ansi,
        };
        (LogWriter { shared, thread }, sink)
    }

    /// Waits until every line logged so far is written.
    pub(crate) fn flush(&self) {
        if self.thread.is_some() {
            self.shared.wait_written(None);
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.lock().stop = true;
            self.shared.work.notify_one();
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        sync::lock(&self.state)
    }

    /// The writer thread: take everything pending, write it, repeat; stop when told to and
    /// nothing is left.
    fn run(&self) {
        let mut out = Vec::new();
        loop {
            let mut state = self.lock();
            while state.pending.is_empty() && !state.stop {
                state = sync::wait(&self.work, state);
            }
            if state.pending.is_empty() {
                return;
            }
            // Let a batch gather: under load this turns one wake-up and one write per line
            // into one per BATCH_DELAY. A WARN line, a flush or a stop cuts it short.
            let until = Instant::now() + BATCH_DELAY;
            while !state.stop && !state.urgent {
                let Some(left) = until.checked_duration_since(Instant::now()) else {
                    break;
                };
                state = sync::wait_timeout(&self.work, state, left);
            }
            state.urgent = false;
            std::mem::swap(&mut out, &mut state.pending);
            let end = state.appended;
            drop(state);
            // A failed write (stderr closed) loses the lines, as it did when written inline;
            // it must not stop the host.
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(&out);
            let _ = stderr.flush();
            drop(stderr);
            out.clear();
            if out.capacity() > MAX_PENDING {
                out = Vec::new();
            }
            self.lock().written = end;
            self.written.notify_all();
        }
    }

    /// Appends one formatted event; waits for room first if the writer is far behind.
    fn append(&self, bytes: &[u8], wait: bool) {
        let mut state = self.lock();
        if state.stop {
            // No writer thread: write here, under the lock so lines keep their order.
            let _ = std::io::stderr().write_all(bytes);
            return;
        }
        while state.pending.len() > MAX_PENDING && !state.stop {
            state = sync::wait(&self.written, state);
        }
        if state.stop {
            let _ = std::io::stderr().write_all(bytes);
            return;
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(bytes);
        state.appended += bytes.len() as u64;
        let end = state.appended;
        drop(state);
        if was_empty {
            self.work.notify_one();
        }
        if wait {
            self.wait_written(Some(end));
        }
    }

    /// Waits until the writer has written up to `end` (None: everything appended so far).
    fn wait_written(&self, end: Option<u64>) {
        let mut state = self.lock();
        let end = end.unwrap_or(state.appended);
        if state.written < end {
            state.urgent = true;
            self.work.notify_one();
        }
        while state.written < end && !state.stop {
            state = sync::wait(&self.written, state);
        }
    }
}

impl Write for Line<'_> {
    /// `bytes` is one whole record: tracing-subscriber formats an event into a buffer and
    /// writes it in one call, which is what lets its newlines be told apart from the final one.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let record = crate::logline::escape(bytes, self.ansi);
        self.shared.append(&record, self.wait);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            shared: &self.shared,
            wait: false,
            ansi: self.ansi,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Line {
            shared: &self.shared,
            wait: *meta.level() <= Level::WARN,
            ansi: self.ansi,
        }
    }
}
