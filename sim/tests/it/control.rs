//! The sandbox's HTTP control surface (`/__sim/…`), driven through HTTP only, as a Python or
//! Node test would: read the wire log, the uploads, their parts, bytes and digests; move the
//! clock; set and clear a fault profile; reset.

use std::time::Duration;

use marketmedia_sim::lazada::{LazadaSim, LazadaSimConfig};
use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};
use marketmedia_sim::smh::{SmhSim, SmhSimConfig, MIB, TEST_LIBRARY_ID, TEST_LIBRARY_SECRET};
use md5::{Digest as _, Md5};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

const LIB: &str = TEST_LIBRARY_ID;

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn get_json(http: &Client, url: String) -> Value {
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn smh_upload_inspected_clock_moved_faults_set_and_state_reset_over_http() {
    let sim = SmhSim::new(SmhSimConfig::default());
    let servers = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let api = servers.api_base_url();
    let http = client();

    // An upload by hand: token (5 min), begin, one part, confirm.
    let token = smh_token(&http, &api).await;
    let data: Vec<u8> = (0..(MIB as usize + 10)).map(|i| (i % 251) as u8).collect();
    let info: Value = http
        .post(format!(
            "{api}/api/v1/file/{LIB}/-/clip.mp4?multipart&access_token={token}"
        ))
        .json(&json!({ "size": data.len().to_string() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = info["confirmKey"].as_str().unwrap().to_owned();
    for (n, chunk) in data.chunks(MIB as usize).enumerate() {
        let mut put = http.put(format!(
            "http://{}{}?uploadId={}&partNumber={}",
            info["domain"].as_str().unwrap(),
            info["path"].as_str().unwrap(),
            info["uploadId"].as_str().unwrap(),
            n + 1
        ));
        for (k, v) in info["headers"].as_object().unwrap() {
            put = put.header(k.as_str(), v.as_str().unwrap());
        }
        assert_eq!(put.body(chunk.to_vec()).send().await.unwrap().status(), 200);
    }
    let r = http
        .post(format!(
            "{api}/api/v1/file/{LIB}/-/{key}?confirm&access_token={token}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The wire log, as sent, and filtered by call.
    let wire = get_json(&http, format!("{api}/__sim/wire")).await;
    let calls: Vec<&str> = wire
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["call"].as_str().unwrap())
        .collect();
    assert_eq!(
        calls,
        [
            "token",
            "begin_multipart_upload",
            "put_part",
            "put_part",
            "confirm_upload"
        ],
        "one log for the API and the storage server"
    );
    assert_eq!(wire[0]["params"]["grant"], "upload_file");
    assert_eq!(wire[1]["status"], 201);
    let begins = get_json(
        &http,
        format!("{api}/__sim/wire?call=begin_multipart_upload"),
    )
    .await;
    assert_eq!(begins.as_array().unwrap().len(), 1);
    // The storage server has the same surface over the same simulator.
    let storage = servers.storage_base_url();
    let puts = get_json(&http, format!("{storage}/__sim/wire?call=put_part")).await;
    assert_eq!(puts.as_array().unwrap().len(), 2);

    // Uploads, parts, digest and bytes.
    let uploads = get_json(&http, format!("{api}/__sim/uploads")).await;
    assert_eq!(uploads[0]["id"], key.as_str());
    assert_eq!(uploads[0]["state"], "confirmed");
    assert_eq!(uploads[0]["path"], "clip.mp4");
    let parts = get_json(&http, format!("{api}/__sim/uploads/{key}/parts")).await;
    assert_eq!(parts[0]["partNumber"], 1);
    assert_eq!(parts[1]["size"], 10);
    let digest = get_json(&http, format!("{api}/__sim/uploads/{key}/digest")).await;
    assert_eq!(digest["size"], data.len());
    assert_eq!(digest["md5"], hex::encode(Md5::digest(&data)));
    assert_eq!(digest["sha256"], hex::encode(Sha256::digest(&data)));
    let r = http
        .get(format!("{api}/__sim/uploads/{key}/bytes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
    let r = http
        .get(format!("{api}/__sim/uploads/nope/digest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The clock: 301 s later the 300 s token has expired.
    let before = get_json(&http, format!("{api}/__sim/clock")).await;
    let moved: Value = http
        .post(format!("{api}/__sim/clock/advance"))
        .json(&json!({ "seconds": 301 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        moved["offset_ms"].as_i64().unwrap() - before["offset_ms"].as_i64().unwrap(),
        301_000
    );
    let r = http
        .get(format!(
            "{api}/api/v1/file/{LIB}/-/{key}?upload&access_token={token}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "AuthorizationExpired"
    );

    // Faults: a script answers the next token call 503; cleared, the call goes through.
    let r = http
        .put(format!("{api}/__sim/faults"))
        .json(&json!({ "calls": ["/api/v1/token"], "script": ["status503"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token_url =
        format!("{api}/api/v1/token?library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}");
    assert_eq!(http.get(&token_url).send().await.unwrap().status(), 503);
    let faults = get_json(&http, format!("{api}/__sim/faults")).await;
    assert_eq!(faults["profile"]["script"][0], "status503");
    let r = http
        .put(format!("{api}/__sim/faults"))
        .json(&json!({ "error_rate": 2.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "an unusable profile");
    let r = http
        .delete(format!("{api}/__sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(http.get(&token_url).send().await.unwrap().status(), 200);

    // Reset: no upload, no record, the library empty; the simulator still serves.
    let r = http
        .post(format!("{api}/__sim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get_json(&http, format!("{api}/__sim/uploads")).await,
        json!([])
    );
    assert_eq!(
        get_json(&http, format!("{api}/__sim/wire")).await,
        json!([])
    );
    let r = http
        .get(format!(
            "{api}/api/v1/file/{LIB}/-/{key}?upload&access_token={token}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "InvalidAccessToken"
    );
    assert_eq!(http.get(&token_url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn shopee_and_lazada_serve_the_same_surface() {
    let http = client();
    let shopee = ShopeeSim::new(ShopeeSimConfig::default());
    let shopee_server = shopee.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let lazada = LazadaSim::new(LazadaSimConfig::default());
    let lazada_server = lazada.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    for (base, probe) in [
        (
            shopee_server.base_url(),
            "/api/v2/media_space/init_video_upload",
        ),
        (lazada_server.base_url(), "/rest/media/video/quota/get"),
    ] {
        // An unsigned request: refused by the platform, recorded as sent.
        http.get(format!("{base}{probe}?x=1")).send().await.unwrap();
        let wire = get_json(&http, format!("{base}/__sim/wire")).await;
        assert_eq!(wire.as_array().unwrap().len(), 1, "{base}");
        assert_eq!(wire[0]["params"]["x"], "1");
        assert!(wire[0]["error"].is_string(), "{wire}");
        assert_eq!(
            get_json(&http, format!("{base}/__sim/uploads")).await,
            json!([])
        );
        let r = http
            .get(format!("{base}/__sim/uploads/none/parts"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let moved: Value = http
            .post(format!("{base}/__sim/clock/advance"))
            .json(&json!({ "ms": 1500 }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(moved["offset_ms"], 1500);
        let r = http
            .put(format!("{base}/__sim/faults"))
            .json(&json!({ "script": ["status500"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = http.get(format!("{base}{probe}")).send().await.unwrap();
        assert_eq!(r.status(), 500, "{base}");
        let faults = get_json(&http, format!("{base}/__sim/faults")).await;
        assert_eq!(faults["counters"]["status_500"], 1, "{faults}");
        http.delete(format!("{base}/__sim/faults"))
            .send()
            .await
            .unwrap();
        let r = http
            .post(format!("{base}/__sim/reset"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            get_json(&http, format!("{base}/__sim/wire")).await,
            json!([])
        );
    }
}

/// An SMH access token for uploads, valid 5 minutes.
async fn smh_token(http: &Client, api: &str) -> String {
    let v = get_json(
        http,
        format!("{api}/api/v1/token?library_id={LIB}&library_secret={TEST_LIBRARY_SECRET}&grant=upload_file&period=300"),
    )
    .await;
    v["accessToken"].as_str().unwrap().to_owned()
}

/// Begins an SMH multipart upload of `len` bytes at `name`; returns the begin answer.
async fn smh_begin(http: &Client, api: &str, token: &str, name: &str, len: usize) -> Value {
    let r = http
        .post(format!(
            "{api}/api/v1/file/{LIB}/-/{name}?multipart&access_token={token}"
        ))
        .json(&json!({ "size": len.to_string() }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "begin {name}: {}", r.status());
    r.json().await.unwrap()
}

/// PUTs part `n` (1-based) of an SMH upload to its storage server.
async fn smh_part(http: &Client, info: &Value, n: usize, bytes: &[u8]) {
    let mut put = http.put(format!(
        "http://{}{}?uploadId={}&partNumber={n}",
        info["domain"].as_str().unwrap(),
        info["path"].as_str().unwrap(),
        info["uploadId"].as_str().unwrap(),
    ));
    for (k, v) in info["headers"].as_object().unwrap() {
        put = put.header(k.as_str(), v.as_str().unwrap());
    }
    assert_eq!(put.body(bytes.to_vec()).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn sessions_say_where_each_upload_stands_in_shared_words() {
    let sim = SmhSim::new(SmhSimConfig::default());
    let servers = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let api = servers.api_base_url();
    let http = client();
    let token = smh_token(&http, &api).await;
    let data = vec![5u8; 1000];

    // Completed: begin, its one part, confirm.
    let done = smh_begin(&http, &api, &token, "done.mp4", data.len()).await;
    smh_part(&http, &done, 1, &data).await;
    let done_key = done["confirmKey"].as_str().unwrap().to_owned();
    let r = http
        .post(format!(
            "{api}/api/v1/file/{LIB}/-/{done_key}?confirm&access_token={token}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Stuck: a part, then nothing.
    let stuck = smh_begin(&http, &api, &token, "stuck.mp4", data.len()).await;
    smh_part(&http, &stuck, 1, &data).await;
    // Opened, never used (as when the begin answer is lost).
    let orphan = smh_begin(&http, &api, &token, "orphan.mp4", data.len()).await;
    // Cancelled.
    let gone = smh_begin(&http, &api, &token, "gone.mp4", data.len()).await;
    let gone_key = gone["confirmKey"].as_str().unwrap().to_owned();
    let r = http
        .delete(format!(
            "{api}/api/v1/file/{LIB}/-/{gone_key}?upload&access_token={token}"
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    let v = get_json(&http, format!("{api}/__sim/sessions")).await;
    let standing = |v: &Value, key: &Value| -> (String, u64) {
        let s = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == *key)
            .unwrap_or_else(|| panic!("no session {key} in {v}"));
        (
            s["standing"].as_str().unwrap().to_owned(),
            s["parts"].as_u64().unwrap(),
        )
    };
    assert_eq!(standing(&v, &done["confirmKey"]), ("completed".into(), 1));
    assert_eq!(standing(&v, &stuck["confirmKey"]), ("open".into(), 1));
    assert_eq!(standing(&v, &orphan["confirmKey"]), ("open".into(), 0));
    assert_eq!(standing(&v, &gone["confirmKey"]), ("cancelled".into(), 0));
    let counts = |v: &Value| -> [u64; 6] {
        [
            "open",
            "open_without_parts",
            "stuck",
            "completed",
            "cancelled",
            "expired",
        ]
        .map(|k| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}")))
    };
    assert_eq!(counts(&v), [2, 1, 1, 1, 1, 0], "{v}");
    // The same through the Rust API.
    let tally = marketmedia_sim::control::SessionTally::of(&sim.sessions());
    assert_eq!((tally.open, tally.stuck(), tally.expired), (2, 1, 0));

    // Past the upload task's lifetime (24 h) the open ones have expired; nothing else moves.
    let r = http
        .post(format!("{api}/__sim/clock/advance"))
        .json(&json!({ "seconds": 25 * 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = get_json(&http, format!("{api}/__sim/sessions")).await;
    assert_eq!(counts(&v), [0, 0, 0, 1, 1, 2], "{v}");
    assert_eq!(standing(&v, &stuck["confirmKey"]).0, "expired");
}

#[tokio::test]
async fn shopee_and_lazada_serve_the_sessions_route() {
    // The same shape on every simulator; what Shopee and Lazada count is checked end to end
    // by the soak test (`cli/tests/it/soak.rs`: no session left stuck).
    let shopee = ShopeeSim::new(ShopeeSimConfig::default());
    let server = shopee.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let v = get_json(&client(), format!("{}/__sim/sessions", server.base_url())).await;
    assert_eq!(v["sessions"], json!([]));
    assert_eq!(v["open"], 0);
    let lazada = LazadaSim::new(LazadaSimConfig::default());
    let server = lazada.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let v = get_json(&client(), format!("{}/__sim/sessions", server.base_url())).await;
    assert_eq!(v["stuck"], 0);
    assert_eq!(v["sessions"], json!([]));
}
