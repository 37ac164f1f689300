//! The decoder-robustness harness: a server that answers whatever a test tells it to,
//! proptest strategies for junk answers, and drivers that call every public call of a
//! provider against it and check each result is `Ok` or a typed error (never a panic, and
//! never `Ok` for an error status).
//!
//! A provider decodes every answer it gets; a real platform, a proxy or a broken gateway may
//! send anything. [`JunkServer`] answers every request (any method, any path) with the next
//! [`JunkAnswer`] of a script the test sets, then with a fallback answer, so a test points a
//! provider's base URL at it and checks that each public call returns `Ok` or a typed `Err`
//! and never panics. [`junk_answer`] generates answers: arbitrary bytes, arbitrary JSON, and
//! JSON shaped like a platform's envelope (its field names, with values of random types).
//!
//! ```no_run
//! use marketmedia_conformance::junk::{JunkAnswer, JunkServer};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let junk = JunkServer::start().await?;
//! junk.script(
//!     vec![JunkAnswer::json(200, serde_json::json!({ "error": 42 }))],
//!     JunkAnswer::new(503, "<html>busy</html>"),
//! );
//! // ... point a provider at junk.base_url() and call it ...
//! assert!(junk.requests() <= 10);
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Map, Value};

use marketmedia_core::raw::{Part, PartReceipt, SourceInfo, UploadSession};
use marketmedia_core::{ChunkedVideoUploader, Digests, MediaFormat, ProcessingHandle};

use marketmedia_sim::{serve, SimServer};

/// One answer: status, headers, body and an optional delay before answering.
#[derive(Clone, PartialEq, Eq)]
pub struct JunkAnswer {
    /// HTTP status (100–999; values `http` refuses become 500).
    pub status: u16,
    /// Headers; names or values `http` refuses are skipped.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, sent as is.
    pub body: Bytes,
    /// Wait this long before answering (to exercise read timeouts).
    pub delay: Option<Duration>,
}

impl JunkAnswer {
    /// An answer with `status` and `body` and no header.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        JunkAnswer {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: None,
        }
    }

    /// An answer with a JSON body and `Content-Type: application/json`.
    pub fn json(status: u16, body: Value) -> Self {
        JunkAnswer::new(status, body.to_string()).with_header("content-type", "application/json")
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The same answer, sent after `delay`.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub(crate) fn to_response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                response.headers_mut().append(n, v);
            }
        }
        response
    }
}

/// Shows the body as text, cut to 200 characters, so proptest's failure reports stay readable.
impl fmt::Debug for JunkAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body: String = String::from_utf8_lossy(&self.body)
            .chars()
            .take(200)
            .collect();
        let headers: Vec<(&str, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        f.debug_struct("JunkAnswer")
            .field("status", &self.status)
            .field("headers", &headers)
            .field("body", &body)
            .field("body_len", &self.body.len())
            .field("delay", &self.delay)
            .finish()
    }
}

#[derive(Debug)]
struct Script {
    next: VecDeque<JunkAnswer>,
    fallback: JunkAnswer,
}

#[derive(Debug)]
struct Shared {
    script: Mutex<Script>,
    requests: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Script> {
        // The script is replaced whole; a panic elsewhere cannot leave it half-written.
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A local HTTP server answering every request with the next answer of its script, then with
/// its fallback (HTTP 500, empty body, until told otherwise). Stops when dropped.
#[derive(Debug)]
pub struct JunkServer {
    shared: Arc<Shared>,
    server: SimServer,
}

impl JunkServer {
    /// Starts a junk server on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            script: Mutex::new(Script {
                next: VecDeque::new(),
                fallback: JunkAnswer::new(500, Bytes::new()),
            }),
            requests: AtomicU64::new(0),
        });
        let router = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        let server = serve(router, addr).await?;
        Ok(JunkServer { shared, server })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// `127.0.0.1:PORT`: a host to hand out as a storage domain.
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// Answers the next requests with `next`, in order, then every later one with `fallback`.
    /// Replaces the previous script.
    pub fn script(&self, next: Vec<JunkAnswer>, fallback: JunkAnswer) {
        let mut script = self.shared.lock();
        script.next = next.into();
        script.fallback = fallback;
    }

    /// Answers every request with `answer`.
    pub fn always(&self, answer: JunkAnswer) {
        self.script(Vec::new(), answer);
    }

    /// Requests received since the server started.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }
}

async fn answer(State(shared): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    // Read the request to its end before answering, as the platforms' servers do. An answer
    // sent over an unread body (a part, an image) makes the server close the connection
    // after it, and the client's next call could then be written on that closing pooled
    // connection: a connection error the harness would wrongly blame on the decoder. The
    // bytes are discarded as they arrive (bounded memory whatever the body's size).
    let mut body = request.into_body().into_data_stream();
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        if chunk.is_err() {
            break;
        }
    }
    let chosen = {
        let mut script = shared.lock();
        script
            .next
            .pop_front()
            .unwrap_or_else(|| script.fallback.clone())
    };
    if let Some(delay) = chosen.delay {
        tokio::time::sleep(delay).await;
    }
    chosen.to_response()
}

// ---- strategies ---------------------------------------------------------------------------

/// A JSON scalar of any type, biased towards values decoders trip on: empty and numeric
/// strings, zero, negatives, huge and fractional numbers, booleans and null.
pub fn json_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            any::<f64>(),
            Just(1e300),
            Just(-1e300),
            Just(f64::MAX),
            Just(0.5)
        ]
        .prop_map(Value::from),
        prop_oneof![
            Just(String::new()),
            Just("0".to_owned()),
            Just("-1".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("true".to_owned()),
            "[a-zA-Z0-9_:/.+ -]{0,24}",
            any::<String>(),
        ]
        .prop_map(Value::String),
    ]
}

/// Any JSON value, nested up to three levels, with object keys drawn from `keys` (and a few
/// random ones), so objects look like the platform's answers.
pub fn json_value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    json_scalar().prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(keys), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    let known = if keys.is_empty() { &["x"][..] } else { keys };
    prop_oneof![
        4 => prop::sample::select(known).prop_map(str::to_owned),
        1 => "[a-zA-Z_]{1,8}",
    ]
}

/// A JSON object shaped like a platform's envelope: a random subset of `keys`, each with a
/// value of a random type (scalars, arrays or objects using the same keys).
pub fn envelope(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let known = if keys.is_empty() { &["x"][..] } else { keys };
    prop::collection::vec(
        (prop::sample::select(known), json_value(keys)),
        0..known.len().max(1) + 2,
    )
    .prop_map(|pairs| {
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

/// A body: arbitrary bytes, arbitrary JSON, an envelope-shaped object, an envelope with one
/// nested object (Shopee's `response`, Lazada's `data`), or JSON cut short.
pub fn junk_body(keys: &'static [&'static str]) -> impl Strategy<Value = Bytes> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Bytes::from),
        1 => json_value(keys).prop_map(|v| Bytes::from(v.to_string())),
        4 => envelope(keys).prop_map(|v| Bytes::from(v.to_string())),
        2 => (envelope(keys), prop::sample::select(if keys.is_empty() { &["x"][..] } else { keys }), envelope(keys))
            .prop_map(|(mut outer, k, inner)| {
                if let Value::Object(map) = &mut outer {
                    map.insert(k.to_owned(), inner);
                }
                Bytes::from(outer.to_string())
            }),
        1 => (envelope(keys), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            let at = cut.index(text.len() + 1);
            Bytes::from(text[..at].to_vec())
        }),
    ]
}

/// A status: mostly the ones platforms send (2xx, 4xx, 429, 5xx), sometimes any in 200–599.
pub fn junk_status() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => prop::sample::select(&[200u16, 201, 202, 204, 206][..]),
        3 => prop::sample::select(&[400u16, 401, 403, 404, 408, 409, 413, 429][..]),
        2 => prop::sample::select(&[500u16, 502, 503, 504][..]),
        1 => 200u16..600,
    ]
}

/// Headers decoders read: `Retry-After` (seconds, dates, garbage), `ETag`, request ids and a
/// content type, each present or not.
pub fn junk_headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let retry_after = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        "[A-Za-z]{3}, [0-9]{1,20} [A-Za-z]{3} -?[0-9]{1,20} [0-9]{1,20}:[0-9]{1,20}:[0-9]{1,20} GMT",
        "[ -~]{0,40}",
    ];
    let header = |name: &'static str, value: BoxedStrategy<String>| {
        prop::option::of(value.prop_map(move |v| (name.to_owned(), v.into_bytes())))
    };
    (
        header("retry-after", retry_after.boxed()),
        header("etag", "[ -~]{0,40}".boxed()),
        header("x-request-id", "[ -~]{0,20}".boxed()),
        header(
            "content-type",
            prop_oneof![
                Just("application/json".to_owned()),
                Just("text/html".to_owned()),
                Just("application/xml".to_owned())
            ]
            .boxed(),
        ),
    )
        .prop_map(|(a, b, c, d)| [a, b, c, d].into_iter().flatten().collect())
}

/// A whole answer: [`junk_status`], [`junk_headers`] and [`junk_body`] over `keys`.
pub fn junk_answer(keys: &'static [&'static str]) -> impl Strategy<Value = JunkAnswer> {
    (junk_status(), junk_headers(), junk_body(keys)).prop_map(|(status, headers, body)| {
        JunkAnswer {
            status,
            headers,
            body,
            delay: None,
        }
    })
}

/// A script of 1–3 answers and a fallback, for calls that make several requests.
pub fn junk_script(
    keys: &'static [&'static str],
) -> impl Strategy<Value = (Vec<JunkAnswer>, JunkAnswer)> {
    (
        prop::collection::vec(junk_answer(keys), 1..4),
        junk_answer(keys),
    )
}

/// Any JSON value with random keys, for replacing a field of a template.
fn any_json() -> BoxedStrategy<Value> {
    json_value(&[]).boxed()
}

/// Variations of a valid answer: every field of `template` (recursively) is kept, dropped,
/// or given a value of a random type, and every scalar is kept or replaced by a random
/// scalar. Start from a real success or error answer of a call, so the decoder gets past its
/// first checks and meets odd types deep inside (`response.video_info.duration` a string, a
/// huge float, an object…).
pub fn mutations(template: Value) -> BoxedStrategy<Value> {
    match template {
        Value::Object(map) => {
            let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = map
                .into_iter()
                .map(|(k, v)| {
                    let kept = k.clone();
                    prop_oneof![
                        5 => mutations(v).prop_map(move |v| Some((kept.clone(), v))),
                        1 => Just(None),
                        2 => any_json().prop_map(move |v| Some((k.clone(), v))),
                    ]
                    .boxed()
                })
                .collect();
            fields
                .prop_map(|fields| Value::Object(fields.into_iter().flatten().collect()))
                .boxed()
        }
        Value::Array(items) => {
            let items: Vec<BoxedStrategy<Value>> = items.into_iter().map(mutations).collect();
            prop_oneof![
                6 => items.prop_map(Value::Array),
                1 => Just(Value::Array(Vec::new())),
                1 => any_json(),
            ]
            .boxed()
        }
        scalar => prop_oneof![1 => Just(scalar), 1 => json_scalar()].boxed(),
    }
}

/// A body for a call whose valid answers are `templates`: mostly [`mutations`] of one of
/// them, sometimes [`junk_body`] over `keys`.
pub fn answer_body(
    templates: Vec<Value>,
    keys: &'static [&'static str],
) -> impl Strategy<Value = Bytes> {
    let shaped: Vec<BoxedStrategy<Value>> = templates.into_iter().map(mutations).collect();
    let shaped = prop::strategy::Union::new(shaped);
    prop_oneof![
        3 => shaped.prop_map(|v| Bytes::from(v.to_string())),
        1 => junk_body(keys),
    ]
}

/// A whole answer for a call whose valid answers are `templates` (see [`answer_body`]), with
/// HTTP 200 two times in three so the body gets decoded past the status check.
pub fn answer_to(
    templates: Vec<Value>,
    keys: &'static [&'static str],
) -> impl Strategy<Value = JunkAnswer> {
    let status = prop_oneof![2 => Just(200u16), 1 => junk_status()];
    (status, junk_headers(), answer_body(templates, keys)).prop_map(|(status, headers, body)| {
        JunkAnswer {
            status,
            headers,
            body,
            delay: None,
        }
    })
}

/// Values that trip decoders: every JSON type, numbers at and past the edges of `u64`, `i64`
/// and `f64`, fractions, empty and numeric strings, empty containers.
pub fn edge_values() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Bool(true),
        Value::from(0),
        Value::from(-1),
        Value::from(u64::MAX),
        Value::from(i64::MIN),
        Value::from(0.5),
        Value::from(1e300),
        Value::from(-1e300),
        Value::from(f64::MAX),
        Value::from(""),
        Value::from("x"),
        Value::from("-1"),
        Value::from("99999999999999999999999"),
        Value::Array(Vec::new()),
        Value::Array(vec![Value::Null]),
        Value::Object(Map::new()),
    ]
}

/// Every variation of `template` with exactly one field (at any depth) removed or replaced
/// by one of [`edge_values`]: a deterministic sweep that reaches deep fields random mutation
/// rarely gets to with the rest of the answer intact.
pub fn single_mutations(template: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    sweep(template, &mut |v| v, &mut out);
    out
}

fn sweep(node: &Value, rebuild: &mut dyn FnMut(Value) -> Value, out: &mut Vec<Value>) {
    for edge in edge_values() {
        out.push(rebuild(edge));
    }
    match node {
        Value::Object(map) => {
            for (k, v) in map {
                let mut without = map.clone();
                without.remove(k);
                out.push(rebuild(Value::Object(without)));
                let mut inner = |replacement: Value| {
                    let mut changed = map.clone();
                    changed.insert(k.clone(), replacement);
                    rebuild(Value::Object(changed))
                };
                sweep(v, &mut inner, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut inner = |replacement: Value| {
                    let mut changed = items.clone();
                    changed[i] = replacement;
                    rebuild(Value::Array(changed))
                };
                sweep(v, &mut inner, out);
            }
        }
        _ => {}
    }
}

// ---- the harness --------------------------------------------------------------------------

/// A multi-thread runtime (2 workers) and a [`JunkServer`] on it: one per test binary is
/// enough (a fresh runtime per proptest case costs more than the case), so keep it in a
/// `OnceLock`.
#[derive(Debug)]
pub struct JunkRig {
    /// The runtime the calls run on.
    pub rt: tokio::runtime::Runtime,
    /// The server the provider points at.
    pub junk: JunkServer,
}

impl JunkRig {
    /// Builds the runtime and starts the server.
    ///
    /// # Panics
    /// When the runtime cannot be built or the server cannot bind (a test harness failure,
    /// not a provider's).
    pub fn start() -> Self {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("cannot build a test runtime: {e}"),
        };
        let junk = match rt.block_on(JunkServer::start()) {
            Ok(j) => j,
            Err(e) => panic!("cannot start the junk server: {e}"),
        };
        JunkRig { rt, junk }
    }
}

/// `cases` proptest cases, unless `PROPTEST_CASES` asks for another number (a longer fuzzing
/// run).
pub fn proptest_cases(cases: u32) -> ProptestConfig {
    match std::env::var("PROPTEST_CASES") {
        Ok(_) => ProptestConfig::default(),
        Err(_) => ProptestConfig::with_cases(cases),
    }
}

/// The check on one call's result against the junk `answer` it got: an error status must
/// never come back as `Ok`, and the `Display` and `Debug` of an error must work.
pub fn typed_result<T: fmt::Debug>(
    call: &str,
    answer: &JunkAnswer,
    result: &marketmedia_core::Result<T>,
) -> Result<(), TestCaseError> {
    if let Err(err) = result {
        let _ = (err.to_string(), format!("{err:?}"));
    }
    prop_assert!(
        (200..300).contains(&answer.status) || result.is_err(),
        "{call}: HTTP {} gave {:?}",
        answer.status,
        result
    );
    Ok(())
}

/// The source `init` sees in decoder tests: `v.mp4`, an MP4 of `size` bytes lasting 20 s,
/// with `digests` (their `size` is set to `size`) and [`crate::sample_meta`].
pub fn junk_source(size: u64, digests: Digests) -> SourceInfo {
    SourceInfo {
        file_name: "v.mp4".into(),
        size,
        format: MediaFormat::Mp4,
        duration: Some(Duration::from_secs(20)),
        digests: Digests { size, ..digests },
        meta: crate::sample_meta(),
    }
}

/// When the result of `cancel` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelCheck {
    /// Always.
    Always,
    /// Only when the commit before it succeeded (a provider whose cancel of an uncommitted
    /// upload is local and sends nothing, like Lazada's).
    AfterCommit,
}

/// What the calls of [`every_video_call`] take.
#[derive(Debug, Clone)]
pub struct VideoCalls {
    /// What `init` gets.
    pub source: SourceInfo,
    /// The session `put_part`, `commit` and `cancel` get (its plan goes to `init`).
    pub session: UploadSession,
    /// The part `put_part` sends.
    pub part: Part,
    /// The receipts `commit` lists.
    pub receipts: Vec<PartReceipt>,
    /// The handle `poll` asks about.
    pub handle: ProcessingHandle,
    /// When `cancel`'s result is checked.
    pub cancel: CancelCheck,
}

/// The junk answer each call of [`every_video_call`] gets.
#[derive(Debug, Clone)]
pub struct VideoAnswers {
    /// For `init`.
    pub init: JunkAnswer,
    /// For `put_part`.
    pub put_part: JunkAnswer,
    /// For `commit`.
    pub commit: JunkAnswer,
    /// For `poll`.
    pub poll: JunkAnswer,
    /// For `cancel`.
    pub cancel: JunkAnswer,
}

impl VideoAnswers {
    /// The same answer for every call.
    pub fn all(answer: JunkAnswer) -> Self {
        VideoAnswers {
            init: answer.clone(),
            put_part: answer.clone(),
            commit: answer.clone(),
            poll: answer.clone(),
            cancel: answer,
        }
    }
}

/// Calls `init`, `put_part`, `commit`, `poll` and `cancel` of `provider`, in that order, each
/// with `junk` answering its answer of `answers`, and checks each result with
/// [`typed_result`]. Returns how many requests reached the server.
pub async fn every_video_call(
    junk: &JunkServer,
    provider: &dyn ChunkedVideoUploader,
    calls: &VideoCalls,
    answers: &VideoAnswers,
) -> Result<u64, TestCaseError> {
    let before = junk.requests();
    junk.always(answers.init.clone());
    let r = provider.init(&calls.source, &calls.session.plan).await;
    typed_result("init", &answers.init, &r)?;
    junk.always(answers.put_part.clone());
    let r = provider.put_part(&calls.session, &calls.part).await;
    typed_result("put_part", &answers.put_part, &r)?;
    junk.always(answers.commit.clone());
    let committed = provider.commit(&calls.session, &calls.receipts).await;
    typed_result("commit", &answers.commit, &committed)?;
    junk.always(answers.poll.clone());
    let r = provider.poll(&calls.handle).await;
    typed_result("poll", &answers.poll, &r)?;
    junk.always(answers.cancel.clone());
    let r = provider.cancel(&calls.session).await;
    if calls.cancel == CancelCheck::Always || committed.is_ok() {
        typed_result("cancel", &answers.cancel, &r)?;
    }
    Ok(junk.requests() - before)
}

/// The results of [`every_video_call`]'s calls, without a check: `(call, result)` for `init`,
/// `put_part`, `commit`, `poll` and, when `calls.cancel` says its result counts, `cancel`.
pub async fn video_call_results(
    junk: &JunkServer,
    provider: &dyn ChunkedVideoUploader,
    calls: &VideoCalls,
    answers: &VideoAnswers,
) -> Vec<(&'static str, marketmedia_core::Result<()>)> {
    let mut out = Vec::new();
    junk.always(answers.init.clone());
    let r = provider.init(&calls.source, &calls.session.plan).await;
    out.push(("init", r.map(|_| ())));
    junk.always(answers.put_part.clone());
    let r = provider.put_part(&calls.session, &calls.part).await;
    out.push(("put_part", r.map(|_| ())));
    junk.always(answers.commit.clone());
    let committed = provider.commit(&calls.session, &calls.receipts).await;
    let committed_ok = committed.is_ok();
    out.push(("commit", committed.map(|_| ())));
    junk.always(answers.poll.clone());
    let r = provider.poll(&calls.handle).await;
    out.push(("poll", r.map(|_| ())));
    junk.always(answers.cancel.clone());
    let r = provider.cancel(&calls.session).await;
    if calls.cancel == CancelCheck::Always || committed_ok {
        out.push(("cancel", r));
    }
    out
}

/// What the "one odd field anywhere" tests collect: each call's result against an answer with
/// one field changed must be `Ok` or an error of the kinds the test expects for that answer
/// (an odd field in a success answer is at worst `Protocol`: an answer the provider could not
/// understand). Every result is counted by call and outcome, for the report; every other
/// result is a broken promise, and [`assert_typed`](Self::assert_typed) lists them all.
#[derive(Debug, Default)]
pub struct TypedResults {
    seen: std::collections::BTreeMap<String, u64>,
    broken: Vec<String>,
}

impl TypedResults {
    /// Records `result` of `call` against `answer`: `Ok`, or an error whose kind is one of
    /// `kinds`, whose `Display` and `Debug` work.
    pub fn check<T: fmt::Debug>(
        &mut self,
        call: &str,
        answer: &JunkAnswer,
        result: &marketmedia_core::Result<T>,
        kinds: &[marketmedia_core::ErrorKind],
    ) {
        let outcome = match result {
            Ok(_) => "Ok".to_owned(),
            Err(e) => {
                let _shown = (e.to_string(), format!("{e:?}"));
                format!("{:?}", e.kind())
            }
        };
        *self.seen.entry(format!("{call}: {outcome}")).or_default() += 1;
        match result {
            Err(e) if !kinds.contains(&e.kind()) => self.broken.push(format!(
                "{call}: {:?} (expected Ok or one of {kinds:?}) for {answer:?}: {e}",
                e.kind()
            )),
            Ok(_) if !(200..300).contains(&answer.status) => self.broken.push(format!(
                "{call}: Ok for HTTP {} ({answer:?})",
                answer.status
            )),
            _ => {}
        }
    }

    /// How many results of each call ended how (`"poll: Protocol" → 12`).
    pub fn seen(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.seen
    }

    /// Panics listing every result that was neither `Ok` nor of the expected kinds, or when
    /// nothing was checked at all.
    #[track_caller]
    pub fn assert_typed(&self) {
        println!("odd-field results: {:?}", self.seen);
        assert!(!self.seen.is_empty(), "no result was checked");
        assert!(
            self.broken.is_empty(),
            "{} results of {} are no typed result of the expected kinds:\n{}",
            self.broken.len(),
            self.seen.values().sum::<u64>(),
            self.broken.join("\n")
        );
    }
}

/// Every [`single_mutations`] of every template, as an HTTP 200 JSON answer: the
/// deterministic sweep a provider's "one odd field anywhere" test runs its calls against.
pub fn mutation_answers(templates: &[Value]) -> Vec<JunkAnswer> {
    templates
        .iter()
        .flat_map(single_mutations)
        .map(|body| JunkAnswer::json(200, body))
        .collect()
}

/// A `poll` whose answer stalls (5 s) past the provider's read timeout (100 ms) ends in a
/// retryable error. `at(base_url, read_idle)` builds the provider.
///
/// # Panics
/// When the poll does not fail, or fails with an error that is not retryable (or the test
/// runtime or server cannot start).
pub fn assert_stalled_poll_is_retryable<P, F>(at: F, handle: &ProcessingHandle)
where
    P: ChunkedVideoUploader,
    F: FnOnce(&str, Duration) -> P,
{
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a test runtime: {e}"),
    };
    rt.block_on(async {
        let junk = match JunkServer::start().await {
            Ok(j) => j,
            Err(e) => panic!("cannot start the junk server: {e}"),
        };
        junk.always(JunkAnswer::new(200, "{}").with_delay(Duration::from_secs(5)));
        let provider = at(&junk.base_url(), Duration::from_millis(100));
        match provider.poll(handle).await {
            Ok(status) => panic!("a stalled poll answered {status:?}"),
            Err(err) => assert!(err.is_retryable(), "{err}"),
        }
    });
}
