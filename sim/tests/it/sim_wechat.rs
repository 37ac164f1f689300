//! The WeChat Channels Store simulator driven over real HTTP, with SHA-1s computed here (not
//! with the simulator's code), proving each rule it enforces and each refusal's shape.

use std::time::Duration;

use marketmedia_sim::fixtures::{sample_jpeg, sample_png};
use marketmedia_sim::wechat::{
    code, UploadStatus, WechatSim, WechatSimConfig, TEST_ACCESS_TOKEN, TEST_APPID, TEST_APPSECRET,
};
use marketmedia_sim::SimServer;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

const MIB: usize = 1024 * 1024;

struct Env {
    sim: WechatSim,
    server: SimServer,
    http: reqwest::Client,
}

async fn env(config: WechatSimConfig) -> Env {
    let sim = WechatSim::new(config);
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Env {
        sim,
        server,
        http: reqwest::Client::new(),
    }
}

fn fast() -> WechatSimConfig {
    WechatSimConfig {
        processing_delay: Duration::from_millis(0),
        ..WechatSimConfig::default()
    }
}

fn sha1_hex(b: &[u8]) -> String {
    hex::encode(Sha1::digest(b))
}

fn errcode(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or(i64::MIN)
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    async fn post_json(&self, path: &str, token: &str, body: Value) -> Value {
        self.http
            .post(self.url(path))
            .query(&[("access_token", token)])
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn init(&self, size: u64) -> String {
        let v = self
            .post_json(
                "/shop/ec/basics/video/initupload",
                TEST_ACCESS_TOKEN,
                json!({"scene_type": 162, "file_type": "mp4", "file_size": size}),
            )
            .await;
        assert_eq!(errcode(&v), 0, "{v}");
        v["data"]["video_upload_key"].as_str().unwrap().to_owned()
    }

    async fn part(&self, key: &str, partnum: &str, bytes: Vec<u8>) -> Value {
        let form = Form::new().part("media", Part::bytes(bytes).file_name("part"));
        self.http
            .post(self.url("/shop/ec/basics/video/uploadpart"))
            .query(&[
                ("access_token", TEST_ACCESS_TOKEN),
                ("video_upload_key", key),
                ("partnum", partnum),
            ])
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn finish(&self, key: &str, parts: &[(u32, String)]) -> Value {
        let list: Vec<Value> = parts
            .iter()
            .map(|(n, sha)| json!({"partnum": n, "part_sha": sha}))
            .collect();
        self.post_json(
            "/shop/ec/basics/video/finishupload",
            TEST_ACCESS_TOKEN,
            json!({"video_upload_key": key, "finish_parts": list}),
        )
        .await
    }

    async fn play(&self, key: &str) -> Value {
        self.http
            .get(self.url("/shop/ec/basics/video/getplayinfo"))
            .query(&[
                ("access_token", TEST_ACCESS_TOKEN),
                ("video_upload_key", key),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Parts out of order and re-sent, answered with their SHA-1; a sorted finish assembles them;
/// the play URL comes after the processing delay.
#[tokio::test]
async fn a_video_uploads_out_of_order_and_finishes() {
    let e = env(WechatSimConfig {
        processing_delay: Duration::from_secs(5),
        ..WechatSimConfig::default()
    })
    .await;
    let a: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    let b: Vec<u8> = vec![7u8; 1000];
    let key = e.init((a.len() + b.len()) as u64).await;
    let v = e.part(&key, "2", vec![1u8; 10]).await;
    assert_eq!(v["data"]["part_sha"], sha1_hex(&[1u8; 10]));
    // A re-send overwrites.
    let v = e.part(&key, "2", b.clone()).await;
    assert_eq!(v["data"]["part_sha"], sha1_hex(&b), "{v}");
    let v = e.part(&key, "1", a.clone()).await;
    assert_eq!(v["data"]["part_sha"], sha1_hex(&a));
    let parts = [(1, sha1_hex(&a)), (2, sha1_hex(&b))];
    let v = e.finish(&key, &parts).await;
    assert_eq!(errcode(&v), 0, "{v}");
    assert_eq!(e.sim.upload(&key).unwrap().status, UploadStatus::Processing);
    let v = e.play(&key).await;
    assert_eq!(errcode(&v), 0);
    assert!(v["data"]["url"].is_null(), "not ready yet: {v}");
    e.sim.clock().advance(Duration::from_secs(6));
    let v = e.play(&key).await;
    assert!(v["data"]["url"].as_str().unwrap().contains(&key), "{v}");
    let mut whole = a.clone();
    whole.extend_from_slice(&b);
    assert_eq!(
        e.sim.assembled_bytes(&key).unwrap().as_ref(),
        whole.as_slice()
    );
    // The same finish again (its answer lost) is answered again; other parts are refused.
    assert_eq!(errcode(&e.finish(&key, &parts).await), 0);
    assert_eq!(
        errcode(&e.finish(&key, &parts[..1]).await),
        code::UPLOAD_STATE
    );
    // A part after the finish is refused.
    assert_eq!(
        errcode(&e.part(&key, "3", b.clone()).await),
        code::UPLOAD_STATE
    );
}

#[tokio::test]
async fn part_numbers_and_sizes_are_enforced() {
    let e = env(fast()).await;
    let key = e.init(100 * MIB as u64).await;
    for bad in ["0", "10001", "-1", "x"] {
        let v = e.part(&key, bad, vec![0u8; 10]).await;
        assert_eq!(errcode(&v), code::INVALID_PARAMETER, "partnum {bad}: {v}");
    }
    assert_eq!(errcode(&e.part(&key, "10000", vec![0u8; 10]).await), 0);
    let v = e.part(&key, "1", vec![0u8; 2_000_001]).await;
    assert_eq!(errcode(&v), code::INVALID_PARAMETER, "{v}");
    assert!(
        v["errmsg"].as_str().unwrap().contains("EntityTooLarge"),
        "{v}"
    );
    assert_eq!(errcode(&e.part(&key, "1", vec![0u8; 2_000_000]).await), 0);
    assert_eq!(
        errcode(&e.part(&key, "1", Vec::new()).await),
        code::INVALID_PARAMETER
    );
    // The part must be the form field `media`.
    let v: Value = e
        .http
        .post(e.url("/shop/ec/basics/video/uploadpart"))
        .query(&[
            ("access_token", TEST_ACCESS_TOKEN),
            ("video_upload_key", key.as_str()),
            ("partnum", "1"),
        ])
        .multipart(Form::new().part("file", Part::bytes(vec![1u8; 10]).file_name("p")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::INVALID_PARAMETER, "{v}");
}

#[tokio::test]
async fn finish_checks_order_gaps_sha_sizes_and_entity_too_small() {
    let e = env(fast()).await;
    let small = vec![3u8; MIB - 1];
    let big = vec![4u8; MIB];
    let last = vec![5u8; 10];
    // A part but the last under 1 MiB: EntityTooSmall.
    let key = e.init((small.len() + last.len()) as u64).await;
    e.part(&key, "1", small.clone()).await;
    e.part(&key, "2", last.clone()).await;
    let v = e
        .finish(&key, &[(1, sha1_hex(&small)), (2, sha1_hex(&last))])
        .await;
    assert_eq!(errcode(&v), code::ENTITY_TOO_SMALL, "{v}");
    assert!(v["errmsg"].as_str().unwrap().contains("EntityTooSmall"));
    assert!(v["errmsg"].as_str().unwrap().contains(" rid: "), "{v}");

    let key = e.init((2 * big.len() + last.len()) as u64).await;
    for (n, b) in [("1", &big), ("2", &big), ("3", &last)] {
        assert_eq!(errcode(&e.part(&key, n, b.clone()).await), 0);
    }
    let s = |b: &[u8]| sha1_hex(b);
    let refusals: Vec<Vec<(u32, String)>> = vec![
        vec![(2, s(&big)), (1, s(&big)), (3, s(&last))], // not sorted
        vec![(1, s(&big)), (3, s(&last))],               // a gap
        vec![(2, s(&big)), (3, s(&last))],               // not from 1
        vec![(1, s(&big)), (2, s(&last)), (3, s(&last))], // a wrong part_sha
        vec![(1, s(&big)), (2, s(&big))],                // short of file_size
    ];
    for parts in refusals {
        let v = e.finish(&key, &parts).await;
        assert_eq!(errcode(&v), code::INVALID_PARAMETER, "{parts:?}: {v}");
    }
    assert_eq!(e.sim.upload(&key).unwrap().status, UploadStatus::Uploading);
    let v = e
        .finish(&key, &[(1, s(&big)), (2, s(&big)), (3, s(&last))])
        .await;
    assert_eq!(errcode(&v), 0, "{v}");
}

#[tokio::test]
async fn unknown_and_expired_keys_are_refused() {
    let e = env(WechatSimConfig {
        upload_key_ttl: Duration::from_secs(60),
        ..fast()
    })
    .await;
    assert_eq!(
        errcode(&e.part("vuk_nope", "1", vec![1]).await),
        code::NO_SUCH_UPLOAD
    );
    assert_eq!(errcode(&e.play("vuk_nope").await), code::NO_SUCH_UPLOAD);
    let key = e.init(10).await;
    assert_eq!(errcode(&e.play(&key).await), code::UPLOAD_STATE);
    e.sim.clock().advance(Duration::from_secs(61));
    assert_eq!(
        errcode(&e.part(&key, "1", vec![1; 10]).await),
        code::NO_SUCH_UPLOAD
    );
    assert_eq!(
        errcode(&e.finish(&key, &[(1, sha1_hex(&[1; 10]))]).await),
        code::NO_SUCH_UPLOAD
    );
    assert!(e.sim.upload(&key).unwrap().expired);
}

#[tokio::test]
async fn init_checks_scene_and_size() {
    let e = env(fast()).await;
    let init =
        |body: Value| e.post_json("/shop/ec/basics/video/initupload", TEST_ACCESS_TOKEN, body);
    let cases = [
        json!({"scene_type": 1, "file_type": "mp4", "file_size": 10}),
        json!({"scene_type": 162, "file_type": "", "file_size": 10}),
        json!({"scene_type": 162, "file_type": "mp4", "file_size": 0}),
        json!({"scene_type": 162, "file_type": "mp4", "file_size": 500_000_001u64}),
        json!({"scene_type": 173, "file_type": "mp4", "file_size": 20_000_001u64}),
        json!({"scene_type": "162", "file_type": "mp4", "file_size": 10}),
    ];
    for body in cases {
        assert_eq!(
            errcode(&init(body.clone()).await),
            code::INVALID_PARAMETER,
            "{body}"
        );
    }
    for body in [
        json!({"scene_type": 162, "file_type": "mp4", "file_size": 500_000_000u64}),
        json!({"scene_type": 173, "file_type": "mp4", "file_size": 20_000_000u64}),
    ] {
        assert_eq!(errcode(&init(body.clone()).await), 0, "{body}");
    }
    // Not JSON.
    let v: Value = e
        .http
        .post(e.url("/shop/ec/basics/video/initupload"))
        .query(&[("access_token", TEST_ACCESS_TOKEN)])
        .body("scene_type=162")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::DATA_FORMAT, "{v}");
    // GET where POST is required.
    let v: Value = e
        .http
        .get(e.url("/shop/ec/basics/video/initupload"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::REQUIRE_POST);
}

#[tokio::test]
async fn tokens_are_issued_checked_superseded_and_expire() {
    let e = env(WechatSimConfig {
        token_ttl: Duration::from_secs(7200),
        ..fast()
    })
    .await;
    let token = |appid: &str, secret: &str, grant: &str| {
        e.http
            .get(e.url("/cgi-bin/token"))
            .query(&[("grant_type", grant), ("appid", appid), ("secret", secret)])
            .send()
    };
    let v: Value = token(TEST_APPID, "wrong", "client_credential")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::INVALID_CREDENTIAL);
    let v: Value = token("wx-other", TEST_APPSECRET, "client_credential")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::INVALID_APPID);
    let v: Value = token(TEST_APPID, TEST_APPSECRET, "password")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::INVALID_GRANT_TYPE);
    let v: Value = token(TEST_APPID, TEST_APPSECRET, "client_credential")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["expires_in"], 7200);
    assert!(v.get("errcode").is_none(), "{v}");
    let fresh = v["access_token"].as_str().unwrap().to_owned();
    let body = json!({"scene_type": 162, "file_type": "mp4", "file_size": 10});
    let path = "/shop/ec/basics/video/initupload";
    // The old token still works for five minutes, then is not the latest.
    assert_eq!(
        errcode(&e.post_json(path, TEST_ACCESS_TOKEN, body.clone()).await),
        0
    );
    e.sim.clock().advance(Duration::from_secs(301));
    assert_eq!(
        errcode(&e.post_json(path, TEST_ACCESS_TOKEN, body.clone()).await),
        code::INVALID_CREDENTIAL
    );
    assert_eq!(errcode(&e.post_json(path, &fresh, body.clone()).await), 0);
    assert_eq!(
        errcode(&e.post_json(path, "", body.clone()).await),
        code::ACCESS_TOKEN_MISSING
    );
    assert_eq!(
        errcode(&e.post_json(path, "made-up", body.clone()).await),
        code::INVALID_CREDENTIAL
    );
    e.sim.clock().advance(Duration::from_secs(7200));
    assert_eq!(
        errcode(&e.post_json(path, &fresh, body.clone()).await),
        code::ACCESS_TOKEN_EXPIRED
    );
    e.sim.update_config(|c| c.rate_limited = true);
    let v: Value = token(TEST_APPID, TEST_APPSECRET, "client_credential")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newest = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        errcode(&e.post_json(path, &newest, body).await),
        code::MINUTE_QUOTA
    );
    assert_eq!(e.sim.tokens_issued(), 2);
}

#[tokio::test]
async fn images_need_dimensions_and_respect_limits() {
    let e = env(fast()).await;
    let upload = |query: Vec<(&'static str, &'static str)>, bytes: Vec<u8>| {
        let mut q = vec![("access_token", TEST_ACCESS_TOKEN)];
        q.extend(query);
        e.http
            .post(e.url("/shop/ec/basics/img/upload"))
            .query(&q)
            .multipart(Form::new().part("media", Part::bytes(bytes).file_name("a.jpg")))
            .send()
    };
    let ok = vec![
        ("upload_type", "0"),
        ("resp_type", "1"),
        ("height", "8"),
        ("width", "8"),
    ];
    let v: Value = upload(ok.clone(), sample_jpeg(4096))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), 0, "{v}");
    assert!(v["pic_file"]["img_url"]
        .as_str()
        .unwrap()
        .starts_with("https://mmecimage.cn/p/"));
    let ids = vec![
        ("upload_type", "0"),
        ("resp_type", "0"),
        ("height", "8"),
        ("width", "8"),
    ];
    let v: Value = upload(ids.clone(), sample_png(4096))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["pic_file"]["media_id"].is_string() && v["pic_file"]["pay_media_id"].is_string(),
        "{v}"
    );
    let v: Value = upload(ids, sample_jpeg(2_000_001))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::IMAGE_TOO_LARGE, "{v}");
    let v: Value = upload(ok.clone(), sample_jpeg(10_000_001))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::IMAGE_TOO_LARGE, "{v}");
    let v: Value = upload(ok.clone(), Vec::new())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::IMAGE_EMPTY, "{v}");
    let v: Value = upload(ok, b"GIF89a-not-accepted".to_vec())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&v), code::INVALID_PARAMETER, "{v}");
    let v: Value = upload(
        vec![("upload_type", "0"), ("resp_type", "1")],
        sample_jpeg(4096),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(errcode(&v), code::INVALID_PARAMETER, "no height/width: {v}");
    assert_eq!(e.sim.images().len(), 2);
}

#[tokio::test]
async fn the_control_surface_lists_uploads_and_parts() {
    let e = env(fast()).await;
    let key = e.init(10).await;
    e.part(&key, "1", vec![9u8; 10]).await;
    e.finish(&key, &[(1, sha1_hex(&[9u8; 10]))]).await;
    let uploads: Value = e
        .http
        .get(e.url("/__sim/uploads"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(uploads[0]["video_upload_key"], key.as_str(), "{uploads}");
    let parts: Value = e
        .http
        .get(e.url(&format!("/__sim/uploads/{key}/parts")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(parts[0]["part_sha"], sha1_hex(&[9u8; 10]));
    let bytes = e
        .http
        .get(e.url(&format!("/__sim/uploads/{key}/bytes")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), &[9u8; 10]);
    let wire: Value = e
        .http
        .get(e.url("/__sim/wire?call=video_uploadpart"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wire.as_array().unwrap().len(), 1);
}
