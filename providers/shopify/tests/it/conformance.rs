//! The shared conformance suite against the Shopify simulator, the fault cases included.

use marketmedia_conformance::suite::{self, adapters::ShopifyHandle, Backend, Credentials};
use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_shopify::{ShopifyConfig, ShopifyUploader};
use marketmedia_sim::shopify::TEST_ACCESS_TOKEN;

fn uploader(
    shop: &str,
    base_url: &str,
    token: &str,
    timeouts: HttpTimeouts,
) -> marketmedia_core::Result<ShopifyUploader> {
    // A 12 MiB maximum keeps the suite's maximum-size case within its budget.
    let mut config = ShopifyConfig::builder()
        .shop(shop)
        .access_token(token)
        .base_url(base_url)
        .max_file_bytes(12 << 20)
        .build()?;
    config.options.timeouts = timeouts;
    ShopifyUploader::new(config)
}

#[tokio::test]
async fn shopify_passes_the_conformance_suite() {
    let handle = ShopifyHandle::start_fast().await.unwrap();
    let base_url = handle.base_url();
    let shop = handle.shop();
    let (with_timeouts, shop2) = (base_url.clone(), shop.clone());
    let backend = Backend::new(handle, move |creds| {
        let token = match creds {
            Credentials::Valid => TEST_ACCESS_TOKEN,
            Credentials::Wrong => "shpat_not-the-store-token",
        };
        uploader(&shop, &base_url, token, HttpTimeouts::default())
    })
    .with_timeouts(move |timeouts| uploader(&shop2, &with_timeouts, TEST_ACCESS_TOKEN, timeouts));
    // One part per upload (the staged target takes the whole file): no numbering of parts,
    // nothing to resume, no concurrent parts, no session expiring between parts; no call to
    // abandon an upload, no instant upload, and a duration limit (no 1-byte video).
    suite::run_all(&backend).await.assert_passed_skipping(&[
        "one_byte",
        "part_numbering",
        "out_of_order_concurrent",
        "resume_skips_known_parts",
        "put_part_after_cancel",
        "instant_upload",
        "session_expiring_mid_upload",
    ]);
}
