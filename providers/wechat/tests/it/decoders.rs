//! WeChat's decoders never panic: every public call, pointed at a server answering junk
//! (arbitrary bytes, arbitrary JSON, and variations of WeChat's real answers with fields of
//! random types), returns `Ok` or a typed `Err`, and an error status is never `Ok`.

use std::time::Duration;

use marketmedia_conformance::junk::{
    answer_to, assert_stalled_poll_is_retryable, every_video_call, junk_source, mutation_answers,
    proptest_cases, typed_result, CancelCheck, JunkAnswer, JunkRig, VideoAnswers, VideoCalls,
};
use marketmedia_core::raw::{Part, PartPlan, PartReceipt, UploadSession};
use marketmedia_core::{
    ChunkedVideoUploader, Digests, ImageSource, ImageUploader, ProcessingHandle,
};
use marketmedia_wechat::{WechatConfig, WechatUploader};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Field names and values of WeChat's answers.
const KEYS: &[&str] = &[
    "errcode",
    "errmsg",
    "data",
    "video_upload_key",
    "part_sha",
    "url",
    "pic_file",
    "media_id",
    "pay_media_id",
    "img_url",
    "access_token",
    "expires_in",
    "0",
    "-1",
    "40001",
    "42001",
    "10020342",
];

fn error_answer() -> Value {
    json!({"errcode": 10_020_055, "errmsg": "参数有误 rid: 1-2-3"})
}

fn answers(success: Value) -> impl Strategy<Value = JunkAnswer> {
    answer_to(vec![success, error_answer()], KEYS)
}

/// SHA-1 of the fixture's part, `b"part bytes"`.
const PART_SHA: &str = "5f65a91c5a2487fe0d6d8a43b969cbea867cf8b2";

fn ready_answer() -> Value {
    json!({"errcode": 0, "errmsg": "", "data": {"url": "https://173.wxapp.tc.qq.com/v.mp4"}})
}

fn image_ok() -> Value {
    json!({"errcode": 0, "errmsg": "ok", "pic_file": {"img_url": "https://mmecimage.cn/p/a/b"}})
}

struct Fixture {
    rig: JunkRig,
    wechat: WechatUploader,
    calls: VideoCalls,
}

fn handle() -> ProcessingHandle {
    ProcessingHandle {
        platform: "wechat".into(),
        id: "vuk_1".into(),
        data: Value::Null,
    }
}

fn fixture() -> Fixture {
    let rig = JunkRig::start();
    // A given token: no token call, so every call is one request.
    let mut config = WechatConfig::builder()
        .access_token("access-token")
        .base_url(rig.junk.base_url())
        .build()
        .unwrap();
    config.options.timeouts.read_idle = Duration::from_secs(5);
    let wechat = WechatUploader::new(config).unwrap();
    let plan = PartPlan::new(10, wechat.rules(), None).unwrap();
    let session = UploadSession {
        platform: "wechat".into(),
        upload_id: "vuk_1".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: Value::Null,
    };
    let calls = VideoCalls {
        source: junk_source(10, Digests::default()),
        handle: handle(),
        session,
        part: Part::new(0, 0, bytes::Bytes::from_static(b"part bytes"), None),
        receipts: vec![PartReceipt {
            index: 0,
            wire_number: 1,
            size: 10,
            etag: Some(PART_SHA.into()),
        }],
        cancel: CancelCheck::AfterCommit,
    };
    Fixture { rig, wechat, calls }
}

fn fixture_once() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(fixture)
}

fn images() -> Vec<ImageSource> {
    vec![
        ImageSource::from_bytes("a.jpg", real_jpeg()),
        ImageSource::from_bytes("b.png", real_png()),
    ]
}

proptest! {
    #![proptest_config(proptest_cases(96))]

    #[test]
    fn every_call_survives_any_answer(
        init in answers(json!({"errcode": 0, "errmsg": "", "data": {"video_upload_key": "vuk_1"}})),
        part in answers(json!({"errcode": 0, "errmsg": "", "data": {"part_sha": PART_SHA}})),
        commit in answers(json!({"errcode": 0, "errmsg": ""})),
        poll in answer_to(vec![ready_answer(), json!({"errcode": 0, "data": {}}), error_answer()], KEYS),
        image in answer_to(vec![image_ok(), error_answer()], KEYS),
    ) {
        let f = fixture_once();
        let junk = &f.rig.junk;
        let imgs = images();
        let answers = VideoAnswers { init, put_part: part, commit, poll, cancel: error_answer_junk() };
        let requests = f.rig.rt.block_on(async {
            let n = every_video_call(junk, &f.wechat, &f.calls, &answers).await?;
            let before = junk.requests();
            junk.always(image.clone());
            let r = f.wechat.upload_images(&imgs).await;
            prop_assert!(r.is_ok(), "per-image results, the call itself is local: {r:?}");
            if let Ok(per_image) = &r {
                prop_assert_eq!(per_image.len(), imgs.len());
                for one in per_image {
                    typed_result("upload_images", &image, one)?;
                }
            }
            Ok::<_, TestCaseError>(n + junk.requests() - before)
        })?;
        // init, part, finish, poll; cancel sends nothing; one call per image.
        prop_assert_eq!(requests, 6);
    }
}

fn error_answer_junk() -> JunkAnswer {
    JunkAnswer::json(200, error_answer())
}

#[test]
fn a_stalled_answer_is_a_typed_timeout() {
    assert_stalled_poll_is_retryable(
        |base, read_idle| {
            let mut config = WechatConfig::builder()
                .access_token("t")
                .base_url(base)
                .build()
                .unwrap();
            config.options.timeouts.read_idle = read_idle;
            WechatUploader::new(config).unwrap()
        },
        &handle(),
    );
}

/// Every answer of poll and image upload with one field changed to an edge value.
#[test]
fn one_odd_field_anywhere_is_a_typed_result() {
    let f = fixture();
    let imgs = images();
    f.rig.rt.block_on(async {
        for answer in mutation_answers(&[ready_answer()]) {
            f.rig.junk.always(answer);
            let _ = f.wechat.poll(&handle()).await;
        }
        for answer in mutation_answers(&[image_ok()]) {
            f.rig.junk.always(answer);
            let _ = f.wechat.upload_images(&imgs).await;
        }
    });
}

/// A part whose answered `part_sha` is not the SHA-1 of the bytes sent is `Corrupted` (the
/// driver sends it again); a commit without every part's receipt sends nothing.
#[test]
fn a_wrong_part_sha_is_corrupted_and_an_incomplete_commit_is_local() {
    let f = fixture();
    f.rig.rt.block_on(async {
        f.rig.junk.always(JunkAnswer::json(
            200,
            json!({"errcode": 0, "data": {"part_sha": "00"}}),
        ));
        let err = f
            .wechat
            .put_part(&f.calls.session, &f.calls.part)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), marketmedia_core::ErrorKind::Corrupted, "{err}");
        let before = f.rig.junk.requests();
        let err = f.wechat.commit(&f.calls.session, &[]).await.unwrap_err();
        assert_eq!(err.kind(), marketmedia_core::ErrorKind::InvalidInput);
        let mut past = Part::new(1, 10, bytes::Bytes::from_static(b"x"), None);
        past.index = 1;
        let err = f
            .wechat
            .put_part(&f.calls.session, &past)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), marketmedia_core::ErrorKind::InvalidInput);
        assert_eq!(f.rig.junk.requests(), before, "refused before any request");
    });
}

/// A real 8 × 8 JPEG (the fixtures' samples carry no frame header, so no dimensions).
fn real_jpeg() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(8, 8)
        .write_to(&mut out, image::ImageOutputFormat::Jpeg(80))
        .unwrap();
    out.into_inner()
}

/// A real 8 × 8 PNG.
fn real_png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(8, 8)
        .write_to(&mut out, image::ImageOutputFormat::Png)
        .unwrap();
    out.into_inner()
}
