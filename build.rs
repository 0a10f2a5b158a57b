//! Builds the WebAssembly guests, so a plain `cargo build` gives a working setup:
//! the example plugins `plugins/mock-account.wasm` and `plugins/keyword.wasm`, and the test
//! fixtures (`probe.wasm`, `probe_alt.wasm`, `hostile.wasm`, `fetch.wasm`, …) and the optional
//! examples (`forward.wasm`, `feed.wasm`, `github_notify.wasm`), whose folder integration tests
//! find with `env!("ONEBOT_GUEST_DIR")`.
//!
//! The guests are cargo workspaces of their own (they target wasm32-wasip2; the host does not),
//! built by a nested cargo into one target dir, `target/guests`: a dir apart from the outer
//! build's, so the two never wait on each other's lock, and shared by all guests, so their
//! common dependencies (`wit-bindgen`, `serde_json`) compile once.
//! A missing `wasm32-wasip2` target is added through rustup before any guest is built, so
//! `cargo run --release` works on a machine whose rustup toolchain lacks it.
//! `ONEBOT_SKIP_GUESTS=1` skips the guests (docs or fuzzing builds).

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TARGET: &str = "wasm32-wasip2";
/// Guest workspaces, relative to the crate root.
const WORKSPACES: [&str; 9] = [
    "plugins",
    "tests/guests/probe",
    "tests/guests/hostile",
    "tests/guests/probe-alt",
    "tests/guests/sdk-demo",
    "tests/guests/fetch",
    "tests/guests/sdk-caps",
    "tests/guests/route-probe",
    "tests/guests/react-probe",
];
/// Where the guests' inputs live: the workspaces and their crates, path dependencies included
/// (a change in one of them must rebuild the guests that use it).
const INPUT_DIRS: [&str; 17] = [
    "plugins",
    "plugins/mock-account",
    "plugins/forward",
    "plugins/keyword",
    "plugins/feed",
    "plugins/github-notify",
    "plugins/matrix",
    "sdk/rust",
    "tests/guests/common",
    "tests/guests/probe",
    "tests/guests/hostile",
    "tests/guests/probe-alt",
    "tests/guests/sdk-demo",
    "tests/guests/fetch",
    "tests/guests/sdk-caps",
    "tests/guests/route-probe",
    "tests/guests/react-probe",
];
/// (built file, copied to) for the example plugins users run with.
const EXAMPLES: [(&str, &str); 2] = [
    ("mock_account.wasm", "plugins/mock-account.wasm"),
    ("keyword.wasm", "plugins/keyword.wasm"),
];
/// Environment cargo keeps for a nested build; every other `CARGO_*` describes the outer one.
#[rustfmt::skip]
const KEEP_PREFIXES: [&str; 7] = [
    "CARGO_HOME", "CARGO_MAKEFLAGS", "CARGO_LOG", "CARGO_NET_", "CARGO_HTTP_", "CARGO_REGISTR",
    "CARGO_TERM_",
];
/// Environment outside `CARGO_*` that would leak the outer build into the nested one.
#[rustfmt::skip]
const STRIP: [&str; 11] = [
    "RUSTFLAGS", "RUSTDOCFLAGS", "RUSTC_WORKSPACE_WRAPPER", "RUSTC_LINKER", "TARGET", "HOST",
    "OUT_DIR", "PROFILE", "OPT_LEVEL", "DEBUG", "NUM_JOBS",
];

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()));
    let target_dir = root.join("target").join("guests");
    let out_dir = target_dir.join(TARGET).join("release");
    println!("cargo::rustc-env=ONEBOT_GUEST_DIR={}", out_dir.display());
    println!("cargo::rerun-if-env-changed=ONEBOT_SKIP_GUESTS");
    if env::var_os("ONEBOT_SKIP_GUESTS").is_some_and(|v| !v.is_empty() && v != "0") {
        println!("cargo::warning=ONEBOT_SKIP_GUESTS is set: the wasm guests were not built");
        return;
    }
    // First: the guests' build, the slow part of this script, needs the target.
    ensure_target_installed();
    println!("cargo::rerun-if-changed={}", root.join("wit").display());
    for dir in INPUT_DIRS {
        for name in ["Cargo.toml", "Cargo.lock", "src"] {
            // A missing path would make cargo rerun this script on every build.
            let path = root.join(dir).join(name);
            if path.exists() {
                println!("cargo::rerun-if-changed={}", path.display());
            }
        }
    }

    for workspace in WORKSPACES {
        build_guest(&root.join(workspace).join("Cargo.toml"), &target_dir);
    }
    for (built, dest) in EXAMPLES {
        let built = out_dir.join(built);
        if let Err(e) = copy_if_changed(&built, &root.join(dest)) {
            fail(&format!("copying {} to {dest}: {e}", built.display()));
        }
    }
}

/// Makes sure rustc has the standard library for the wasm target, adding it through rustup
/// when it is missing.
///
/// `rust-toolchain.toml` lists the target, but rustup (1.29) adds a toolchain file's targets
/// only when it installs the toolchain: on a machine that already had `stable`, the README's
/// first command would reach the guests without it. Cargo runs this script once it is
/// compiled; nothing holds that back, but cargo's scheduler prefers the units more of the
/// build waits on, so on 2 cores it ran about 4 minutes into a 7-minute cold
/// `cargo test --release` build. Whichever way the check ends, it ends before the guests'
/// build. When rustup is absent or cannot add the target (offline, a toolchain rustup does
/// not manage), the build fails with the exact command to run.
fn ensure_target_installed() {
    if target_installed() {
        return;
    }
    // Set by rustup's proxies to the toolchain building us (rust-toolchain.toml's or an
    // override), which need not be rustup's default.
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok().filter(|t| !t.is_empty());
    let mut args = vec!["target", "add", TARGET];
    if let Some(toolchain) = &toolchain {
        args.extend(["--toolchain", toolchain]);
    }
    let command = format!("rustup {}", args.join(" "));
    // rustup reports its progress on stderr, which cargo shows if the build fails.
    let added = Command::new("rustup")
        .args(&args)
        .stdout(Stdio::from(io::stderr()))
        .status();
    // Checked again whatever rustup said: a parallel build may have added it meanwhile.
    if target_installed() {
        println!("cargo::warning=the {TARGET} target was missing; added it with `{command}`");
        return;
    }
    let why = match added {
        Ok(status) => format!("`{command}` failed ({status}; its output is below)"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => "rustup is not on PATH".to_owned(),
        Err(e) => format!("rustup could not be run: {e}"),
    };
    fail(&format!(
        "the {TARGET} target, which the plugins are built for, is missing and {why}: \
         run `{command}`, then build again"
    ));
}

/// Whether rustc has a standard library for the wasm target. rustup's rustc prints the
/// target's library folder whether or not it is installed, so the folder is looked for.
fn target_installed() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .stderr(Stdio::null())
        .output();
    match libdir {
        Ok(out) if out.status.success() => {
            Path::new(String::from_utf8_lossy(&out.stdout).trim()).is_dir()
        }
        _ => false,
    }
}

/// Runs `cargo build --release --target wasm32-wasip2` on one guest workspace. Its output goes
/// to this script's stderr, which cargo shows when the build fails.
fn build_guest(manifest: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .args(["--release", "--target", TARGET])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .stdout(Stdio::from(io::stderr()));
    for (key, _) in env::vars_os() {
        if key.to_str().is_some_and(leaks_outer_build) {
            cmd.env_remove(key);
        }
    }
    match cmd.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "building the guest {} failed ({status}); its cargo output follows",
            manifest.display()
        )),
        Err(e) => fail(&format!(
            "could not run cargo to build {}: {e}",
            manifest.display()
        )),
    }
}

fn leaks_outer_build(key: &str) -> bool {
    let kept = KEEP_PREFIXES.iter().any(|p| key.starts_with(p));
    STRIP.contains(&key) || key.starts_with("__CARGO") || (key.starts_with("CARGO_") && !kept)
}

/// Copies only when the bytes differ (a running host watches the folder), and through a
/// temporary name without the `.wasm` extension, so a watcher never sees a half-written file.
fn copy_if_changed(from: &Path, to: &Path) -> io::Result<()> {
    let bytes = fs::read(from)?;
    if fs::read(to).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let tmp = to.with_extension("wasm.tmp");
    fs::write(&tmp, &bytes)?;
    fs::rename(&tmp, to)
}

/// Fails the build with one `error:` line on top of cargo's report (details below it).
fn fail(message: &str) -> ! {
    println!("cargo::error={message}");
    std::process::exit(1);
}
