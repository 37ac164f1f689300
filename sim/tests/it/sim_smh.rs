//! The SMH simulator driven over real HTTP: every rule it enforces, with SMH's (or COS's) error
//! answer. Hashes, CRC-64 and MD5s are computed here by hand, independently of the simulator.

use std::time::Duration;

use marketmedia_sim::smh::{
    self, calls, ExpiredTokenCode, SmhServers, SmhSim, SmhSimConfig, SmhUploadState, MIB,
    TEST_LIBRARY_ID, TEST_LIBRARY_SECRET,
};
use md5::{Digest as _, Md5};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

const LIB: &str = TEST_LIBRARY_ID;
const MIB_USIZE: usize = MIB as usize;

struct Env {
    sim: SmhSim,
    servers: SmhServers,
    http: reqwest::Client,
    token: String,
}

async fn env_with(config: SmhSimConfig) -> Env {
    let sim = SmhSim::new(config);
    let servers = sim
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("start");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut env = Env {
        sim,
        servers,
        http,
        token: String::new(),
    };
    env.token = env.fetch_token().await;
    env
}

async fn env() -> Env {
    env_with(SmhSimConfig::default()).await
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 10) as u8)
        .collect()
}

/// SMH's instant-upload hashes, by hand: sha256 of the first MiB; then a chain over 1 MiB chunks.
fn smh_hashes(data: &[u8]) -> (String, String) {
    let mut chunks = data.chunks(MIB_USIZE);
    let first: [u8; 32] = Sha256::digest(chunks.next().unwrap_or(&[])).into();
    let mut h = first;
    for c in chunks {
        let mut hasher = Sha256::new();
        hasher.update(h);
        hasher.update(c);
        h = hasher.finalize().into();
    }
    (hex::encode(first), hex::encode(h))
}

fn crc64(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

impl Env {
    fn api(&self, path_and_query: &str) -> String {
        format!("{}{}", self.servers.api_base_url(), path_and_query)
    }

    async fn fetch_token(&self) -> String {
        let r = self
            .http
            .get(self.api(&format!(
                "/api/v1/token?library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}&grant=upload_file,create_directory"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["accessToken"].as_str().unwrap().to_owned()
    }

    async fn mkdir(&self, dir: &str) -> Response {
        self.http
            .put(self.api(&format!(
                "/api/v1/directory/{LIB}/-/{dir}?access_token={}",
                self.token
            )))
            .send()
            .await
            .unwrap()
    }

    async fn begin(&self, file_path: &str, extra: &str, body: Option<Value>) -> Response {
        let mut req = self.http.post(self.api(&format!(
            "/api/v1/file/{LIB}/-/{file_path}?multipart{extra}&access_token={}",
            self.token
        )));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// Begins a multipart upload that must answer 201; returns the upload info.
    async fn begin_201(&self, file_path: &str, size: usize) -> Value {
        let r = self
            .begin(file_path, "", Some(json!({ "size": size.to_string() })))
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// PUTs part `n` to storage with every presigned header from `info`.
    async fn put_part(&self, info: &Value, n: u32, data: &[u8]) -> Response {
        let url = format!(
            "http://{}{}?uploadId={}&partNumber={n}",
            info["domain"].as_str().unwrap(),
            info["path"].as_str().unwrap(),
            info["uploadId"].as_str().unwrap()
        );
        self.put_with_headers(&url, info, data).await
    }

    async fn put_with_headers(&self, url: &str, info: &Value, data: &[u8]) -> Response {
        let mut req = self.http.put(url).body(data.to_vec());
        for (k, v) in info["headers"].as_object().unwrap() {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
        req.send().await.unwrap()
    }

    async fn on_key(&self, method: Method, key: &str, flag: &str, body: Option<Value>) -> Response {
        let mut req = self.http.request(
            method,
            self.api(&format!(
                "/api/v1/file/{LIB}/-/{key}?{flag}&access_token={}",
                self.token
            )),
        );
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    async fn confirm(&self, key: &str, body: Option<Value>) -> Response {
        self.on_key(Method::POST, key, "confirm", body).await
    }

    /// Uploads `data` in parts of `part` bytes and confirms; returns the file info.
    async fn upload(&self, file_path: &str, data: &[u8], part: usize) -> Value {
        let info = self.begin_201(file_path, data.len()).await;
        for (i, chunk) in data.chunks(part).enumerate() {
            let r = self.put_part(&info, i as u32 + 1, chunk).await;
            assert_eq!(r.status(), 200);
        }
        let key = info["confirmKey"].as_str().unwrap();
        let r = self
            .confirm(key, Some(json!({ "crc64": crc64(data).to_string() })))
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

async fn smh_error(r: Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], code, "{v}");
    assert!(v["message"].is_string());
    assert!(v["requestId"].as_str().is_some_and(|s| !s.is_empty()));
    v
}

async fn cos_error(r: Response, status: u16, code: &str, message: &str) {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(
        r.headers().get("content-type").unwrap().to_str().unwrap(),
        "application/xml"
    );
    let text = r.text().await.unwrap();
    assert!(text.contains("<Error>"), "{text}");
    assert!(text.contains(&format!("<Code>{code}</Code>")), "{text}");
    assert!(
        text.contains(&format!("<Message>{message}</Message>")),
        "{text}"
    );
    assert!(text.contains("<RequestId>"), "{text}");
}

#[test]
fn digest_vectors_from_platforms_md() {
    let zeros = vec![0u8; 2 * MIB_USIZE];
    let ramp: Vec<u8> = (0..5 * MIB_USIZE / 2).map(|i| (i % 256) as u8).collect();
    let vectors = [
        (
            &zeros,
            "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58",
            "b0f7e82d16e99dc466cd1aeec8df5ed780b08f2f2ff3fac6ce90ccfe042d4cae",
        ),
        (
            &ramp,
            "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83",
            "92389183bfa175b31cffad45018aa7e19b8bae611a76b2f59ee31c0e08f08139",
        ),
    ];
    for (data, beginning, full) in vectors {
        assert_eq!(smh_hashes(data), (beginning.to_owned(), full.to_owned()));
        let sim = smh::digest::instant_hashes(data);
        assert_eq!(
            (sim.beginning_hash.as_str(), sim.full_hash.as_str()),
            (beginning, full)
        );
    }
    assert_eq!(crc64(b"123456789"), 0x995d_c9bb_df19_39fa);
    assert_eq!(smh::digest::crc64(b"123456789"), 0x995d_c9bb_df19_39fa);
}

#[tokio::test]
async fn token_issue_renew_and_rejections() {
    let e = env().await;
    let get = |q: String| e.http.get(e.api(&format!("/api/v1/token?{q}"))).send();

    let r = get(format!("library_id={LIB}&library_secret=wrong"))
        .await
        .unwrap();
    smh_error(r, 403, "NoPermission").await;
    let r = get(format!(
        "library_id=otherlib&library_secret={TEST_LIBRARY_SECRET}"
    ))
    .await
    .unwrap();
    smh_error(r, 403, "NoPermission").await;
    let r = get(format!("library_id={LIB}")).await.unwrap();
    smh_error(r, 400, "InvalidParameter").await;
    let r = get(format!(
        "library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}&space_id=nope"
    ))
    .await
    .unwrap();
    smh_error(r, 404, "SpaceNotFound").await;

    // Default lifetime: 86,400 s. `period` below 300 s gets 300 s; a value that is not a
    // positive integer gets the default; above 10 years gets 10 years.
    let r = get(format!(
        "library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}"
    ))
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expiresIn"], 86_400);
    for (period, expected) in [
        ("abc", 86_400),
        ("0", 86_400),
        ("-5", 86_400),
        ("315360001", 315_360_000),
        ("600", 600),
    ] {
        let r = get(format!(
            "library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}&period={period}"
        ))
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "period={period}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["expiresIn"], expected, "period={period}");
    }
    let r = get(format!(
        "library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}&period=60&user_id=u1&grant=create_directory"
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expiresIn"], 300);
    let short = v["accessToken"].as_str().unwrap().to_owned();

    let mkdir = |token: String| {
        e.http
            .put(e.api(&format!(
                "/api/v1/directory/{LIB}/-/d{}?access_token={token}",
                rand_suffix()
            )))
            .send()
    };
    assert_eq!(mkdir(short.clone()).await.unwrap().status(), 201);

    // Each use renews the lifetime: 250 s, use, 250 s (500 s after issue) is still valid.
    e.sim.clock().advance(Duration::from_secs(250));
    assert_eq!(mkdir(short.clone()).await.unwrap().status(), 201);
    e.sim.clock().advance(Duration::from_secs(250));
    assert_eq!(mkdir(short.clone()).await.unwrap().status(), 201);
    let left = e.sim.token_expires_ms(&short).unwrap() - e.sim.clock().now_millis();
    assert!((295_000..=300_000).contains(&left), "{left} ms left");

    // Renew before expiry: same token, full period again.
    e.sim.clock().advance(Duration::from_secs(250));
    let r = e
        .http
        .post(e.api(&format!("/api/v1/token/{LIB}/{short}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accessToken"], short.as_str());
    assert_eq!(v["expiresIn"], 300);
    e.sim.clock().advance(Duration::from_secs(250));
    assert_eq!(mkdir(short.clone()).await.unwrap().status(), 201);

    // Expired: 301 s without use.
    e.sim.clock().advance(Duration::from_secs(301));
    smh_error(
        mkdir(short.clone()).await.unwrap(),
        403,
        "AuthorizationExpired",
    )
    .await;
    let r = e
        .http
        .post(e.api(&format!("/api/v1/token/{LIB}/{short}")))
        .send()
        .await
        .unwrap();
    smh_error(r, 403, "AuthorizationExpired").await;

    // Unknown and missing tokens.
    smh_error(
        mkdir("acctkforged".into()).await.unwrap(),
        403,
        "InvalidAccessToken",
    )
    .await;
    let r = e
        .http
        .put(e.api(&format!("/api/v1/directory/{LIB}/-/nodir")))
        .send()
        .await
        .unwrap();
    smh_error(r, 403, "InvalidAccessToken").await;
    let r = e
        .http
        .post(e.api(&format!("/api/v1/token/{LIB}/acctkforged")))
        .send()
        .await
        .unwrap();
    smh_error(r, 403, "InvalidAccessToken").await;

    // Another library in the path, another space.
    let r = e
        .http
        .put(e.api(&format!(
            "/api/v1/directory/otherlib/-/x?access_token={}",
            e.token
        )))
        .send()
        .await
        .unwrap();
    smh_error(r, 403, "NoPermission").await;
    let r = e
        .http
        .put(e.api(&format!(
            "/api/v1/directory/{LIB}/space2/x?access_token={}",
            e.token
        )))
        .send()
        .await
        .unwrap();
    smh_error(r, 404, "SpaceNotFound").await;

    let log = e.sim.wire().calls(calls::TOKEN);
    assert_eq!(log.len(), 12);
    assert_eq!(log[1].error.as_deref(), Some("NoPermission"));
    assert_eq!(log[1].status, 403);
    assert_eq!(log[11].param("period"), Some("60"));
    assert_eq!(log[11].param("user_id"), Some("u1"));
    assert_eq!(log[11].param("grant"), Some("create_directory"));
    assert_eq!(e.sim.wire().count(calls::TOKEN_RENEW), 3);
}

#[tokio::test]
async fn tokens_carry_their_grants_and_calls_they_do_not_permit_are_refused() {
    let mut e = env().await;
    let get = |q: String| e.http.get(e.api(&format!("/api/v1/token?{q}"))).send();
    // `grant` empty: read permission only (Tencent, "Generating an Access Token").
    let r = get(format!(
        "library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}"
    ))
    .await
    .unwrap();
    let read_only = r.json::<Value>().await.unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(e.sim.token_grants(&read_only), Some(Vec::new()));
    let r = get(format!(
        "library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}&grant=upload_file,%20create_directory,"
    ))
    .await
    .unwrap();
    let writer = r.json::<Value>().await.unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        e.sim.token_grants(&writer),
        Some(vec![
            "create_directory".to_owned(),
            "upload_file".to_owned()
        ])
    );

    // A begin with the read-only token: 403 NoPermission, on the wire as the client saw it.
    let begun = e.begin_201("a.mp4", 2 * MIB_USIZE).await;
    let key = begun["confirmKey"].as_str().unwrap().to_owned();
    e.token = read_only.clone();
    let body = smh_error(
        e.begin("b.mp4", "", Some(json!({ "size": "10" }))).await,
        403,
        "NoPermission",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("upload_file"),
        "{body}"
    );
    let last = e.sim.wire().calls(calls::BEGIN_MULTIPART).pop().unwrap();
    assert_eq!(
        (last.status, last.error.as_deref()),
        (403, Some("NoPermission"))
    );
    assert_eq!(last.param("access_token"), Some(read_only.as_str()));
    // The calls on the task and creating a directory are refused alike.
    for (method, query) in [
        (Method::GET, "upload"),
        (Method::POST, "renew"),
        (Method::POST, "confirm"),
        (Method::DELETE, "upload"),
    ] {
        let r = e
            .http
            .request(
                method.clone(),
                e.api(&format!(
                    "/api/v1/file/{LIB}/-/{key}?{query}&access_token={read_only}"
                )),
            )
            .send()
            .await
            .unwrap();
        smh_error(r, 403, "NoPermission").await;
    }
    smh_error(e.mkdir("ro").await, 403, "NoPermission").await;
    // Each grant opens what it names, and only that.
    for grant in smh::UPLOAD_GRANTS {
        e.token = e.sim.issue_token_with_grants(&[grant]);
        let r = e
            .begin(&format!("{grant}.mp4"), "", Some(json!({ "size": "10" })))
            .await;
        assert_eq!(r.status(), 201, "{grant}");
    }
    e.token = e.sim.issue_token_with_grants(&["upload_file"]);
    smh_error(e.mkdir("uf").await, 403, "NoPermission").await;
    e.token = e.sim.issue_token_with_grants(&["create_directory"]);
    assert_eq!(e.mkdir("cd").await.status(), 201);
    smh_error(
        e.begin("cd.mp4", "", Some(json!({ "size": "10" }))).await,
        403,
        "NoPermission",
    )
    .await;
    // The task begun with the writer's token goes on with it.
    e.token = writer;
    let r = e
        .http
        .delete(e.api(&format!(
            "/api/v1/file/{LIB}/-/{key}?upload&access_token={}",
            e.token
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

fn rand_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

#[tokio::test]
async fn expired_token_code_is_configurable() {
    let e = env_with(SmhSimConfig {
        expired_token_code: ExpiredTokenCode::InvalidAccessToken,
        ..SmhSimConfig::default()
    })
    .await;
    e.sim.clock().advance(Duration::from_secs(24 * 3600 + 1));
    smh_error(e.mkdir("d").await, 403, "InvalidAccessToken").await;
}

#[tokio::test]
async fn multipart_happy_path_assembles_the_parts() {
    let e = env().await;
    let r = e.mkdir("videos").await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["path"], json!(["videos"]));

    let data = bytes(2 * MIB_USIZE + 500_000, 7);
    let info = e.begin_201("videos/clip.mp4", data.len()).await;
    // `domain` has no scheme: it is the storage server's host:port.
    assert_eq!(info["domain"], e.servers.storage_domain());
    assert!(!info["domain"].as_str().unwrap().contains("://"));
    assert!(info["path"].as_str().unwrap().starts_with('/'));
    for field in ["uploadId", "confirmKey", "expiration"] {
        assert!(
            info[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    let exp = info["expiration"].as_str().unwrap();
    assert_eq!(exp.len(), "2021-07-24T10:34:32.000Z".len());
    assert!(exp.ends_with(".000Z") && &exp[10..11] == "T");
    let headers = info["headers"].as_object().unwrap();
    assert!(headers.contains_key("Authorization"));
    assert!(headers.contains_key("x-cos-security-token"));
    let key = info["confirmKey"].as_str().unwrap().to_owned();

    // Parts out of order; each answers the quoted MD5 as ETag.
    let chunks: Vec<&[u8]> = data.chunks(MIB_USIZE).collect();
    for n in [3u32, 1, 2] {
        let chunk = chunks[n as usize - 1];
        let r = e.put_part(&info, n, chunk).await;
        assert_eq!(r.status(), 200);
        let etag = r
            .headers()
            .get("etag")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(etag, format!("\"{}\"", md5_hex(chunk)));
    }
    assert_eq!(e.sim.upload_state(&key), Some(SmhUploadState::Active));
    let parts = e.sim.parts(&key).unwrap();
    assert_eq!(
        parts.iter().map(|p| (p.number, p.size)).collect::<Vec<_>>(),
        vec![(1, MIB), (2, MIB), (3, 500_000)]
    );

    let r = e
        .confirm(&key, Some(json!({ "crc64": crc64(&data).to_string() })))
        .await;
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["path"], json!(["videos", "clip.mp4"]));
    assert_eq!(file["name"], "clip.mp4");
    assert_eq!(file["type"], "file");
    assert_eq!(file["size"], data.len().to_string());
    assert_eq!(file["crc64"], crc64(&data).to_string());
    assert_eq!(file["contentType"], "video/mp4");
    assert_eq!(file["isOverwritten"], false);
    // A multipart object's eTag: MD5 of the part MD5s, dash, part count.
    let mut concat = Vec::new();
    for c in &chunks {
        concat.extend_from_slice(&Md5::digest(c));
    }
    assert_eq!(file["eTag"], format!("\"{}-3\"", md5_hex(&concat)));

    assert_eq!(e.sim.file("videos/clip.mp4").unwrap(), data);
    assert_eq!(e.sim.storage_bytes_received(), data.len() as u64);
    assert_eq!(
        e.sim.upload_state(&key),
        Some(SmhUploadState::Confirmed {
            path: vec!["videos".into(), "clip.mp4".into()]
        })
    );
    assert_eq!(e.sim.files().len(), 1);
    assert_eq!(e.sim.used_bytes(), data.len() as u64);

    // What crossed the wire.
    let begin = &e.sim.wire().calls(calls::BEGIN_MULTIPART)[0];
    assert_eq!(begin.param("multipart"), Some(""));
    assert_eq!(begin.param("size"), Some(data.len().to_string().as_str()));
    assert_eq!(begin.param("FilePath"), Some("videos/clip.mp4"));
    let puts = e.sim.wire().calls(calls::PUT_PART);
    assert_eq!(
        puts.iter()
            .map(|r| (r.param("partNumber").unwrap().to_owned(), r.files[0].1))
            .collect::<Vec<_>>(),
        vec![
            ("3".into(), 500_000),
            ("1".into(), MIB_USIZE),
            ("2".into(), MIB_USIZE)
        ]
    );
    assert!(puts[0].param("header:x-sim-signature").is_some());
    assert_eq!(e.sim.wire().file_bytes(), data.len());
    let confirm = &e.sim.wire().calls(calls::CONFIRM_UPLOAD)[0];
    assert_eq!(
        confirm.param("crc64"),
        Some(crc64(&data).to_string().as_str())
    );
    assert_eq!(confirm.status, 200);
    assert_eq!(confirm.error, None);
}

#[tokio::test]
async fn confirm_without_body_and_resent_part_replaces() {
    let e = env().await;
    let data = bytes(MIB_USIZE + 10, 3);
    let info = e.begin_201("a.mp4", data.len()).await;
    let key = info["confirmKey"].as_str().unwrap();
    assert_eq!(
        e.put_part(&info, 1, &bytes(MIB_USIZE, 99)).await.status(),
        200
    );
    assert_eq!(e.put_part(&info, 2, &data[MIB_USIZE..]).await.status(), 200);
    // Re-send part 1 with the right bytes: it replaces the first.
    assert_eq!(e.put_part(&info, 1, &data[..MIB_USIZE]).await.status(), 200);
    assert_eq!(e.sim.parts(key).unwrap().len(), 2);
    let r = e.confirm(key, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(e.sim.file("a.mp4").unwrap(), data);
    assert_eq!(e.sim.storage_bytes_received(), (2 * MIB_USIZE + 10) as u64);
}

#[tokio::test]
async fn instant_upload_202_then_200_sends_no_bytes() {
    let e = env().await;
    e.mkdir("v").await;
    let data = bytes(2 * MIB_USIZE + 1234, 11);
    let (beginning, full) = smh_hashes(&data);
    e.upload("v/orig.mp4", &data, MIB_USIZE).await;
    let received = e.sim.storage_bytes_received();
    let uploads = e.sim.upload_count();

    // beginningHash only → 202, empty body.
    let r = e
        .begin(
            "v/copy.mp4",
            "",
            Some(json!({ "size": data.len().to_string(), "beginningHash": beginning })),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert!(r.bytes().await.unwrap().is_empty());

    // With fullHash → 200 and the file info; the file exists, no byte was sent.
    let r = e
        .begin(
            "v/copy.mp4",
            "",
            Some(json!({ "size": data.len(), "beginningHash": beginning, "fullHash": full })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["path"], json!(["v", "copy.mp4"]));
    assert_eq!(file["size"], data.len().to_string());
    assert_eq!(file["crc64"], crc64(&data).to_string());
    assert_eq!(e.sim.file("v/copy.mp4").unwrap(), data);
    assert_eq!(e.sim.storage_bytes_received(), received);
    assert_eq!(e.sim.upload_count(), uploads);

    // Same name again: auto-renamed.
    let r = e
        .begin(
            "v/copy.mp4",
            "",
            Some(json!({ "size": data.len(), "beginningHash": beginning, "fullHash": full })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["path"], json!(["v", "copy (1).mp4"]));

    // A wrong fullHash, a wrong size or an unknown beginning → a normal 201 upload.
    for body in [
        json!({ "size": data.len(), "beginningHash": beginning, "fullHash": "00".repeat(32) }),
        json!({ "size": data.len() + 1, "beginningHash": beginning }),
        json!({ "size": data.len(), "beginningHash": "11".repeat(32) }),
        json!({ "size": data.len() }),
    ] {
        assert_eq!(e.begin("v/other.mp4", "", Some(body)).await.status(), 201);
    }
    assert_eq!(e.sim.storage_bytes_received(), received);
}

#[tokio::test]
async fn files_under_one_mib_are_never_instant() {
    let e = env().await;
    let data = bytes(MIB_USIZE - 1, 5);
    let (beginning, full) = smh_hashes(&data);
    e.upload("small.jpg", &data, MIB_USIZE).await;
    let r = e
        .begin(
            "small2.jpg",
            "",
            Some(json!({ "size": data.len(), "beginningHash": beginning, "fullHash": full })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = e
        .begin(
            "small3.jpg",
            "",
            Some(json!({ "size": data.len(), "beginningHash": beginning })),
        )
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn presigned_headers_are_enforced() {
    let e = env().await;
    let info = e.begin_201("p.mp4", 3 * MIB_USIZE).await;
    let other = e.begin_201("q.mp4", 3 * MIB_USIZE).await;
    let part = bytes(MIB_USIZE, 1);
    let url = |info: &Value, n: &str| {
        format!(
            "http://{}{}?uploadId={}&partNumber={n}",
            info["domain"].as_str().unwrap(),
            info["path"].as_str().unwrap(),
            info["uploadId"].as_str().unwrap()
        )
    };

    // Without the headers; with one header dropped; with a forged signature.
    let r = e
        .http
        .put(url(&info, "1"))
        .body(part.clone())
        .send()
        .await
        .unwrap();
    cos_error(r, 403, "AccessDenied", "Access Denied.").await;
    for drop_header in ["x-cos-security-token", "Authorization", "x-sim-expires"] {
        let mut req = e.http.put(url(&info, "1")).body(part.clone());
        for (k, v) in info["headers"].as_object().unwrap() {
            if k != drop_header {
                req = req.header(k.as_str(), v.as_str().unwrap());
            }
        }
        cos_error(
            req.send().await.unwrap(),
            403,
            "AccessDenied",
            "Access Denied.",
        )
        .await;
    }
    let mut forged = info.clone();
    forged["headers"]["x-sim-signature"] = json!("0".repeat(64));
    let r = e.put_part(&forged, 1, &part).await;
    cos_error(r, 403, "AccessDenied", "Access Denied.").await;
    // A later expiry without a matching signature.
    let mut stretched = info.clone();
    stretched["headers"]["x-sim-expires"] = json!("99999999999");
    let r = e.put_part(&stretched, 1, &part).await;
    cos_error(r, 403, "AccessDenied", "Access Denied.").await;
    // Headers of one upload used for another upload's URL.
    let mut crossed = other.clone();
    crossed["headers"] = info["headers"].clone();
    let r = e.put_part(&crossed, 1, &part).await;
    cos_error(r, 403, "AccessDenied", "Access Denied.").await;

    // Part numbers outside 1..=10000.
    for n in ["0", "10001", "x", ""] {
        let r = e.put_with_headers(&url(&info, n), &info, &part).await;
        cos_error(
            r,
            400,
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
        )
        .await;
    }
    assert_eq!(
        e.put_with_headers(&url(&info, "10000"), &info, &part)
            .await
            .status(),
        200
    );

    // Expiry (30 min by default) on the movable clock, then renew: same uploadId, new expiry.
    assert_eq!(e.put_part(&info, 1, &part).await.status(), 200);
    e.sim.clock().advance(Duration::from_secs(31 * 60));
    let r = e.put_part(&info, 2, &part).await;
    cos_error(r, 403, "AccessDenied", "Request has expired").await;
    let key = info["confirmKey"].as_str().unwrap();
    let r = e.on_key(Method::POST, key, "renew", None).await;
    assert_eq!(r.status(), 200);
    let renewed: Value = r.json().await.unwrap();
    assert_eq!(renewed["uploadId"], info["uploadId"]);
    assert_eq!(renewed["confirmKey"], info["confirmKey"]);
    assert_ne!(renewed["expiration"], info["expiration"]);
    assert_eq!(e.put_part(&renewed, 2, &part).await.status(), 200);
    let errors: Vec<_> = e
        .sim
        .wire()
        .calls(calls::PUT_PART)
        .into_iter()
        .filter_map(|r| r.error)
        .collect();
    assert!(errors
        .iter()
        .all(|c| c == "AccessDenied" || c == "InvalidArgument"));
    assert_eq!(e.sim.storage_bytes_received(), 3 * MIB);
}

#[tokio::test]
async fn content_md5_is_checked() {
    let e = env().await;
    let info = e.begin_201("m.mp4", MIB_USIZE).await;
    let part = bytes(1000, 2);
    let url = format!(
        "http://{}{}?uploadId={}&partNumber=1",
        info["domain"].as_str().unwrap(),
        info["path"].as_str().unwrap(),
        info["uploadId"].as_str().unwrap()
    );
    let mut req = e
        .http
        .put(&url)
        .body(part.clone())
        .header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==");
    for (k, v) in info["headers"].as_object().unwrap() {
        req = req.header(k.as_str(), v.as_str().unwrap());
    }
    cos_error(
        req.send().await.unwrap(),
        400,
        "BadDigest",
        "The Content-MD5 you specified did not match what was received.",
    )
    .await;
}

#[tokio::test]
async fn status_lists_parts_and_gives_working_upload_info() {
    let e = env().await;
    let info = e.begin_201("s.mp4", 2 * MIB_USIZE + 5).await;
    let key = info["confirmKey"].as_str().unwrap();
    let data = bytes(2 * MIB_USIZE + 5, 9);
    let chunks: Vec<&[u8]> = data.chunks(MIB_USIZE).collect();
    assert_eq!(e.put_part(&info, 1, chunks[0]).await.status(), 200);
    assert_eq!(e.put_part(&info, 3, chunks[2]).await.status(), 200);

    e.sim.clock().advance(Duration::from_secs(40 * 60));
    let r = e.on_key(Method::GET, key, "upload", None).await;
    assert_eq!(r.status(), 200);
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["confirmKey"], key);
    assert_eq!(st["path"], json!(["s.mp4"]));
    let parts = st["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["PartNumber"], "1");
    assert_eq!(parts[0]["Size"], MIB.to_string());
    assert_eq!(parts[0]["ETag"], format!("\"{}\"", md5_hex(chunks[0])));
    assert_eq!(parts[1]["PartNumber"], "3");
    assert_eq!(parts[1]["Size"], "5");
    // Resume: the fresh upload info works although the original headers expired.
    let fresh = &st["uploadPartInfo"];
    assert_eq!(fresh["uploadId"], info["uploadId"]);
    assert_eq!(fresh["domain"], info["domain"]);
    cos_error(
        e.put_part(&info, 2, chunks[1]).await,
        403,
        "AccessDenied",
        "Request has expired",
    )
    .await;
    assert_eq!(e.put_part(fresh, 2, chunks[1]).await.status(), 200);
    let r = e.confirm(key, Some(json!({ "crc64": crc64(&data) }))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(e.sim.file("s.mp4").unwrap(), data);
}

#[tokio::test]
async fn confirm_rejections() {
    let e = env().await;
    let info = e.begin_201("c.mp4", 3 * MIB_USIZE).await;
    let key = info["confirmKey"].as_str().unwrap();
    smh_error(e.confirm(key, None).await, 400, "MultipartUploadIncomplete").await;

    // A gap: parts 1 and 3.
    let big = bytes(MIB_USIZE, 1);
    assert_eq!(e.put_part(&info, 1, &big).await.status(), 200);
    assert_eq!(e.put_part(&info, 3, &big).await.status(), 200);
    smh_error(e.confirm(key, None).await, 400, "MultipartUploadIncomplete").await;

    // A non-last part under 1 MiB.
    assert_eq!(
        e.put_part(&info, 2, &bytes(MIB_USIZE - 1, 2))
            .await
            .status(),
        200
    );
    smh_error(
        e.confirm(key, None).await,
        400,
        "MultipartUploadPartTooSmall",
    )
    .await;
    assert_eq!(e.put_part(&info, 2, &big).await.status(), 200);

    // A wrong crc64; a malformed one.
    let all = [big.clone(), big.clone(), big.clone()].concat();
    let wrong = (crc64(&all) ^ 1).to_string();
    smh_error(
        e.confirm(key, Some(json!({ "crc64": wrong }))).await,
        400,
        "BadCrc64",
    )
    .await;
    smh_error(
        e.confirm(key, Some(json!({ "crc64": "abc" }))).await,
        400,
        "InvalidParameter",
    )
    .await;
    // The last part may be small.
    assert_eq!(e.put_part(&info, 3, b"tail").await.status(), 200);
    let all = [big.clone(), big.clone(), b"tail".to_vec()].concat();
    let r = e
        .confirm(key, Some(json!({ "crc64": crc64(&all).to_string() })))
        .await;
    assert_eq!(r.status(), 200);

    // Twice; after completion every task call answers UploadComplete; parts are refused.
    smh_error(e.confirm(key, None).await, 409, "UploadComplete").await;
    smh_error(
        e.on_key(Method::POST, key, "renew", None).await,
        409,
        "UploadComplete",
    )
    .await;
    smh_error(
        e.on_key(Method::GET, key, "upload", None).await,
        409,
        "UploadComplete",
    )
    .await;
    smh_error(
        e.on_key(Method::DELETE, key, "upload", None).await,
        409,
        "UploadComplete",
    )
    .await;
    let r = e.put_part(&info, 1, &big).await;
    cos_error(r, 404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").await;

    // Unknown key.
    smh_error(
        e.confirm(&"ab".repeat(32), None).await,
        404,
        "ConfirmKeyNotFound",
    )
    .await;
    assert_eq!(
        e.sim.wire().calls(calls::CONFIRM_UPLOAD)[0]
            .error
            .as_deref(),
        Some("MultipartUploadIncomplete")
    );
}

#[tokio::test]
async fn cancel_and_task_expiry() {
    let e = env().await;
    let info = e.begin_201("x.mp4", 2 * MIB_USIZE).await;
    let key = info["confirmKey"].as_str().unwrap();
    assert_eq!(
        e.put_part(&info, 1, &bytes(MIB_USIZE, 0)).await.status(),
        200
    );
    let r = e.on_key(Method::DELETE, key, "upload", None).await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(e.sim.upload_state(key), Some(SmhUploadState::Cancelled));
    smh_error(
        e.on_key(Method::DELETE, key, "upload", None).await,
        404,
        "UploadNotFound",
    )
    .await;
    smh_error(
        e.on_key(Method::GET, key, "upload", None).await,
        404,
        "UploadNotFound",
    )
    .await;
    smh_error(e.confirm(key, None).await, 404, "UploadNotFound").await;
    let r = e.put_part(&info, 2, &bytes(10, 0)).await;
    assert_eq!(r.status(), 404);
    smh_error(
        e.on_key(Method::DELETE, &"cd".repeat(32), "upload", None)
            .await,
        404,
        "ConfirmKeyNotFound",
    )
    .await;

    // An unconfirmed task is forgotten after 24 h.
    let info = e.begin_201("y.mp4", 2 * MIB_USIZE).await;
    let key = info["confirmKey"].as_str().unwrap().to_owned();
    e.sim.clock().advance(Duration::from_secs(24 * 3600 + 60));
    let e = Env {
        token: e.sim.issue_token(),
        ..e
    };
    smh_error(
        e.on_key(Method::POST, &key, "renew", None).await,
        404,
        "UploadNotFound",
    )
    .await;
    assert_eq!(e.sim.upload_state(&key), Some(SmhUploadState::Cancelled));
}

#[tokio::test]
async fn directories_and_conflict_strategies() {
    let e = env().await;
    // Parents are not created.
    smh_error(e.mkdir("a/b").await, 404, "DirectoryNotFound").await;
    assert_eq!(e.mkdir("a").await.status(), 201);
    assert_eq!(e.mkdir("a/b").await.status(), 201);
    smh_error(e.mkdir("a").await, 409, "SameNameDirectoryOrFileExists").await;
    let r = e
        .http
        .put(e.api(&format!(
            "/api/v1/directory/{LIB}/-/a?conflict_resolution_strategy=rename&access_token={}",
            e.token
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["path"], json!(["a (1)"]));

    // Begin into a missing directory.
    let r = e.begin("nope/f.mp4", "", Some(json!({ "size": 10 }))).await;
    smh_error(r, 404, "DirectoryNotFound").await;
    let r = e
        .http
        .put(e.api(&format!(
            "/api/v1/file/{LIB}/-/nope/f.jpg?access_token={}",
            e.token
        )))
        .send()
        .await
        .unwrap();
    smh_error(r, 404, "DirectoryNotFound").await;

    let one = bytes(MIB_USIZE + 1, 1);
    let two = bytes(MIB_USIZE + 2, 2);
    e.upload("a/b/f.mp4", &one, MIB_USIZE).await;
    // Default rename.
    let file = e.upload("a/b/f.mp4", &two, MIB_USIZE).await;
    assert_eq!(file["path"], json!(["a", "b", "f (1).mp4"]));
    assert_eq!(e.sim.file("a/b/f (1).mp4").unwrap(), two);
    // ask → 409 at begin.
    let r = e
        .begin(
            "a/b/f.mp4",
            "&conflict_resolution_strategy=ask",
            Some(json!({ "size": 1 })),
        )
        .await;
    smh_error(r, 409, "SameNameDirectoryOrFileExists").await;
    // ask → 409 at confirm too, when the name was taken in between.
    let late = e.begin_201("a/b/g.mp4", 10).await;
    assert_eq!(e.put_part(&late, 1, b"0123456789").await.status(), 200);
    e.upload("a/b/g.mp4", &one, MIB_USIZE).await;
    let r = e
        .http
        .post(e.api(&format!(
            "/api/v1/file/{LIB}/-/{}?confirm&conflict_resolution_strategy=ask&access_token={}",
            late["confirmKey"].as_str().unwrap(),
            e.token
        )))
        .send()
        .await
        .unwrap();
    smh_error(r, 409, "SameNameDirectoryOrFileExists").await;
    // overwrite → same path, isOverwritten.
    let info = e
        .begin(
            "a/b/f.mp4",
            "&conflict_resolution_strategy=overwrite",
            Some(json!({ "size": two.len() })),
        )
        .await;
    assert_eq!(info.status(), 201);
    let info: Value = info.json().await.unwrap();
    e.put_part(&info, 1, &two[..MIB_USIZE]).await;
    e.put_part(&info, 2, &two[MIB_USIZE..]).await;
    let r = e.confirm(info["confirmKey"].as_str().unwrap(), None).await;
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["path"], json!(["a", "b", "f.mp4"]));
    assert_eq!(file["isOverwritten"], true);
    assert_eq!(e.sim.file("a/b/f.mp4").unwrap(), two);
    // A directory is never overwritten.
    let r = e
        .begin(
            "a/b",
            "&conflict_resolution_strategy=overwrite",
            Some(json!({ "size": 1 })),
        )
        .await;
    smh_error(r, 409, "SameNameDirectoryOrFileExists").await;
    // A bad strategy.
    let r = e
        .begin(
            "a/b/h.mp4",
            "&conflict_resolution_strategy=merge",
            Some(json!({ "size": 1 })),
        )
        .await;
    smh_error(r, 400, "InvalidParameter").await;
}

#[tokio::test]
async fn recursive_directory_creation_is_configurable() {
    let e = env_with(SmhSimConfig {
        create_parent_directories: true,
        ..SmhSimConfig::default()
    })
    .await;
    assert_eq!(e.mkdir("x/y/z").await.status(), 201);
    assert_eq!(e.sim.directories().len(), 3);
}

#[tokio::test]
async fn quota_is_enforced_at_begin_and_confirm() {
    let e = env_with(SmhSimConfig {
        capacity_bytes: 3 * MIB,
        ..SmhSimConfig::default()
    })
    .await;
    let r = e
        .begin(
            "big.mp4",
            "&filesize=4194304",
            Some(json!({ "size": "4194304" })),
        )
        .await;
    smh_error(r, 400, "QuotaLimitReached").await;
    e.upload("one.mp4", &bytes(2 * MIB_USIZE, 1), MIB_USIZE)
        .await;
    // Declared small, sent big: refused at confirm.
    let info = e.begin_201("two.mp4", 10).await;
    e.put_part(&info, 1, &bytes(MIB_USIZE, 2)).await;
    e.put_part(&info, 2, &bytes(MIB_USIZE, 3)).await;
    smh_error(
        e.confirm(info["confirmKey"].as_str().unwrap(), None).await,
        400,
        "QuotaLimitReached",
    )
    .await;
    // Instant upload counts too.
    let data = bytes(2 * MIB_USIZE, 1);
    let (b, f) = smh_hashes(&data);
    let r = e
        .begin(
            "copy.mp4",
            "",
            Some(json!({ "size": data.len(), "beginningHash": b, "fullHash": f })),
        )
        .await;
    smh_error(r, 400, "QuotaLimitReached").await;
    assert_eq!(e.sim.used_bytes(), 2 * MIB);
}

#[tokio::test]
async fn simple_upload_for_small_files() {
    let e = env().await;
    let image = bytes(70_000, 4);
    let r = e
        .http
        .put(e.api(&format!(
            "/api/v1/file/{LIB}/-/cover.jpg?conflict_resolution_strategy=rename&filesize={}&access_token={}",
            image.len(),
            e.token
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let info: Value = r.json().await.unwrap();
    assert!(info.get("uploadId").is_none());
    let key = info["confirmKey"].as_str().unwrap();
    let url = format!(
        "http://{}{}",
        info["domain"].as_str().unwrap(),
        info["path"].as_str().unwrap()
    );
    // Without headers → denied; multipart-style query with simple headers → denied.
    let r = e.http.put(&url).body(image.clone()).send().await.unwrap();
    cos_error(r, 403, "AccessDenied", "Access Denied.").await;
    let r = e
        .put_with_headers(&format!("{url}?uploadId=x&partNumber=1"), &info, &image)
        .await;
    cos_error(r, 403, "AccessDenied", "Access Denied.").await;
    smh_error(e.confirm(key, None).await, 400, "MultipartUploadIncomplete").await;

    let r = e.put_with_headers(&url, &info, &image).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("etag").unwrap().to_str().unwrap(),
        format!("\"{}\"", md5_hex(&image))
    );
    let r = e
        .confirm(key, Some(json!({ "crc64": crc64(&image).to_string() })))
        .await;
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["path"], json!(["cover.jpg"]));
    assert_eq!(file["eTag"], format!("\"{}\"", md5_hex(&image)));
    assert_eq!(file["contentType"], "image/jpeg");
    assert_eq!(e.sim.file("cover.jpg").unwrap(), image);
    // The request with `uploadId` counts as a part PUT.
    assert_eq!(e.sim.wire().count(calls::PUT_OBJECT), 2);
    assert_eq!(e.sim.wire().count(calls::PUT_PART), 1);
    assert_eq!(e.sim.wire().count(calls::BEGIN_SIMPLE), 1);
}

#[tokio::test]
async fn rate_limit_can_be_forced() {
    let e = env().await;
    e.sim.set_rate_limited(true);
    let r = e.mkdir("d").await;
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    smh_error(r, 429, "RateLimitExceeded").await;
    e.sim.set_rate_limited(false);
    assert_eq!(e.mkdir("d").await.status(), 201);

    let e = env_with(SmhSimConfig {
        rate_limited: false,
        ..SmhSimConfig::default()
    })
    .await;
    assert_eq!(e.mkdir("d").await.status(), 201);
}

#[tokio::test]
async fn malformed_requests_get_platform_errors() {
    let e = env().await;
    let r = e
        .http
        .post(e.api(&format!(
            "/api/v1/file/{LIB}/-/f.mp4?multipart&access_token={}",
            e.token
        )))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    smh_error(r, 400, "InvalidParameter").await;
    let r = e.begin("f.mp4", "", Some(json!({ "size": "ten" }))).await;
    smh_error(r, 400, "InvalidParameter").await;
    // (URLs normalise `..` away before sending, so the empty segment stands for bad paths.)
    let r = e.begin("a//f.mp4", "", None).await;
    smh_error(r, 400, "InvalidParameter").await;
    let r = e.begin("bad%ZZ.mp4", "", None).await;
    smh_error(r, 400, "InvalidParameter").await;
    let r = e.http.get(e.api("/api/v2/nothing")).send().await.unwrap();
    smh_error(r, 404, "NotFound").await;
    // An empty body is allowed: no instant upload, 201.
    assert_eq!(e.begin("f.mp4", "", None).await.status(), 201);
    assert_eq!(e.sim.wire().count(calls::UNKNOWN), 1);
}

#[tokio::test]
async fn standalone_start_reports_endpoints_and_credentials() {
    let running = smh::start_standalone(
        SmhSimConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let v = serde_json::to_value(&running.endpoints).unwrap();
    assert_eq!(v["platform"], "smh");
    assert_eq!(v["credentials"]["library_id"], TEST_LIBRARY_ID);
    assert_eq!(v["credentials"]["library_secret"], TEST_LIBRARY_SECRET);
    assert_eq!(v["credentials"]["space_id"], "-");
    assert_eq!(v["storage_scheme"], "http");
    assert_eq!(
        v["storage_base_url"],
        format!("http://{}", v["storage_domain"].as_str().unwrap())
    );
    let r = reqwest::get(format!(
        "{}/api/v1/token?library_id={TEST_LIBRARY_ID}&library_secret={TEST_LIBRARY_SECRET}",
        running.endpoints.api_base_url
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
