//! Fan-out through the sandbox at library level: one marketplace refuses everything (wrong
//! credentials), the two others succeed and hold exactly the source's bytes.

use std::time::Duration;

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::images_overall;
use marketmedia_core::{
    upload_images_to_all, ChunkedVideoUploader, ErrorKind, ImageSource, ImageUploader, Overall,
    PollPolicy, UploadDriver, UploadOptions,
};
use marketmedia_shopee::{ShopeeConfig, ShopeeUploader};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};

fn driver() -> UploadDriver {
    UploadDriver::new(UploadOptions {
        poll: PollPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            deadline: Duration::from_secs(30),
            ..PollPolicy::default()
        },
        ..UploadOptions::default()
    })
}

/// A Shopee provider pointed at the sandbox with a partner key the simulator does not know.
fn shopee_with_wrong_key(sandbox: &Sandbox) -> ShopeeUploader {
    let good = sandbox.shopee_config().unwrap();
    let bad = ShopeeConfig::builder()
        .partner_id(good.partner_id)
        .partner_key("not-the-partner-key")
        .shop_id(good.shop_id)
        .access_token(good.access_token.clone())
        .base_url(good.effective_base_url())
        .build()
        .unwrap();
    ShopeeUploader::new(bad).expect("valid config")
}

#[tokio::test]
async fn one_marketplace_rejecting_everything_leaves_the_other_two_whole() {
    let sandbox = Sandbox::start().await.expect("simulators start");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kettle.mp4");
    write_sample_mp4(&path, Duration::from_secs(12), 6 * 1024 * 1024).unwrap();
    let source = std::fs::read(&path).unwrap();

    let shopee = shopee_with_wrong_key(&sandbox);
    let lazada = sandbox.lazada().unwrap();
    let smh = sandbox.smh().unwrap();
    let providers: [&dyn ChunkedVideoUploader; 3] = [&shopee, &lazada, &smh];
    let report = driver()
        .with_meta(sandbox.upload_meta("Blue kettle"))
        .upload_to_all(&providers, &path)
        .await;

    assert_eq!(report.overall(), Overall::Partial);
    let platforms: Vec<&str> = report.reports.iter().map(|r| r.platform.as_str()).collect();
    assert_eq!(platforms, ["shopee", "lazada", "smh"]);

    let shopee_err = report.reports[0].result.as_ref().unwrap_err();
    assert_eq!(shopee_err.kind(), ErrorKind::Auth, "{shopee_err}");
    assert_eq!(shopee_err.platform(), Some("shopee"));
    assert!(sandbox.shopee_sim().upload_ids().is_empty());

    let lazada_asset = report.reports[1]
        .result
        .as_ref()
        .expect("lazada succeeds")
        .asset()
        .expect("lazada ready")
        .clone();
    let held = sandbox
        .lazada_sim()
        .video_bytes(&lazada_asset.id)
        .expect("lazada holds the video");
    assert!(held.as_ref() == source.as_slice(), "lazada bytes differ");

    let smh_asset = report.reports[2]
        .result
        .as_ref()
        .expect("smh succeeds")
        .asset()
        .expect("smh ready")
        .clone();
    let held = sandbox
        .smh_sim()
        .file(&smh_asset.id)
        .expect("smh holds the file");
    assert!(held.as_ref() == source.as_slice(), "smh bytes differ");
}

#[tokio::test]
async fn images_fan_out_with_one_marketplace_refusing() {
    let sandbox = Sandbox::start().await.expect("simulators start");
    let shopee = shopee_with_wrong_key(&sandbox);
    let lazada = sandbox.lazada().unwrap();
    let smh = sandbox.smh().unwrap();
    let uploaders: [&dyn ImageUploader; 3] = [&shopee, &lazada, &smh];
    let images = [ImageSource::from_bytes("front.jpg", sample_jpeg(20_000))];
    let reports = upload_images_to_all(&uploaders, &images).await;
    assert_eq!(images_overall(&reports), Overall::Partial);
    let shopee_failed = match &reports[0].result {
        Err(e) => e.kind() == ErrorKind::Auth,
        Ok(list) => list
            .iter()
            .all(|i| matches!(i, Err(e) if e.kind() == ErrorKind::Auth)),
    };
    assert!(shopee_failed, "{:?}", reports[0].result);
    for r in &reports[1..] {
        let list = r.result.as_ref().expect("call succeeds");
        assert!(list.iter().all(|i| i.is_ok()), "{}: {list:?}", r.platform);
    }
}
