//! Test helpers: start a host with chosen plugins and settings, call it, read envelopes.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use onebot_host::Host;
use serde_json::Value;
use tempfile::TempDir;

/// Where build.rs put the compiled guests (`mock_account.wasm`, `probe.wasm`, …).
pub fn guest(file: &str) -> PathBuf {
    Path::new(env!("ONEBOT_GUEST_DIR")).join(file)
}

/// Makes `dir/plugins` holding `plugins`, each (source, name in the folder) as in [`Setup`];
/// returns its path.
pub fn plugin_folder(dir: &Path, plugins: &[(&str, &str)]) -> PathBuf {
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir(&plugin_dir).expect("plugin dir");
    for (from, to) in plugins {
        std::fs::copy(guest(from), plugin_dir.join(to))
            .unwrap_or_else(|e| panic!("copy {from}: {e}"));
    }
    plugin_dir
}

/// One compile cache for the whole test run, under the target dir.
pub fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-cache")
}

pub struct TestHost {
    pub host: Option<Host>,
    pub base: String,
    pub client: reqwest::Client,
    /// The temp folder holding the config and plugin folder; removed on drop.
    pub _dir: TempDir,
}

/// Builds a host config. `plugins` are (source, name in the plugin folder): a source is a file
/// in the guest dir or an absolute path (`guest` joins it as is). `server` is extra JSON5
/// fields for the one http server,
/// `plugins` extra fields for the `plugins` section, `network` extra fields for the `network`
/// section (other lists: `websocketClients: [...]`, …), `rest` extra top-level fields.
pub struct Setup {
    pub plugins: Vec<(&'static str, &'static str)>,
    /// Sidecar files to write into the plugin folder: (file name, text).
    pub sidecars: Vec<(&'static str, String)>,
    pub server: String,
    /// Extra JSON5 fields for the `network` section (`httpClients: […]`, …).
    pub network: String,
    pub plugin_settings: String,
    pub rest: String,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            plugins: vec![("probe.wasm", "probe.wasm")],
            sidecars: Vec::new(),
            server: String::new(),
            network: String::new(),
            plugin_settings: String::new(),
            rest: String::new(),
        }
    }
}

impl Setup {
    pub fn with_plugins(plugins: &[(&'static str, &'static str)]) -> Self {
        Setup {
            plugins: plugins.to_vec(),
            ..Setup::default()
        }
    }

    pub fn sidecar(mut self, file: &'static str, text: impl Into<String>) -> Self {
        self.sidecars.push((file, text.into()));
        self
    }

    pub fn server(mut self, fields: &str) -> Self {
        self.server = fields.to_owned();
        self
    }

    /// Puts `fields` into the config's `network: { … }` section, after `httpServers`.
    pub fn network(mut self, fields: &str) -> Self {
        self.network = fields.to_owned();
        self
    }

    pub fn plugin_settings(mut self, fields: &str) -> Self {
        self.plugin_settings = fields.to_owned();
        self
    }

    /// The config text for a plugin folder at `dir`.
    pub fn config_text(&self, dir: &Path) -> String {
        format!(
            r#"{{
  network: {{ httpServers: [{{ name: "test", enable: true, host: "127.0.0.1", port: 0, {server} }}], {network} }},
  plugins: {{ dir: {dir:?}, cacheDir: {cache:?}, {settings} }},
  {rest}
}}"#,
            server = self.server,
            network = self.network,
            dir = dir.display().to_string(),
            cache = shared_cache().display().to_string(),
            settings = self.plugin_settings,
            rest = self.rest,
        )
    }

    pub async fn start(self) -> TestHost {
        let dir = tempfile::tempdir().expect("temp dir");
        let plugin_dir = plugin_folder(dir.path(), &self.plugins);
        for (file, text) in &self.sidecars {
            std::fs::write(plugin_dir.join(file), text).expect("write sidecar");
        }
        let config_path = dir.path().join("onebot.json5");
        let text = self.config_text(&plugin_dir);
        std::fs::write(&config_path, &text).expect("write config");
        let loaded = onebot_host::config::parse(&text, &config_path).expect("test config parses");
        let host = onebot_host::start(loaded.config)
            .await
            .expect("host starts");
        let base = format!("http://{}", host.addrs[0]);
        TestHost {
            host: Some(host),
            base,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }
}

impl TestHost {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a JSON body to `/<action>` and returns the envelope.
    pub async fn post(&self, action: &str, body: Value) -> Value {
        envelope(
            self.client
                .post(self.url(&format!("/{action}")))
                .json(&body),
        )
        .await
    }

    pub async fn get(&self, path_and_query: &str) -> Value {
        envelope(self.client.get(self.url(path_and_query))).await
    }

    pub async fn stop(mut self) {
        if let Some(host) = self.host.take() {
            host.stop().await;
        }
    }
}

/// Sends a request, asserts HTTP 200 (H9: every OneBot outcome), and returns the envelope.
pub async fn envelope(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request sent");
    assert_eq!(response.status(), 200, "H9: OneBot outcomes are HTTP 200");
    response.json().await.expect("envelope is JSON")
}

/// Asserts an ok envelope (E1) and returns its data.
pub fn ok_data(envelope: &Value) -> &Value {
    assert_eq!(envelope["status"], "ok", "expected ok: {envelope}");
    assert_eq!(envelope["retcode"], 0, "expected retcode 0: {envelope}");
    &envelope["data"]
}

/// Asserts a failed envelope (E2) with `retcode` and returns its message.
pub fn failed(envelope: &Value, retcode: i64) -> String {
    assert_eq!(envelope["status"], "failed", "expected failed: {envelope}");
    assert_eq!(envelope["retcode"], retcode, "{envelope}");
    assert_eq!(
        envelope["data"],
        Value::Null,
        "E2: data is null: {envelope}"
    );
    assert_eq!(
        envelope["message"], envelope["wording"],
        "E2: wording = message"
    );
    envelope["message"]
        .as_str()
        .expect("message is a string")
        .to_owned()
}

/// Polls `check` until it returns `Some`, or fails the test after 30 s.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
