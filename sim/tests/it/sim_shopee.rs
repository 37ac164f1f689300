//! Drives the Shopee simulator over real HTTP, signing by hand, and proves every rule it
//! enforces.

use std::time::Duration;

use hmac::{Hmac, Mac};
use marketmedia_sim::fixtures::{
    sample_gif, sample_jpeg, sample_mp4, sample_png, write_sample_mp4,
};
use marketmedia_sim::shopee::{
    Module, ShopeeSim, ShopeeSimConfig, UploadStatus, TEST_ACCESS_TOKEN, TEST_ACCESS_TOKEN_2,
    TEST_PARTNER_ID, TEST_PARTNER_KEY, TEST_SHOP_ID, TEST_SHOP_ID_2,
};
use marketmedia_sim::SimServer;
use md5::{Digest, Md5};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use sha2::Sha256;

const PREFIX: &str = "/api/v2/media_space/";
const MEDIA_PREFIX: &str = "/api/v2/media/";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn hmac_hex(key: &str, msg: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

/// The query-string authentication of one request; tests tamper with its fields.
#[derive(Clone, Debug)]
struct Auth {
    partner_id: String,
    timestamp: String,
    /// `(access_token, shop_id)` for the shop shape.
    shop: Option<(String, String)>,
    key: String,
    /// Overrides the computed signature.
    sign: Option<String>,
    /// Leave these parameters out of the query.
    omit: Vec<&'static str>,
}

struct H {
    sim: ShopeeSim,
    _server: SimServer,
    base: String,
    http: reqwest::Client,
}

type Answer = (u16, Value);

impl H {
    async fn start(config: ShopeeSimConfig) -> H {
        let sim = ShopeeSim::new(config);
        let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        H {
            sim,
            base: server.base_url(),
            _server: server,
            http: reqwest::Client::new(),
        }
    }

    async fn small() -> H {
        H::start(ShopeeSimConfig {
            part_size: 64 * KIB as u64,
            ..Default::default()
        })
        .await
    }

    fn public(&self) -> Auth {
        Auth {
            partner_id: TEST_PARTNER_ID.to_string(),
            timestamp: self.sim.clock().now_secs().to_string(),
            shop: None,
            key: TEST_PARTNER_KEY.to_string(),
            sign: None,
            omit: Vec::new(),
        }
    }

    fn shop(&self) -> Auth {
        Auth {
            shop: Some((TEST_ACCESS_TOKEN.to_string(), TEST_SHOP_ID.to_string())),
            ..self.public()
        }
    }

    /// The URL of `call`: a `media_space` call by its name, a `media` one as `media/{name}`.
    fn url(&self, call: &str, auth: &Auth, extra: &[(&str, &str)]) -> String {
        let path = match call.strip_prefix("media/") {
            Some(name) => format!("{MEDIA_PREFIX}{name}"),
            None => format!("{PREFIX}{call}"),
        };
        let mut base = format!("{}{}{}", auth.partner_id, path, auth.timestamp);
        if let Some((token, shop)) = &auth.shop {
            base.push_str(token);
            base.push_str(shop);
        }
        let sign = auth
            .sign
            .clone()
            .unwrap_or_else(|| hmac_hex(&auth.key, &base));
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let mut pairs = vec![
            ("partner_id", auth.partner_id.clone()),
            ("timestamp", auth.timestamp.clone()),
            ("sign", sign),
        ];
        if let Some((token, shop)) = &auth.shop {
            pairs.push(("access_token", token.clone()));
            pairs.push(("shop_id", shop.clone()));
        }
        for (k, v) in pairs {
            if !auth.omit.contains(&k) {
                q.append_pair(k, &v);
            }
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        format!("{}{}?{}", self.base, path, q.finish())
    }

    async fn answer(resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        for key in ["error", "message", "warning", "request_id", "response"] {
            assert!(body.get(key).is_some(), "envelope lacks {key}: {body}");
        }
        assert!(!body["request_id"].as_str().unwrap().is_empty());
        (status, body)
    }

    async fn post_json(&self, call: &str, auth: &Auth, body: Value) -> Answer {
        let resp = self
            .http
            .post(self.url(call, auth, &[]))
            .json(&body)
            .send()
            .await
            .unwrap();
        H::answer(resp).await
    }

    async fn post_form(&self, call: &str, auth: &Auth, form: Form) -> Answer {
        let resp = self
            .http
            .post(self.url(call, auth, &[]))
            .multipart(form)
            .send()
            .await
            .unwrap();
        H::answer(resp).await
    }

    async fn get(&self, call: &str, auth: &Auth, extra: &[(&str, &str)]) -> Answer {
        let resp = self
            .http
            .get(self.url(call, auth, extra))
            .send()
            .await
            .unwrap();
        H::answer(resp).await
    }

    async fn init(&self, file: &[u8]) -> String {
        let a = self
            .post_json(
                "init_video_upload",
                &self.shop(),
                json!({"file_md5": md5_hex(file), "file_size": file.len()}),
            )
            .await;
        ok(&a);
        a.1["response"]["video_upload_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn put_part_as(&self, auth: &Auth, id: &str, seq: &str, bytes: &[u8]) -> Answer {
        let form = Form::new()
            .text("video_upload_id", id.to_string())
            .text("part_seq", seq.to_string())
            .text("content_md5", md5_hex(bytes))
            .part(
                "part_content",
                Part::bytes(bytes.to_vec()).file_name("part.bin"),
            );
        self.post_form("upload_video_part", auth, form).await
    }

    async fn put_part(&self, id: &str, seq: usize, bytes: &[u8]) -> Answer {
        self.put_part_as(&self.public(), id, &seq.to_string(), bytes)
            .await
    }

    async fn upload_all(&self, id: &str, file: &[u8]) {
        let size = self.sim.config().part_size as usize;
        for (i, chunk) in file.chunks(size).enumerate() {
            ok(&self.put_part(id, i, chunk).await);
        }
    }

    async fn complete_as(&self, auth: &Auth, id: &str, parts: usize) -> Answer {
        let list: Vec<usize> = (0..parts).collect();
        self.post_json(
            "complete_video_upload",
            auth,
            json!({"video_upload_id": id, "part_seq_list": list, "report_data": {"upload_cost": 1234}}),
        )
        .await
    }

    async fn complete(&self, id: &str, parts: usize) -> Answer {
        self.complete_as(&self.public(), id, parts).await
    }

    async fn result(&self, id: &str) -> Value {
        let a = self
            .get(
                "get_video_upload_result",
                &self.shop(),
                &[("video_upload_id", id)],
            )
            .await;
        ok(&a);
        a.1["response"].clone()
    }

    /// Uploads and completes `file`, then moves the clock past the transcoding delay.
    async fn upload_and_finish(&self, file: &[u8]) -> (String, Value) {
        let id = self.init(file).await;
        self.upload_all(&id, file).await;
        let parts = file.len().div_ceil(self.sim.config().part_size as usize);
        ok(&self.complete(&id, parts).await);
        self.sim.clock().advance(Duration::from_secs(1));
        let r = self.result(&id).await;
        (id, r)
    }
}

#[track_caller]
fn ok(a: &Answer) {
    assert_eq!(a.1["error"], "", "expected success, got {}", a.1);
    assert_eq!(a.0, 200, "{}", a.1);
}

#[track_caller]
fn err(a: &Answer, code: &str, status: u16) {
    assert_eq!(a.1["error"], code, "{}", a.1);
    assert_eq!(a.0, status, "{}", a.1);
    assert!(!a.1["message"].as_str().unwrap().is_empty(), "{}", a.1);
}

fn video(secs: u64, size: usize) -> Vec<u8> {
    sample_mp4(Duration::from_secs(secs), size as u64).unwrap()
}

// ------------------------------------------------------------------------------------------
// Happy paths

#[tokio::test]
async fn video_happy_path_with_real_4mib_parts() {
    let h = H::start(ShopeeSimConfig::default()).await;
    let file = video(15, 2 * 4 * MIB + 1000);
    let id = h.init(&file).await;
    assert!(id.starts_with("sg_") && id.ends_with("_000000"), "{id}");
    assert_eq!(id.len(), "sg_".len() + 36 + "_000000".len());
    assert_eq!(h.result(&id).await["status"], "INITIATED");

    // Out of order: last part first.
    let chunks: Vec<&[u8]> = file.chunks(4 * MIB).collect();
    ok(&h.put_part(&id, 2, chunks[2]).await);
    ok(&h.put_part(&id, 0, chunks[0]).await);
    ok(&h.put_part(&id, 1, chunks[1]).await);
    let parts = h.sim.parts(&id).unwrap();
    assert_eq!(
        parts
            .iter()
            .map(|p| (p.part_seq, p.size))
            .collect::<Vec<_>>(),
        vec![(0, 4 * MIB), (1, 4 * MIB), (2, 1000)]
    );

    ok(&h.complete(&id, 3).await);
    assert_eq!(h.result(&id).await["status"], "TRANSCODING");
    assert_eq!(h.sim.upload_status(&id), Some(UploadStatus::Transcoding));
    assert_eq!(
        h.sim.assembled_bytes(&id).unwrap().as_ref(),
        file.as_slice()
    );

    // The delay is real time on the sim clock: a short sleep finishes it too.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let r = h.result(&id).await;
    assert_eq!(r["status"], "SUCCEEDED", "{r}");
    let info = &r["video_info"];
    assert_eq!(info["duration"], 15);
    assert_eq!(info["video_url_list"][0]["video_url_region"], "SG");
    assert!(info["video_url_list"][0]["video_url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert_eq!(info["thumbnail_url_list"][0]["image_url_region"], "SG");
    assert!(info["thumbnail_url_list"][0]["image_url"].is_string());

    // The wire log has every call with its parameters as sent and file sizes.
    let wire = h.sim.wire();
    assert_eq!(wire.count("init_video_upload"), 1);
    let part_calls = wire.calls("upload_video_part");
    assert_eq!(part_calls.len(), 3);
    assert_eq!(part_calls[0].param("part_seq"), Some("2"));
    assert_eq!(
        part_calls[0].files,
        vec![("part_content".to_string(), 1000)]
    );
    assert_eq!(part_calls[0].platform, "shopee");
    assert!(part_calls[0].param("sign").is_some());
    let complete = &wire.calls("complete_video_upload")[0];
    assert_eq!(complete.param("part_seq_list"), Some("[0,1,2]"));
    assert_eq!(
        complete.param("report_data"),
        Some(r#"{"upload_cost":1234}"#)
    );
    assert_eq!(complete.status, 200);
    assert_eq!(complete.error, None);
    assert_eq!(wire.file_bytes(), file.len());

    let snap = h.sim.upload(&id).unwrap();
    assert_eq!(snap.upload_cost, Some(1234));
    assert_eq!(snap.part_seq_list, Some(vec![0, 1, 2]));
    assert_eq!(snap.duration_secs, Some(15.0));
    let c = h.sim.counters();
    assert_eq!(c.sessions_initiated, 1);
    assert_eq!(c.sessions_completed, 1);
    assert_eq!(c.parts_accepted, 3);
    assert_eq!(c.part_bytes_accepted, file.len() as u64);
}

#[tokio::test]
async fn public_type_calls_accept_the_shop_shape_too() {
    let h = H::small().await;
    let file = video(20, 3 * 64 * KIB);
    let id = h.init(&file).await;
    let chunks: Vec<&[u8]> = file.chunks(64 * KIB).collect();
    // Mixed: shop shape, public shape, shop shape.
    ok(&h.put_part_as(&h.shop(), &id, "0", chunks[0]).await);
    ok(&h.put_part_as(&h.public(), &id, "1", chunks[1]).await);
    ok(&h.put_part_as(&h.shop(), &id, "2", chunks[2]).await);
    ok(&h.complete_as(&h.shop(), &id, 3).await);
    h.sim.clock().advance(Duration::from_secs(1));
    assert_eq!(h.result(&id).await["status"], "SUCCEEDED");
    let calls = h.sim.wire().calls("upload_video_part");
    assert_eq!(
        calls[0].param("shop_id"),
        Some(TEST_SHOP_ID.to_string().as_str())
    );
    assert_eq!(calls[1].param("shop_id"), None);
}

#[tokio::test]
async fn public_type_calls_in_shop_shape_check_the_shop_signature_and_token() {
    let h = H::small().await;
    let file = video(20, 64 * KIB + 5);
    let id = h.init(&file).await;
    let part = &file[..64 * KIB];

    // Shop parameters present, but signed the public way → error_sign.
    let mut a = h.shop();
    a.sign = Some(hmac_hex(
        TEST_PARTNER_KEY,
        &format!("{}{PREFIX}upload_video_part{}", a.partner_id, a.timestamp),
    ));
    err(&h.put_part_as(&a, &id, "0", part).await, "error_sign", 403);

    // Shop shape with an unknown token → error_auth.
    let mut a = h.shop();
    a.shop = Some(("nope".into(), TEST_SHOP_ID.to_string()));
    let r = h.put_part_as(&a, &id, "0", part).await;
    err(&r, "error_auth", 403);
    assert_eq!(r.1["message"], "Invalid access_token.");

    // Only one of the two shop parameters → error_param naming the other.
    let mut a = h.shop();
    a.omit = vec!["shop_id"];
    let r = h.put_part_as(&a, &id, "0", part).await;
    err(&r, "error_param", 400);
    assert_eq!(r.1["message"], "There is no shop_id in query.");
}

#[tokio::test]
async fn shop_type_calls_require_the_shop_shape() {
    let h = H::small().await;
    let file = video(20, 1000);
    for call in ["init_video_upload", "cancel_video_upload"] {
        let r = h
            .post_json(
                call,
                &h.public(),
                json!({"file_md5": md5_hex(&file), "file_size": 1000, "video_upload_id": "x"}),
            )
            .await;
        err(&r, "error_param", 400);
        assert_eq!(r.1["message"], "There is no access_token in query.");
    }
    let r = h
        .get(
            "get_video_upload_result",
            &h.public(),
            &[("video_upload_id", "x")],
        )
        .await;
    err(&r, "error_param", 400);
    let form = Form::new().part("image", Part::bytes(sample_jpeg(100)).file_name("a.jpg"));
    err(
        &h.post_form("upload_image", &h.public(), form).await,
        "error_param",
        400,
    );
}

// ------------------------------------------------------------------------------------------
// Common checks

#[tokio::test]
async fn signature_partner_and_timestamp_checks() {
    let h = H::small().await;
    let body = json!({"file_md5": md5_hex(b"x"), "file_size": 1});
    let call = "init_video_upload";

    // Wrong key, tampered sign, uppercase sign.
    let mut a = h.shop();
    a.key = "wrong".into();
    err(
        &h.post_json(call, &a, body.clone()).await,
        "error_sign",
        403,
    );
    let mut a = h.shop();
    a.sign = Some("0".repeat(64));
    let r = h.post_json(call, &a, body.clone()).await;
    err(&r, "error_sign", 403);
    assert_eq!(r.1["message"], "Wrong sign.");
    let mut a = h.shop();
    let good = {
        let (t, s) = a.shop.clone().unwrap();
        hmac_hex(
            TEST_PARTNER_KEY,
            &format!("{}{PREFIX}{call}{}{t}{s}", a.partner_id, a.timestamp),
        )
    };
    a.sign = Some(good.to_uppercase());
    err(
        &h.post_json(call, &a, body.clone()).await,
        "error_sign",
        403,
    );
    a.sign = Some(good);
    ok(&h.post_json(call, &a, body.clone()).await);

    // Partner id.
    let mut a = h.shop();
    a.partner_id = "999".into();
    let r = h.post_json(call, &a, body.clone()).await;
    err(&r, "error_param", 400);
    assert_eq!(r.1["message"], "Invalid partner_id.");
    for missing in ["partner_id", "timestamp", "sign", "access_token"] {
        let mut a = h.shop();
        a.omit = vec![missing];
        let r = h.post_json(call, &a, body.clone()).await;
        err(&r, "error_param", 400);
        assert_eq!(r.1["message"], format!("There is no {missing} in query."));
    }

    // Timestamps: stale, in the future, in milliseconds, not a number.
    let now = h.sim.clock().now_secs();
    for (ts, msg) in [
        ((now - 301).to_string(), "Timestamp is expired."),
        ((now + 301).to_string(), "Timestamp is expired."),
        ((now * 1000).to_string(), "Timestamp is expired."),
        ("soon".to_string(), "Invalid timestamp."),
    ] {
        let mut a = h.shop();
        a.timestamp = ts;
        let r = h.post_json(call, &a, body.clone()).await;
        err(&r, "error_param", 400);
        assert_eq!(r.1["message"], msg);
    }
    let mut a = h.shop();
    a.timestamp = (now - 290).to_string();
    ok(&h.post_json(call, &a, body.clone()).await);

    // A signed URL goes stale when the sim clock moves 5 minutes on.
    let a = h.shop();
    h.sim.clock().advance(Duration::from_secs(301));
    let r = h.post_json(call, &a, body.clone()).await;
    assert_eq!(r.1["message"], "Timestamp is expired.");

    // Every rejection is in the wire log with its code and status.
    let last = h.sim.wire().records().pop().unwrap();
    assert_eq!(last.error.as_deref(), Some("error_param"));
    assert_eq!(last.status, 400);
    assert_eq!(last.param("file_size"), Some("1"));
}

#[tokio::test]
async fn access_token_expires_after_its_lifetime() {
    let h = H::start(ShopeeSimConfig {
        access_token_ttl: Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    let body = json!({"file_md5": md5_hex(b"x"), "file_size": 1});
    ok(&h
        .post_json("init_video_upload", &h.shop(), body.clone())
        .await);
    h.sim.clock().advance(Duration::from_secs(3600));
    let r = h
        .post_json("init_video_upload", &h.shop(), body.clone())
        .await;
    err(&r, "invalid_acceess_token", 403);
    assert_eq!(r.1["message"], "Invalid access_token.");

    // A freshly issued token works; a token for another shop does not.
    let fresh = h.sim.issue_access_token();
    let mut a = h.shop();
    a.shop = Some((fresh.clone(), TEST_SHOP_ID.to_string()));
    ok(&h.post_json("init_video_upload", &a, body.clone()).await);
    a.shop = Some((fresh, "42".into()));
    err(
        &h.post_json("init_video_upload", &a, body).await,
        "error_auth",
        403,
    );
}

#[tokio::test]
async fn default_token_lifetime_is_four_hours() {
    let h = H::small().await;
    let body = json!({"file_md5": md5_hex(b"x"), "file_size": 1});
    h.sim.clock().advance(Duration::from_secs(4 * 3600 - 60));
    ok(&h
        .post_json("init_video_upload", &h.shop(), body.clone())
        .await);
    h.sim.clock().advance(Duration::from_secs(60));
    err(
        &h.post_json("init_video_upload", &h.shop(), body).await,
        "invalid_acceess_token",
        403,
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let h = H::small().await;
    let r = h.get("no_such_call", &h.shop(), &[]).await;
    err(&r, "error_not_found", 404);
    assert_eq!(h.sim.wire().count("media_space/no_such_call"), 1);
    let r = h
        .get("init_video_upload", &h.shop(), &[("file_size", "1")])
        .await;
    err(&r, "error_param", 405);
}

// ------------------------------------------------------------------------------------------
// init_video_upload

#[tokio::test]
async fn init_checks_size_and_md5() {
    let h = H::start(ShopeeSimConfig::default()).await;
    let md5 = md5_hex(b"whatever");
    let hr = &h;
    let init =
        move |body: Value| async move { hr.post_json("init_video_upload", &hr.shop(), body).await };

    let max = 30 * MIB;
    assert_eq!(max, 31_457_280);
    ok(&init(json!({"file_md5": md5, "file_size": max})).await);
    let r = init(json!({"file_md5": md5, "file_size": max + 1})).await;
    err(&r, "error_file_size", 200);

    for bad in [md5.to_uppercase(), md5[..31].to_string(), "z".repeat(32)] {
        err(
            &init(json!({"file_md5": bad, "file_size": 10})).await,
            "error_param",
            400,
        );
    }
    for body in [
        json!({"file_size": 10}),
        json!({"file_md5": md5}),
        json!({"file_md5": md5, "file_size": 0}),
        json!({"file_md5": md5, "file_size": -5}),
        json!({"file_md5": md5, "file_size": "10"}),
    ] {
        err(&init(body).await, "error_param", 400);
    }
    let r = init(json!({"file_size": 10})).await;
    assert!(r.1["message"].as_str().unwrap().contains("file_md5"));

    // A form body instead of JSON.
    let resp = h
        .http
        .post(h.url("init_video_upload", &h.shop(), &[]))
        .form(&[("file_md5", md5.as_str()), ("file_size", "10")])
        .send()
        .await
        .unwrap();
    err(&H::answer(resp).await, "error_param", 400);
}

#[tokio::test]
async fn daily_upload_limit() {
    let h = H::start(ShopeeSimConfig {
        daily_upload_limit: Some(1),
        ..Default::default()
    })
    .await;
    let body = json!({"file_md5": md5_hex(b"x"), "file_size": 1});
    ok(&h
        .post_json("init_video_upload", &h.shop(), body.clone())
        .await);
    err(
        &h.post_json("init_video_upload", &h.shop(), body.clone())
            .await,
        "error_limit",
        200,
    );
    h.sim.clock().advance(Duration::from_secs(86_400));
    // The token is older than 4 h by now: use a fresh one.
    let mut a = h.shop();
    a.shop = Some((h.sim.issue_access_token(), TEST_SHOP_ID.to_string()));
    ok(&h.post_json("init_video_upload", &a, body).await);
}

// ------------------------------------------------------------------------------------------
// upload_video_part

#[tokio::test]
async fn part_rules() {
    let h = H::small().await;
    let file = video(20, 2 * 64 * KIB + 100);
    let id = h.init(&file).await;
    let (p0, p1, p2) = (
        &file[..64 * KIB],
        &file[64 * KIB..128 * KIB],
        &file[128 * KIB..],
    );

    // part_seq out of range, negative, not a number.
    err(&h.put_part(&id, 3, p2).await, "error_invalid_part_seq", 200);
    err(
        &h.put_part_as(&h.public(), &id, "-1", p0).await,
        "error_invalid_part_seq",
        200,
    );
    err(
        &h.put_part_as(&h.public(), &id, "one", p0).await,
        "error_param",
        400,
    );
    // A non-last part not exactly part_size; the last part not the remainder.
    err(
        &h.put_part(&id, 0, &p0[..1000]).await,
        "error_invalid_part_size",
        200,
    );
    err(
        &h.put_part(&id, 1, &file[64 * KIB..]).await,
        "error_invalid_part_size",
        200,
    );
    err(
        &h.put_part(&id, 2, &p2[..99]).await,
        "error_invalid_part_size",
        200,
    );
    err(
        &h.put_part(&id, 2, p1).await,
        "error_invalid_part_size",
        200,
    );

    // content_md5 must match the bytes; either hex case is fine.
    let form = Form::new()
        .text("video_upload_id", id.clone())
        .text("part_seq", "0")
        .text("content_md5", md5_hex(p1))
        .part("part_content", Part::bytes(p0.to_vec()).file_name("p"));
    let r = h.post_form("upload_video_part", &h.public(), form).await;
    err(&r, "error_param", 400);
    assert!(r.1["message"].as_str().unwrap().contains("content_md5"));
    let form = Form::new()
        .text("video_upload_id", id.clone())
        .text("part_seq", "0")
        .text("content_md5", md5_hex(p0).to_uppercase())
        .part("part_content", Part::bytes(p0.to_vec()).file_name("p"));
    ok(&h.post_form("upload_video_part", &h.public(), form).await);

    // Re-sending a part replaces it.
    ok(&h.put_part(&id, 0, p0).await);
    ok(&h.put_part(&id, 1, p1).await);
    ok(&h.put_part(&id, 2, p2).await);
    let parts = h.sim.parts(&id).unwrap();
    assert_eq!(parts[0].times_received, 2);
    assert_eq!(parts[1].times_received, 1);
    assert_eq!(parts[2].size, 100);

    // Unknown session.
    err(
        &h.put_part(&format!("sg_{}_000000", "0".repeat(36)), 0, p0)
            .await,
        "error_invalid_upload_id",
        200,
    );

    // After complete.
    ok(&h.complete(&id, 3).await);
    err(
        &h.put_part(&id, 0, p0).await,
        "error_already_completed",
        200,
    );
}

#[tokio::test]
async fn part_request_shape() {
    let h = H::small().await;
    let file = video(20, 1000);
    let id = h.init(&file).await;

    // JSON body instead of multipart.
    let r = h
        .post_json(
            "upload_video_part",
            &h.public(),
            json!({"video_upload_id": id, "part_seq": 0, "content_md5": md5_hex(&file), "part_content": "AAAA"}),
        )
        .await;
    err(&r, "error_param", 400);

    // part_content as a text field (no filename), and under the wrong name.
    let base = || {
        Form::new()
            .text("video_upload_id", id.clone())
            .text("part_seq", "0")
            .text("content_md5", md5_hex(&file))
    };
    let r = h
        .post_form(
            "upload_video_part",
            &h.public(),
            base().part("part_content", Part::bytes(file.clone())),
        )
        .await;
    err(&r, "error_param", 400);
    assert!(r.1["message"].as_str().unwrap().contains("file"));
    let r = h
        .post_form(
            "upload_video_part",
            &h.public(),
            base().part("file", Part::bytes(file.clone()).file_name("f")),
        )
        .await;
    err(&r, "error_param", 400);
    assert!(r.1["message"].as_str().unwrap().contains("part_content"));

    // Each missing text field is named.
    for missing in ["video_upload_id", "part_seq", "content_md5"] {
        let mut form = Form::new();
        for (k, v) in [
            ("video_upload_id", id.clone()),
            ("part_seq", "0".to_string()),
            ("content_md5", md5_hex(&file)),
        ] {
            if k != missing {
                form = form.text(k, v);
            }
        }
        form = form.part("part_content", Part::bytes(file.clone()).file_name("p"));
        let r = h.post_form("upload_video_part", &h.public(), form).await;
        err(&r, "error_param", 400);
        assert!(
            r.1["message"].as_str().unwrap().contains(missing),
            "{}",
            r.1
        );
    }
    ok(&h.put_part(&id, 0, &file).await);
}

#[tokio::test]
async fn sessions_expire() {
    let h = H::start(ShopeeSimConfig {
        part_size: 64 * KIB as u64,
        access_token_ttl: Duration::from_secs(48 * 3600),
        ..Default::default()
    })
    .await;
    let file = video(20, 1000);
    let id = h.init(&file).await;
    h.sim.clock().advance(Duration::from_secs(24 * 3600 - 10));
    ok(&h.put_part(&id, 0, &file).await);
    h.sim.clock().advance(Duration::from_secs(10));
    err(
        &h.put_part(&id, 0, &file).await,
        "error_invalid_upload_id",
        200,
    );
    err(&h.complete(&id, 1).await, "error_invalid_upload_id", 200);
    let r = h
        .get(
            "get_video_upload_result",
            &h.shop(),
            &[("video_upload_id", &id)],
        )
        .await;
    err(&r, "error_invalid_upload_id", 200);
    assert!(h.sim.upload(&id).unwrap().expired);
}

// ------------------------------------------------------------------------------------------
// complete_video_upload

#[tokio::test]
async fn complete_rules() {
    let h = H::small().await;
    let file = video(20, 2 * 64 * KIB + 7);
    let id = h.init(&file).await;
    let hr = &h;
    let complete = move |body: Value| async move {
        hr.post_json("complete_video_upload", &hr.public(), body)
            .await
    };

    // Every field is required and named.
    for (body, name) in [
        (
            json!({"part_seq_list": [0, 1, 2], "report_data": {"upload_cost": 1}}),
            "video_upload_id",
        ),
        (
            json!({"video_upload_id": id, "report_data": {"upload_cost": 1}}),
            "part_seq_list",
        ),
        (
            json!({"video_upload_id": id, "part_seq_list": [0, 1, 2]}),
            "report_data",
        ),
        (
            json!({"video_upload_id": id, "part_seq_list": [0, 1, 2], "report_data": {}}),
            "report_data.upload_cost",
        ),
    ] {
        let r = complete(body).await;
        err(&r, "error_param", 400);
        assert!(r.1["message"].as_str().unwrap().contains(name), "{}", r.1);
    }

    // Parts 0 and 1 only.
    ok(&h.put_part(&id, 0, &file[..64 * KIB]).await);
    ok(&h.put_part(&id, 1, &file[64 * KIB..128 * KIB]).await);
    let cost = json!({"upload_cost": 1});
    for list in [
        json!([0, 1]),
        json!([0, 1, 2, 3]),
        json!([0, 1, 1]),
        json!([0, 1, 2]),
    ] {
        let r =
            complete(json!({"video_upload_id": id, "part_seq_list": list, "report_data": cost}))
                .await;
        err(&r, "error_invalid_part_seq", 200);
    }
    ok(&h.put_part(&id, 2, &file[128 * KIB..]).await);
    // Any order is fine.
    ok(
        &complete(json!({"video_upload_id": id, "part_seq_list": [2, 0, 1], "report_data": cost}))
            .await,
    );
    err(&h.complete(&id, 3).await, "error_already_completed", 200);
    err(
        &h.complete(&format!("sg_{}_000000", "1".repeat(36)), 3)
            .await,
        "error_invalid_upload_id",
        200,
    );
}

#[tokio::test]
async fn complete_checks_the_whole_file_md5() {
    let h = H::small().await;
    let file = video(20, 1000);
    let r = h
        .post_json(
            "init_video_upload",
            &h.shop(),
            json!({"file_md5": md5_hex(b"something else"), "file_size": 1000}),
        )
        .await;
    let id = r.1["response"]["video_upload_id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&h.put_part(&id, 0, &file).await);
    let r = h.complete(&id, 1).await;
    err(&r, "error_param", 400);
    assert!(r.1["message"].as_str().unwrap().contains("file_md5"));
    assert_eq!(h.sim.upload_status(&id), Some(UploadStatus::Initiated));
    assert!(h.sim.assembled_bytes(&id).is_none());
}

/// The simulator hashes parts as they extend the received prefix; parts out of order, a part
/// re-sent with the same bytes and a part re-sent with other bytes all leave the whole-file
/// check exactly as strict as hashing the assembled file.
#[tokio::test]
async fn the_whole_file_md5_holds_for_parts_out_of_order_and_replaced() {
    let h = H::small().await;
    let part = 64 * KIB;
    let file = video(20, 3 * part + 100);
    let pieces: Vec<&[u8]> = file.chunks(part).collect();

    // Out of order, one part twice with the same bytes: accepted.
    let id = h.init(&file).await;
    for seq in [2, 0, 3, 0, 1] {
        ok(&h.put_part(&id, seq, pieces[seq]).await);
    }
    ok(&h.complete(&id, 4).await);
    assert_eq!(h.sim.assembled_bytes(&id).as_deref(), Some(&file[..]));

    // A part already hashed replaced by other bytes of the same size: the file no longer
    // matches file_md5, whichever order the rest came in.
    let id = h.init(&file).await;
    ok(&h.put_part(&id, 0, pieces[0]).await);
    ok(&h.put_part(&id, 1, pieces[1]).await);
    let other = vec![0x5a; part];
    ok(&h.put_part(&id, 0, &other).await);
    ok(&h.put_part(&id, 3, pieces[3]).await);
    ok(&h.put_part(&id, 2, pieces[2]).await);
    let r = h.complete(&id, 4).await;
    err(&r, "error_param", 400);
    assert!(r.1["message"].as_str().unwrap().contains("file_md5"));

    // ...and putting the right bytes back makes it whole again.
    ok(&h.put_part(&id, 0, pieces[0]).await);
    ok(&h.complete(&id, 4).await);
    assert_eq!(h.sim.assembled_bytes(&id).as_deref(), Some(&file[..]));
}

// ------------------------------------------------------------------------------------------
// Transcoding outcomes

#[tokio::test]
async fn transcoding_checks_the_duration() {
    let h = H::small().await;
    let (_, r) = h.upload_and_finish(&video(5, 100 * KIB)).await;
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["message"], "Video is too short");
    assert!(r.get("video_info").is_none());
    let (_, r) = h.upload_and_finish(&video(61, 100 * KIB)).await;
    assert_eq!(r["message"], "Video is too long");
    let (_, r) = h.upload_and_finish(&video(10, 100 * KIB)).await;
    assert_eq!(r["status"], "SUCCEEDED");
    assert_eq!(r["video_info"]["duration"], 10);
    let (_, r) = h.upload_and_finish(&video(60, 100 * KIB)).await;
    assert_eq!(r["status"], "SUCCEEDED");
}

#[tokio::test]
async fn transcoding_rejects_non_mp4_and_can_be_forced_to_fail() {
    let h = H::small().await;
    let (id, r) = h.upload_and_finish(&sample_jpeg(70 * KIB)).await;
    assert_eq!(r["status"], "FAILED");
    assert!(
        r["message"].as_str().unwrap().contains("not supported"),
        "{r}"
    );
    assert_eq!(
        h.sim.upload(&id).unwrap().failure.as_deref(),
        r["message"].as_str()
    );

    h.sim
        .update_config(|c| c.force_transcode_failure = Some("Transcode failed".into()));
    let (_, r) = h.upload_and_finish(&video(20, 70 * KIB)).await;
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["message"], "Transcode failed");
}

// ------------------------------------------------------------------------------------------
// cancel_video_upload

#[tokio::test]
async fn cancel_rules() {
    let h = H::small().await;
    let file = video(20, 1000);
    let hr = &h;
    let cancel = move |id: String| async move {
        hr.post_json(
            "cancel_video_upload",
            &hr.shop(),
            json!({"video_upload_id": id}),
        )
        .await
    };

    let id = h.init(&file).await;
    ok(&h.put_part(&id, 0, &file).await);
    ok(&cancel(id.clone()).await);
    assert_eq!(h.result(&id).await["status"], "CANCELLED");
    err(
        &h.put_part(&id, 0, &file).await,
        "error_invalid_upload_id",
        200,
    );
    err(&h.complete(&id, 1).await, "error_invalid_upload_id", 200);
    ok(&cancel(id.clone()).await); // twice: still CANCELLED
    assert_eq!(h.sim.counters().sessions_cancelled, 1);

    err(
        &cancel(format!("sg_{}_000000", "2".repeat(36))).await,
        "error_invalid_upload_id",
        200,
    );
    let r = h
        .post_json("cancel_video_upload", &h.shop(), json!({}))
        .await;
    err(&r, "error_param", 400);

    let (done, _) = h.upload_and_finish(&file).await;
    err(&cancel(done).await, "error_already_completed", 200);
}

// ------------------------------------------------------------------------------------------
// upload_image

fn image_form(images: &[Vec<u8>]) -> Form {
    images.iter().enumerate().fold(Form::new(), |f, (i, b)| {
        f.part(
            "image",
            Part::bytes(b.clone()).file_name(format!("{i}.img")),
        )
    })
}

#[tokio::test]
async fn images_happy_path_and_per_image_failures() {
    let h = H::small().await;
    let images = vec![
        sample_jpeg(2000),
        sample_png(3000),
        sample_gif(500),
        sample_jpeg(10 * MIB + 1),
        sample_png(10 * MIB),
    ];
    let r = h
        .post_form(
            "upload_image",
            &h.shop(),
            image_form(&images).text("scene", "desc"),
        )
        .await;
    ok(&r);
    assert!(!r.1["warning"].as_str().unwrap().is_empty());
    let list = r.1["response"]["image_info_list"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    for (i, item) in list.iter().enumerate() {
        assert_eq!(item["id"], i);
    }
    for i in [0, 1, 4] {
        assert_eq!(list[i]["error"], "");
        let info = &list[i]["image_info"];
        let image_id = info["image_id"].as_str().unwrap();
        assert_eq!(info["image_url_list"][0]["image_url_region"], "SG");
        assert!(info["image_url_list"][0]["image_url"]
            .as_str()
            .unwrap()
            .ends_with(image_id));
        let stored = h.sim.image(image_id).unwrap();
        assert_eq!(stored.bytes.as_ref(), images[i].as_slice());
        assert_eq!(stored.scene, "desc");
        assert_eq!(stored.ratio, "1:1");
    }
    assert_eq!(list[2]["error"], "error_param");
    assert!(list[2]["message"].as_str().unwrap().contains("JPG"));
    assert_eq!(list[3]["error"], "error_file_size");
    assert!(list[3].get("image_info").is_none());
    // The legacy single image_info is the first accepted image.
    assert_eq!(r.1["response"]["image_info"], list[0]["image_info"]);

    let wire = &h.sim.wire().calls("upload_image")[0];
    assert_eq!(wire.files.len(), 5);
    assert_eq!(wire.files[3], ("image".to_string(), 10 * MIB + 1));
    assert_eq!(wire.param("scene"), Some("desc"));
    let c = h.sim.counters();
    assert_eq!((c.images_accepted, c.images_refused), (3, 2));
}

#[tokio::test]
async fn image_call_level_rules() {
    let h = H::small().await;
    let one = vec![sample_jpeg(100)];

    // No image: none at all, or under the wrong field name.
    let r = h
        .post_form(
            "upload_image",
            &h.shop(),
            Form::new().text("scene", "normal"),
        )
        .await;
    err(&r, "error_param", 400);
    let form = Form::new().part("file", Part::bytes(sample_jpeg(100)).file_name("a.jpg"));
    let r = h.post_form("upload_image", &h.shop(), form).await;
    err(&r, "error_param", 400);
    assert!(r.1["message"].as_str().unwrap().contains("image"));

    // Nine is fine, ten is not.
    let nine: Vec<Vec<u8>> = (0..9).map(|i| sample_png(100 + i)).collect();
    ok(&h
        .post_form("upload_image", &h.shop(), image_form(&nine))
        .await);
    let ten: Vec<Vec<u8>> = (0..10).map(|i| sample_png(100 + i)).collect();
    err(
        &h.post_form("upload_image", &h.shop(), image_form(&ten))
            .await,
        "error_param",
        400,
    );

    // scene and ratio values; 3:4 only for whitelisted shops.
    for (k, v) in [("scene", "square"), ("ratio", "16:9"), ("ratio", "3:4")] {
        let r = h
            .post_form("upload_image", &h.shop(), image_form(&one).text(k, v))
            .await;
        err(&r, "error_param", 400);
    }
    h.sim.update_config(|c| c.ratio_3_4_whitelisted = true);
    let r = h
        .post_form(
            "upload_image",
            &h.shop(),
            image_form(&one).text("ratio", "3:4"),
        )
        .await;
    ok(&r);
    let id = r.1["response"]["image_info_list"][0]["image_info"]["image_id"]
        .as_str()
        .unwrap();
    assert_eq!(h.sim.image(id).unwrap().ratio, "3:4");
    assert_eq!(h.sim.image(id).unwrap().scene, "normal");

    // A JSON body is not an upload.
    err(
        &h.post_json("upload_image", &h.shop(), json!({"image": "AAAA"}))
            .await,
        "error_param",
        400,
    );
}

// ------------------------------------------------------------------------------------------
// Fixtures

#[tokio::test]
async fn fixtures_write_to_disk_exactly_what_sample_mp4_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.mp4");
    let size = 9 * MIB as u64 + 123;
    write_sample_mp4(&path, Duration::from_secs(12), size).unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk.len() as u64, size);
    assert_eq!(on_disk, sample_mp4(Duration::from_secs(12), size).unwrap());
    // Pseudo-random payload: the parts' MD5s all differ.
    let md5s: std::collections::HashSet<String> = on_disk.chunks(MIB).map(md5_hex).collect();
    assert_eq!(md5s.len(), on_disk.chunks(MIB).count());
    // Deterministic, and a different duration gives different bytes.
    assert_ne!(on_disk, sample_mp4(Duration::from_secs(13), size).unwrap());
    assert!(write_sample_mp4(&path, Duration::from_secs(1), 10).is_err());
}

// ------------------------------------------------------------------------------------------
// The binary

#[tokio::test]
async fn the_binary_prints_its_address_and_credentials() {
    use tokio::io::AsyncBufReadExt;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_marketmedia-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the binary printed nothing in 30 s")
        .unwrap()
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let shopee = &info["shopee"];
    let base = shopee["base_url"].as_str().unwrap();
    let creds = &shopee["credentials"];
    assert_eq!(creds["partner_id"], TEST_PARTNER_ID);
    assert_eq!(creds["shop_id"], TEST_SHOP_ID);

    // One signed request, with the printed credentials only.
    let partner_id = creds["partner_id"].as_u64().unwrap().to_string();
    let shop_id = creds["shop_id"].as_u64().unwrap().to_string();
    let token = creds["access_token"].as_str().unwrap();
    let key = creds["partner_key"].as_str().unwrap();
    let path = format!("{PREFIX}init_video_upload");
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sign = hmac_hex(key, &format!("{partner_id}{path}{ts}{token}{shop_id}"));
    let url = format!(
        "{base}{path}?partner_id={partner_id}&timestamp={ts}&sign={sign}&access_token={token}&shop_id={shop_id}"
    );
    let resp = reqwest::Client::new()
        .post(url)
        .json(&json!({"file_md5": md5_hex(b"abc"), "file_size": 3}))
        .send()
        .await
        .unwrap();
    let (status, body) = H::answer(resp).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["response"]["video_upload_id"].is_string());

    child.kill().await.unwrap();
}

// ------------------------------------------------------------------------------------------
// v2.media: /api/v2/media/…

/// A simulator whose `v2.media` part size (96 KiB) differs from `media_space`'s (64 KiB).
async fn media_h() -> H {
    H::start(ShopeeSimConfig {
        part_size: 64 * KIB as u64,
        media_part_size: 96 * KIB as u64,
        ..Default::default()
    })
    .await
}

fn media_init_body(file: &[u8], secs: u64) -> Value {
    json!({
        "business": 3, "scene": 1, "file_name": "kettle.mp4",
        "file_size": file.len(), "duration": secs,
    })
}

impl H {
    /// `v2.media.init_video_upload`; the task id and the answer's `part_size`.
    async fn media_init(&self, file: &[u8], secs: u64) -> (String, usize) {
        let a = self
            .post_json(
                "media/init_video_upload",
                &self.shop(),
                media_init_body(file, secs),
            )
            .await;
        ok(&a);
        let r = &a.1["response"];
        (
            r["video_upload_id"].as_str().unwrap().to_string(),
            r["part_size"].as_u64().unwrap() as usize,
        )
    }

    async fn media_part(&self, id: &str, seq: usize, bytes: &[u8]) -> Answer {
        let form = Form::new()
            .text("video_upload_id", id.to_string())
            .text("part_seq", seq.to_string())
            .text("part_md5", md5_hex(bytes))
            .part(
                "part_content",
                Part::bytes(bytes.to_vec()).file_name("part.bin"),
            );
        self.post_form("media/upload_video_part", &self.shop(), form)
            .await
    }

    async fn media_complete(&self, id: &str) -> Answer {
        self.post_json(
            "media/complete_video_upload",
            &self.shop(),
            json!({ "video_upload_id": id }),
        )
        .await
    }

    async fn media_result(&self, id: &str) -> Value {
        let a = self
            .get(
                "media/get_video_upload_result",
                &self.shop(),
                &[("video_upload_id", id)],
            )
            .await;
        ok(&a);
        a.1["response"].clone()
    }

    async fn media_images(&self, business: &str, scene: &str, images: Vec<Vec<u8>>) -> Answer {
        let mut form = Form::new()
            .text("business", business.to_string())
            .text("scene", scene.to_string());
        for (i, bytes) in images.into_iter().enumerate() {
            form = form.part("images", Part::bytes(bytes).file_name(format!("{i}.jpg")));
        }
        self.post_form("media/upload_image", &self.shop(), form)
            .await
    }
}

#[tokio::test]
async fn media_module_uploads_by_the_part_size_its_init_answers() {
    let h = media_h().await;
    let file = video(12, 250 * KIB);
    let (id, part_size) = h.media_init(&file, 12).await;
    assert_eq!(part_size, 96 * KIB, "the media module's own part size");
    assert_eq!(h.media_result(&id).await["status"], "INITIATED");
    let chunks: Vec<&[u8]> = file.chunks(part_size).collect();
    assert_eq!(chunks.len(), 3);
    ok(&h.media_part(&id, 0, chunks[0]).await);
    assert_eq!(h.media_result(&id).await["status"], "UPLOADING");
    ok(&h.media_part(&id, 2, chunks[2]).await);
    ok(&h.media_part(&id, 1, chunks[1]).await);
    let r = h.media_result(&id).await;
    assert_eq!(r["status"], "UPLOADED");
    assert!(r["update_time"].as_i64().unwrap() > 0, "{r}");
    ok(&h.media_complete(&id).await);
    assert_eq!(h.media_result(&id).await["status"], "PROCESSING");
    assert_eq!(h.sim.upload_status(&id), Some(UploadStatus::Processing));
    h.sim.clock().advance(Duration::from_secs(1));
    let r = h.media_result(&id).await;
    assert_eq!(r["status"], "SUCCEEDED", "{r}");
    let info = &r["video_info"];
    assert!(info["video_url"].as_str().unwrap().starts_with("https://"));
    assert!(info["video_thumbnail_url"].as_str().is_some());
    assert_eq!(info["duration"], 12);
    assert!(info["resolution"].as_str().is_some() && info["thumbnail_width"].is_u64());
    assert_eq!(h.sim.assembled_bytes(&id).unwrap(), file);
    let snap = h.sim.upload(&id).unwrap();
    assert_eq!(snap.module, Module::Media);
    assert_eq!(snap.file_md5, "");
    let declared = snap.declared.unwrap();
    assert_eq!(
        (declared.business, declared.scene, declared.duration),
        (3, 1, 12)
    );
    assert_eq!(declared.file_name, "kettle.mp4");
    // The wire log names the module's calls `media/…`.
    assert_eq!(h.sim.wire().count("media/upload_video_part"), 3);
    assert_eq!(h.sim.wire().count("upload_video_part"), 0);
}

#[tokio::test]
async fn media_init_refuses_an_unknown_business_or_scene() {
    let h = media_h().await;
    let file = video(12, 100 * KIB);
    let cases = [
        (json!({"business": 9, "scene": 1}), "business 9"),
        (json!({"business": 2, "scene": 1}), "business 2"),
        (json!({"business": 3, "scene": 7}), "scene 7"),
        (
            json!({"business": "3", "scene": 1}),
            "business must be an integer",
        ),
        (json!({"scene": 1}), "business is required"),
        (json!({"business": 3}), "scene is required"),
    ];
    for (codes, says) in cases {
        let mut body = media_init_body(&file, 12);
        let map = body.as_object_mut().unwrap();
        map.remove("business");
        map.remove("scene");
        for (k, v) in codes.as_object().unwrap() {
            map.insert(k.clone(), v.clone());
        }
        let a = h
            .post_json("media/init_video_upload", &h.shop(), body)
            .await;
        err(&a, "error_param", 400);
        let message = a.1["message"].as_str().unwrap();
        assert!(
            message.starts_with("Wrong parameters, detail: "),
            "{message}"
        );
        assert!(message.contains(says), "{codes}: {message}");
    }
    assert!(h.sim.upload_ids().is_empty(), "nothing was opened");
}

#[tokio::test]
async fn media_init_checks_name_size_and_duration() {
    let h = H::start(ShopeeSimConfig {
        media_max_video_bytes: 200 * KIB as u64,
        ..Default::default()
    })
    .await;
    let file = video(12, 100 * KIB);
    let with = |k: &str, v: Value| {
        let mut body = media_init_body(&file, 12);
        body[k] = v;
        body
    };
    let cases = [
        (
            with("file_size", json!(200 * KIB + 1)),
            "error_file_size",
            200,
        ),
        (with("file_size", json!(0)), "error_param", 400),
        (with("duration", json!(0)), "error_param", 400),
        (with("duration", json!(181)), "error_param", 400),
        (with("duration", json!(12.5)), "error_param", 400),
        (with("file_name", json!("  ")), "error_param", 400),
        (with("file_name", Value::Null), "error_param", 400),
    ];
    for (body, code, status) in cases {
        let a = h
            .post_json("media/init_video_upload", &h.shop(), body.clone())
            .await;
        err(&a, code, status);
    }
    // The limits are inclusive.
    ok(&h
        .post_json(
            "media/init_video_upload",
            &h.shop(),
            with("file_size", json!(200 * KIB)),
        )
        .await);
    ok(&h
        .post_json(
            "media/init_video_upload",
            &h.shop(),
            with("duration", json!(180)),
        )
        .await);
}

#[tokio::test]
async fn media_parts_take_part_md5_and_the_modules_part_size() {
    let h = media_h().await;
    let file = video(12, 200 * KIB);
    let (id, part_size) = h.media_init(&file, 12).await;
    // `media_space`'s field name is not this module's.
    let form = Form::new()
        .text("video_upload_id", id.clone())
        .text("part_seq", "0")
        .text("content_md5", md5_hex(&file[..part_size]))
        .part(
            "part_content",
            Part::bytes(file[..part_size].to_vec()).file_name("p"),
        );
    let a = h
        .post_form("media/upload_video_part", &h.shop(), form)
        .await;
    err(&a, "error_param", 400);
    assert!(
        a.1["message"].as_str().unwrap().contains("part_md5"),
        "{}",
        a.1
    );
    // A part of media_space's size is the wrong size here.
    let a = h.media_part(&id, 0, &file[..64 * KIB]).await;
    err(&a, "error_invalid_part_size", 200);
    // A wrong MD5.
    let form = Form::new()
        .text("video_upload_id", id.clone())
        .text("part_seq", "0")
        .text("part_md5", md5_hex(b"other"))
        .part(
            "part_content",
            Part::bytes(file[..part_size].to_vec()).file_name("p"),
        );
    let a = h
        .post_form("media/upload_video_part", &h.shop(), form)
        .await;
    err(&a, "error_param", 400);
    // The text fields may travel in the query string.
    let seq = "0".to_string();
    let md5 = md5_hex(&file[..part_size]);
    let url = h.url(
        "media/upload_video_part",
        &h.shop(),
        &[
            ("video_upload_id", id.as_str()),
            ("part_seq", seq.as_str()),
            ("part_md5", md5.as_str()),
        ],
    );
    let form = Form::new().part(
        "part_content",
        Part::bytes(file[..part_size].to_vec()).file_name("p"),
    );
    let resp = h.http.post(url).multipart(form).send().await.unwrap();
    ok(&H::answer(resp).await);
    let parts = h.sim.parts(&id).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].size, part_size);
    assert_eq!(parts[0].content_md5_as_sent, md5);
    // A part past the end.
    let a = h.media_part(&id, 3, &file[..10]).await;
    err(&a, "error_invalid_part_seq", 200);
}

#[tokio::test]
async fn media_completion_needs_every_part_once() {
    let h = media_h().await;
    let file = video(12, 200 * KIB);
    let (id, part_size) = h.media_init(&file, 12).await;
    ok(&h.media_part(&id, 0, &file[..part_size]).await);
    let a = h.media_complete(&id).await;
    err(&a, "error_invalid_part_seq", 200);
    assert!(
        a.1["message"].as_str().unwrap().contains("Part 1"),
        "{}",
        a.1
    );
    for (i, chunk) in file.chunks(part_size).enumerate().skip(1) {
        ok(&h.media_part(&id, i, chunk).await);
    }
    // `media_space`'s extra completion fields are ignored.
    ok(&h
        .post_json(
            "media/complete_video_upload",
            &h.shop(),
            json!({"video_upload_id": id, "part_seq_list": [0, 1, 2], "report_data": {"upload_cost": 5}}),
        )
        .await);
    err(&h.media_complete(&id).await, "error_already_completed", 200);
    err(
        &h.media_part(&id, 0, &file[..part_size]).await,
        "error_already_completed",
        200,
    );
    let missing = h.media_complete("sg_nope_000000").await;
    err(&missing, "error_invalid_upload_id", 200);
    let a = h
        .post_json("media/complete_video_upload", &h.shop(), json!({}))
        .await;
    err(&a, "error_param", 400);
}

#[tokio::test]
async fn media_processing_fails_with_a_reason() {
    let h = media_h().await;
    // Declared 180 s, but the file lasts 200 s.
    let file = video(200, 150 * KIB);
    let (id, part_size) = h.media_init(&file, 180).await;
    for (i, chunk) in file.chunks(part_size).enumerate() {
        ok(&h.media_part(&id, i, chunk).await);
    }
    ok(&h.media_complete(&id).await);
    h.sim.clock().advance(Duration::from_secs(1));
    let r = h.media_result(&id).await;
    assert_eq!(r["status"], "FAILED", "{r}");
    assert_eq!(r["reason"], "Video is too long");
    assert!(r.get("video_info").is_none(), "{r}");
}

#[tokio::test]
async fn media_cancel_leaves_a_cancelled_task_with_a_reason() {
    let h = media_h().await;
    let file = video(12, 100 * KIB);
    let (id, part_size) = h.media_init(&file, 12).await;
    ok(&h.media_part(&id, 0, &file[..part_size]).await);
    let shop = h.shop();
    let cancel = |id: &str| {
        h.post_json(
            "media/cancel_video_upload",
            &shop,
            json!({ "video_upload_id": id }),
        )
    };
    ok(&cancel(&id).await);
    ok(&cancel(&id).await);
    let r = h.media_result(&id).await;
    assert_eq!(r["status"], "CANCELLED");
    assert!(!r["reason"].as_str().unwrap().is_empty());
    err(
        &h.media_part(&id, 0, &file[..part_size]).await,
        "error_invalid_upload_id",
        200,
    );
}

#[tokio::test]
async fn sessions_belong_to_the_module_that_opened_them() {
    let h = media_h().await;
    let file = video(12, 100 * KIB);
    let (media_id, _) = h.media_init(&file, 12).await;
    let space_id = h.init(&file).await;
    let a = h
        .get(
            "get_video_upload_result",
            &h.shop(),
            &[("video_upload_id", media_id.as_str())],
        )
        .await;
    err(&a, "error_invalid_upload_id", 200);
    let a = h
        .get(
            "media/get_video_upload_result",
            &h.shop(),
            &[("video_upload_id", space_id.as_str())],
        )
        .await;
    err(&a, "error_invalid_upload_id", 200);
    // `media_space`'s init body is not `media`'s.
    let a = h
        .post_json(
            "media/init_video_upload",
            &h.shop(),
            json!({"file_md5": md5_hex(&file), "file_size": file.len()}),
        )
        .await;
    err(&a, "error_param", 400);
}

#[tokio::test]
async fn media_calls_are_shop_signed() {
    let h = media_h().await;
    let file = video(12, 100 * KIB);
    let (id, part_size) = h.media_init(&file, 12).await;
    // The public shape `media_space` allows for parts is refused here.
    let form = Form::new()
        .text("video_upload_id", id.clone())
        .text("part_seq", "0")
        .text("part_md5", md5_hex(&file[..part_size]))
        .part(
            "part_content",
            Part::bytes(file[..part_size].to_vec()).file_name("p"),
        );
    let a = h
        .post_form("media/upload_video_part", &h.public(), form)
        .await;
    err(&a, "error_param", 400);
    assert_eq!(a.1["message"], "There is no access_token in query.");
    let a = h
        .post_json(
            "media/complete_video_upload",
            &h.public(),
            json!({ "video_upload_id": id }),
        )
        .await;
    err(&a, "error_param", 400);
    // The signature covers the media path: a media_space signature does not pass.
    let mut auth = h.shop();
    let base = format!(
        "{}{PREFIX}init_video_upload{}{}{}",
        auth.partner_id, auth.timestamp, TEST_ACCESS_TOKEN, TEST_SHOP_ID
    );
    auth.sign = Some(hmac_hex(TEST_PARTNER_KEY, &base));
    let a = h
        .post_json("media/init_video_upload", &auth, media_init_body(&file, 12))
        .await;
    err(&a, "error_sign", 403);
    let mut auth = h.shop();
    auth.key = "wrong".into();
    let a = h
        .post_json("media/init_video_upload", &auth, media_init_body(&file, 12))
        .await;
    err(&a, "error_sign", 403);
    assert_eq!(h.sim.upload_ids().len(), 1);
}

#[tokio::test]
async fn media_upload_image_answers_an_image_list() {
    let h = media_h().await;
    let a = h
        .media_images("2", "1", vec![sample_jpeg(2 * KIB), sample_png(3 * KIB)])
        .await;
    ok(&a);
    let list = a.1["response"]["image_list"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for entry in list {
        let id = entry["image_id"].as_str().unwrap();
        assert!(entry["image_url"].as_str().unwrap().ends_with(id));
        let stored = h.sim.image(id).unwrap();
        assert_eq!((stored.module, stored.business), (Module::Media, Some(2)));
        assert_eq!(stored.scene, "1");
    }
    assert_eq!(h.sim.images().len(), 2);
    assert!(a.1["response"].get("image_info_list").is_none());
}

#[tokio::test]
async fn media_upload_image_refusals() {
    let h = H::start(ShopeeSimConfig {
        max_image_bytes: 8 * KIB as u64,
        ..Default::default()
    })
    .await;
    let jpeg = || sample_jpeg(2 * KIB);
    let cases = [
        (("9", "1"), vec![jpeg()], "error_param", 400, "business 9"),
        (("3", "1"), vec![jpeg()], "error_param", 400, "business 3"),
        (("2", "4"), vec![jpeg()], "error_param", 400, "scene 4"),
        (
            ("x", "1"),
            vec![jpeg()],
            "error_param",
            400,
            "business must be an integer",
        ),
        (("2", "1"), vec![], "error_param", 400, "images is required"),
        (("2", "1"), vec![jpeg(); 4], "error_param", 400, "at most 3"),
        (
            ("2", "1"),
            vec![jpeg(), sample_gif(KIB)],
            "error_param",
            400,
            "image 1",
        ),
        (
            ("2", "1"),
            vec![sample_jpeg(9 * KIB)],
            "error_file_size",
            200,
            "limit",
        ),
    ];
    for ((business, scene), images, code, status, says) in cases {
        let a = h.media_images(business, scene, images).await;
        err(&a, code, status);
        let message = a.1["message"].as_str().unwrap();
        assert!(message.contains(says), "{business}/{scene}: {message}");
    }
    // No business field at all; and media_space's file field name.
    let form = Form::new()
        .text("scene", "1")
        .part("images", Part::bytes(jpeg()).file_name("a.jpg"));
    err(
        &h.post_form("media/upload_image", &h.shop(), form).await,
        "error_param",
        400,
    );
    let form = Form::new()
        .text("business", "2")
        .text("scene", "1")
        .part("image", Part::bytes(jpeg()).file_name("a.jpg"));
    err(
        &h.post_form("media/upload_image", &h.shop(), form).await,
        "error_param",
        400,
    );
    assert!(h.sim.images().is_empty(), "a refused call stores nothing");
    // Unknown media paths are still not found.
    let a = h.get("media/no_such_call", &h.shop(), &[]).await;
    err(&a, "error_not_found", 404);
    assert_eq!(h.sim.wire().count("media/no_such_call"), 1);
}

/// `v2.shop.get_shop_info` and `v2.shop.get_profile` for each shop of the partner, signed by
/// hand (`partner_id`, path, `timestamp`, `access_token`, `shop_id`): the shop's own token
/// answers with its name and region (at the top level for `get_shop_info`, under `response`
/// for `get_profile`); another shop's token, a public-shape signature or a POST are refused.
#[tokio::test]
async fn shop_info_and_profile_answer_each_shop_with_its_own_token() {
    let h = H::small().await;
    let call = |path: &'static str, token: &'static str, shop: u64, public_sign: bool| {
        let ts = h.sim.clock().now_secs().to_string();
        let base = if public_sign {
            format!("{TEST_PARTNER_ID}{path}{ts}")
        } else {
            format!("{TEST_PARTNER_ID}{path}{ts}{token}{shop}")
        };
        let sign = hmac_hex(TEST_PARTNER_KEY, &base);
        format!(
            "{}{path}?partner_id={TEST_PARTNER_ID}&timestamp={ts}&sign={sign}&access_token={token}&shop_id={shop}",
            h.base
        )
    };
    let get = |url: String| async {
        let r = h.http.get(url).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap())
    };
    const INFO: &str = "/api/v2/shop/get_shop_info";
    const PROFILE: &str = "/api/v2/shop/get_profile";

    let (status, body) = get(call(INFO, TEST_ACCESS_TOKEN_2, TEST_SHOP_ID_2, false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"], "");
    assert_eq!(body["shop_name"], "Sim Shop MY");
    assert_eq!(body["region"], "MY");
    assert_eq!(body["status"], "NORMAL");
    assert!(body.get("response").is_none(), "{body}");

    let (status, body) = get(call(INFO, TEST_ACCESS_TOKEN, TEST_SHOP_ID, false)).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["shop_name"], "Sim Shop MY");

    let (status, body) = get(call(PROFILE, TEST_ACCESS_TOKEN_2, TEST_SHOP_ID_2, false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["shop_name"], "Sim Shop MY");

    // Shop 1's token for shop 2, and the public signature on a shop call, are refused.
    let (status, body) = get(call(INFO, TEST_ACCESS_TOKEN, TEST_SHOP_ID_2, false)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("error_auth")),
        "{body}"
    );
    let (status, body) = get(call(INFO, TEST_ACCESS_TOKEN_2, TEST_SHOP_ID_2, true)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("error_sign")),
        "{body}"
    );

    let r = h
        .http
        .post(call(INFO, TEST_ACCESS_TOKEN_2, TEST_SHOP_ID_2, false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}
