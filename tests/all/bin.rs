//! The real `onebot-host` binary in a process of its own, for what an in-process host cannot
//! show: the CLI (`--help`, `call`, `plugins`, `new`, C5's refusal of a bad config), the log as
//! an operator reads it (H6: no token in it), its own open-file limit, and SIGTERM. Every test
//! that runs the binary goes through here.
//!
//! A one-shot command runs to its exit ([`Invocation::run`]); a server ([`Invocation::start`],
//! [`Running`]) has its stderr read line by line on a thread of its own, and every wait reads
//! the log until a line shows up, with a timeout, never a bare sleep.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::harness::{Setup, plugin_folder};

/// How long the binary may take to print an expected line or to exit after SIGTERM.
const WAIT: Duration = Duration::from_secs(60);

/// The binary's command line, before it runs.
pub struct Invocation {
    command: Command,
    /// A folder (config, plugins) the process uses, removed once the process is gone.
    dir: Option<TempDir>,
}

impl Invocation {
    pub fn new() -> Invocation {
        Invocation {
            command: Command::new(env!("CARGO_BIN_EXE_onebot-host")),
            dir: None,
        }
    }

    /// The binary under `prlimit --nofile=N:N`: soft and hard, so the host cannot raise it.
    pub fn with_nofile_limit(n: u64) -> Invocation {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={n}:{n}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_onebot-host"));
        Invocation { command, dir: None }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Invocation {
        self.command.arg(arg);
        self
    }

    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Invocation {
        self.command.args(args);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Invocation {
        self.command.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Invocation {
        self.command.env(key, value);
        self
    }

    /// Keeps `dir` until the process is gone.
    fn owning(mut self, dir: TempDir) -> Invocation {
        self.dir = Some(dir);
        self
    }

    /// Runs a one-shot command to its exit.
    pub fn run(mut self) -> Exit {
        let out = self.command.output().expect("the binary runs");
        Exit {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts a server, reading its stderr on a thread of its own; stdout is not read.
    pub fn start(mut self) -> Running {
        let mut child = self
            .command
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
            _dir: self.dir,
        }
    }
}

/// How a one-shot command ended, and what it printed.
pub struct Exit {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A running server and its log.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stderr line so far.
    pub log: Vec<String>,
    _dir: Option<TempDir>,
}

impl Running {
    /// Starts the binary on `setup`'s config and sidecars, in a temp folder of its own, with
    /// `RUST_LOG=rust_log`; with `nofile`, under that open-file limit.
    pub fn start(setup: &Setup, rust_log: &str, nofile: Option<u64>) -> Running {
        Self::launch(
            &setup.plugins,
            |dir| {
                for (file, text) in &setup.sidecars {
                    std::fs::write(dir.join(file), text).expect("write sidecar");
                }
                setup.config_text(dir)
            },
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
        let invocation = match nofile {
            Some(n) => Invocation::with_nofile_limit(n),
            None => Invocation::new(),
        };
        Self::launch_as(invocation.env("RUST_LOG", rust_log), plugins, config)
    }

    /// As [`launch`](Self::launch), run as `invocation` (with its environment and limits).
    pub fn launch_as(
        invocation: Invocation,
        plugins: &[(&str, &str)],
        config: impl FnOnce(&Path) -> String,
    ) -> Running {
        let dir = tempfile::tempdir().expect("tmp");
        let plugin_dir = plugin_folder(dir.path(), plugins);
        let path = dir.path().join("onebot.json5");
        std::fs::write(&path, config(&plugin_dir)).expect("config");
        invocation.arg("--config").arg(&path).owning(dir).start()
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
        self.read_until(&format!("log line #{n} with {needle:?}"), |log| {
            log.iter()
                .filter(|l| l.contains(needle))
                .nth(n - 1)
                .cloned()
        })
    }

    /// The address the server named `name` listens on, from its "listening on" line.
    pub fn addr(&mut self, name: &str) -> SocketAddr {
        let tag = format!("server={name}");
        let line = self.read_until(&format!("server {name} listening"), |log| {
            log.iter()
                .find(|l| l.contains("listening on http://") && l.ends_with(&tag))
                .cloned()
        });
        let at = line.find("http://").expect("an address") + "http://".len();
        line[at..]
            .split_whitespace()
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("an address in {line:?}"))
    }

    /// Reads the log until `found` finds what it looks for in it; fails the test, showing
    /// the log, after [`WAIT`].
    fn read_until<T>(&mut self, what: &str, mut found: impl FnMut(&[String]) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(value) = found(&self.log) {
                return value;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.log.push(line),
                Err(e) => panic!("no {what} ({e:?}); log so far:\n{}", self.log.join("\n")),
            }
        }
    }

    /// SIGTERM, then waits for the exit and the rest of the log.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
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
    /// A test that failed half-way leaves no server behind.
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
