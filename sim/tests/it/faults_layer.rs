//! The fault layer itself, over raw HTTP: an echo app behind `FaultHandle::layer`, and the
//! wiring in each simulator. Every test is bounded in time (short stalls, small bodies).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{any, post};
use axum::Router;
use marketmedia_sim::faults::{scope, ErrorStyle, FaultKind, FaultProfile};
use marketmedia_sim::lazada::{LazadaSim, LazadaSimConfig};
use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};
use marketmedia_sim::smh::{SmhSim, SmhSimConfig};
use marketmedia_sim::{serve, FaultHandle, SimServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An echo app counting the requests that reached it, behind a fault layer.
struct Echo {
    faults: FaultHandle,
    reached: Arc<AtomicU64>,
    server: SimServer,
}

async fn echo(profile: FaultProfile) -> Echo {
    let faults = FaultHandle::new(profile);
    let reached = Arc::new(AtomicU64::new(0));
    let handler = |State(n): State<Arc<AtomicU64>>, body: Bytes| async move {
        n.fetch_add(1, Ordering::SeqCst);
        format!("got {}", body.len())
    };
    let app = Router::new()
        .route("/upload", post(handler))
        .route("/other", any(handler))
        .layer(faults.layer(ErrorStyle::Plain))
        .with_state(Arc::clone(&reached));
    let server = serve(app, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    Echo {
        faults,
        reached,
        server,
    }
}

impl Echo {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }
    fn reached(&self) -> u64 {
        self.reached.load(Ordering::SeqCst)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .read_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn default_profile_passes_everything_through() {
    let e = echo(FaultProfile::default()).await;
    let c = client();
    for _ in 0..20 {
        let r = c.post(e.url("/upload")).body("hello").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "got 5");
    }
    assert_eq!(e.reached(), 20);
    let counters = e.faults.counters();
    assert_eq!(counters.requests, 20);
    assert_eq!(counters.matched, 0);
    assert_eq!(counters.injected(), 0);
}

/// Sequential outcomes: the status, or 0 for a transport failure.
async fn outcomes(e: &Echo, n: usize) -> Vec<u16> {
    let c = client();
    let mut out = Vec::new();
    for _ in 0..n {
        let r = c.post(e.url("/upload")).body(vec![7u8; 1000]).send().await;
        let status = match r {
            Ok(r) => {
                let s = r.status().as_u16();
                if r.bytes().await.is_ok() {
                    s
                } else {
                    0
                }
            }
            Err(_) => 0,
        };
        out.push(status);
    }
    out
}

fn mixed(seed: u64) -> FaultProfile {
    FaultProfile {
        seed,
        error_rate: 0.2,
        rate_limit_rate: 0.05,
        rate_limit_burst: 2,
        reset_rate: 0.05,
        lost_response_rate: 0.05,
        ..FaultProfile::default()
    }
}

#[tokio::test]
async fn the_same_seed_replays_the_same_faults() {
    let a = echo(mixed(42)).await;
    let b = echo(mixed(42)).await;
    let c = echo(mixed(43)).await;
    let (ra, rb, rc) = (
        outcomes(&a, 60).await,
        outcomes(&b, 60).await,
        outcomes(&c, 60).await,
    );
    assert_eq!(ra, rb, "same seed, same faults");
    assert_ne!(ra, rc, "another seed, other faults");
    assert_eq!(a.faults.counters(), b.faults.counters());
    let k = a.faults.counters();
    assert!(
        k.server_errors() > 0 && k.injected() > k.server_errors(),
        "{k:?}"
    );
    // Every status seen is one the profile allows.
    assert!(ra.iter().all(|s| [0, 200, 429, 500, 502, 503].contains(s)));
    // Setting the profile again restarts the sequence.
    a.faults.set(mixed(42));
    assert_eq!(outcomes(&a, 60).await, ra);
}

#[tokio::test]
async fn server_errors_are_answered_without_processing() {
    let e = echo(FaultProfile {
        error_rate: 1.0,
        plain_error_rate: 1.0,
        ..FaultProfile::default()
    })
    .await;
    let r = client()
        .post(e.url("/upload"))
        .body(vec![1u8; 300_000])
        .send()
        .await
        .unwrap();
    assert!([500, 502, 503].contains(&r.status().as_u16()));
    assert!(r.text().await.unwrap().contains("<html>"));
    assert_eq!(e.reached(), 0);
    assert_eq!(e.faults.counters().server_errors(), 1);
}

#[tokio::test]
async fn rate_limit_bursts_carry_retry_after() {
    let e = echo(FaultProfile {
        rate_limit_rate: 1.0,
        rate_limit_burst: 3,
        retry_after_secs: 2,
        ..FaultProfile::default()
    })
    .await;
    let c = client();
    for _ in 0..3 {
        let r = c.post(e.url("/upload")).body("x").send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "2");
    }
    assert_eq!(e.faults.counters().rate_limited, 3);
    // A script of one 429 then nothing: exactly one.
    e.faults.set(FaultProfile::scripted(
        "/upload",
        [FaultKind::RateLimited, FaultKind::None],
    ));
    let s1 = c.post(e.url("/upload")).body("x").send().await.unwrap();
    let s2 = c.post(e.url("/upload")).body("x").send().await.unwrap();
    let s3 = c.post(e.url("/upload")).body("x").send().await.unwrap();
    assert_eq!(
        [s1.status(), s2.status(), s3.status()].map(|s| s.as_u16()),
        [429, 200, 200]
    );
}

#[tokio::test]
async fn a_reset_cuts_the_body_and_the_request_never_reaches_the_app() {
    let e = echo(FaultProfile::scripted("/upload", [FaultKind::Reset])).await;
    let started = Instant::now();
    let r = client()
        .post(e.url("/upload"))
        .body(vec![3u8; 4 << 20])
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed, "the client must not get an answer");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(e.reached(), 0);
    assert_eq!(e.faults.counters().resets, 1);
    // The next request is served normally.
    let ok = client()
        .post(e.url("/upload"))
        .body("y")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_lost_response_is_processed_but_never_answered() {
    let e = echo(FaultProfile::scripted("/upload", [FaultKind::LostResponse])).await;
    // Raw TCP: not a single byte of an answer may arrive, only the close.
    let mut tcp = tokio::net::TcpStream::connect(e.server.addr())
        .await
        .unwrap();
    tcp.write_all(b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the connection is closed, not left open");
    let text = String::from_utf8_lossy(&got);
    assert!(
        got.is_empty(),
        "no answer may leak, not even a head: {text:?}"
    );
    assert_eq!(e.reached(), 1, "the request was processed");
    assert_eq!(e.faults.counters().lost_responses, 1);
    // Through reqwest it is a transport failure.
    e.faults
        .set(FaultProfile::scripted("/upload", [FaultKind::LostResponse]));
    let r = client().post(e.url("/upload")).body("hello").send().await;
    assert!(r.is_err() || r.unwrap().bytes().await.is_err());
    assert_eq!(e.reached(), 2);
}

#[tokio::test]
async fn a_stall_is_cut_by_the_client_read_timeout_and_ends_on_its_own() {
    let e = echo(FaultProfile {
        stall_ms: 1500,
        ..FaultProfile::scripted("/upload", [FaultKind::Stall])
    })
    .await;
    let c = reqwest::Client::builder()
        .read_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = c
        .post(e.url("/upload"))
        .body("z")
        .send()
        .await
        .expect_err("stalled");
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(e.reached(), 0);
    // Without a client timeout, the bounded stall closes the connection.
    let started = Instant::now();
    let r = client().post(e.url("/upload")).body("z").send().await;
    assert_eq!(r.unwrap().status(), 200, "the script is spent");
    e.faults.set(FaultProfile {
        stall_ms: 300,
        ..FaultProfile::scripted("/upload", [FaultKind::Stall])
    });
    let r = client().post(e.url("/upload")).body("z").send().await;
    assert!(r.is_err() || r.unwrap().bytes().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(e.faults.counters().stalls, 2);
}

#[tokio::test]
async fn latency_and_bandwidth_caps_pace_the_request() {
    let e = echo(FaultProfile {
        latency_ms: 150,
        ..FaultProfile::default()
    })
    .await;
    let c = client();
    let t = Instant::now();
    c.post(e.url("/upload")).body("a").send().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(e.faults.counters().delayed, 1);

    // 256 KiB at 512 KiB/s per connection: about half a second.
    e.faults.set(FaultProfile {
        bandwidth_per_conn: Some(512 * 1024),
        ..FaultProfile::default()
    });
    let t = Instant::now();
    let r = c
        .post(e.url("/upload"))
        .body(vec![0u8; 256 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), format!("got {}", 256 * 1024));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // Two bodies of 128 KiB at once under a 512 KiB/s aggregate cap (and no per-connection
    // cap): together about half a second too.
    e.faults.set(FaultProfile {
        bandwidth_total: Some(512 * 1024),
        ..FaultProfile::default()
    });
    let t = Instant::now();
    let (a, b) = tokio::join!(
        c.post(e.url("/upload")).body(vec![0u8; 128 * 1024]).send(),
        c.post(e.url("/upload")).body(vec![0u8; 128 * 1024]).send(),
    );
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(e.faults.counters().paced_bytes >= 512 * 1024);
}

#[tokio::test]
async fn faults_apply_only_to_the_selected_calls_and_hooks_run_after_them() {
    let e = echo(FaultProfile {
        error_rate: 1.0,
        calls: vec!["POST /upload".into()],
        ..FaultProfile::default()
    })
    .await;
    let c = client();
    assert_eq!(
        c.get(e.url("/other")).send().await.unwrap().status(),
        200,
        "not selected"
    );
    assert!(c
        .post(e.url("/upload"))
        .send()
        .await
        .unwrap()
        .status()
        .is_server_error());
    e.faults.clear();
    let fired = Arc::new(AtomicU64::new(0));
    let f = Arc::clone(&fired);
    e.faults.after_requests("/other", 2, move || {
        f.fetch_add(1, Ordering::SeqCst);
    });
    for _ in 0..4 {
        c.get(e.url("/other")).send().await.unwrap();
    }
    assert_eq!(fired.load(Ordering::SeqCst), 1, "once, after the 2nd");
}

#[tokio::test]
async fn every_simulator_answers_injected_errors_in_its_envelope() {
    let enveloped = FaultProfile {
        error_rate: 1.0,
        plain_error_rate: 0.0,
        ..FaultProfile::default()
    };
    let c = client();

    let shopee = ShopeeSim::new(ShopeeSimConfig::default());
    let server = shopee.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    shopee.faults().set(enveloped.clone());
    let r = c
        .post(format!(
            "{}/api/v2/media_space/init_video_upload",
            server.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_server_error());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "error_server");
    assert_eq!(shopee.wire().count("init_video_upload"), 0, "not processed");

    let lazada = LazadaSim::new(LazadaSimConfig::default());
    let server = lazada.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    lazada.faults().set(FaultProfile {
        rate_limit_rate: 1.0,
        ..enveloped.clone()
    });
    let r = c
        .post(format!(
            "{}/media/video/block/create",
            LazadaSim::rest_base_url(&server)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "ApiCallLimit");

    let smh = SmhSim::new(SmhSimConfig::default());
    let servers = smh.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    smh.faults().set(FaultProfile {
        calls: vec![scope::SMH_PARTS.into()],
        ..enveloped
    });
    let r = c
        .put(format!(
            "{}/x.mp4?uploadId=u&partNumber=1",
            servers.storage_base_url()
        ))
        .body("abc")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_server_error());
    assert!(r.text().await.unwrap().contains("<Error>"));
    // The API server is not selected: its own (token) error comes through.
    let r = c
        .get(format!("{}/api/v1/token", servers.api_base_url()))
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_server_error());
    assert_eq!(smh.faults().counters().server_errors(), 1);
}

/// Every simulator server has the raw sink: it reads a streamed body to the end and counts it,
/// unshaped even when the fault layer would fail every request.
#[tokio::test]
async fn every_simulator_server_has_an_unshaped_raw_sink() {
    use marketmedia_sim::RAW_SINK_PATH;
    let shopee = ShopeeSim::new(ShopeeSimConfig::default());
    let shopee_server = shopee.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let lazada = LazadaSim::new(LazadaSimConfig::default());
    let lazada_server = lazada.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let smh = SmhSim::new(SmhSimConfig::default());
    let smh_servers = smh.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let always_fail = FaultProfile {
        error_rate: 1.0,
        ..FaultProfile::default()
    };
    for handle in [shopee.faults(), lazada.faults(), smh.faults()] {
        handle.set(always_fail.clone());
    }
    let bases = [
        shopee_server.base_url(),
        lazada_server.base_url(),
        smh_servers.api_base_url(),
        smh_servers.storage_base_url(),
    ];
    let len = 3 * 1024 * 1024 + 17;
    for base in bases {
        let chunks =
            futures::stream::iter((0..len).step_by(64 * 1024).map(move |start| {
                Ok::<_, std::io::Error>(vec![7u8; (len - start).min(64 * 1024)])
            }));
        let answer = client()
            .put(format!("{base}{RAW_SINK_PATH}"))
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{base}");
        let json: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(json["bytes"], len as u64, "{base}");
    }
    // The sink is no platform call: the fault layer saw none of it.
    assert_eq!(shopee.faults().counters().requests, 0);
    assert_eq!(smh.faults().counters().requests, 0);
}

/// `no_etag` and `wrong_etag` (scripted only): the part PUT is processed and stored as
/// usual, then its answer loses its `ETag`, or carries a different quoted hex value; the next
/// answer is untouched.
#[tokio::test]
async fn etag_faults_process_the_part_then_remove_or_replace_its_etag() {
    use marketmedia_sim::smh::TEST_LIBRARY_ID;
    use md5::Digest as _;
    let smh = SmhSim::new(SmhSimConfig::default());
    let servers = smh.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let token = smh.issue_token();
    let c = client();
    let data = vec![5u8; 1000];
    let info: serde_json::Value = c
        .post(format!(
            "{}/api/v1/file/{TEST_LIBRARY_ID}/-/e.mp4?multipart&access_token={token}",
            servers.api_base_url()
        ))
        .json(&serde_json::json!({ "size": data.len().to_string() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let put = format!(
        "{}{}?uploadId={}&partNumber=1",
        servers.storage_base_url(),
        info["path"].as_str().unwrap(),
        info["uploadId"].as_str().unwrap()
    );
    let key = info["confirmKey"].as_str().unwrap();
    // The script's names, as `--fault-script no_etag,wrong_etag,none` spells them.
    let script: Vec<FaultKind> =
        serde_json::from_value(serde_json::json!(["no_etag", "wrong_etag", "none"])).unwrap();
    assert_eq!(
        script,
        [FaultKind::NoEtag, FaultKind::WrongEtag, FaultKind::None]
    );
    smh.faults()
        .set(FaultProfile::scripted(scope::SMH_PARTS, script));
    let true_etag = format!("\"{}\"", hex::encode(md5::Md5::digest(&data)));
    let mut etags = Vec::new();
    for _ in 0..3 {
        let mut req = c.put(&put).body(data.clone());
        for (k, v) in info["headers"].as_object().unwrap() {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        etags.push(
            r.headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_owned()),
        );
    }
    assert_eq!(etags[0], None, "no_etag removes it");
    let wrong = etags[1].clone().expect("wrong_etag replaces it");
    assert_ne!(wrong, true_etag);
    assert_eq!(wrong.len(), true_etag.len());
    assert!(wrong.starts_with('"') && wrong.ends_with('"'));
    assert!(wrong[1..wrong.len() - 1]
        .bytes()
        .all(|b| b.is_ascii_hexdigit()));
    assert_eq!(etags[2].as_deref(), Some(true_etag.as_str()), "untouched");
    // Each PUT was processed: the part is held, every body counted.
    let parts = smh.parts(key).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].etag, true_etag);
    assert_eq!(smh.storage_bytes_received(), 3 * data.len() as u64);
    let counters = smh.faults().counters();
    assert_eq!((counters.etags_removed, counters.etags_replaced), (1, 1));
    assert_eq!(counters.injected(), 2);
}
