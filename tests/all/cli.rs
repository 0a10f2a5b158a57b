//! The `onebot-host` binary as a user runs it: `--help`, a bad config (C5), and the log of a
//! real run (H6: no token in it; P4/P5: plugin logs and guest output tagged with the plugin).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::bin::{Invocation, Running};
use crate::harness::{Setup, envelope, failed, guest, ok_data, plugin_folder, wait_for};
use crate::ws::client::{self, next_event};

#[test]
fn help_describes_the_config_flag() {
    let out = Invocation::new().arg("--help").run();
    assert!(out.status.success());
    let text = out.stdout;
    assert!(text.contains("--config"), "{text}");
    assert!(text.contains("OneBot 11"), "{text}");
}

#[test]
fn c5_a_bad_config_exits_non_zero_naming_file_and_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.json5");
    std::fs::write(
        &path,
        "{ network: { httpServers: [ { enable: true, port: \"abc\" } ] } }",
    )
    .expect("write");
    let out = Invocation::new().arg("--config").arg(&path).run();
    assert!(!out.status.success());
    let err = out.stderr;
    assert!(err.contains("bad.json5"), "{err}");
    assert!(err.contains("network.httpServers[0].port"), "{err}");

    let out = Invocation::new()
        .arg("--config")
        .arg(dir.path().join("missing.json5"))
        .run();
    assert!(!out.status.success());
    assert!(out.stderr.contains("missing.json5"));
}

/// C7: a connection URL with no host stops the host at start, naming the key, for each of
/// the three keys that hold one (it used to be found only when the endpoint first ran).
#[test]
fn c7_a_url_without_a_host_exits_non_zero_naming_its_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.json5");
    for (text, key) in [
        (
            r#"{ network: { httpClients: [ { enable: true, url: "http://:8080/" } ] } }"#,
            "network.httpClients[0].url",
        ),
        (
            r#"{ network: { websocketClients: [ { enable: true, url: "ws://:8082" } ] } }"#,
            "network.websocketClients[0].url",
        ),
        (r#"{ upstream: { url: "ws://:3001" } }"#, "upstream.url"),
    ] {
        std::fs::write(&path, text).expect("write");
        let out = Invocation::new().arg("--config").arg(&path).run();
        assert!(!out.status.success(), "{text}");
        let err = out.stderr;
        assert!(
            err.contains(&format!("bad.json5: {key}: has no host")),
            "{err}"
        );
    }
}

/// Issue 20 item 6: a token of the wrong type is refused naming its key, never its value
/// (C5, H6), in every list that has one.
#[test]
fn c5_h6_a_bad_token_is_named_by_its_key_not_its_value() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.json5");
    for (section, entry) in [
        ("httpServers", "enable: true, token: 73915828"),
        (
            "websocketClients",
            r#"url: "ws://127.0.0.1:1", token: 73915828"#,
        ),
        (
            "httpClients",
            r#"url: "http://127.0.0.1:1", token: 73915828.5"#,
        ),
    ] {
        let text = format!("{{ network: {{ {section}: [ {{ {entry} }} ] }} }}");
        std::fs::write(&path, text).expect("write");
        let out = Invocation::new().arg("--config").arg(&path).run();
        assert!(!out.status.success());
        let err = out.stderr;
        assert!(
            err.contains(&format!("network.{section}[0].token")),
            "{err}"
        );
        assert!(err.contains("expected a string"), "{err}");
        assert!(!err.contains("73915828"), "the value leaked: {err}");
    }
}

/// Runs the binary as a user does: from the config's folder, with a relative `--config` and
/// a relative plugin folder, a token and `debug: true`. Makes calls, hot-deploys a plugin,
/// and reads the log.
#[tokio::test]
async fn a_real_run_logs_calls_and_plugin_output_but_never_the_token() {
    let token = "tok-5f3a9c1e-never-log-me";
    let dir = tempfile::tempdir().expect("tmp");
    let plugins = plugin_folder(dir.path(), &[("probe.wasm", "probe.wasm")]);
    let text = Setup::default()
        .server(&format!(r#"token: "{token}", debug: true"#))
        .config_text(&plugins)
        .replace(
            &format!("{:?}", plugins.display().to_string()),
            "\"plugins\"",
        );
    assert!(text.contains(r#"dir: "plugins""#), "{text}");
    std::fs::write(dir.path().join("onebot.json5"), text).expect("config");

    let mut host = Invocation::new()
        .current_dir(dir.path())
        .args(["--config", "onebot.json5"])
        .env("RUST_LOG", "onebot_host=debug")
        .start();
    let addr = host.addr("test");

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let env = envelope(client.post(format!("{base}/probe_print?access_token={token}"))).await;
    ok_data(&env);
    let _ = client
        .get(format!("{base}/probe_echo"))
        .header("Authorization", format!("Bearer {token}-wrong"))
        .send()
        .await
        .expect("sent");
    host.wait_for("probe stdout line");
    host.wait_for("probe stderr line");
    host.wait_for("probe log line");
    host.wait_for("token verify failed");

    // P2 in the real binary: a plugin moved into the (relative) folder gets loaded.
    std::fs::copy(guest("probe_alt.wasm"), plugins.join(".alt.tmp")).expect("copy");
    std::fs::rename(plugins.join(".alt.tmp"), plugins.join("alt.wasm")).expect("mv");
    // The loader logs "loaded <file> (actions: …)" once the plugin is serving.
    host.wait_for("alt.wasm (actions:");
    let env = envelope(client.get(format!("{base}/alt_only?access_token={token}"))).await;
    ok_data(&env);

    let (_, log) = host.terminate();

    let joined = log.join("\n");
    let call_line = log
        .iter()
        .find(|l| l.contains("action=probe_print"))
        .unwrap_or_else(|| panic!("debug: true logs each call:\n{joined}"));
    assert!(
        call_line.contains("plugin=probe") && call_line.contains("retcode=0"),
        "{call_line}"
    );
    for line in log
        .iter()
        .filter(|l| l.contains("probe stdout line") || l.contains("probe log line"))
    {
        assert!(
            line.contains("plugin=probe"),
            "tagged with the plugin: {line}"
        );
    }
    assert!(
        !joined.contains("5f3a9c1e"),
        "the token leaked into the log:\n{joined}"
    );
}

fn folder_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    for (from, to) in files {
        std::fs::copy(guest(from), dir.path().join(to)).expect("copy");
    }
    dir
}

/// Runs `onebot-host call ACTION PARAMS --plugins DIR`: its exit code and the envelope it
/// printed on stdout. It runs in DIR, so the default `plugins.dataDir` (`data` beside the
/// absent config) is `DIR/data`, kept from one call to the next.
fn call(action: &str, params: &str, plugins: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Invocation::new()
        .current_dir(plugins)
        .args(["call", action, params, "--plugins"])
        .arg(plugins)
        .run();
    let env = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no envelope ({e}); stderr:\n{}", out.stderr));
    (out.status.code(), env)
}

#[test]
fn call_runs_one_action_without_a_server() {
    let plugins = folder_with(&[("probe.wasm", "probe.wasm")]);
    let (code, env) = call("probe_echo", "{n: 1, message: 'hi'}", plugins.path());
    assert_eq!(code, Some(0));
    let data = ok_data(&env);
    assert_eq!(data["params"]["n"], 1);
    assert_eq!(
        data["params"]["message"][0]["type"], "text",
        "M3 applies here too"
    );

    let (code, env) = call("nope", "{}", plugins.path());
    assert_eq!(code, Some(1), "a failed envelope exits 1");
    assert_eq!(env["retcode"], 1404);

    let out = Invocation::new()
        .args(["call", "probe_echo", "[1]", "--plugins"])
        .arg(plugins.path())
        .run();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("PARAMS must be a JSON object"));
}

#[test]
fn plugins_lists_actions_and_load_errors() {
    let plugins = folder_with(&[("probe.wasm", "probe.wasm"), ("probe_alt.wasm", "alt.wasm")]);
    std::fs::write(plugins.path().join("broken.wasm"), b"not wasm").expect("write");
    let out = Invocation::new()
        .args(["plugins", "--plugins"])
        .arg(plugins.path())
        .run();
    let text = out.stdout;
    assert_eq!(out.status.code(), Some(1), "a load error exits 1:\n{text}");
    assert!(text.contains("probe  "), "{text}");
    assert!(text.contains("- probe_spin"), "{text}");
    assert!(
        text.contains("- probe_echo  (served by alt instead)"),
        "P3 shown:\n{text}"
    );
    assert!(
        text.contains("FAILED") && text.contains("broken.wasm"),
        "{text}"
    );
    assert!(text.contains("not a WebAssembly component"), "{text}");
}

/// Issue 5: `new` writes a plugin that builds and answers on the first try; issue 12: its
/// sidecar grants what `greet` and `count` use; issue 22: its event handler and schedule run.
#[tokio::test]
async fn new_rust_template_builds_and_answers() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Invocation::new()
        .args(["new", "tpl-check", "--dir"])
        .arg(dir.path())
        .run();
    assert!(out.status.success(), "{}", out.stderr);
    let project = dir.path().join("tpl-check");
    // Build in the guests' target dir, where build.rs already compiled the SDK's dependencies
    // with the same profile; remove the output afterwards.
    let target = std::path::Path::new(env!("ONEBOT_GUEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("target/guests")
        .to_owned();
    let built = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(&project)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("cargo runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wasm = guest("tpl_check.wasm");
    let plugins = tempfile::tempdir().expect("tmp");
    std::fs::rename(&wasm, plugins.path().join("tpl_check.wasm")).expect("move the output");
    let (code, env) = call("tpl_check_add", "{a: 40, b: 2}", plugins.path());
    assert_eq!(code, Some(0));
    assert_eq!(ok_data(&env)["sum"], 42);

    // Issue 12 (SPEC P4): without its sidecar, greet has no config and count no store...
    let (_, env) = call("tpl_check_greet", "{}", plugins.path());
    assert_eq!(ok_data(&env)["text"], "Hi, world!");
    let (code, env) = call("tpl_check_count", "{}", plugins.path());
    assert_eq!(code, Some(1));
    let message = failed(&env, 1200);
    assert!(
        message.contains("keyValue"),
        "names the sidecar key: {message}"
    );
    // ...with the sidecar `new` wrote (P6), it has both.
    std::fs::copy(
        project.join("tpl_check.json5"),
        plugins.path().join("tpl_check.json5"),
    )
    .expect("copy the sidecar");
    template_capabilities("rust", "tpl_check", plugins.path());
    template_triggers("rust", "tpl_check", plugins.path()).await;

    let out = Invocation::new().args(["new", "Bad Name"]).run();
    assert!(!out.status.success());
    assert!(out.stderr.contains("lowercase"));
}

/// Issue 5: the JavaScript and Python templates build with their own toolchains (npm,
/// componentize-py from PyPI, both fetched on first use) and answer on the first try; issue
/// 22: their event handler and schedule run.
#[tokio::test]
async fn new_js_and_python_templates_build_and_answer() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases: [(&str, &str, &[&str]); 2] = [
        (
            "js",
            "tpl-js",
            &[
                "sh",
                "-c",
                "npm install --silent --no-audit --no-fund && npm run --silent build",
            ],
        ),
        ("python", "tpl-py", &["./build"]),
    ];
    for (lang, name, build) in cases {
        let out = Invocation::new()
            .args(["new", name, "--lang", lang, "--dir"])
            .arg(dir.path())
            .run();
        assert!(out.status.success(), "{}", out.stderr);
        let project = dir.path().join(name);
        let built = Command::new(build[0])
            .args(&build[1..])
            .current_dir(&project)
            .output()
            .expect("build runs");
        assert!(
            built.status.success(),
            "{lang}: {}{}",
            String::from_utf8_lossy(&built.stdout),
            String::from_utf8_lossy(&built.stderr)
        );
        let prefix = name.replace('-', "_");
        let (code, env) = call(&format!("{prefix}_add"), "{a: 40, b: 2}", &project);
        assert_eq!(code, Some(0), "{lang}");
        assert_eq!(ok_data(&env)["sum"], 42, "{lang}");
        // What `GET /<prefix>_add?a=40&b=2` hands the plugin: every value as text (P7a).
        let (code, env) = call(&format!("{prefix}_add"), "{a: '40', b: '-2'}", &project);
        assert_eq!(code, Some(0), "{lang}: {env}");
        assert_eq!(ok_data(&env)["sum"], 38, "{lang}");
        let (_, env) = call(&format!("{prefix}_add"), "{a: '1.5', b: '2'}", &project);
        assert_eq!(env["retcode"], 1400, "{lang}: {env}");
        let (_, env) = call(&format!("{prefix}_add"), "{a: 'x'}", &project);
        assert_eq!(env["retcode"], 1400, "{lang}: {env}");
        // The project holds its sidecar beside the built .wasm.
        template_capabilities(lang, &prefix, &project);
        template_triggers(lang, &prefix, &project).await;
    }
}

/// Issue 12 (SPEC P4, P6): a template's `greet` reads the greeting its sidecar sets, and its
/// `count` counts in the key-value store the sidecar grants, from one run to the next.
fn template_capabilities(lang: &str, prefix: &str, plugins: &Path) {
    let (code, env) = call(&format!("{prefix}_greet"), "{name: 'Ann'}", plugins);
    assert_eq!(code, Some(0), "{lang}: {env}");
    assert_eq!(ok_data(&env)["text"], "Hello, Ann!", "{lang}");
    for n in 1..=2 {
        let (code, env) = call(&format!("{prefix}_count"), "{}", plugins);
        assert_eq!(code, Some(0), "{lang}: {env}");
        assert_eq!(ok_data(&env)["count"], n, "{lang}: run {n}");
    }
}

/// Issue 22 (SPEC T1, T5, T9): a template's event handler counts the message events it sees
/// and passes them on unchanged, its schedule `tick` counts its runs, and `stats` reports
/// both. The binary serves `folder`'s `<prefix>.wasm` beside mock-account, whose
/// `mock_receive_private_msg` publishes a message event to a WebSocket bot, with the sidecar
/// `new` wrote, `tick` edited to run every 100ms instead of every minute.
async fn template_triggers(lang: &str, prefix: &str, folder: &Path) {
    let sidecar = std::fs::read_to_string(folder.join(format!("{prefix}.json5"))).expect("sidecar");
    let every_minute = r#"schedules: [{ name: "tick", every: "1m" }]"#;
    assert!(sidecar.contains(every_minute), "{lang}: {sidecar}");
    let sidecar = sidecar.replace(
        every_minute,
        r#"schedules: [{ name: "tick", every: "100ms" }]"#,
    );
    let wasm = folder.join(format!("{prefix}.wasm"));
    let file = format!("{prefix}.wasm");
    let plugins = [
        ("mock_account.wasm", "mock-account.wasm"),
        (wasm.to_str().expect("a UTF-8 path"), file.as_str()),
    ];
    let mut host = Running::launch(
        &plugins,
        |dir| {
            let mock = include_str!("../../plugins/mock-account.json5");
            std::fs::write(dir.join("mock-account.json5"), mock).expect("write sidecar");
            std::fs::write(dir.join(format!("{prefix}.json5")), &sidecar).expect("write sidecar");
            Setup::default()
                .server("enableWebsocket: true")
                .config_text(dir)
        },
        "info",
        None,
    );
    let addr = host.addr("test");
    let mut bot = client::subscribed(addr, "/").await;
    let http = reqwest::Client::new();
    let post = |action: String, params: Value| {
        envelope(http.post(format!("http://{addr}/{action}")).json(&params))
    };
    let params = json!({ "user_id": 10001, "message": "hello" });
    ok_data(&post("mock_receive_private_msg".into(), params).await);
    let event = next_event(&mut bot).await;
    assert_eq!(
        (event["post_type"].as_str(), event["raw_message"].as_str()),
        (Some("message"), Some("hello")),
        "{lang}: the handler passed the message on unchanged: {event}"
    );
    // The handler ran before the bot got the event: its count is in. The ticks come.
    let stats = wait_for(&format!("{lang}: a tick counted"), || async {
        let data = ok_data(&post(format!("{prefix}_stats"), json!({})).await).clone();
        assert_eq!(data["messages"], 1, "{lang}: one message seen: {data}");
        (data["ticks"].as_i64() >= Some(1)).then_some(data)
    })
    .await;
    let (_, log) = host.terminate();
    let failed = |l: &String| l.contains("event handler failed") || l.contains("schedule failed");
    assert!(
        !log.iter().any(failed),
        "{lang}: neither the handler nor the schedule failed ({stats}):\n{}",
        log.join("\n")
    );
}

/// C4: relative `plugins.dir` and `plugins.cacheDir` are relative to the config's folder,
/// whatever the working directory (wasmtime's cache itself wants an absolute path).
#[test]
fn c4_relative_plugin_and_cache_folders_work() {
    let dir = folder_with(&[]);
    std::fs::create_dir(dir.path().join("p")).expect("mkdir");
    std::fs::copy(guest("probe.wasm"), dir.path().join("p/probe.wasm")).expect("copy");
    std::fs::write(
        dir.path().join("c.json5"),
        r#"{ plugins: { dir: "p", cacheDir: "compiled" } }"#,
    )
    .expect("config");
    let out = Invocation::new()
        .current_dir(dir.path())
        .args(["--config", "c.json5", "call", "probe_echo"])
        .run();
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        dir.path().join("compiled").is_dir(),
        "the cache is beside the config"
    );
}

/// Log lines are written by a thread of their own (src/logwriter.rs): a burst of calls from
/// several clients, each logging one line (mock-account logs every send), then SIGTERM. Every
/// line must come out once, whole, before the "shutting down" line, and the process must
/// exit cleanly: nothing buffered is lost at a graceful stop.
#[tokio::test]
async fn a_burst_of_plugin_log_lines_survives_a_graceful_stop_whole_and_in_order() {
    const CLIENTS: u64 = 8;
    const CALLS: u64 = 50;
    let setup = Setup::with_plugins(&[("mock_account.wasm", "mock-account.wasm")]);
    let mut host = Running::start(&setup, "info", None);
    let addr = host.addr("test");

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, base) = (client.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..CALLS {
                let user = 1_000_000 + c * CALLS + i;
                let body =
                    serde_json::json!({ "user_id": user, "message": format!("burst {user}") });
                let env =
                    envelope(client.post(format!("{base}/send_private_msg")).json(&body)).await;
                ok_data(&env);
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    let (status, log) = host.terminate();
    assert!(status.success(), "a graceful stop exits 0: {status}");

    let joined = log.join("\n");
    let shutting = log
        .iter()
        .position(|l| l.contains("shutting down"))
        .unwrap_or_else(|| panic!("no shutdown line:\n{joined}"));
    for user in 1_000_000..1_000_000 + CLIENTS * CALLS {
        let needle = format!("send_private_msg to user {user}: burst {user}");
        let at: Vec<usize> = (0..log.len())
            .filter(|&i| log[i].contains(&needle))
            .collect();
        assert_eq!(at.len(), 1, "{needle:?} logged once:\n{joined}");
        let line = &log[at[0]];
        assert!(at[0] < shutting, "{needle:?} before the shutdown line");
        assert!(
            line.contains(" INFO ") && line.ends_with(&format!("{needle} plugin=mock-account")),
            "a whole line, not interleaved with another: {line}"
        );
    }
}

/// Issue 20 item 6: the folders the host creates for plugins' data and compiled code are
/// private to its user (0700), nested ones included.
#[test]
fn the_data_and_cache_folders_the_host_creates_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("tmp");
    let (data, cache) = (root.path().join("d/data"), root.path().join("c/cache"));
    let mut host = Running::launch(
        &[("probe.wasm", "probe.wasm")],
        |dir| {
            format!(
                r#"{{ network: {{ httpServers: [{{ name: "test", enable: true, port: 0 }}] }},
                   plugins: {{ dir: {:?}, cacheDir: {:?}, dataDir: {:?} }} }}"#,
                dir.display().to_string(),
                cache.display().to_string(),
                data.display().to_string(),
            )
        },
        "info",
        None,
    );
    host.addr("test");
    for dir in [&data, &data.parent().expect("parent").to_owned(), &cache] {
        let mode = std::fs::metadata(dir)
            .expect("created")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{} is {:o}", dir.display(), mode & 0o777);
    }
    host.terminate();
}
