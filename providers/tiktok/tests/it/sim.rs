//! What goes on the wire for real uploads against the simulator, the refusals made before
//! any request, the simulator's refusals as typed errors, and `accounts check`.

use std::time::Duration;

use marketmedia_core::{
    ChunkedVideoUploader, ErrorKind, ImageSource, ImageUploader, UploadDriver, UploadOptions,
};
use marketmedia_sim::fixtures::{decodable_jpeg, sample_jpeg, write_sample_mp4};
use marketmedia_sim::tiktok::{
    calls, TiktokSim, TiktokSimConfig, TEST_ACCESS_TOKEN, TEST_APP_KEY, TEST_APP_SECRET,
    TEST_SHOP_CIPHER,
};
use marketmedia_tiktok::{TiktokConfig, TiktokConfigBuilder, TiktokUploader, UseCase};

async fn sim() -> (TiktokSim, marketmedia_sim::SimServer) {
    let sim = TiktokSim::new(TiktokSimConfig {
        max_video_bytes: 4 << 20,
        max_request_bytes: 5 << 20,
        ..TiktokSimConfig::default()
    });
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

fn builder(base: &str) -> TiktokConfigBuilder {
    TiktokConfig::builder()
        .app_key(TEST_APP_KEY)
        .app_secret(TEST_APP_SECRET)
        .access_token(TEST_ACCESS_TOKEN)
        .base_url(base)
}

fn uploader(b: TiktokConfigBuilder) -> TiktokUploader {
    TiktokUploader::new(b.build().unwrap()).unwrap()
}

#[tokio::test]
async fn a_video_goes_in_one_signed_multipart_request_and_is_ready() {
    let (sim, server) = sim().await;
    let tiktok = uploader(builder(&server.base_url()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blue kettle.v2.mp4");
    write_sample_mp4(&path, Duration::from_secs(12), 1_500_000).unwrap();
    let out = UploadDriver::new(UploadOptions::default())
        .upload_file(&tiktok, &path)
        .await
        .unwrap();
    let asset = out.asset().unwrap();
    assert_eq!(
        sim.file_bytes(&asset.id).unwrap(),
        std::fs::read(&path).unwrap()
    );
    assert_eq!(asset.details["format"], "MP4");
    assert_eq!(out.stats.parts_sent, 1);
    let records = sim.wire().records();
    assert_eq!(records.len(), 1, "one request: {records:?}");
    let r = &records[0];
    assert_eq!(
        (r.call.as_str(), r.method.as_str()),
        (calls::FILES_UPLOAD, "POST")
    );
    assert_eq!(r.files, vec![("data".to_owned(), 1_500_000)]);
    let name = r.param("body.name").unwrap();
    assert!(
        name.starts_with("blue_kettle_v2-") && name.ends_with(".mp4"),
        "{name}"
    );
    assert_eq!(sim.file_name(&asset.id).as_deref(), Some(name));
    assert!(r.param("sign").is_some() && r.param("shop_cipher").is_none());
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let (sim, server) = sim().await;
    let tiktok = uploader(builder(&server.base_url()).max_video_bytes(1 << 20));
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.mp4");
    write_sample_mp4(&big, Duration::from_secs(12), (1 << 20) + 1).unwrap();
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, b"not a video at all, just text").unwrap();
    let driver = UploadDriver::new(UploadOptions::default());
    for path in [&big, &text] {
        let e = driver.upload_file(&tiktok, path).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    // Images: a GIF (not a TikTok format), one over 10 MB, one wider than MAIN_IMAGE takes.
    for image in [
        ImageSource::from_bytes("a.gif", b"GIF89a........".to_vec()),
        ImageSource::from_bytes("a.jpg", sample_jpeg(10_000_001)),
    ] {
        let e = tiktok.upload_images(&[image]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    let broken = ImageSource::from_bytes("broken.jpg", sample_jpeg(20_000));
    let r = tiktok.upload_images(&[broken]).await.unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().kind(), ErrorKind::InvalidInput);
    assert!(
        sim.wire().records().is_empty(),
        "{:?}",
        sim.wire().records()
    );
    assert!(TiktokConfig::builder()
        .app_key("k")
        .app_secret("s")
        .access_token("t")
        .max_video_bytes(100_000_001)
        .build()
        .is_err());
    assert!("COVER".parse::<UseCase>().is_err());
}

#[tokio::test]
async fn images_carry_their_use_case_and_the_simulators_refusals_are_typed() {
    let (sim, server) = sim().await;
    let tiktok = uploader(builder(&server.base_url()).image_use_case(UseCase::DescriptionImage));
    let jpeg = decodable_jpeg(20_000).unwrap();
    let done = tiktok
        .upload_images(&[ImageSource::from_bytes("front.jpg", jpeg.clone())])
        .await
        .unwrap();
    let image = done[0].as_ref().unwrap();
    assert_eq!(sim.image_bytes(&image.id).unwrap(), jpeg);
    assert_eq!(image.details["use_case"], "DESCRIPTION_IMAGE");
    let r = sim.wire().records().pop().unwrap();
    assert_eq!(r.param("body.use_case"), Some("DESCRIPTION_IMAGE"));

    // A wrong secret: 106001, Auth, not retried.
    let wrong = uploader(builder(&server.base_url()).app_secret("nope"));
    let e = wrong
        .upload_images(&[ImageSource::from_bytes(
            "a.jpg",
            decodable_jpeg(8192).unwrap(),
        )])
        .await
        .unwrap()
        .remove(0)
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Auth, Some("106001")));
    // Rate limited: 36009002, retryable.
    sim.set_rate_limited(true);
    let e = tiktok
        .upload_images(&[ImageSource::from_bytes(
            "a.jpg",
            decodable_jpeg(8192).unwrap(),
        )])
        .await
        .unwrap()
        .remove(0)
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::RateLimited, Some("36009002"))
    );
    sim.set_rate_limited(false);
    // No processing after the upload: nothing to poll.
    let handle = marketmedia_core::ProcessingHandle {
        platform: "tiktok".into(),
        id: "x".into(),
        data: serde_json::Value::Null,
    };
    assert_eq!(
        tiktok.poll(&handle).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
}

#[tokio::test]
async fn accounts_check_finds_the_shop_by_its_cipher() {
    let (_sim, server) = sim().await;
    let any = uploader(builder(&server.base_url()));
    let check = any.check_account().await.unwrap();
    assert_eq!(check.call, "/authorization/202309/shops");
    assert_eq!(check.country.as_deref(), Some("MY"));
    let mine = uploader(builder(&server.base_url()).shop_cipher(TEST_SHOP_CIPHER));
    assert!(mine.check_account().await.unwrap().display_name.is_some());
    let other = uploader(builder(&server.base_url()).shop_cipher("ROW_another"));
    let e = other.check_account().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("not one of the 1 shop"), "{e}");
}
