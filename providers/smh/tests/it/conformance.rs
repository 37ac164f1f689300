//! The shared conformance suite against the SMH simulator, the fault cases included.

use marketmedia_conformance::suite::{self, adapters::SmhHandle, Backend, Credentials};
use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_sim::smh as sim;
use marketmedia_smh::{SmhConfig, SmhUploader, StorageScheme};

fn uploader(
    base_url: &str,
    secret: &str,
    timeouts: HttpTimeouts,
) -> marketmedia_core::Result<SmhUploader> {
    // 1 MiB parts (the smallest SMH allows) keep the suite fast.
    let config = SmhConfig::builder()
        .library_id(sim::TEST_LIBRARY_ID)
        .library_secret(secret)
        .base_url(base_url)
        .storage_scheme(StorageScheme::Http)
        .allow_plain_http(true)
        .part_size(1 << 20)
        .timeouts(timeouts)
        .build()?;
    SmhUploader::new(config)
}

#[tokio::test]
async fn smh_passes_the_conformance_suite() {
    let handle = SmhHandle::start_fast().await.unwrap();
    let base_url = handle.base_url();
    let with_timeouts = base_url.clone();
    let backend = Backend::new(handle, move |creds| {
        let secret = match creds {
            Credentials::Valid => sim::TEST_LIBRARY_SECRET,
            Credentials::Wrong => "not-the-library-secret",
        };
        uploader(&base_url, secret, HttpTimeouts::default())
    })
    .with_timeouts(move |timeouts| uploader(&with_timeouts, sim::TEST_LIBRARY_SECRET, timeouts));
    // SMH files are ready at confirm (nothing to poll), and its 50 TB maximum is far above
    // the suite's budget.
    suite::run_all(&backend).await.assert_passed_skipping(&[
        "processing_ready",
        "processing_failed",
        "maximum_size",
    ]);
}
