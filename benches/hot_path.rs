//! Micro-benchmarks of the pieces on a call's hot path (criterion): body decode (JSON, JSON5,
//! form), CQ parse and format, the `message` param normalised to segments, envelope render,
//! and a whole dispatch: a host fallback, and mock-account's `send_private_msg` in a fresh
//! and in a warm instance, through the public async API (`open` → `Dispatcher::call`); and
//! what keeping metrics adds to one plugin call (a [`Metrics::call`] probe, started and
//! finished, SPEC O3).
//!
//! Run: `cargo bench --bench hot_path` (about a minute), or one group:
//! `cargo bench --bench hot_path -- dispatch`. The load benchmark over HTTP is `bench/run`
//! (BENCHMARKS.md).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use criterion::{Criterion, criterion_group, criterion_main};
use onebot_host::dispatch::{ActionRequest, Dispatcher};
use onebot_host::envelope::{Envelope, JsonText, Outcome};
use onebot_host::http::decode;
use onebot_host::message::{format_cq, normalize_params, parse_cq};
use serde_json::{Map, Value, json};

/// The body every load-benchmark row posts (`bench/run`).
const BODY_JSON: &str = r#"{"user_id":12345678,"message":"Hello","echo":"r1"}"#;
const BODY_JSON5: &str = "{user_id: 12345678, message: 'Hello', echo: 'r1',}";
const BODY_FORM: &str = "user_id=12345678&message=Hello&echo=r1";
/// A message with text that needs escaping and three codes, one with an escaped value.
const CQ: &str = "hi &#91;there&#93; [CQ:face,id=178][CQ:at,qq=10001] see \
                  [CQ:image,file=https://example.com/a.png?x=1&#44;2,type=flash] ok";

fn body_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("body_decode");
    let cases = [
        ("json", Some("application/json"), BODY_JSON),
        ("json5", Some("application/json"), BODY_JSON5),
        ("form", Some("application/x-www-form-urlencoded"), BODY_FORM),
    ];
    for (name, content_type, body) in cases {
        // A bench that decodes nothing would measure nothing: check the input once.
        let decoded = decode(&Method::POST, content_type, None, body.as_bytes());
        assert!(decoded.is_ok_and(|d| d.params.len() == 2), "{name}: {body}");
        group.bench_function(name, |b| {
            b.iter(|| {
                decode(
                    &Method::POST,
                    content_type,
                    None,
                    black_box(body.as_bytes()),
                )
            })
        });
    }
    group.finish();
}

fn cq(c: &mut Criterion) {
    let mut group = c.benchmark_group("cq");
    let segments = parse_cq(CQ);
    assert_eq!(segments.len(), 6, "{segments:?}");
    group.bench_function("parse", |b| b.iter(|| parse_cq(black_box(CQ))));
    group.bench_function("format", |b| b.iter(|| format_cq(black_box(&segments))));
    // What dispatch does to every call's params (M3): a CQ string becomes segments.
    let params: Map<String, Value> = json!({"user_id": 12345678, "message": CQ})
        .as_object()
        .cloned()
        .unwrap_or_default();
    group.bench_function("normalize_params", |b| {
        b.iter_batched(
            || params.clone(),
            |mut params| normalize_params(&mut params).map(|()| params),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn envelope(c: &mut Criterion) {
    let mut group = c.benchmark_group("envelope");
    let data = json!({"message_id": 1_298_810_323});
    group.bench_function("render_ok", |b| {
        b.iter(|| {
            Envelope::new(Outcome::Data(black_box(data.clone())), Some(json!("r1"))).to_json()
        })
    });
    // What a plugin call's reply does now: check the plugin's text, splice it in.
    let text = data.to_string();
    group.bench_function("render_plugin_text", |b| {
        b.iter(|| {
            let json = JsonText::new(black_box(text.clone())).expect("valid JSON");
            Envelope::new(Outcome::Json(json), Some(json!("r1"))).to_json()
        })
    });
    group.finish();
}

/// The built example plugin: cargo's guest output (build.rs), else the copy in plugins/.
fn mock_account() -> PathBuf {
    let built = Path::new(env!("ONEBOT_GUEST_DIR")).join("mock_account.wasm");
    if built.is_file() {
        built
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/mock-account.wasm")
    }
}

/// A dispatcher over a folder holding mock-account, with `sidecar` beside it if given.
fn dispatcher(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    name: &str,
    sidecar: Option<&str>,
) -> Arc<Dispatcher> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("plugin folder");
    std::fs::copy(mock_account(), dir.join("mock-account.wasm")).expect("copy mock-account.wasm");
    if let Some(sidecar) = sidecar {
        std::fs::write(dir.join("mock-account.json5"), sidecar).expect("sidecar");
    }
    let path = root.join(format!("{name}.json5"));
    // A data folder each: the key-value database of one dispatcher is locked while it lives.
    let text = format!(r#"{{plugins: {{dir: "{name}", dataDir: "{name}-data", watch: false}}}}"#);
    let config = onebot_host::config::parse(&text, &path)
        .expect("bench config")
        .config;
    rt.block_on(onebot_host::open(&config))
        .expect("open")
        .dispatcher
}

fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let root = tempfile::tempdir().expect("temp dir");
    let fresh = dispatcher(&rt, root.path(), "fresh", None);
    let warm = dispatcher(&rt, root.path(), "warm", Some("{warmInstances: 4}"));
    let params: Map<String, Value> = json!({"user_id": 12345678, "message": "Hello"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let request = |action: &str| ActionRequest {
        action: action.to_owned(),
        params: params.clone(),
    };
    let mut group = c.benchmark_group("dispatch");
    let cases = [
        ("fallback_get_version_info", &fresh, "get_version_info"),
        ("send_private_msg_fresh", &fresh, "send_private_msg"),
        ("send_private_msg_warm", &warm, "send_private_msg"),
    ];
    for (name, dispatcher, action) in cases {
        let first = rt.block_on(dispatcher.call(request(action)));
        assert!(
            matches!(first.outcome, Outcome::Data(_) | Outcome::Json(_)),
            "{name}: {:?}",
            first.outcome
        );
        group.bench_function(name, |b| {
            b.iter_batched(
                || request(action),
                |request| rt.block_on(dispatcher.call(request)),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// O3: the whole per-call cost of metrics: look up the action's handles, count it in flight,
/// time it, count its outcome and observe its duration.
fn metrics(c: &mut Criterion) {
    let metrics = onebot_host::metrics::Metrics::new();
    let plugin: Arc<str> = "mock-account".into();
    metrics.call(&plugin, "send_private_msg").finish(0);
    c.bench_function("metrics/call_probe", |b| {
        b.iter(|| {
            metrics
                .call(black_box(&plugin), black_box("send_private_msg"))
                .finish(0)
        })
    });
}

fn short() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = hot_path;
    config = short();
    targets = body_decode, cq, envelope, dispatch, metrics
}
criterion_main!(hot_path);
