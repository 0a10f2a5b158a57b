//! `onebot-host new` (issue 5, issue 12, issue 22): a plugin project from a template in
//! `templates/`, which builds and answers on the first try. Each template has five actions:
//! `echo` and `add` (plain computing), `greet` (reads the plugin's config), `count` (key-value
//! storage) and `stats`; an event handler that counts message events and a schedule `tick`
//! that counts its runs (SPEC T1, T9), both reported by `stats`; and a sidecar
//! `<prefix>.json5` granting the config, the store, the events and the schedule.
//!
//! The templates are compiled into the binary, so `new` works wherever the binary is. Each
//! carries its own copy of the WIT (the JavaScript and Python toolchains read it) and the
//! Rust one depends on this checkout's SDK by path.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

/// The languages `new` has templates for.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Lang {
    Rust,
    Js,
    Python,
}

/// One template file: (path in the new project, text with `{{name}}`, `{{prefix}}` and
/// `{{sdk}}` to fill in).
type File = (&'static str, &'static str);

/// The WIT of the world `reactive-plugin`, for the toolchains that read it.
const WIT: [File; 5] = [
    (
        "wit/onebot-plugin.wit",
        include_str!("../wit/onebot-plugin.wit"),
    ),
    (
        "wit/capabilities.wit",
        include_str!("../wit/capabilities.wit"),
    ),
    ("wit/triggers.wit", include_str!("../wit/triggers.wit")),
    (
        "wit/deps/config/store.wit",
        include_str!("../wit/deps/config/store.wit"),
    ),
    (
        "wit/deps/config/world.wit",
        include_str!("../wit/deps/config/world.wit"),
    ),
];

/// The grants of `greet`, `count` and `stats` and the triggers, written as `<prefix>.json5`.
const SIDECAR: &str = include_str!("../templates/plugin.json5");

const RUST: [File; 3] = [
    (
        "Cargo.toml",
        include_str!("../templates/rust/Cargo.toml.tmpl"),
    ),
    ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
    (".gitignore", "/target\n"),
];

const JS: [File; 4] = [
    ("package.json", include_str!("../templates/js/package.json")),
    ("build.mjs", include_str!("../templates/js/build.mjs")),
    ("plugin.js", include_str!("../templates/js/plugin.js")),
    (".gitignore", "node_modules/\n*.wasm\n"),
];

const PYTHON: [File; 4] = [
    (
        "requirements.txt",
        include_str!("../templates/python/requirements.txt"),
    ),
    ("build", include_str!("../templates/python/build")),
    ("app.py", include_str!("../templates/python/app.py")),
    (".gitignore", ".venv/\n__pycache__/\n*.wasm\n"),
];

/// The SDK in this checkout; the Rust template depends on it by path.
const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk/rust");

/// Writes a plugin project `dir/name` from a template and says how to build it.
pub(crate) fn new(name: &str, lang: Lang, dir: &Path) -> anyhow::Result<ExitCode> {
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "plugin name {name:?}: use lowercase letters, digits, '-' and '_', starting with a letter"
        );
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let prefix = name.replace('-', "_");
    let sidecar_path = format!("{prefix}.json5");
    let mut files: Vec<(&str, &str)> = match lang {
        Lang::Rust => RUST.to_vec(),
        Lang::Js => [&JS[..], &WIT[..]].concat(),
        Lang::Python => [&PYTHON[..], &WIT[..]].concat(),
    };
    files.push((&sidecar_path, SIDECAR));
    for (path, text) in files {
        let text = text
            .replace("{{name}}", name)
            .replace("{{prefix}}", &prefix)
            .replace("{{sdk}}", &format!("{SDK_DIR:?}"));
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    #[cfg(unix)]
    if let Lang::Python = lang {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("build"), std::fs::Permissions::from_mode(0o755))?;
    }
    let (build, output) = match lang {
        Lang::Rust => (
            "cargo build --release --target wasm32-wasip2",
            format!("target/wasm32-wasip2/release/{prefix}.wasm"),
        ),
        Lang::Js => ("npm install && npm run build", format!("{prefix}.wasm")),
        Lang::Python => ("./build", format!("{prefix}.wasm")),
    };
    let root = root.display();
    println!(
        "created {root} ({lang:?} plugin with actions {prefix}_echo, {prefix}_add, \
         {prefix}_greet, {prefix}_count and {prefix}_stats, an event handler and a schedule)"
    );
    println!("build:   cd {root} && {build}");
    println!(
        "install: cp {output} {sidecar_path} <your plugin folder>/   \
         ({sidecar_path} grants its config, key-value store, events and schedule)"
    );
    println!(
        "try:     onebot-host call {prefix}_add '{{\"a\":1,\"b\":2}}' --plugins <folder of {prefix}.wasm>"
    );
    Ok(ExitCode::SUCCESS)
}
