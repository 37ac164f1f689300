//! What every simulator shares: the in-process server, the wire log and the movable clock.

use std::collections::BTreeMap;
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

/// The log of every request a simulator received, shared between the server and the test.
#[derive(Debug, Clone, Default)]
pub struct WireLog {
    records: Arc<Mutex<Vec<WireRecord>>>,
}

impl WireLog {
    fn lock(&self) -> MutexGuard<'_, Vec<WireRecord>> {
        // A panic while holding this lock cannot leave the Vec half-updated.
        crate::util::lock(&self.records)
    }

    /// Appends a record.
    pub fn push(&self, record: WireRecord) {
        self.lock().push(record);
    }

    /// Every record so far, in arrival order.
    pub fn records(&self) -> Vec<WireRecord> {
        self.lock().clone()
    }

    /// The records of one call, in arrival order.
    pub fn calls(&self, call: &str) -> Vec<WireRecord> {
        self.lock()
            .iter()
            .filter(|r| r.call == call)
            .cloned()
            .collect()
    }

    /// How many requests of `call` arrived.
    pub fn count(&self, call: &str) -> usize {
        self.lock().iter().filter(|r| r.call == call).count()
    }

    /// Total bytes received in file fields (part and image payloads), over every call.
    pub fn file_bytes(&self) -> usize {
        self.lock()
            .iter()
            .flat_map(|r| r.files.iter().map(|(_, n)| *n))
            .sum()
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.lock().clear();
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
