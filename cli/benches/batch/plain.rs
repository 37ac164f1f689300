//! The CPU baseline beside the worker's: a plain client sending the catalog's bytes, this
//! benchmark binary started again with a spec in `MARKETMEDIA_BENCH_PLAIN`, holding no
//! simulator. For every file and marketplace it computes the digests that marketplace
//! requires (its rules' whole-file MD5, part MD5s, SHA-256 chain, CRC-64: one pass of the
//! project's digester) and sends the bytes in one streaming POST to the simulator's raw
//! sink, 8 at a time; then it reports its own CPU seconds (`getrusage`). No init, commit,
//! poll, retry, store or token: the least a client sending these bytes must do.

use std::path::PathBuf;

use futures::StreamExt;
use marketmedia_core::DigestRequest;
use serde::{Deserialize, Serialize};

/// The environment variable that turns this binary into the plain client.
pub const CHILD_VAR: &str = "MARKETMEDIA_BENCH_PLAIN";

/// Requests in flight at once.
const IN_FLIGHT: usize = 8;

/// One file to one marketplace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// The file.
    pub path: PathBuf,
    /// The raw sink's URL on that marketplace's simulator.
    pub sink: String,
    /// Whole-file MD5.
    pub md5: bool,
    /// Part MD5s of this size.
    pub part_md5: Option<u64>,
    /// The SHA-256 instant-upload chain.
    pub sha_chain: bool,
    /// CRC-64.
    pub crc64: bool,
}

/// What the plain client reports, as one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Bytes sent.
    pub bytes: u64,
    /// User and system CPU seconds of the whole process.
    pub cpu_s: f64,
    /// Wall time.
    pub wall_s: f64,
}

/// The items, when this process is the plain client.
pub fn spec_from_env() -> Option<Vec<Item>> {
    let path = std::env::var(CHILD_VAR).ok()?;
    let parsed = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|raw| serde_json::from_slice(&raw).map_err(|e| e.to_string()));
    match parsed {
        Ok(items) => Some(items),
        Err(e) => {
            eprintln!("bad {CHILD_VAR} ({path}): {e}");
            std::process::exit(2);
        }
    }
}

/// Sends every item, prints the report; exit status 0 when every byte arrived.
pub async fn run(items: Vec<Item>) -> i32 {
    let started = std::time::Instant::now();
    let client = match reqwest::Client::builder().build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("no HTTP client: {e}");
            return 1;
        }
    };
    let results: Vec<Result<u64, String>> = futures::stream::iter(items)
        .map(|item| send(&client, item))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut bytes = 0;
    for r in results {
        match r {
            Ok(n) => bytes += n,
            Err(e) => {
                eprintln!("plain client: {e}");
                return 1;
            }
        }
    }
    let report = Report {
        bytes,
        cpu_s: own_cpu_seconds(),
        wall_s: started.elapsed().as_secs_f64(),
    };
    match serde_json::to_string(&report) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("cannot encode the report: {e}");
            1
        }
    }
}

async fn send(client: &reqwest::Client, item: Item) -> Result<u64, String> {
    let request = DigestRequest {
        file_md5: item.md5,
        part_md5_sizes: item.part_md5.into_iter().collect(),
        instant_upload_hashes: item.sha_chain,
        crc64: item.crc64,
    };
    if !request.is_empty() {
        marketmedia_core::digest_file_async(&item.path, &request)
            .await
            .map_err(|e| format!("digests of {}: {e}", item.path.display()))?;
    }
    crate::raw_sink::post_file(client.post(&item.sink), &item.path).await
}

/// This process's user + system CPU seconds.
fn own_cpu_seconds() -> f64 {
    // SAFETY: `getrusage` writes into the zeroed struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return f64::NAN;
        }
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
