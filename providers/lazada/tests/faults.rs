//! The Lazada provider through `UploadDriver` against the Lazada simulator with injected
//! faults: many uploads under 5xx, resets, lost answers and 429 bursts, a stalled answer cut by
//! the read timeout, and an upload expiring in the middle of an upload.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::{Completion, PollPolicy, RetryPolicy, UploadDriver, UploadOptions};
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region, VideoOptions};
use marketmedia_sim::faults::{scope, FaultKind, FaultProfile};
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::lazada::{calls, LazadaSim, LazadaSimConfig};
use marketmedia_sim::SimServer;

/// Small blocks so that a 2–3 block upload is small.
const BLOCK: u64 = 256 * 1024;
const COVER: &str = "https://sg-live-02.slatic.net/p/cover.png";

async fn sim(config: LazadaSimConfig) -> (LazadaSim, SimServer) {
    let sim = LazadaSim::new(LazadaSimConfig {
        transcode_queue_delay: Duration::from_millis(10),
        transcode_delay: Duration::from_millis(10),
        audit_delay: Duration::from_millis(10),
        ..config
    });
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

fn provider(sim: &LazadaSim, server: &SimServer, timeouts: HttpTimeouts) -> LazadaUploader {
    let c = sim.credentials();
    let mut config = LazadaConfig::new(c.app_key, c.app_secret, c.access_token, Region::Sg)
        .with_base_url(LazadaSim::rest_base_url(server))
        .with_block_size(BLOCK);
    config.timeouts = timeouts;
    LazadaUploader::new(config)
        .unwrap()
        .with_video_options(VideoOptions::new("Blue kettle", COVER))
}

fn driver(concurrency: usize) -> UploadDriver {
    UploadDriver::new(UploadOptions {
        concurrency,
        retry: RetryPolicy {
            max_attempts: 12,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(50),
            deadline: Duration::from_secs(20),
            ..PollPolicy::default()
        },
        ..UploadOptions::default()
    })
}

fn video(dir: &Path, name: &str, size: u64) -> PathBuf {
    let path = dir.join(name);
    write_sample_mp4(&path, Duration::from_secs(20), size).unwrap();
    path
}

fn video_id(completion: &Completion) -> String {
    match completion {
        Completion::Ready(a) => a.id.clone(),
        Completion::Processing(h) => h.id.clone(),
    }
}

async fn thirty_uploads(profile: FaultProfile) {
    let (sim, server) = sim(LazadaSimConfig::default()).await;
    sim.faults().set(profile);
    let lazada = provider(&sim, &server, HttpTimeouts::default());
    let driver = driver(4);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    for i in 0..30u64 {
        let size = 2 * BLOCK + 1000 + i * 7919 % BLOCK;
        let path = video(dir.path(), &format!("v{i}.mp4"), size);
        let outcome = driver
            .upload_file(&lazada, &path)
            .await
            .unwrap_or_else(|e| panic!("upload {i} failed: {e} ({e:?})"));
        let id = video_id(&outcome.completion);
        assert!(outcome.asset().is_some(), "upload {i} ready");
        assert_eq!(
            sim.video_bytes(&id).expect("stored").as_ref(),
            std::fs::read(&path).unwrap().as_slice(),
            "upload {i}"
        );
    }
    let k = sim.faults().counters();
    eprintln!(
        "lazada: 30 uploads in {:?}; faults {k:?}",
        started.elapsed()
    );
    assert!(
        k.missing_kinds().is_empty(),
        "never injected: {:?} ({k:?})",
        k.missing_kinds()
    );
}

/// The profile on every call but the block commit (whose lost answer Lazada cannot
/// recover from: see the next tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_uploads_under_faults_but_on_commit_all_arrive_intact() {
    thirty_uploads(FaultProfile {
        calls: [
            calls::BLOCK_CREATE,
            calls::BLOCK_UPLOAD,
            calls::VIDEO_GET,
            calls::QUOTA_GET,
        ]
        .map(String::from)
        .to_vec(),
        ..FaultProfile::hostile(0x1a2ada)
    })
    .await;
}

/// The profile on every call, commit included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a lost block/commit answer cannot be recovered: a re-commit is refused FAIL_TO_BLOCK_COMPLETE and no call finds the video by upload_id"]
async fn thirty_uploads_under_faults_all_arrive_intact() {
    thirty_uploads(FaultProfile::hostile(0x1a2ada)).await;
}

/// A re-sent `/media/video/block/commit` is refused `FAIL_TO_BLOCK_COMPLETE` by default (the
/// platform documents no idempotent commit and no call that finds a video by `upload_id`),
/// which the provider maps to `Rejected`: the upload fails although the video exists.
#[tokio::test]
#[ignore = "a lost block/commit answer cannot be recovered: a re-commit is refused FAIL_TO_BLOCK_COMPLETE and no call finds the video by upload_id"]
async fn a_lost_answer_to_block_commit_is_recovered() {
    let (sim, server) = sim(LazadaSimConfig::default()).await;
    sim.faults().set(FaultProfile::scripted(
        scope::LAZADA_COMMIT,
        [FaultKind::LostResponse],
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 2 * BLOCK + 10);
    let outcome = driver(4)
        .upload_file(&provider(&sim, &server, HttpTimeouts::default()), &path)
        .await
        .expect("the upload survives a lost commit answer");
    assert_eq!(
        sim.video_bytes(&video_id(&outcome.completion))
            .unwrap()
            .as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
}

/// Where the gateway answers a re-commit with the same `video_id`
/// (`recommit_returns_video`), the driver's retry recovers a lost commit answer.
#[tokio::test]
async fn a_lost_commit_answer_is_recovered_where_a_recommit_returns_the_video() {
    let (sim, server) = sim(LazadaSimConfig {
        recommit_returns_video: true,
        ..LazadaSimConfig::default()
    })
    .await;
    sim.faults().set(FaultProfile::scripted(
        scope::LAZADA_COMMIT,
        [FaultKind::LostResponse],
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 2 * BLOCK + 10);
    let outcome = driver(4)
        .upload_file(&provider(&sim, &server, HttpTimeouts::default()), &path)
        .await
        .expect("recovered");
    assert_eq!(
        sim.video_bytes(&video_id(&outcome.completion))
            .unwrap()
            .as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
    assert_eq!(sim.wire().count(calls::BLOCK_COMMIT), 2);
    assert_eq!(sim.faults().counters().lost_responses, 1);
}

#[tokio::test]
async fn a_stalled_block_answer_is_cut_by_the_read_timeout_and_retried() {
    let (sim, server) = sim(LazadaSimConfig::default()).await;
    sim.faults().set(FaultProfile {
        stall_ms: 5_000,
        ..FaultProfile::scripted(scope::LAZADA_PARTS, [FaultKind::Stall])
    });
    let timeouts = HttpTimeouts {
        connect: Duration::from_secs(2),
        read_idle: Duration::from_millis(300),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 2 * BLOCK + 10);
    let started = Instant::now();
    let outcome = driver(1)
        .upload_file(&provider(&sim, &server, timeouts), &path)
        .await
        .expect("the stalled block is retried");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(outcome.stats.retries, 1);
    assert_eq!(sim.faults().counters().stalls, 1);
    assert_eq!(
        sim.wire().count(calls::BLOCK_UPLOAD),
        3,
        "3 blocks; the stalled attempt never reached the simulator"
    );
    assert_eq!(
        sim.video_bytes(&video_id(&outcome.completion))
            .unwrap()
            .as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
}

/// A Lazada block upload expires (`upload_ttl`, 24 h by default; 60 s here with the sim clock
/// moved forward after the first block). Lazada has no renewal: the only way on is a new
/// `block/create` and every block again, which the driver does not do yet; the expired upload
/// answers `FAIL_TO_UPLOAD_BLOCK` "has expired", a lost session the driver restarts once.
#[tokio::test]
async fn an_upload_expiring_mid_upload_restarts() {
    let (sim, server) = sim(LazadaSimConfig {
        upload_ttl: Duration::from_secs(60),
        ..LazadaSimConfig::default()
    })
    .await;
    let clock = sim.clock().clone();
    sim.faults()
        .after_requests(scope::LAZADA_PARTS, 1, move || {
            clock.advance(Duration::from_secs(61))
        });
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 3 * BLOCK + 10);
    let outcome = driver(1)
        .upload_file(&provider(&sim, &server, HttpTimeouts::default()), &path)
        .await
        .expect("a new upload is created and completes");
    assert_eq!(
        sim.video_bytes(&video_id(&outcome.completion))
            .unwrap()
            .as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
}
