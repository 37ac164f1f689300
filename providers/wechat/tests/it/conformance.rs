//! The shared conformance suite against the WeChat Channels Store simulator, the fault cases
//! included.

use marketmedia_conformance::suite::{self, adapters::WechatHandle, Backend, Credentials};
use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_sim::wechat as sim;
use marketmedia_wechat::{VideoScene, WechatConfig, WechatUploader, MIN_PART_BYTES};

fn uploader(
    base_url: &str,
    secret: &str,
    scene: VideoScene,
    timeouts: HttpTimeouts,
) -> marketmedia_core::Result<WechatUploader> {
    // 1 MiB parts (the smallest allowed) keep the suite fast.
    let mut config = WechatConfig::builder()
        .appid(sim::TEST_APPID)
        .appsecret(secret)
        .base_url(base_url)
        .build()?;
    config.part_size = MIN_PART_BYTES;
    config.scene = scene;
    config.options.timeouts = timeouts;
    WechatUploader::new(config)
}

async fn suite_for(scene: VideoScene, skips: &[&str]) {
    let handle = WechatHandle::start_fast().await.unwrap();
    let base_url = handle.base_url();
    let with_timeouts = base_url.clone();
    let backend = Backend::new(handle, move |creds| {
        let secret = match creds {
            Credentials::Valid => sim::TEST_APPSECRET,
            Credentials::Wrong => "not-the-app-secret",
        };
        uploader(&base_url, secret, scene, HttpTimeouts::default())
    })
    .with_timeouts(move |timeouts| uploader(&with_timeouts, sim::TEST_APPSECRET, scene, timeouts));
    suite::run_all(&backend).await.assert_passed_skipping(skips);
}

/// Product videos (scene 162): up to 500MB and 180 s, so every source is a real MP4.
#[tokio::test]
async fn wechat_product_videos_pass_the_conformance_suite() {
    // A duration limit (no 1-byte video), no call to abandon an upload, no simulated
    // processing failure, no instant upload, a maximum above the suite's budget, and an
    // adapter that cannot yet tell a replaced session from the wire log.
    suite_for(
        VideoScene::Product,
        &[
            "one_byte",
            "put_part_after_cancel",
            "processing_failed",
            "instant_upload",
            "maximum_size",
            "session_expiring_mid_upload",
        ],
    )
    .await;
}

/// After-sale videos (scene 173): up to 20MB, no duration limit, so the suite also sends one
/// byte and the largest file.
#[tokio::test]
async fn wechat_after_sale_videos_pass_the_conformance_suite() {
    suite_for(
        VideoScene::AfterSale,
        &[
            "put_part_after_cancel",
            "processing_failed",
            "instant_upload",
            "session_expiring_mid_upload",
        ],
    )
    .await;
}
