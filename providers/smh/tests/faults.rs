//! The fault scenario only SMH has: its access token, fetched with the library secret and
//! cached by the provider, expires in the middle of an upload. The other fault scenarios are
//! suite cases, run by `conformance.rs`.

use std::time::Duration;

use marketmedia_core::{RetryPolicy, UploadDriver, UploadOptions};
use marketmedia_sim::faults::scope;
use marketmedia_sim::fixtures;
use marketmedia_sim::smh::{calls, SmhSim, SmhSimConfig, TEST_LIBRARY_ID, TEST_LIBRARY_SECRET};
use marketmedia_smh::{SmhConfig, SmhUploader, StorageScheme, MIB};

/// The access token expires (10 min here) while the parts go out: the confirm is refused
/// `AuthorizationExpired`, the provider fetches a new token and confirms.
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
    let smh = SmhUploader::new(
        SmhConfig::new(TEST_LIBRARY_ID, TEST_LIBRARY_SECRET)
            .base_url(servers.api_base_url())
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true)
            .part_size(MIB),
    )
    .unwrap();
    let driver = UploadDriver::new(UploadOptions {
        concurrency: 1,
        retry: RetryPolicy {
            max_attempts: 12,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            ..RetryPolicy::default()
        },
        ..UploadOptions::default()
    });
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
