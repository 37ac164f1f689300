//! The shared conformance suite against the TikTok Shop simulator, the fault cases included.

use marketmedia_conformance::suite::adapters::TiktokHandle;
use marketmedia_conformance::suite::{self, Backend, Credentials};
use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_sim::tiktok::{TEST_ACCESS_TOKEN, TEST_APP_KEY, TEST_APP_SECRET};
use marketmedia_tiktok::{TiktokConfig, TiktokUploader};

fn uploader(
    base_url: &str,
    secret: &str,
    timeouts: HttpTimeouts,
) -> marketmedia_core::Result<TiktokUploader> {
    let mut config = TiktokConfig::builder()
        .app_key(TEST_APP_KEY)
        .app_secret(secret)
        .access_token(TEST_ACCESS_TOKEN)
        .base_url(base_url)
        .max_video_bytes(TiktokHandle::FAST_MAX_VIDEO_BYTES)
        .build()?;
    config.options.timeouts = timeouts;
    TiktokUploader::new(config)
}

#[tokio::test]
async fn tiktok_passes_the_conformance_suite() {
    let handle = TiktokHandle::start_fast().await.unwrap();
    let base_url = handle.base_url();
    let with_timeouts = base_url.clone();
    let backend = Backend::new(handle, move |creds| {
        let secret = match creds {
            Credentials::Valid => TEST_APP_SECRET,
            Credentials::Wrong => "not-the-app-secret",
        };
        uploader(&base_url, secret, HttpTimeouts::default())
    })
    .with_timeouts(move |timeouts| uploader(&with_timeouts, TEST_APP_SECRET, timeouts));
    // One request per file: no second part to number or to send out of order, nothing to
    // resume within a file, no session to abandon or expire, no processing to poll, no
    // instant upload; no video TikTok takes is under 12 bytes (its container's head).
    suite::run_all(&backend).await.assert_passed_skipping(&[
        "one_byte",
        "part_numbering",
        "out_of_order_concurrent",
        "resume_skips_known_parts",
        "put_part_after_cancel",
        "processing_ready",
        "processing_failed",
        "instant_upload",
        "session_expiring_mid_upload",
    ]);
}
