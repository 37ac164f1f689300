//! The Lazada simulator driven over real HTTP, with signatures computed by hand here (not with
//! the simulator's code), proving every rule it enforces.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use marketmedia_sim::lazada::{
    calls, codes, launch, LazadaSim, LazadaSimConfig, VideoOutcome, VideoState,
    LAZADA_TEST_ACCESS_TOKEN, LAZADA_TEST_APP_KEY, LAZADA_TEST_APP_SECRET,
};
use marketmedia_sim::SimServer;
use md5::{Digest, Md5};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use sha2::Sha256;

type Params = BTreeMap<String, String>;

/// UPPERCASE hex HMAC-SHA256(secret, api_path + k1v1k2v2... sorted, `sign` excluded).
fn sign_by_hand(secret: &str, api_path: &str, params: &Params, java_skip_empty: bool) -> String {
    let mut msg = api_path.to_string();
    for (k, v) in params {
        if k == "sign" || (java_skip_empty && (k.is_empty() || v.is_empty())) {
            continue;
        }
        msg.push_str(k);
        msg.push_str(v);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    hex::encode_upper(mac.finalize().into_bytes())
}

fn md5_upper(b: &[u8]) -> String {
    hex::encode_upper(Md5::digest(b))
}

fn p(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[derive(Clone, Copy)]
enum Via {
    Query,
    Form,
    Multipart,
}

/// The calls Lazada's API reference gives POST (the others are GET).
fn is_post(api_path: &str) -> bool {
    [
        calls::BLOCK_CREATE,
        calls::BLOCK_UPLOAD,
        calls::BLOCK_COMMIT,
        calls::VIDEO_REMOVE,
        calls::IMAGE_UPLOAD,
        calls::IMAGE_MIGRATE,
    ]
    .contains(&api_path)
}

struct Lz {
    sim: LazadaSim,
    _server: SimServer,
    base: String,
    http: reqwest::Client,
}

impl Lz {
    async fn new(config: LazadaSimConfig) -> Self {
        let sim = LazadaSim::new(config);
        let server = sim.start(([127, 0, 0, 1], 0).into()).await.unwrap();
        let base = LazadaSim::rest_base_url(&server);
        Lz {
            sim,
            _server: server,
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    async fn default() -> Self {
        Self::new(LazadaSimConfig::default()).await
    }

    /// The system parameters plus `business`, unsigned.
    fn params(&self, business: &[(&str, &str)]) -> Params {
        let mut all = p(&[
            ("app_key", LAZADA_TEST_APP_KEY),
            ("sign_method", "sha256"),
            ("access_token", LAZADA_TEST_ACCESS_TOKEN),
        ]);
        all.insert(
            "timestamp".into(),
            self.sim.clock().now_millis().to_string(),
        );
        all.extend(p(business));
        all
    }

    fn signed(&self, api_path: &str, mut params: Params) -> Params {
        let sign = sign_by_hand(LAZADA_TEST_APP_SECRET, api_path, &params, false);
        params.insert("sign".into(), sign);
        params
    }

    /// Sends `params` as they are (already signed or deliberately not).
    async fn send(
        &self,
        api_path: &str,
        params: &Params,
        via: Via,
        files: Vec<(&str, Vec<u8>)>,
    ) -> Value {
        let url = format!("{}{}", self.base, api_path);
        let req = match via {
            Via::Query => {
                let mut url = reqwest::Url::parse(&url).unwrap();
                url.query_pairs_mut().extend_pairs(params.iter());
                if files.is_empty() && !is_post(api_path) {
                    self.http.get(url)
                } else if files.is_empty() {
                    // Every parameter in the query string, as the seed's example URLs send them.
                    self.http.post(url)
                } else {
                    self.http
                        .post(url)
                        .multipart(files_form(Form::new(), files))
                }
            }
            Via::Form => self.http.post(url).form(params),
            Via::Multipart => {
                let mut form = Form::new();
                for (k, v) in params {
                    form = form.text(k.clone(), v.clone());
                }
                self.http.post(url).multipart(files_form(form, files))
            }
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "the gateway answers HTTP 200");
        resp.json().await.unwrap()
    }

    async fn call(&self, api_path: &str, business: &[(&str, &str)]) -> Value {
        let params = self.signed(api_path, self.params(business));
        let via = if is_post(api_path) {
            Via::Form
        } else {
            Via::Query
        };
        self.send(api_path, &params, via, vec![]).await
    }

    async fn create(&self, size: usize) -> String {
        let v = self
            .call(
                calls::BLOCK_CREATE,
                &[("fileName", "clip.mp4"), ("fileBytes", &size.to_string())],
            )
            .await;
        ok(&v);
        v["upload_id"].as_str().unwrap().to_string()
    }

    async fn block(&self, upload_id: &str, no: &str, count: &str, bytes: &[u8]) -> Value {
        let params = self.signed(
            calls::BLOCK_UPLOAD,
            self.params(&[
                ("uploadId", upload_id),
                ("blockNo", no),
                ("blockCount", count),
            ]),
        );
        self.send(
            calls::BLOCK_UPLOAD,
            &params,
            Via::Multipart,
            vec![("file", bytes.to_vec())],
        )
        .await
    }

    async fn commit(&self, upload_id: &str, parts: &str) -> Value {
        self.call(
            calls::BLOCK_COMMIT,
            &[
                ("uploadId", upload_id),
                ("parts", parts),
                ("title", "hello"),
                ("coverUrl", "https://img.example/cover.png"),
                ("videoUsage", "pro_main_video"),
            ],
        )
        .await
    }

    /// create + upload `blocks` + commit; returns (upload_id, video_id).
    async fn upload_video(&self, blocks: &[Vec<u8>]) -> (String, String) {
        let total: usize = blocks.iter().map(Vec::len).sum();
        let upload_id = self.create(total).await;
        let count = blocks.len().to_string();
        for (i, b) in blocks.iter().enumerate() {
            ok(&self.block(&upload_id, &i.to_string(), &count, b).await);
        }
        let v = self.commit(&upload_id, &parts_json(blocks)).await;
        ok(&v);
        (upload_id, v["video_id"].as_str().unwrap().to_string())
    }

    async fn get_video(&self, video_id: &str) -> Value {
        let params = self.signed(calls::VIDEO_GET, self.params(&[("videoId", video_id)]));
        self.send(calls::VIDEO_GET, &params, Via::Query, vec![])
            .await
    }
}

fn files_form(mut form: Form, files: Vec<(&str, Vec<u8>)>) -> Form {
    for (field, bytes) in files {
        form = form.part(field.to_string(), Part::bytes(bytes).file_name("blob.bin"));
    }
    form
}

fn parts_json(blocks: &[Vec<u8>]) -> String {
    let items: Vec<String> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| format!(r#"{{"partNumber":{},"eTag":"{}"}}"#, i + 1, md5_upper(b)))
        .collect();
    format!("[{}]", items.join(","))
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[track_caller]
fn ok(v: &Value) {
    assert_eq!(v["code"], "0", "expected success, got {v}");
    assert!(v["request_id"].as_str().is_some_and(|s| !s.is_empty()));
}

/// A gateway error: `code`, `type`, `message`, `request_id`, no `success`.
#[track_caller]
fn gateway_err(v: &Value, code: &str) {
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["type"], "ISV", "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(v["request_id"].as_str().is_some(), "{v}");
    assert!(v.get("success").is_none(), "{v}");
}

/// A Media Center business error: gateway fields plus `success:false`, `result_code`.
#[track_caller]
fn media_err(v: &Value, code: &str) {
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["type"], "ISV", "{v}");
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["result_code"], code, "{v}");
    assert!(
        v["result_message"].as_str().is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(v["request_id"].as_str().is_some(), "{v}");
}

// ---------------------------------------------------------------------------------------------
// Signing

#[test]
fn documented_signature_vector_by_hand() {
    let params = p(&[
        ("access_token", "test"),
        ("app_key", "123456"),
        ("order_id", "1234"),
        ("sign_method", "sha256"),
        ("timestamp", "1517820392000"),
    ]);
    assert_eq!(
        sign_by_hand("helloworld", "/order/get", &params, false),
        "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
    );
}

#[tokio::test]
async fn the_simulator_verifies_the_documented_vector() {
    // The simulator's own secret and token replaced by the documented ones; the clock moved to
    // the vector's timestamp so that it is fresh. `/order/get` is not served, so the vector is
    // checked through block/create: same rule, documented secret.
    let cfg = LazadaSimConfig {
        app_key: "123456".into(),
        app_secret: "helloworld".into(),
        access_token: "test".into(),
        ..LazadaSimConfig::default()
    };
    let lz = Lz::new(cfg).await;
    let mut params = p(&[
        ("access_token", "test"),
        ("app_key", "123456"),
        ("sign_method", "sha256"),
        ("fileName", "a.mp4"),
        ("fileBytes", "10"),
    ]);
    params.insert("timestamp".into(), lz.sim.clock().now_millis().to_string());
    let sign = sign_by_hand("helloworld", calls::BLOCK_CREATE, &params, false);
    params.insert("sign".into(), sign);
    ok(&lz
        .send(calls::BLOCK_CREATE, &params, Via::Query, vec![])
        .await);
}

#[tokio::test]
async fn each_call_takes_its_own_http_method() {
    let lz = Lz::default().await;
    // POST for create, upload, commit and remove; GET for get and quota. The other method is
    // refused by the gateway, in Lazada's envelope, and the wire log shows what was sent.
    for (path, business, wrong) in [
        (
            calls::BLOCK_CREATE,
            vec![("fileName", "a.mp4"), ("fileBytes", "100")],
            reqwest::Method::GET,
        ),
        (
            calls::BLOCK_COMMIT,
            vec![
                ("uploadId", "x"),
                ("parts", "[]"),
                ("title", "t"),
                ("coverUrl", "c"),
            ],
            reqwest::Method::GET,
        ),
        (
            calls::VIDEO_REMOVE,
            vec![("videoId", "1")],
            reqwest::Method::GET,
        ),
        (
            calls::VIDEO_GET,
            vec![("videoId", "1")],
            reqwest::Method::POST,
        ),
        (calls::QUOTA_GET, vec![], reqwest::Method::POST),
    ] {
        let params = lz.signed(path, lz.params(&business));
        let mut url = reqwest::Url::parse(&format!("{}{}", lz.base, path)).unwrap();
        url.query_pairs_mut().extend_pairs(params.iter());
        let resp = lz.http.request(wrong.clone(), url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "the gateway answers HTTP 200");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["code"], "InvalidHttpMethod", "{path} {wrong}: {v}");
        assert_eq!(v["type"], "ISV", "{v}");
        let last = lz.sim.wire().records().pop().unwrap();
        assert_eq!(last.method, wrong.as_str());
        assert_eq!(last.error.as_deref(), Some("InvalidHttpMethod"));
    }
    // The right method, every parameter in the query string (the seed's example URLs).
    let params = lz.signed(calls::QUOTA_GET, lz.params(&[]));
    ok(&lz.send(calls::QUOTA_GET, &params, Via::Query, vec![]).await);
    let params = lz.signed(
        calls::BLOCK_CREATE,
        lz.params(&[("fileName", "a.mp4"), ("fileBytes", "100")]),
    );
    ok(&lz
        .send(calls::BLOCK_CREATE, &params, Via::Query, vec![])
        .await);
    let last = lz.sim.wire().records().pop().unwrap();
    assert_eq!((last.method.as_str(), last.body_len), ("POST", 0));
    // The check can be turned off (a lenient gateway).
    lz.sim.update_config(|c| c.enforce_http_method = false);
    let params = lz.signed(calls::QUOTA_GET, lz.params(&[]));
    ok(&lz.send(calls::QUOTA_GET, &params, Via::Form, vec![]).await);
}

#[tokio::test]
async fn parameters_are_read_from_query_form_multipart_and_mixed() {
    let lz = Lz::default().await;
    for via in [Via::Query, Via::Form, Via::Multipart] {
        let params = lz.signed(
            calls::BLOCK_CREATE,
            lz.params(&[("fileName", "a.mp4"), ("fileBytes", "100")]),
        );
        ok(&lz.send(calls::BLOCK_CREATE, &params, via, vec![]).await);
    }
    // Mixed: system parameters in the query, business parameters in the form body.
    let params = lz.signed(
        calls::BLOCK_CREATE,
        lz.params(&[("fileName", "a.mp4"), ("fileBytes", "100")]),
    );
    let (query, body): (Params, Params) = params
        .into_iter()
        .partition(|(k, _)| !k.starts_with("file"));
    let mut url = reqwest::Url::parse(&format!("{}{}", lz.base, calls::BLOCK_CREATE)).unwrap();
    url.query_pairs_mut().extend_pairs(query.iter());
    let v: Value = lz
        .http
        .post(url)
        .form(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ok(&v);
    // The wire log keeps every non-file parameter exactly as received, wherever it came from.
    let rec = lz.sim.wire().calls(calls::BLOCK_CREATE).pop().unwrap();
    assert_eq!(rec.platform, "lazada");
    assert_eq!(rec.param("fileName"), Some("a.mp4"));
    assert_eq!(rec.param("app_key"), Some(LAZADA_TEST_APP_KEY));
    assert!(rec.param("sign").is_some());
    assert_eq!(rec.status, 200);
    assert_eq!(rec.error, None);
}

#[tokio::test]
async fn python_sdk_shape_everything_in_body_with_partner_id() {
    let lz = Lz::default().await;
    // Whole seconds × 1000, an extra signed partner_id, all in a multipart body.
    let secs = lz.sim.clock().now_secs() * 1000;
    let mut params = lz.params(&[
        ("fileName", "a.mp4"),
        ("fileBytes", "100"),
        ("partner_id", "lazop-sdk-python-20181207"),
    ]);
    params.insert("timestamp".into(), secs.to_string());
    let params = lz.signed(calls::BLOCK_CREATE, params);
    ok(&lz
        .send(calls::BLOCK_CREATE, &params, Via::Multipart, vec![])
        .await);

    // The extra parameter takes part in the signature: signing without it fails.
    let mut without = lz.params(&[("fileName", "a.mp4"), ("fileBytes", "100")]);
    let sign = sign_by_hand(LAZADA_TEST_APP_SECRET, calls::BLOCK_CREATE, &without, false);
    without.insert("sign".into(), sign);
    without.insert("partner_id".into(), "lazop-sdk-python".into());
    gateway_err(
        &lz.send(calls::BLOCK_CREATE, &without, Via::Form, vec![])
            .await,
        codes::INCOMPLETE_SIGNATURE,
    );
}

#[tokio::test]
async fn empty_values_signed_either_the_java_or_the_python_way() {
    let lz = Lz::default().await;
    let base = lz.params(&[("fileName", "a.mp4"), ("fileBytes", "100"), ("note", "")]);
    for java in [false, true] {
        let mut params = base.clone();
        let sign = sign_by_hand(LAZADA_TEST_APP_SECRET, calls::BLOCK_CREATE, &params, java);
        params.insert("sign".into(), sign);
        ok(&lz
            .send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
            .await);
    }
}

#[tokio::test]
async fn file_fields_are_not_signed() {
    let lz = Lz::default().await;
    let upload_id = lz.create(4).await;
    // Signing the file's content as a parameter is wrong.
    let mut params = lz.params(&[
        ("uploadId", &upload_id),
        ("blockNo", "0"),
        ("blockCount", "1"),
    ]);
    let mut with_file = params.clone();
    with_file.insert("file".into(), "abcd".into());
    let sign = sign_by_hand(
        LAZADA_TEST_APP_SECRET,
        calls::BLOCK_UPLOAD,
        &with_file,
        false,
    );
    params.insert("sign".into(), sign);
    gateway_err(
        &lz.send(
            calls::BLOCK_UPLOAD,
            &params,
            Via::Multipart,
            vec![("file", b"abcd".to_vec())],
        )
        .await,
        codes::INCOMPLETE_SIGNATURE,
    );
    // The declared byte field is a file even without a filename.
    let params = lz.signed(
        calls::BLOCK_UPLOAD,
        lz.params(&[
            ("uploadId", &upload_id),
            ("blockNo", "0"),
            ("blockCount", "1"),
        ]),
    );
    let mut form = Form::new();
    for (k, v) in &params {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part("file", Part::bytes(b"abcd".to_vec()));
    let v: Value = lz
        .http
        .post(format!("{}{}", lz.base, calls::BLOCK_UPLOAD))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ok(&v);
    assert_eq!(v["e_tag"], md5_upper(b"abcd"));
}

#[tokio::test]
async fn signature_rejections() {
    let lz = Lz::default().await;
    let business = [("fileName", "a.mp4"), ("fileBytes", "100")];

    // Wrong secret.
    let mut params = lz.params(&business);
    let sign = sign_by_hand("not-the-secret", calls::BLOCK_CREATE, &params, false);
    params.insert("sign".into(), sign);
    let v = lz
        .send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
        .await;
    gateway_err(&v, codes::INCOMPLETE_SIGNATURE);
    assert_eq!(
        v["message"],
        "The request signature does not conform to platform standards"
    );

    // The /rest prefix is not part of the signed path.
    let mut params = lz.params(&business);
    let sign = sign_by_hand(
        LAZADA_TEST_APP_SECRET,
        &format!("/rest{}", calls::BLOCK_CREATE),
        &params,
        false,
    );
    params.insert("sign".into(), sign);
    gateway_err(
        &lz.send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
            .await,
        codes::INCOMPLETE_SIGNATURE,
    );

    // Lowercase hex is refused by default.
    let mut params = lz.signed(calls::BLOCK_CREATE, lz.params(&business));
    let lower = params["sign"].to_lowercase();
    params.insert("sign".into(), lower);
    gateway_err(
        &lz.send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
            .await,
        codes::INCOMPLETE_SIGNATURE,
    );

    // A parameter changed after signing.
    let mut params = lz.signed(calls::BLOCK_CREATE, lz.params(&business));
    params.insert("fileBytes".into(), "101".into());
    gateway_err(
        &lz.send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
            .await,
        codes::INCOMPLETE_SIGNATURE,
    );

    // sign_method other than sha256.
    let mut params = lz.params(&business);
    params.insert("sign_method".into(), "md5".into());
    let params = lz.signed(calls::BLOCK_CREATE, params);
    gateway_err(
        &lz.send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
            .await,
        codes::INCOMPLETE_SIGNATURE,
    );

    // No sign at all.
    let params = lz.params(&business);
    gateway_err(
        &lz.send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
            .await,
        codes::MISSING_PARAMETER,
    );
    // Every rejection is logged with its code.
    assert_eq!(
        lz.sim
            .wire()
            .calls(calls::BLOCK_CREATE)
            .last()
            .unwrap()
            .error
            .as_deref(),
        Some(codes::MISSING_PARAMETER)
    );
}

#[tokio::test]
async fn lowercase_sign_accepted_when_configured() {
    let lz = Lz::new(LazadaSimConfig {
        accept_lowercase_sign: true,
        ..LazadaSimConfig::default()
    })
    .await;
    let mut params = lz.signed(
        calls::BLOCK_CREATE,
        lz.params(&[("fileName", "a.mp4"), ("fileBytes", "100")]),
    );
    let lower = params["sign"].to_lowercase();
    params.insert("sign".into(), lower);
    ok(&lz
        .send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
        .await);
}

/// block/create with system parameter `k` replaced (or removed), then signed.
async fn send_with(lz: &Lz, k: &str, v: Option<String>) -> Value {
    let mut params = lz.params(&[("fileName", "a.mp4"), ("fileBytes", "100")]);
    match v {
        Some(v) => params.insert(k.into(), v),
        None => params.remove(k),
    };
    let params = lz.signed(calls::BLOCK_CREATE, params);
    lz.send(calls::BLOCK_CREATE, &params, Via::Form, vec![])
        .await
}

#[tokio::test]
async fn app_key_timestamp_and_token_rules() {
    let lz = Lz::default().await;
    gateway_err(
        &send_with(&lz, "app_key", Some("999999".into())).await,
        codes::INVALID_APP_KEY,
    );
    gateway_err(
        &send_with(&lz, "app_key", None).await,
        codes::MISSING_PARAMETER,
    );
    gateway_err(
        &send_with(&lz, "timestamp", None).await,
        codes::MISSING_PARAMETER,
    );
    gateway_err(
        &send_with(&lz, "access_token", None).await,
        codes::MISSING_PARAMETER,
    );
    let v = send_with(&lz, "sign_method", None).await;
    gateway_err(&v, codes::MISSING_PARAMETER);
    assert!(v["message"].as_str().unwrap().contains("sign_method"));

    // Seconds instead of milliseconds.
    let secs = lz.sim.clock().now_secs().to_string();
    gateway_err(
        &send_with(&lz, "timestamp", Some(secs)).await,
        codes::INVALID_TIMESTAMP,
    );
    gateway_err(
        &send_with(&lz, "timestamp", Some("soon".into())).await,
        codes::INVALID_TIMESTAMP,
    );
    // Within 7200 s either way is fine; beyond is not.
    let now = lz.sim.clock().now_millis();
    ok(&send_with(&lz, "timestamp", Some((now - 7_100_000).to_string())).await);
    ok(&send_with(&lz, "timestamp", Some((now + 7_100_000).to_string())).await);
    gateway_err(
        &send_with(&lz, "timestamp", Some((now - 7_300_000).to_string())).await,
        codes::INVALID_TIMESTAMP,
    );
    gateway_err(
        &send_with(&lz, "timestamp", Some((now + 7_300_000).to_string())).await,
        codes::INVALID_TIMESTAMP,
    );

    // Unknown token.
    gateway_err(
        &send_with(&lz, "access_token", Some("nope".into())).await,
        codes::ILLEGAL_ACCESS_TOKEN,
    );
    // The token expires on the sim clock (30 days by default, an online app's); a new one
    // works.
    lz.sim
        .clock()
        .advance(Duration::from_secs(30 * 24 * 3600 + 1));
    let v = send_with(&lz, "access_token", Some(LAZADA_TEST_ACCESS_TOKEN.into())).await;
    gateway_err(&v, codes::ILLEGAL_ACCESS_TOKEN);
    assert_eq!(
        v["message"],
        "The specified access token is invalid or expired"
    );
    let fresh = lz.sim.issue_access_token();
    ok(&send_with(&lz, "access_token", Some(fresh.clone())).await);
    lz.sim.revoke_access_token(&fresh);
    gateway_err(
        &send_with(&lz, "access_token", Some(fresh)).await,
        codes::ILLEGAL_ACCESS_TOKEN,
    );
}

#[tokio::test]
async fn short_token_lifetime_and_iso_timestamps() {
    let lz = Lz::new(LazadaSimConfig {
        access_token_lifetime: Duration::from_secs(60),
        ..LazadaSimConfig::default()
    })
    .await;
    ok(&lz.call(calls::QUOTA_GET, &[]).await);
    lz.sim.clock().advance(Duration::from_secs(61));
    gateway_err(
        &lz.call(calls::QUOTA_GET, &[]).await,
        codes::ILLEGAL_ACCESS_TOKEN,
    );

    // The documented ISO form of the timestamp, far in the past: refused as a timestamp.
    let lz = Lz::default().await;
    let mut params = lz.params(&[]);
    params.insert("timestamp".into(), "2017-11-11T12:00:00Z".into());
    let params = lz.signed(calls::QUOTA_GET, params);
    gateway_err(
        &lz.send(calls::QUOTA_GET, &params, Via::Query, vec![]).await,
        codes::INVALID_TIMESTAMP,
    );
}

#[tokio::test]
async fn unknown_api_path() {
    let lz = Lz::default().await;
    let params = lz.signed("/media/video/nope", lz.params(&[]));
    let v = lz
        .send("/media/video/nope", &params, Via::Query, vec![])
        .await;
    assert_eq!(v["code"], codes::INVALID_API_PATH);
    assert_eq!(v["type"], "SYSTEM");
}

// ---------------------------------------------------------------------------------------------
// Video upload

#[tokio::test]
async fn happy_path_blocks_out_of_order_resend_commit_and_processing() {
    let lz = Lz::default().await;
    let blocks = vec![data(3000, 1), data(3000, 2), data(1234, 3)];
    let whole: Vec<u8> = blocks.concat();
    let upload_id = lz.create(whole.len()).await;
    assert_eq!(upload_id.len(), 32);
    assert!(upload_id
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    assert!(u128::from_str_radix(&upload_id, 16).is_ok());

    // Out of order, and block 1 first sent wrong then re-sent (the re-send replaces it).
    for (no, bytes) in [
        (2, &blocks[2]),
        (1, &data(3000, 9)),
        (0, &blocks[0]),
        (1, &blocks[1]),
    ] {
        let v = lz.block(&upload_id, &no.to_string(), "3", bytes).await;
        ok(&v);
        assert_eq!(v["success"], true);
        assert_eq!(v["result_code"], "");
        assert_eq!(v["e_tag"], md5_upper(bytes));
    }
    let received = lz.sim.blocks_received(&upload_id);
    let seen: Vec<(&str, usize)> = received
        .iter()
        .map(|b| (b.block_no.as_str(), b.size))
        .collect();
    assert_eq!(
        seen,
        vec![("2", 1234), ("1", 3000), ("0", 3000), ("1", 3000)]
    );
    let info = lz.sim.upload(&upload_id).unwrap();
    assert_eq!(info.block_count, Some(3));
    assert_eq!(info.blocks, vec![(0, 3000), (1, 3000), (2, 1234)]);

    // Wire log: file field sizes, blockNo as sent, file not among the params.
    let ups = lz.sim.wire().calls(calls::BLOCK_UPLOAD);
    assert_eq!(ups.len(), 4);
    assert_eq!(ups[0].files, vec![("file".to_string(), 1234)]);
    assert_eq!(ups[0].param("blockNo"), Some("2"));
    assert!(ups[0].param("file").is_none());

    // Lowercase eTags are accepted at commit.
    let parts = parts_json(&blocks)
        .to_lowercase()
        .replace("partnumber", "partNumber")
        .replace("etag", "eTag");
    let v = lz.commit(&upload_id, &parts).await;
    ok(&v);
    assert_eq!(v["success"], true);
    let video_id = v["video_id"].as_str().unwrap().to_string();
    assert!(video_id.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(lz.sim.video_bytes(&video_id).unwrap(), whole);
    let payload = lz.sim.commit_payload(&upload_id).unwrap();
    assert_eq!(payload.parts.len(), 3);
    assert_eq!(payload.parts[0].part_number, 1);
    assert_eq!(payload.title, "hello");
    assert_eq!(payload.video_usage.as_deref(), Some("pro_main_video"));
    assert_eq!(
        lz.sim.upload(&upload_id).unwrap().video_id.as_deref(),
        Some(video_id.as_str())
    );

    // Processing, on the movable clock: 200 ms queue, 300 ms transcoding, 200 ms audit.
    let states = [
        (0, "READY_FOR_TRANSCODE"),
        (250, "TRANSCODING"),
        (300, "READY_FOR_AUDIT"),
        (200, "AUDIT_SUCCESS"),
    ];
    for (advance, state) in states {
        lz.sim.clock().advance(Duration::from_millis(advance));
        let v = lz.get_video(&video_id).await;
        ok(&v);
        assert_eq!(v["state"], state, "{v}");
        assert_eq!(v["title"], "hello");
        assert_eq!(v["cover_url"], "https://img.example/cover.png");
        let url = v["video_url"].as_str().unwrap();
        assert_eq!(
            url.is_empty(),
            state == "READY_FOR_TRANSCODE" || state == "TRANSCODING"
        );
    }
    assert_eq!(
        lz.sim.video_state(&video_id),
        Some(VideoState::AuditSuccess)
    );

    // Quota counts the assembled size.
    let q = lz.call(calls::QUOTA_GET, &[]).await;
    ok(&q);
    assert_eq!(q["used_size"], whole.len() as u64);
    assert_eq!(q["capacity_size"], 10u64 * 1024 * 1024 * 1024);

    let c = lz.sim.counters();
    assert_eq!(c.blocks_accepted, 4);
    assert_eq!(c.videos_committed, 1);
    assert_eq!(lz.sim.wire().count(calls::BLOCK_COMMIT), 1);
}

#[tokio::test]
async fn block_create_rules() {
    let lz = Lz::default().await;
    // "less than 100M": 100,000,000 bytes is refused, one byte less is accepted.
    let max = 100_000_000 - 1;
    ok(&lz
        .call(
            calls::BLOCK_CREATE,
            &[("fileName", "a.mp4"), ("fileBytes", &max.to_string())],
        )
        .await);
    media_err(
        &lz.call(
            calls::BLOCK_CREATE,
            &[("fileName", "a.mp4"), ("fileBytes", &(max + 1).to_string())],
        )
        .await,
        codes::FAIL_TO_BLOCK_INIT,
    );
    media_err(
        &lz.call(
            calls::BLOCK_CREATE,
            &[("fileName", "a.mp4"), ("fileBytes", "12MB")],
        )
        .await,
        codes::ILLEGAL_PARAMETER,
    );
    media_err(
        &lz.call(
            calls::BLOCK_CREATE,
            &[("fileName", "a.mp4"), ("fileBytes", "0")],
        )
        .await,
        codes::ILLEGAL_PARAMETER,
    );
    let v = lz.call(calls::BLOCK_CREATE, &[("fileBytes", "10")]).await;
    gateway_err(&v, codes::MISSING_PARAMETER);
    assert!(v["message"].as_str().unwrap().contains("fileName"));
    gateway_err(
        &lz.call(calls::BLOCK_CREATE, &[("fileName", "a.mp4")]).await,
        codes::MISSING_PARAMETER,
    );
}

#[tokio::test]
async fn block_upload_rules() {
    let lz = Lz::new(LazadaSimConfig {
        max_block_bytes: 1024,
        ..LazadaSimConfig::default()
    })
    .await;
    let upload_id = lz.create(3000).await;
    // blockNo is 0-based: blockNo == blockCount is out of range.
    media_err(
        &lz.block(&upload_id, "3", "3", &data(10, 0)).await,
        codes::ILLEGAL_PARAMETER,
    );
    media_err(
        &lz.block(&upload_id, "-1", "3", &data(10, 0)).await,
        codes::ILLEGAL_PARAMETER,
    );
    media_err(
        &lz.block(&upload_id, "x", "3", &data(10, 0)).await,
        codes::ILLEGAL_PARAMETER,
    );
    media_err(
        &lz.block(&upload_id, "0", "0", &data(10, 0)).await,
        codes::ILLEGAL_PARAMETER,
    );
    // Over the max block size.
    media_err(
        &lz.block(&upload_id, "0", "3", &data(1025, 0)).await,
        codes::FAIL_TO_UPLOAD_BLOCK,
    );
    ok(&lz.block(&upload_id, "0", "3", &data(1024, 0)).await);
    // blockCount must stay the same.
    media_err(
        &lz.block(&upload_id, "1", "4", &data(10, 0)).await,
        codes::ILLEGAL_PARAMETER,
    );
    // Empty block.
    media_err(
        &lz.block(&upload_id, "1", "3", &[]).await,
        codes::ILLEGAL_PARAMETER,
    );
    // Unknown upload.
    media_err(
        &lz.block("0123456789ABCDEF0123456789ABCDEF", "0", "1", &data(10, 0))
            .await,
        codes::FAIL_TO_UPLOAD_BLOCK,
    );
    // No file field.
    let params = lz.signed(
        calls::BLOCK_UPLOAD,
        lz.params(&[
            ("uploadId", &upload_id),
            ("blockNo", "1"),
            ("blockCount", "3"),
        ]),
    );
    let v = lz
        .send(calls::BLOCK_UPLOAD, &params, Via::Multipart, vec![])
        .await;
    gateway_err(&v, codes::MISSING_PARAMETER);
    assert!(v["message"].as_str().unwrap().contains("\"file\""));
    // Only the accepted block is stored.
    assert_eq!(lz.sim.upload(&upload_id).unwrap().blocks, vec![(0, 1024)]);
    assert_eq!(lz.sim.blocks_received(&upload_id).len(), 1);

    // The upload expires after 24 h on the sim clock.
    lz.sim.clock().advance(Duration::from_secs(24 * 3600 + 1));
    media_err(
        &lz.block(&upload_id, "1", "3", &data(10, 0)).await,
        codes::FAIL_TO_UPLOAD_BLOCK,
    );
}

#[tokio::test]
async fn commit_rules() {
    let lz = Lz::default().await;
    let blocks = vec![data(100, 1), data(100, 2), data(50, 3)];
    let upload_id = lz.create(250).await;

    // Nothing uploaded yet.
    media_err(
        &lz.commit(&upload_id, &parts_json(&blocks)).await,
        codes::FAIL_TO_BLOCK_COMPLETE,
    );
    for (i, b) in blocks.iter().enumerate() {
        ok(&lz.block(&upload_id, &i.to_string(), "3", b).await);
    }
    let e: Vec<String> = blocks.iter().map(|b| md5_upper(b)).collect();

    // 0-based part numbers.
    let zero_based = format!(
        r#"[{{"partNumber":0,"eTag":"{}"}},{{"partNumber":1,"eTag":"{}"}},{{"partNumber":2,"eTag":"{}"}}]"#,
        e[0], e[1], e[2]
    );
    let v = lz.commit(&upload_id, &zero_based).await;
    media_err(&v, codes::FAIL_TO_VALIDATE);
    assert!(v["message"].as_str().unwrap().contains("1-based"));
    // A part missing.
    let missing = format!(
        r#"[{{"partNumber":1,"eTag":"{}"}},{{"partNumber":2,"eTag":"{}"}}]"#,
        e[0], e[1]
    );
    media_err(
        &lz.commit(&upload_id, &missing).await,
        codes::FAIL_TO_VALIDATE,
    );
    // Out of order.
    let swapped = format!(
        r#"[{{"partNumber":2,"eTag":"{}"}},{{"partNumber":1,"eTag":"{}"}},{{"partNumber":3,"eTag":"{}"}}]"#,
        e[1], e[0], e[2]
    );
    media_err(
        &lz.commit(&upload_id, &swapped).await,
        codes::FAIL_TO_VALIDATE,
    );
    // A wrong eTag.
    let wrong = format!(
        r#"[{{"partNumber":1,"eTag":"{}"}},{{"partNumber":2,"eTag":"{}"}},{{"partNumber":3,"eTag":"{}"}}]"#,
        e[0], e[0], e[2]
    );
    media_err(
        &lz.commit(&upload_id, &wrong).await,
        codes::FAIL_TO_VALIDATE,
    );
    // Not JSON.
    media_err(
        &lz.commit(&upload_id, "1,2,3").await,
        codes::ILLEGAL_PARAMETER,
    );
    // The last parsed commit is kept even when refused.
    assert_eq!(
        lz.sim.commit_payload(&upload_id).unwrap().parts[0].e_tag,
        e[0]
    );

    // Required fields and videoUsage values.
    let good = parts_json(&blocks);
    for missing in ["uploadId", "parts", "title", "coverUrl"] {
        let mut business = vec![
            ("uploadId", upload_id.as_str()),
            ("parts", good.as_str()),
            ("title", "t"),
            ("coverUrl", "https://img.example/c.png"),
        ];
        business.retain(|(k, _)| *k != missing);
        let v = lz.call(calls::BLOCK_COMMIT, &business).await;
        gateway_err(&v, codes::MISSING_PARAMETER);
        assert!(v["message"].as_str().unwrap().contains(missing));
    }
    let bad_usage = lz
        .call(
            calls::BLOCK_COMMIT,
            &[
                ("uploadId", &upload_id),
                ("parts", &good),
                ("title", "t"),
                ("coverUrl", "https://img.example/c.png"),
                ("videoUsage", "main"),
            ],
        )
        .await;
    media_err(&bad_usage, codes::ILLEGAL_PARAMETER);

    // partNumber as a numeric string and videoUsage im are accepted; the commit succeeds once.
    let as_strings = good.replace(r#""partNumber":1"#, r#""partNumber":"1""#);
    let v = lz
        .call(
            calls::BLOCK_COMMIT,
            &[
                ("uploadId", &upload_id),
                ("parts", &as_strings),
                ("title", "t"),
                ("coverUrl", "https://img.example/c.png"),
                ("videoUsage", "im"),
            ],
        )
        .await;
    ok(&v);
    let video_id = v["video_id"].as_str().unwrap();
    assert_eq!(lz.sim.video(video_id).unwrap().video_usage, "im");
    assert_eq!(lz.sim.video_bytes(video_id).unwrap(), blocks.concat());
    // A second commit, and any block after commit, are refused.
    media_err(
        &lz.commit(&upload_id, &good).await,
        codes::FAIL_TO_BLOCK_COMPLETE,
    );
    media_err(
        &lz.block(&upload_id, "0", "3", &blocks[0]).await,
        codes::FAIL_TO_UPLOAD_BLOCK,
    );
    // Unknown upload.
    media_err(
        &lz.commit("0123456789ABCDEF0123456789ABCDEF", &good).await,
        codes::FAIL_TO_BLOCK_COMPLETE,
    );
}

#[tokio::test]
async fn commit_size_must_equal_file_bytes() {
    let lz = Lz::default().await;
    let blocks = vec![data(100, 1)];
    let upload_id = lz.create(101).await;
    ok(&lz.block(&upload_id, "0", "1", &blocks[0]).await);
    let v = lz.commit(&upload_id, &parts_json(&blocks)).await;
    media_err(&v, codes::FAIL_TO_BLOCK_COMPLETE);
    assert!(v["message"].as_str().unwrap().contains("101"));
}

#[tokio::test]
async fn recommit_returns_the_same_video_when_configured() {
    let lz = Lz::new(LazadaSimConfig {
        recommit_returns_video: true,
        ..LazadaSimConfig::default()
    })
    .await;
    let blocks = vec![data(10, 1)];
    let (upload_id, video_id) = lz.upload_video(&blocks).await;
    let v = lz.commit(&upload_id, &parts_json(&blocks)).await;
    ok(&v);
    assert_eq!(v["video_id"], video_id);
    assert_eq!(lz.sim.counters().videos_committed, 1);
}

#[tokio::test]
async fn quota_is_enforced_and_released_by_remove() {
    let lz = Lz::new(LazadaSimConfig {
        quota_capacity_bytes: 1000,
        quota_used_bytes: 500,
        ..LazadaSimConfig::default()
    })
    .await;
    let (_, video_id) = lz.upload_video(&[data(400, 1)]).await;
    let q = lz.call(calls::QUOTA_GET, &[]).await;
    assert_eq!(
        (q["capacity_size"].as_u64(), q["used_size"].as_u64()),
        (Some(1000), Some(900))
    );

    // 900 + 200 > 1000.
    let blocks = vec![data(200, 2)];
    let upload_id = lz.create(200).await;
    ok(&lz.block(&upload_id, "0", "1", &blocks[0]).await);
    media_err(
        &lz.commit(&upload_id, &parts_json(&blocks)).await,
        codes::FAIL_TO_ADD_VIDEO,
    );

    // Removing frees the space; the video then reads DELETED.
    let v = lz
        .call(calls::VIDEO_REMOVE, &[("videoId", &video_id)])
        .await;
    ok(&v);
    assert_eq!(v["success"], true);
    assert_eq!(lz.sim.quota(), (1000, 500));
    assert_eq!(lz.get_video(&video_id).await["state"], "DELETED");
    ok(&lz
        .call(calls::VIDEO_REMOVE, &[("videoId", &video_id)])
        .await);
    assert_eq!(lz.sim.quota(), (1000, 500));
    ok(&lz.commit(&upload_id, &parts_json(&blocks)).await);
    assert_eq!(lz.sim.quota(), (1000, 700));
    media_err(
        &lz.call(calls::VIDEO_REMOVE, &[("videoId", "123")]).await,
        codes::FAIL_TO_GET_VIDEO,
    );
}

#[tokio::test]
async fn video_get_unknown_and_failure_outcomes() {
    let lz = Lz::new(LazadaSimConfig {
        video_outcome: VideoOutcome::TranscodeFailed,
        ..LazadaSimConfig::default()
    })
    .await;
    media_err(&lz.get_video("42").await, codes::FAIL_TO_GET_VIDEO);
    gateway_err(
        &lz.call(calls::VIDEO_GET, &[]).await,
        codes::MISSING_PARAMETER,
    );

    let (_, failing) = lz.upload_video(&[data(10, 1)]).await;
    let (_, audit_fails) = lz.upload_video(&[data(10, 2)]).await;
    assert!(lz
        .sim
        .set_video_outcome(&audit_fails, VideoOutcome::AuditFailed));
    lz.sim.clock().advance(Duration::from_millis(550));
    assert_eq!(lz.get_video(&failing).await["state"], "TRANSCODE_FAILED");
    assert_eq!(lz.get_video(&audit_fails).await["state"], "READY_FOR_AUDIT");
    lz.sim.clock().advance(Duration::from_millis(200));
    assert_eq!(lz.get_video(&failing).await["state"], "TRANSCODE_FAILED");
    let v = lz.get_video(&audit_fails).await;
    assert_eq!(v["state"], "AUDIT_FAILED");
    assert!(VideoState::AuditFailed.is_terminal());
}

#[tokio::test]
async fn business_failures_with_code_zero_when_configured() {
    let lz = Lz::new(LazadaSimConfig {
        business_failures_as_code_zero: true,
        ..LazadaSimConfig::default()
    })
    .await;
    let v = lz.get_video("42").await;
    assert_eq!(v["code"], "0");
    assert_eq!(v["success"], false);
    assert_eq!(v["result_code"], codes::FAIL_TO_GET_VIDEO);
    assert!(v["result_message"].as_str().is_some_and(|m| !m.is_empty()));
    // The wire log still records the failure's code.
    assert_eq!(
        lz.sim.wire().calls(calls::VIDEO_GET)[0].error.as_deref(),
        Some(codes::FAIL_TO_GET_VIDEO)
    );
    // Gateway errors keep their code.
    gateway_err(
        &lz.call(calls::VIDEO_GET, &[]).await,
        codes::MISSING_PARAMETER,
    );
}

// ---------------------------------------------------------------------------------------------
// Images

fn png(width: u32, height: u32, extra: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.extend(data(extra, 7));
    b
}

fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
    b.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&width.to_be_bytes());
    b.extend(data(64, 3));
    b
}

async fn upload_image(lz: &Lz, bytes: Vec<u8>) -> Value {
    let params = lz.signed(calls::IMAGE_UPLOAD, lz.params(&[]));
    lz.send(
        calls::IMAGE_UPLOAD,
        &params,
        Via::Multipart,
        vec![("image", bytes)],
    )
    .await
}

#[tokio::test]
async fn image_upload_rules() {
    let lz = Lz::new(LazadaSimConfig {
        max_image_bytes: 10_000,
        ..LazadaSimConfig::default()
    })
    .await;
    let img = png(800, 800, 100);
    let v = upload_image(&lz, img.clone()).await;
    ok(&v);
    assert!(v.get("success").is_none());
    let hash = hex::encode(Md5::digest(&img));
    assert_eq!(v["data"]["image"]["hash_code"], hash);
    assert!(v["data"]["image"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{hash}.png")));
    ok(&upload_image(&lz, jpeg(5000, 5000)).await);

    gateway_err(
        &upload_image(&lz, b"GIF89a....".to_vec()).await,
        codes::ILLEGAL_PARAMETER,
    );
    gateway_err(
        &upload_image(&lz, png(10, 10, 10_000)).await,
        codes::ILLEGAL_PARAMETER,
    );
    gateway_err(
        &upload_image(&lz, png(5001, 10, 0)).await,
        codes::ILLEGAL_PARAMETER,
    );
    gateway_err(
        &upload_image(&lz, jpeg(10, 5001)).await,
        codes::ILLEGAL_PARAMETER,
    );
    let params = lz.signed(calls::IMAGE_UPLOAD, lz.params(&[]));
    gateway_err(
        &lz.send(
            calls::IMAGE_UPLOAD,
            &params,
            Via::Multipart,
            vec![("file", img)],
        )
        .await,
        codes::MISSING_PARAMETER,
    );
    assert_eq!(lz.sim.images().len(), 2);
    assert_eq!(
        lz.sim.wire().calls(calls::IMAGE_UPLOAD)[0].files,
        vec![("image".to_string(), 133)]
    );
}

#[tokio::test]
async fn image_migrate_rules() {
    let lz = Lz::default().await;
    let payload = "<Request><Image><Url>https://example.com/a.png</Url></Image></Request>";
    let v = lz.call(calls::IMAGE_MIGRATE, &[("payload", payload)]).await;
    ok(&v);
    assert!(v["data"]["image"]["url"]
        .as_str()
        .unwrap()
        .ends_with(".png"));
    assert!(v["data"]["image"]["hash_code"].as_str().is_some());
    gateway_err(
        &lz.call(calls::IMAGE_MIGRATE, &[("payload", "<Request></Request>")])
            .await,
        codes::ILLEGAL_PARAMETER,
    );
    gateway_err(
        &lz.call(
            calls::IMAGE_MIGRATE,
            &[(
                "payload",
                "<Request><Image><Url>ftp://x/a.jpg</Url></Image></Request>",
            )],
        )
        .await,
        codes::ILLEGAL_PARAMETER,
    );
    gateway_err(
        &lz.call(calls::IMAGE_MIGRATE, &[]).await,
        codes::MISSING_PARAMETER,
    );
}

// ---------------------------------------------------------------------------------------------
// Launch helper for the binary

#[tokio::test]
async fn launch_gives_base_url_and_credentials() {
    let running = launch(LazadaSimConfig::default(), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    assert!(running.info.base_url.ends_with("/rest"));
    assert_eq!(
        running.info.base_url,
        LazadaSim::rest_base_url(&running.server)
    );
    assert_eq!(running.info.credentials.app_key, LAZADA_TEST_APP_KEY);
    assert_eq!(running.info.credentials.sign_method, "sha256");
    let json = serde_json::to_value(&running.info).unwrap();
    assert_eq!(json["platform"], "lazada");
    assert_eq!(
        json["credentials"]["access_token"],
        LAZADA_TEST_ACCESS_TOKEN
    );
    assert_eq!(running.sim.credentials(), running.info.credentials);
}

// ---------------------------------------------------------------------------------------------
// Bodies

#[tokio::test]
async fn real_sized_blocks_and_body_limits() {
    let lz = Lz::new(LazadaSimConfig {
        max_request_bytes: 6 * 1024 * 1024,
        ..LazadaSimConfig::default()
    })
    .await;
    // 3 MiB + 3 MiB + 1 MiB: above axum's default 2 MB extractor limit.
    let blocks = vec![
        data(3 * 1024 * 1024, 1),
        data(3 * 1024 * 1024, 2),
        data(1024 * 1024, 3),
    ];
    let (_, video_id) = lz.upload_video(&blocks).await;
    assert_eq!(lz.sim.video_bytes(&video_id).unwrap(), blocks.concat());
    // 5 MiB + 1 is over the default max block size.
    let upload_id = lz.create(6 * 1024 * 1024).await;
    media_err(
        &lz.block(&upload_id, "0", "2", &data(5 * 1024 * 1024 + 1, 0))
            .await,
        codes::FAIL_TO_UPLOAD_BLOCK,
    );
    // A body over max_request_bytes is cut off with HTTP 413, as a front proxy does.
    let params = lz.signed(
        calls::BLOCK_UPLOAD,
        lz.params(&[
            ("uploadId", &upload_id),
            ("blockNo", "0"),
            ("blockCount", "2"),
        ]),
    );
    let mut form = Form::new();
    for (k, v) in &params {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part("file", Part::bytes(data(7 * 1024 * 1024, 0)).file_name("b"));
    let resp = lz
        .http
        .post(format!("{}{}", lz.base, calls::BLOCK_UPLOAD))
        .multipart(form)
        .send()
        .await;
    if let Ok(resp) = resp {
        // The server may also close the connection before the client finishes sending.
        assert_eq!(resp.status(), 413);
    }
    let last = lz.sim.wire().calls(calls::BLOCK_UPLOAD).pop().unwrap();
    assert_eq!(last.status, 413);
}

#[tokio::test]
async fn malformed_multipart_body() {
    let lz = Lz::default().await;
    let v: Value = lz
        .http
        .post(format!("{}{}", lz.base, calls::BLOCK_CREATE))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    gateway_err(&v, codes::INVALID_PARAMETER);
}
