//! What the resume journal costs per part: the same upload to a platform that answers at
//! once, with and without a journal, at 1,000 and 10,000 parts, in the same run. The cost per
//! part must not grow with the number of parts (the journal appends two records per part; it
//! used to rewrite the whole entry twice per part: 11.6 KB per part at 100 parts, growing),
//! and the log stays about 120 bytes per part.
//!
//! `cargo bench -p marketmedia-core --bench journal [-- --runs N] [--parts 1000,10000]`
//!
//! Each case runs N times (default 3) after one warm-up; the table shows the median. The
//! journal lives in the temporary directory: its `fdatasync`s cost what that file system
//! makes them cost (a tmpfs makes them free; note which one ran).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use marketmedia_core::raw::{
    Asset, ChunkedVideoUploader, CommitOutcome, InitOutcome, Part, PartPlan, PartReceipt,
    PartSizeRule, ProcessingHandle, ProcessingStatus, SourceInfo, UploadRules, UploadSession,
};
use marketmedia_core::{
    digest_request, Journal, PreparedSource, Result, SessionEvent, SourceProbe, UploadDriver,
    UploadOptions,
};

const PART: u64 = 1024;

/// A platform that takes every part and the completion at once.
struct Instant_ {
    rules: UploadRules,
}

fn asset() -> Asset {
    Asset {
        platform: "bench".into(),
        id: "v".into(),
        urls: Vec::new(),
        thumbnails: Vec::new(),
        duration: None,
        size: None,
        details: serde_json::Value::Null,
    }
}

#[async_trait::async_trait]
impl ChunkedVideoUploader for Instant_ {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }
    async fn init(&self, _: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        Ok(InitOutcome::Session(UploadSession {
            platform: "bench".into(),
            upload_id: format!("u{}", marketmedia_core::raw::http::unix_millis()),
            plan: *plan,
            expires_at: None,
            started_at_ms: 0,
            data: serde_json::Value::Null,
        }))
    }
    async fn put_part(&self, _: &UploadSession, part: &Part) -> Result<PartReceipt> {
        Ok(PartReceipt {
            index: part.index,
            wire_number: part.index + 1,
            size: part.len(),
            etag: Some(format!("\"{:08x}\"", part.index)),
        })
    }
    async fn commit(&self, _: &UploadSession, _: &[PartReceipt]) -> Result<CommitOutcome> {
        Ok(CommitOutcome::Ready(asset()))
    }
    async fn poll(&self, _: &ProcessingHandle) -> Result<ProcessingStatus> {
        Ok(ProcessingStatus::Ready(asset()))
    }
    async fn cancel(&self, _: &UploadSession) -> Result<()> {
        Ok(())
    }
}

/// A file of `parts` parts that sniffs as MP4.
fn video(dir: &Path, parts: u64) -> std::path::PathBuf {
    let path = dir.join(format!("v{parts}.mp4"));
    let mut data = b"\0\0\0\x14ftypisom\0\0\0\0isom".to_vec();
    data.resize((parts * PART) as usize, 7);
    std::fs::write(&path, data).expect("write the video");
    path
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut runs = 3;
    let mut counts = vec![1_000u64, 10_000];
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs);
        }
        if arg == "--parts" {
            if let Some(list) = args.next() {
                counts = list.split(',').filter_map(|n| n.parse().ok()).collect();
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let platform = Instant_ {
        rules: UploadRules {
            max_parts: 10_000,
            concurrent_parts: true,
            ..UploadRules::new("bench", PartSizeRule::Exact(PART), 1 << 30)
        },
    };
    println!("| parts | plain µs/part | journaled µs/part | journal µs/part | log bytes/part |");
    println!("|---|---|---|---|---|");
    for parts in counts {
        let path = video(dir.path(), parts);
        let source = rt.block_on(async {
            let probe = SourceProbe::open(&path).await.expect("probe");
            let plan = probe.plan(&platform.rules, None).expect("plan");
            PreparedSource::digest(probe, &digest_request(&platform.rules, &plan))
                .await
                .expect("digest")
        });
        let journal = Journal::open(dir.path().join(format!("journal-{parts}"))).expect("journal");
        // The log's size once every receipt is in it (at the completion).
        let log_bytes = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&log_bytes);
        let jdir = journal.dir().to_path_buf();
        let opts = UploadOptions {
            on_event: Some(Arc::new(move |_, event| {
                if *event == SessionEvent::Committing {
                    let size = std::fs::read_dir(&jdir)
                        .map(|d| {
                            d.flatten()
                                .filter_map(|e| e.metadata().ok())
                                .map(|m| m.len())
                                .sum()
                        })
                        .unwrap_or(0);
                    seen.store(size, Ordering::Relaxed);
                }
            })),
            ..UploadOptions::default()
        };
        let driver = UploadDriver::new(opts);
        let time = |journaled: bool| {
            median(
                (0..=runs)
                    .map(|_| {
                        let started = Instant::now();
                        rt.block_on(async {
                            if journaled {
                                driver.upload_journaled(&platform, &source, &journal).await
                            } else {
                                driver.upload_prepared(&platform, &source).await
                            }
                        })
                        .expect("upload");
                        started.elapsed()
                    })
                    .skip(1)
                    .collect(),
            )
        };
        let plain = time(false);
        let journaled = time(true);
        let per_part = |d: Duration| d.as_secs_f64() * 1e6 / parts as f64;
        println!(
            "| {parts} | {:.1} | {:.1} | {:.1} | {} |",
            per_part(plain),
            per_part(journaled),
            per_part(journaled.saturating_sub(plain)),
            log_bytes.load(Ordering::Relaxed) / parts
        );
    }
}
