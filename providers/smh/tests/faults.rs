//! The SMH provider through `UploadDriver` against the SMH simulator (API and storage) with
//! injected faults: many uploads under 5xx, resets, lost answers and 429 bursts, a stalled part
//! answer cut by the read timeout, and presigned URLs and tokens expiring mid-upload.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use marketmedia_core::http::HttpTimeouts;
use marketmedia_core::{RetryPolicy, UploadDriver, UploadOptions};
use marketmedia_sim::faults::{scope, FaultKind, FaultProfile};
use marketmedia_sim::fixtures;
use marketmedia_sim::smh::{
    calls, SmhServers, SmhSim, SmhSimConfig, TEST_LIBRARY_ID, TEST_LIBRARY_SECRET,
};
use marketmedia_smh::{SmhConfig, SmhUploader, StorageScheme, MIB};

async fn sim(config: SmhSimConfig) -> (SmhSim, SmhServers) {
    let sim = SmhSim::new(config);
    let servers = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, servers)
}

fn provider(servers: &SmhServers, timeouts: HttpTimeouts) -> SmhUploader {
    let mut config = SmhConfig::new(TEST_LIBRARY_ID, TEST_LIBRARY_SECRET)
        .base_url(servers.api_base_url())
        .storage_scheme(StorageScheme::Http)
        .allow_plain_http(true)
        .part_size(MIB);
    config.timeouts = timeouts;
    SmhUploader::new(config).unwrap()
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
        ..UploadOptions::default()
    })
}

fn video(dir: &Path, name: &str, size: u64) -> PathBuf {
    let path = dir.join(name);
    fixtures::write_sample_mp4(&path, Duration::from_secs(20), size).unwrap();
    path
}

async fn thirty_uploads(profile: FaultProfile) {
    let (sim, servers) = sim(SmhSimConfig::default()).await;
    sim.faults().set(profile);
    let smh = provider(&servers, HttpTimeouts::default());
    let driver = driver(4);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    for i in 0..30u64 {
        // 2–3 parts of 1 MiB, every file different.
        let size = 2 * MIB + 1000 + i * 7919 % MIB;
        let path = video(dir.path(), &format!("v{i}.mp4"), size);
        let outcome = driver
            .upload_file(&smh, &path)
            .await
            .unwrap_or_else(|e| panic!("upload {i} failed: {e} ({e:?})"));
        let asset = outcome.asset().expect("ready");
        assert_eq!(
            sim.file(&asset.id).expect("stored").as_ref(),
            std::fs::read(&path).unwrap().as_slice(),
            "upload {i}"
        );
    }
    let k = sim.faults().counters();
    eprintln!("smh: 30 uploads in {:?}; faults {k:?}", started.elapsed());
    assert!(
        k.missing_kinds().is_empty(),
        "never injected: {:?} ({k:?})",
        k.missing_kinds()
    );
}

/// The profile on every call of both servers but the confirm (whose lost answer the
/// provider cannot recover from: see the next tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_uploads_under_faults_but_on_confirm_all_arrive_intact() {
    thirty_uploads(FaultProfile {
        calls: vec![
            "GET /api/v1/token".into(),
            "?multipart".into(),
            "?renew".into(),
            "?upload".into(),
            scope::SMH_PARTS.into(),
        ],
        ..FaultProfile::hostile(0x5e4)
    })
    .await;
}

/// The profile on every call, confirm included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a lost confirm answer cannot be recovered: the re-sent confirm is refused 409 UploadComplete and SMH has no documented call giving the confirmed file's path"]
async fn thirty_uploads_under_faults_all_arrive_intact() {
    thirty_uploads(FaultProfile::hostile(0x5e4)).await;
}

/// The re-sent confirm after a lost answer is refused 409 `UploadComplete` (Conflict, not
/// retried): the upload fails (and the driver's cancel is refused too) although the file is
/// in the library.
#[tokio::test]
#[ignore = "a lost confirm answer cannot be recovered: the re-sent confirm is refused 409 UploadComplete and SMH has no documented call giving the confirmed file's path"]
async fn a_lost_answer_to_confirm_is_recovered() {
    let (sim, servers) = sim(SmhSimConfig::default()).await;
    sim.faults().set(FaultProfile::scripted(
        scope::SMH_COMMIT,
        [FaultKind::LostResponse],
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 2 * MIB + 10);
    let outcome = driver(4)
        .upload_file(&provider(&servers, HttpTimeouts::default()), &path)
        .await
        .expect("the upload survives a lost confirm answer");
    let asset = outcome.asset().expect("ready");
    assert_eq!(
        sim.file(&asset.id).unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
    assert_eq!(sim.faults().counters().lost_responses, 1);
}

#[tokio::test]
async fn a_stalled_part_answer_is_cut_by_the_read_timeout_and_retried() {
    let (sim, servers) = sim(SmhSimConfig::default()).await;
    sim.faults().set(FaultProfile {
        stall_ms: 5_000,
        ..FaultProfile::scripted(scope::SMH_PARTS, [FaultKind::Stall])
    });
    let timeouts = HttpTimeouts {
        connect: Duration::from_secs(2),
        read_idle: Duration::from_millis(300),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 2 * MIB + 10);
    let started = Instant::now();
    let outcome = driver(1)
        .upload_file(&provider(&servers, timeouts), &path)
        .await
        .expect("the stalled part is retried");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(outcome.stats.retries, 1);
    assert_eq!(sim.faults().counters().stalls, 1);
    assert_eq!(
        sim.wire().count(calls::PUT_PART),
        3,
        "3 parts; the stalled attempt never reached the simulator"
    );
    let asset = outcome.asset().expect("ready");
    assert_eq!(
        sim.file(&asset.id).unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
}

/// The presigned storage headers expire (30 min) after the first part: the next part is
/// refused "Request has expired", the driver renews the upload information and goes on.
#[tokio::test]
async fn presigned_urls_expiring_mid_upload_are_renewed() {
    let (sim, servers) = sim(SmhSimConfig::default()).await;
    let clock = sim.clock().clone();
    let lifetime = sim.config().upload_info_lifetime;
    sim.faults().after_requests(scope::SMH_PARTS, 1, move || {
        clock.advance(lifetime + Duration::from_secs(60))
    });
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 3 * MIB + 10);
    let outcome = driver(1)
        .upload_file(&provider(&servers, HttpTimeouts::default()), &path)
        .await
        .expect("renewed and completed");
    let asset = outcome.asset().expect("ready");
    assert_eq!(
        sim.file(&asset.id).unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
    assert!(sim.wire().count(calls::RENEW_UPLOAD) >= 1);
    let refused: Vec<_> = sim
        .wire()
        .calls(calls::PUT_PART)
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert_eq!(refused.len(), 1, "one part met the expiry");
}

/// The access token expires (10 min here) while the parts go out: the confirm is refused
/// `AuthorizationExpired`, the provider fetches a new token and confirms.
#[tokio::test]
async fn an_access_token_expiring_mid_upload_is_refreshed() {
    let (sim, servers) = sim(SmhSimConfig {
        token_lifetime: Duration::from_secs(600),
        ..SmhSimConfig::default()
    })
    .await;
    let clock = sim.clock().clone();
    sim.faults().after_requests(scope::SMH_PARTS, 1, move || {
        clock.advance(Duration::from_secs(660))
    });
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 3 * MIB + 10);
    let outcome = driver(1)
        .upload_file(&provider(&servers, HttpTimeouts::default()), &path)
        .await
        .expect("token refreshed and completed");
    let asset = outcome.asset().expect("ready");
    assert_eq!(
        sim.file(&asset.id).unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
    assert_eq!(
        sim.wire().count(calls::TOKEN),
        2,
        "the first token and its refresh"
    );
    let confirms = sim.wire().calls(calls::CONFIRM_UPLOAD);
    assert_eq!(confirms.first().map(|r| r.status), Some(403));
    assert_eq!(confirms.last().map(|r| r.status), Some(200));
}
