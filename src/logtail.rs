//! The last log lines, kept for the dashboard's log page (SPEC D5): a `tracing` layer that
//! copies each record the log writes into a ring of [`CAPACITY`] lines, each numbered so that
//! a page can ask for what came after the last line it has.
//!
//! It sees exactly what the log prints: `main` adds it behind the same filters (`RUST_LOG`,
//! and the records that may carry secrets, H6b), so nothing reaches the page that the log
//! would not show. The ring is bounded in lines and each line in bytes ([`MAX_LINE_BYTES`]),
//! so a plugin that logs without end costs it a fixed amount of memory. As in the log (S3),
//! control characters are escaped, so one record is one line on the page too.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::sync;

/// Lines kept.
pub(crate) const CAPACITY: usize = 1000;
/// The longest line kept, in bytes; longer ones are cut (at a character boundary).
pub(crate) const MAX_LINE_BYTES: usize = 2048;

/// One log record as the page shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Line {
    /// Increases by one with every line since the host started.
    pub(crate) seq: u64,
    /// Unix milliseconds.
    pub(crate) time_ms: u64,
    pub(crate) level: &'static str,
    pub(crate) target: String,
    /// The message and the record's other fields, `key=value`.
    pub(crate) text: String,
}

#[derive(Default)]
struct Ring {
    lines: VecDeque<Line>,
    next: u64,
}

/// The ring, shared by the layer that fills it and the dashboard that reads it.
#[derive(Clone, Default)]
pub struct LogTail(Arc<Mutex<Ring>>);

impl LogTail {
    /// An empty tail.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines after `after` (a `seq`; `None` for all kept) at `min` level or more severe,
    /// oldest first, at most `limit`: the newest ones when more match.
    pub(crate) fn lines(&self, after: Option<u64>, min: Level, limit: usize) -> Vec<Line> {
        let ring = sync::lock(&self.0);
        let matching: Vec<&Line> = ring
            .lines
            .iter()
            .filter(|l| after.is_none_or(|after| l.seq > after))
            .filter(|l| level_of(l.level) <= min)
            .collect();
        let skip = matching.len().saturating_sub(limit);
        matching.into_iter().skip(skip).cloned().collect()
    }

    /// The `seq` the next line will get: a page with nothing yet asks for lines after it - 1.
    pub(crate) fn next_seq(&self) -> u64 {
        sync::lock(&self.0).next
    }

    fn push(&self, level: &'static str, target: &str, text: String) {
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut ring = sync::lock(&self.0);
        let seq = ring.next;
        ring.next += 1;
        if ring.lines.len() == CAPACITY {
            ring.lines.pop_front();
        }
        ring.lines.push_back(Line {
            seq,
            time_ms,
            level,
            target: target.to_owned(),
            text,
        });
    }
}

/// `"error"` … `"trace"` (as the page and `RUST_LOG` spell them) → the level.
pub(crate) fn parse_level(name: &str) -> Option<Level> {
    name.parse().ok()
}

fn level_of(name: &str) -> Level {
    parse_level(name).unwrap_or(Level::TRACE)
}

fn name_of(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl<S: Subscriber> Layer<S> for LogTail {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        let mut raw = text.message;
        if !text.fields.is_empty() {
            if !raw.is_empty() {
                raw.push(' ');
            }
            raw.push_str(&text.fields);
        }
        let mut line = String::with_capacity(raw.len());
        for c in raw.chars() {
            // S3's set: C0, DEL and C1 (`is_control`), and the Unicode line separators.
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                line.extend(c.escape_debug());
            } else {
                line.push(c);
            }
        }
        if line.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        let meta = event.metadata();
        self.push(name_of(*meta.level()), meta.target(), line);
    }
}

/// A record's message, and its other fields as `key=value` pairs.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.pair(field, format_args!("{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.pair(field, format_args!("{value:?}"));
        }
    }
}

impl Text {
    fn pair(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{}={value}", field.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn d5_the_tail_keeps_the_last_lines_in_order_with_levels_and_fields() {
        let tail = LogTail::new();
        let subscriber = tracing_subscriber::registry().with(tail.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(plugin = "demo", "hello {}", 1);
            tracing::warn!("careful");
            for i in 0..CAPACITY {
                tracing::debug!("filler {i}");
            }
            tracing::error!("{}", "x".repeat(MAX_LINE_BYTES * 2));
        });
        let all = tail.lines(None, Level::TRACE, usize::MAX);
        assert_eq!(all.len(), CAPACITY, "bounded");
        assert_eq!(all.last().map(|l| l.level), Some("error"));
        assert!(
            all.last()
                .is_some_and(|l| l.text.len() <= MAX_LINE_BYTES + 3)
        );
        assert_eq!(tail.next_seq(), CAPACITY as u64 + 3);
        let warnings = tail.lines(None, Level::WARN, 10);
        assert_eq!(warnings.len(), 1, "the info and warn lines were pushed out");
        let after = tail.lines(Some(all[all.len() - 2].seq), Level::TRACE, 10);
        assert_eq!(after.len(), 1);
        let fresh = LogTail::new();
        let subscriber = tracing_subscriber::registry().with(fresh.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(plugin = "demo", "hello {}", 1);
            tracing::info!("a\nINFO forged\u{1b}[2J\u{2028}");
        });
        let lines = fresh.lines(None, Level::INFO, 2);
        assert_eq!(lines[0].text, "hello 1 plugin=demo");
        assert_eq!(lines[0].level, "info");
        assert_eq!(
            lines[1].text, r"a\nINFO forged\u{1b}[2J\u{2028}",
            "S3: one record, one line"
        );
    }
}
