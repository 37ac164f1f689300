//! The shared conformance suite against the Shopee simulator, the fault cases included (many
//! uploads under faults, a lost completion answer, a stalled part answer, a session expiring
//! mid-upload), once per media module: `v2.media_space` and `v2.media`.

use std::time::Duration;

use marketmedia_conformance::suite::{self, adapters::ShopeeHandle, Backend, Credentials};
use marketmedia_shopee::{ShopeeConfig, ShopeeModule, ShopeeUploader};
use marketmedia_sim::shopee::{self as sim, ShopeeSimConfig};

/// Small parts, so that the fault cases' many 2–3 part uploads stay small (Shopee's part size
/// is the platform's, so the simulator is told the same).
const PART: u64 = 256 * 1024;

fn config(base_url: &str, partner_key: &str) -> ShopeeConfig {
    ShopeeConfig::builder()
        .partner_id(sim::TEST_PARTNER_ID)
        .partner_key(partner_key)
        .shop_id(sim::TEST_SHOP_ID)
        .access_token(sim::TEST_ACCESS_TOKEN)
        .base_url(base_url)
        .part_size(PART)
        .build()
        .unwrap()
}

/// The suite against `handle`, with providers made by `make` from a base URL and a partner
/// key (the valid one, or a wrong one for the refusal cases).
async fn run_suite(handle: ShopeeHandle, make: fn(&str, &str) -> ShopeeConfig, skips: &[&str]) {
    let base_url = handle.base_url();
    let module = handle.module();
    let with_timeouts = base_url.clone();
    let backend = Backend::new(handle, move |creds| {
        let key = match creds {
            Credentials::Valid => sim::TEST_PARTNER_KEY,
            Credentials::Wrong => "not-the-partner-key",
        };
        ShopeeUploader::new(make(&base_url, key))
    })
    .with_timeouts(move |timeouts| {
        let mut config = make(&with_timeouts, sim::TEST_PARTNER_KEY);
        config.options.timeouts = timeouts;
        ShopeeUploader::new(config)
    });
    suite::run_all(&backend).await.assert_passed_skipping(skips);
    let wire = backend.sim().wire();
    // Every run goes through its own module's paths only.
    let (own, other) = match module {
        sim::Module::MediaSpace => ("init_video_upload", "media/init_video_upload"),
        sim::Module::Media => ("media/init_video_upload", "init_video_upload"),
    };
    assert!(wire.count(own) > 0, "no {own}");
    assert_eq!(wire.count(other), 0, "{other} was called");
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
    // Shopee limits the duration (so no 1-byte video) and has no instant upload.
    run_suite(handle, config, &["one_byte", "instant_upload"]).await;
}

/// The `v2.media` module's largest file in this run: small, so that the suite's
/// maximum-size case runs (the platform's is 1 GiB); the simulator is told the same.
const MEDIA_MAX: u64 = 2 * 1024 * 1024;

fn media_config(base_url: &str, partner_key: &str) -> ShopeeConfig {
    ShopeeConfig::builder()
        .partner_id(sim::TEST_PARTNER_ID)
        .partner_key(partner_key)
        .shop_id(sim::TEST_SHOP_ID)
        .access_token(sim::TEST_ACCESS_TOKEN)
        .base_url(base_url)
        .part_size(PART)
        .module(ShopeeModule::Media)
        .max_file_bytes(MEDIA_MAX)
        .build()
        .unwrap()
}

/// The same suite through `/api/v2/media/…`: init declares business, scene, name, size and
/// duration, its answer gives the part size (the simulator's equals the provider's here, so the
/// suite's size sweeps around the part size hold), parts carry `part_md5`, completion sends
/// the task id only.
#[tokio::test]
async fn shopee_media_module_passes_the_conformance_suite() {
    let handle = ShopeeHandle::start_media(ShopeeSimConfig {
        media_part_size: PART,
        media_max_video_bytes: MEDIA_MAX,
        transcode_delay: Duration::from_millis(20),
        ..ShopeeSimConfig::default()
    })
    .await
    .unwrap();
    run_suite(handle, media_config, &["one_byte", "instant_upload"]).await;
}
