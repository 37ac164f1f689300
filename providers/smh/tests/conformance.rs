//! The shared conformance suite against the SMH simulator, the fault cases included.

use marketmedia_conformance::suite::{self, adapters::SmhHandle, Backend, Credentials};
use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_sim::smh as sim;
use marketmedia_smh::{SmhConfig, SmhUploader, StorageScheme};

/// Why a lost confirm answer fails the upload, for the two cases it breaks.
const LOST_CONFIRM: &str = "a lost confirm answer cannot be recovered: the re-sent confirm is \
    refused 409 UploadComplete (Conflict, not retried) and SMH has no documented call giving \
    the confirmed file's path, so the upload fails (and the driver's cancel is refused too) \
    although the file is in the library";

fn uploader(
    base_url: &str,
    secret: &str,
    timeouts: HttpTimeouts,
) -> marketmedia_core::Result<SmhUploader> {
    // 1 MiB parts (the smallest SMH allows) keep the suite fast.
    let mut config = SmhConfig::new(sim::TEST_LIBRARY_ID, secret)
        .base_url(base_url)
        .storage_scheme(StorageScheme::Http)
        .allow_plain_http(true)
        .part_size(1 << 20);
    config.timeouts = timeouts;
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
    .with_timeouts(move |timeouts| uploader(&with_timeouts, sim::TEST_LIBRARY_SECRET, timeouts))
    .allow_deviation("lost_commit_answer", LOST_CONFIRM)
    .allow_deviation("uploads_under_faults_on_every_call", LOST_CONFIRM);
    // SMH files are ready at confirm (nothing to poll), and its 50 TB maximum is far above
    // the suite's budget.
    suite::run_all(&backend).await.assert_passed_skipping(&[
        "processing_ready",
        "processing_failed",
        "maximum_size",
    ]);
}
