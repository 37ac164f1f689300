//! Shopee's decoders never panic: every public call, pointed at a server answering junk
//! (arbitrary bytes, arbitrary JSON, and variations of Shopee's real answers with fields of
//! random types), returns `Ok` or a typed `Err`, and an error status is never `Ok`.

use std::time::Duration;

use marketmedia_conformance::junk::{answer_to, single_mutations, JunkAnswer, JunkServer};
use marketmedia_core::raw::{Part, PartPlan, PartReceipt, SourceInfo, UploadSession};
use marketmedia_core::{
    ChunkedVideoUploader, Digests, ImageSource, ImageUploader, MediaFormat, ProcessingHandle,
};
use marketmedia_shopee::{ShopeeConfig, ShopeeUploader};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Field names and enumerated values of Shopee's answers.
const KEYS: &[&str] = &[
    "error",
    "message",
    "warning",
    "request_id",
    "response",
    "video_upload_id",
    "status",
    "video_info",
    "video_url_list",
    "video_url",
    "video_url_region",
    "thumbnail_url_list",
    "image_url",
    "image_url_region",
    "duration",
    "image_info_list",
    "image_info",
    "image_id",
    "image_url_list",
    "id",
    "SUCCEEDED",
    "FAILED",
    "TRANSCODING",
    "error_param",
    "error_auth",
];

fn error_answer() -> Value {
    json!({"error": "error_param", "message": "bad part", "request_id": "r1", "response": {}})
}

fn answers(success: Value) -> impl Strategy<Value = JunkAnswer> {
    answer_to(vec![success, error_answer()], KEYS)
}

fn init_answer() -> impl Strategy<Value = JunkAnswer> {
    answers(json!({"error": "", "message": "", "request_id": "r",
        "response": {"video_upload_id": "sg_1_2_000000"}}))
}

fn empty_answer() -> impl Strategy<Value = JunkAnswer> {
    answers(json!({"error": "", "message": "", "warning": "", "request_id": "r", "response": {}}))
}

fn ready_answer() -> Value {
    json!({"error": "", "request_id": "r", "response": {
        "status": "SUCCEEDED",
        "message": "",
        "video_info": {
            "video_url_list": [{"video_url_region": "SG", "video_url": "https://v/1"}],
            "thumbnail_url_list": [{"image_url_region": "SG", "image_url": "https://i/1"}],
            "duration": 25
        }
    }})
}

fn poll_answer() -> impl Strategy<Value = JunkAnswer> {
    let ready = ready_answer();
    let failed = json!({"error": "", "response": {"status": "FAILED", "message": "too short"}});
    answer_to(vec![ready, failed, error_answer()], KEYS)
}

fn image_list_answer() -> Value {
    json!({"error": "", "request_id": "r", "response": {"image_info_list": [
        {"id": 0, "error": "", "message": "", "image_info": {"image_id": "a",
            "image_url_list": [{"image_url_region": "SG", "image_url": "https://i/a"}]}},
        {"id": 1, "error": "error_image", "message": "too big"}
    ]}})
}

fn image_answer() -> impl Strategy<Value = JunkAnswer> {
    let list = image_list_answer();
    let single = json!({"error": "", "response": {"image_info": {"image_id": "b",
        "image_url_list": [{"image_url_region": "SG", "image_url": "https://i/b"}]}}});
    answer_to(vec![list, single, error_answer()], KEYS)
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    junk: JunkServer,
    shopee: ShopeeUploader,
    source: SourceInfo,
    session: UploadSession,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let junk = rt.block_on(JunkServer::start()).unwrap();
    let mut config =
        ShopeeConfig::new(1, "partner-key", 2, "access-token").with_base_url(junk.base_url());
    config.timeouts.read_idle = Duration::from_secs(5);
    let shopee = ShopeeUploader::new(config).unwrap();
    let size = 5 * 1024 * 1024;
    let source = SourceInfo {
        file_name: "v.mp4".into(),
        size,
        format: MediaFormat::Mp4,
        duration: Some(Duration::from_secs(20)),
        digests: Digests {
            size,
            md5: Some([7; 16]),
            ..Digests::default()
        },
    };
    let plan = PartPlan::new(size, shopee.rules(), None).unwrap();
    let session = UploadSession {
        platform: "shopee".into(),
        upload_id: "sg_1_2_000000".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: json!({"file_md5": "07070707070707070707070707070707"}),
    };
    Fixture {
        rt,
        junk,
        shopee,
        source,
        session,
    }
}

fn is_success(a: &JunkAnswer) -> bool {
    (200..300).contains(&a.status)
}

/// An error status must never come back as `Ok`.
fn check<T: std::fmt::Debug>(
    call: &str,
    answer: &JunkAnswer,
    result: &marketmedia_core::Result<T>,
) -> Result<(), TestCaseError> {
    if let Err(err) = result {
        // Display and Debug of every error must work too.
        let _ = (err.to_string(), format!("{err:?}"));
    }
    prop_assert!(
        is_success(answer) || result.is_err(),
        "{call}: HTTP {} gave {:?}",
        answer.status,
        result
    );
    Ok(())
}

/// `cases` cases, unless `PROPTEST_CASES` asks for another number (a longer fuzzing run).
fn cases(cases: u32) -> ProptestConfig {
    match std::env::var("PROPTEST_CASES") {
        Ok(_) => ProptestConfig::default(),
        Err(_) => ProptestConfig::with_cases(cases),
    }
}

proptest! {
    #![proptest_config(cases(96))]

    #[test]
    fn every_call_survives_any_answer(
        init in init_answer(),
        part in empty_answer(),
        commit in empty_answer(),
        poll in poll_answer(),
        cancel in empty_answer(),
        images in image_answer(),
    ) {
        let f = fixture_once();
        let before = f.junk.requests();
        let s = &f.shopee;
        let part0 = Part::new(0, 0, bytes::Bytes::from_static(b"part bytes"), None);
        let receipts = vec![PartReceipt { index: 0, wire_number: 0, size: 10, etag: None }];
        let handle = ProcessingHandle {
            platform: "shopee".into(),
            id: f.session.upload_id.clone(),
            data: Value::Null,
        };
        let imgs = vec![
            ImageSource::from_bytes("a.jpg", marketmedia_sim::fixtures::sample_jpeg(64)),
            ImageSource::from_bytes("b.png", marketmedia_sim::fixtures::sample_png(64)),
        ];
        f.rt.block_on(async {
            f.junk.always(init.clone());
            let r = s.init(&f.source, &f.session.plan).await;
            check("init", &init, &r)?;
            f.junk.always(part.clone());
            let r = s.put_part(&f.session, &part0).await;
            check("put_part", &part, &r)?;
            f.junk.always(commit.clone());
            let r = s.commit(&f.session, &receipts).await;
            check("commit", &commit, &r)?;
            f.junk.always(poll.clone());
            let r = s.poll(&handle).await;
            check("poll", &poll, &r)?;
            f.junk.always(cancel.clone());
            let r = s.cancel(&f.session).await;
            check("cancel", &cancel, &r)?;
            f.junk.always(images.clone());
            let r = s.upload_images(&imgs).await;
            check("upload_images", &images, &r)?;
            if let Ok(per_image) = &r {
                prop_assert_eq!(per_image.len(), imgs.len());
            }
            Ok(())
        })?;
        prop_assert_eq!(f.junk.requests() - before, 6);
    }
}

/// One runtime, server and uploader for every case (a fresh runtime per case costs more
/// than the case).
fn fixture_once() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(fixture)
}

#[test]
fn a_stalled_answer_is_a_typed_timeout() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let junk = JunkServer::start().await.unwrap();
        junk.always(JunkAnswer::new(200, "{}").with_delay(Duration::from_secs(5)));
        let mut config = ShopeeConfig::new(1, "k", 2, "t").with_base_url(junk.base_url());
        config.timeouts.read_idle = Duration::from_millis(100);
        let shopee = ShopeeUploader::new(config).unwrap();
        let handle = ProcessingHandle {
            platform: "shopee".into(),
            id: "x".into(),
            data: Value::Null,
        };
        let err = shopee.poll(&handle).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
    });
}

/// Every answer of poll and image upload with one field changed to an edge value.
#[test]
fn one_odd_field_anywhere_is_a_typed_result() {
    let f = fixture();
    let handle = ProcessingHandle {
        platform: "shopee".into(),
        id: "x".into(),
        data: Value::Null,
    };
    let imgs = vec![
        ImageSource::from_bytes("a.jpg", marketmedia_sim::fixtures::sample_jpeg(64)),
        ImageSource::from_bytes("b.png", marketmedia_sim::fixtures::sample_png(64)),
    ];
    let f = &f;
    f.rt.block_on(async {
        for body in single_mutations(&ready_answer()) {
            f.junk.always(JunkAnswer::json(200, body));
            let _ = f.shopee.poll(&handle).await;
        }
        for body in single_mutations(&image_list_answer()) {
            f.junk.always(JunkAnswer::json(200, body));
            let _ = f.shopee.upload_images(&imgs).await;
        }
    });
}
