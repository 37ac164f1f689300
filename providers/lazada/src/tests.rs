//! Provider behaviour against a scripted fake gateway (an axum app on 127.0.0.1): what goes on
//! the wire, how answers become values or typed errors, and the driver's use of the rules.
//! The faithful simulator tests live in `tests/it/sim.rs`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use marketmedia_core::{
    Completion, MetaField, PollPolicy, RetryPolicy, UploadDriver, UploadMeta, UploadOptions,
};
use serde_json::{json, Value};

use super::*;

const SECRET: &str = "fake-secret";
const TOKEN: &str = "fake-token";
const BLOCK: u64 = 64 * 1024;

/// One request as the fake gateway saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query_len: usize,
    params: BTreeMap<String, String>,
    file: Option<(String, Bytes)>,
}

type Responder = dyn Fn(&Seen, usize) -> (u16, Value) + Send + Sync;

struct Fake {
    log: Mutex<Vec<Seen>>,
    respond: Box<Responder>,
}

async fn handle(State(fake): State<Arc<Fake>>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let mut params: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let ctype = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut file = None;
    if ctype.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &()).await.unwrap();
        while let Some(field) = mp.next_field().await.unwrap() {
            let name = field.name().unwrap_or("").to_owned();
            if field.file_name().is_some() {
                file = Some((name, field.bytes().await.unwrap()));
            } else {
                params.insert(name, field.text().await.unwrap());
            }
        }
    } else {
        let body = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .unwrap();
        params.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    let seen = Seen {
        method,
        path: path.clone(),
        query_len: query.len(),
        params,
        file,
    };
    let nth = {
        let mut log = fake.log.lock().unwrap();
        let nth = log.iter().filter(|s| s.path == path).count();
        log.push(seen.clone());
        nth
    };
    let (status, body) = (fake.respond)(&seen, nth);
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn start(
    respond: impl Fn(&Seen, usize) -> (u16, Value) + Send + Sync + 'static,
) -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake {
        log: Mutex::new(Vec::new()),
        respond: Box::new(respond),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/rest"), fake)
}

fn ok(extra: Value) -> Value {
    let mut v = json!({"code":"0","success":true,"result_code":"","result_message":"","request_id":"rid-1"});
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    v
}

fn md5_upper(b: &[u8]) -> String {
    hex::encode_upper(marketmedia_core::raw::md5(b))
}

/// A well-behaved gateway: correct eTags, one GetVideo pending then AUDIT_SUCCESS.
fn happy(seen: &Seen, nth: usize) -> (u16, Value) {
    match seen.path.as_str() {
        "/rest/media/video/quota/get" => (
            200,
            ok(json!({"capacity_size": 1u64 << 30, "used_size": 0})),
        ),
        "/rest/media/video/block/create" => (200, ok(json!({"upload_id":"670A237D"}))),
        "/rest/media/video/block/upload" => {
            let data = &seen.file.as_ref().unwrap().1;
            (200, ok(json!({"e_tag": md5_upper(data)})))
        }
        "/rest/media/video/block/commit" => (200, ok(json!({"video_id":"30073704787"}))),
        "/rest/media/video/get" if nth == 0 => (200, ok(json!({"state":"TRANSCODING"}))),
        "/rest/media/video/get" => (
            200,
            ok(
                json!({"state":"AUDIT_SUCCESS","video_url":"http://v/x.mp4","cover_url":"https://c/x.png","title":"hello"}),
            ),
        ),
        "/rest/media/video/remove" => (200, ok(json!({}))),
        "/rest/image/upload" | "/rest/image/migrate" => (
            200,
            ok(json!({"data":{"image":{"url":"https://i/x.jpg","hash_code":"h1"}}})),
        ),
        _ => (
            404,
            json!({"code":"InvalidApiPath","type":"ISV","message":"no such api"}),
        ),
    }
}

fn uploader(base: &str) -> LazadaUploader {
    let cfg = LazadaConfig::builder()
        .app_key("100132")
        .app_secret(SECRET)
        .access_token(TOKEN)
        .region(Region::Sg)
        .base_url(base)
        .block_size(BLOCK)
        .build()
        .unwrap();
    LazadaUploader::new(cfg).unwrap()
}

/// The fields every test upload carries unless it says otherwise.
fn fields() -> UploadMeta {
    UploadMeta::default()
        .with_title("hello")
        .with_cover_url("https://c/x.png")
}

fn fast_driver(concurrency: usize) -> UploadDriver {
    UploadDriver::new(UploadOptions {
        concurrency,
        retry: RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            jitter: false,
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(1),
            multiplier: 1.0,
            max_delay: Duration::from_millis(1),
            deadline: Duration::from_secs(10),
        },
        meta: fields(),
        ..UploadOptions::default()
    })
}

fn mp4(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
    let mut data = b"\0\0\0\x14ftypisom\0\0\0\0isom".to_vec();
    data.extend((0..len - data.len()).map(|i| (i * 7 % 251) as u8));
    let mut f = tempfile::Builder::new().suffix(".mp4").tempfile().unwrap();
    f.write_all(&data).unwrap();
    (f, data)
}

fn calls(fake: &Fake) -> Vec<Seen> {
    fake.log.lock().unwrap().clone()
}

/// Checks the signature the way the gateway does: over every received parameter but `sign`.
fn assert_signed(seen: &Seen) {
    let api_path = seen.path.strip_prefix("/rest").unwrap();
    let params: Vec<(&str, &str)> = seen
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        seen.params.get("sign").map(String::as_str),
        Some(signing::sign(SECRET, api_path, &params).as_str()),
        "{api_path}"
    );
    assert_eq!(seen.params["sign_method"], "sha256");
    assert_eq!(seen.params["app_key"], "100132");
    assert_eq!(seen.params["access_token"], TOKEN);
    let ts: u64 = seen.params["timestamp"].parse().unwrap();
    assert!(ts > 1_600_000_000_000, "timestamp in milliseconds: {ts}");
}

#[tokio::test]
async fn whole_flow_on_the_wire() {
    let (base, fake) = start(happy).await;
    let lazada = uploader(&base);
    let (file, data) = mp4(3 * BLOCK as usize + 1234);
    let out = fast_driver(2)
        .upload_file(&lazada, file.path())
        .await
        .unwrap();
    let Completion::Ready(asset) = &out.completion else {
        panic!("not ready: {out:?}")
    };
    assert_eq!(asset.id, "30073704787");
    assert_eq!(asset.urls[0].url, "http://v/x.mp4");
    assert_eq!(asset.thumbnails[0].url, "https://c/x.png");

    let log = calls(&fake);
    for s in &log {
        assert_signed(s);
    }
    let paths: Vec<&str> = log.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths[0], "/rest/media/video/quota/get");
    assert_eq!(paths[1], "/rest/media/video/block/create");
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.ends_with("/block/upload"))
            .count(),
        4
    );

    let create = &log[1];
    assert_eq!(create.method, "POST");
    assert_eq!(create.query_len, 0, "POST parameters travel in the body");
    assert_eq!(create.params["fileBytes"], data.len().to_string());
    assert!(create.params["fileName"].ends_with(".mp4"));

    let mut blocks: Vec<(u32, Bytes)> = log
        .iter()
        .filter(|s| s.path.ends_with("/block/upload"))
        .map(|s| {
            assert_eq!(s.params["uploadId"], "670A237D");
            assert_eq!(s.params["blockCount"], "4");
            let (field, bytes) = s.file.clone().unwrap();
            assert_eq!(field, "file");
            (s.params["blockNo"].parse().unwrap(), bytes)
        })
        .collect();
    blocks.sort_by_key(|b| b.0);
    assert_eq!(
        blocks.iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    let assembled: Vec<u8> = blocks.iter().flat_map(|b| b.1.to_vec()).collect();
    assert_eq!(assembled, data);

    let commit = log
        .iter()
        .find(|s| s.path.ends_with("/block/commit"))
        .unwrap();
    let parts: Vec<Value> = serde_json::from_str(&commit.params["parts"]).unwrap();
    let numbers: Vec<u64> = parts
        .iter()
        .map(|p| p["partNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2, 3, 4]);
    for (p, b) in parts.iter().zip(&blocks) {
        assert_eq!(p["eTag"], md5_upper(&b.1));
    }
    assert_eq!(commit.params["title"], "hello");
    assert_eq!(commit.params["coverUrl"], "https://c/x.png");
    assert_eq!(commit.params["videoUsage"], "pro_main_video");

    let get = log.iter().find(|s| s.path.ends_with("/video/get")).unwrap();
    assert_eq!(get.method, "GET");
    assert_eq!(get.params["videoId"], "30073704787");
}

#[tokio::test]
async fn etag_mismatch_is_corrupted_and_retried() {
    let bad_once = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&bad_once);
    let (base, fake) = start(move |seen, nth| {
        if seen.path.ends_with("/block/upload")
            && seen.params["blockNo"] == "1"
            && counter.fetch_add(1, Ordering::SeqCst) == 0
        {
            return (
                200,
                ok(json!({"e_tag": "0123456789ABCDEF0123456789ABCDEF"})),
            );
        }
        happy(seen, nth)
    })
    .await;
    let lazada = uploader(&base);
    let (file, _) = mp4(2 * BLOCK as usize + 10);
    let out = fast_driver(1)
        .upload_file(&lazada, file.path())
        .await
        .unwrap();
    assert!(out.asset().is_some());
    assert_eq!(out.stats.retries, 1);
    let log = calls(&fake);
    let block1 = log
        .iter()
        .filter(|s| s.path.ends_with("/block/upload") && s.params["blockNo"] == "1")
        .count();
    assert_eq!(block1, 2, "block 1 sent again after the bad eTag");
    let commit = log
        .iter()
        .find(|s| s.path.ends_with("/block/commit"))
        .unwrap();
    assert!(!commit.params["parts"].contains("0123456789ABCDEF"));
}

#[tokio::test]
async fn etag_check_is_case_insensitive_and_skips_non_md5_tags() {
    let (base, _fake) = start(|seen, nth| {
        if seen.path.ends_with("/block/upload") {
            let data = &seen.file.as_ref().unwrap().1;
            let tag = if seen.params["blockNo"] == "0" {
                md5_upper(data).to_lowercase()
            } else {
                "opaque-tag-1".to_owned()
            };
            return (200, ok(json!({ "e_tag": tag })));
        }
        happy(seen, nth)
    })
    .await;
    let lazada = uploader(&base);
    let (file, _) = mp4(BLOCK as usize + 10);
    let out = fast_driver(1)
        .upload_file(&lazada, file.path())
        .await
        .unwrap();
    assert_eq!(out.stats.retries, 0);
}

#[tokio::test]
async fn missing_title_or_cover_is_refused_before_any_request() {
    let (base, fake) = start(happy).await;
    let (file, _) = mp4(1000);
    let lazada = uploader(&base);
    assert_eq!(
        lazada.rules().required_meta,
        vec![MetaField::Title, MetaField::CoverUrl]
    );
    for meta in [
        UploadMeta::default(),
        UploadMeta::default()
            .with_title("  ")
            .with_cover_url("https://c/x.png"),
        UploadMeta::default().with_title("t"),
        UploadMeta::default()
            .with_title("t")
            .with_cover_url("not a url"),
        fields().with_usage("banner"),
    ] {
        let err = fast_driver(1)
            .with_meta(meta.clone())
            .upload_file(&lazada, file.path())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{meta:?}: {err}");
    }
    // The provider checks too, for a caller driving it by hand.
    let err = lazada
        .preflight(&SourceInfo {
            file_name: "a.mp4".into(),
            size: 10,
            format: MediaFormat::Mp4,
            duration: None,
            digests: Default::default(),
            meta: UploadMeta::default().with_cover_url("https://c/x.png"),
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("title"), "{err}");
    assert!(calls(&fake).is_empty());
}

#[tokio::test]
async fn over_quota_is_rejected_after_one_quota_call() {
    let (base, fake) = start(|seen, nth| {
        if seen.path.ends_with("/quota/get") {
            return (200, ok(json!({"capacity_size": "5000", "used_size": 4500})));
        }
        happy(seen, nth)
    })
    .await;
    let (file, _) = mp4(1000);
    let err = fast_driver(1)
        .upload_file(&uploader(&base), file.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(err.message().contains("500"), "{err}");
    assert_eq!(calls(&fake).len(), 1);
}

#[tokio::test]
async fn over_100_mib_is_refused_without_a_request() {
    let (base, fake) = start(happy).await;
    let (file, _) = mp4(1000);
    file.as_file().set_len(100 * config::MIB + 1).unwrap();
    let err = fast_driver(1)
        .upload_file(&uploader(&base), file.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(calls(&fake).is_empty());
}

#[tokio::test]
async fn failed_audit_names_the_state_and_keeps_the_video() {
    let (base, fake) = start(|seen, nth| {
        if seen.path.ends_with("/video/get") {
            return (200, ok(json!({"state":"AUDIT_FAILED"})));
        }
        happy(seen, nth)
    })
    .await;
    let (file, _) = mp4(1000);
    let err = fast_driver(1)
        .upload_file(&uploader(&base), file.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("AUDIT_FAILED"));
    assert!(err.to_string().contains("AUDIT_FAILED"), "{err}");
    // A committed video is never removed behind the caller's back.
    let log = calls(&fake);
    assert!(log.iter().all(|c| c.path != "/rest/media/video/remove"));
    assert!(log.last().unwrap().path.ends_with("/video/get"));
}

#[tokio::test]
async fn cancel_before_commit_sends_nothing() {
    let (base, fake) = start(|seen, nth| {
        if seen.path.ends_with("/block/upload") {
            return (200, ok(json!({"code":"0","success":false,"result_code":"FAIL_TO_UPLOAD_BLOCK","result_message":"block too large"})));
        }
        happy(seen, nth)
    })
    .await;
    let (file, _) = mp4(1000);
    let err = fast_driver(1)
        .upload_file(&uploader(&base), file.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("FAIL_TO_UPLOAD_BLOCK"));
    assert_eq!(err.message(), "block too large");
    assert_eq!(err.request_id(), Some("rid-1"));
    let log = calls(&fake);
    assert_eq!(log.last().unwrap().path, "/rest/media/video/block/upload");
    assert!(!log.iter().any(|s| s.path.ends_with("/remove")));
}

#[tokio::test]
async fn gateway_errors_become_typed_errors() {
    let (base, _fake) = start(|seen, _| match seen.params.get("fileName").map(String::as_str) {
        Some("sig.mp4") => (200, json!({"code":"IncompleteSignature","type":"ISV","message":"The request signature does not conform to platform standards","request_id":"r-sig"})),
        Some("busy.mp4") => (503, json!("<html>busy</html>")),
        Some("limit.mp4") => (200, json!({"code":"ApiCallLimit","type":"ISP","message":"slow down"})),
        Some("garbage.mp4") => (200, json!(["not", "an", "envelope"])),
        Some("foreign.mp4") => (200, json!({"hello":"world"})),
        Some("noid.mp4") => (200, ok(json!({"upload_id": {"nested": true}}))),
        _ => (502, json!({})),
    })
    .await;
    let lazada = uploader(&base);
    let plan_rules = lazada.rules().clone();
    for (name, kind) in [
        ("sig.mp4", ErrorKind::Auth),
        ("busy.mp4", ErrorKind::Transient),
        ("limit.mp4", ErrorKind::RateLimited),
        ("garbage.mp4", ErrorKind::Protocol),
        ("foreign.mp4", ErrorKind::Protocol),
        ("noid.mp4", ErrorKind::Protocol),
        ("other.mp4", ErrorKind::Transient),
    ] {
        let src = SourceInfo {
            file_name: name.into(),
            size: 10,
            format: MediaFormat::Mp4,
            duration: None,
            digests: Default::default(),
            meta: fields(),
        };
        let plan = PartPlan::new(10, &plan_rules, None).unwrap();
        let err = lazada.init(&src, &plan).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert_eq!(err.platform(), Some("lazada"));
        assert!(!err.to_string().contains(SECRET) && !err.to_string().contains(TOKEN));
        if name == "sig.mp4" {
            assert_eq!(err.code(), Some("IncompleteSignature"));
            assert_eq!(err.request_id(), Some("r-sig"));
            assert!(!err.is_retryable());
        }
    }
}

#[tokio::test]
async fn poll_states() {
    let (base, _fake) = start(|seen, _| {
        let state = seen.params["videoId"].clone();
        match state.as_str() {
            "none" => (200, ok(json!({}))),
            s => (200, ok(json!({ "state": s }))),
        }
    })
    .await;
    let lazada = uploader(&base);
    for s in ["READY_FOR_TRANSCODE", "TRANSCODING", "READY_FOR_AUDIT"] {
        assert_eq!(
            lazada.video_status(s).await.unwrap(),
            ProcessingStatus::Pending { stage: s.into() }
        );
    }
    for s in ["TRANSCODE_FAILED", "AUDIT_FAILED", "DELETED"] {
        match lazada.video_status(s).await.unwrap() {
            ProcessingStatus::Failed { state, reason } => {
                assert_eq!(state, s);
                assert!(!reason.is_empty());
            }
            other => panic!("{s}: {other:?}"),
        }
    }
    assert!(matches!(
        lazada.video_status("AUDIT_SUCCESS").await.unwrap(),
        ProcessingStatus::Ready(_)
    ));
    for s in ["none", "SOMETHING_NEW"] {
        let err = lazada.video_status(s).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{s}");
    }
}

#[tokio::test]
async fn session_resumes_in_another_uploader() {
    let (base, fake) = start(happy).await;
    let first = uploader(&base);
    let src = SourceInfo {
        file_name: "a.mp4".into(),
        size: 10,
        format: MediaFormat::Mp4,
        duration: None,
        digests: Default::default(),
        meta: UploadMeta::default()
            .with_title("from session")
            .with_cover_url("https://c/s.png")
            .with_usage("im"),
    };
    let plan = PartPlan::new(10, first.rules(), None).unwrap();
    let InitOutcome::Session(session) = first.init(&src, &plan).await.unwrap() else {
        panic!()
    };
    let stored = serde_json::to_string(&session).unwrap();
    let session: UploadSession = serde_json::from_str(&stored).unwrap();
    // Another process: no upload fields given; the session carries them.
    let second = LazadaUploader::new(first.config().clone()).unwrap();
    let part = Part::new(0, 0, bytes::Bytes::from_static(b"0123456789"), None);
    let receipt = second.put_part(&session, &part).await.unwrap();
    assert_eq!(receipt.wire_number, 0);
    second.commit(&session, &[receipt]).await.unwrap();
    let log = calls(&fake);
    let commit = log.last().unwrap();
    assert_eq!(commit.params["title"], "from session");
    assert_eq!(commit.params["videoUsage"], "im");
    assert_eq!(
        commit.params["parts"],
        format!(
            r#"[{{"partNumber":1,"eTag":"{}"}}]"#,
            md5_upper(b"0123456789")
        )
    );
}

#[tokio::test]
async fn commit_refuses_incomplete_or_unordered_receipts() {
    let (base, fake) = start(happy).await;
    let lazada = uploader(&base);
    let plan = PartPlan::new(2 * BLOCK, lazada.rules(), None).unwrap();
    let session = UploadSession {
        platform: "lazada".into(),
        upload_id: "U".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: json!({"file_name":"a.mp4","title":"t","cover_url":"https://c","video_usage":"pro_main_video"}),
    };
    let r = |index, etag: Option<&str>| PartReceipt {
        index,
        wire_number: index,
        size: BLOCK,
        etag: etag.map(str::to_owned),
    };
    for receipts in [
        vec![r(0, Some("A"))],
        vec![r(1, Some("A")), r(0, Some("B"))],
        vec![r(0, Some("A")), r(1, None)],
    ] {
        let err = lazada.commit(&session, &receipts).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    let bad = UploadSession {
        data: json!({"other": 1}),
        ..session
    };
    assert_eq!(
        lazada
            .commit(&bad, &[r(0, Some("A")), r(1, Some("B"))])
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert!(calls(&fake).is_empty());
}

fn jpeg(w: u16, h: u16, pad: usize) -> ImageSource {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
    v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    v.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.extend(std::iter::repeat_n(0, pad));
    v.extend_from_slice(&[0xFF, 0xD9]);
    ImageSource::from_bytes("a.jpg", v)
}

#[tokio::test]
async fn images_upload_and_migrate() {
    let (base, fake) = start(happy).await;
    let lazada = uploader(&base);
    let img = jpeg(800, 800, 100);
    let up = lazada
        .upload_images(std::slice::from_ref(&img))
        .await
        .unwrap();
    let up = up.into_iter().next().unwrap().unwrap();
    assert_eq!(up.id, "h1");
    assert_eq!(up.urls[0].url, "https://i/x.jpg");
    let mig = lazada.migrate_image("https://example.com/a b.jpg").await;
    assert_eq!(mig.unwrap_err().kind(), ErrorKind::InvalidInput);
    let mig = lazada
        .migrate_image("https://example.com/a.jpg?x=1&y=2")
        .await
        .unwrap();
    assert_eq!(mig.id, "h1");
    let log = calls(&fake);
    assert_eq!(log.len(), 2);
    assert_signed(&log[0]);
    assert_signed(&log[1]);
    let (field, bytes) = log[0].file.clone().unwrap();
    assert_eq!(field, "image");
    assert_eq!(bytes.as_ref(), img.data.as_ref());
    assert_eq!(
        log[1].params["payload"],
        "<Request><Image><Url>https://example.com/a.jpg?x=1&amp;y=2</Url></Image></Request>"
    );
}

#[tokio::test]
async fn bad_images_are_refused_up_front() {
    let (base, fake) = start(happy).await;
    let lazada = uploader(&base);
    let big = jpeg(100, 100, 3 * config::MIB as usize);
    let gif = ImageSource::from_bytes("a.gif", b"GIF89a\x01\0\x01\0".to_vec());
    let huge = jpeg(5001, 10, 0);
    let webp = ImageSource::from_bytes("a.webp", b"RIFF\0\0\0\0WEBPVP8 ".to_vec());
    for bad in [big, gif, huge, webp] {
        let err = lazada
            .upload_images(std::slice::from_ref(&bad))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        let err = lazada.upload_image(&bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    // Exactly 3 MiB is accepted.
    let edge = jpeg(10, 10, 3 * config::MIB as usize - 41);
    assert_eq!(edge.data.len() as u64, 3 * config::MIB);
    lazada.upload_image(&edge).await.unwrap();
    assert_eq!(calls(&fake).len(), 1);
}

#[test]
fn rules_as_data() {
    let lazada = LazadaUploader::new(
        LazadaConfig::builder()
            .app_key("k")
            .app_secret("s")
            .access_token("t")
            .region(Region::Sg)
            .build()
            .unwrap(),
    )
    .unwrap();
    let r = lazada.rules();
    assert_eq!(r.platform, "lazada");
    assert_eq!(r.part_numbering, NumberingBase::Zero);
    assert_eq!(r.commit_numbering, Some(NumberingBase::One));
    assert_eq!(r.max_file_bytes, 99_999_999);
    assert!(r.digests.part_md5 && !r.digests.file_md5);
    assert!(r.async_processing && !r.instant_upload && !r.renewable_sessions);
    let PartSizeRule::Range { preferred, .. } = r.part_size else {
        panic!()
    };
    assert_eq!(preferred, 3 * 1024 * 1024);
    let plan = PartPlan::new(8 * 1024 * 1024, r, None).unwrap();
    assert_eq!(plan.count(), 3);
    assert_eq!(lazada.image_rules().max_bytes, 3 * 1024 * 1024);
    let text = format!("{lazada:?}");
    assert!(!text.contains("\"s\"") && text.contains("***"));
}

/// The gateway's `Retry-After` reaches the driver on a failed envelope and on a bare error
/// status alike: without it the driver would retry at its own pace, too early.
#[test]
fn retry_after_is_kept_on_every_error_answer() {
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
    let answer = |status: u16, after: Option<&'static str>, body: &str| {
        let mut headers = HeaderMap::new();
        if let Some(v) = after {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(v));
        }
        RawResponse {
            status,
            headers,
            body: Bytes::from(body.to_owned()),
        }
    };
    let meta = CallMeta {
        platform: PLATFORM,
        call: "/media/video/block/upload",
        part: Some(0),
    };
    let limited = answer(
        200,
        Some("7"),
        r#"{"code":"ApiCallLimit","type":"ISP","message":"slow down","request_id":"r1"}"#,
    );
    let err = decode::<Value>("/media/video/block/upload", &limited, &meta).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    let bare = answer(429, Some("4"), "too many");
    let err = decode::<Value>("/media/video/block/upload", &bare, &meta).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(4)));
    let none = answer(429, None, "too many");
    let err = decode::<Value>("/media/video/block/upload", &none, &meta).unwrap_err();
    assert_eq!(err.retry_after(), None);
}
