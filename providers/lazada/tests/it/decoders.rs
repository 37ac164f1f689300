//! Lazada's decoders never panic: every public call, pointed at a server answering junk
//! (arbitrary bytes, arbitrary JSON, and variations of Lazada's real answers with fields of
//! random types), returns `Ok` or a typed `Err`, and an error status is never `Ok`. The
//! harness is `marketmedia_conformance::junk`; here are Lazada's answers, keys and calls.

use std::time::Duration;

use marketmedia_conformance::junk::{
    answer_to, every_video_call, junk_source, mutation_answers, proptest_cases, typed_result,
    video_call_results, CancelCheck, JunkAnswer, JunkRig, TypedResults, VideoAnswers, VideoCalls,
};
use marketmedia_core::raw::{Part, PartPlan, PartReceipt, UploadSession};
use marketmedia_core::{
    ChunkedVideoUploader, Digests, ErrorKind, ImageSource, ImageUploader, ProcessingHandle,
};
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Field names and enumerated values of Lazada's answers.
const KEYS: &[&str] = &[
    "code",
    "type",
    "message",
    "success",
    "result_code",
    "result_message",
    "request_id",
    "upload_id",
    "e_tag",
    "video_id",
    "state",
    "video_url",
    "cover_url",
    "title",
    "capacity_size",
    "used_size",
    "data",
    "image",
    "url",
    "hash_code",
    "0",
    "AUDIT_SUCCESS",
    "TRANSCODING",
    "AUDIT_FAILED",
    "IncompleteSignature",
    "FAIL_TO_UPLOAD_BLOCK",
];

/// The MD5 of the part the test sends, as Lazada's eTag would carry it.
const PART: &[u8] = b"part bytes";

fn ok(fields: Value) -> Value {
    let mut env = json!({"code": "0", "success": true, "result_code": "", "result_message": "",
        "request_id": "r1"});
    if let (Value::Object(env), Value::Object(fields)) = (&mut env, fields) {
        env.extend(fields);
    }
    env
}

fn failures() -> Vec<Value> {
    vec![
        json!({"code": "IncompleteSignature", "type": "ISV", "message": "bad", "request_id": "r"}),
        json!({"code": "0", "success": false, "result_code": "FAIL_TO_UPLOAD_BLOCK",
            "result_message": "no"}),
    ]
}

fn answers(success: Value) -> impl Strategy<Value = JunkAnswer> {
    let mut all = vec![success];
    all.extend(failures());
    answer_to(all, KEYS)
}

fn quota() -> Value {
    ok(json!({"capacity_size": 10737418240u64, "used_size": 0}))
}
fn init() -> Value {
    ok(json!({"upload_id": "670A"}))
}
fn block() -> Value {
    ok(json!({"e_tag": format!("{:X}", md5_of(PART))}))
}
fn commit() -> Value {
    ok(json!({"video_id": "v1"}))
}
fn video() -> Value {
    ok(
        json!({"state": "AUDIT_SUCCESS", "video_url": "https://v/1", "cover_url": "https://c/1",
        "title": "t"}),
    )
}
fn image() -> Value {
    ok(json!({"data": {"image": {"url": "https://i/1", "hash_code": "h"}}}))
}

fn md5_of(data: &[u8]) -> u128 {
    u128::from_be_bytes(marketmedia_core::raw::md5(data))
}

struct Fixture {
    rig: JunkRig,
    lazada: LazadaUploader,
    calls: VideoCalls,
}

fn fixture() -> Fixture {
    let rig = JunkRig::start();
    let mut config = LazadaConfig::builder()
        .app_key("100132")
        .app_secret("app-secret")
        .access_token("access-token")
        .region(Region::Sg)
        .base_url(rig.junk.base_url())
        .build()
        .unwrap();
    config.options.timeouts.read_idle = Duration::from_secs(5);
    let lazada = LazadaUploader::new(config).unwrap();
    let size = 5 * 1024 * 1024;
    let source = junk_source(size, Digests::default());
    let plan = PartPlan::new(size, lazada.rules(), None).unwrap();
    let session = UploadSession {
        platform: "lazada".into(),
        upload_id: "670A".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: json!({"file_name": "v.mp4", "title": "Kettle", "cover_url": "https://c/cover.png",
            "video_usage": "pro_main_video"}),
    };
    let calls = VideoCalls {
        source,
        receipts: receipts(&session.plan),
        session,
        part: Part::new(0, 0, bytes::Bytes::from_static(PART), None),
        handle: ProcessingHandle {
            platform: "lazada".into(),
            id: "v1".into(),
            data: Value::Null,
        },
        // Cancelling an uncommitted upload sends nothing (Lazada has no abort call).
        cancel: CancelCheck::AfterCommit,
    };
    Fixture { rig, lazada, calls }
}

fn fixture_once() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(fixture)
}

fn receipts(plan: &PartPlan) -> Vec<PartReceipt> {
    (0..plan.count())
        .map(|i| PartReceipt {
            index: i,
            wire_number: i,
            size: 1,
            etag: Some("AB".into()),
        })
        .collect()
}

fn image_source() -> ImageSource {
    ImageSource::from_bytes("a.jpg", marketmedia_sim::fixtures::sample_jpeg(64))
}

proptest! {
    #![proptest_config(proptest_cases(96))]

    #[test]
    fn every_call_survives_any_answer(
        quota_a in answers(quota()),
        init_a in answers(init()),
        block_a in answers(block()),
        commit_a in answers(commit()),
        video_a in answers(video()),
        remove_a in answers(ok(json!({}))),
        image_a in answers(image()),
        migrate_a in answers(image()),
    ) {
        let f = fixture_once();
        let junk = &f.rig.junk;
        let before = junk.requests();
        let l = &f.lazada;
        let img = image_source();
        let answers = VideoAnswers {
            init: init_a,
            put_part: block_a,
            commit: commit_a,
            poll: video_a,
            cancel: remove_a,
        };
        f.rig.rt.block_on(async {
            junk.always(quota_a.clone());
            typed_result("quota", &quota_a, &l.quota().await)?;
            typed_result("preflight", &quota_a, &l.preflight(&f.calls.source).await)?;
            every_video_call(junk, l, &f.calls, &answers).await?;
            junk.always(image_a.clone());
            typed_result("upload_image", &image_a, &l.upload_image(&img).await)?;
            let batch = l.upload_images(std::slice::from_ref(&img)).await;
            prop_assert!(batch.is_ok_and(|r| r.len() == 1));
            junk.always(migrate_a.clone());
            typed_result("migrate_image", &migrate_a, &l.migrate_image("https://e/x.jpg").await)?;
            Ok(())
        })?;
        prop_assert!(junk.requests() - before >= 8);
    }
}

/// What an HTTP 200 success answer with one odd field may end in besides `Ok`: `Protocol`
/// (an answer the provider could not understand), `Rejected` (a field that now reads as a
/// failed envelope, or a value the provider checks and refuses) or, for `put_part` only,
/// `Transient`: the junk server answers before it reads the 5 MiB block, so the connection
/// may be cut under the request (a transport error, seen 96 times in 7,469 results).
const ODD_SUCCESS_KINDS: &[ErrorKind] = &[ErrorKind::Protocol, ErrorKind::Rejected];

/// `put_part`'s kinds: [`ODD_SUCCESS_KINDS`] or [`ODD_FAILURE_KINDS`], and `Transient`.
fn with_transient(kinds: &[ErrorKind]) -> Vec<ErrorKind> {
    let mut all = kinds.to_vec();
    all.push(ErrorKind::Transient);
    all
}

/// What a failure envelope with one odd field may end in: the kinds its codes map to, or
/// `Protocol`; never `Ok`.
const ODD_FAILURE_KINDS: &[ErrorKind] =
    &[ErrorKind::Protocol, ErrorKind::Rejected, ErrorKind::Auth];

/// Every answer with one field changed to an edge value, for every call: each result is `Ok`
/// or a typed error of the expected kinds.
#[test]
fn one_odd_field_anywhere_is_a_typed_result() {
    let f = fixture();
    let l = &f.lazada;
    let img = image_source();
    let successes = vec![quota(), init(), block(), commit(), video(), image()];
    let mut results = TypedResults::default();
    f.rig.rt.block_on(async {
        for (templates, kinds) in [
            (successes, ODD_SUCCESS_KINDS),
            (failures(), ODD_FAILURE_KINDS),
        ] {
            for answer in mutation_answers(&templates) {
                f.rig.junk.always(answer.clone());
                let r = l.preflight(&f.calls.source).await;
                results.check("preflight", &answer, &r, kinds);
                let calls = video_call_results(
                    &f.rig.junk,
                    l,
                    &f.calls,
                    &VideoAnswers::all(answer.clone()),
                )
                .await;
                for (call, r) in calls {
                    if call == "put_part" {
                        results.check(call, &answer, &r, &with_transient(kinds));
                    } else {
                        results.check(call, &answer, &r, kinds);
                    }
                }
                let r = l.upload_image(&img).await;
                results.check("upload_image", &answer, &r, kinds);
                let r = l.migrate_image("https://e/x.jpg").await;
                results.check("migrate_image", &answer, &r, kinds);
            }
        }
    });
    results.assert_typed();
}
