//! The eBay simulator over HTTP, as any client sees it: the token, createVideo's checks, the
//! Location header, exact sizes, Content-Range order, status on the sim clock, expiry of
//! unfinished videos, the 50 POST / 5 s limit, images and the control surface.

use std::time::Duration;

use marketmedia_sim::ebay::{codes, EbaySim, EbaySimConfig, TEST_ACCESS_TOKEN};
use marketmedia_sim::fixtures::{sample_jpeg, sample_png};
use serde_json::{json, Value};

struct Env {
    sim: EbaySim,
    base: String,
    http: reqwest::Client,
    _server: marketmedia_sim::SimServer,
}

async fn env(config: EbaySimConfig) -> Env {
    let sim = EbaySim::new(config);
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Env {
        base: EbaySim::api_base_url(&server),
        sim,
        http: reqwest::Client::new(),
        _server: server,
    }
}

fn fast() -> EbaySimConfig {
    EbaySimConfig {
        processing_delay: Duration::from_secs(10),
        ..EbaySimConfig::default()
    }
}

impl Env {
    async fn create(&self, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/video", self.base))
            .bearer_auth(TEST_ACCESS_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn create_id(&self, size: u64) -> String {
        let r = self
            .create(json!({"title": "Kettle", "size": size, "classification": ["ITEM"]}))
            .await;
        assert_eq!(r.status(), 201);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(loc.contains("/commerce/media/v1_beta/video/"), "{loc}");
        loc.rsplit('/').next().unwrap().to_owned()
    }

    async fn chunk(&self, id: &str, range: Option<&str>, body: Vec<u8>) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/video/{id}/upload", self.base))
            .bearer_auth(TEST_ACCESS_TOKEN)
            .header("content-type", "application/octet-stream")
            .body(body);
        if let Some(r) = range {
            req = req.header("content-range", r);
        }
        req.send().await.unwrap()
    }

    async fn video(&self, id: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/video/{id}", self.base))
            .bearer_auth(TEST_ACCESS_TOKEN)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

async fn error_id(r: reqwest::Response) -> (u16, u64) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    let e = &v["errors"][0];
    assert!(e["domain"].is_string() && e["category"].is_string() && e["message"].is_string());
    (status, e["errorId"].as_u64().unwrap())
}

#[tokio::test]
async fn the_bearer_token_is_checked_on_every_call() {
    let e = env(fast()).await;
    let r = e
        .http
        .post(format!("{}/video", e.base))
        .bearer_auth("wrong")
        .json(&json!({"title": "t", "size": 1, "classification": ["ITEM"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_id(r).await, (401, codes::INVALID_ACCESS_TOKEN as u64));
    let r = e
        .http
        .get(format!("{}/video/x", e.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_id(r).await, (401, codes::INVALID_ACCESS_TOKEN as u64));
    assert!(e.sim.wire().records().iter().all(|r| r.status == 401));
}

#[tokio::test]
async fn create_video_checks_title_size_and_classification() {
    let e = env(fast()).await;
    let bad = [
        json!({"size": 10, "classification": ["ITEM"]}),
        json!({"title": " ", "size": 10, "classification": ["ITEM"]}),
        json!({"title": "t", "classification": ["ITEM"]}),
        json!({"title": "t", "size": 0, "classification": ["ITEM"]}),
        json!({"title": "t", "size": "10", "classification": ["ITEM"]}),
        json!({"title": "t", "size": 10}),
        json!({"title": "t", "size": 10, "classification": ["USER"]}),
        json!({"title": "t", "size": 10, "classification": "ITEM"}),
        json!({"title": "t", "size": 10, "classification": ["ITEM"], "description": 5}),
    ];
    for body in bad {
        let r = e.create(body.clone()).await;
        assert_eq!(
            error_id(r).await,
            (400, codes::INVALID_REQUEST as u64),
            "{body}"
        );
    }
    let r = e
        .create(json!({"title": "t", "size": 157_286_401u64, "classification": ["ITEM"]}))
        .await;
    assert_eq!(error_id(r).await, (400, codes::VIDEO_TOO_LARGE as u64));
    let r = e
        .create(json!({"title": "t", "size": 157_286_400u64, "classification": ["ITEM"], "description": "d"}))
        .await;
    assert_eq!(r.status(), 201);
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_whole_upload_must_match_the_size_exactly() {
    let e = env(fast()).await;
    let id = e.create_id(10).await;
    let (s, v) = e.video(&id).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("PENDING_UPLOAD")));
    let r = e.chunk(&id, None, vec![1; 9]).await;
    assert_eq!(error_id(r).await, (400, codes::SIZE_MISMATCH as u64));
    let r = e.chunk(&id, None, vec![1; 11]).await;
    assert_eq!(error_id(r).await, (400, codes::SIZE_MISMATCH as u64));
    let r = e
        .http
        .post(format!("{}/video/{id}/upload", e.base))
        .bearer_auth(TEST_ACCESS_TOKEN)
        .header("content-type", "video/mp4")
        .body(vec![1; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(error_id(r).await, (400, codes::INVALID_REQUEST as u64));
    assert_eq!(e.chunk(&id, None, vec![1; 10]).await.status(), 200);
    assert_eq!(e.sim.video_bytes(&id).unwrap().len(), 10);
    let r = e.chunk("nope", None, vec![1; 10]).await;
    assert_eq!(error_id(r).await, (404, codes::VIDEO_NOT_FOUND as u64));
}

#[tokio::test]
async fn ranges_go_in_order_without_gap_or_overlap() {
    let e = env(fast()).await;
    let id = e.create_id(10).await;
    let gap = e.chunk(&id, Some("bytes 4-9/10"), vec![2; 6]).await;
    assert_eq!(error_id(gap).await, (400, codes::RANGE_OUT_OF_ORDER as u64));
    assert_eq!(
        e.chunk(&id, Some("bytes 0-3/10"), vec![1; 4])
            .await
            .status(),
        200
    );
    // The same range again, same bytes: a re-send after a lost answer, harmless.
    assert_eq!(
        e.chunk(&id, Some("bytes 0-3/10"), vec![1; 4])
            .await
            .status(),
        200
    );
    // Other bytes over held ones, or a range straddling the end of what is held: refused.
    let other = e.chunk(&id, Some("bytes 0-3/10"), vec![9; 4]).await;
    assert_eq!(
        error_id(other).await,
        (400, codes::RANGE_OUT_OF_ORDER as u64)
    );
    let straddle = e.chunk(&id, Some("bytes 2-5/10"), vec![1; 4]).await;
    assert_eq!(
        error_id(straddle).await,
        (400, codes::RANGE_OUT_OF_ORDER as u64)
    );
    for (range, n) in [
        ("bytes 4-9/11", 6),
        ("bytes 4-8/10", 6),
        ("bytes 4-12/10", 9),
        ("bytes 9-4/10", 6),
        ("4-9/10", 6),
        ("bytes */10", 6),
    ] {
        let r = e.chunk(&id, Some(range), vec![2; n]).await;
        let (status, code) = error_id(r).await;
        assert_eq!(status, 400, "{range}");
        assert!(
            code == codes::INVALID_CONTENT_RANGE as u64 || code == codes::SIZE_MISMATCH as u64,
            "{range}: {code}"
        );
    }
    assert_eq!(
        e.chunk(&id, Some("bytes 4-9/10"), vec![2; 6])
            .await
            .status(),
        200
    );
    assert_eq!(
        e.sim.video_bytes(&id).unwrap().as_ref(),
        &[1, 1, 1, 1, 2, 2, 2, 2, 2, 2]
    );
    // Done: a re-send is still harmless, anything else is refused.
    assert_eq!(
        e.chunk(&id, Some("bytes 4-9/10"), vec![2; 6])
            .await
            .status(),
        200
    );
    let chunks = e.sim.chunks(&id);
    assert_eq!(chunks.iter().filter(|c| c.accepted).count(), 4);
}

#[tokio::test]
async fn status_moves_on_the_sim_clock() {
    let e = env(fast()).await;
    let id = e.create_id(4).await;
    assert_eq!(e.chunk(&id, None, vec![7; 4]).await.status(), 200);
    let (_, v) = e.video(&id).await;
    assert_eq!(v["status"], "PROCESSING");
    assert!(v.get("playLists").is_none());
    e.sim.clock().advance(Duration::from_secs(11));
    let (_, v) = e.video(&id).await;
    assert_eq!(v["status"], "LIVE");
    assert_eq!(v["playLists"].as_array().unwrap().len(), 2);
    assert_eq!(v["size"], 4);
    assert_eq!(v["classification"], json!(["ITEM"]));
    assert!(v["expirationDate"].as_str().unwrap().ends_with('Z'));

    let blocked = e.create_id(4).await;
    e.sim
        .set_video_outcome(&blocked, marketmedia_sim::ebay::VideoOutcome::Blocked);
    assert_eq!(e.chunk(&blocked, None, vec![7; 4]).await.status(), 200);
    e.sim.clock().advance(Duration::from_secs(11));
    let (_, v) = e.video(&blocked).await;
    assert_eq!(v["status"], "BLOCKED");
    assert!(v["statusMessage"].is_string());
}

#[tokio::test]
async fn an_unfinished_video_is_forgotten_after_its_keeping_time() {
    // The user token must outlive the day the clock jumps (a real one lives 2 hours).
    let e = env(EbaySimConfig {
        access_token_lifetime: Duration::from_secs(48 * 3600),
        ..fast()
    })
    .await;
    let id = e.create_id(10).await;
    assert_eq!(
        e.chunk(&id, Some("bytes 0-3/10"), vec![1; 4])
            .await
            .status(),
        200
    );
    let done = e.create_id(1).await;
    assert_eq!(e.chunk(&done, None, vec![1]).await.status(), 200);
    e.sim.clock().advance(Duration::from_secs(24 * 3600 + 1));
    let r = e.chunk(&id, Some("bytes 4-9/10"), vec![2; 6]).await;
    assert_eq!(error_id(r).await, (404, codes::VIDEO_NOT_FOUND as u64));
    assert_eq!(e.video(&id).await.0, 404);
    assert_eq!(e.video(&done).await.0, 200, "an uploaded video is kept");
}

#[tokio::test]
async fn fifty_posts_per_five_seconds_then_429() {
    let e = env(fast()).await;
    // Freeze real time's part: every request falls in one window of the sim clock.
    for _ in 0..50 {
        let r = e
            .create(json!({"title": "t", "size": 1, "classification": ["ITEM"]}))
            .await;
        assert_eq!(r.status(), 201);
    }
    let r = e
        .create(json!({"title": "t", "size": 1, "classification": ["ITEM"]}))
        .await;
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&after), "{after}");
    assert_eq!(error_id(r).await, (429, codes::TOO_MANY_REQUESTS as u64));
    // GETs are not limited.
    assert_eq!(e.video("x").await.0, 404);
    e.sim.clock().advance(Duration::from_secs(6));
    let r = e
        .create(json!({"title": "t", "size": 1, "classification": ["ITEM"]}))
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn images_from_file() {
    let e = env(EbaySimConfig {
        max_image_bytes: 4096,
        ..fast()
    })
    .await;
    let send = |field: &'static str, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            field,
            reqwest::multipart::Part::bytes(bytes).file_name("a.bin"),
        );
        e.http
            .post(format!("{}/image/create_image_from_file", e.base))
            .bearer_auth(TEST_ACCESS_TOKEN)
            .multipart(form)
            .send()
    };
    let r = send("image", sample_png(1000)).await.unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.contains("/commerce/media/v1_beta/image/"));
    let v: Value = r.json().await.unwrap();
    assert!(v["imageUrl"].as_str().unwrap().starts_with("https://"));
    assert!(v["expirationDate"].is_string());
    let id = loc.rsplit('/').next().unwrap();
    assert_eq!(e.sim.image_bytes(id).unwrap().len(), 1000);
    let r = e
        .http
        .get(&loc)
        .bearer_auth(TEST_ACCESS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for (field, bytes) in [
        ("photo", sample_jpeg(500)),
        ("image", b"not an image at all".to_vec()),
        ("image", sample_jpeg(5000)),
        ("image", Vec::new()),
    ] {
        let r = send(field, bytes).await.unwrap();
        assert_eq!(error_id(r).await, (400, codes::INVALID_IMAGE as u64));
    }
}

#[tokio::test]
async fn the_control_surface_shows_chunks_and_bytes() {
    let e = env(fast()).await;
    let id = e.create_id(6).await;
    assert_eq!(
        e.chunk(&id, Some("bytes 0-2/6"), vec![1; 3]).await.status(),
        200
    );
    assert_eq!(
        e.chunk(&id, Some("bytes 3-5/6"), vec![2; 3]).await.status(),
        200
    );
    let root = e.base.trim_end_matches("/commerce/media/v1_beta");
    let uploads: Value = e
        .http
        .get(format!("{root}/__sim/uploads"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(uploads[0]["status"], "PROCESSING");
    let parts: Value = e
        .http
        .get(format!("{root}/__sim/uploads/{id}/parts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(parts.as_array().unwrap().len(), 2);
    let bytes = e
        .http
        .get(format!("{root}/__sim/uploads/{id}/bytes"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), &[1, 1, 1, 2, 2, 2]);
}
