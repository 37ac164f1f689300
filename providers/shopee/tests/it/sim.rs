//! The Shopee provider end to end against the Shopee simulator: wire details, assembled
//! bytes, images, and every bad input as a typed error.

use std::path::Path;
use std::time::Duration;

use marketmedia_core::raw::{ChunkedVideoUploader, ProcessingHandle, ProcessingStatus};
use marketmedia_core::{
    upload_images, ErrorKind, ImageSource, PollPolicy, RetryPolicy, UploadDriver, UploadOptions,
};
use marketmedia_shopee::{
    MediaImageUse, MediaVideoUse, PublicCallSigning, ShopeeConfig, ShopeeConfigBuilder,
    ShopeeModule, ShopeeUploader,
};
use marketmedia_sim::fixtures::{sample_gif, sample_jpeg, sample_png, write_sample_mp4};
use marketmedia_sim::shopee::{self, ShopeeSim, ShopeeSimConfig};
use marketmedia_sim::SimServer;

const MIB: u64 = 1024 * 1024;

async fn sim(config: ShopeeSimConfig) -> (ShopeeSim, SimServer) {
    let sim = ShopeeSim::new(config);
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

fn fast_sim_config() -> ShopeeSimConfig {
    ShopeeSimConfig {
        transcode_delay: Duration::from_millis(50),
        ..ShopeeSimConfig::default()
    }
}

fn builder(server: &SimServer) -> ShopeeConfigBuilder {
    ShopeeConfig::builder()
        .partner_id(shopee::TEST_PARTNER_ID)
        .partner_key(shopee::TEST_PARTNER_KEY)
        .shop_id(shopee::TEST_SHOP_ID)
        .access_token(shopee::TEST_ACCESS_TOKEN)
        .base_url(server.base_url())
}

fn provider(server: &SimServer) -> ShopeeUploader {
    ShopeeUploader::new(builder(server).build().unwrap()).unwrap()
}

/// A provider of the `v2.media` module.
fn media_provider(server: &SimServer, edit: impl FnOnce(&mut ShopeeConfig)) -> ShopeeUploader {
    let mut config = builder(server).module(ShopeeModule::Media).build().unwrap();
    edit(&mut config);
    ShopeeUploader::new(config).unwrap()
}

fn driver() -> UploadDriver {
    UploadDriver::new(UploadOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            deadline: Duration::from_secs(20),
            ..PollPolicy::default()
        },
        ..UploadOptions::default()
    })
}

fn video(dir: &Path, name: &str, secs: u64, size: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    write_sample_mp4(&path, Duration::from_secs(secs), size).unwrap();
    path
}

#[tokio::test]
async fn uploads_a_video_and_the_simulator_holds_the_same_bytes() {
    let (sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let size = 25 * MIB + 12_345;
    let path = video(dir.path(), "product.mp4", 25, size);
    let outcome = driver()
        .upload_file(&provider(&server), &path)
        .await
        .unwrap();
    let asset = outcome.asset().expect("ready");
    assert!(!asset.urls.is_empty());
    assert_eq!(asset.duration, Some(Duration::from_secs(25)));

    let id = &asset.id;
    assert_eq!(
        sim.assembled_bytes(id).unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
    // part_seq on the wire: 0-based, every part exactly 4 MiB but the last.
    let mut parts = sim.parts(id).unwrap();
    parts.sort_by_key(|p| p.part_seq);
    let seqs: Vec<&str> = parts.iter().map(|p| p.part_seq_as_sent.as_str()).collect();
    assert_eq!(seqs, ["0", "1", "2", "3", "4", "5", "6"]);
    assert!(parts[..6].iter().all(|p| p.size as u64 == 4 * MIB));
    assert_eq!(parts[6].size as u64, size - 24 * MIB);
    assert!(parts.iter().all(|p| p.content_md5_as_sent.len() == 32
        && p.content_md5_as_sent == p.content_md5_as_sent.to_lowercase()));
    // The completion payload: the whole part_seq_list and an upload cost.
    let snap = sim.upload(id).unwrap();
    assert_eq!(snap.part_seq_list, Some((0..7).collect()));
    assert!(snap.upload_cost.is_some());
    // Multipart field names as the platform expects them.
    let part_calls = sim.wire().calls("upload_video_part");
    assert_eq!(part_calls.len(), 7);
    for call in &part_calls {
        assert!(call.param("video_upload_id").is_some());
        assert!(call.param("content_md5").is_some());
        assert_eq!(call.files.len(), 1);
        assert_eq!(call.files[0].0, "part_content");
        // Public-type call signed the spec's way: no token in the query.
        assert_eq!(call.param("access_token"), None);
    }
    assert_eq!(outcome.stats.bytes_sent, size);
}

#[tokio::test]
async fn shop_level_signing_of_public_calls_is_accepted_too() {
    let (sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 12, 5 * MIB);
    let mut config = provider(&server).config().clone();
    config.public_call_signing = PublicCallSigning::Shop;
    let p = ShopeeUploader::new(config).unwrap();
    let outcome = driver().upload_file(&p, &path).await.unwrap();
    assert!(outcome.asset().is_some());
    let calls = sim.wire().calls("upload_video_part");
    assert!(calls
        .iter()
        .all(|c| c.param("access_token") == Some(shopee::TEST_ACCESS_TOKEN)));
}

#[tokio::test]
async fn a_failed_transcode_is_a_rejected_error_with_the_reason() {
    let (_sim, server) = sim(ShopeeSimConfig {
        force_transcode_failure: Some("Video is blurry".into()),
        ..fast_sim_config()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 12, MIB);
    let err = driver()
        .upload_file(&provider(&server), &path)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(err.to_string().contains("Video is blurry"), "{err}");
}

#[tokio::test]
async fn wrong_partner_key_is_an_auth_error_from_error_sign() {
    let (_sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 12, MIB);
    let mut config = provider(&server).config().clone();
    config.partner_key = "not-the-key".into();
    let err = driver()
        .upload_file(&ShopeeUploader::new(config).unwrap(), &path)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.code(), Some("error_sign"));
    assert!(err.request_id().is_some());
}

#[tokio::test]
async fn bad_videos_are_refused_before_any_request() {
    let (sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, b"this is a text file pretending to be a video").unwrap();
    let cases = [
        empty,
        text,
        video(dir.path(), "big.mp4", 30, 30 * MIB + 1),
        video(dir.path(), "short.mp4", 5, MIB),
        video(dir.path(), "long.mp4", 90, MIB),
        dir.path().join("missing.mp4"),
    ];
    let p = provider(&server);
    for path in &cases {
        let err = driver().upload_file(&p, path).await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidInput,
            "{}: {err}",
            path.display()
        );
    }
    assert!(sim.wire().records().is_empty(), "no request may be sent");
}

#[tokio::test]
async fn the_30_mib_limit_is_inclusive() {
    let (sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "max.mp4", 30, 30 * MIB);
    let outcome = driver()
        .upload_file(&provider(&server), &path)
        .await
        .unwrap();
    let id = outcome.asset().unwrap().id.clone();
    assert_eq!(sim.parts(&id).unwrap().len(), 8);
}

#[tokio::test]
async fn images_report_a_result_each_including_per_image_failures() {
    // The simulator is stricter than the documented 10 MB here, so the second image passes our
    // up-front check and fails on the platform: the call succeeds with one error inside.
    let (sim, server) = sim(ShopeeSimConfig {
        max_image_bytes: 1024 * 1024,
        ..fast_sim_config()
    })
    .await;
    let p = provider(&server);
    let images = vec![
        ImageSource::from_bytes("a.jpg", sample_jpeg(2000)),
        ImageSource::from_bytes("b.png", sample_png(2 * 1024 * 1024)),
        ImageSource::from_bytes("c.png", sample_png(5000)),
    ];
    let results = upload_images(&p, &images).await.unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    let err = results[1].as_ref().unwrap_err();
    assert!(err.code().is_some());
    assert!(err.to_string().contains("b.png"));
    let ok = results[0].as_ref().unwrap();
    assert!(!ok.urls.is_empty());
    assert_eq!(sim.images().len(), 2);
    let call = &sim.wire().calls("upload_image")[0];
    assert!(call.files.iter().all(|(name, _)| name == "image"));
    assert_eq!(call.param("scene"), Some("normal"));
}

#[tokio::test]
async fn bad_images_are_refused_before_any_request() {
    let (sim, server) = sim(fast_sim_config()).await;
    let p = provider(&server);
    let jpg = ImageSource::from_bytes("a.jpg", sample_jpeg(1000));
    let cases = vec![
        vec![jpg.clone(); 10],
        vec![ImageSource::from_bytes(
            "big.jpg",
            sample_jpeg(11 * 1024 * 1024),
        )],
        vec![ImageSource::from_bytes("anim.gif", sample_gif(1000))],
        vec![],
    ];
    for images in cases {
        let err = upload_images(&p, &images).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    let missing = ImageSource::read(Path::new("/nonexistent/a.jpg"), 10 * MIB)
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::InvalidInput);
    assert!(sim.wire().records().is_empty());
}

#[tokio::test]
async fn upload_cost_is_the_time_spent_on_parts_not_since_init() {
    // Init and complete are slowed by 600 ms each: an upload cost measured from init would
    // include at least the init's 600 ms (and the complete's); the parts themselves are local
    // and quick. Shopee's example measures from before the first part to after the last.
    let (sim, server) = sim(fast_sim_config()).await;
    sim.faults().set(marketmedia_sim::FaultProfile {
        latency_ms: 600,
        calls: vec![
            "init_video_upload".to_owned(),
            "complete_video_upload".to_owned(),
        ],
        ..marketmedia_sim::FaultProfile::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "cost.mp4", 12, 5 * MIB);
    let outcome = driver()
        .upload_file(&provider(&server), &path)
        .await
        .unwrap();
    let id = &outcome.asset().expect("ready").id;
    let cost = sim.upload(id).unwrap().upload_cost.unwrap();
    assert!(
        cost < 600,
        "upload_cost {cost} ms includes more than the parts"
    );
}

// ------------------------------------------------------------------------------------------
// The v2.media module

/// The plan follows the init answer's `part_size`, smaller or larger than the configured
/// one: the parts on the wire have the server's size, numbered from 0, and assemble into the
/// file.
#[tokio::test]
async fn media_module_follows_the_part_size_init_answers() {
    for server_part in [MIB, 3 * MIB] {
        let (sim, server) = sim(ShopeeSimConfig {
            media_part_size: server_part,
            ..fast_sim_config()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let size = 7 * MIB + 5;
        let path = video(dir.path(), "media.mp4", 90, size);
        let p = media_provider(&server, |_| {});
        assert_eq!(p.config().part_size, 4 * MIB);
        let outcome = driver().upload_file(&p, &path).await.unwrap();
        let asset = outcome.asset().expect("ready");
        assert_eq!(asset.duration, Some(Duration::from_secs(90)));
        assert!(asset.urls[0].url.starts_with("https://"));
        assert_eq!(asset.thumbnails.len(), 1);
        assert_eq!(asset.details["module"], "media");
        let parts = sim.wire().calls("media/upload_video_part");
        let count = size.div_ceil(server_part) as usize;
        assert_eq!(parts.len(), count, "parts of {server_part}");
        let mut seqs: Vec<u32> = parts
            .iter()
            .map(|r| r.param("part_seq").unwrap().parse().unwrap())
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (0..count as u32).collect::<Vec<_>>());
        for r in &parts {
            assert!(r.param("part_md5").is_some() && r.param("content_md5").is_none());
            let (_, n) = r.files.iter().find(|(f, _)| f == "part_content").unwrap();
            let seq: u64 = r.param("part_seq").unwrap().parse().unwrap();
            let expected = server_part.min(size - seq * server_part);
            assert_eq!(*n as u64, expected);
        }
        assert_eq!(
            sim.assembled_bytes(&asset.id).unwrap(),
            std::fs::read(&path).unwrap()
        );
        // Init declared what the reference asks; completion sent the task id only.
        let init = &sim.wire().calls("media/init_video_upload")[0];
        assert_eq!(init.param("business"), Some("3"));
        assert_eq!(init.param("scene"), Some("1"));
        assert_eq!(init.param("file_name"), Some("media.mp4"));
        assert_eq!(init.param("duration"), Some("90"));
        assert_eq!(init.param("file_md5"), None);
        let complete = &sim.wire().calls("media/complete_video_upload")[0];
        assert_eq!(complete.param("part_seq_list"), None);
        assert_eq!(complete.param("report_data"), None);
        assert_eq!(
            sim.wire().count("init_video_upload"),
            0,
            "no media_space call"
        );
    }
}

/// Every `v2.media` call is signed as a shop call: token and shop in the query, and the
/// signature over the media path (the simulator checks it).
#[tokio::test]
async fn media_calls_are_signed_as_shop_calls() {
    let (sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "signed.mp4", 12, 5 * MIB);
    // Even with media_space's public signing of parts chosen: that choice is media_space's.
    let p = media_provider(&server, |c| {
        c.public_call_signing = PublicCallSigning::Public;
    });
    driver().upload_file(&p, &path).await.unwrap();
    let records = sim.wire().records();
    assert!(records.len() >= 5);
    for r in &records {
        assert!(r.path.starts_with("/api/v2/media/"), "{}", r.path);
        assert!(r.error.is_none(), "{}: {:?}", r.call, r.error);
        assert_eq!(
            r.param("shop_id"),
            Some(shopee::TEST_SHOP_ID.to_string().as_str()),
            "{}",
            r.call
        );
        assert!(r.param("access_token").is_some(), "{}", r.call);
    }
    let wrong = media_provider(&server, |c| c.partner_key = "not-the-key".into());
    let err = driver().upload_file(&wrong, &path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.code(), Some("error_sign"));
}

/// An undocumented business or scene goes out as configured and comes back as the
/// simulator's `error_param`: a typed InvalidInput, nothing opened.
#[tokio::test]
async fn media_refusals_of_business_and_scene_are_invalid_input() {
    let (sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "use.mp4", 12, 2 * MIB);
    for (business, scene) in [(9, 1), (3, 9)] {
        let p = media_provider(&server, |c| {
            c.media_video_use = MediaVideoUse::Other { business, scene };
        });
        let err = driver().upload_file(&p, &path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.code(), Some("error_param"));
        let p = media_provider(&server, |c| {
            c.media_image_use = MediaImageUse::Other { business, scene };
        });
        let images = [ImageSource::from_bytes("a.jpg", sample_jpeg(2000))];
        let err = upload_images(&p, &images).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.code(), Some("error_param"));
    }
    assert!(sim.upload_ids().is_empty());
    assert!(sim.images().is_empty());
}

/// A video outside 1–180 s is refused before any request; so are 4 images (at most 3).
#[tokio::test]
async fn media_limits_are_checked_before_any_request() {
    let (sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = media_provider(&server, |_| {});
    let long = video(dir.path(), "long.mp4", 181, 2 * MIB);
    let err = driver().upload_file(&p, &long).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    // 61 s is too long for media_space but fine here: refused only by the former.
    let minute = video(dir.path(), "minute.mp4", 61, 2 * MIB);
    let err = driver()
        .upload_file(&provider(&server), &minute)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let images = vec![ImageSource::from_bytes("a.jpg", sample_jpeg(1000)); 4];
    let err = upload_images(&p, &images).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(sim.wire().records().is_empty());
    driver().upload_file(&p, &minute).await.unwrap();
}

/// Images go to `v2.media.upload_image` with `business` and `scene`, in the `images` field,
/// and the results come from `image_list` in order.
#[tokio::test]
async fn media_images_are_decoded_from_image_list() {
    let (sim, server) = sim(fast_sim_config()).await;
    let p = media_provider(&server, |_| {});
    let images = vec![
        ImageSource::from_bytes("proof-1.jpg", sample_jpeg(2000)),
        ImageSource::from_bytes("proof-2.png", sample_png(3000)),
    ];
    let results = upload_images(&p, &images).await.unwrap();
    assert_eq!(results.len(), 2);
    let stored = sim.images();
    for (result, (stored, sent)) in results.iter().zip(stored.iter().zip(&images)) {
        let image = result.as_ref().unwrap();
        assert_eq!(image.id, stored.image_id);
        assert_eq!(stored.bytes, sent.data);
        assert!(image.urls[0].url.ends_with(&image.id));
    }
    let call = &sim.wire().calls("media/upload_image")[0];
    assert!(call.files.iter().all(|(name, _)| name == "images"));
    assert_eq!(call.param("business"), Some("2"));
    assert_eq!(call.param("scene"), Some("1"));
    assert_eq!(sim.wire().count("upload_image"), 0);
}

/// A handle built from an id alone (as `marketmedia status` builds it) polls the configured
/// module; a session records its module, so a `media_space` provider resumes a `media`
/// session under `/api/v2/media/`.
#[tokio::test]
async fn handles_and_sessions_keep_to_their_module() {
    let (sim, server) = sim(fast_sim_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "keep.mp4", 12, 5 * MIB);
    let outcome = driver()
        .upload_file(&media_provider(&server, |_| {}), &path)
        .await
        .unwrap();
    let id = outcome.asset().expect("ready").id.clone();
    let bare = ProcessingHandle {
        platform: "shopee".into(),
        id: id.clone(),
        data: serde_json::Value::Null,
    };
    let status = media_provider(&server, |_| {}).poll(&bare).await.unwrap();
    assert!(matches!(status, ProcessingStatus::Ready(_)), "{status:?}");
    // The same id is unknown to media_space.
    let err = provider(&server).poll(&bare).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    let media = media_provider(&server, |_| {});
    let source = marketmedia_core::PreparedSource::undigested(
        marketmedia_core::SourceProbe::open(&path).await.unwrap(),
    );
    let plan = marketmedia_core::raw::PartPlan::new(5 * MIB, media.rules(), None).unwrap();
    let marketmedia_core::raw::InitOutcome::Session(session) =
        media.init(&source.info(), &plan).await.unwrap()
    else {
        panic!("no session")
    };
    assert_eq!(session.data["module"], "media");
    let space = provider(&server);
    space.cancel(&session).await.unwrap();
    assert_eq!(sim.wire().count("media/cancel_video_upload"), 1);
    assert_eq!(sim.wire().count("cancel_video_upload"), 0);
}
