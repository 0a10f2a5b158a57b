//! Table-driven tests of the config module, named after the SPEC rule each one covers
//! (C1–C5, P6, W6). The process environment is never read: `CacheEnv` is passed in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::validate::CacheEnv;
use super::*;

const PATH: &str = "config/onebot.json5";

fn env() -> CacheEnv {
    CacheEnv {
        xdg_cache_home: None,
        home: Some("/home/op".into()),
    }
}

fn parse_ok(text: &str) -> Loaded {
    parse_in(text, Path::new(PATH), &env()).unwrap_or_else(|error| panic!("{text}\n→ {error}"))
}

fn parse_err(text: &str) -> String {
    match parse_in(text, Path::new(PATH), &env()) {
        Ok(loaded) => panic!("accepted {text}\n→ {loaded:?}"),
        Err(error) => error.to_string(),
    }
}

/// A config whose `network.httpServers` is `servers` (JSON5 text).
fn with_servers(servers: &str) -> String {
    format!("{{ network: {{ httpServers: [{servers}] }} }}")
}

const NOTHING_LISTENS: &str = "config/onebot.json5: no enabled httpServers: nothing will listen";

#[test]
fn c2_c3b_c4_missing_keys_and_sections_mean_defaults() {
    let texts = [
        "{}",
        "{ network: {} }",
        "{ network: { httpServers: [] }, bot: {}, plugins: {} }",
        r#"{"network": {"httpServers": [{"enable": false}]}}"#,
        "// comments only around it\n{ /* nothing */ }\n",
    ];
    for text in texts {
        let loaded = parse_ok(text);
        let config = &loaded.config;
        assert_eq!(loaded.warnings, [NOTHING_LISTENS], "{text}");
        assert_eq!(config.path, Path::new(PATH));
        assert!(config.servers.is_empty(), "{text}");
        assert_eq!(
            config.bot,
            Bot {
                self_id: 10_000,
                nickname: "onebot-host".into()
            }
        );
        let expected = Plugins {
            dir: PathBuf::from("config/plugins"),
            watch: true,
            cache_dir: Some(PathBuf::from("/home/op/.cache/onebot-host")),
            limits: Limits {
                timeout_ms: 5_000,
                memory_mb: 128,
                max_result_bytes: 16 << 20,
                max_events_per_call: 1000,
                kv_quota_mb: 64,
            },
            rate_limit_gap_ms: 500,
            max_concurrent_calls: 64,
            data_dir: PathBuf::from("config/data"),
            grants: BTreeMap::new(),
            trust: Trust::validate(Path::new(PATH), BTreeMap::new(), BTreeMap::new())
                .expect("valid"),
        };
        assert_eq!(config.plugins, expected, "{text}");
        assert_eq!(Limits::default(), expected.limits);
    }
}

#[test]
fn c2_w6_server_entry_defaults_are_napcats_and_ours() {
    let loaded = parse_ok(&with_servers("{ enable: true }"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let expected = Listener {
        name: "http-server".into(),
        host: "127.0.0.1".into(),
        port: 3000,
        kind: ListenerKind::Http(HttpOptions {
            enable_cors: true,
            enable_websocket: false,
            metrics: true,
            dashboard: true,
        }),
        message_post_format: PostFormat::Array,
        report_self_message: true,
        token: Secret::default(),
        debug: false,
        heart_interval_ms: 30_000,
        max_body_bytes: 16 * 1024 * 1024,
        ws_queue_messages: 1024,
        header_timeout_ms: 10_000,
        body_timeout_ms: 60_000,
        allow_origins: Vec::new(),
        allow_hosts: Vec::new(),
    };
    assert_eq!(Listener::default(), expected);
    assert_eq!(loaded.config.servers, [expected]);
}

#[test]
#[rustfmt::skip]
fn c2_c3_every_key_is_read_and_only_enabled_servers_kept_in_file_order() {
    let text = r#"{
      network: { httpServers: [
        { name: "b", enable: true, port: 0, host: "0.0.0.0", enableCors: false,
          enableWebsocket: true, messagePostFormat: "string", token: "s3cret", debug: true,
          heartInterval: 0, maxBodyBytes: 5242880000, wsQueueMessages: 1,
          headerTimeoutMs: 100, bodyTimeoutMs: 86400000 },
        { name: "off", enable: false, port: 0 },
        { name: "a", enable: true, port: 0, host: "::1" },
      ] },
      bot: { selfId: 123456789, nickname: "bot" },
      plugins: { dir: "/srv/plugins", watch: false, cacheDir: "/var/cache/x", timeoutMs: 1,
                 memoryMb: 4096, rateLimitGapMs: 0, dataDir: "/srv/data",
                 grants: { echo: { keyValue: ["default"], config: { a: "x$$" } } },
                 env: { echo: ["HOME"] }, ceilings: { "*": { memoryMb: 256 } } },
    }"#;
    let loaded = parse_ok(text);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    let names: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
    let b = &config.servers[0];
    let http = b.kind.http().expect("an HTTP server");
    assert_eq!((b.host.as_str(), b.port, http.enable_cors, http.enable_websocket), ("0.0.0.0", 0, false, true));
    assert_eq!((b.message_post_format, b.message_post_format.as_str()), (PostFormat::String, "string"));
    assert_eq!((b.token.expose(), b.debug, b.heart_interval_ms), ("s3cret", true, 0));
    assert_eq!((b.max_body_bytes, b.ws_queue_messages), (MAX_BODY_BYTES_LIMIT, 1));
    assert_eq!((b.header_timeout_ms, b.body_timeout_ms), (100, 86_400_000));
    // H6: the token never reaches a log line, not even through `{:?}` of the config.
    assert!(!format!("{config:?}").contains("s3cret"));
    assert_eq!(config.bot, Bot { self_id: 123_456_789, nickname: "bot".into() });
    let limits = Limits { timeout_ms: 1, memory_mb: 4096, ..Limits::default() };
    let expected = Plugins {
        dir: PathBuf::from("/srv/plugins"),
        watch: false,
        cache_dir: Some(PathBuf::from("/var/cache/x")),
        limits,
        rate_limit_gap_ms: 0,
        max_concurrent_calls: 64,
        data_dir: PathBuf::from("/srv/data"),
        grants: BTreeMap::from([("echo".to_owned(), PartialGrants {
            config: Some(BTreeMap::from([("a".to_owned(), "x$".into())])),
            key_value: Some(vec!["default".to_owned()]),
            ..PartialGrants::default()
        })]),
        trust: Trust::validate(
            Path::new(PATH),
            BTreeMap::from([("echo".to_owned(), vec!["HOME".to_owned()])]),
            BTreeMap::from([("*".to_owned(), trust::RawCeiling {
                memory_mb: Some(256),
                ..trust::RawCeiling::default()
            })]),
        ).expect("valid"),
    };
    assert_eq!(config.plugins, expected);
}

#[test]
fn c1_napcat_onebot11_file_loads_with_one_warning_per_unknown_key() {
    let napcat = r#"{
  "network": {
    "httpServers": [
      { "name": "httpServer", "enable": true, "port": 3000, "host": "0.0.0.0",
        "enableCors": true, "enableWebsocket": true, "messagePostFormat": "array",
        "token": "abc", "debug": false }
    ],
    "httpSseServers": [],
    "httpClients": [
      { "name": "client", "enable": false, "url": "http://localhost:8080",
        "messagePostFormat": "array", "reportSelfMessage": false, "token": "", "debug": false }
    ],
    "websocketServers": [
      { "name": "WsServer", "enable": true, "host": "0.0.0.0", "port": 3001,
        "messagePostFormat": "array", "reportSelfMessage": false, "token": "",
        "enableForcePushEvent": true, "debug": false, "heartInterval": 30000 }
    ],
    "websocketClients": [],
    "plugins": []
  },
  "musicSignUrl": "",
  "enableLocalFile2Url": false,
  "parseMultMsg": false
}"#;
    let loaded = parse_ok(napcat);
    // Issue 15: NapCat's five network lists are all read now; only the rest is unknown.
    let unknown = [
        "network.plugins",
        "musicSignUrl",
        "enableLocalFile2Url",
        "parseMultMsg",
    ];
    let expected: Vec<String> = unknown
        .iter()
        .map(|key| format!("{PATH}: unknown key `{key}` ignored"))
        .collect();
    assert_eq!(loaded.warnings, expected);
    let server = &loaded.config.servers[0];
    assert_eq!(
        (server.name.as_str(), server.host.as_str(), server.port),
        ("httpServer", "0.0.0.0", 3000)
    );
    assert!(server.kind.websocket());
    let ws = &loaded.config.servers[1];
    assert_eq!(
        (ws.name.as_str(), ws.port, ws.kind),
        ("WsServer", 3001, ListenerKind::WebSocket)
    );
    assert!(!ws.report_self_message);
    assert!(loaded.config.http_clients.is_empty(), "disabled");
    // NapCat's `network.plugins` is not our top-level `plugins` section.
    assert_eq!(loaded.config.plugins.dir, PathBuf::from("config/plugins"));
}

#[test]
#[rustfmt::skip]
fn c3_two_enabled_servers_on_one_address_are_refused() {
    let accepted = [
        r#"{ enable: true, port: 0 }, { enable: true, port: 0 }"#,
        r#"{ enable: true }, { enable: false }"#,
        r#"{ enable: true, port: 3000 }, { enable: true, port: 3001 }"#,
        r#"{ enable: true, host: "127.0.0.1" }, { enable: true, host: "127.0.0.2" }"#,
        r#"{ enable: true, host: "0.0.0.0" }, { enable: true, host: "::1" }"#,
    ];
    for servers in accepted {
        parse_ok(&with_servers(servers));
    }
    let refused = [
        (r#"{ name: "a", enable: true }, { enable: false }, { name: "b", enable: true }"#,
         r#"[0] ("a" on 127.0.0.1:3000) and network.httpServers[2] ("b" on 127.0.0.1:3000)"#),
        (r#"{ name: "a", enable: true, host: "0.0.0.0" }, { name: "b", enable: true }"#,
         r#"[0] ("a" on 0.0.0.0:3000) and network.httpServers[1] ("b" on 127.0.0.1:3000)"#),
        (r#"{ name: "a", enable: true }, { name: "b", enable: true, host: "::" }"#,
         r#"[0] ("a" on 127.0.0.1:3000) and network.httpServers[1] ("b" on [::]:3000)"#),
        (r#"{ name: "a", enable: true, host: "LOCALHOST" }, { name: "b", enable: true, host: "localhost" }"#,
         r#"[0] ("a" on LOCALHOST:3000) and network.httpServers[1] ("b" on localhost:3000)"#),
        (r#"{ name: "a", enable: true, host: "[::1]" }, { name: "b", enable: true, host: "::1" }"#,
         r#"[0] ("a" on [::1]:3000) and network.httpServers[1] ("b" on [::1]:3000)"#),
    ];
    for (servers, pair) in refused {
        let expected = format!(
            "{PATH}: network.httpServers{pair} would listen on the same address; \
             give one of them another port or disable it"
        );
        assert_eq!(parse_err(&with_servers(servers)), expected);
    }
}

#[test]
#[rustfmt::skip]
fn c5_w6_e5_values_out_of_range_are_refused() {
    let server = |s: &str| with_servers(s);
    let plugins = |s: &str| format!("{{ plugins: {{ {s} }} }}");
    let cases = [
        (server("{ maxBodyBytes: 0 }"),
         "network.httpServers[0].maxBodyBytes: expected 1 to 5242880000 bytes (5000 MB), got 0"),
        (server("{ maxBodyBytes: 5242880001 }"),
         "network.httpServers[0].maxBodyBytes: expected 1 to 5242880000 bytes (5000 MB), \
          got 5242880001"),
        (server("{}, { wsQueueMessages: 0 }"),
         "network.httpServers[1].wsQueueMessages: expected 1 to 1000000 messages, got 0"),
        (server("{ heartInterval: 86400001 }"),
         "network.httpServers[0].heartInterval: expected 0 to 86400000 ms (0 = off), got 86400001"),
        (server("{ headerTimeoutMs: 99 }"),
         "network.httpServers[0].headerTimeoutMs: expected 100 to 86400000 ms, got 99"),
        (server("{ bodyTimeoutMs: 86400001 }"),
         "network.httpServers[0].bodyTimeoutMs: expected 100 to 86400000 ms, got 86400001"),
        (plugins("timeoutMs: 0"), "plugins.timeoutMs: expected 1 to 86400000 ms, got 0"),
        (plugins("memoryMb: 0"), "plugins.memoryMb: expected 1 to 4096 MiB, got 0"),
        (plugins("memoryMb: 4097"), "plugins.memoryMb: expected 1 to 4096 MiB, got 4097"),
        (plugins("maxResultBytes: 0"), "plugins.maxResultBytes: expected 1 to 1073741824 bytes, got 0"),
        (plugins("maxEventsPerCall: 1000001"), "plugins.maxEventsPerCall: expected 0 to 1000000, got 1000001"),
        (plugins("rateLimitGapMs: 86400001"),
         "plugins.rateLimitGapMs: expected 0 to 86400000 ms (0 = no gap), got 86400001"),
        (plugins("dir: ''"), "plugins.dir: empty; expected a folder path"),
        (plugins("cacheDir: ''"),
         "plugins.cacheDir: empty; expected a folder path, \"off\", or null for the default"),
        (plugins("ceilings: { x: { memoryMb: 5000 } }"),
         "plugins.ceilings.x.memoryMb: expected 1 to 4096 MiB, got 5000"),
        (plugins("ceilings: { '*': { allowedOutboundHosts: ['ftp://x'] } }"),
         "plugins.ceilings.*.allowedOutboundHosts[0]: \"ftp://x\": scheme `ftp`: expected http, https or *"),
        (plugins("env: { x: ['A-B'] }"),
         "plugins.env.x: \"A-B\": expected an environment variable's name (letters, digits and `_`, \
          not starting with a digit), without `${}`"),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_err(&text), format!("{PATH}: {expected}"), "{text}");
    }
}

#[test]
fn c4_relative_folders_resolve_against_the_config_folder() {
    let cases = [
        ("config/onebot.json5", "plugins", "config/plugins"),
        ("config/onebot.json5", "../plugins", "config/../plugins"),
        ("onebot.json5", "plugins", "plugins"),
        ("/etc/onebot/onebot.json5", "wasm", "/etc/onebot/wasm"),
        ("/etc/onebot/onebot.json5", "/srv/plugins", "/srv/plugins"),
    ];
    for (config, dir, expected) in cases {
        let text = format!("{{ plugins: {{ dir: {dir:?}, cacheDir: {dir:?} }} }}");
        let plugins = parse_in(&text, Path::new(config), &env())
            .expect("valid")
            .config
            .plugins;
        assert_eq!(plugins.dir, Path::new(expected), "{config} + {dir}");
        assert_eq!(plugins.cache_dir.as_deref(), Some(Path::new(expected)));
    }
}

#[test]
#[rustfmt::skip]
fn c4_cache_dir_default_off_and_explicit() {
    let env = |xdg: Option<&str>, home: Option<&str>| CacheEnv {
        xdg_cache_home: xdg.map(Into::into),
        home: home.map(Into::into),
    };
    let uncached = "config/onebot.json5: plugins.cacheDir: neither $XDG_CACHE_HOME nor $HOME \
                    is set; compiled plugins will not be cached";
    let cases = [
        ("", env(Some("/xdg"), Some("/home/op")), Some("/xdg/onebot-host"), None),
        ("cacheDir: null", env(Some("/xdg"), None), Some("/xdg/onebot-host"), None),
        // The XDG spec: a relative $XDG_CACHE_HOME is ignored.
        ("", env(Some("rel"), Some("/home/op")), Some("/home/op/.cache/onebot-host"), None),
        ("", env(None, Some("")), None, Some(uncached)),
        ("", env(None, None), None, Some(uncached)),
        ("cacheDir: 'off'", env(Some("/xdg"), Some("/home/op")), None, None),
        ("cacheDir: 'cache'", env(None, None), Some("config/cache"), None),
    ];
    for (plugins, env, expected, warning) in cases {
        let text = format!("{{ network: {{ httpServers: [{{ enable: true }}] }}, plugins: {{ {plugins} }} }}");
        let loaded = parse_in(&text, Path::new(PATH), &env).expect("valid config");
        assert_eq!(loaded.config.plugins.cache_dir.as_deref(), expected.map(Path::new), "{plugins} {env:?}");
        assert_eq!(loaded.warnings.first().map(String::as_str), warning, "{plugins} {env:?}");
    }
}

#[test]
#[rustfmt::skip]
fn c1_shipped_config_has_every_key_at_its_default_and_no_warnings() {
    let text = include_str!("../../config/onebot.json5");
    let loaded = parse_ok(text);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    assert_eq!(config.servers, [Listener::default()]);
    assert_eq!(config.bot, Bot::default());
    let plugins = config.plugins;
    assert_eq!(plugins.dir, Path::new("config/../plugins"));
    assert_eq!(plugins.data_dir, Path::new("config/data"));
    assert_eq!(plugins.cache_dir.as_deref(), Some(Path::new("/home/op/.cache/onebot-host")));
    assert_eq!((plugins.watch, plugins.limits, plugins.rate_limit_gap_ms), (true, Limits::default(), 500));

    // Every key is spelled out, so the file doubles as the reference.
    let value: serde_json::Value = json5::from_str(text).expect("JSON5");
    let sections: [(&str, &[&str]); 3] = [
        ("/network/httpServers/0", &["name", "enable", "port", "host", "enableCors",
            "enableWebsocket", "messagePostFormat", "token", "debug", "heartInterval",
            "maxBodyBytes", "wsQueueMessages", "headerTimeoutMs", "bodyTimeoutMs", "allowOrigins",
            "allowHosts", "metrics", "dashboard"]),
        ("/bot", &["selfId", "nickname"]),
        ("/plugins", &["dir", "watch", "cacheDir", "timeoutMs", "memoryMb", "maxResultBytes",
            "maxEventsPerCall", "kvQuotaMb", "rateLimitGapMs", "maxConcurrentCalls", "dataDir",
            "env", "ceilings"]),
    ];
    for (pointer, keys) in sections {
        let section = value.pointer(pointer).and_then(|v| v.as_object()).expect(pointer);
        let mut present: Vec<&str> = section.keys().map(String::as_str).collect();
        let mut keys = keys.to_vec();
        present.sort_unstable();
        keys.sort_unstable();
        assert_eq!(present, keys, "{pointer}");
    }
}

#[test]
fn c1_c5_load_reads_the_file_or_names_it_when_it_cannot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("onebot.json5");
    let text = "{ network: { httpServers: [{ enable: true, port: 0 }] } }";
    std::fs::write(&path, text).expect("write");
    let loaded = load(&path).expect("loads");
    assert_eq!(loaded.config.path, path);
    assert_eq!(loaded.config.plugins.dir, dir.path().join("plugins"));
    assert_eq!(loaded.config.servers[0].port, 0);

    let missing = dir.path().join("missing.json5");
    let error = load(&missing).expect_err("missing file");
    assert!(matches!(error, ConfigError::Read { .. }));
    let message = error.to_string();
    let prefix = format!("{}: cannot read: ", missing.display());
    assert!(message.starts_with(&prefix), "{message}");
}

#[test]
#[rustfmt::skip]
fn issue15_clients_and_extra_servers_take_napcats_defaults_and_are_checked() {
    let text = r#"{ network: {
        httpClients: [{ enable: true, url: "http://127.0.0.1:8080/onebot", token: "s3cret" }],
        websocketClients: [{ enable: true, url: "ws://127.0.0.1:8082/onebot/v11/ws" }],
        httpSseServers: [{ enable: true, port: 0, reportSelfMessage: true }],
        websocketServers: [{ enable: true, port: 0 }],
    } }"#;
    let config = parse_ok(text).config;
    let http = &config.http_clients[0];
    assert_eq!((http.name.as_str(), http.url.as_str()), ("http-client", "http://127.0.0.1:8080/onebot"));
    assert_eq!((http.message_post_format, http.report_self_message), (PostFormat::Array, false));
    let ws = &config.ws_clients[0];
    assert_eq!((ws.name.as_str(), ws.reconnect_interval_ms, ws.heart_interval_ms), ("websocket-client", 5_000, 30_000));
    let sections: Vec<&str> = config.servers.iter().map(|s| s.kind.section()).collect();
    assert_eq!(sections, ["websocketServers", "httpSseServers"]);
    assert!(config.servers[1].report_self_message);
    // Tokens stay out of Debug (H6).
    assert!(!format!("{config:?}").contains("s3cret"));

    let refused = [
        (r#"{ network: { httpClients: [{ url: "https://x" }] } }"#, "network.httpClients[0].url"),
        (r#"{ network: { websocketClients: [{ url: "http://x" }] } }"#, "network.websocketClients[0].url"),
        (r#"{ network: { websocketClients: [{ reconnectInterval: 1 }] } }"#, "network.websocketClients[0].reconnectInterval"),
        (r#"{ network: { httpServers: [{ enable: true, port: 3000 }],
                          httpSseServers: [{ enable: true, port: 3000 }] } }"#,
         "network.httpSseServers[0]"),
    ];
    for (text, key) in refused {
        let error = parse(text, Path::new(PATH)).expect_err(text).to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn d1_the_dashboard_is_on_by_default_only_on_loopback() {
    for (fields, on) in [
        (r#"host: "127.0.0.1""#, true),
        (r#"host: "localhost""#, true),
        (r#"host: "::1""#, true),
        (r#"host: "[::1]""#, true),
        (r#"host: "0.0.0.0""#, false),
        (r#"host: "192.168.1.5""#, false),
        (r#"host: "0.0.0.0", dashboard: true"#, true),
        (r#"host: "127.0.0.1", dashboard: false"#, false),
    ] {
        let loaded = parse_ok(&with_servers(&format!("{{ enable: true, {fields} }}")));
        let http = loaded.config.servers[0].kind.http();
        assert_eq!(http.map(|h| h.dashboard), Some(on), "{fields}");
    }
    let sse = parse_ok(r#"{ network: { httpSseServers: [{ enable: true, host: "0.0.0.0" }] } }"#);
    assert_eq!(
        sse.config.servers[0].kind.http().map(|h| h.dashboard),
        Some(false)
    );
    let ws = parse_ok(r#"{ network: { websocketServers: [{ enable: true }] } }"#);
    assert_eq!(
        ws.config.servers[0].kind.http(),
        None,
        "no dashboard, no metrics"
    );
}

#[test]
fn o9_d1_metrics_are_kept_while_a_server_shows_them_or_the_dashboard() {
    for (fields, kept) in [
        ("", true),
        ("metrics: false", true),
        ("dashboard: false", true),
        ("metrics: false, dashboard: false", false),
        (r#"host: "0.0.0.0", metrics: false"#, false),
    ] {
        let loaded = parse_ok(&with_servers(&format!("{{ enable: true, {fields} }}")));
        assert_eq!(loaded.config.keeps_metrics(), kept, "{fields}");
    }
}

/// H6, S1: `Debug` of a whole config (what a `{config:?}` in a log line prints) holds no token
/// of any list and no plugin config value, literal or read from a `${VAR}`.
#[test]
#[rustfmt::skip]
fn h6_debug_of_a_config_shows_no_secret() {
    let text = r#"{
      network: {
        httpServers: [{ enable: true, port: 0, token: "http-s3cret" }],
        websocketServers: [{ enable: true, port: 0, token: "ws-s3cret" }],
        httpSseServers: [{ enable: true, port: 0, token: "sse-s3cret" }],
        httpClients: [{ enable: true, url: "http://127.0.0.1:8080", token: "post-s3cret" }],
        websocketClients: [{ enable: true, url: "ws://127.0.0.1:8082", token: "dial-s3cret" }],
      },
      upstream: { url: "ws://127.0.0.1:3001", token: "upstream-s3cret" },
      plugins: { grants: { echo: { config: { literal: "grant-s3cret" } } } },
    }"#;
    let mut config = parse_ok(text).config;
    // A `${VAR}` value, read from a stand-in environment: the process's is never touched.
    let raw = grants::RawGrants {
        config: Some(BTreeMap::from([("key".to_owned(), "${API_KEY}".into())])),
        ..grants::RawGrants::default()
    };
    let env = |name: &str| (name == "API_KEY").then(|| "env-s3cret".to_owned());
    let resolved = grants::resolve(raw, Path::new(PATH), "", &env, &grants::any_variable)
        .expect("valid");
    let combined = resolved.clone().over(None);
    assert_eq!(combined.config["key"].expose(), "env-s3cret");
    config.plugins.grants.insert("env".to_owned(), resolved);
    let shown = format!("{config:?} {combined:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert_eq!(shown.matches("<redacted>").count(), 9, "{shown}");
}

/// C7: every URL the host connects to is checked at load, so a bad one stops the host before it
/// starts (C5) instead of leaving a connection that never works; the message names the key.
#[test]
#[rustfmt::skip]
fn c7_a_url_without_host_unparsable_or_of_another_scheme_is_refused_naming_its_key() {
    // `URL` in each config stands for the URL under test.
    let keys = [
        ("{ network: { httpClients: [{ url: URL }] } }", "network.httpClients[0].url", "http"),
        ("{ network: { websocketClients: [{ url: URL }] } }", "network.websocketClients[0].url", "ws"),
        ("{ upstream: { url: URL } }", "upstream.url", "ws"),
    ];
    for (config, key, scheme) in keys {
        let cases = [
            (format!("{scheme}://:3001/onebot"), "has no host".to_owned()),
            (format!("{scheme}://a b"), "not a URL".to_owned()),
            ("ftp://127.0.0.1:3001".to_owned(), format!("{scheme}:// URL")),
        ];
        for (url, message) in cases {
            let error = parse_err(&config.replace("URL", &format!("{url:?}")));
            assert!(error.starts_with(&format!("{PATH}: {key}: ")), "{url}: {error}");
            assert!(error.contains(&message), "{url}: {error}");
        }
    }
}

/// C2, N1, N2: each listening list has its own defaults, and the keys only some lists have are
/// unknown keys on the others (warned and ignored, whatever their value), as NapCat's lists are.
#[test]
#[rustfmt::skip]
fn n1_n2_each_list_has_its_defaults_and_only_its_keys() {
    let text = r#"{ network: {
        websocketServers: [{ enable: true, enableCors: "x", metrics: true, dashboard: true,
                             headerTimeoutMs: 1, enableForcePushEvent: false }],
        httpSseServers: [{ enable: true, port: 3002, heartInterval: 1, bodyTimeoutMs: 1,
                           enableForcePushEvent: true }],
        httpServers: [{ enable: true, port: 3003, enableForcePushEvent: true }],
    } }"#;
    let loaded = parse_ok(text);
    let unknown = [
        "websocketServers[0].enableCors", "websocketServers[0].metrics",
        "websocketServers[0].dashboard", "websocketServers[0].headerTimeoutMs",
        "httpSseServers[0].heartInterval", "httpSseServers[0].bodyTimeoutMs",
        "httpSseServers[0].enableForcePushEvent", "httpServers[0].enableForcePushEvent",
    ];
    let expected: Vec<String> =
        unknown.iter().map(|key| format!("{PATH}: unknown key `network.{key}` ignored")).collect();
    assert_eq!(loaded.warnings, expected);
    let http = HttpOptions { enable_cors: true, enable_websocket: false, metrics: true, dashboard: true };
    let expected = [
        Listener { port: 3003, ..Listener::default() },
        Listener {
            name: "websocket-server".into(), port: 3001, kind: ListenerKind::WebSocket,
            report_self_message: false, ..Listener::default()
        },
        Listener {
            name: "http-sse-server".into(), port: 3002, kind: ListenerKind::HttpSse(http),
            report_self_message: false, ..Listener::default()
        },
    ];
    assert_eq!(loaded.config.servers, expected);
    assert!(loaded.config.servers[1].kind.websocket());

    // A key the list reads is still checked, with its position.
    let error = parse_err("{ network: { httpSseServers: [{\n enableCors: 1 }] } }");
    assert_eq!(error, format!("{PATH}:2:14: network.httpSseServers[0].enableCors: \
                               invalid type: integer `1`, expected a boolean"));
}
