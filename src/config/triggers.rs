//! The sidecar's trigger keys, checked at load so a typo is refused with the key to fix:
//! `events` (which post types the plugin's handler sees), `priority` (its place in the chain)
//! and `onError` (what a failure does to the event), SPEC T1–T5; and `schedules` (when the
//! host calls the plugin's schedule handler), T9–T15.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// The post types a handler may name. `*` stands for all of them but `meta_event`, which a
/// handler sees only when it names it (heartbeats would otherwise wake every handler).
pub(crate) const POST_TYPES: [&str; 5] =
    ["message", "message_sent", "notice", "request", "meta_event"];

/// Which events a plugin's handler is called with (T2); empty: it handles none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EventFilter {
    /// The post types named (`*` expanded), in [`POST_TYPES`] order.
    post_types: Vec<&'static str>,
}

impl EventFilter {
    /// Whether a handler with this filter sees an event of `post_type`.
    pub(crate) fn matches(&self, post_type: &str) -> bool {
        self.post_types.contains(&post_type)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.post_types.is_empty()
    }

    /// The post types, as the load log and `GET /` show them.
    pub(crate) fn post_types(&self) -> &[&'static str] {
        &self.post_types
    }
}

/// T4: what a handler's failure (a trap, an error, its deadline) does to the event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum OnError {
    /// The event goes on as it was (fail open; the default).
    #[default]
    Pass,
    /// The event is dropped (fail closed: a filter that must not be bypassed).
    Drop,
}

/// A plugin's event-handler settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handler {
    pub(crate) events: EventFilter,
    /// T3: handlers run in ascending `priority` (default 0), then by plugin name.
    pub(crate) priority: i32,
    pub(crate) on_error: OnError,
}

/// Checks a sidecar's `events`, `priority` and `onError` (`path` names the file in errors).
pub(crate) fn handler(
    path: &Path,
    events: Option<Vec<String>>,
    priority: Option<i64>,
    on_error: Option<String>,
) -> Result<Handler, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    let mut post_types = Vec::new();
    for name in events.unwrap_or_default() {
        let named: Vec<&'static str> = match name.as_str() {
            "*" => POST_TYPES
                .iter()
                .copied()
                .filter(|t| *t != "meta_event")
                .collect(),
            other => match POST_TYPES.iter().find(|t| **t == other) {
                Some(t) => vec![*t],
                None => {
                    return Err(invalid(
                        "events",
                        format!(
                            "unknown post type {other:?}; use any of {} or \"*\"",
                            POST_TYPES.join(", ")
                        ),
                    ));
                }
            },
        };
        post_types.extend(named);
    }
    post_types.sort_by_key(|t| POST_TYPES.iter().position(|p| p == t));
    post_types.dedup();
    let priority = match priority {
        None => 0,
        Some(p) => i32::try_from(p)
            .ok()
            .filter(|p| (-1000..=1000).contains(p))
            .ok_or_else(|| invalid("priority", format!("expected -1000 to 1000, got {p}")))?,
    };
    let on_error = match on_error.as_deref() {
        None | Some("pass") => OnError::Pass,
        Some("drop") => OnError::Drop,
        Some(other) => {
            return Err(invalid(
                "onError",
                format!("expected \"pass\" or \"drop\", got {other:?}"),
            ));
        }
    };
    Ok(Handler {
        events: EventFilter { post_types },
        priority,
        on_error,
    })
}

/// One entry of a sidecar's `schedules` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an object")]
pub(super) struct RawSchedule {
    pub(super) name: String,
    pub(super) every: Option<String>,
    pub(super) cron: Option<String>,
    pub(super) timezone: Option<String>,
    pub(super) timeout_ms: Option<u64>,
}

/// A plugin's schedule (T9): the name its handler is called with, when, and how long a run
/// may take (`None`: the plugin's `timeoutMs`; always capped by `limits.maxScheduleTimeoutMs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub(crate) name: String,
    pub(crate) when: When,
    pub(crate) timeout_ms: Option<u64>,
}

/// When a schedule is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// Every `period`, counted from when the plugin version was loaded.
    Every(Duration),
    /// At each time the cron expression matches, in `timezone` (`UTC` by default).
    Cron {
        text: String,
        cron: Box<croner::Cron>,
        timezone: chrono_tz::Tz,
    },
}

impl When {
    /// How it was written, for the load log and `GET /`.
    pub(crate) fn describe(&self) -> String {
        match self {
            When::Every(period) => format!("every {}", format_period(*period)),
            When::Cron { text, timezone, .. } => format!("cron \"{text}\" {timezone}"),
        }
    }

    /// The first due time strictly after `after` for a cron schedule (`None` for `every`,
    /// which counts from its own last due time, or when the expression never matches again).
    pub(crate) fn next_cron(
        &self,
        after: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            When::Every(_) => None,
            When::Cron { cron, timezone, .. } => cron
                .find_next_occurrence(&after.with_timezone(timezone), false)
                .ok()
                .map(|next| next.with_timezone(&chrono::Utc)),
        }
    }
}

/// The shortest `every` accepted: shorter would be a busy loop more than a schedule.
pub(crate) const MIN_EVERY: Duration = Duration::from_millis(100);
/// The longest `every` accepted (a cron expression says "once a month" better).
pub(crate) const MAX_EVERY: Duration = Duration::from_secs(31 * 24 * 3600);
/// At most this many schedules per plugin.
pub(crate) const MAX_SCHEDULES: usize = 32;

/// Checks a sidecar's `schedules` (T9, T10).
pub(super) fn schedules(path: &Path, raw: Vec<RawSchedule>) -> Result<Vec<Schedule>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key: "schedules".to_owned(),
        message,
    };
    if raw.len() > MAX_SCHEDULES {
        return Err(invalid(format!(
            "at most {MAX_SCHEDULES} schedules, got {}",
            raw.len()
        )));
    }
    let mut out: Vec<Schedule> = Vec::with_capacity(raw.len());
    for entry in raw {
        let name = entry.name;
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(invalid(format!(
                "name {name:?}: give each schedule a name of 1 to 64 letters, digits and `-_.`"
            )));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(invalid(format!("two schedules are named {name:?}")));
        }
        let when = match (entry.every, entry.cron) {
            (Some(every), None) => {
                if entry.timezone.is_some() {
                    return Err(invalid(format!(
                        "{name}: `timezone` goes with `cron`, not `every`"
                    )));
                }
                let period = parse_period(&every).ok_or_else(|| {
                    invalid(format!(
                        "{name}: every {every:?}: write a number and a unit, e.g. \"500ms\", \"30s\", \"5m\", \"1h\", \"1d\""
                    ))
                })?;
                if !(MIN_EVERY..=MAX_EVERY).contains(&period) {
                    return Err(invalid(format!(
                        "{name}: every {every:?}: expected 100ms to 31d"
                    )));
                }
                When::Every(period)
            }
            (None, Some(text)) => {
                let cron = croner::parser::CronParser::builder()
                    .seconds(croner::parser::Seconds::Optional)
                    .build()
                    .parse(&text)
                    .map_err(|e| invalid(format!("{name}: cron {text:?}: {e}")))?;
                let zone = entry.timezone.unwrap_or_else(|| "UTC".to_owned());
                let timezone = chrono_tz::Tz::from_str(&zone).map_err(|_| {
                    invalid(format!(
                        "{name}: timezone {zone:?} is not an IANA time zone name (e.g. \"Asia/Shanghai\", \"UTC\")"
                    ))
                })?;
                When::Cron {
                    text,
                    cron: Box::new(cron),
                    timezone,
                }
            }
            _ => {
                return Err(invalid(format!(
                    "{name}: give exactly one of `every` (e.g. \"30s\") and `cron` (e.g. \"0 9 * * *\")"
                )));
            }
        };
        if entry.timeout_ms == Some(0) {
            return Err(invalid(format!("{name}: timeoutMs must be at least 1")));
        }
        out.push(Schedule {
            name,
            when,
            timeout_ms: entry.timeout_ms,
        });
    }
    Ok(out)
}

/// `500ms`, `30s`, `5m`, `1h`, `1d` as a duration.
fn parse_period(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let n: u64 = number.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => n,
        "s" => n.checked_mul(1000)?,
        "m" | "min" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

fn format_period(period: Duration) -> String {
    let ms = period.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{OnError, handler};

    #[test]
    fn t2_events_name_post_types_and_star_leaves_out_meta_events() {
        let path = Path::new("plugins/k.json5");
        let events = |names: &[&str]| {
            handler(
                path,
                Some(names.iter().map(|s| s.to_string()).collect()),
                None,
                None,
            )
        };
        let star = events(&["*"]).expect("valid");
        assert!(star.events.matches("message") && star.events.matches("notice"));
        assert!(star.events.matches("request") && star.events.matches("message_sent"));
        assert!(!star.events.matches("meta_event"));
        let both = events(&["meta_event", "*", "message"]).expect("valid");
        assert!(both.events.matches("meta_event"));
        assert_eq!(both.events.post_types().len(), 5, "deduplicated");
        assert!(events(&[]).expect("valid").events.is_empty());
        let error = events(&["messages"]).expect_err("typo").to_string();
        assert!(
            error.starts_with("plugins/k.json5: events: unknown post type \"messages\""),
            "{error}"
        );
    }

    #[test]
    fn t9_t10_schedules_are_checked_and_cron_runs_in_its_time_zone() {
        use super::{RawSchedule, When, schedules};
        let path = Path::new("plugins/feed.json5");
        let raw =
            |name: &str, every: Option<&str>, cron: Option<&str>, tz: Option<&str>| RawSchedule {
                name: name.to_owned(),
                every: every.map(str::to_owned),
                cron: cron.map(str::to_owned),
                timezone: tz.map(str::to_owned),
                timeout_ms: None,
            };
        let ok = schedules(
            path,
            vec![
                raw("poll", Some("30s"), None, None),
                raw("fast", Some("250ms"), None, None),
                raw("morning", None, Some("0 9 * * *"), Some("Asia/Shanghai")),
            ],
        )
        .expect("valid");
        assert_eq!(ok[0].when, When::Every(std::time::Duration::from_secs(30)));
        assert_eq!(ok[0].when.describe(), "every 30s");
        assert_eq!(ok[1].when.describe(), "every 250ms");
        assert_eq!(ok[2].when.describe(), "cron \"0 9 * * *\" Asia/Shanghai");
        // 09:00 in Shanghai is 01:00 UTC.
        let after = chrono::DateTime::parse_from_rfc3339("2026-12-05T23:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let next = ok[2].when.next_cron(after).expect("next");
        assert_eq!(next.to_rfc3339(), "2026-12-06T01:00:00+00:00");

        for (bad, why) in [
            (raw("", Some("1s"), None, None), "give each schedule a name"),
            (raw("a", None, None, None), "exactly one of `every`"),
            (
                raw("a", Some("1s"), Some("* * * * *"), None),
                "exactly one of `every`",
            ),
            (
                raw("a", Some("1y"), None, None),
                "write a number and a unit",
            ),
            (
                raw("a", Some("soon"), None, None),
                "write a number and a unit",
            ),
            (raw("a", Some("10ms"), None, None), "expected 100ms to 31d"),
            (
                raw("a", None, Some("61 * * * *"), None),
                "cron \"61 * * * *\"",
            ),
            (
                raw("a", None, Some("0 9 * * *"), Some("Mars/Olympus")),
                "not an IANA time zone",
            ),
            (
                raw("a", Some("1s"), None, Some("UTC")),
                "`timezone` goes with `cron`",
            ),
        ] {
            let error = schedules(path, vec![bad]).expect_err(why).to_string();
            assert!(
                error.starts_with("plugins/feed.json5: schedules: "),
                "{error}"
            );
            assert!(error.contains(why), "{why}: {error}");
        }
        let twice = schedules(
            path,
            vec![
                raw("a", Some("1s"), None, None),
                raw("a", Some("2s"), None, None),
            ],
        );
        assert!(
            twice
                .expect_err("duplicate")
                .to_string()
                .contains("two schedules are named \"a\"")
        );
    }

    #[test]
    fn t3_t4_priority_and_on_error_are_checked() {
        let path = Path::new("plugins/k.json5");
        let h = handler(path, None, Some(-5), Some("drop".into())).expect("valid");
        assert_eq!((h.priority, h.on_error), (-5, OnError::Drop));
        let d = handler(path, None, None, None).expect("valid");
        assert_eq!((d.priority, d.on_error), (0, OnError::Pass));
        assert!(handler(path, None, Some(5000), None).is_err());
        let error = handler(path, None, None, Some("closed".into()))
            .expect_err("bad")
            .to_string();
        assert!(
            error.contains("onError: expected \"pass\" or \"drop\""),
            "{error}"
        );
    }
}
