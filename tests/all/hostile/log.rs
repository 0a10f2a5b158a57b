//! The host's log, as the tests see it: a `tracing` subscriber installed once for the whole test
//! binary that writes every line (INFO and up, no colours) into memory, where a test waits for
//! the line it expects. Lines from every test land here; each hostile test names its plugin
//! uniquely and looks only for lines that name it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How much log text is kept; past this, lines are dropped (a runaway test must not eat RAM).
const MAX_BYTES: usize = 64 << 20;
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

/// One `write` of the subscriber: `tracing-subscriber` formats an event into a buffer and hands
/// it over in one piece, so lines from concurrent threads do not interleave.
struct Sink(Log);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut text = self.0.lock();
        if text.len() + bytes.len() <= MAX_BYTES {
            text.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured log, installing the subscriber on first use.
pub fn captured() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("nothing else in the test binary installs a global subscriber");
        log
    })
}

impl Log {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The first line holding every one of `needles`, if any.
    pub fn find(&self, needles: &[&str]) -> Option<String> {
        let text = self.lock();
        String::from_utf8_lossy(&text)
            .lines()
            .find(|line| needles.iter().all(|n| line.contains(n)))
            .map(str::to_owned)
    }

    /// Waits for a line holding every one of `needles`; fails the test after [`PATIENCE`].
    pub async fn wait_for(&self, needles: &[&str]) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.find(needles) {
                return line;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "no log line with all of {needles:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
