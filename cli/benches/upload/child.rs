//! The memory scenario's client: this benchmark binary started again with a spec in
//! `MARKETMEDIA_BENCH_CHILD`, holding no simulator, that fans one file out to the
//! marketplaces the parent serves (each account's settings in the spec, read through the
//! registry) and reports its own peak resident set (`VmHWM`).

use std::path::PathBuf;
use std::time::Instant;

use marketmedia_core::{
    ChunkedVideoUploader, ConnectOptions, Error, Settings, UploadDriver, UploadMeta, UploadOptions,
};
use serde::{Deserialize, Serialize};

/// The environment variable that turns this binary into the memory client.
pub const CHILD_VAR: &str = "MARKETMEDIA_BENCH_CHILD";

/// What the client uploads and where (the simulators' test credentials, no real secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// The video.
    pub file: PathBuf,
    /// Each marketplace's name and its account's settings on its simulator (keys and
    /// values as text).
    pub markets: Vec<(String, Vec<(String, String)>)>,
}

/// What the client reports on its standard output, as one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Marketplaces that succeeded.
    pub succeeded: Vec<String>,
    /// Marketplaces that failed, with why.
    pub failed: Vec<(String, String)>,
    /// Wall time of the fan-out.
    pub elapsed_ms: u64,
    /// Peak resident set of the process, KiB.
    pub peak_rss_kib: u64,
}

/// The spec, when this process is the memory client.
pub fn spec_from_env() -> Option<Spec> {
    let raw = std::env::var(CHILD_VAR).ok()?;
    match serde_json::from_str(&raw) {
        Ok(spec) => Some(spec),
        Err(e) => {
            eprintln!("bad {CHILD_VAR}: {e}");
            std::process::exit(2);
        }
    }
}

/// Runs the fan-out and prints the report; the exit status is 0 when every one succeeded.
pub fn run(spec: Spec) -> i32 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return 1;
        }
    };
    let report = match runtime.block_on(fan_out(&spec)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("memory client failed: {e}");
            return 1;
        }
    };
    match serde_json::to_string(&report) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("cannot encode the report: {e}");
            return 1;
        }
    }
    i32::from(!report.failed.is_empty())
}

async fn fan_out(spec: &Spec) -> marketmedia_core::Result<Report> {
    let registry = marketmedia::registry();
    let mut clients = Vec::new();
    for (name, pairs) in &spec.markets {
        let market = registry
            .get(name)
            .ok_or_else(|| Error::invalid_input(format!("no marketplace {name}")))?;
        let settings = Settings::from_map(market.settings(), pairs.iter().map(|(k, v)| (k, v)))?;
        clients.push(market.connect(&settings, &ConnectOptions::default())?);
    }
    let providers: Vec<&dyn ChunkedVideoUploader> =
        clients.iter().map(|c| c.video().as_ref()).collect();
    let started = Instant::now();
    // Each marketplace's per-upload defaults (Lazada's title and cover), for every upload.
    let meta = clients
        .iter()
        .fold(UploadMeta::default(), |m, c| m.or(c.upload_defaults()));
    let fan = UploadDriver::new(UploadOptions {
        meta,
        ..UploadOptions::default()
    })
    .upload_to_all(&providers, &spec.file)
    .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let mut succeeded = Vec::new();
    let mut failed = Vec::new();
    for r in fan.reports {
        match r.result {
            Ok(_) => succeeded.push(r.platform),
            Err(e) => failed.push((r.platform, e.to_string())),
        }
    }
    Ok(Report {
        succeeded,
        failed,
        elapsed_ms,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// `VmHWM` of this process (Linux), in KiB; 0 where `/proc` does not tell.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Starts this binary as the memory client for `spec` and reads its report.
pub async fn measure(spec: &Spec) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
    let output = tokio::process::Command::new(exe)
        .env(CHILD_VAR, json)
        .output()
        .await
        .map_err(|e| format!("cannot start the memory client: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| {
        format!(
            "the memory client answered {line:?} ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
