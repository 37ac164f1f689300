//! The fault scenarios only SMH has: its access token, fetched with the library secret and
//! cached by the provider, expires in the middle of an upload; the storage answers a part
//! without its ETag, or with a wrong one. The other fault scenarios are suite cases, run by
//! `conformance.rs`.

use std::time::Duration;

use marketmedia_core::{RetryPolicy, UploadDriver, UploadOptions};
use marketmedia_sim::faults::{scope, FaultKind, FaultProfile};
use marketmedia_sim::fixtures;
use marketmedia_sim::smh::{calls, SmhSim, SmhSimConfig, TEST_LIBRARY_ID, TEST_LIBRARY_SECRET};
use marketmedia_smh::{SmhConfig, SmhUploader, StorageScheme, MIB};

/// The access token expires (10 min here) while the parts go out: the confirm is refused
/// `AuthorizationExpired`, the provider fetches a new token and confirms.
/// An SMH uploader for the simulator at `api`, in 1 MiB parts.
fn uploader(api: &str) -> SmhUploader {
    SmhUploader::new(
        SmhConfig::builder()
            .library_id(TEST_LIBRARY_ID)
            .library_secret(TEST_LIBRARY_SECRET)
            .base_url(api)
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true)
            .part_size(MIB)
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// A driver sending one part at a time, retrying quickly.
fn one_part_at_a_time() -> UploadDriver {
    UploadDriver::new(UploadOptions {
        concurrency: 1,
        retry: RetryPolicy {
            max_attempts: 12,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            ..RetryPolicy::default()
        },
        ..UploadOptions::default()
    })
}

#[tokio::test]
async fn an_access_token_expiring_mid_upload_is_refreshed() {
    let sim = SmhSim::new(SmhSimConfig {
        token_lifetime: Duration::from_secs(600),
        ..SmhSimConfig::default()
    });
    let servers = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let clock = sim.clock().clone();
    sim.faults().after_requests(scope::SMH_PARTS, 1, move || {
        clock.advance(Duration::from_secs(660))
    });
    let smh = uploader(&servers.api_base_url());
    let driver = one_part_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.mp4");
    fixtures::write_sample_mp4(&path, Duration::from_secs(20), 3 * MIB + 10).unwrap();
    let outcome = driver
        .upload_file(&smh, &path)
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

/// Uploads a 3 MiB + 10 file in 1 MiB parts, one at a time, while the storage answers the
/// first part PUT with `fault` (the part is stored, the answer's ETag removed or replaced):
/// the provider does not take that answer as an acknowledgement, the part goes out again, and
/// the upload ends intact with the retry and the re-sent bytes in its stats.
async fn a_part_answer_with(fault: FaultKind) {
    let sim = SmhSim::new(SmhSimConfig::default());
    let servers = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sim.faults()
        .set(FaultProfile::scripted(scope::SMH_PARTS, [fault]));
    let smh = uploader(&servers.api_base_url());
    let driver = one_part_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.mp4");
    let size = 3 * MIB + 10;
    fixtures::write_sample_mp4(&path, Duration::from_secs(20), size).unwrap();
    let outcome = driver
        .upload_file(&smh, &path)
        .await
        .unwrap_or_else(|e| panic!("{fault:?}: the part is re-sent and the upload completes: {e}"));
    let asset = outcome.asset().expect("ready");
    assert_eq!(
        sim.file(&asset.id).unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice(),
        "{fault:?}"
    );
    // The first part went out twice, every other part once.
    let puts = sim.wire().calls(calls::PUT_PART);
    let numbers: Vec<&str> = puts
        .iter()
        .map(|r| r.param("partNumber").unwrap())
        .collect();
    assert_eq!(numbers, ["1", "1", "2", "3", "4"], "{fault:?}");
    assert!(puts.iter().all(|r| r.status == 200), "{fault:?}");
    assert_eq!(sim.storage_bytes_received(), size + MIB, "{fault:?}");
    let counters = sim.faults().counters();
    assert_eq!(counters.injected(), 1, "{fault:?}: {counters:?}");
    // The stats count the retry and the part's bytes sent again.
    let stats = &outcome.stats;
    assert_eq!(stats.retries, 1, "{fault:?}: {stats:?}");
    assert_eq!(stats.bytes_resent, MIB, "{fault:?}: {stats:?}");
    assert_eq!(stats.bytes_sent, size, "{fault:?}: {stats:?}");
    assert_eq!(stats.parts_sent, 4, "{fault:?}: {stats:?}");
}

/// A part answered 200 without an ETag is not acknowledged: re-sent.
#[tokio::test]
async fn a_part_answer_without_an_etag_is_resent() {
    a_part_answer_with(FaultKind::NoEtag).await;
}

/// A part answered 200 with another part's ETag is not acknowledged: re-sent.
#[tokio::test]
async fn a_part_answer_with_a_wrong_etag_is_resent() {
    a_part_answer_with(FaultKind::WrongEtag).await;
}
