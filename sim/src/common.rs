//! What every simulator shares: the in-process server, the wire log and the movable clock.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A simulator serving on a local address. The server stops when this value is dropped.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SimServer {
    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The path of every simulator's raw sink: `POST` or `PUT` any body there and the server
/// reads it to the end, discards it and answers `{"bytes": N}`. It is no platform's call: it
/// lets a benchmark compare an upload with a plain streaming request to the same server
/// (`docs/benchmarks.md`). It bypasses the fault and shaping layer.
pub const RAW_SINK_PATH: &str = "/__sim/raw-sink";

async fn raw_sink(body: Body) -> Json<serde_json::Value> {
    let mut stream = body.into_data_stream();
    let mut bytes = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        bytes += chunk.len() as u64;
    }
    Json(serde_json::json!({ "bytes": bytes }))
}

/// Serves `router` on `addr` (use port 0 for a free port) until the returned server is dropped,
/// with the [raw sink](RAW_SINK_PATH) beside the simulator's own routes.
pub async fn serve(router: Router, addr: SocketAddr) -> std::io::Result<SimServer> {
    let router = router.route(RAW_SINK_PATH, post(raw_sink).put(raw_sink));
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(%err, "simulator server stopped");
        }
    });
    Ok(SimServer { addr, task })
}

/// One request as the simulator received it, and how it answered (served as JSON by
/// `GET /__sim/wire`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WireRecord {
    /// The platform, e.g. `shopee`.
    pub platform: &'static str,
    /// The platform's name for the call, e.g. `upload_video_part`.
    pub call: String,
    /// HTTP method.
    pub method: String,
    /// Request path as received.
    pub path: String,
    /// Every non-file parameter exactly as received (query string, form or multipart fields,
    /// or top-level JSON members rendered as JSON text when not strings).
    pub params: BTreeMap<String, String>,
    /// File fields: (field name, byte length), in the order received.
    pub files: Vec<(String, usize)>,
    /// Request body length in bytes.
    pub body_len: usize,
    /// HTTP status of the answer.
    pub status: u16,
    /// The platform error code of the answer; `None` on success.
    pub error: Option<String>,
}

impl WireRecord {
    /// A parameter's value as received.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// The most records a [`WireLog`] keeps unless told otherwise ([`Retention`]): an upload
/// of 100 MiB in 5 MiB blocks is about 25 records of a few hundred bytes, so 100,000 records
/// (tens of MiB) cover thousands of uploads.
pub const DEFAULT_MAX_WIRE_RECORDS: usize = 100_000;

/// The most bytes of finished uploads a simulator keeps unless told otherwise
/// ([`Retention`]): 1 GiB, a dozen of Lazada's largest videos. The newest finished upload
/// is always kept, whatever its size, so a client can check what it just sent.
pub const DEFAULT_MAX_ASSEMBLED_BYTES: u64 = 1024 * 1024 * 1024;

/// What a long-running simulator keeps, oldest evicted first: the wire log's records, and
/// the assembled bytes of finished uploads (completed videos, confirmed files). An evicted
/// upload keeps its metadata (state, size, digests the platform answers) and answers
/// "evicted" on the control surface (`GET /__sim/uploads/{id}/bytes`: 410).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The most wire log records kept. Default [`DEFAULT_MAX_WIRE_RECORDS`].
    pub max_wire_records: usize,
    /// The most bytes of finished uploads kept. Default [`DEFAULT_MAX_ASSEMBLED_BYTES`].
    pub max_assembled_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_wire_records: DEFAULT_MAX_WIRE_RECORDS,
            max_assembled_bytes: DEFAULT_MAX_ASSEMBLED_BYTES,
        }
    }
}

/// Which finished uploads to evict so that at most `max` bytes stay held: the oldest first
/// (by `order`), never the newest. `held` lists (key, order, size) of what is held now.
pub(crate) fn to_evict<K>(held: impl IntoIterator<Item = (K, u64, u64)>, max: u64) -> Vec<K> {
    let mut held: Vec<(K, u64, u64)> = held.into_iter().collect();
    held.sort_by_key(|(_, order, _)| *order);
    let mut total: u64 = held.iter().map(|(_, _, size)| *size).sum();
    let mut out = Vec::new();
    let newest = held.len().saturating_sub(1);
    for (i, (key, _, size)) in held.into_iter().enumerate() {
        if total <= max || i == newest {
            break;
        }
        total -= size;
        out.push(key);
    }
    out
}

/// The log of every request a simulator received, shared between the server and the test;
/// bounded ([`Retention::max_wire_records`]), the oldest records forgotten first.
#[derive(Debug, Clone, Default)]
pub struct WireLog {
    records: Arc<Mutex<Records>>,
}

#[derive(Debug)]
struct Records {
    records: VecDeque<WireRecord>,
    max: usize,
    evicted: u64,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            records: VecDeque::new(),
            max: DEFAULT_MAX_WIRE_RECORDS,
            evicted: 0,
        }
    }
}

impl WireLog {
    fn lock(&self) -> MutexGuard<'_, Records> {
        // A panic while holding this lock cannot leave the records half-updated.
        crate::util::lock(&self.records)
    }

    /// Appends a record, forgetting the oldest when the log is full.
    pub fn push(&self, record: WireRecord) {
        let mut log = self.lock();
        while log.records.len() >= log.max.max(1) {
            log.records.pop_front();
            log.evicted += 1;
        }
        log.records.push_back(record);
    }

    /// Keeps at most `max` records (at least 1) from now on, forgetting the oldest now if
    /// there are more.
    pub fn set_max_records(&self, max: usize) {
        let mut log = self.lock();
        log.max = max.max(1);
        while log.records.len() > log.max {
            log.records.pop_front();
            log.evicted += 1;
        }
    }

    /// How many records were forgotten to keep the log within its bound.
    pub fn evicted(&self) -> u64 {
        self.lock().evicted
    }

    /// Every record kept, in arrival order.
    pub fn records(&self) -> Vec<WireRecord> {
        self.lock().records.iter().cloned().collect()
    }

    /// The records of one call, in arrival order.
    pub fn calls(&self, call: &str) -> Vec<WireRecord> {
        self.lock()
            .records
            .iter()
            .filter(|r| r.call == call)
            .cloned()
            .collect()
    }

    /// How many requests of `call` arrived (among the records kept).
    pub fn count(&self, call: &str) -> usize {
        self.lock()
            .records
            .iter()
            .filter(|r| r.call == call)
            .count()
    }

    /// Total bytes received in file fields (part and image payloads), over every record kept.
    pub fn file_bytes(&self) -> usize {
        self.lock()
            .records
            .iter()
            .flat_map(|r| r.files.iter().map(|(_, n)| *n))
            .sum()
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.lock().records.clear();
    }
}

/// The simulators' clock: real time plus an offset that tests can move forward, so expiry
/// (timestamps, sessions, presigned URLs, tokens) is exercised without sleeping.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    offset_ms: Arc<AtomicI64>,
}

impl SimClock {
    /// Milliseconds since the Unix epoch, as the simulator sees it.
    pub fn now_millis(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Seconds since the Unix epoch, as the simulator sees it.
    pub fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// How far the clock is ahead of real time, in milliseconds.
    pub fn offset_millis(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}
