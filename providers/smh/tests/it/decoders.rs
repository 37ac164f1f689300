//! SMH's decoders never panic: every public call (token, begin, parts, status, renew,
//! confirm, cancel, simple upload, directories), pointed at a server answering junk
//! (arbitrary bytes, arbitrary JSON, and variations of SMH's and COS's real answers with
//! fields of random types), returns `Ok` or a typed `Err`. The harness is
//! `marketmedia_conformance::junk`; here are SMH's answers, keys and calls (each call may
//! take several answers in a row, so they are scripted).

use std::time::Duration;

use marketmedia_conformance::junk::{
    answer_to, junk_source, proptest_cases, single_mutations, JunkAnswer, JunkRig, JunkServer,
    TypedResults,
};
use marketmedia_core::raw::{Part, PartPlan, PartReceipt, SourceInfo, UploadSession};
use marketmedia_core::{
    ChunkedVideoUploader, Digests, ErrorKind, ImageSource, ImageUploader, InstantHashes,
    ProcessingHandle,
};
use marketmedia_smh::{SmhConfig, SmhConfigBuilder, SmhUploader, StorageScheme, MIB};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Field names and enumerated values of SMH's and COS's answers.
const KEYS: &[&str] = &[
    "accessToken",
    "expiresIn",
    "domain",
    "path",
    "uploadId",
    "headers",
    "confirmKey",
    "expiration",
    "parts",
    "uploadPartInfo",
    "PartNumber",
    "ETag",
    "Size",
    "name",
    "type",
    "size",
    "eTag",
    "crc64",
    "isOverwritten",
    "code",
    "message",
    "requestId",
    "InvalidAccessToken",
    "ConfirmKeyNotFound",
    "2021-07-24T10:34:32.000Z",
];

fn token() -> Value {
    json!({"accessToken": "tok", "expiresIn": 7200})
}

fn upload_info(host: &str) -> Value {
    json!({"domain": host, "path": "/lib/v.mp4", "uploadId": "u1",
        "headers": {"Authorization": "q-sign-algorithm=sha1", "x-cos-traffic-limit": 204800},
        "confirmKey": "ck", "expiration": "2099-07-24T10:34:32.000Z"})
}

fn file_info() -> Value {
    json!({"path": ["v.mp4"], "name": "v.mp4", "type": "file", "size": "1048576",
        "eTag": "\"e\"", "crc64": "123", "isOverwritten": false})
}

fn status(host: &str) -> Value {
    json!({"parts": [{"PartNumber": 1, "ETag": "\"e\"", "Size": 1048576}],
        "uploadPartInfo": upload_info(host)})
}

fn errors() -> Vec<Value> {
    vec![
        json!({"code": "InvalidAccessToken", "message": "expired", "requestId": "r"}),
        json!({"code": "ConfirmKeyNotFound", "message": "gone"}),
    ]
}

fn templates(host: &str) -> Vec<Value> {
    let mut all = vec![
        token(),
        upload_info(host),
        file_info(),
        status(host),
        json!({}),
    ];
    all.extend(errors());
    all
}

/// Three answers in a row (a call may fetch a token, then call the API, then the storage).
fn script(host: String) -> impl Strategy<Value = Vec<JunkAnswer>> {
    prop::collection::vec(answer_to(templates(&host), KEYS), 3)
}

struct Fixture {
    rig: JunkRig,
    with_token: SmhUploader,
    source: SourceInfo,
    session: UploadSession,
}

fn fixture() -> Fixture {
    let rig = JunkRig::start();
    let junk = &rig.junk;
    let tune = |c: SmhConfigBuilder| {
        let mut c = c
            .base_url(junk.base_url())
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true)
            .part_size(MIB)
            .build()
            .unwrap();
        c.options.timeouts.read_idle = Duration::from_secs(5);
        c
    };
    let with_token = SmhUploader::new(tune(
        SmhConfig::builder()
            .library_id("lib")
            .access_token("access-token"),
    ))
    .unwrap();
    let size = 2 * MIB;
    let source = junk_source(
        size,
        Digests {
            instant: Some(InstantHashes {
                beginning: [1; 32],
                full: [2; 32],
            }),
            crc64: Some(123),
            ..Digests::default()
        },
    );
    let plan = PartPlan::new(size, with_token.rules(), None).unwrap();
    let session = UploadSession {
        platform: "smh".into(),
        upload_id: "ck".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: json!({"confirmKey": "ck", "filePath": "v.mp4", "conflict": "rename",
            "crc64": "123", "domain": junk.host(), "path": "/lib/v.mp4", "uploadId": "u1",
            "expiration": null}),
    };
    Fixture {
        rig,
        with_token,
        source,
        session,
    }
}

/// An uploader with the library secret and no token cached yet (a cached token would hide
/// the token answer from every later call).
fn secret_uploader(junk: &JunkServer) -> SmhUploader {
    let mut c = SmhConfig::builder()
        .library_id("lib")
        .library_secret("library-secret")
        .base_url(junk.base_url())
        .storage_scheme(StorageScheme::Http)
        .allow_plain_http(true)
        .part_size(MIB)
        .build()
        .unwrap();
    c.options.timeouts.read_idle = Duration::from_secs(5);
    SmhUploader::new(c).unwrap()
}

fn fixture_once() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(fixture)
}

fn host() -> String {
    fixture_once().rig.junk.host()
}

/// Every call of `smh` once, each against the next script of `scripts`: each call's name
/// and result (`Ok` rendered with `Debug`).
async fn every_call(
    f: &Fixture,
    smh: &SmhUploader,
    scripts: &mut dyn FnMut() -> Vec<JunkAnswer>,
) -> Vec<(&'static str, marketmedia_core::Result<String>)> {
    let part = Part::new(1, MIB, bytes::Bytes::from(vec![0u8; MIB as usize]), None);
    let receipts = vec![PartReceipt {
        index: 0,
        wire_number: 1,
        size: MIB,
        etag: None,
    }];
    let handle = ProcessingHandle {
        platform: "smh".into(),
        id: "v.mp4".into(),
        data: json!({"asset": {"odd": true}}),
    };
    let img = ImageSource::from_bytes("a.png", marketmedia_sim::fixtures::sample_png(64));
    let mut next = |f: &Fixture| {
        let mut s = scripts();
        let fallback = s.pop().unwrap_or_else(|| JunkAnswer::new(500, ""));
        f.rig.junk.script(s, fallback);
    };
    fn shown<T: std::fmt::Debug>(
        r: marketmedia_core::Result<T>,
    ) -> marketmedia_core::Result<String> {
        r.map(|o| format!("{o:?}"))
    }
    let mut out = Vec::new();
    next(f);
    out.push(("init", shown(smh.init(&f.source, &f.session.plan).await)));
    next(f);
    out.push(("put_part", shown(smh.put_part(&f.session, &part).await)));
    next(f);
    out.push((
        "uploaded_parts",
        shown(smh.uploaded_parts(&f.session).await),
    ));
    next(f);
    out.push(("renew", shown(smh.renew(&f.session).await)));
    next(f);
    out.push(("put_part", shown(smh.put_part(&f.session, &part).await)));
    next(f);
    out.push(("commit", shown(smh.commit(&f.session, &receipts).await)));
    out.push(("poll", shown(smh.poll(&handle).await)));
    next(f);
    out.push(("cancel", shown(smh.cancel(&f.session).await)));
    next(f);
    out.push((
        "upload_images",
        shown(smh.upload_images(std::slice::from_ref(&img)).await),
    ));
    next(f);
    out.push(("create_directory", shown(smh.create_directory("a/b").await)));
    out
}

/// The calls whose error says nothing: an empty `Display` (its `Debug` is rendered too, so
/// a panic in either fails the test).
fn silent_errors(
    results: &[(&'static str, marketmedia_core::Result<String>)],
) -> Vec<&'static str> {
    results
        .iter()
        .filter_map(|(call, r)| r.as_ref().err().map(|e| (call, e)))
        .filter(|(_, e)| e.to_string().is_empty() || format!("{e:?}").is_empty())
        .map(|(call, _)| *call)
        .collect()
}

proptest! {
    #![proptest_config(proptest_cases(64))]

    #[test]
    fn every_call_survives_any_answer(
        scripts in prop::collection::vec(script(host()), 9),
        secret in any::<bool>(),
    ) {
        let f = fixture_once();
        let before = f.rig.junk.requests();
        let fresh;
        let smh = if secret {
            fresh = secret_uploader(&f.rig.junk);
            &fresh
        } else {
            &f.with_token
        };
        let mut scripts = scripts.into_iter();
        let results =
            f.rig.rt.block_on(every_call(f, smh, &mut || scripts.next().unwrap_or_default()));
        prop_assert_eq!(results.len(), 10);
        let silent = silent_errors(&results);
        prop_assert!(silent.is_empty(), "errors with no message: {:?}", silent);
        let sent = f.rig.junk.requests() - before;
        // Every scripted call reached the junk server, or failed on the way there: the
        // server answers (and may close the connection) before reading a 1 MiB part, so a
        // call on a connection it just closed ends as a transport error without being
        // counted (seen once in about a hundred runs with more test threads).
        let unanswered = results
            .iter()
            .filter(|(_, r)| {
                r.as_ref().is_err_and(|e| {
                    e.kind() == ErrorKind::Transient && e.http_status().is_none()
                })
            })
            .count() as u64;
        prop_assert!(
            sent + unanswered >= 9,
            "{} requests and {} transport failures for {:?}",
            sent,
            unanswered,
            results
        );
    }
}

/// What a call answered with one odd field (HTTP 200 or 201) may end in besides `Ok`:
/// `Protocol` (an answer the provider could not understand), `Rejected` (a value it checks
/// and refuses) or `Transient`: the junk server answers before it reads a 1 MiB part, so the
/// connection may be cut under the request, and the storage call after an odd upload answer
/// may meet the junk fallback (seen on `put_part`, `uploaded_parts`, `commit`).
const ODD_FIELD_KINDS: &[ErrorKind] = &[
    ErrorKind::Protocol,
    ErrorKind::Rejected,
    ErrorKind::Transient,
    // A storage answer without the part's MD5 as its ETag is not an acknowledgement.
    ErrorKind::Corrupted,
];

/// The same, where the odd answer is the token's and a 500 follows.
const ODD_TOKEN_KINDS: &[ErrorKind] = &[
    ErrorKind::Protocol,
    ErrorKind::Rejected,
    ErrorKind::Transient,
    ErrorKind::Corrupted,
];

/// Every answer with one field changed to an edge value, as each answer of every call: each
/// result is `Ok` or a typed error of the expected kinds.
#[test]
fn one_odd_field_anywhere_is_a_typed_result() {
    let f = fixture();
    let f = &f;
    let host = f.rig.junk.host();
    let good = upload_info(&host);
    let mut results = TypedResults::default();
    f.rig.rt.block_on(async {
        for template in templates(&host) {
            for body in single_mutations(&template) {
                let odd = JunkAnswer::json(200, body.clone());
                for status in [200, 201] {
                    let odd = JunkAnswer {
                        status,
                        ..odd.clone()
                    };
                    // The odd answer first, then after a good one (to reach the storage call).
                    let mut scripts = [
                        vec![odd.clone()],
                        vec![JunkAnswer::json(200, good.clone()), odd.clone()],
                    ]
                    .into_iter()
                    .cycle();
                    let calls =
                        every_call(f, &f.with_token, &mut || scripts.next().unwrap_or_default())
                            .await;
                    for (call, r) in calls {
                        results.check(call, &odd, &r, ODD_FIELD_KINDS);
                    }
                }
                // The secret uploader fetches a token first: give it the odd token answer.
                let mut scripts = std::iter::repeat(vec![odd.clone(), JunkAnswer::new(500, "")]);
                let smh = secret_uploader(&f.rig.junk);
                let calls = every_call(f, &smh, &mut || scripts.next().unwrap_or_default()).await;
                for (call, r) in calls {
                    results.check(call, &odd, &r, ODD_TOKEN_KINDS);
                }
            }
        }
    });
    results.assert_typed();
}

proptest! {
    #![proptest_config(proptest_cases(512))]

    /// The pure decoders, directly: expiration times and error bodies (JSON or COS XML).
    #[test]
    fn pure_decoders_never_panic(
        text in "[ -~]{0,40}",
        date in (any::<i64>(), 1i64..13, 1i64..32, 0i64..24, 0i64..60, 0i64..61,
                 prop::sample::select(&["Z", "+08:00", "-99999999999999:00", "+1:9223372036854775807",
                     "+9223372036854775807:00", ""][..]))
            .prop_map(|(y, mo, d, h, mi, s, z)| format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000{z}")),
        small_date in (-9999i64..99999, 1i64..13, 1i64..32, 0i64..24, 0i64..60, 0i64..61)
            .prop_map(|(y, mo, d, h, mi, s)| format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")),
        body in prop::collection::vec(any::<u8>(), 0..200),
        xml in "<Error>(<Code>[ -~]{0,10}</Code>)?(<Message>[ -~]{0,10})?(</Message>)?</Error>",
    ) {
        let _ = marketmedia_smh::wire::parse_expiration(&text);
        let _ = marketmedia_smh::wire::parse_expiration(&date);
        let _ = marketmedia_smh::wire::parse_expiration(&small_date);
        let _ = marketmedia_smh::wire::ErrorBody::parse(&body);
        let _ = marketmedia_smh::wire::ErrorBody::parse(xml.as_bytes());
    }
}
