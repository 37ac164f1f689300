//! Fan-out through the sandbox at library level: one marketplace refuses everything (wrong
//! credentials), the two others succeed and hold exactly the source's bytes.

use std::time::Duration;

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::images_overall;
use marketmedia_core::Client;
use marketmedia_core::{
    upload_images_to_all, ChunkedVideoUploader, ErrorKind, ImageSource, ImageUploader, Overall,
    PollPolicy, UploadDriver, UploadOptions,
};
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

/// A Shopee client pointed at the sandbox with a partner key the simulator does not know.
fn shopee_with_wrong_key(sandbox: &Sandbox) -> Client {
    sandbox
        .client_with("shopee", [("partner_key", "not-the-partner-key")])
        .expect("valid settings")
}

#[tokio::test]
async fn one_marketplace_rejecting_everything_leaves_the_other_two_whole() {
    let sandbox = Sandbox::start().await.expect("simulators start");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kettle.mp4");
    write_sample_mp4(&path, Duration::from_secs(12), 6 * 1024 * 1024).unwrap();
    let source = std::fs::read(&path).unwrap();

    let shopee = shopee_with_wrong_key(&sandbox);
    let lazada = sandbox
        .client_with("lazada", [("title", "Blue kettle")])
        .unwrap();
    let smh = sandbox.client("smh").unwrap();
    let providers: [&dyn ChunkedVideoUploader; 3] = [
        shopee.video().as_ref(),
        lazada.video().as_ref(),
        smh.video().as_ref(),
    ];
    // Lazada's title and cover, its client's defaults, go with the upload.
    let report = driver()
        .with_meta(lazada.upload_defaults().clone())
        .upload_to_all(&providers, &path)
        .await;

    assert_eq!(report.overall(), Overall::Partial);
    let platforms: Vec<&str> = report.reports.iter().map(|r| r.platform.as_str()).collect();
    assert_eq!(platforms, ["shopee", "lazada", "smh"]);

    let shopee_err = report.reports[0].result.as_ref().unwrap_err();
    assert_eq!(shopee_err.kind(), ErrorKind::Auth, "{shopee_err}");
    assert_eq!(shopee_err.platform(), Some("shopee"));
    assert!(sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .upload_ids()
        .is_empty());

    let lazada_asset = report.reports[1]
        .result
        .as_ref()
        .expect("lazada succeeds")
        .asset()
        .expect("lazada ready")
        .clone();
    let held = sandbox
        .sim::<marketmedia_sim::lazada::LazadaSim>()
        .unwrap()
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
        .sim::<marketmedia_sim::smh::SmhSim>()
        .unwrap()
        .file(&smh_asset.id)
        .expect("smh holds the file");
    assert!(held.as_ref() == source.as_slice(), "smh bytes differ");
}

#[tokio::test]
async fn images_fan_out_with_one_marketplace_refusing() {
    let sandbox = Sandbox::start().await.expect("simulators start");
    let shopee = shopee_with_wrong_key(&sandbox);
    let lazada = sandbox.client_with("lazada", [("title", "x")]).unwrap();
    let smh = sandbox.client("smh").unwrap();
    let uploaders: [&dyn ImageUploader; 3] = [
        shopee.images().as_ref(),
        lazada.images().as_ref(),
        smh.images().as_ref(),
    ];
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
