//! The process (SPEC O8), under the names every Prometheus client library uses:
//! `process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds`,
//! `process_max_fds`, `process_start_time_seconds`. Read from `/proc` at each scrape (Linux);
//! where `/proc` is missing, a value that cannot be read is left out rather than made up.

use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Clock ticks per second in `/proc/<pid>/stat`: `USER_HZ`, which Linux fixes at 100 for user
/// space on every architecture this host builds for (reading `sysconf` would need `unsafe`).
const USER_HZ: f64 = 100.0;

/// Adds the process's figures, read now, to a scrape's registry.
pub(super) fn register(registry: &mut Registry) {
    if let Some(bytes) = resident_bytes() {
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            ConstGauge::new(bytes as i64),
        );
    }
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let fields = stat.as_deref().map(stat_fields).unwrap_or_default();
    // Fields 14 and 15 (utime, stime) and 22 (starttime), counted from 1 as in proc(5); the
    // list starts at field 3, after the command name.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        registry.register(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            ConstCounter::new((user + system) as f64 / USER_HZ),
        );
    }
    if let (Some(start), Some(boot)) = (field(22), boot_time()) {
        registry.register(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            ConstGauge::new(boot as f64 + start as f64 / USER_HZ),
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        registry.register(
            "process_open_fds",
            "Number of open file descriptors",
            ConstGauge::new(fds.count() as i64),
        );
    }
    if let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        registry.register(
            "process_max_fds",
            "Maximum number of open file descriptors",
            ConstGauge::new(i64::try_from(soft).unwrap_or(i64::MAX)),
        );
    }
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The fields of `/proc/self/stat` after the command name, which may hold spaces and
/// parentheses itself: everything after its last `)`.
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// `btime` of `/proc/stat`: when the machine booted, in Unix seconds.
fn boot_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::stat_fields;

    #[test]
    fn stat_fields_skip_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (a) b (c)) S 1 2 3";
        assert_eq!(stat_fields(stat), ["S", "1", "2", "3"]);
        assert!(stat_fields("garbage").is_empty());
    }
}
