//! A local HTTP server that records every request it receives (method, path, query, headers,
//! body) and answers with a script of [`JunkAnswer`]s: for pinning the wire of small calls
//! (the providers' token calls) where no simulator serves them, as the platforms' documents
//! give them.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use marketmedia_conformance::junk::JunkAnswer;
//! use marketmedia_conformance::recorder::WireRecorder;
//!
//! let server = WireRecorder::start().await?;
//! server.always(JunkAnswer::json(200, serde_json::json!({ "access_token": "t" })));
//! // ... point a provider's token call at server.base_url() ...
//! let sent = &server.received()[0];
//! assert_eq!(sent.method, "POST");
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use marketmedia_sim::{serve, SimServer};

use crate::junk::JunkAnswer;

/// Most of a request body kept (the calls recorded are small; a bigger body is cut).
pub const MAX_BODY: usize = 1 << 20;
/// Most requests kept (the oldest are dropped beyond it).
pub const MAX_REQUESTS: usize = 1000;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query's pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers (names lowercase), in order; values that are not text are left out.
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Bytes,
}

impl Recorded {
    /// The first query value named `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        pairs_get(&self.query, name)
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        pairs_get(&self.headers, &name)
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as an `application/x-www-form-urlencoded` form's pairs, decoded.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The first form value named `name`.
    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Every parameter of the request: the query's, then the form body's.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut all = self.query.clone();
        if self
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
        {
            all.extend(self.form());
        }
        all
    }
}

fn pairs_get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug)]
struct Shared {
    script: Mutex<(VecDeque<JunkAnswer>, JunkAnswer)>,
    received: Mutex<VecDeque<Recorded>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each value is replaced or pushed whole; a panic elsewhere cannot leave it half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The recording server. Stops when dropped.
#[derive(Debug)]
pub struct WireRecorder {
    shared: Arc<Shared>,
    server: SimServer,
}

impl WireRecorder {
    /// Starts a recorder on a free port of 127.0.0.1, answering HTTP 500 until scripted.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            script: Mutex::new((VecDeque::new(), JunkAnswer::new(500, Bytes::new()))),
            received: Mutex::new(VecDeque::new()),
        });
        let router = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&shared));
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        let server = serve(router, addr).await?;
        Ok(WireRecorder { shared, server })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Answers the next requests with `next`, in order, then every later one with `fallback`.
    pub fn script(&self, next: Vec<JunkAnswer>, fallback: JunkAnswer) {
        *lock(&self.shared.script) = (next.into(), fallback);
    }

    /// Answers every request with `answer`.
    pub fn always(&self, answer: JunkAnswer) {
        self.script(Vec::new(), answer);
    }

    /// The requests received so far, oldest first.
    pub fn received(&self) -> Vec<Recorded> {
        lock(&self.shared.received).iter().cloned().collect()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        lock(&self.shared.received).clear();
    }
}

async fn record(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    {
        let mut received = lock(&shared.received);
        if received.len() == MAX_REQUESTS {
            received.pop_front();
        }
        received.push_back(Recorded {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query,
            headers,
            body,
        });
    }
    let chosen = {
        let mut script = lock(&shared.script);
        let (next, fallback) = &mut *script;
        next.pop_front().unwrap_or_else(|| fallback.clone())
    };
    if let Some(delay) = chosen.delay {
        tokio::time::sleep(delay).await;
    }
    chosen.into_response()
}

impl IntoResponse for JunkAnswer {
    fn into_response(self) -> Response {
        self.to_response()
    }
}
