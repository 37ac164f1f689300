//! What goes on the wire for real uploads against the simulator (a POST form and a PUT, to
//! the file library and to a product, images too), the refusals made before any request,
//! and the simulator's refusals mapped to kinds.

use std::path::Path;
use std::time::Duration;

use marketmedia_conformance::leaks::leak_driver;
use marketmedia_core::{
    ChunkedVideoUploader, ErrorKind, ImageSource, ImageUploader, UploadMeta, UploadOutcome,
};
use marketmedia_shopify::{ShopifyConfig, ShopifyConfigBuilder, ShopifyUploader, StagedMethod};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};
use marketmedia_sim::shopify::{
    calls, ShopifyRunning, ShopifySim, ShopifySimConfig, TEST_ACCESS_TOKEN,
};

async fn start(config: ShopifySimConfig) -> ShopifyRunning {
    ShopifySim::new(ShopifySimConfig {
        processing_delay: Duration::from_millis(20),
        ..config
    })
    .launch(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn builder(running: &ShopifyRunning) -> ShopifyConfigBuilder {
    ShopifyConfig::builder()
        .shop(running.sim.config().shop)
        .access_token(TEST_ACCESS_TOKEN)
        .base_url(running.base_url())
}

fn video(dir: &Path, secs: u64, size: u64) -> std::path::PathBuf {
    let path = dir.join("kettle.mp4");
    write_sample_mp4(&path, Duration::from_secs(secs), size).unwrap();
    path
}

fn asset_id(outcome: &UploadOutcome) -> String {
    outcome.asset().expect("an asset").id.clone()
}

#[tokio::test]
async fn a_post_form_to_the_file_library_and_a_put_to_a_product() {
    let running = start(ShopifySimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), 12, 2 * 1024 * 1024 + 5);
    let source = std::fs::read(&path).unwrap();

    let post = ShopifyUploader::new(builder(&running).build().unwrap()).unwrap();
    let outcome = leak_driver().upload_file(&post, &path).await.unwrap();
    let id = asset_id(&outcome);
    assert!(id.starts_with("gid://shopify/Video/"), "{id}");
    assert_eq!(running.sim.media_bytes(&id).unwrap().as_ref(), &source[..]);
    let wire = running.sim.wire();
    assert_eq!(wire.count(calls::STAGED_UPLOADS_CREATE), 1);
    assert_eq!(wire.count(calls::STAGED_UPLOAD), 1);
    let staged = &wire.calls(calls::STAGED_UPLOAD)[0];
    assert_eq!(staged.method, "POST");
    assert_eq!(staged.files, vec![("file".to_owned(), source.len())]);
    let create = &wire.calls(calls::FILE_CREATE)[0];
    // The alt text is the upload's description (the suite's sample meta).
    assert!(
        create.param("files").unwrap().contains("\"alt\""),
        "{create:?}"
    );
    assert!(create.param("files").unwrap().contains("\"VIDEO\""));

    let put = ShopifyUploader::new(
        builder(&running)
            .staged_method(StagedMethod::Put)
            .build()
            .unwrap(),
    )
    .unwrap();
    let meta = UploadMeta::default()
        .with_usage("product:8001")
        .with_description("A blue kettle");
    let outcome = leak_driver()
        .with_meta(meta)
        .upload_file(&put, &path)
        .await
        .unwrap();
    let id = asset_id(&outcome);
    assert_eq!(running.sim.media_bytes(&id).unwrap().as_ref(), &source[..]);
    let staged = wire.calls(calls::STAGED_UPLOAD);
    assert_eq!(staged.last().unwrap().method, "PUT");
    let media = &wire.calls(calls::PRODUCT_CREATE_MEDIA)[0];
    assert_eq!(media.param("productId"), Some("gid://shopify/Product/8001"));
    assert!(media.param("media").unwrap().contains("A blue kettle"));

    // Images: staged, sent, put in the file library.
    let images = post
        .upload_images(&[ImageSource::from_bytes("a.jpg", sample_jpeg(4096))])
        .await
        .unwrap();
    let image = images.into_iter().next().unwrap().unwrap();
    assert!(
        image.id.starts_with("gid://shopify/MediaImage/"),
        "{}",
        image.id
    );
    assert_eq!(running.sim.media_bytes(&image.id).unwrap().len(), 4096);
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let running = start(ShopifySimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let small = ShopifyUploader::new(
        builder(&running)
            .max_file_bytes(1 << 20)
            .max_duration(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
    .unwrap();
    let long = video(dir.path(), 12, 64 * 1024);
    let e = leak_driver().upload_file(&small, &long).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let big = dir.path().join("big.mp4");
    write_sample_mp4(&big, Duration::from_secs(3), (1 << 20) + 1).unwrap();
    let e = leak_driver().upload_file(&small, &big).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let ok = dir.path().join("ok.mp4");
    write_sample_mp4(&ok, Duration::from_secs(3), 64 * 1024).unwrap();
    let e = leak_driver()
        .with_meta(UploadMeta::default().with_usage("pro_main_video"))
        .upload_file(&small, &ok)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = small
        .upload_images(&[ImageSource::from_bytes("a.txt", b"hello".to_vec())])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(
        running.sim.wire().records().is_empty(),
        "a request went out"
    );
    assert_eq!(small.rules().max_parts, 1);
}

#[tokio::test]
async fn the_simulators_refusals_map_to_kinds() {
    let running = start(ShopifySimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), 12, 256 * 1024);
    let shopify = ShopifyUploader::new(builder(&running).build().unwrap()).unwrap();

    let e = leak_driver()
        .with_meta(UploadMeta::default().with_usage("product:999"))
        .upload_file(&shopify, &path)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.code(), Some("PRODUCT_DOES_NOT_EXIST"));

    running.sim.set_throttled(true);
    let e = shopify.check_account().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert_eq!(e.code(), Some("THROTTLED"));
    running.sim.set_throttled(false);

    let wrong = ShopifyUploader::new(
        builder(&running)
            .access_token("shpat_wrong")
            .build()
            .unwrap(),
    )
    .unwrap();
    let e = wrong.check_account().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(e.http_status(), Some(401));

    running.sim.fail_next_media(true);
    let e = leak_driver()
        .upload_file(&shopify, &path)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert!(e.to_string().contains("VIDEO_VALIDATION_ERROR"), "{e}");
}

#[tokio::test]
async fn the_default_bucket_throttles_a_burst_and_the_wait_is_the_documented_one() {
    // 30 points, 10 restored per second: three mutations empty it.
    let running = start(ShopifySimConfig {
        bucket_size: 30.0,
        restore_rate: 10.0,
        ..ShopifySimConfig::default()
    })
    .await;
    let shopify = ShopifyUploader::new(builder(&running).build().unwrap()).unwrap();
    let mut throttled = None;
    for _ in 0..20 {
        if let Err(e) = shopify.check_account().await {
            throttled = Some(e);
            break;
        }
    }
    let e = throttled.expect("a burst of 20 queries is throttled");
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(200),
        "{wait:?}"
    );
}
