//! The real `onebot-host` binary in a process of its own, for what an in-process host cannot
//! show: its own open-file limit (10,000 connections, `prlimit`), its log as an operator
//! reads it, and SIGTERM. Every wait polls a condition with a timeout.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::harness::{Setup, guest};

/// How long the binary may take to print an expected line.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stderr line so far.
    pub log: Vec<String>,
    _dir: TempDir,
}

impl Running {
    /// Starts the binary on `setup`'s config with `RUST_LOG=rust_log`; with `nofile`, under
    /// `prlimit --nofile=N:N` (soft and hard, so the host cannot raise it).
    pub fn start(setup: &Setup, rust_log: &str, nofile: Option<u64>) -> Running {
        Self::launch(
            &setup.plugins,
            |dir| setup.config_text(dir),
            rust_log,
            nofile,
        )
    }

    /// As [`start`](Self::start), with the config text made by `config` from the plugin
    /// folder's path.
    pub fn launch(
        plugins: &[(&str, &str)],
        config: impl FnOnce(&Path) -> String,
        rust_log: &str,
        nofile: Option<u64>,
    ) -> Running {
        let dir = tempfile::tempdir().expect("tmp");
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir(&plugin_dir).expect("plugin dir");
        for (from, to) in plugins {
            std::fs::copy(guest(from), plugin_dir.join(to)).expect("copy plugin");
        }
        let text = config(&plugin_dir);
        let config = dir.path().join("onebot.json5");
        std::fs::write(&config, text).expect("config");
        let binary = env!("CARGO_BIN_EXE_onebot-host");
        let mut command = match nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg("--").arg(binary);
                c
            }
            None => Command::new(binary),
        };
        let mut child = command
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts (and `prlimit`, from util-linux, is installed)");
        let stderr = child.stderr.take().expect("stderr");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            log: Vec::new(),
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the log until a line contains `needle` (a line already read counts); returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        self.wait_for_nth(needle, 1)
    }

    /// Reads the log until `n` lines contain `needle`; returns the `n`th.
    pub fn wait_for_nth(&mut self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(line) = self.log.iter().filter(|l| l.contains(needle)).nth(n - 1) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.log.push(line),
                Err(e) => panic!(
                    "no log line with {needle:?} ({e:?}); log so far:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// The address the server named `name` listens on, from its "listening on" line.
    pub fn addr(&mut self, name: &str) -> SocketAddr {
        let deadline = Instant::now() + WAIT;
        let tag = format!("server={name}");
        loop {
            let line = self
                .log
                .iter()
                .find(|l| l.contains("listening on http://") && l.ends_with(&tag));
            if let Some(line) = line {
                let at = line.find("http://").expect("an address") + "http://".len();
                return line[at..]
                    .split_whitespace()
                    .next()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or_else(|| panic!("an address in {line:?}"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.log.push(line),
                Err(e) => panic!(
                    "server {name} never listened ({e:?}):\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// SIGTERM, then waits for the exit and the rest of the log.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        // The log ends when the process closes stderr, at exit.
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) => self.log.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no exit after SIGTERM:\n{}", self.log.join("\n"))
                }
            }
        }
        let status = self.child.wait().expect("exit status");
        (status, std::mem::take(&mut self.log))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many files the process `pid` has open (Linux `/proc`).
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// The resident memory of `pid` in MiB (Linux `/proc`).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
