//! The shared conformance suite against the eBay simulator, the fault cases included.

use marketmedia_conformance::suite::{self, adapters::EbayHandle, Backend, Credentials};
use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_ebay::{EbayConfig, EbayUploader};
use marketmedia_sim::ebay::TEST_ACCESS_TOKEN;

fn uploader(
    base_url: &str,
    token: &str,
    timeouts: HttpTimeouts,
) -> marketmedia_core::Result<EbayUploader> {
    // 1 MiB chunks keep the suite fast.
    let mut config = EbayConfig::builder()
        .access_token(token)
        .base_url(base_url)
        .build()?;
    config.part_size = 1 << 20;
    config.options.timeouts = timeouts;
    // The fast simulator allows 100,000 POST per 5 s (`start_fast`), so the client need not hold to
    // eBay's published one (its default): the suite sends hundreds of 1 MiB chunks.
    config.options.request_rate = Some(marketmedia_core::RequestRate {
        requests: u32::MAX,
        per: std::time::Duration::from_secs(1),
        method: None,
    });
    EbayUploader::new(config)
}

#[tokio::test]
async fn ebay_passes_the_conformance_suite() {
    let handle = EbayHandle::start_fast().await.unwrap();
    let base_url = handle.base_url();
    let with_timeouts = base_url.clone();
    let backend = Backend::new(handle, move |creds| {
        let token = match creds {
            Credentials::Valid => TEST_ACCESS_TOKEN,
            Credentials::Wrong => "not-the-user-token",
        };
        uploader(&base_url, token, HttpTimeouts::default())
    })
    .with_timeouts(move |timeouts| uploader(&with_timeouts, TEST_ACCESS_TOKEN, timeouts));
    // One ordered stream (no concurrent parts), no call to abandon an upload, no instant
    // upload, a maximum above the suite's budget, and an adapter that cannot yet tell a
    // replaced session from the wire log (the video id is in the path).
    suite::run_all(&backend).await.assert_passed_skipping(&[
        "out_of_order_concurrent",
        "put_part_after_cancel",
        "instant_upload",
        "maximum_size",
        "session_expiring_mid_upload",
    ]);
}
