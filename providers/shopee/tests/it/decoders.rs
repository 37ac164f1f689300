//! Shopee's decoders never panic: every public call, pointed at a server answering junk
//! (arbitrary bytes, arbitrary JSON, and variations of Shopee's real answers with fields of
//! random types), returns `Ok` or a typed `Err`, and an error status is never `Ok`. The
//! harness is `marketmedia_conformance::junk`; here are Shopee's answers, keys and calls.

use std::time::Duration;

use marketmedia_conformance::junk::{
    answer_to, assert_stalled_poll_is_retryable, every_video_call, junk_source, mutation_answers,
    proptest_cases, typed_result, CancelCheck, JunkAnswer, JunkRig, TypedResults, VideoAnswers,
    VideoCalls,
};
use marketmedia_core::raw::{Part, PartPlan, PartReceipt, UploadSession};
use marketmedia_core::{
    ChunkedVideoUploader, Digests, ErrorKind, ImageSource, ImageUploader, ProcessingHandle,
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
    rig: JunkRig,
    shopee: ShopeeUploader,
    calls: VideoCalls,
}

fn handle(id: &str) -> ProcessingHandle {
    ProcessingHandle {
        platform: "shopee".into(),
        id: id.into(),
        data: Value::Null,
    }
}

fn fixture() -> Fixture {
    let rig = JunkRig::start();
    let mut config = ShopeeConfig::builder()
        .partner_id(1)
        .partner_key("partner-key")
        .shop_id(2)
        .access_token("access-token")
        .base_url(rig.junk.base_url())
        .build()
        .unwrap();
    config.options.timeouts.read_idle = Duration::from_secs(5);
    let shopee = ShopeeUploader::new(config).unwrap();
    let size = 5 * 1024 * 1024;
    let source = junk_source(
        size,
        Digests {
            md5: Some([7; 16]),
            ..Digests::default()
        },
    );
    let plan = PartPlan::new(size, shopee.rules(), None).unwrap();
    let session = UploadSession {
        platform: "shopee".into(),
        upload_id: "sg_1_2_000000".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: json!({"file_md5": "07070707070707070707070707070707"}),
    };
    let calls = VideoCalls {
        source,
        handle: handle(&session.upload_id),
        session,
        part: Part::new(0, 0, bytes::Bytes::from_static(b"part bytes"), None),
        receipts: vec![PartReceipt {
            index: 0,
            wire_number: 0,
            size: 10,
            etag: None,
        }],
        cancel: CancelCheck::Always,
    };
    Fixture { rig, shopee, calls }
}

/// One runtime, server and uploader for every case (a fresh runtime per case costs more
/// than the case).
fn fixture_once() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(fixture)
}

fn images() -> Vec<ImageSource> {
    vec![
        ImageSource::from_bytes("a.jpg", marketmedia_sim::fixtures::sample_jpeg(64)),
        ImageSource::from_bytes("b.png", marketmedia_sim::fixtures::sample_png(64)),
    ]
}

proptest! {
    #![proptest_config(proptest_cases(96))]

    #[test]
    fn every_call_survives_any_answer(
        init in init_answer(),
        part in empty_answer(),
        commit in empty_answer(),
        poll in poll_answer(),
        cancel in empty_answer(),
        images_a in image_answer(),
    ) {
        let f = fixture_once();
        let junk = &f.rig.junk;
        let imgs = images();
        let answers = VideoAnswers { init, put_part: part, commit, poll, cancel };
        let requests = f.rig.rt.block_on(async {
            let n = every_video_call(junk, &f.shopee, &f.calls, &answers).await?;
            let before = junk.requests();
            junk.always(images_a.clone());
            let r = f.shopee.upload_images(&imgs).await;
            typed_result("upload_images", &images_a, &r)?;
            if let Ok(per_image) = &r {
                prop_assert_eq!(per_image.len(), imgs.len());
            }
            Ok::<_, TestCaseError>(n + junk.requests() - before)
        })?;
        prop_assert_eq!(requests, 6);
    }
}

#[test]
fn a_stalled_answer_is_a_typed_timeout() {
    assert_stalled_poll_is_retryable(
        |base, read_idle| {
            let mut config = ShopeeConfig::builder()
                .partner_id(1)
                .partner_key("k")
                .shop_id(2)
                .access_token("t")
                .base_url(base)
                .build()
                .unwrap();
            config.options.timeouts.read_idle = read_idle;
            ShopeeUploader::new(config).unwrap()
        },
        &handle("x"),
    );
}

/// What an HTTP 200 answer with one odd field may end in besides `Ok`: `Protocol` (an
/// answer the provider could not understand) or, where the field changed is the envelope's
/// `error`, the kind of the error code it now carries.
const ODD_FIELD_KINDS: &[ErrorKind] = &[ErrorKind::Protocol, ErrorKind::Rejected];

/// Every answer of poll and image upload with one field changed to an edge value: each
/// result is `Ok` or a typed error of the expected kinds.
#[test]
fn one_odd_field_anywhere_is_a_typed_result() {
    let f = fixture();
    let handle = handle("x");
    let imgs = images();
    let mut results = TypedResults::default();
    f.rig.rt.block_on(async {
        for answer in mutation_answers(&[ready_answer()]) {
            f.rig.junk.always(answer.clone());
            let r = f.shopee.poll(&handle).await;
            results.check("poll", &answer, &r, ODD_FIELD_KINDS);
        }
        for answer in mutation_answers(&[image_list_answer()]) {
            f.rig.junk.always(answer.clone());
            let r = f.shopee.upload_images(&imgs).await;
            results.check("upload_images", &answer, &r, ODD_FIELD_KINDS);
            for per_image in r.iter().flatten() {
                results.check(
                    "upload_images (one image)",
                    &answer,
                    per_image,
                    ODD_FIELD_KINDS,
                );
            }
        }
    });
    results.assert_typed();
}
