//! The Lazada provider end to end against the Lazada simulator (written independently from
//! platforms.md): signing, the whole flow with the assembled bytes, the numbering on the wire,
//! every bad input as a typed error, an eTag mismatch retried, processing failures, images.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use marketmedia_core::{
    upload_images, ChunkedVideoUploader, ClientOptions, Completion, ErrorKind, ImageSource,
    ImageUploader, PollPolicy, RetryPolicy, UploadDriver, UploadMeta, UploadOptions,
};
use marketmedia_lazada::{signing, LazadaConfig, LazadaConfigBuilder, LazadaUploader, Region};
use marketmedia_sim::faults::FaultProfile;
use marketmedia_sim::fixtures::{sample_gif, sample_jpeg, sample_png, write_sample_mp4};
use marketmedia_sim::lazada::{calls, codes, LazadaSim, LazadaSimConfig, VideoOutcome, VideoState};
use marketmedia_sim::SimServer;

const MIB: u64 = 1024 * 1024;
const COVER: &str = "https://sg-live-02.slatic.net/p/cover.png";

async fn sim(config: LazadaSimConfig) -> (LazadaSim, SimServer) {
    let sim = LazadaSim::new(config);
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

fn fast() -> LazadaSimConfig {
    LazadaSimConfig {
        transcode_queue_delay: Duration::from_millis(20),
        transcode_delay: Duration::from_millis(30),
        audit_delay: Duration::from_millis(20),
        ..LazadaSimConfig::default()
    }
}

fn config_for(sim: &LazadaSim, base_url: String) -> LazadaConfigBuilder {
    let c = sim.credentials();
    LazadaConfig::builder()
        .app_key(c.app_key)
        .app_secret(c.app_secret)
        .access_token(c.access_token)
        .region(Region::Sg)
        .base_url(base_url)
}

fn provider(sim: &LazadaSim, server: &SimServer) -> LazadaUploader {
    LazadaUploader::new(
        config_for(sim, LazadaSim::rest_base_url(server))
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// The fields of the tests' uploads: Lazada requires a title and a cover.
fn kettle() -> UploadMeta {
    UploadMeta::default()
        .with_title("Blue kettle")
        .with_cover_url(COVER)
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
            max_delay: Duration::from_millis(50),
            deadline: Duration::from_secs(20),
            ..PollPolicy::default()
        },
        meta: kettle(),
        ..UploadOptions::default()
    })
}

fn video(dir: &Path, name: &str, size: u64) -> PathBuf {
    let path = dir.join(name);
    write_sample_mp4(&path, Duration::from_secs(20), size).unwrap();
    path
}

#[test]
fn signing_vector() {
    let params = [
        ("access_token", "test"),
        ("app_key", "123456"),
        ("order_id", "1234"),
        ("sign_method", "sha256"),
        ("timestamp", "1517820392000"),
    ];
    assert_eq!(
        signing::sign("helloworld", "/order/get", &params),
        "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
    );
}

#[tokio::test]
async fn the_simulator_accepts_our_signature() {
    let (sim, server) = sim(fast()).await;
    let quota = provider(&sim, &server).quota().await.unwrap();
    assert_eq!(quota.capacity_bytes, sim.config().quota_capacity_bytes);
    let rec = &sim.wire().calls(calls::QUOTA_GET)[0];
    assert_eq!(rec.status, 200);
    assert_eq!(rec.error, None);
    assert_eq!(rec.param("sign_method"), Some("sha256"));
    let ts: i64 = rec.param("timestamp").unwrap().parse().unwrap();
    assert!(
        (ts - sim.clock().now_millis()).abs() < 60_000,
        "milliseconds"
    );
    let sign = rec.param("sign").unwrap();
    assert_eq!(sign, sign.to_ascii_uppercase());
}

#[tokio::test]
async fn whole_flow_assembles_the_same_bytes_with_lazada_numbering() {
    let (sim, server) = sim(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let size = 10 * MIB + 12_345; // 3 + 3 + 3 + 1 MiB and a bit
    let path = video(dir.path(), "kettle.mp4", size);
    let lazada = provider(&sim, &server);
    let outcome = driver().upload_file(&lazada, &path).await.unwrap();
    let Completion::Ready(asset) = &outcome.completion else {
        panic!("not ready: {outcome:?}");
    };
    assert_eq!(asset.platform, "lazada");
    assert_eq!(sim.video_state(&asset.id), Some(VideoState::AuditSuccess));
    assert!(!asset.urls.is_empty());
    assert_eq!(asset.thumbnails[0].url, COVER);
    let source = std::fs::read(&path).unwrap();
    assert_eq!(sim.video_bytes(&asset.id).unwrap().as_ref(), &source[..]);
    let info = sim.video(&asset.id).unwrap();
    assert_eq!(info.title, "Blue kettle");
    assert_eq!(info.video_usage, "pro_main_video");

    // On the wire: blockNo from 0 with a constant blockCount, 3 MiB blocks, file field `file`.
    let session = outcome.session.clone().unwrap();
    let mut blocks = sim.blocks_received(&session.upload_id);
    blocks.sort_by_key(|b| b.block_no.parse::<u32>().unwrap());
    let numbers: Vec<&str> = blocks.iter().map(|b| b.block_no.as_str()).collect();
    assert_eq!(numbers, ["0", "1", "2", "3"]);
    assert!(blocks.iter().all(|b| b.block_count == "4"));
    assert!(blocks[..3].iter().all(|b| b.size as u64 == 3 * MIB));
    for rec in sim.wire().calls(calls::BLOCK_UPLOAD) {
        assert_eq!(rec.files.len(), 1);
        assert_eq!(rec.files[0].0, "file");
        assert!(!rec.params.contains_key("file"));
    }
    let create = &sim.wire().calls(calls::BLOCK_CREATE)[0];
    assert_eq!(create.param("fileBytes"), Some(size.to_string().as_str()));
    assert_eq!(create.param("fileName"), Some("kettle.mp4"));

    // Commit: partNumber from 1, in order, with the eTags the blocks got.
    let commit = sim.commit_payload(&session.upload_id).unwrap();
    let parts: Vec<u64> = commit.parts.iter().map(|p| p.part_number).collect();
    assert_eq!(parts, [1, 2, 3, 4]);
    for (p, b) in commit.parts.iter().zip(&blocks) {
        assert_eq!(p.e_tag, b.e_tag);
    }
    assert_eq!(commit.title, "Blue kettle");
    assert_eq!(commit.cover_url, COVER);
    assert_eq!(commit.video_usage.as_deref(), Some("pro_main_video"));

    // Quota checked once, before anything else; every request accepted.
    let records = sim.wire().records();
    assert_eq!(records[0].call, calls::QUOTA_GET);
    assert_eq!(records[1].call, calls::BLOCK_CREATE);
    assert!(records.iter().all(|r| r.error.is_none()), "{records:?}");
}

/// One client, a whole catalog: two videos with their own titles and covers go through one
/// provider, and each commit on the wire carries its own.
#[tokio::test]
async fn one_client_uploads_two_videos_with_their_own_titles() {
    let (sim, server) = sim(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let lazada = provider(&sim, &server);
    let driver = driver();
    for (name, title) in [
        ("kettle.mp4", "Blue kettle"),
        ("teapot.mp4", "Green teapot"),
    ] {
        let path = video(dir.path(), name, MIB + 7);
        let meta = UploadMeta::default()
            .with_title(title)
            .with_cover_url(format!("https://sg-live-02.slatic.net/p/{name}.png"));
        driver
            .with_meta(meta)
            .upload_file(&lazada, &path)
            .await
            .unwrap();
    }
    let commits = sim.wire().calls(calls::BLOCK_COMMIT);
    let sent: Vec<(Option<&str>, Option<&str>)> = commits
        .iter()
        .map(|c| (c.param("title"), c.param("coverUrl")))
        .collect();
    assert_eq!(
        sent,
        [
            (
                Some("Blue kettle"),
                Some("https://sg-live-02.slatic.net/p/kettle.mp4.png")
            ),
            (
                Some("Green teapot"),
                Some("https://sg-live-02.slatic.net/p/teapot.mp4.png")
            ),
        ]
    );
}

/// Two clients of one marketplace in one process, with different limits of requests in
/// flight ([`ClientOptions::request_limit`]), uploading at once: each simulator's own
/// `/__sim/traffic` counter sees at most its client's limit, and the looser client goes past
/// the stricter one's. A process-wide limit would hold both to one number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_keep_their_own_limits_of_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "kettle.mp4", 3 * MIB);
    let mut uploads = Vec::new();
    let mut servers = Vec::new();
    for limit in [2usize, 5] {
        let (sim, server) = sim(fast()).await;
        // Slow bodies, so that blocks overlap.
        sim.faults().set(FaultProfile {
            bandwidth_per_conn: Some(2 * MIB),
            ..FaultProfile::default()
        });
        let config = config_for(&sim, LazadaSim::rest_base_url(&server))
            .block_size(256 * 1024)
            .options(ClientOptions::default().with_request_limit(limit))
            .build()
            .unwrap();
        uploads.push(LazadaUploader::new(config).unwrap());
        servers.push((limit, sim, server));
    }
    let driver = UploadDriver::new(UploadOptions {
        concurrency: 8,
        meta: kettle(),
        ..UploadOptions::default()
    });
    let (strict, loose) = tokio::join!(
        driver.upload_file(&uploads[0], &path),
        driver.upload_file(&uploads[1], &path)
    );
    strict.unwrap();
    loose.unwrap();
    let mut peaks = Vec::new();
    for (limit, _sim, server) in &servers {
        let url = format!(
            "{}/__sim/traffic?call={}",
            server.base_url(),
            calls::BLOCK_UPLOAD
        );
        let traffic: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        let peak = traffic["peak_in_flight"].as_u64().unwrap() as usize;
        assert!(
            peak <= *limit,
            "{peak} blocks in flight with a limit of {limit}"
        );
        peaks.push(peak);
    }
    assert!(
        peaks[1] > 2,
        "the client limited to 5 stayed at the other's 2: {peaks:?}"
    );
}

#[tokio::test]
async fn sequential_blocks_and_im_usage() {
    let (sim, server) = sim(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "chat.mp4", 2 * MIB + 1);
    let mut cfg = config_for(&sim, LazadaSim::rest_base_url(&server))
        .block_size(MIB)
        .build()
        .unwrap();
    cfg.concurrent_blocks = false;
    let lazada = LazadaUploader::new(cfg).unwrap();
    let chat = UploadMeta::default()
        .with_title("chat")
        .with_cover_url(COVER)
        .with_usage("im");
    let outcome = driver()
        .with_meta(chat)
        .upload_file(&lazada, &path)
        .await
        .unwrap();
    let id = &outcome.asset().unwrap().id;
    assert_eq!(sim.video(id).unwrap().video_usage, "im");
    let session = outcome.session.clone().unwrap();
    let order: Vec<String> = sim
        .blocks_received(&session.upload_id)
        .into_iter()
        .map(|b| b.block_no)
        .collect();
    assert_eq!(order, ["0", "1", "2"]);
    assert_eq!(
        sim.video_bytes(id).unwrap().as_ref(),
        &std::fs::read(&path).unwrap()[..]
    );
}

#[tokio::test]
async fn over_100_mib_is_refused_without_a_request() {
    let (sim, server) = sim(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "big.mp4", MIB);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(100 * MIB + 1)
        .unwrap();
    let err = driver()
        .upload_file(&provider(&sim, &server), &path)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(sim.wire().records().is_empty());
}

#[tokio::test]
async fn missing_title_or_cover_is_refused_without_a_request() {
    let (sim, server) = sim(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", MIB);
    let base = provider(&sim, &server);
    let cases = [
        (UploadMeta::default(), "title and cover_url"),
        (UploadMeta::default().with_cover_url(COVER), "title"),
        (UploadMeta::default().with_title("t"), "cover_url"),
    ];
    for (meta, says) in cases {
        let err = driver()
            .with_meta(meta)
            .upload_file(&base, &path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.message().contains(says), "{err}");
    }
    assert!(sim.wire().records().is_empty());
}

#[tokio::test]
async fn wrong_secret_or_token_is_an_auth_error() {
    let (sim, server) = sim(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", MIB);
    let good = config_for(&sim, LazadaSim::rest_base_url(&server))
        .build()
        .unwrap();
    let mut bad_secret = good.clone();
    bad_secret.app_secret = "not-the-secret".into();
    let mut bad_token = good.clone();
    bad_token.access_token = "not-a-token".into();
    let mut bad_key = good;
    bad_key.app_key = "999".into();
    for (cfg, code) in [
        (bad_secret, codes::INCOMPLETE_SIGNATURE),
        (bad_token, codes::ILLEGAL_ACCESS_TOKEN),
        (bad_key, codes::INVALID_APP_KEY),
    ] {
        let lazada = LazadaUploader::new(cfg).unwrap();
        let err = driver().upload_file(&lazada, &path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert_eq!(err.code(), Some(code));
        assert!(err.request_id().is_some());
        assert!(!err.is_retryable());
        assert!(!err.to_string().contains("not-the-secret"));
    }
    // One refused quota call each, never retried, no upload opened.
    assert_eq!(sim.wire().count(calls::QUOTA_GET), 3);
    assert_eq!(sim.wire().count(calls::BLOCK_CREATE), 0);
}

#[tokio::test]
async fn not_enough_quota_is_refused_before_block_create() {
    let (sim, server) = sim(LazadaSimConfig {
        quota_capacity_bytes: 10 * MIB,
        quota_used_bytes: 9 * MIB,
        ..fast()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 2 * MIB);
    let err = driver()
        .upload_file(&provider(&sim, &server), &path)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    assert_eq!(sim.wire().records().len(), 1);
}

/// A proxy in front of the simulator that answers the first `UploadVideoBlock` for block 1
/// with a wrong e_tag (the block itself reached the simulator intact).
async fn corrupting_proxy(target: String) -> (String, Arc<AtomicUsize>) {
    #[derive(Clone)]
    struct Proxy {
        target: String,
        client: reqwest::Client,
        corrupted: Arc<AtomicUsize>,
    }
    async fn forward(State(p): State<Proxy>, req: Request) -> Response {
        let method = req.method().clone();
        let path_q = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_default();
        let ctype = req.headers().get("content-type").cloned();
        let body = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .unwrap();
        let needle = b"name=\"blockNo\"\r\n\r\n1\r\n";
        let is_block_1 = path_q.ends_with("/media/video/block/upload")
            && body.windows(needle.len()).any(|w| w == needle);
        let mut fwd = p.client.request(method, format!("{}{path_q}", p.target));
        if let Some(ct) = ctype {
            fwd = fwd.header("content-type", ct);
        }
        let answer = fwd.body(body).send().await.unwrap();
        let status = answer.status();
        let mut json: serde_json::Value = answer.json().await.unwrap();
        if is_block_1 && p.corrupted.fetch_add(1, Ordering::SeqCst) == 0 {
            json["e_tag"] = "00000000000000000000000000000000".into();
        }
        (status, axum::Json(json)).into_response()
    }
    let corrupted = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .fallback(forward)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(Proxy {
            target,
            client: reqwest::Client::new(),
            corrupted: Arc::clone(&corrupted),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), corrupted)
}

#[tokio::test]
async fn an_etag_mismatch_is_retried() {
    let (sim, server) = sim(fast()).await;
    let (proxy, corrupted) = corrupting_proxy(server.base_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path(), "v.mp4", 2 * MIB + 77);
    let cfg = config_for(&sim, format!("{proxy}/rest"))
        .block_size(MIB)
        .build()
        .unwrap();
    let lazada = LazadaUploader::new(cfg).unwrap();
    let outcome = driver().upload_file(&lazada, &path).await.unwrap();
    assert!(
        corrupted.load(Ordering::SeqCst) >= 2,
        "block 1 was sent again"
    );
    assert_eq!(outcome.stats.retries, 1);
    let session = outcome.session.clone().unwrap();
    let block_1 = sim
        .blocks_received(&session.upload_id)
        .into_iter()
        .filter(|b| b.block_no == "1")
        .count();
    assert_eq!(block_1, 2);
    let id = &outcome.asset().unwrap().id;
    assert_eq!(
        sim.video_bytes(id).unwrap().as_ref(),
        &std::fs::read(&path).unwrap()[..]
    );
}

#[tokio::test]
async fn processing_failures_name_the_state_and_leave_the_video_to_the_caller() {
    for (outcome, state) in [
        (VideoOutcome::AuditFailed, "AUDIT_FAILED"),
        (VideoOutcome::TranscodeFailed, "TRANSCODE_FAILED"),
    ] {
        let (sim, server) = sim(LazadaSimConfig {
            video_outcome: outcome,
            ..fast()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let path = video(dir.path(), "v.mp4", MIB);
        let err = driver()
            .upload_file(&provider(&sim, &server), &path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
        assert_eq!(err.code(), Some(state));
        assert!(err.to_string().contains(state));
        let ids = sim.video_ids();
        assert_eq!(ids.len(), 1);
        // A committed video is never deleted behind the caller's back (the driver does not
        // cancel after commit); `remove_video` is there to free its quota deliberately.
        assert_ne!(sim.video_state(&ids[0]), Some(VideoState::Deleted));
        assert_eq!(sim.wire().count(calls::VIDEO_REMOVE), 0);
        assert!(sim.quota().1 > 0);
    }
}

#[tokio::test]
async fn a_refused_block_is_a_typed_error_in_both_envelope_shapes() {
    for code_zero in [false, true] {
        let (sim, server) = sim(LazadaSimConfig {
            max_block_bytes: MIB as usize,
            business_failures_as_code_zero: code_zero,
            ..fast()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let path = video(dir.path(), "v.mp4", 2 * MIB);
        let lazada = provider(&sim, &server); // 3 MiB blocks
        let err = driver().upload_file(&lazada, &path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
        assert_eq!(err.code(), Some(codes::FAIL_TO_UPLOAD_BLOCK));
        assert!(err.request_id().is_some());
        // Not retried; nothing to cancel remotely before commit.
        assert_eq!(sim.wire().count(calls::BLOCK_UPLOAD), 1);
        assert_eq!(sim.wire().count(calls::VIDEO_REMOVE), 0);
    }
}

#[tokio::test]
async fn cancel_before_commit_sends_nothing() {
    let (sim, server) = sim(fast()).await;
    let lazada = provider(&sim, &server);
    let session = marketmedia_core::raw::UploadSession {
        platform: "lazada".into(),
        upload_id: "670A237D27694CFDA74CDE6EC1A99FA5".into(),
        plan: marketmedia_core::raw::PartPlan::new(10, lazada.rules(), None).unwrap(),
        expires_at: None,
        started_at_ms: 0,
        data: serde_json::Value::Null,
    };
    lazada.cancel(&session).await.unwrap();
    assert!(sim.wire().records().is_empty());
}

#[tokio::test]
async fn images_upload_and_migrate() {
    let (sim, server) = sim(fast()).await;
    let lazada = provider(&sim, &server);
    let jpg = ImageSource::from_bytes("a.jpg", sample_jpeg(50_000));
    let png = ImageSource::from_bytes("b.png", sample_png(3 * MIB as usize));
    let results = upload_images(&lazada, &[jpg, png]).await.unwrap();
    let uploaded: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    let held = sim.images();
    assert_eq!(held.len(), 2);
    for (u, h) in uploaded.iter().zip(&held) {
        assert_eq!(u.id, h.hash_code);
        assert_eq!(u.urls[0].url, h.url);
    }
    for rec in sim.wire().calls(calls::IMAGE_UPLOAD) {
        assert_eq!(rec.files[0].0, "image");
    }
    let migrated = lazada
        .migrate_image("https://example.com/kettle.jpg")
        .await
        .unwrap();
    assert_eq!(sim.images()[2].hash_code, migrated.id);
}

#[tokio::test]
async fn bad_images_are_refused_without_a_request() {
    let (sim, server) = sim(fast()).await;
    let lazada = provider(&sim, &server);
    let big = ImageSource::from_bytes("big.jpg", sample_jpeg(3 * MIB as usize + 1));
    let gif = ImageSource::from_bytes("a.gif", sample_gif(1000));
    for bad in [big, gif] {
        let err = upload_images(&lazada, std::slice::from_ref(&bad))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let err = lazada
            .upload_images(std::slice::from_ref(&bad))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    let err = lazada
        .migrate_image("ftp://example.com/a.jpg")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(sim.wire().records().is_empty());
}
