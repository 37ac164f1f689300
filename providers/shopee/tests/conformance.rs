//! The shared conformance suite against the Shopee simulator.

use marketmedia_conformance::suite::{self, adapters::ShopeeHandle, Backend, Credentials};
use marketmedia_shopee::{ShopeeConfig, ShopeeUploader};
use marketmedia_sim::shopee as sim;

#[tokio::test]
async fn shopee_passes_the_conformance_suite() {
    let handle = ShopeeHandle::start_fast().await.unwrap();
    let base_url = handle.base_url();
    let backend = Backend::new(handle, move |creds| {
        let key = match creds {
            Credentials::Valid => sim::TEST_PARTNER_KEY,
            Credentials::Wrong => "not-the-partner-key",
        };
        let config = ShopeeConfig::new(
            sim::TEST_PARTNER_ID,
            key,
            sim::TEST_SHOP_ID,
            sim::TEST_ACCESS_TOKEN,
        )
        .with_base_url(&base_url);
        ShopeeUploader::new(config)
    });
    suite::run_all(&backend).await.assert_passed();
}
