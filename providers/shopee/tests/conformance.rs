//! The shared conformance suite against the Shopee simulator, the fault cases included (many
//! uploads under faults, a lost completion answer, a stalled part answer, a session expiring
//! mid-upload).

use std::time::Duration;

use marketmedia_conformance::suite::{self, adapters::ShopeeHandle, Backend, Credentials};
use marketmedia_shopee::{ShopeeConfig, ShopeeUploader};
use marketmedia_sim::shopee::{self as sim, ShopeeSimConfig};

/// Small parts, so that the fault cases' many 2–3 part uploads stay small (Shopee's part size
/// is the platform's, so the simulator is told the same).
const PART: u64 = 256 * 1024;

fn config(base_url: &str, partner_key: &str) -> ShopeeConfig {
    let mut config = ShopeeConfig::new(
        sim::TEST_PARTNER_ID,
        partner_key,
        sim::TEST_SHOP_ID,
        sim::TEST_ACCESS_TOKEN,
    )
    .with_base_url(base_url);
    config.part_size = PART;
    config
}

#[tokio::test]
async fn shopee_passes_the_conformance_suite() {
    let handle = ShopeeHandle::start(ShopeeSimConfig {
        part_size: PART,
        transcode_delay: Duration::from_millis(20),
        ..ShopeeSimConfig::default()
    })
    .await
    .unwrap();
    let base_url = handle.base_url();
    let with_timeouts = base_url.clone();
    let backend = Backend::new(handle, move |creds| {
        let key = match creds {
            Credentials::Valid => sim::TEST_PARTNER_KEY,
            Credentials::Wrong => "not-the-partner-key",
        };
        ShopeeUploader::new(config(&base_url, key))
    })
    .with_timeouts(move |timeouts| {
        let mut config = config(&with_timeouts, sim::TEST_PARTNER_KEY);
        config.timeouts = timeouts;
        ShopeeUploader::new(config)
    });
    // Shopee limits the duration (so no 1-byte video) and has no instant upload.
    suite::run_all(&backend)
        .await
        .assert_passed_skipping(&["one_byte", "instant_upload"]);
}
