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
