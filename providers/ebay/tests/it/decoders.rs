//! eBay's answers decoded: error envelopes (odd bodies included) to typed errors with their
//! id, status and Retry-After; Location headers to ids; getVideo states to processing
//! statuses. Nothing panics on junk.

use std::time::Duration;

use marketmedia_core::raw::http::{CallMeta, RawResponse};
use marketmedia_core::raw::{ErrorKind, ProcessingStatus};
use marketmedia_ebay::{id_from_location, ok_or_error, status_of, wire};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

const META: CallMeta<'static> = CallMeta {
    platform: "ebay",
    call: "uploadVideo",
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

#[test]
fn error_envelopes_become_typed_errors() {
    let token = answer(
        401,
        None,
        r#"{"errors":[{"errorId":1001,"domain":"OAuth","category":"REQUEST","message":"Invalid access token","longMessage":"Invalid access token. Check the value of the Authorization HTTP request header."}]}"#,
    );
    let e = ok_or_error(&token, &META).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(e.code(), Some("1001"));
    assert!(e.to_string().contains("Authorization HTTP request header"));

    let limited = answer(
        429,
        Some("4"),
        r#"{"errors":[{"errorId":2001,"domain":"ACCESS","category":"REQUEST","message":"Too many requests."}]}"#,
    );
    let e = ok_or_error(&limited, &META).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));

    let range = answer(
        400,
        None,
        r#"{"errors":[{"errorId":190006,"message":"gap"}]}"#,
    );
    assert_eq!(
        ok_or_error(&range, &META).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let gone = answer(404, None, r#"{"errors":[{"errorId":190003}]}"#);
    assert_eq!(
        ok_or_error(&gone, &META).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let done = answer(409, None, r#"{"errors":[]}"#);
    assert_eq!(
        ok_or_error(&done, &META).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert!(ok_or_error(&answer(200, None, ""), &META).is_ok());
    assert!(ok_or_error(&answer(201, None, "junk"), &META).is_ok());
}

#[test]
fn odd_error_bodies_still_fail_by_status() {
    for (status, body, kind) in [
        (503, "<html>busy</html>", ErrorKind::Transient),
        (500, r#"{"errors":"not a list"}"#, ErrorKind::Transient),
        (
            400,
            r#"{"errors":[{"errorId":"x"}]}"#,
            ErrorKind::InvalidInput,
        ),
        (418, "", ErrorKind::Rejected),
        (429, "null", ErrorKind::RateLimited),
    ] {
        let e = ok_or_error(&answer(status, None, body), &META).unwrap_err();
        assert_eq!(e.kind(), kind, "{status} {body}");
        assert_eq!(e.http_status(), Some(status));
    }
}

#[test]
fn location_headers_give_ids() {
    let loc = "https://apim.ebay.com/commerce/media/v1_beta/video/5a1c9e";
    assert_eq!(id_from_location(loc), Some("5a1c9e"));
    assert_eq!(id_from_location("/video/abc/"), Some("abc"));
    assert_eq!(id_from_location("/image/abc?x=1"), Some("abc"));
    assert_eq!(id_from_location(""), None);
    assert_eq!(id_from_location("/"), None);
}

fn video(json: &str) -> wire::Video {
    serde_json::from_str(json).unwrap()
}

#[test]
fn get_video_states_map_to_statuses() {
    let live = video(
        r#"{"status":"LIVE","size":10,"playLists":[{"playUrl":"https://v/1.mpd","protocol":"DASH"}],"thumbnail":{"imageUrl":"https://t/1.jpg"}}"#,
    );
    match status_of("v1", live) {
        ProcessingStatus::Ready(a) => {
            assert_eq!(a.id, "v1");
            assert_eq!(a.urls[0].url, "https://v/1.mpd");
            assert_eq!(a.urls[0].region.as_deref(), Some("DASH"));
            assert_eq!(a.thumbnails[0].url, "https://t/1.jpg");
            assert_eq!(a.size, Some(10));
        }
        other => panic!("{other:?}"),
    }
    let blocked = video(r#"{"status":"BLOCKED","moderation":{"rejectReasons":["a","b"]}}"#);
    assert_eq!(
        status_of("v", blocked),
        ProcessingStatus::Failed {
            state: "BLOCKED".into(),
            reason: "a; b".into()
        }
    );
    let failed = video(r#"{"status":"PROCESSING_FAILED","statusMessage":"corrupt"}"#);
    assert_eq!(
        status_of("v", failed),
        ProcessingStatus::Failed {
            state: "PROCESSING_FAILED".into(),
            reason: "corrupt".into()
        }
    );
    for (json, stage) in [
        (r#"{"status":"PROCESSING"}"#, "PROCESSING"),
        (r#"{"status":"PENDING_UPLOAD"}"#, "PENDING_UPLOAD"),
        (r#"{}"#, "UNKNOWN"),
    ] {
        assert_eq!(
            status_of("v", video(json)),
            ProcessingStatus::Pending {
                stage: stage.into()
            }
        );
    }
    assert!(serde_json::from_str::<wire::Video>(r#"{"status":5}"#).is_err());
}
