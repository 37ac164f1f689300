//! The simulators' [`Traffic`] counter, on the Shopee simulator: requests counted, in flight
//! now and at most at once, per call pattern, each exchange's start and end in order, `reset`,
//! and the `GET/DELETE /__sim/traffic` control routes.
//!
//! Requests are held open deterministically by the client: each sends its head and the first
//! bytes of a small body, and the rest only when the test releases it. The simulator reads a
//! small body before it answers (even an unsigned call's, for its wire log), so a held request
//! stays in flight at the simulator until released, whatever the machine's speed. Waits are
//! on what the simulator reports, with a generous bound, never on a fixed sleep.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use marketmedia_sim::faults::FaultProfile;
use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};
use marketmedia_sim::{SimServer, Traffic, TrafficCounters};
use reqwest::Client;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Two Shopee calls, told apart by the traffic patterns below.
const INIT: &str = "/api/v2/media_space/init_video_upload";
const PART: &str = "/api/v2/media_space/upload_video_part";

/// The body every request sends: the first bytes at once, the last ones when released.
const HEAD_BYTES: &[u8] = b"{\"held\":";
const TAIL_BYTES: &[u8] = b"true}";

/// How long a wait on the simulator's own report may last before the test fails (only a
/// broken counter gets anywhere near it).
const PATIENCE: Duration = Duration::from_secs(30);

struct Sim {
    sim: ShopeeSim,
    server: SimServer,
    http: Client,
}

async fn start() -> Sim {
    let sim = ShopeeSim::new(ShopeeSimConfig::default());
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let http = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    Sim { sim, server, http }
}

impl Sim {
    fn traffic(&self) -> &Traffic {
        self.sim.traffic()
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.server.base_url())
    }

    /// A request to `path_and_query` whose body waits for [`Held::release`]; returns once
    /// the simulator counts it in flight.
    async fn hold(&self, path_and_query: &str) -> Held {
        let before = self.traffic().counters().requests;
        let (release, released) = oneshot::channel::<()>();
        let head =
            futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from(HEAD_BYTES)) });
        let tail = futures::stream::once(async move {
            let _ = released.await;
            Ok::<_, std::io::Error>(Bytes::from(TAIL_BYTES))
        });
        let request = self
            .http
            .post(self.url(path_and_query))
            .header(
                reqwest::header::CONTENT_LENGTH,
                HEAD_BYTES.len() + TAIL_BYTES.len(),
            )
            .body(reqwest::Body::wrap_stream(head.chain(tail)));
        let answer = tokio::spawn(async move { request.send().await.unwrap().status().as_u16() });
        self.wait_until(|t| t.counters().requests > before).await;
        Held {
            release,
            answer,
            key: format!("POST {path_and_query}"),
        }
    }

    /// One ordinary request, answered before this returns; its status.
    async fn call(&self, path_and_query: &str) -> u16 {
        self.http
            .post(self.url(path_and_query))
            .body("{}")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Waits until `done` holds of the traffic; fails the test after [`PATIENCE`].
    async fn wait_until(&self, done: impl Fn(&Traffic) -> bool) {
        let started = Instant::now();
        while !done(self.traffic()) {
            assert!(
                started.elapsed() < PATIENCE,
                "the simulator never got there: {:?}",
                self.traffic().counters()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn get_json(&self, path_and_query: &str) -> Value {
        let r = self
            .http
            .get(self.url(path_and_query))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path_and_query}");
        r.json().await.unwrap()
    }
}

/// A request in flight at the simulator until released.
struct Held {
    release: oneshot::Sender<()>,
    answer: JoinHandle<u16>,
    /// The key the simulator's traffic gives it.
    key: String,
}

impl Held {
    /// Sends the rest of the body; the answer's status.
    async fn release(self) -> u16 {
        self.release.send(()).unwrap();
        self.answer.await.unwrap()
    }
}

fn counters(requests: u64, in_flight: u64, peak_in_flight: u64) -> TrafficCounters {
    TrafficCounters {
        requests,
        in_flight,
        peak_in_flight,
    }
}

#[tokio::test]
async fn requests_in_flight_and_their_peak_are_counted() {
    let s = start().await;
    assert_eq!(s.traffic().counters(), counters(0, 0, 0));

    // One at a time: never more than one in flight.
    let status = s.call(&format!("{INIT}?n=1")).await;
    assert_ne!(status, 0);
    s.call(&format!("{INIT}?n=2")).await;
    assert_eq!(s.traffic().counters(), counters(2, 0, 1));

    // Three held at once.
    let held = vec![
        s.hold(&format!("{INIT}?n=3")).await,
        s.hold(&format!("{INIT}?n=4")).await,
        s.hold(&format!("{PART}?n=5")).await,
    ];
    assert_eq!(s.traffic().counters(), counters(5, 3, 3));
    for h in held {
        h.release().await;
    }
    // Each answer is counted finished before the client reads it.
    assert_eq!(s.traffic().counters(), counters(5, 0, 3));

    // The peak is the most at once, not the most recent.
    let one = s.hold(&format!("{PART}?n=6")).await;
    assert_eq!(s.traffic().counters(), counters(6, 1, 3));
    one.release().await;
    assert_eq!(s.traffic().counters(), counters(6, 0, 3));
}

#[tokio::test]
async fn counters_of_a_pattern_count_only_its_exchanges() {
    let s = start().await;
    // Two INIT requests and one PART request overlap...
    let a1 = s.hold(&format!("{INIT}?n=1")).await;
    let a2 = s.hold(&format!("{INIT}?n=2")).await;
    let b1 = s.hold(&format!("{PART}?n=3")).await;
    assert_eq!(s.traffic().counters_of(INIT), counters(2, 2, 2));
    assert_eq!(s.traffic().counters_of(PART), counters(1, 1, 1));
    assert_eq!(s.traffic().counters_of("n=2"), counters(1, 1, 1));
    a1.release().await;
    a2.release().await;
    b1.release().await;
    // ... then two more PART requests, one after the other.
    s.call(&format!("{PART}?n=4")).await;
    s.call(&format!("{PART}?n=5")).await;

    assert_eq!(s.traffic().counters_of(INIT), counters(2, 0, 2));
    assert_eq!(s.traffic().counters_of(PART), counters(3, 0, 1));
    assert_eq!(s.traffic().counters_of("POST "), counters(5, 0, 3));
    assert_eq!(s.traffic().counters_of(""), counters(5, 0, 3));
    assert_eq!(s.traffic().counters_of("GET "), counters(0, 0, 0));
    assert_eq!(s.traffic().counters(), counters(5, 0, 3));
}

#[tokio::test]
async fn exchanges_are_listed_by_start_with_their_end_and_status() {
    let s = start().await;
    let a = s.hold(&format!("{INIT}?n=a")).await;
    let b = s.hold(&format!("{PART}?n=b")).await;
    let (a_key, b_key) = (a.key.clone(), b.key.clone());

    // Both in flight: listed by start, no end, no status.
    let open = s.traffic().exchanges();
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(
        (open[0].key.as_str(), open[1].key.as_str()),
        (a_key.as_str(), b_key.as_str())
    );
    assert!(
        open.iter()
            .all(|e| e.ended_us.is_none() && e.status.is_none()),
        "{open:?}"
    );
    assert!(open[0].started_us <= open[1].started_us, "{open:?}");

    // The later one ends first: still listed second (by start), ended, with its status.
    let b_status = b.release().await;
    let half = s.traffic().exchanges();
    assert_eq!(half[0].key, a_key);
    assert_eq!((half[0].status, half[0].ended_us), (None, None));
    assert_eq!(half[1].key, b_key);
    assert_eq!(half[1].status, Some(b_status));
    let b_end = half[1].ended_us.expect("b ended");
    assert!(b_end >= half[1].started_us, "{half:?}");

    let a_status = a.release().await;
    let done = s.traffic().exchanges();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].key, a_key);
    assert_eq!(done[0].status, Some(a_status));
    let a_end = done[0].ended_us.expect("a ended");
    assert!(done[0].started_us <= done[1].started_us, "{done:?}");
    assert!(
        a_end >= b_end,
        "a ended at {a_end} µs, before b at {b_end} µs"
    );
    assert_eq!(done[1].ended_us, Some(b_end), "an ended exchange changed");

    // exchanges_of filters by the same patterns.
    let parts = s.traffic().exchanges_of(PART);
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].key, b_key);
    assert!(parts[0].matches("n=b") && !parts[0].matches("n=a"));
}

/// The counter is outermost: it sees the fault layer's latency and the answers the fault
/// layer makes up, which never reach the simulator's handlers.
#[tokio::test]
async fn traffic_is_counted_before_the_fault_layer() {
    let s = start().await;
    s.sim.faults().set(FaultProfile {
        latency_ms: 300,
        error_rate: 1.0,
        calls: vec![PART.into()],
        ..FaultProfile::default()
    });
    let status = s.call(&format!("{PART}?n=1")).await;
    assert!((500..=503).contains(&status), "{status}");
    let e = &s.traffic().exchanges_of(PART)[0];
    assert_eq!(e.status, Some(status));
    let took = e.ended_us.expect("ended") - e.started_us;
    assert!(
        took >= 300_000,
        "held {took} µs, less than the 300 ms latency"
    );
    assert_eq!(s.sim.counters().requests, 0, "the handler saw the request");
    assert_eq!(s.traffic().counters(), counters(1, 0, 1));
}

#[tokio::test]
async fn reset_forgets_finished_exchanges_and_keeps_what_is_in_flight() {
    let s = start().await;
    let a = s.hold(&format!("{INIT}?n=a")).await;
    let b = s.hold(&format!("{INIT}?n=b")).await;
    let c = s.hold(&format!("{PART}?n=c")).await;
    c.release().await;
    b.release().await;
    assert_eq!(s.traffic().counters(), counters(3, 1, 3));

    s.traffic().reset();
    // The request count is kept; the peak comes down to what is in flight.
    assert_eq!(s.traffic().counters(), counters(3, 1, 1));
    let kept = s.traffic().exchanges();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].key, a.key);
    assert_eq!(kept[0].ended_us, None);
    assert_eq!(s.traffic().counters_of(INIT), counters(1, 1, 1));
    assert_eq!(s.traffic().counters_of(PART), counters(0, 0, 0));

    // Measured from the reset on.
    let d = s.hold(&format!("{PART}?n=d")).await;
    assert_eq!(s.traffic().counters(), counters(4, 2, 2));
    d.release().await;
    a.release().await;
    assert_eq!(s.traffic().counters(), counters(4, 0, 2));
    assert_eq!(s.traffic().exchanges().len(), 2);

    // With nothing in flight, the peak comes down to zero.
    s.traffic().reset();
    assert_eq!(s.traffic().counters(), counters(4, 0, 0));
    assert!(s.traffic().exchanges().is_empty());
}

#[tokio::test]
async fn the_traffic_control_routes_report_and_reset_over_http() {
    let s = start().await;
    let status = s.call(&format!("{PART}?n=1")).await;
    let a = s.hold(&format!("{INIT}?n=2")).await;

    let all = s.get_json("/__sim/traffic").await;
    assert_eq!(all["requests"], 2, "{all}");
    assert_eq!(all["in_flight"], 1, "{all}");
    assert_eq!(all["peak_in_flight"], 1, "{all}");
    let exchanges = all["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 2, "{all}");
    assert_eq!(exchanges[0]["key"], format!("POST {PART}?n=1"));
    assert_eq!(exchanges[0]["status"], status);
    let (start0, end0) = (
        exchanges[0]["started_us"].as_u64().unwrap(),
        exchanges[0]["ended_us"].as_u64().unwrap(),
    );
    assert!(start0 <= end0, "{all}");
    assert_eq!(exchanges[1]["key"], a.key);
    assert!(exchanges[1]["status"].is_null(), "{all}");
    assert!(exchanges[1]["ended_us"].is_null(), "{all}");

    // Filtered by call.
    let inits = s.get_json(&format!("/__sim/traffic?call={INIT}")).await;
    assert_eq!(inits["requests"], 1, "{inits}");
    assert_eq!(inits["in_flight"], 1, "{inits}");
    assert_eq!(inits["exchanges"].as_array().unwrap().len(), 1, "{inits}");
    assert_eq!(inits["exchanges"][0]["key"], a.key);
    let none = s.get_json("/__sim/traffic?call=no-such-call").await;
    assert_eq!(none["requests"], 0, "{none}");
    assert_eq!(none["exchanges"].as_array().unwrap().len(), 0, "{none}");

    let a_status = a.release().await;
    let after = s.get_json("/__sim/traffic").await;
    // The control routes themselves are not counted.
    assert_eq!(after["requests"], 2, "{after}");
    assert_eq!(after["in_flight"], 0, "{after}");
    assert_eq!(after["exchanges"][1]["status"], a_status, "{after}");
    assert!(
        after["exchanges"][1]["ended_us"].as_u64().is_some(),
        "{after}"
    );

    // DELETE forgets the finished exchanges and the peak; the count stays.
    let r = s.http.delete(s.url("/__sim/traffic")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let cleared = s.get_json("/__sim/traffic").await;
    assert_eq!(cleared["requests"], 2, "{cleared}");
    assert_eq!(cleared["in_flight"], 0, "{cleared}");
    assert_eq!(cleared["peak_in_flight"], 0, "{cleared}");
    assert_eq!(
        cleared["exchanges"].as_array().unwrap().len(),
        0,
        "{cleared}"
    );
    assert_eq!(s.traffic().counters(), counters(2, 0, 0));
}
