//! The TikTok Shop simulator over HTTP, as any client sees it: the signature, the token, the
//! cipher, the multipart body (malformed or without `data`: refused in the envelope, never
//! accepted), the documented limits, Get Authorized Shops, and the auth host's token calls
//! with the documented lifetimes.

use std::time::Duration;

use marketmedia_sim::fixtures::{decodable_jpeg, sample_mp4};
use marketmedia_sim::tiktok::{
    codes, sign, TiktokSim, TiktokSimConfig, TEST_ACCESS_TOKEN, TEST_APP_KEY, TEST_APP_SECRET,
    TEST_SHOP_CIPHER,
};
use serde_json::Value;

const FILES: &str = "/product/202309/files/upload";
const IMAGES: &str = "/product/202309/images/upload";

struct Env {
    sim: TiktokSim,
    base: String,
    http: reqwest::Client,
    _server: marketmedia_sim::SimServer,
}

async fn env(config: TiktokSimConfig) -> Env {
    let sim = TiktokSim::new(config);
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Env {
        base: server.base_url(),
        sim,
        http: reqwest::Client::new(),
        _server: server,
    }
}

fn small() -> TiktokSimConfig {
    TiktokSimConfig {
        max_video_bytes: 1 << 20,
        max_request_bytes: 2 << 20,
        ..TiktokSimConfig::default()
    }
}

/// The signed URL of `path` with `extra` query pairs, as the pages give the signature.
fn signed(base: &str, path: &str, secret: &str, extra: &[(&str, &str)]) -> String {
    let mut query: Vec<(String, String)> = vec![
        ("app_key".into(), TEST_APP_KEY.into()),
        ("timestamp".into(), "1700000000".into()),
    ];
    query.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let s = sign(secret, path, &query, None);
    query.push(("sign".into(), s));
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{base}{path}?{}", q.join("&"))
}

fn video(size: u64) -> Vec<u8> {
    sample_mp4(Duration::from_secs(10), size).unwrap()
}

impl Env {
    async fn upload(
        &self,
        url: String,
        token: &str,
        form: reqwest::multipart::Form,
    ) -> (u16, Value) {
        let r = self
            .http
            .post(url)
            .header("x-tts-access-token", token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn file(&self, bytes: Vec<u8>, name: &str) -> (u16, Value) {
        let form = reqwest::multipart::Form::new()
            .text("name", name.to_owned())
            .part(
                "data",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
            );
        let url = signed(&self.base, FILES, TEST_APP_SECRET, &[]);
        self.upload(url, TEST_ACCESS_TOKEN, form).await
    }

    async fn raw(&self, content_type: &str, body: &'static [u8]) -> (u16, Value) {
        let r = self
            .http
            .post(signed(&self.base, FILES, TEST_APP_SECRET, &[]))
            .header("x-tts-access-token", TEST_ACCESS_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.http
            .get(format!("{}{path}?{}", self.base, q.join("&")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_signed_upload_is_stored_and_answered_in_the_envelope() {
    let e = env(small()).await;
    let bytes = video(200_000);
    let (status, body) = e.file(bytes.clone(), "kettle-0001.mp4").await;
    assert_eq!((status, body["code"].as_i64()), (200, Some(0)), "{body}");
    assert_eq!(body["message"], "Success");
    assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    let id = body["data"]["id"].as_str().unwrap();
    assert_eq!(body["data"]["format"], "MP4");
    assert_eq!(body["data"]["name"], "kettle-0001.mp4");
    assert_eq!(e.sim.file_bytes(id).unwrap(), bytes);
    let record = e.sim.wire().records().pop().unwrap();
    assert_eq!(record.files, vec![("data".to_owned(), 200_000)]);
    assert_eq!(record.param("body.name"), Some("kettle-0001.mp4"));
}

#[tokio::test]
async fn signature_token_and_cipher_are_checked() {
    let e = env(small()).await;
    let form = || {
        reqwest::multipart::Form::new().part("data", reqwest::multipart::Part::bytes(video(50_000)))
    };
    // Another secret signs another string.
    let (s, b) = e
        .upload(
            signed(&e.base, FILES, "wrong", &[]),
            TEST_ACCESS_TOKEN,
            form(),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_i64()),
        (401, Some(codes::INVALID_SIGN)),
        "{b}"
    );
    // A parameter added after signing breaks the signature too.
    let url = format!("{}&extra=1", signed(&e.base, FILES, TEST_APP_SECRET, &[]));
    let (_, b) = e.upload(url, TEST_ACCESS_TOKEN, form()).await;
    assert_eq!(b["code"].as_i64(), Some(codes::INVALID_SIGN), "{b}");
    // An unknown token, then an expired one.
    let url = || signed(&e.base, FILES, TEST_APP_SECRET, &[]);
    let (s, b) = e.upload(url(), "ROW_not-a-token", form()).await;
    assert_eq!(
        (s, b["code"].as_i64()),
        (401, Some(codes::ACCESS_TOKEN_INVALID)),
        "{b}"
    );
    // The upload calls take no shop_cipher (signed with it, still refused).
    let with_cipher = signed(
        &e.base,
        FILES,
        TEST_APP_SECRET,
        &[("shop_cipher", TEST_SHOP_CIPHER)],
    );
    let (_, b) = e.upload(with_cipher, TEST_ACCESS_TOKEN, form()).await;
    assert_eq!(b["code"].as_i64(), Some(codes::INVALID_PARAMETER), "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("shop_cipher"),
        "{b}"
    );
    e.sim.clock().advance(Duration::from_secs(7 * 86_400 + 1));
    let (s, b) = e.upload(url(), TEST_ACCESS_TOKEN, form()).await;
    assert_eq!(
        (s, b["code"].as_i64()),
        (401, Some(codes::ACCESS_TOKEN_EXPIRED)),
        "{b}"
    );
    assert_eq!(e.sim.file_count(), 0);
}

#[tokio::test]
async fn a_malformed_body_or_one_without_data_is_refused_never_accepted() {
    let e = env(small()).await;
    for (ct, body) in [
        ("multipart/form-data; boundary=XyZ", &b"--XyZ\r\nContent-Disposition: form-da"[..]),
        ("multipart/form-data", &b"no boundary at all"[..]),
        ("application/json", &br#"{"data": "x"}"#[..]),
        (
            "multipart/form-data; boundary=XyZ",
            &b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nkettle.mp4\r\n--XyZ--\r\n"[..],
        ),
    ] {
        let (status, b) = e.raw(ct, body).await;
        assert_eq!(b["code"].as_i64(), Some(codes::INVALID_PARAMETER), "{ct}: {b}");
        assert_eq!(status, 200, "{b}");
        assert!(b["data"].is_null(), "{b}");
    }
    assert_eq!(e.sim.file_count(), 0);
    let refused = e.sim.wire().records();
    assert_eq!(refused.len(), 4);
    assert!(refused
        .iter()
        .all(|r| r.error.as_deref() == Some("36009004")));
}

#[tokio::test]
async fn documented_limits_are_enforced() {
    let e = env(small()).await;
    let (_, b) = e.file(video((1 << 20) + 1), "big.mp4").await;
    assert_eq!(b["code"].as_i64(), Some(codes::FILE_TOO_LARGE), "{b}");
    let (_, b) = e
        .file(b"plain text, no container".to_vec(), "notes.mp4")
        .await;
    assert_eq!(b["code"].as_i64(), Some(codes::INVALID_FILE), "{b}");
    let (_, b) = e.file(video(50_000), "two.dots.mp4").await;
    assert_eq!(b["code"].as_i64(), Some(codes::INVALID_PARAMETER), "{b}");
    // 21:9 in the track header: outside 9:16 to 16:9.
    let (_, b) = e.file(with_track(2560, 1080), "wide.mp4").await;
    assert_eq!(b["code"].as_i64(), Some(codes::INVALID_FILE), "{b}");
    let (_, b) = e.file(with_track(1080, 1920), "tall.mp4").await;
    assert_eq!(b["code"].as_i64(), Some(0), "{b}");
    // A PDF is a file too, up to 20 MB.
    let (_, b) = e.file(b"%PDF-1.7\n...".to_vec(), "cert.pdf").await;
    assert_eq!(b["data"]["format"], "PDF", "{b}");
    // Images: use_case, format, dimensions.
    let image = |bytes: Vec<u8>, use_case: &str| {
        reqwest::multipart::Form::new()
            .text("use_case", use_case.to_owned())
            .part(
                "data",
                reqwest::multipart::Part::bytes(bytes).file_name("a.jpg"),
            )
    };
    let url = || signed(&e.base, IMAGES, TEST_APP_SECRET, &[]);
    let jpeg = decodable_jpeg(20_000).unwrap();
    let (_, b) = e
        .upload(url(), TEST_ACCESS_TOKEN, image(jpeg.clone(), "MAIN_IMAGE"))
        .await;
    assert_eq!(b["code"].as_i64(), Some(0), "{b}");
    let uri = b["data"]["uri"].as_str().unwrap();
    assert_eq!(e.sim.image_bytes(uri).unwrap(), jpeg);
    assert_eq!(
        (b["data"]["width"].as_u64(), b["data"]["height"].as_u64()),
        (Some(96), Some(64))
    );
    let (_, b) = e
        .upload(url(), TEST_ACCESS_TOKEN, image(jpeg, "COVER"))
        .await;
    assert_eq!(b["code"].as_i64(), Some(codes::INVALID_PARAMETER), "{b}");
    let (_, b) = e
        .upload(
            url(),
            TEST_ACCESS_TOKEN,
            image(b"GIF89a....".to_vec(), "MAIN_IMAGE"),
        )
        .await;
    assert_eq!(b["code"].as_i64(), Some(codes::FORMAT_NOT_SUPPORTED), "{b}");
}

/// An MP4 head whose one track states `w` × `h`.
fn with_track(w: u32, h: u32) -> Vec<u8> {
    fn bx(kind: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }
    let mut tkhd = vec![0u8; 76];
    tkhd.extend_from_slice(&(w << 16).to_be_bytes());
    tkhd.extend_from_slice(&(h << 16).to_be_bytes());
    [
        bx(b"ftyp", b"isom\0\0\0\0isom"),
        bx(b"moov", &bx(b"trak", &bx(b"tkhd", &tkhd))),
        bx(b"mdat", &[7u8; 4096]),
    ]
    .concat()
}

#[tokio::test]
async fn authorized_shops_list_the_ciphers() {
    let e = env(small()).await;
    let r: Value = e
        .http
        .get(signed(
            &e.base,
            "/authorization/202309/shops",
            TEST_APP_SECRET,
            &[],
        ))
        .header("x-tts-access-token", TEST_ACCESS_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["code"].as_i64(), Some(0), "{r}");
    assert_eq!(r["data"]["shops"][0]["cipher"], TEST_SHOP_CIPHER);
}

#[tokio::test]
async fn the_auth_host_exchanges_a_code_once_and_refreshes_with_epoch_expiries() {
    let e = env(small()).await;
    let account = e.sim.accounts()[0].clone();
    let code = account["authorization_code"].as_str().unwrap();
    let now = e.sim.clock().now_secs();
    let app = [("app_key", TEST_APP_KEY), ("app_secret", TEST_APP_SECRET)];
    let refs = [
        app[0],
        app[1],
        ("auth_code", code),
        ("grant_type", "authorized_code"),
    ];
    let first = e.get("/api/v2/token/get", &refs).await;
    assert_eq!(first["code"].as_i64(), Some(0), "{first}");
    let d = &first["data"];
    // Timestamps, not durations: 7 days and about a century from now.
    let at = d["access_token_expire_in"].as_i64().unwrap();
    assert!((at - now - 7 * 86_400).abs() <= 2, "{d}");
    assert!(
        d["refresh_token_expire_in"].as_i64().unwrap() > now + 90 * 365 * 86_400,
        "{d}"
    );
    assert_eq!(d["open_id"], account["open_id"]);
    // The code serves once.
    let again = e.get("/api/v2/token/get", &refs).await;
    assert_eq!(
        again["code"].as_i64(),
        Some(codes::NO_AUTH_RECORD),
        "{again}"
    );
    // A refresh answers a new pair; a wrong grant type or app secret is refused.
    let rt = d["refresh_token"].as_str().unwrap();
    let refresh = e
        .get(
            "/api/v2/token/refresh",
            &[
                app[0],
                app[1],
                ("refresh_token", rt),
                ("grant_type", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(refresh["code"].as_i64(), Some(0), "{refresh}");
    assert_ne!(refresh["data"]["access_token"], d["access_token"]);
    let wrong = e
        .get(
            "/api/v2/token/refresh",
            &[
                app[0],
                ("app_secret", "nope"),
                ("refresh_token", rt),
                ("grant_type", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(wrong["code"].as_i64(), Some(codes::INVALID_SIGN), "{wrong}");
    let unknown = e
        .get(
            "/api/v2/token/refresh",
            &[
                app[0],
                app[1],
                ("refresh_token", "ROW_rtnope"),
                ("grant_type", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(
        unknown["code"].as_i64(),
        Some(codes::NO_AUTH_RECORD),
        "{unknown}"
    );
    // The wire log never shows the app secret, the code or the refresh token.
    for r in e.sim.wire().records() {
        for (k, v) in &r.params {
            assert!(
                !v.contains(TEST_APP_SECRET) && !v.contains(rt) && !v.contains(code),
                "{k}={v}"
            );
        }
    }
    let report = e.sim.tokens();
    let seller = report
        .credential(&format!("seller:{}", account["open_id"].as_str().unwrap()))
        .unwrap();
    assert_eq!((seller.code_exchanges, seller.refreshes), (1, 1));
}
