//! Memory stays bounded whatever the file size: a counting allocator measures the peak heap
//! in use while the driver uploads a 640 MiB file over real HTTP (parts streamed from disk
//! with `part_body`, 10 in flight), and the peak must stay under a fixed budget — the same
//! budget as for a 64 MiB file. One test in this binary: the allocator counts the whole
//! process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use marketmedia_core::raw::http::{part_body, CallMeta, ClientOptions, HttpClient};
use marketmedia_core::raw::{
    ChunkedVideoUploader, CommitOutcome, InitOutcome, Part, PartPlan, PartReceipt, PartSizeRule,
    ProcessingHandle, ProcessingStatus, SourceInfo, UploadRules, UploadSession,
};
use marketmedia_core::{Asset, Error, Result, UploadDriver, UploadOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: u64 = 1 << 20;
const PART: u64 = 8 * MIB;

/// A local HTTP/1.1 server that reads every request body to the end, discards it, counts it
/// and answers 200 (keep-alive).
async fn sink() -> (String, std::sync::Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = std::sync::Arc::new(AtomicUsize::new(0));
    let total = received.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let total = total.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut head = Vec::new();
                loop {
                    // Read the head.
                    let end = loop {
                        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    };
                    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let mut left = len.saturating_sub(head.len() - end);
                    head.clear();
                    while left > 0 {
                        let want = left.min(buf.len());
                        match socket.read(&mut buf[..want]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => left -= n,
                        }
                    }
                    total.fetch_add(len, Ordering::Relaxed);
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                    if socket.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/part"), received)
}

/// Streams every part to the sink, as a provider does.
struct SinkUploader {
    rules: UploadRules,
    url: String,
    client: HttpClient,
}

#[async_trait]
impl ChunkedVideoUploader for SinkUploader {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }
    async fn init(&self, _: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        Ok(InitOutcome::Session(UploadSession {
            platform: "sink".into(),
            upload_id: "u".into(),
            plan: *plan,
            expires_at: None,
            started_at_ms: 0,
            data: serde_json::Value::Null,
        }))
    }
    async fn put_part(&self, _: &UploadSession, part: &Part) -> Result<PartReceipt> {
        let request = self
            .client
            .put(&self.url)
            .header(reqwest::header::CONTENT_LENGTH, part.len())
            .body(part_body(part));
        let meta = CallMeta {
            platform: "sink",
            call: "put_part",
            part: Some(part.index),
        };
        let answer = self.client.send(request, meta).await?;
        if answer.status != 200 {
            return Err(Error::protocol(format!("HTTP {}", answer.status)));
        }
        Ok(PartReceipt {
            index: part.index,
            wire_number: part.index,
            size: part.len(),
            etag: None,
        })
    }
    async fn commit(&self, s: &UploadSession, _: &[PartReceipt]) -> Result<CommitOutcome> {
        Ok(CommitOutcome::Ready(Asset {
            platform: "sink".into(),
            id: s.upload_id.clone(),
            urls: Vec::new(),
            thumbnails: Vec::new(),
            duration: None,
            size: Some(s.plan.file_size()),
            details: serde_json::Value::Null,
        }))
    }
    async fn poll(&self, _: &ProcessingHandle) -> Result<ProcessingStatus> {
        Err(Error::protocol("nothing to poll"))
    }
    async fn cancel(&self, _: &UploadSession) -> Result<()> {
        Ok(())
    }
}

/// A sparse file of `size` bytes that sniffs as MP4 (no duration rule applies).
fn video(dir: &std::path::Path, name: &str, size: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2")
        .unwrap();
    f.seek(SeekFrom::Start(size - 1)).unwrap();
    f.write_all(&[0]).unwrap();
    path
}

/// Peak heap in use above the level at the start, during one upload of `path`.
async fn peak_during(provider: &SinkUploader, path: &std::path::Path) -> (usize, u64) {
    let driver = UploadDriver::new(UploadOptions::default());
    let base = IN_USE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let outcome = driver.upload_file(provider, path).await.unwrap();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (peak, outcome.stats.bytes_sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_memory_is_independent_of_the_file_size() {
    /// The budget: 10 parts in flight × (the chunk being sent + the one read ahead + what the
    /// HTTP stack queues), with room to spare (about 1.5 MiB is measured) — and far below the
    /// 80 MiB that 10 buffered 8 MiB parts would hold, let alone the file.
    const BUDGET: usize = 16 << 20;
    let dir = tempfile::tempdir().unwrap();
    let small = video(dir.path(), "small.mp4", 64 * MIB);
    let large = video(dir.path(), "large.mp4", 640 * MIB);
    let (url, received) = sink().await;
    let provider = SinkUploader {
        rules: UploadRules::new("sink", PartSizeRule::Exact(PART), u64::MAX),
        url,
        client: HttpClient::new(ClientOptions::default()).unwrap(),
    };
    // Warm up (connection pool, runtime, chunk pool) so the two runs compare like with like.
    peak_during(&provider, &small).await;
    let (peak_small, sent_small) = peak_during(&provider, &small).await;
    let (peak_large, sent_large) = peak_during(&provider, &large).await;
    assert_eq!(sent_small, 64 * MIB);
    assert_eq!(sent_large, 640 * MIB);
    assert_eq!(
        received.load(Ordering::Relaxed) as u64,
        2 * 64 * MIB + 640 * MIB
    );
    eprintln!("peak heap above start: 64 MiB file {peak_small} B, 640 MiB file {peak_large} B");
    assert!(
        peak_large < BUDGET,
        "uploading 640 MiB held {peak_large} bytes at its peak (budget {BUDGET})"
    );
    // Ten times the file, not ten times the memory: within half a part of the small run.
    assert!(
        peak_large <= peak_small + (PART / 2) as usize,
        "peak grew with the file: {peak_small} B for 64 MiB, {peak_large} B for 640 MiB"
    );
}
