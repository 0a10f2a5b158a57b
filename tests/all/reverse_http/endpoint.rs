//! A bot's end of `httpClients`: a real HTTP server (axum, port 0) that records every POST
//! it receives and answers each with what the test says. Every wait has a timeout; nothing
//! sleeps.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;

/// How long one expected POST may take to arrive before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// One POST as the endpoint received it.
#[derive(Debug)]
pub struct Post {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub event: Value,
}

impl Post {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Answer = Arc<dyn Fn(&Value) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

pub struct Endpoint {
    pub url: String,
    posts: mpsc::UnboundedReceiver<Post>,
    server: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// An endpoint answering every POST with 204 No Content (nothing to do).
    pub async fn quiet() -> Endpoint {
        Self::answering(|_| StatusCode::NO_CONTENT.into_response()).await
    }

    /// An endpoint answering each event with `answer(event)`.
    pub async fn answering(
        answer: impl Fn(&Value) -> Response + Send + Sync + 'static,
    ) -> Endpoint {
        let answer = Arc::new(answer);
        Self::start(Arc::new(move |event: &Value| {
            let response = answer(event);
            Box::pin(async move { response })
        }))
        .await
    }

    /// An endpoint that records each POST and never answers it.
    pub async fn stuck() -> Endpoint {
        Self::start(Arc::new(|_: &Value| {
            Box::pin(async {
                std::future::pending::<()>().await;
                StatusCode::OK.into_response()
            })
        }))
        .await
    }

    async fn start(answer: Answer) -> Endpoint {
        let (record, posts) = mpsc::unbounded_channel();
        let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            let answer = answer.clone();
            async move {
                let event = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let response = answer(&event);
                let _ = record.send(Post {
                    headers,
                    body,
                    event,
                });
                response.await
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("endpoint binds");
        let url = format!("http://{}/onebot", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Endpoint { url, posts, server }
    }

    /// The next POST; fails the test after [`WAIT`].
    pub async fn next(&mut self) -> Post {
        tokio::time::timeout(WAIT, self.posts.recv())
            .await
            .unwrap_or_else(|_| panic!("no POST to {} within {WAIT:?}", self.url))
            .expect("endpoint running")
    }

    /// POSTs until one whose event satisfies `wanted`; returns it (earlier ones are dropped).
    pub async fn next_where(&mut self, wanted: impl Fn(&Value) -> bool) -> Post {
        loop {
            let post = self.next().await;
            if wanted(&post.event) {
                return post;
            }
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A URL on which nothing listens: a port bound, then released.
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/")
}

/// One `httpClients` entry (JSON5) named `name` for `url`, with extra fields.
pub fn client(name: &str, url: &str, fields: &str) -> String {
    format!(r#"{{ name: "{name}", enable: true, url: "{url}", {fields} }}"#)
}
