//! The sandbox as a long-running server others test against: bodies refused before they are
//! read, what it keeps bounded (oldest evicted first), and the platforms' error shapes for
//! oversized bodies, long queries, token periods and file names.
//!
//! Memory is measured without allocating it: a request declares a large `Content-Length`
//! and sends a little; a refusal that comes while the rest is still unsent proves the body
//! was not read.

use std::time::Duration;

use marketmedia_sim::lazada::LazadaSimConfig;
use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};
use marketmedia_sim::smh::{SmhServers, SmhSim, SmhSimConfig, MIB, TEST_LIBRARY_ID};
use marketmedia_sim::{Retention, WireLog, WireRecord};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIB: &str = TEST_LIBRARY_ID;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Sends `head` (request line and headers, without the blank line) declaring a 1 GiB body,
/// then 64 KiB of it, and reads the answer's first bytes: the refusal must come while
/// 1 GiB − 64 KiB are still unsent (a server waiting for the body would answer nothing).
async fn refused_before_the_body(addr: std::net::SocketAddr, head: &str) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("{head}\r\ncontent-length: 1073741824\r\nconnection: close\r\n\r\n");
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&vec![0u8; 64 * 1024]).await.unwrap();
    let mut answer = vec![0u8; 8192];
    let read = tokio::time::timeout(Duration::from_secs(3), socket.read(&mut answer)).await;
    let n = read
        .expect("no answer while the body was unsent: the server waits to read it")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// [`refused_before_the_body`] for a body within the simulator's limit: `declared` bytes
/// (`None`: chunked, of unknown length, its terminating chunk never sent), of which only
/// 64 KiB are sent. A server that reads the body before judging the request waits for the
/// rest and answers nothing.
async fn refused_before_a_body_of(
    addr: std::net::SocketAddr,
    head: &str,
    declared: Option<u64>,
) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let framing = match declared {
        Some(n) => format!("content-length: {n}"),
        None => "transfer-encoding: chunked".to_owned(),
    };
    let head = format!("{head}\r\n{framing}\r\nconnection: close\r\n\r\n");
    socket.write_all(head.as_bytes()).await.unwrap();
    let sent = vec![0u8; 64 * 1024];
    if declared.is_none() {
        socket.write_all(b"10000\r\n").await.unwrap();
    }
    socket.write_all(&sent).await.unwrap();
    if declared.is_none() {
        socket.write_all(b"\r\n").await.unwrap();
    }
    let mut answer = vec![0u8; 8192];
    let read = tokio::time::timeout(Duration::from_secs(3), socket.read(&mut answer)).await;
    let n = read
        .expect("no answer while the body was unsent: the server waits to read it")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

async fn smh_with(config: SmhSimConfig) -> (SmhSim, SmhServers, String) {
    let sim = SmhSim::new(config);
    let servers = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let token = sim.issue_token();
    (sim, servers, token)
}

#[tokio::test]
async fn an_unauthenticated_smh_storage_put_is_refused_before_its_body_is_read() {
    let (sim, servers, _token) = smh_with(SmhSimConfig::default()).await;
    let answer = refused_before_the_body(
        servers.storage.addr(),
        "PUT /anything?uploadId=x&partNumber=1 HTTP/1.1\r\nhost: storage",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("<Code>AccessDenied</Code>"), "{answer}");
    let puts = sim.wire().calls("put_part");
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].body_len, 0, "the body was not read");
    assert_eq!(sim.storage_bytes_received(), 0);
}

#[tokio::test]
async fn a_presigned_smh_put_declaring_more_than_the_limit_is_refused_before_its_body() {
    let (sim, servers, token) = smh_with(SmhSimConfig {
        max_put_size: 8 * MIB,
        ..SmhSimConfig::default()
    })
    .await;
    let info: Value = http()
        .post(format!(
            "{}/api/v1/file/{LIB}/-/big.mp4?multipart&access_token={token}",
            servers.api_base_url()
        ))
        .json(&json!({ "size": (64 * MIB).to_string() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut head = format!(
        "PUT {}?uploadId={}&partNumber=1 HTTP/1.1\r\nhost: storage",
        info["path"].as_str().unwrap(),
        info["uploadId"].as_str().unwrap()
    );
    for (k, v) in info["headers"].as_object().unwrap() {
        head.push_str(&format!("\r\n{k}: {}", v.as_str().unwrap()));
    }
    let answer = refused_before_the_body(servers.storage.addr(), &head).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>EntityTooLarge</Code>"), "{answer}");
    assert_eq!(sim.storage_bytes_received(), 0);
}

#[tokio::test]
async fn an_unauthenticated_shopee_part_is_refused_before_its_body_is_read() {
    let sim = ShopeeSim::new(ShopeeSimConfig::default());
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let answer = refused_before_the_body(
        server.addr(),
        "POST /api/v2/media_space/upload_video_part?partner_id=1&timestamp=1&sign=x \
         HTTP/1.1\r\nhost: shopee\r\ncontent-type: multipart/form-data; boundary=b",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(answer.contains("\"error\":\"error_param\""), "{answer}");
    assert_eq!(sim.wire().records()[0].body_len, 0, "the body was not read");
}

/// The SMH API judges the access token (in the query) before it reads a body larger than a
/// JSON call's, declared within its 2 MiB limit or of unknown length.
#[tokio::test]
async fn an_unauthenticated_smh_api_call_is_refused_before_its_body_is_read() {
    let (sim, servers, token) = smh_with(SmhSimConfig::default()).await;
    for declared in [Some(MIB), None] {
        for access_token in ["bogus", ""] {
            let answer = refused_before_a_body_of(
                servers.api.addr(),
                &format!(
                    "POST /api/v1/file/{LIB}/-/big.mp4?multipart&access_token={access_token} \
                     HTTP/1.1\r\nhost: smh\r\ncontent-type: application/json"
                ),
                declared,
            )
            .await;
            assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
            assert!(
                answer.contains("\"code\":\"InvalidAccessToken\""),
                "{answer}"
            );
            assert!(answer.contains("\"requestId\""), "{answer}");
        }
    }
    // An unknown API needs no body either.
    let answer = refused_before_a_body_of(
        servers.api.addr(),
        &format!("POST /api/v1/nothing?access_token={token} HTTP/1.1\r\nhost: smh"),
        Some(MIB),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("\"code\":\"NotFound\""), "{answer}");
    let records = sim.wire().records();
    assert_eq!(records.len(), 5);
    assert!(records.iter().all(|r| r.body_len == 0), "no body was read");
    let begins = sim.wire().calls("begin_multipart_upload");
    assert_eq!(begins.len(), 4);
    assert_eq!(begins[0].param("access_token"), Some("bogus"));
    assert_eq!(begins[0].error.as_deref(), Some("InvalidAccessToken"));
    assert_eq!(sim.upload_count(), 0);
}

/// Milliseconds since the Unix epoch (the Lazada simulator's clock, not moved).
fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Lazada's gateway judges the credentials of the query string before it reads a large
/// body: an unknown `app_key` or `access_token` in the query (whose values win over the
/// body's) with a multipart block; and, with a body that carries no parameters, every
/// credential, the signature included.
#[tokio::test]
async fn an_unauthenticated_lazada_block_is_refused_before_its_body_is_read() {
    use marketmedia_sim::lazada::{codes, LAZADA_TEST_ACCESS_TOKEN, LAZADA_TEST_APP_KEY};
    let running =
        marketmedia_sim::lazada::launch(LazadaSimConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let addr = running.server.addr();
    let ts = now_ms();
    let multipart = "content-type: multipart/form-data; boundary=b";
    let cases = [
        (
            format!("app_key={LAZADA_TEST_APP_KEY}&sign_method=sha256&timestamp={ts}&access_token=nope&sign=X"),
            multipart,
            codes::ILLEGAL_ACCESS_TOKEN,
        ),
        (
            format!("app_key=999&access_token={LAZADA_TEST_ACCESS_TOKEN}"),
            multipart,
            codes::INVALID_APP_KEY,
        ),
        (
            format!("app_key={LAZADA_TEST_APP_KEY}&access_token="),
            multipart,
            codes::MISSING_PARAMETER,
        ),
        // No parameter can come in these bodies: the signature is judged too, and an absent
        // parameter (here `sign_method`) is missing.
        (
            format!("app_key={LAZADA_TEST_APP_KEY}&sign_method=sha256&timestamp={ts}&access_token={LAZADA_TEST_ACCESS_TOKEN}&sign=0BAD"),
            "content-type: application/octet-stream",
            codes::INCOMPLETE_SIGNATURE,
        ),
        (
            format!("app_key={LAZADA_TEST_APP_KEY}&timestamp={ts}&access_token={LAZADA_TEST_ACCESS_TOKEN}"),
            "content-type: application/octet-stream",
            codes::MISSING_PARAMETER,
        ),
    ];
    for declared in [Some(32 * MIB), None] {
        for (query, content_type, code) in &cases {
            let answer = refused_before_a_body_of(
                addr,
                &format!(
                    "POST /rest/media/video/block/upload?{query} HTTP/1.1\r\nhost: lazada\r\n{content_type}"
                ),
                declared,
            )
            .await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            assert!(
                answer.contains(&format!("\"code\":\"{code}\"")),
                "{code}: {answer}"
            );
            assert!(answer.contains("\"request_id\""), "{answer}");
        }
    }
    let records = running.sim.wire().records();
    assert_eq!(records.len(), 2 * cases.len());
    assert!(records.iter().all(|r| r.body_len == 0), "no body was read");
    assert_eq!(records[0].param("access_token"), Some("nope"));
    assert_eq!(running.sim.counters().uploads_created, 0);
    assert_eq!(running.sim.counters().blocks_accepted, 0);
}

/// SMH answers an oversized body and an overlong query in its own JSON shape (`code`,
/// `message`, `requestId`), never as a framework's plain text.
#[tokio::test]
async fn oversized_smh_api_bodies_and_long_queries_get_smh_errors() {
    let (_sim, servers, token) = smh_with(SmhSimConfig {
        max_request_bytes: 64 * 1024,
        ..SmhSimConfig::default()
    })
    .await;
    let url = format!(
        "{}/api/v1/file/{LIB}/-/f.mp4?multipart&access_token={token}",
        servers.api_base_url()
    );
    let smh_error = |status: u16, code: &'static str| {
        move |r: reqwest::Response| async move {
            assert_eq!(r.status().as_u16(), status);
            let v: Value = r.json().await.expect("a JSON answer");
            assert_eq!(v["code"], code, "{v}");
            assert!(v["message"].is_string(), "{v}");
            assert!(v["requestId"].is_string(), "{v}");
        }
    };
    // Declared too large.
    let body = format!(
        "{{\"size\": \"1\", \"pad\": \"{}\"}}",
        "x".repeat(100 * 1024)
    );
    let r = http()
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    smh_error(413, "RequestEntityTooLarge")(r).await;
    // Streamed (no declared length) past the limit.
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(body.into_bytes())]);
    let r = http()
        .post(&url)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    smh_error(413, "RequestEntityTooLarge")(r).await;
    // A 20 KiB query (the `http` crate refuses URIs past 64 KiB before sending).
    let r = http()
        .get(format!("{url}&pad={}", "y".repeat(20 * 1024)))
        .send()
        .await
        .unwrap();
    smh_error(414, "RequestURITooLong")(r).await;
}

#[tokio::test]
async fn an_oversized_lazada_body_gets_the_gateway_envelope() {
    let running = marketmedia_sim::lazada::launch(
        LazadaSimConfig {
            max_request_bytes: 64 * 1024,
            ..LazadaSimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let r = http()
        .post(format!(
            "{}/media/video/block/create",
            running.info.base_url.trim_end_matches('/')
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("pad={}", "x".repeat(100 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await.expect("a JSON answer");
    assert_eq!(v["code"], "RequestEntityTooLarge", "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert!(v["request_id"].is_string(), "{v}");
}

#[tokio::test]
async fn an_smh_token_period_that_overflows_is_refused() {
    let (_sim, servers, _token) = smh_with(SmhSimConfig::default()).await;
    let token = |period: &str| {
        http()
            .get(format!(
                "{}/api/v1/token?library_id={LIB}&library_secret={}&period={period}",
                servers.api_base_url(),
                marketmedia_sim::smh::TEST_LIBRARY_SECRET
            ))
            .send()
    };
    for period in ["99999999999999999999", "-99999999999999999999"] {
        let r = token(period).await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{period}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "InvalidParameter", "{v}");
    }
    // In range (and clamped) still works.
    let r = token("9223372036854775807").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expiresIn"], 315_360_000);
}

#[tokio::test]
async fn smh_file_names_with_nul_or_backslash_dot_segments_are_refused() {
    let (sim, servers, token) = smh_with(SmhSimConfig::default()).await;
    for name in [
        "a%00.mp4",
        "..%5Cx.mp4",
        "x%5C..",
        "a%5C..%5Cb.mp4",
        ".%5Cx.mp4",
    ] {
        let r = http()
            .post(format!(
                "{}/api/v1/file/{LIB}/-/{name}?multipart&access_token={token}",
                servers.api_base_url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "InvalidParameter", "{name}: {v}");
    }
    // A backslash alone, or dots inside a name, are still names.
    for name in ["a%5Cb.mp4", "a..b.mp4"] {
        let r = http()
            .post(format!(
                "{}/api/v1/file/{LIB}/-/{name}?multipart&access_token={token}",
                servers.api_base_url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{name}");
    }
    assert_eq!(sim.upload_count(), 2);
}

fn record(n: usize) -> WireRecord {
    WireRecord {
        platform: "test",
        call: format!("call{n}"),
        method: "GET".into(),
        path: "/".into(),
        params: Default::default(),
        files: Vec::new(),
        body_len: 0,
        status: 200,
        error: None,
    }
}

#[test]
fn the_wire_log_keeps_its_newest_records() {
    let log = WireLog::default();
    log.set_max_records(3);
    for n in 0..5 {
        log.push(record(n));
    }
    let calls: Vec<String> = log.records().into_iter().map(|r| r.call).collect();
    assert_eq!(calls, ["call2", "call3", "call4"]);
    assert_eq!(log.evicted(), 2);
}

/// Three 2 MiB SMH uploads with room for 5 MiB: the first file's bytes are evicted, its
/// metadata stays, and the control surface says "evicted" (410) rather than failing.
#[tokio::test]
async fn smh_keeps_the_newest_files_within_its_retention_limit() {
    let (sim, servers, token) = smh_with(SmhSimConfig {
        retention: Retention {
            max_wire_records: 4,
            max_assembled_bytes: 5 * MIB,
        },
        ..SmhSimConfig::default()
    })
    .await;
    let http = http();
    let mut keys = Vec::new();
    for i in 0..3u8 {
        let data = vec![i; 2 * MIB as usize];
        let url = format!(
            "{}/api/v1/file/{LIB}/-/clip{i}.mp4?multipart&access_token={token}",
            servers.api_base_url()
        );
        let info: Value = http
            .post(url)
            .json(&json!({ "size": data.len().to_string() }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let put = format!(
            "http://{}{}?uploadId={}&partNumber=1",
            info["domain"].as_str().unwrap(),
            info["path"].as_str().unwrap(),
            info["uploadId"].as_str().unwrap()
        );
        let mut req = http.put(put).body(data.clone());
        for (k, v) in info["headers"].as_object().unwrap() {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
        assert_eq!(req.send().await.unwrap().status(), 200);
        let key = info["confirmKey"].as_str().unwrap().to_owned();
        let mut d = crc64fast::Digest::new();
        d.write(&data);
        let r = http
            .post(format!(
                "{}/api/v1/file/{LIB}/-/{key}?confirm&access_token={token}",
                servers.api_base_url()
            ))
            .json(&json!({ "crc64": d.sum64().to_string() }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        keys.push(key);
    }
    assert_eq!(sim.file("clip0.mp4"), None, "the oldest is evicted");
    assert_eq!(
        sim.file("clip2.mp4").map(|b| b.len()),
        Some(2 * MIB as usize)
    );
    assert!(sim.file("clip1.mp4").is_some());
    // Its metadata stays: size and the quota it uses.
    let files = sim.files();
    let first = files.iter().find(|f| f.path == "clip0.mp4").unwrap();
    assert_eq!(first.size, 2 * MIB);
    assert_eq!(sim.used_bytes(), 6 * MIB);
    // The evicted upload's parts let go of their bytes too (before, every confirmed upload
    // kept its parts: a second copy of each file, never evicted, which a 1000-upload soak
    // grew to 20 GB); they stay listed with their sizes. The others' parts are the files'
    // bytes, not copies.
    assert_eq!(sim.held_part_bytes(&keys[0]), Some(0));
    assert_eq!(
        sim.parts(&keys[0])
            .unwrap()
            .iter()
            .map(|p| p.size)
            .sum::<u64>(),
        2 * MIB
    );
    assert_eq!(sim.held_part_bytes(&keys[2]), Some(2 * MIB));
    // The control surface says so.
    let base = servers.api_base_url();
    let r = http
        .get(format!("{base}/__sim/uploads/{}/bytes", keys[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 410);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], "evicted");
    let r = http
        .get(format!("{base}/__sim/uploads/{}/digest", keys[2]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The wire log holds its last 4 records and says how many it forgot.
    let r = http.get(format!("{base}/__sim/wire")).send().await.unwrap();
    let evicted: u64 = r.headers()["x-sim-wire-evicted"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let records: Vec<Value> = r.json().await.unwrap();
    assert_eq!(records.len(), 4);
    assert!(evicted >= 2, "{evicted}");
}

/// The wire log's answer: its records and how many it forgot (`x-sim-wire-evicted`).
async fn wire_of(base: &str) -> (Vec<Value>, u64) {
    let r = http()
        .get(format!("{base}/__sim/wire"))
        .send()
        .await
        .unwrap();
    let evicted: u64 = r.headers()["x-sim-wire-evicted"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    (r.json().await.unwrap(), evicted)
}

/// `GET /__sim/uploads/{id}/{what}`: status and JSON answer.
async fn control_of(base: &str, id: &str, what: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{base}/__sim/uploads/{id}/{what}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Three 2 MiB eBay videos with room for 5 MiB: the first video's bytes are evicted, its
/// status and size stay, a re-send to it is refused (its bytes cannot be compared), and the
/// control surface says "evicted" (410).
#[tokio::test]
async fn ebay_keeps_the_newest_videos_within_its_retention_limit() {
    use marketmedia_sim::ebay::{codes, EbaySim, EbaySimConfig, TEST_ACCESS_TOKEN};
    let sim = EbaySim::new(EbaySimConfig {
        retention: Retention {
            max_wire_records: 4,
            max_assembled_bytes: 5 * MIB,
        },
        ..EbaySimConfig::default()
    });
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let api = EbaySim::api_base_url(&server);
    let http = http();
    let mut ids = Vec::new();
    for i in 0..3u8 {
        let data = vec![i; 2 * MIB as usize];
        let r = http
            .post(format!("{api}/video"))
            .bearer_auth(TEST_ACCESS_TOKEN)
            .json(&json!({"title": format!("clip{i}"), "size": data.len(), "classification": ["ITEM"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let id = r.headers()["location"]
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let r = http
            .post(format!("{api}/video/{id}/upload"))
            .bearer_auth(TEST_ACCESS_TOKEN)
            .header("content-type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(id);
    }
    assert_eq!(sim.video_bytes(&ids[0]), None, "the oldest is evicted");
    assert!(sim.video_bytes(&ids[1]).is_some());
    assert_eq!(
        sim.video_bytes(&ids[2]).map(|b| b.len()),
        Some(2 * MIB as usize)
    );
    // Its metadata stays: the status getVideo answers.
    assert!(sim.video_status(&ids[0]).is_some());
    // A re-send of its bytes cannot be compared with what was held: refused as uploaded.
    let r = http
        .post(format!("{api}/video/{}/upload", ids[0]))
        .bearer_auth(TEST_ACCESS_TOKEN)
        .header("content-type", "application/octet-stream")
        .body(vec![0u8; 2 * MIB as usize])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["errorId"], codes::ALREADY_UPLOADED);
    // The control surface says so.
    let base = server.base_url();
    let (status, v) = control_of(&base, &ids[0], "bytes").await;
    assert_eq!(status, 410);
    assert_eq!(v["state"], "evicted");
    let (status, v) = control_of(&base, &ids[2], "digest").await;
    assert_eq!(status, 200);
    assert_eq!(v["size"], 2 * MIB);
    let uploads: Value = http
        .get(format!("{base}/__sim/uploads"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = uploads
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["videoId"] == ids[0].as_str())
        .unwrap();
    assert_eq!(first["received"], 2 * MIB);
    assert_eq!(first["evicted"], true);
    // The wire log holds its last 4 records and says how many it forgot.
    let (records, evicted) = wire_of(&base).await;
    assert_eq!(records.len(), 4);
    assert_eq!(evicted, 3, "7 requests, 4 kept");
}

/// Three finished WeChat uploads of 2 × 1 MiB with room for 5 MiB: the first file is evicted,
/// its upload still answers (status, a repeated finish), and the control surface says
/// "evicted" (410).
#[tokio::test]
async fn wechat_keeps_the_newest_uploads_within_its_retention_limit() {
    use marketmedia_sim::wechat::{WechatSim, WechatSimConfig, TEST_ACCESS_TOKEN};
    let sim = WechatSim::new(WechatSimConfig {
        retention: Retention {
            max_wire_records: 4,
            max_assembled_bytes: 5 * MIB,
        },
        ..WechatSimConfig::default()
    });
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let http = http();
    let post_json = |path: &str, body: Value| {
        http.post(format!("{base}/shop/ec/basics/video/{path}"))
            .query(&[("access_token", TEST_ACCESS_TOKEN)])
            .json(&body)
            .send()
    };
    let mut keys = Vec::new();
    let mut finishes = Vec::new();
    for i in 0..3u8 {
        let part = vec![i; MIB as usize];
        let v: Value = post_json(
            "initupload",
            json!({"scene_type": 162, "file_type": "mp4", "file_size": 2 * MIB}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let key = v["data"]["video_upload_key"].as_str().unwrap().to_owned();
        let mut finish_parts = Vec::new();
        for partnum in 1..=2u32 {
            let form = reqwest::multipart::Form::new().part(
                "media",
                reqwest::multipart::Part::bytes(part.clone()).file_name("part"),
            );
            let v: Value = http
                .post(format!("{base}/shop/ec/basics/video/uploadpart"))
                .query(&[
                    ("access_token", TEST_ACCESS_TOKEN),
                    ("video_upload_key", key.as_str()),
                    ("partnum", partnum.to_string().as_str()),
                ])
                .multipart(form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(v["errcode"], 0, "{v}");
            finish_parts.push(json!({"partnum": partnum, "part_sha": v["data"]["part_sha"]}));
        }
        let finish = json!({"video_upload_key": key, "finish_parts": finish_parts});
        let v: Value = post_json("finishupload", finish.clone())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["errcode"], 0, "{v}");
        keys.push(key);
        finishes.push(finish);
    }
    assert_eq!(sim.assembled_bytes(&keys[0]), None, "the oldest is evicted");
    assert!(sim.assembled_bytes(&keys[1]).is_some());
    assert_eq!(
        sim.assembled_bytes(&keys[2]).map(|b| b.len()),
        Some(2 * MIB as usize)
    );
    // Its upload stays: its snapshot, and a repeated finish (a lost answer) still succeeds.
    assert_eq!(sim.upload(&keys[0]).unwrap().file_size, 2 * MIB);
    let v: Value = post_json("finishupload", finishes[0].clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errcode"], 0, "{v}");
    // The control surface says so.
    let (status, v) = control_of(&base, &keys[0], "bytes").await;
    assert_eq!(status, 410);
    assert_eq!(v["state"], "evicted");
    let (status, v) = control_of(&base, &keys[0], "digest").await;
    assert_eq!(status, 410);
    assert_eq!(v["state"], "evicted");
    let (status, v) = control_of(&base, &keys[2], "digest").await;
    assert_eq!(status, 200);
    assert_eq!(v["size"], 2 * MIB);
    // The wire log holds its last 4 records and says how many it forgot.
    let (records, evicted) = wire_of(&base).await;
    assert_eq!(records.len(), 4);
    assert_eq!(evicted, 9, "13 requests, 4 kept");
}

/// The standalone sandbox (`marketmedia-sim --max-wire-records N`) gives eBay and WeChat its
/// retention limits too: with room for one record, each forgets its first request.
#[tokio::test]
async fn the_standalone_retention_limits_reach_ebay_and_wechat() {
    let running = marketmedia_sim::standalone::start_with(
        "127.0.0.1:0".parse().unwrap(),
        marketmedia_sim::FaultProfile::default(),
        Retention {
            max_wire_records: 1,
            max_assembled_bytes: MIB,
        },
    )
    .await
    .unwrap();
    for name in ["ebay", "wechat"] {
        let base_url = running.info()[name]["base_url"].as_str().unwrap();
        // eBay's base URL carries the API path; the control surface is at the server's root.
        let root = base_url.trim_end_matches(marketmedia_sim::ebay::BASE_PATH);
        for _ in 0..2 {
            http()
                .get(format!("{base_url}/nothing"))
                .send()
                .await
                .unwrap();
        }
        let (records, evicted) = wire_of(root).await;
        assert_eq!((records.len(), evicted), (1, 1), "{name}");
    }
}
