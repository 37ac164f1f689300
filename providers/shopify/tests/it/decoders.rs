//! Shopify's answers decoded: HTTP refusals, GraphQL request-level errors (the throttle with
//! its wait from `extensions.cost`), user errors, media and file states, the staged host's XML
//! codes, OAuth refusals; malformed bodies of every call are typed errors, never a panic.

use std::time::Duration;

use marketmedia_core::raw::http::{CallMeta, RawResponse};
use marketmedia_core::raw::{ErrorKind, ProcessingStatus};
use marketmedia_shopify::{auth, decode_graphql, http_ok, status_of, wire};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

const META: CallMeta<'static> = CallMeta {
    platform: "shopify",
    call: "stagedUploadsCreate",
    part: None,
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

#[test]
fn http_refusals_become_typed_errors() {
    let token = answer(
        401,
        None,
        r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#,
    );
    let e = http_ok(&token, &META).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.is_token_refused());
    assert!(e.to_string().contains("Invalid API key"), "{e}");
    for (status, kind) in [
        (402, ErrorKind::Rejected),
        (403, ErrorKind::Auth),
        (404, ErrorKind::NotFound),
        (423, ErrorKind::Rejected),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::Transient),
        (503, ErrorKind::Transient),
    ] {
        let e = http_ok(&answer(status, Some("2"), "<html>oops</html>"), &META).unwrap_err();
        assert_eq!(e.kind(), kind, "{status}");
        assert_eq!(e.http_status(), Some(status));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    }
}

#[test]
fn graphql_errors_come_before_data() {
    let throttled = answer(
        200,
        None,
        r#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"extensions":{"cost":{"requestedQueryCost":202,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":118,"restoreRate":50.0}}}}"#,
    );
    let e = decode_graphql::<wire::StagedUploadsData>(&throttled, &META).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.code(), Some("THROTTLED"));
    assert_eq!(e.retry_after(), Some(Duration::from_millis(1680)));
    // "Throttled" alone, as the rate limits page quotes it.
    let bare = answer(200, None, r#"{"errors":[{"message":"Throttled"}]}"#);
    assert_eq!(
        decode_graphql::<wire::StagedUploadsData>(&bare, &META)
            .unwrap_err()
            .kind(),
        ErrorKind::RateLimited
    );
    let denied = answer(
        200,
        None,
        r#"{"data":null,"errors":[{"message":"Access denied for stagedUploadsCreate field.","extensions":{"code":"ACCESS_DENIED"}}]}"#,
    );
    assert_eq!(
        decode_graphql::<wire::StagedUploadsData>(&denied, &META)
            .unwrap_err()
            .kind(),
        ErrorKind::Auth
    );
    let syntax = answer(
        200,
        None,
        r#"{"errors":[{"message":"Parse error on \"}\" (RCURLY) at [1, 20]","locations":[{"line":1,"column":20}]}]}"#,
    );
    assert_eq!(
        decode_graphql::<wire::StagedUploadsData>(&syntax, &META)
            .unwrap_err()
            .kind(),
        ErrorKind::Protocol
    );
}

#[test]
fn malformed_answers_are_protocol_errors() {
    for body in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"data":null}"#,
        r#"{"data":{"stagedUploadsCreate":{"stagedTargets":"nope"}}}"#,
        r#"{"data":{"stagedUploadsCreate":{"stagedTargets":[{"url":7}]}}}"#,
        r#"{"errors":{"odd":true}}"#,
        "\u{0}\u{1}",
    ] {
        let raw = answer(200, None, body);
        let got = decode_graphql::<wire::StagedUploadsData>(&raw, &META);
        let e = got.expect_err(body);
        assert!(
            matches!(e.kind(), ErrorKind::Protocol),
            "{body:?}: {:?} {e}",
            e.kind()
        );
    }
    // Odd but decodable: no targets at all is left to the caller (a protocol error there).
    let empty = answer(
        200,
        None,
        r#"{"data":{"stagedUploadsCreate":{"stagedTargets":null,"userErrors":[]}}}"#,
    );
    assert!(decode_graphql::<wire::StagedUploadsData>(&empty, &META).is_ok());
}

fn node(json: serde_json::Value) -> wire::MediaNode {
    serde_json::from_value(json).unwrap()
}

#[test]
fn media_and_file_states_map_to_processing_statuses() {
    let ready = node(
        serde_json::json!({"id": "gid://shopify/Video/1", "status": "READY",
        "sources": [{"url": "https://cdn/x.mp4", "mimeType": "video/mp4"}],
        "preview": {"image": {"url": "https://cdn/x.jpg"}}, "duration": 12000}),
    );
    match status_of(ready, "product") {
        ProcessingStatus::Ready(a) => {
            assert_eq!(a.id, "gid://shopify/Video/1");
            assert_eq!(a.urls[0].url, "https://cdn/x.mp4");
            assert_eq!(a.thumbnails[0].url, "https://cdn/x.jpg");
            assert_eq!(a.duration, Some(Duration::from_secs(12)));
        }
        other => panic!("{other:?}"),
    }
    let failed = node(
        serde_json::json!({"id": "gid://shopify/Video/2", "fileStatus": "FAILED",
        "fileErrors": [{"code": "VIDEO_VALIDATION_ERROR", "message": "bad", "details": "codec"}]}),
    );
    match status_of(failed, "files") {
        ProcessingStatus::Failed { state, reason } => {
            assert_eq!(state, "FAILED");
            assert!(reason.contains("VIDEO_VALIDATION_ERROR") && reason.contains("codec"));
        }
        other => panic!("{other:?}"),
    }
    for (json, stage) in [
        (
            serde_json::json!({"id": "v", "status": "UPLOADED"}),
            "UPLOADED",
        ),
        (
            serde_json::json!({"id": "v", "status": "PROCESSING"}),
            "PROCESSING",
        ),
        (serde_json::json!({"id": "v"}), "UNKNOWN"),
    ] {
        assert_eq!(
            status_of(node(json), "product"),
            ProcessingStatus::Pending {
                stage: stage.into()
            }
        );
    }
}

#[test]
fn staged_xml_and_oauth_refusals() {
    let xml =
        "<?xml version='1.0'?><Error><Code>EntityTooLarge</Code><Message>too big</Message></Error>";
    assert_eq!(wire::xml_error_code(xml), Some("EntityTooLarge"));
    assert_eq!(wire::xml_error_message(xml), Some("too big"));
    assert_eq!(wire::xml_error_code("<Error><Code></Code>"), None);
    assert_eq!(wire::xml_error_code("no xml"), None);
    let meta = CallMeta {
        platform: "shopify",
        call: "refresh_token",
        part: None,
    };
    let grant = answer(
        400,
        None,
        r#"{"error":"invalid_grant","error_description":"refresh token retired"}"#,
    );
    let e = auth::oauth_error(&grant, &meta);
    assert_eq!(e.kind(), ErrorKind::Reauthorize);
    assert_eq!(e.code(), Some("invalid_grant"));
    let client = answer(401, None, r#"{"error":"invalid_client"}"#);
    assert_eq!(auth::oauth_error(&client, &meta).kind(), ErrorKind::Auth);
    let junk = answer(502, None, "<html>bad gateway</html>");
    assert_eq!(auth::oauth_error(&junk, &meta).kind(), ErrorKind::Transient);
}

// ---- every call against junk ---------------------------------------------------------------

mod junk {
    use std::time::Duration;

    use marketmedia_conformance::junk::{
        answer_to, assert_stalled_poll_is_retryable, every_video_call, junk_source,
        mutation_answers, proptest_cases, typed_result, CancelCheck, JunkAnswer, JunkRig,
        VideoAnswers, VideoCalls,
    };
    use marketmedia_core::raw::{Part, PartPlan, PartReceipt, UploadSession};
    use marketmedia_core::{
        ChunkedVideoUploader, Digests, ImageSource, ImageUploader, ProcessingHandle,
    };
    use marketmedia_shopify::{ShopifyConfig, ShopifyUploader};
    use marketmedia_sim::fixtures::sample_jpeg;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// Field names and values of Shopify's answers.
    const KEYS: &[&str] = &[
        "data",
        "errors",
        "extensions",
        "cost",
        "stagedUploadsCreate",
        "stagedTargets",
        "url",
        "resourceUrl",
        "parameters",
        "name",
        "value",
        "userErrors",
        "fileCreate",
        "files",
        "productCreateMedia",
        "media",
        "mediaUserErrors",
        "node",
        "id",
        "status",
        "fileStatus",
        "mediaErrors",
        "fileErrors",
        "code",
        "message",
        "READY",
        "FAILED",
        "THROTTLED",
    ];

    fn error_answer() -> Value {
        json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]})
    }

    fn answers(success: Value) -> impl Strategy<Value = JunkAnswer> {
        answer_to(vec![success, error_answer()], KEYS)
    }

    fn staged_ok(base: &str) -> Value {
        json!({"data": {"stagedUploadsCreate": {"stagedTargets": [{"url": format!("{base}/upload/k"),
            "resourceUrl": format!("{base}/tmp/k/v.mp4"),
            "parameters": [{"name": "key", "value": "tmp/k/v.mp4"}]}], "userErrors": []}}})
    }

    fn created_ok() -> Value {
        json!({"data": {"fileCreate": {"files": [{"id": "gid://shopify/Video/1", "fileStatus": "UPLOADED"}], "userErrors": []}}})
    }

    fn ready_answer() -> Value {
        json!({"data": {"node": {"id": "gid://shopify/Video/1", "status": "READY", "fileStatus": "READY",
            "sources": [{"url": "https://cdn/v.mp4", "mimeType": "video/mp4"}]}}})
    }

    struct Fixture {
        rig: JunkRig,
        shopify: ShopifyUploader,
        calls: VideoCalls,
    }

    fn handle() -> ProcessingHandle {
        ProcessingHandle {
            platform: "shopify".into(),
            id: "gid://shopify/Video/1".into(),
            data: json!({"destination": "files"}),
        }
    }

    fn uploader(base: &str, read_idle: Duration) -> ShopifyUploader {
        let mut config = ShopifyConfig::builder()
            .shop("junk.myshopify.com")
            .access_token("shpat_junk")
            .base_url(base)
            .build()
            .unwrap();
        config.options.timeouts.read_idle = read_idle;
        ShopifyUploader::new(config).unwrap()
    }

    fn fixture() -> Fixture {
        let rig = JunkRig::start();
        let base = rig.junk.base_url();
        let shopify = uploader(&base, Duration::from_secs(5));
        let plan = PartPlan::new(10, shopify.rules(), None).unwrap();
        let target = &staged_ok(&base)["data"]["stagedUploadsCreate"]["stagedTargets"][0];
        let session = UploadSession {
            platform: "shopify".into(),
            upload_id: target["resourceUrl"].as_str().unwrap().into(),
            plan,
            expires_at: None,
            started_at_ms: 0,
            data: json!({"target": target, "method": "POST", "file_name": "v.mp4",
                "mime": "video/mp4", "destination": {"kind": "files"}, "alt": null}),
        };
        let calls = VideoCalls {
            source: junk_source(10, Digests::default()),
            handle: handle(),
            session,
            part: Part::new(0, 0, bytes::Bytes::from_static(b"part bytes"), None),
            receipts: vec![PartReceipt {
                index: 0,
                wire_number: 0,
                size: 10,
                etag: None,
            }],
            cancel: CancelCheck::AfterCommit,
        };
        Fixture {
            rig,
            shopify,
            calls,
        }
    }

    fn fixture_once() -> &'static Fixture {
        static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
        FIXTURE.get_or_init(fixture)
    }

    proptest! {
        #![proptest_config(proptest_cases(96))]

        #[test]
        fn every_call_survives_any_answer(
            init in answers(staged_ok("http://127.0.0.1:9")),
            part in answer_to(vec![json!({}), json!("<PostResponse/>")], KEYS),
            commit in answers(created_ok()),
            poll in answer_to(vec![ready_answer(), json!({"data": {"node": null}}), error_answer()], KEYS),
            image in answers(created_ok()),
        ) {
            let f = fixture_once();
            let junk = &f.rig.junk;
            // A fresh uploader per case: one that committed a session answers a second commit
            // of it from memory, with no request.
            let shopify = uploader(&junk.base_url(), Duration::from_secs(5));
            let answers = VideoAnswers { init, put_part: part, commit, poll, cancel: JunkAnswer::json(200, error_answer()) };
            let imgs = vec![ImageSource::from_bytes("a.jpg", sample_jpeg(2048))];
            f.rig.rt.block_on(async {
                every_video_call(junk, &shopify, &f.calls, &answers).await?;
                junk.always(image.clone());
                let r = shopify.upload_images(&imgs).await;
                prop_assert!(r.is_ok(), "per-image results, the call itself is local: {r:?}");
                if let Ok(per_image) = &r {
                    for one in per_image {
                        typed_result("upload_images", &image, one)?;
                    }
                }
                Ok::<_, TestCaseError>(())
            })?;
        }
    }

    #[test]
    fn a_stalled_answer_is_a_typed_timeout() {
        assert_stalled_poll_is_retryable(uploader, &handle());
    }

    /// Every answer of the calls with one field changed to an edge value.
    #[test]
    fn one_odd_field_anywhere_is_a_typed_result() {
        let f = fixture();
        let base = f.rig.junk.base_url();
        f.rig.rt.block_on(async {
            for answer in mutation_answers(&[ready_answer()]) {
                f.rig.junk.always(answer);
                let _ = f.shopify.poll(&handle()).await;
            }
            for answer in mutation_answers(&[staged_ok(&base)]) {
                f.rig.junk.always(answer);
                let _ = f.shopify.init(&f.calls.source, &f.calls.session.plan).await;
            }
            for answer in mutation_answers(&[created_ok()]) {
                f.rig.junk.always(answer);
                let _ = f
                    .shopify
                    .upload_images(&[ImageSource::from_bytes("a.jpg", sample_jpeg(512))])
                    .await;
            }
        });
    }
}
