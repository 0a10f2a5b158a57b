//! Who may write what (issue 20 item 3, SPEC P12–P14): a plugin's sidecar is its author's
//! (users copy it with the `.wasm`), so it only asks; the operator's config decides which
//! environment variables it may read and how far its limits and grants may go.

use serde_json::{Value, json};

use crate::bin::{Invocation, Running};
use crate::harness::{Setup, TestHost, envelope, failed, ok_data};

/// The value of the variable a hostile sidecar asks for: never in any log line.
const SECRET: &str = "aws-secret-9f3b2c7d";

/// The real binary on `setup`'s config, with `sidecars` written beside its plugins and
/// `AWS_SECRET_ACCESS_KEY` and `AWS_REGION` in its environment.
fn launch(setup: &Setup, sidecars: &[(&str, &str)]) -> Running {
    let invocation = Invocation::new()
        .env("RUST_LOG", "info")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "eu-west-3");
    Running::launch_as(invocation, &setup.plugins, |dir| {
        for (file, text) in sidecars {
            std::fs::write(dir.join(file), text).expect("sidecar");
        }
        setup.config_text(dir)
    })
}

/// `GET /`'s data from the binary at `addr`.
async fn health(addr: std::net::SocketAddr) -> Value {
    let env = envelope(reqwest::Client::new().get(format!("http://{addr}/"))).await;
    ok_data(&env).clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p12_p14_a_sidecar_reads_only_the_variables_the_operator_allows_and_the_log_names_them() {
    let sidecar = r#"{ config: { key: "${AWS_SECRET_ACCESS_KEY}", region: "${AWS_REGION}" } }"#;
    let sidecars = [("alt.json5", sidecar)];

    // Not allowed: the plugin is refused at load, naming the variable and the key to add.
    let setup = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")]);
    let mut host = launch(&setup, &sidecars);
    let line = host.wait_for("plugin not loaded");
    assert!(
        line.contains("alt.json5: config.key: ${AWS_SECRET_ACCESS_KEY}")
            && line.contains("adding \"AWS_SECRET_ACCESS_KEY\" to plugins.env.alt"),
        "{line}"
    );
    let addr = host.addr("test");
    let data = health(addr).await;
    assert_eq!(data["plugins"], json!([]), "{data}");
    let error = data["failures"][0]["error"].as_str().expect("a failure");
    assert!(error.contains("plugins.env.alt"), "{error}");
    let call = reqwest::Client::new().post(format!("http://{addr}/alt_config"));
    failed(&envelope(call.json(&json!({"key": "key"}))).await, 1404);
    let (_, log) = host.terminate();
    assert!(
        !log.iter().any(|l| l.contains(SECRET)),
        "{}",
        log.join("\n")
    );

    // Allowed (one variable for this plugin, one for every plugin): loaded, the value reaches
    // the plugin, and the load line names both variables, never their values.
    let setup = Setup::with_plugins(&[("probe_alt.wasm", "alt.wasm")])
        .plugin_settings(r#"env: { alt: ["AWS_SECRET_ACCESS_KEY"], "*": ["AWS_REGION"] }"#);
    let mut host = launch(&setup, &sidecars);
    let line = host.wait_for("grants: config [key, region]");
    assert!(
        line.contains("env [AWS_REGION, AWS_SECRET_ACCESS_KEY]"),
        "P14: {line}"
    );
    let addr = host.addr("test");
    let call = reqwest::Client::new().post(format!("http://{addr}/alt_config"));
    let data = envelope(call.json(&json!({"key": "key"}))).await;
    assert_eq!(ok_data(&data)["one"], SECRET);
    let plugin = &health(addr).await["plugins"][0];
    assert_eq!(
        plugin["grants"]["env"],
        json!(["AWS_REGION", "AWS_SECRET_ACCESS_KEY"])
    );
    let (_, log) = host.terminate();
    assert!(
        !log.iter().any(|l| l.contains(SECRET)),
        "{}",
        log.join("\n")
    );
}

/// The plugins of [`p13_sidecars_stay_within_the_operators_ceilings`]: each a copy of
/// probe-alt whose sidecar asks for one thing beyond the default ceilings, and what the
/// refusal must say.
const GREEDY: [(&str, &str, &str); 5] = [
    (
        "net",
        r#"{ allowedOutboundHosts: ["https://api.example.com", "*://*:*"] }"#,
        "allowedOutboundHosts[0]: \"https://api.example.com\" is beyond the operator's ceiling \
         (none); to allow it, add it to plugins.ceilings.net.allowedOutboundHosts",
    ),
    (
        "call",
        r#"{ callActions: ["send_msg"] }"#,
        "callActions: \"send_msg\" is beyond the operator's ceiling (none); to allow it, add it \
         to plugins.ceilings.call.callActions",
    ),
    (
        "mem",
        "{ memoryMb: 4096 }",
        "memoryMb: 4096 MiB is beyond the operator's ceiling (128 MiB); to allow it, raise \
         plugins.ceilings.mem.memoryMb",
    ),
    (
        "slow",
        "{ timeoutMs: 600000 }",
        "timeoutMs: 600000 ms is beyond the operator's ceiling (5000 ms); to allow it, raise \
         plugins.ceilings.slow.timeoutMs",
    ),
    (
        "hoard",
        "{ kvQuotaMb: 100000, keyValue: [\"default\"] }",
        "kvQuotaMb: 100000 MiB is beyond the operator's ceiling (64 MiB); to allow it, raise \
         plugins.ceilings.hoard.kvQuotaMb",
    ),
];

async fn greedy_host(settings: &str) -> TestHost {
    let mut setup = Setup::with_plugins(&[
        ("probe_alt.wasm", "net.wasm"),
        ("probe_alt.wasm", "call.wasm"),
        ("probe_alt.wasm", "mem.wasm"),
        ("probe_alt.wasm", "slow.wasm"),
        ("probe_alt.wasm", "hoard.wasm"),
        ("probe_alt.wasm", "modest.wasm"),
        ("mock_account.wasm", "mock-account.wasm"),
    ])
    .plugin_settings(settings);
    for (name, sidecar, _) in GREEDY {
        let file: &'static str = Box::leak(format!("{name}.json5").into_boxed_str());
        setup = setup.sidecar(file, sidecar);
    }
    setup
        // Lowering limits and granting key-value stores needs no ceiling.
        .sidecar(
            "modest.json5",
            r#"{ timeoutMs: 1000, memoryMb: 64, keyValue: ["default"], config: { a: "b" } }"#,
        )
        // The example plugin's own sidecar loads on the default config.
        .sidecar(
            "mock-account.json5",
            include_str!("../../plugins/mock-account.json5"),
        )
        .start()
        .await
}

fn loaded(data: &Value) -> Vec<String> {
    let mut names: Vec<String> = data["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn p13_sidecars_stay_within_the_operators_ceilings() {
    // Default ceilings: each greedy sidecar is refused, naming its key, what it asked, the
    // ceiling and the config key to raise; the others load.
    let host = greedy_host("").await;
    let data = ok_data(&host.get("/").await).clone();
    assert_eq!(loaded(&data), ["mock-account", "modest"], "{data}");
    let failures = data["failures"].as_array().expect("failures");
    for (name, _, expected) in GREEDY {
        let failure = failures
            .iter()
            .find(|f| {
                f["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with(&format!("/{name}.wasm")))
            })
            .unwrap_or_else(|| panic!("{name} refused: {data}"));
        let error = failure["error"].as_str().expect("error");
        assert!(
            error.contains(&format!("{name}.json5: {expected} in ")),
            "{error}\nwanted: {expected}"
        );
        assert!(
            error.contains("onebot.json5"),
            "names the config file: {error}"
        );
    }
    host.stop().await;

    // The operator raises each ceiling for that plugin alone (or grants it in
    // plugins.grants, which counts as within): all load, with what they asked for.
    let host = greedy_host(
        r#"ceilings: {
             net: { allowedOutboundHosts: ["*://*:*"] },
             mem: { memoryMb: 4096 },
             slow: { timeoutMs: 600000 },
             hoard: { kvQuotaMb: 100000 },
           },
           grants: { call: { callActions: ["send_msg"] } }"#,
    )
    .await;
    let data = ok_data(&host.get("/").await).clone();
    assert_eq!(data["failures"], json!([]), "{data}");
    assert_eq!(
        loaded(&data),
        [
            "call",
            "hoard",
            "mem",
            "mock-account",
            "modest",
            "net",
            "slow"
        ]
    );
    let plugin = |name: &str| {
        data["plugins"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(plugin("mem")["memory_mb"], 4096);
    assert_eq!(plugin("slow")["timeout_ms"], 600_000);
    assert_eq!(plugin("call")["grants"]["callActions"], json!(["send_msg"]));
    assert_eq!(plugin("modest")["memory_mb"], 64);
    host.stop().await;
}
