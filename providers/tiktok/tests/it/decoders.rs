//! TikTok Shop's answers decoded: the envelope before the payload (any non-zero code is a
//! failure whatever the HTTP status), odd bodies failing by status, token answers' timestamps.
//! Nothing panics on junk.

use std::time::Duration;

use marketmedia_core::raw::http::{CallMeta, RawResponse};
use marketmedia_core::raw::ErrorKind;
use marketmedia_tiktok::auth::tokens_of;
use marketmedia_tiktok::{data_of, wire};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

const META: CallMeta<'static> = CallMeta {
    platform: "tiktok",
    call: "files/upload",
    part: Some(0),
};

fn answer(status: u16, retry_after: Option<&'static str>, body: &str) -> RawResponse {
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from_static(v));
    }
    RawResponse {
        status,
        headers,
        body: bytes::Bytes::from(body.to_owned()),
    }
}

fn file(raw: &RawResponse) -> marketmedia_core::Result<wire::UploadedFileData> {
    data_of(raw, &META, |_| None)
}

#[test]
fn the_envelope_decides_before_the_payload() {
    let ok = answer(
        200,
        None,
        r#"{"code":0,"message":"Success","request_id":"2024","data":{"id":"7311","url":"https://v/1","name":"k-1.mp4","format":"MP4"}}"#,
    );
    let f = file(&ok).unwrap();
    assert_eq!((f.id.as_str(), f.format.as_str()), ("7311", "MP4"));

    let expired = answer(
        401,
        None,
        r#"{"code":105002,"message":"access token is expired, please refresh it","request_id":"r","data":null}"#,
    );
    let e = file(&expired).unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Auth, Some("105002")));
    assert!(e.is_token_refused(), "{e}");
    assert!(e.to_string().contains("please refresh it"));

    let sign = answer(
        401,
        None,
        r#"{"code":106001,"message":"Invalid credentials. The 'sign' query parameter is invalid.","request_id":"r"}"#,
    );
    let e = file(&sign).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(!e.is_token_refused());

    // A failure code under HTTP 200 is still a failure.
    let bad = answer(
        200,
        None,
        r#"{"code":36009004,"message":"The 'data' field is required."}"#,
    );
    assert_eq!(file(&bad).unwrap_err().kind(), ErrorKind::InvalidInput);
    let limited = answer(429, Some("3"), r#"{"code":36009002,"message":"slow down"}"#);
    let e = file(&limited).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    let internal = answer(200, None, r#"{"code":36009003,"message":"Internal error"}"#);
    assert_eq!(file(&internal).unwrap_err().kind(), ErrorKind::Transient);
}

#[test]
fn odd_bodies_fail_by_status_or_as_protocol_errors() {
    for (status, body, kind) in [
        (503, "<html>busy</html>", ErrorKind::Transient),
        (502, "", ErrorKind::Transient),
        (401, "nope", ErrorKind::Auth),
        (429, "null", ErrorKind::RateLimited),
        (200, "not json", ErrorKind::Protocol),
        (
            200,
            r#"{"code":0,"data":{"url":"no id"}}"#,
            ErrorKind::Protocol,
        ),
        (200, r#"{"code":0}"#, ErrorKind::Protocol),
        (200, r#"{"message":"no code"}"#, ErrorKind::Protocol),
        (200, r#"{"code":"0"}"#, ErrorKind::Protocol),
        (503, r#"{"code":0,"data":{"id":"1"}}"#, ErrorKind::Transient),
        (408, r#"{"code":0,"data":{"id":"1"}}"#, ErrorKind::Transient),
    ] {
        let e = file(&answer(status, None, body)).unwrap_err();
        assert_eq!(e.kind(), kind, "{status} {body}: {e}");
    }
}

#[test]
fn token_answers_read_timestamps_not_durations() {
    let data: wire::TokenData = serde_json::from_str(
        r#"{"access_token":"a","access_token_expire_in":1722342011,"refresh_token":"r",
            "refresh_token_expire_in":4841467787,"open_id":"o","seller_name":"s",
            "seller_base_region":"GB","user_type":0,"granted_scopes":["x"]}"#,
    )
    .unwrap();
    // Sent at 1722342011 − 604800 + 0.4 s: the expiry kept is at most the one stated.
    let sent_ms = (1_722_342_011 - 604_800) * 1000 + 400;
    let t = tokens_of(data.clone(), sent_ms).unwrap();
    assert!(t.access_expires_at_ms.unwrap() <= 1_722_342_011_000);
    assert_eq!(t.lifetime(), Some(Duration::from_secs(604_799)));
    assert!(t.refresh_expires_at_ms.unwrap() <= 4_841_467_787_000);
    // An expiry already past (a clock far ahead) is an expired token, not an overflow.
    let late = tokens_of(data, 2_000_000_000_000).unwrap();
    assert_eq!(late.lifetime(), Some(Duration::ZERO));
    let empty: wire::TokenData = serde_json::from_str("{}").unwrap();
    assert_eq!(tokens_of(empty, 0).unwrap_err().kind(), ErrorKind::Protocol);
}

// ---- The junk harness (`marketmedia_conformance::junk`) ----------------------------------

use marketmedia_conformance::junk::{
    answer_to, every_video_call, junk_source, mutation_answers, proptest_cases, typed_result,
    CancelCheck, JunkAnswer, JunkRig, VideoAnswers, VideoCalls,
};
use marketmedia_core::raw::{Part, PartPlan, PartReceipt, UploadSession};
use marketmedia_core::{ChunkedVideoUploader, Digests, ImageSource, ImageUploader};
use marketmedia_tiktok::auth::TiktokAuth;
use marketmedia_tiktok::{TiktokConfig, TiktokUploader};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Field names and values of TikTok's answers.
const KEYS: &[&str] = &[
    "code",
    "message",
    "request_id",
    "data",
    "id",
    "url",
    "uri",
    "name",
    "format",
    "width",
    "height",
    "shops",
    "cipher",
    "access_token",
    "access_token_expire_in",
    "refresh_token",
    "refresh_token_expire_in",
    "0",
    "105002",
    "36009004",
];

fn error_answer() -> Value {
    json!({"code": 36_009_004, "message": "The 'data' field is required.", "request_id": "r"})
}

fn file_ok() -> Value {
    json!({"code": 0, "message": "Success", "request_id": "r",
           "data": {"id": "7311", "url": "https://v/1", "name": "v-1.mp4", "format": "MP4"}})
}

fn image_ok() -> Value {
    json!({"code": 0, "message": "Success", "request_id": "r",
           "data": {"uri": "tos/1", "url": "https://p/1", "width": 96, "height": 64}})
}

fn shops_ok() -> Value {
    json!({"code": 0, "data": {"shops": [{"id": "1", "name": "s", "region": "MY", "cipher": "c"}]}})
}

fn tokens_ok() -> Value {
    json!({"code": 0, "data": {"access_token": "a", "access_token_expire_in": 1_900_000_000,
           "refresh_token": "r", "refresh_token_expire_in": 4_000_000_000i64, "open_id": "o"}})
}

struct Fixture {
    rig: JunkRig,
    tiktok: TiktokUploader,
    auth: TiktokAuth,
    calls: VideoCalls,
}

fn fixture() -> Fixture {
    let rig = JunkRig::start();
    let mut config = TiktokConfig::builder()
        .app_key("k")
        .app_secret("s")
        .access_token("t")
        .base_url(rig.junk.base_url())
        .build()
        .unwrap();
    config.options.timeouts.read_idle = Duration::from_secs(5);
    let tiktok = TiktokUploader::new(config).unwrap();
    let auth = TiktokAuth::new("k", "s")
        .unwrap()
        .with_auth_host(&rig.junk.base_url());
    let plan = PartPlan::new(10, tiktok.rules(), None).unwrap();
    let calls = VideoCalls {
        source: junk_source(100, Digests::default()),
        session: UploadSession {
            platform: "tiktok".into(),
            upload_id: "0123456789abcdef".into(),
            plan,
            expires_at: None,
            started_at_ms: 0,
            data: json!({"name": "v-01234567.mp4", "file_name": "v.mp4", "mime": "video/mp4"}),
        },
        handle: marketmedia_core::ProcessingHandle {
            platform: "tiktok".into(),
            id: "7311".into(),
            data: Value::Null,
        },
        part: Part::new(0, 0, bytes::Bytes::from_static(b"part bytes"), None),
        receipts: vec![PartReceipt {
            index: 0,
            wire_number: 0,
            size: 10,
            etag: Some(r#"{"id":"7311","url":"https://v/1","format":"MP4","name":"v.mp4"}"#.into()),
        }],
        cancel: CancelCheck::AfterCommit,
    };
    Fixture {
        rig,
        tiktok,
        auth,
        calls,
    }
}

fn fixture_once() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(fixture)
}

fn images() -> Vec<ImageSource> {
    vec![ImageSource::from_bytes(
        "a.jpg",
        marketmedia_sim::fixtures::decodable_jpeg(8192).unwrap(),
    )]
}

/// What `init`, `commit`, `poll` and `cancel` get: they send nothing, so any answer is moot.
fn moot() -> JunkAnswer {
    JunkAnswer::json(200, json!({}))
}

proptest! {
    #![proptest_config(proptest_cases(96))]

    #[test]
    fn every_call_survives_any_answer(
        part in answer_to(vec![file_ok(), error_answer()], KEYS),
        image in answer_to(vec![image_ok(), error_answer()], KEYS),
        shops in answer_to(vec![shops_ok(), error_answer()], KEYS),
        token in answer_to(vec![tokens_ok(), error_answer()], KEYS),
    ) {
        let f = fixture_once();
        let junk = &f.rig.junk;
        let imgs = images();
        let answers = VideoAnswers {
            init: moot(), put_part: part, commit: moot(), poll: moot(), cancel: moot(),
        };
        let requests = f.rig.rt.block_on(async {
            let n = every_video_call(junk, &f.tiktok, &f.calls, &answers).await?;
            let before = junk.requests();
            junk.always(image.clone());
            let r = f.tiktok.upload_images(&imgs).await;
            prop_assert!(r.is_ok(), "per-image results: {r:?}");
            if let Ok(per_image) = &r {
                for one in per_image {
                    typed_result("upload_images", &image, one)?;
                }
            }
            junk.always(shops.clone());
            typed_result("check_account", &shops, &f.tiktok.check_account().await)?;
            junk.always(token.clone());
            typed_result("token/get", &token, &f.auth.exchange_code("c").await)?;
            typed_result("token/refresh", &token, &f.auth.refresh(&"r".into()).await)?;
            Ok::<_, TestCaseError>(n + junk.requests() - before)
        })?;
        // The file's one request (init, commit, poll and cancel send nothing), the image,
        // the shops and the two token calls.
        prop_assert_eq!(requests, 5);
    }
}

/// Every success answer with one field changed to an edge value: a typed result, no panic.
#[test]
fn one_odd_field_anywhere_is_a_typed_result() {
    let f = fixture();
    let imgs = images();
    f.rig.rt.block_on(async {
        for answer in mutation_answers(&[file_ok()]) {
            f.rig.junk.always(answer);
            let _ = f.tiktok.put_part(&f.calls.session, &f.calls.part).await;
        }
        for answer in mutation_answers(&[image_ok()]) {
            f.rig.junk.always(answer);
            let _ = f.tiktok.upload_images(&imgs).await;
        }
        for answer in mutation_answers(&[tokens_ok()]) {
            f.rig.junk.always(answer);
            let _ = f.auth.exchange_code("c").await;
        }
    });
}
