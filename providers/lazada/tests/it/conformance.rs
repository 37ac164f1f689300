//! The shared conformance suite against the Lazada simulator, the fault cases included.

use std::time::Duration;

use marketmedia_conformance::suite::{self, adapters::LazadaHandle, Backend, Credentials};
use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::UploadMeta;
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region};
use marketmedia_sim::lazada::{self as sim, LazadaSimConfig};

fn uploader(
    base_url: &str,
    secret: &str,
    timeouts: HttpTimeouts,
) -> marketmedia_core::Result<LazadaUploader> {
    // 1 MiB blocks keep the suite fast (the 100 MiB maximum is 100 blocks).
    let mut config = LazadaConfig::builder()
        .app_key(sim::LAZADA_TEST_APP_KEY)
        .app_secret(secret)
        .access_token(sim::LAZADA_TEST_ACCESS_TOKEN)
        .region(Region::Sg)
        .base_url(base_url)
        .block_size(1 << 20)
        .build()?;
    config.options.timeouts = timeouts;
    LazadaUploader::new(config)
}

#[tokio::test]
async fn lazada_passes_the_conformance_suite() {
    let handle = LazadaHandle::start(LazadaSimConfig {
        // Block uploads expire after 60 s (24 h on the platform), so that
        // `session_expiring_mid_upload` moves the clock by minutes, within the simulator's
        // timestamp tolerance. Every other upload of the suite takes seconds.
        upload_ttl: Duration::from_secs(60),
        transcode_queue_delay: Duration::from_millis(20),
        transcode_delay: Duration::from_millis(20),
        audit_delay: Duration::from_millis(20),
        ..LazadaSimConfig::default()
    })
    .await
    .unwrap();
    let base_url = handle.base_url();
    let with_timeouts = base_url.clone();
    let backend = Backend::new(handle, move |creds| {
        let secret = match creds {
            Credentials::Valid => sim::LAZADA_TEST_APP_SECRET,
            Credentials::Wrong => "not-the-app-secret",
        };
        uploader(&base_url, secret, HttpTimeouts::default())
    })
    .with_timeouts(move |timeouts| uploader(&with_timeouts, sim::LAZADA_TEST_APP_SECRET, timeouts))
    // Every video's title and cover, which Lazada requires.
    .with_meta(
        UploadMeta::default()
            .with_title("Conformance")
            .with_cover_url("https://example.com/cover.jpg"),
    );
    // Lazada has no call to abandon a block upload, and no instant upload.
    suite::run_all(&backend)
        .await
        .assert_passed_skipping(&["put_part_after_cancel", "instant_upload"]);
}
