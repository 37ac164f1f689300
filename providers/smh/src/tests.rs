use super::*;
use marketmedia_core::UploadMeta;

fn uploader() -> SmhUploader {
    SmhUploader::new(
        SmhConfig::builder()
            .library_id("lib1")
            .library_secret("secret")
            .base_url("http://127.0.0.1:9/prefix/")
            .allow_plain_http(true)
            .directory("a b/c")
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn rules_are_data() {
    let r = rules_for(
        &SmhConfig::builder()
            .library_id("l")
            .library_secret("s")
            .build()
            .unwrap(),
    );
    assert_eq!(r.part_numbering, NumberingBase::One);
    assert_eq!(r.commit_numbering, None);
    assert_eq!(
        r.part_size,
        PartSizeRule::Range {
            min: MIB,
            max: 5 * 1024 * MIB,
            preferred: 2 * MIB
        }
    );
    assert_eq!(r.max_parts, 10_000);
    assert!(r.digests.crc64 && r.digests.instant_upload_hashes);
    assert!(!r.digests.file_md5 && !r.digests.part_md5);
    assert!(r.concurrent_parts && r.instant_upload && r.server_side_resume);
    assert!(r.renewable_sessions && !r.async_processing);
    let plan = PartPlan::new(100_000 * MIB, &r, None).unwrap();
    assert!(plan.count() <= 10_000);
}

/// What `init` sees of a video named `name` carrying `meta`.
fn source(name: &str, meta: UploadMeta) -> SourceInfo {
    SourceInfo {
        file_name: name.into(),
        size: 10,
        format: MediaFormat::Mp4,
        duration: None,
        digests: Default::default(),
        meta,
    }
}

#[test]
fn api_urls_encode_every_segment() {
    let u = uploader();
    let path = u
        .target_path(&source("my video#1.mp4", UploadMeta::default()))
        .unwrap();
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    let url = u.api_url(wire::FILE_PATH, &segs).unwrap();
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:9/prefix/api/v1/file/lib1/-/a%20b/c/my%20video%231.mp4"
    );
    let mut url = u.file_call_url("ck").unwrap();
    url.query_pairs_mut()
        .append_key_only(query::UPLOAD)
        .append_pair(query::ACCESS_TOKEN, "t");
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:9/prefix/api/v1/file/lib1/-/ck?upload&access_token=t"
    );
}

#[test]
fn storage_urls_use_the_configured_scheme() {
    let u = uploader();
    let url = u
        .storage_url("bucket.example:8080", "/smh/x y.mp4", "t")
        .unwrap();
    assert_eq!(url.as_str(), "https://bucket.example:8080/smh/x%20y.mp4");
    let http = SmhUploader::new(
        SmhConfig::builder()
            .library_id("l")
            .library_secret("s")
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true)
            .build()
            .unwrap(),
    )
    .unwrap();
    let url = http.storage_url("127.0.0.1:1", "/p", "t").unwrap();
    assert_eq!(url.as_str(), "http://127.0.0.1:1/p");
    assert_eq!(
        u.storage_url("not a host", "/p", "t").unwrap_err().kind(),
        ErrorKind::Protocol
    );
}

#[test]
fn target_names_are_checked_up_front() {
    let u = uploader();
    for bad in ["", "..", "a/b.mp4"] {
        assert_eq!(
            u.target_path(&source(bad, UploadMeta::default()))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
    }
    // The upload's directory replaces the configured one, and is checked the same way.
    let elsewhere = UploadMeta::default().with_directory("shop/videos");
    assert_eq!(
        u.target_path(&source("v.mp4", elsewhere)).unwrap(),
        vec!["shop", "videos", "v.mp4"]
    );
    assert_eq!(
        u.target_path(&source("v.mp4", UploadMeta::default()))
            .unwrap(),
        vec!["a b", "c", "v.mp4"]
    );
    let bad = UploadMeta::default().with_directory("a/../b");
    assert_eq!(
        u.target_path(&source("v.mp4", bad)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

fn info(json: &str) -> UploadInfo {
    serde_json::from_str(json).unwrap()
}

#[test]
fn sessions_carry_no_credentials_and_round_trip() {
    let u = uploader();
    let plan = PartPlan::new(3 * MIB, &u.rules, None).unwrap();
    let i = info(
        r#"{"domain":"b.cos","path":"/smh/x.mp4","uploadId":"up1","headers":{"Authorization":"q-sign-SECRET","x-cos-security-token":"TOKEN-SECRET","Content-Type":"application/octet-stream"},"confirmKey":"ck1","expiration":"2030-01-01T00:00:00.000Z"}"#,
    );
    let s = u
        .session_from(&i, "a b/c/x.mp4".into(), Some("42".into()), &plan)
        .unwrap();
    assert_eq!(s.upload_id, "ck1");
    assert_eq!(s.expires_at, Some(1_893_456_000));
    let text = format!("{s:?} {}", serde_json::to_string(&s).unwrap());
    assert!(!text.contains("SECRET"), "{text}");
    let back: UploadSession = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    let d = session_data(&back).unwrap();
    assert_eq!(d.crc64.as_deref(), Some("42"));
    assert_eq!(d.upload_id, "up1");
    assert_eq!(d.conflict, ConflictStrategy::Rename);
    let live = u.recall("ck1").unwrap();
    assert_eq!(live.headers.len(), 3);
}

#[test]
fn missing_upload_information_is_a_protocol_error() {
    let u = uploader();
    let plan = PartPlan::new(3 * MIB, &u.rules, None).unwrap();
    for body in [
        r#"{}"#,
        r#"{"domain":"b","path":"/p","uploadId":"u"}"#,
        r#"{"domain":"b","path":"/p","confirmKey":"k"}"#,
        r#"{"path":"/p","uploadId":"u","confirmKey":"k"}"#,
        r#"{"domain":"b","path":"/p","uploadId":"u","confirmKey":"k","headers":{"bad header":"v"}}"#,
    ] {
        let err = u
            .session_from(&info(body), "x".into(), None, &plan)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{body}");
    }
    let bad = UploadSession {
        platform: "smh".into(),
        upload_id: "x".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: serde_json::json!({"nope": 1}),
    };
    assert_eq!(
        session_data(&bad).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn assets_from_file_info() {
    let f: FileInfo = serde_json::from_str(
        r#"{"path":["a","x (1).mp4"],"name":"x (1).mp4","type":"video","size":"12","eTag":"\"e\"","crc64":"7"}"#,
    )
    .unwrap();
    let a = asset_from(f, "confirm").unwrap();
    assert_eq!(a.id, "a/x (1).mp4");
    assert_eq!(a.size, Some(12));
    assert_eq!(a.details["crc64"], "7");
    assert_eq!(a.details["eTag"], "\"e\"");
    let none: FileInfo = serde_json::from_str(r#"{"path":null}"#).unwrap();
    assert_eq!(
        asset_from(none, "c").unwrap_err().kind(),
        ErrorKind::Protocol
    );
}

#[test]
fn debug_hides_secrets() {
    let u = SmhUploader::new(
        SmhConfig::builder()
            .library_id("l")
            .library_secret("super-secret-value")
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(!format!("{u:?}").contains("super-secret-value"));
}

/// Storage domains: a COS bucket domain, an address with a port, a trailing dot are hosts;
/// names the URL parser takes but no resolver finds (a leading or trailing hyphen, other
/// characters, an empty label) are not.
#[test]
fn only_resolvable_names_are_storage_hosts() {
    let host = |d: &str| super::names_a_host(&url::Url::parse(&format!("https://{d}")).unwrap());
    for good in [
        "examplebucket-1250000000.cos.ap-beijing.myqcloud.com",
        "127.0.0.1:41317",
        "[::1]:8080",
        "cos.example.com.",
        "a-b.c",
    ] {
        assert!(host(good), "{good} is a host");
    }
    for bad in ["-1", "a-.b", "a..b", "a_b.com", "x.-y", "$host"] {
        assert!(
            url::Url::parse(&format!("https://{bad}")).map_or(true, |u| !super::names_a_host(&u)),
            "{bad} is not a host"
        );
    }
}
