//! The provider against the eBay simulator with its default settings (the 50 POST / 5 s
//! limit on): what goes on the wire for an upload, refusals before any request, cancel, and
//! images.

use std::time::Duration;

use marketmedia_core::raw::{ErrorKind, Part};
use marketmedia_core::{
    ChunkedVideoUploader, ImageSource, ImageUploader, UploadDriver, UploadMeta, UploadOptions,
};
use marketmedia_ebay::{EbayConfig, EbayUploader};
use marketmedia_sim::ebay::{calls, EbaySim, EbaySimConfig, TEST_ACCESS_TOKEN};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};

async fn start() -> (EbaySim, marketmedia_sim::SimServer, EbayUploader) {
    let sim = EbaySim::new(EbaySimConfig {
        processing_delay: Duration::from_millis(20),
        ..EbaySimConfig::default()
    });
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut config = EbayConfig::builder()
        .access_token(TEST_ACCESS_TOKEN)
        .base_url(EbaySim::api_base_url(&server))
        .build()
        .unwrap();
    config.part_size = 1 << 20;
    (sim, server, EbayUploader::new(config).unwrap())
}

/// A driver whose uploads carry a title and a description.
fn driver() -> UploadDriver {
    let mut o = UploadOptions::default();
    o.poll.deadline = Duration::from_secs(5);
    o.meta = UploadMeta::default()
        .with_title("Kettle")
        .with_description("Boils water");
    UploadDriver::new(o)
}

/// One client, a whole catalog: each upload's title and description are its own on the wire,
/// and an upload without a title is named after its file.
#[tokio::test]
async fn one_client_uploads_videos_with_their_own_titles() {
    let (sim, _server, ebay) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let driver = driver();
    let uploads = [
        (
            "kettle.mp4",
            UploadMeta::default().with_title("Blue kettle"),
        ),
        (
            "teapot.mp4",
            UploadMeta::default()
                .with_title("Green teapot")
                .with_description("Holds 1 l"),
        ),
        ("mug.mp4", UploadMeta::default()),
    ];
    for (name, meta) in uploads {
        let path = dir.path().join(name);
        write_sample_mp4(&path, Duration::from_secs(12), 4096).unwrap();
        driver
            .with_meta(meta)
            .upload_file(&ebay, &path)
            .await
            .unwrap();
    }
    let sent: Vec<(Option<String>, Option<String>)> = sim
        .wire()
        .calls(calls::CREATE_VIDEO)
        .iter()
        .map(|c| {
            (
                c.param("title").map(str::to_owned),
                c.param("description").map(str::to_owned),
            )
        })
        .collect();
    let own = |t: &str, d: Option<&str>| (Some(t.to_owned()), d.map(str::to_owned));
    assert_eq!(
        sent,
        [
            own("Blue kettle", None),
            own("Green teapot", Some("Holds 1 l")),
            own("mug.mp4", None),
        ]
    );
}

#[tokio::test]
async fn an_upload_is_one_stream_of_ordered_ranges() {
    let (sim, _server, ebay) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kettle.mp4");
    let size = 2 * (1 << 20) + 5;
    write_sample_mp4(&path, Duration::from_secs(12), size).unwrap();
    let out = driver().upload_file(&ebay, &path).await.unwrap();
    let asset = out.asset().expect("LIVE");
    assert_eq!(asset.urls.len(), 2);
    assert_eq!(
        sim.video_bytes(&asset.id).unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
    let create = &sim.wire().calls(calls::CREATE_VIDEO)[0];
    assert_eq!(create.param("title"), Some("Kettle"));
    assert_eq!(create.param("size"), Some(size.to_string().as_str()));
    assert_eq!(create.param("classification"), Some(r#"["ITEM"]"#));
    assert_eq!(create.param("description"), Some("Boils water"));
    let ranges: Vec<String> = sim
        .wire()
        .calls(calls::UPLOAD_VIDEO)
        .iter()
        .map(|r| r.param("content-range").unwrap_or_default().to_owned())
        .collect();
    let total = size;
    assert_eq!(
        ranges,
        [
            format!("bytes 0-1048575/{total}"),
            format!("bytes 1048576-2097151/{total}"),
            format!("bytes 2097152-{}/{total}", total - 1),
        ]
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let (sim, _server, ebay) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("over.mp4");
    write_sample_mp4(&path, Duration::from_secs(12), 4096).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(157_286_401).unwrap();
    let e = driver().upload_file(&ebay, &path).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let mov = dir.path().join("clip.mov");
    std::fs::write(&mov, b"\0\0\0\x14ftypqt  \0\0\0\0qt  \0\0\0\x08free").unwrap();
    let e = driver().upload_file(&ebay, &mov).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(
        sim.wire().records().is_empty(),
        "{:?}",
        sim.wire().records()
    );
}

#[tokio::test]
async fn cancel_says_ebay_cannot_delete() {
    let (sim, _server, ebay) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kettle.mp4");
    write_sample_mp4(&path, Duration::from_secs(12), (1 << 20) + 1).unwrap();
    let (session, plan) = marketmedia_conformance::leaks::open_session(&ebay, &path).await;
    let e = ebay.cancel(&session).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::Unsupported, Some("PENDING_UPLOAD"))
    );
    // The last chunk before the first: a gap, refused by eBay as invalid input.
    let data = std::fs::read(&path).unwrap();
    let last = plan.part(1).unwrap();
    let part = Part::new(
        1,
        last.offset,
        bytes::Bytes::from(data[last.offset as usize..].to_vec()),
        None,
    );
    let e = ebay.put_part(&session, &part).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.code().is_some());
    assert_eq!(sim.chunks(&session.upload_id).len(), 1);
}

#[tokio::test]
async fn images_one_request_each() {
    let (sim, _server, ebay) = start().await;
    let results = ebay
        .upload_images(&[
            ImageSource::from_bytes("a.jpg", sample_jpeg(2048)),
            ImageSource::from_bytes("b.jpg", sample_jpeg(1024)),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    for r in &results {
        let img = r.as_ref().unwrap();
        assert!(sim.image_bytes(&img.id).is_some());
        assert!(img.urls[0].url.starts_with("https://"));
    }
    assert_eq!(sim.wire().count(calls::CREATE_IMAGE_FROM_FILE), 2);
    let e = ebay
        .upload_images(&[ImageSource::from_bytes("x.txt", b"hello".to_vec())])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

/// The client holds to eBay's published 50 POST per 5 s by default (`PUBLISHED_RATE`), so the
/// simulator, which enforces that window, never answers 429: 60 images in a row take at
/// least the one window the last ten wait for. Without the default the last ten were
/// refused 429 and retried after `Retry-After`.
#[tokio::test]
async fn the_client_holds_to_the_published_post_rate() {
    let (sim, _server, ebay) = start().await;
    let images: Vec<ImageSource> = (0..60)
        .map(|i| ImageSource::from_bytes(format!("i{i}.jpg"), sample_jpeg(1024 + i)))
        .collect();
    let started = std::time::Instant::now();
    let results = ebay.upload_images(&images).await.unwrap();
    let took = started.elapsed();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(sim.wire().count(calls::CREATE_IMAGE_FROM_FILE), 60);
    let refused: Vec<_> = sim
        .wire()
        .records()
        .into_iter()
        .filter(|r| r.status == 429)
        .collect();
    assert!(refused.is_empty(), "refused for the rate: {refused:?}");
    assert!(
        took >= Duration::from_millis(4500),
        "the 51st POST waits for the window: {took:?}"
    );
}
