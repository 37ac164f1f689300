//! Fault injection and network shaping for the simulators: a seeded tower [`Layer`] that sits in
//! front of a simulator's router and, per request, adds latency, paces the request body to a
//! bandwidth cap, answers 500/502/503 or bursts of 429 with `Retry-After`, resets the
//! connection in the middle of the request body, stalls the answer, drips it a byte at a time,
//! or loses it (the simulator processes and stores the request, then the connection is closed
//! instead of answering);
//! scripted only, it removes or falsifies the `ETag` of a processed request's answer
//! ([`FaultKind::NoEtag`], [`FaultKind::WrongEtag`]).
//!
//! Every simulator owns a [`FaultHandle`] (`sim.faults()`), with no fault by default; a test
//! sets a [`FaultProfile`] at any time and reads [`FaultCounters`] afterwards:
//!
//! ```no_run
//! use marketmedia_sim::faults::{scope, FaultProfile};
//! use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = ShopeeSim::new(ShopeeSimConfig::default());
//! let server = sim.start("127.0.0.1:0".parse().unwrap()).await?;
//! sim.faults().set(FaultProfile {
//!     seed: 7,
//!     error_rate: 0.2,
//!     reset_rate: 0.05,
//!     calls: vec![scope::SHOPEE_PARTS.into()],
//!     ..FaultProfile::default()
//! });
//! // ... upload through server.base_url() ...
//! println!("{:?}", sim.faults().counters());
//! # Ok(()) }
//! ```
//!
//! **Determinism.** Decisions come from a ChaCha8 generator seeded with
//! [`FaultProfile::seed`] and are drawn in the order requests *arrive*: a sequential client
//! meets exactly the same faults on every run; with parts in flight concurrently the arrival
//! order (and so which request gets which fault) may vary, but the sequence of decisions does
//! not. [`FaultProfile::script`] pins exact faults on the first matching requests.
//!
//! **Connections.** Over plain HTTP/1.1 a connection carries one request at a time, so the
//! per-connection bandwidth cap paces each request body; the aggregate cap is one bucket
//! shared by every request through the handle. "Reset", "stall" and "lost" end the exchange by
//! failing the response body, which makes hyper abort the connection without a complete answer.

mod args;
mod pace;

use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tower::{Layer, Service, ServiceExt};

use crate::util::lock;
pub use args::FaultArgs;
use pace::Pacer;

/// Request patterns for [`FaultProfile::calls`]: substrings of `"METHOD /path?query"`.
pub mod scope {
    /// Shopee `init_video_upload`.
    pub const SHOPEE_INIT: &str = "/media_space/init_video_upload";
    /// Shopee part uploads.
    pub const SHOPEE_PARTS: &str = "/media_space/upload_video_part";
    /// Shopee `complete_video_upload`.
    pub const SHOPEE_COMMIT: &str = "/media_space/complete_video_upload";
    /// Shopee `v2.media` part uploads.
    pub const SHOPEE_MEDIA_PARTS: &str = "/v2/media/upload_video_part";
    /// Shopee `v2.media` `complete_video_upload`.
    pub const SHOPEE_MEDIA_COMMIT: &str = "/v2/media/complete_video_upload";
    /// Lazada block uploads.
    pub const LAZADA_PARTS: &str = "/media/video/block/upload";
    /// Lazada block commit.
    pub const LAZADA_COMMIT: &str = "/media/video/block/commit";
    /// SMH part PUTs to the storage server.
    pub const SMH_PARTS: &str = "partNumber=";
    /// SMH confirm calls.
    pub const SMH_COMMIT: &str = "?confirm";
    /// eBay `uploadVideo` chunks.
    pub const EBAY_PARTS: &str = "/upload";
    /// eBay `getVideo`, the provider's commit (and its polls).
    pub const EBAY_COMMIT: &str = "GET /commerce/media/v1_beta/video/";
    /// Every eBay POST (`createVideo`, `uploadVideo`, images).
    pub const EBAY_POSTS: &str = "POST /commerce/media/v1_beta/";
    /// WeChat Channels Store part uploads.
    pub const WECHAT_PARTS: &str = "/shop/ec/basics/video/uploadpart";
    /// WeChat Channels Store `finishupload`.
    pub const WECHAT_COMMIT: &str = "/shop/ec/basics/video/finishupload";
    /// Shopee's refresh call (`auth/access_token/get`). A lost answer here loses the new pair
    /// and has spent the old refresh token, as on the platform.
    pub const SHOPEE_REFRESH: &str = "/api/v2/auth/access_token/get";
    /// Shopee's code exchange (`auth/token/get`).
    pub const SHOPEE_TOKEN_GET: &str = "/api/v2/auth/token/get";
    /// Lazada's refresh call.
    pub const LAZADA_REFRESH: &str = "/auth/token/refresh";
    /// Lazada's code exchange.
    pub const LAZADA_TOKEN_CREATE: &str = "/auth/token/create";
    /// eBay's token endpoint (both grants).
    pub const EBAY_TOKEN: &str = "POST /identity/v1/oauth2/token";
    /// WeChat's stable token call.
    pub const WECHAT_STABLE_TOKEN: &str = "/cgi-bin/stable_token";
    /// TikTok Shop's file uploads: a file's one request, its part and its completion alike.
    pub const TIKTOK_FILES: &str = "POST /product/202309/files/upload";
    /// Shopify's staged-upload requests (the simulator's staged host).
    pub const SHOPIFY_PARTS: &str = "/upload/";
    /// Shopify's GraphQL calls: the attach mutation (the completion) cannot be told apart
    /// from the others by its path, so this is every GraphQL call.
    pub const SHOPIFY_GRAPHQL: &str = "/graphql.json";
    /// Shopify's token call.
    pub const SHOPIFY_TOKEN: &str = "/admin/oauth/access_token";
}

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// No fault: the request goes through (used in a [`FaultProfile::script`]).
    None,
    /// HTTP 500 after reading the request (not processed).
    Status500,
    /// HTTP 502 after reading the request (not processed).
    Status502,
    /// HTTP 503 after reading the request (not processed).
    Status503,
    /// HTTP 429 with `Retry-After` (starts a burst of [`FaultProfile::rate_limit_burst`]).
    RateLimited,
    /// The connection is dropped after reading part of the request body (not processed).
    Reset,
    /// No answer for [`FaultProfile::stall_ms`], then the connection is dropped (not processed).
    Stall,
    /// After reading the request (not processed), a 200 answer announcing
    /// [`DRIP_ANNOUNCED`] bytes whose body comes one byte every [`FaultProfile::drip_ms`]: a
    /// server (or a proxy) that drips, keeping every idle timeout happy. It goes on until the
    /// client gives up.
    Drip,
    /// The request is processed and stored, then the connection is dropped instead of the
    /// answer.
    LostResponse,
    /// The request is processed and stored, then answered without its `ETag` header (a
    /// storage server or proxy that drops it). Scripted only: never drawn at random.
    NoEtag,
    /// The request is processed and stored, then answered with its `ETag` header replaced by
    /// a different quoted hex value (an answer that does not acknowledge the bytes sent).
    /// Scripted only: never drawn at random.
    WrongEtag,
}

/// What to inject, for which requests. `Default` injects nothing.
///
/// Rates are probabilities per matching request, drawn once per request in this order: stall,
/// drip, lost response, reset, 429 (starting a burst), 5xx. Their sum must not exceed 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultProfile {
    /// Seed of the decisions; the same seed gives the same sequence of decisions.
    pub seed: u64,
    /// Latency added before each matching request is handled, in milliseconds.
    pub latency_ms: u64,
    /// A random extra latency up to this many milliseconds.
    pub latency_jitter_ms: u64,
    /// Request body bandwidth per connection (bytes per second); `None` = unlimited.
    pub bandwidth_per_conn: Option<u64>,
    /// Request body bandwidth over all connections of this simulator (bytes per second).
    pub bandwidth_total: Option<u64>,
    /// Share of requests answered 500, 502 or 503 (equally likely).
    pub error_rate: f64,
    /// Share of injected 5xx and 429 answers with a plain-text body (as a proxy or load
    /// balancer sends), the rest in the platform's error envelope. Default 0.5.
    pub plain_error_rate: f64,
    /// Share of requests that start a burst of 429 answers.
    pub rate_limit_rate: f64,
    /// How many consecutive matching requests a 429 burst answers (at least 1). Default 3.
    pub rate_limit_burst: u32,
    /// `Retry-After` of 429 answers, in seconds. Default 1.
    pub retry_after_secs: u64,
    /// Share of requests whose connection is reset in the middle of the request body.
    pub reset_rate: f64,
    /// Share of requests processed and stored whose answer is lost (connection closed).
    pub lost_response_rate: f64,
    /// Share of requests whose answer stalls.
    pub stall_rate: f64,
    /// How long a stall lasts before the connection is closed. Default 30,000 ms (a client
    /// with a shorter read timeout gives up first; the bound lets tests end).
    pub stall_ms: u64,
    /// Share of requests whose answer drips ([`FaultKind::Drip`]).
    pub drip_rate: f64,
    /// The pause between two bytes of a dripping answer. Default 5,000 ms (the drip that
    /// issue 31 measured: no idle timeout fires, a 100,000-byte answer would take 6 days).
    pub drip_ms: u64,
    /// Which requests the faults and the shaping apply to: substrings of
    /// `"METHOD /path?query"` (see [`scope`]); empty = every request.
    pub calls: Vec<String>,
    /// Exact faults for the first matching requests, in order, before the random draws take
    /// over (a `RateLimited` entry answers one 429, without a burst).
    pub script: Vec<FaultKind>,
}

impl Default for FaultProfile {
    fn default() -> Self {
        FaultProfile {
            seed: 0,
            latency_ms: 0,
            latency_jitter_ms: 0,
            bandwidth_per_conn: None,
            bandwidth_total: None,
            error_rate: 0.0,
            plain_error_rate: 0.5,
            rate_limit_rate: 0.0,
            rate_limit_burst: 3,
            retry_after_secs: 1,
            reset_rate: 0.0,
            lost_response_rate: 0.0,
            stall_rate: 0.0,
            stall_ms: 30_000,
            drip_rate: 0.0,
            drip_ms: 5_000,
            calls: Vec::new(),
            script: Vec::new(),
        }
    }
}

/// A [`FaultProfile`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidProfile(pub String);

impl fmt::Display for InvalidProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid fault profile: {}", self.0)
    }
}

impl std::error::Error for InvalidProfile {}

impl FaultProfile {
    /// The reliability issue's profile: 20 % 500/502/503, 5 % connection resets mid-body,
    /// 5 % lost answers and, for 1 % of requests, a burst of three 429s with `Retry-After: 1`,
    /// on every call.
    pub fn hostile(seed: u64) -> FaultProfile {
        FaultProfile {
            seed,
            error_rate: 0.20,
            reset_rate: 0.05,
            lost_response_rate: 0.05,
            rate_limit_rate: 0.01,
            rate_limit_burst: 3,
            retry_after_secs: 1,
            ..FaultProfile::default()
        }
    }

    /// No fault (the default).
    pub fn none() -> Self {
        FaultProfile::default()
    }

    /// Only these faults, in order, on the first requests matching `call` (a [`scope`]
    /// pattern), then nothing.
    pub fn scripted(call: &str, script: impl IntoIterator<Item = FaultKind>) -> Self {
        FaultProfile {
            calls: vec![call.to_owned()],
            script: script.into_iter().collect(),
            ..FaultProfile::default()
        }
    }

    /// Checks that every rate is within 0..=1, that they add up to at most 1, and that the
    /// bandwidths are not zero.
    pub fn validate(&self) -> Result<(), InvalidProfile> {
        let rates = [
            ("error_rate", self.error_rate),
            ("plain_error_rate", self.plain_error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("reset_rate", self.reset_rate),
            ("lost_response_rate", self.lost_response_rate),
            ("stall_rate", self.stall_rate),
            ("drip_rate", self.drip_rate),
        ];
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return Err(InvalidProfile(format!("{name} {r} is not within 0..=1")));
            }
        }
        let sum = self.error_rate
            + self.rate_limit_rate
            + self.reset_rate
            + self.lost_response_rate
            + self.stall_rate
            + self.drip_rate;
        if sum > 1.0 + 1e-9 {
            return Err(InvalidProfile(format!(
                "the fault rates add up to {sum}, more than 1"
            )));
        }
        if self.bandwidth_per_conn == Some(0) || self.bandwidth_total == Some(0) {
            return Err(InvalidProfile("a bandwidth of 0 bytes/s".into()));
        }
        Ok(())
    }

    /// Whether the profile injects or shapes anything at all.
    pub fn is_active(&self) -> bool {
        *self
            != FaultProfile {
                seed: self.seed,
                ..FaultProfile::default()
            }
    }

    fn matches(&self, key: &str) -> bool {
        self.calls.is_empty() || self.calls.iter().any(|p| key.contains(p.as_str()))
    }
}

/// How many requests were seen and which faults were injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounters {
    /// Requests that went through the layer.
    pub requests: u64,
    /// Requests that matched [`FaultProfile::calls`].
    pub matched: u64,
    /// Requests delayed by latency.
    pub delayed: u64,
    /// Request body bytes paced by a bandwidth cap.
    pub paced_bytes: u64,
    /// 500 answers injected.
    pub status_500: u64,
    /// 502 answers injected.
    pub status_502: u64,
    /// 503 answers injected.
    pub status_503: u64,
    /// 429 answers injected.
    pub rate_limited: u64,
    /// Connections reset in the middle of the request body.
    pub resets: u64,
    /// Stalled answers.
    pub stalls: u64,
    /// Dripping answers.
    pub drips: u64,
    /// Requests processed whose answer was lost.
    pub lost_responses: u64,
    /// Requests processed whose answer lost its `ETag` header ([`FaultKind::NoEtag`]).
    pub etags_removed: u64,
    /// Requests processed whose answer's `ETag` was replaced ([`FaultKind::WrongEtag`]).
    pub etags_replaced: u64,
}

impl FaultCounters {
    /// Every injected fault (5xx, 429, resets, stalls, lost answers, removed or replaced
    /// ETags).
    pub fn injected(&self) -> u64 {
        self.status_500
            + self.status_502
            + self.status_503
            + self.rate_limited
            + self.resets
            + self.stalls
            + self.drips
            + self.lost_responses
            + self.etags_removed
            + self.etags_replaced
    }

    /// Injected 5xx answers.
    pub fn server_errors(&self) -> u64 {
        self.status_500 + self.status_502 + self.status_503
    }

    /// The kinds of the [`FaultProfile::hostile`] profile that were never injected (empty when
    /// a run really met 5xx answers, resets, lost answers and 429s) — so a test under faults
    /// can prove the faults happened.
    pub fn missing_kinds(&self) -> Vec<&'static str> {
        [
            ("5xx", self.server_errors()),
            ("reset", self.resets),
            ("lost response", self.lost_responses),
            ("429", self.rate_limited),
        ]
        .into_iter()
        .filter(|(_, n)| *n == 0)
        .map(|(kind, _)| kind)
        .collect()
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    matched: AtomicU64,
    delayed: AtomicU64,
    paced_bytes: AtomicU64,
    status_500: AtomicU64,
    status_502: AtomicU64,
    status_503: AtomicU64,
    rate_limited: AtomicU64,
    resets: AtomicU64,
    stalls: AtomicU64,
    drips: AtomicU64,
    lost_responses: AtomicU64,
    etags_removed: AtomicU64,
    etags_replaced: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> FaultCounters {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FaultCounters {
            requests: get(&self.requests),
            matched: get(&self.matched),
            delayed: get(&self.delayed),
            paced_bytes: get(&self.paced_bytes),
            status_500: get(&self.status_500),
            status_502: get(&self.status_502),
            status_503: get(&self.status_503),
            rate_limited: get(&self.rate_limited),
            resets: get(&self.resets),
            stalls: get(&self.stalls),
            drips: get(&self.drips),
            lost_responses: get(&self.lost_responses),
            etags_removed: get(&self.etags_removed),
            etags_replaced: get(&self.etags_replaced),
        }
    }

    fn count(&self, kind: FaultKind) {
        let counter = match kind {
            FaultKind::None => return,
            FaultKind::Status500 => &self.status_500,
            FaultKind::Status502 => &self.status_502,
            FaultKind::Status503 => &self.status_503,
            FaultKind::RateLimited => &self.rate_limited,
            FaultKind::Reset => &self.resets,
            FaultKind::Stall => &self.stalls,
            FaultKind::Drip => &self.drips,
            FaultKind::LostResponse => &self.lost_responses,
            FaultKind::NoEtag => &self.etags_removed,
            FaultKind::WrongEtag => &self.etags_replaced,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Something to run once after a number of matching requests were handled.
struct Trigger {
    pattern: String,
    remaining: u64,
    action: Option<Box<dyn FnOnce() + Send>>,
}

struct State {
    profile: FaultProfile,
    rng: ChaCha8Rng,
    burst_left: u32,
    script_pos: usize,
    total: Option<Arc<Pacer>>,
    triggers: Vec<Trigger>,
}

impl State {
    fn new(profile: FaultProfile) -> Self {
        State {
            rng: ChaCha8Rng::seed_from_u64(profile.seed),
            burst_left: 0,
            script_pos: 0,
            total: profile.bandwidth_total.map(|r| Arc::new(Pacer::new(r))),
            triggers: Vec::new(),
            profile,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    counters: Counters,
}

/// The run-time control of a simulator's fault layer: set a profile, read the counters, hook
/// an action after some requests. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct FaultHandle {
    shared: Arc<Shared>,
}

impl Default for FaultHandle {
    fn default() -> Self {
        FaultHandle::new(FaultProfile::default())
    }
}

impl fmt::Debug for FaultHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultHandle")
            .field("profile", &self.profile())
            .field("counters", &self.counters())
            .finish()
    }
}

/// The body style of injected error answers, chosen by the simulator that applies the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// Plain text only.
    Plain,
    /// Shopee's JSON envelope (`error`, `message`, `request_id`).
    Shopee,
    /// The Lazada gateway's JSON (`type`, `code`, `message`, `request_id`).
    Lazada,
    /// SMH's JSON (`code`, `message`, `requestId`).
    Smh,
    /// COS's XML `<Error>` (SMH's storage server).
    Cos,
    /// eBay's REST `errors[]` (`errorId`, `domain`, `category`, `message`).
    Ebay,
    /// WeChat's JSON (`errcode`, `errmsg`): -1 "system error", 45011 for 429.
    Wechat,
    /// TikTok Shop's envelope (`code`, `message`, `request_id`, `data`): 36009003, 36009002.
    Tiktok,
    /// Shopify's GraphQL `errors[]` (`message`, `extensions.code`): `THROTTLED` for 429,
    /// `INTERNAL_SERVER_ERROR` otherwise.
    Shopify,
}

/// What one request gets.
#[derive(Debug, Clone, Copy)]
struct Decision {
    kind: FaultKind,
    plain: bool,
    latency: Duration,
    per_conn: Option<u64>,
    reset_at: f64,
}

impl FaultHandle {
    /// A handle with `profile`.
    pub fn new(profile: FaultProfile) -> Self {
        FaultHandle {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(profile)),
                counters: Counters::default(),
            }),
        }
    }

    /// Replaces the profile from the next request on, restarting its random sequence from the
    /// seed (counters and hooks are kept).
    pub fn set(&self, profile: FaultProfile) {
        let mut st = lock(&self.shared.state);
        let triggers = std::mem::take(&mut st.triggers);
        *st = State::new(profile);
        st.triggers = triggers;
    }

    /// Checks `profile` with [`FaultProfile::validate`], then [`set`](Self::set)s it.
    pub fn try_set(&self, profile: FaultProfile) -> Result<(), InvalidProfile> {
        profile.validate()?;
        self.set(profile);
        Ok(())
    }

    /// Back to no fault.
    pub fn clear(&self) {
        self.set(FaultProfile::default());
    }

    /// The profile in force.
    pub fn profile(&self) -> FaultProfile {
        lock(&self.shared.state).profile.clone()
    }

    /// The counters so far.
    pub fn counters(&self) -> FaultCounters {
        self.shared.counters.snapshot()
    }

    /// Runs `action` once, right after the `n`-th request (counted from now) whose
    /// `"METHOD /path?query"` contains `pattern` was handled by the simulator (answered or
    /// lost). Use it to expire something in the middle of an upload, e.g.
    /// `sim.faults().after_requests(scope::SMH_PARTS, 1, move || clock.advance(..))`.
    pub fn after_requests(&self, pattern: &str, n: u64, action: impl FnOnce() + Send + 'static) {
        lock(&self.shared.state).triggers.push(Trigger {
            pattern: pattern.to_owned(),
            remaining: n.max(1),
            action: Some(Box::new(action)),
        });
    }

    /// The tower layer to put in front of a simulator's router, answering injected errors in
    /// `style`.
    pub fn layer(&self, style: ErrorStyle) -> FaultLayer {
        FaultLayer {
            handle: self.clone(),
            style,
        }
    }

    fn decide(&self, key: &str) -> Option<(Decision, Option<Arc<Pacer>>)> {
        let c = &self.shared.counters;
        c.requests.fetch_add(1, Ordering::Relaxed);
        let mut st = lock(&self.shared.state);
        if !st.profile.is_active() || !st.profile.matches(key) {
            return None;
        }
        c.matched.fetch_add(1, Ordering::Relaxed);
        let st = &mut *st;
        let p = &st.profile;
        let rng = &mut st.rng;
        // Draw the same number of values for every request, so one decision never shifts the
        // ones after it.
        let u: f64 = rng.gen();
        let plain = rng.gen::<f64>() < p.plain_error_rate;
        let which: u8 = rng.gen_range(0..3);
        let jitter = if p.latency_jitter_ms > 0 {
            rng.gen_range(0..=p.latency_jitter_ms)
        } else {
            0
        };
        let reset_at: f64 = rng.gen_range(0.1..0.9);
        let kind = if let Some(k) = p.script.get(st.script_pos) {
            st.script_pos += 1;
            *k
        } else if st.burst_left > 0 {
            st.burst_left -= 1;
            FaultKind::RateLimited
        } else {
            let server_error = [
                FaultKind::Status500,
                FaultKind::Status502,
                FaultKind::Status503,
            ][usize::from(which)];
            let table = [
                (p.stall_rate, FaultKind::Stall),
                (p.drip_rate, FaultKind::Drip),
                (p.lost_response_rate, FaultKind::LostResponse),
                (p.reset_rate, FaultKind::Reset),
                (p.rate_limit_rate, FaultKind::RateLimited),
                (p.error_rate, server_error),
            ];
            let mut edge = 0.0;
            let mut kind = FaultKind::None;
            for (rate, k) in table {
                edge += rate;
                if u < edge {
                    kind = k;
                    break;
                }
            }
            if kind == FaultKind::RateLimited {
                st.burst_left = p.rate_limit_burst.saturating_sub(1);
            }
            kind
        };
        let decision = Decision {
            kind,
            plain,
            latency: Duration::from_millis(p.latency_ms + jitter),
            per_conn: p.bandwidth_per_conn,
            reset_at,
        };
        Some((decision, st.total.clone()))
    }

    fn stall_for(&self) -> Duration {
        Duration::from_millis(lock(&self.shared.state).profile.stall_ms)
    }

    fn drip_every(&self) -> Duration {
        Duration::from_millis(lock(&self.shared.state).profile.drip_ms.max(1))
    }

    fn retry_after(&self) -> u64 {
        lock(&self.shared.state).profile.retry_after_secs
    }

    /// Counts a handled request against the hooks and runs those that are due.
    fn handled(&self, key: &str) {
        let due: Vec<Box<dyn FnOnce() + Send>> = {
            let mut st = lock(&self.shared.state);
            let mut due = Vec::new();
            for t in st.triggers.iter_mut() {
                if t.action.is_some() && key.contains(t.pattern.as_str()) {
                    t.remaining = t.remaining.saturating_sub(1);
                    if t.remaining == 0 {
                        due.extend(t.action.take());
                    }
                }
            }
            st.triggers.retain(|t| t.action.is_some());
            due
        };
        for action in due {
            action();
        }
    }
}

/// The tower layer of a [`FaultHandle`] (see [`FaultHandle::layer`]).
#[derive(Debug, Clone)]
pub struct FaultLayer {
    handle: FaultHandle,
    style: ErrorStyle,
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            handle: self.handle.clone(),
            style: self.style,
        }
    }
}

/// The service [`FaultLayer`] wraps around a simulator.
#[derive(Debug, Clone)]
pub struct FaultService<S> {
    inner: S,
    handle: FaultHandle,
    style: ErrorStyle,
}

impl<S> Service<Request<Body>> for FaultService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The ready clone serves this request; a fresh clone waits for the next poll_ready.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let handle = self.handle.clone();
        let style = self.style;
        Box::pin(async move { Ok(serve(handle, style, inner, req).await) })
    }
}

async fn serve<S>(handle: FaultHandle, style: ErrorStyle, inner: S, req: Request<Body>) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let key = format!(
        "{} {}",
        req.method(),
        req.uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/")
    );
    let Some((d, total)) = handle.decide(&key) else {
        let response = call_inner(inner, req).await;
        handle.handled(&key);
        return response;
    };
    let counters = &handle.shared.counters;
    if !d.latency.is_zero() {
        counters.delayed.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(d.latency).await;
    }
    let req = pace_body(req, d.per_conn, total, &handle);
    counters.count(d.kind);
    match d.kind {
        FaultKind::None => {
            let response = call_inner(inner, req).await;
            handle.handled(&key);
            response
        }
        FaultKind::Status500 | FaultKind::Status502 | FaultKind::Status503 => {
            drain(req.into_body()).await;
            let status = match d.kind {
                FaultKind::Status500 => StatusCode::INTERNAL_SERVER_ERROR,
                FaultKind::Status502 => StatusCode::BAD_GATEWAY,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            error_answer(style, status, d.plain, None)
        }
        FaultKind::RateLimited => {
            drain(req.into_body()).await;
            error_answer(
                style,
                StatusCode::TOO_MANY_REQUESTS,
                d.plain,
                Some(handle.retry_after()),
            )
        }
        FaultKind::Reset => {
            let len = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let target = len.map_or(1, |l| ((l as f64) * d.reset_at) as u64).max(1);
            read_some(req.into_body(), target).await;
            abort()
        }
        FaultKind::Stall => {
            drain(req.into_body()).await;
            tokio::time::sleep(handle.stall_for()).await;
            abort()
        }
        FaultKind::Drip => {
            drain(req.into_body()).await;
            drip(handle.drip_every())
        }
        FaultKind::LostResponse => {
            let response = call_inner(inner, req).await;
            // Let the simulator finish whatever its answer would have streamed.
            drain(response.into_body()).await;
            handle.handled(&key);
            abort()
        }
        FaultKind::NoEtag | FaultKind::WrongEtag => {
            let mut response = call_inner(inner, req).await;
            handle.handled(&key);
            let headers = response.headers_mut();
            match headers.remove(header::ETAG) {
                Some(etag) if d.kind == FaultKind::WrongEtag => {
                    headers.insert(header::ETAG, wrong_etag(&etag));
                }
                _ => {}
            }
            response
        }
    }
}

/// A quoted hex value that differs from `etag`: the MD5 of its text.
fn wrong_etag(etag: &HeaderValue) -> HeaderValue {
    use md5::{Digest as _, Md5};
    let wrong = format!("\"{}\"", hex::encode(Md5::digest(etag.as_bytes())));
    // Quoted hex is always a valid header value.
    HeaderValue::from_str(&wrong).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

async fn call_inner<S>(inner: S, req: Request<Body>) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    match inner.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Paces the request body through the per-connection and the aggregate buckets.
fn pace_body(
    req: Request<Body>,
    per_conn: Option<u64>,
    total: Option<Arc<Pacer>>,
    handle: &FaultHandle,
) -> Request<Body> {
    if per_conn.is_none() && total.is_none() {
        return req;
    }
    let conn = per_conn.map(|r| Arc::new(Pacer::new(r)));
    let shared = Arc::clone(&handle.shared);
    let (parts, body) = req.into_parts();
    let stream = body.into_data_stream().then(move |chunk| {
        let conn = conn.clone();
        let total = total.clone();
        let shared = Arc::clone(&shared);
        async move {
            if let Ok(bytes) = &chunk {
                let n = bytes.len() as u64;
                shared.counters.paced_bytes.fetch_add(n, Ordering::Relaxed);
                let a = conn.as_ref().map(|p| p.reserve(n));
                let b = total.as_ref().map(|p| p.reserve(n));
                if let Some(until) = a.into_iter().chain(b).max() {
                    tokio::time::sleep_until(until).await;
                }
            }
            chunk
        }
    });
    Request::from_parts(parts, Body::from_stream(stream))
}

/// Reads and discards a whole body (a client error while reading ends it early).
async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

/// Reads at least `target` bytes of a body (fewer if it ends first), then drops the rest.
async fn read_some(body: Body, target: u64) {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    while read < target {
        match stream.next().await {
            Some(Ok(chunk)) => read += chunk.len() as u64,
            _ => break,
        }
    }
}

/// A response whose body fails at once: hyper aborts the connection, and the client never
/// gets a complete answer.
fn abort() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injected: connection dropped",
        ))
    });
    let mut response = Response::new(Body::from_stream(failing));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// The length a dripping answer announces ([`FaultKind::Drip`]).
pub const DRIP_ANNOUNCED: u64 = 100_000;

/// A 200 answer announcing [`DRIP_ANNOUNCED`] bytes, sent one byte every `every` (the first
/// with the head). Its body ends when the client closes the connection (hyper then drops it).
fn drip(every: Duration) -> Response {
    let bytes = futures::stream::unfold(0u64, move |sent| async move {
        if sent > 0 {
            tokio::time::sleep(every).await;
        }
        (sent < DRIP_ANNOUNCED).then(|| {
            (
                Ok::<Bytes, std::io::Error>(Bytes::from_static(b" ")),
                sent + 1,
            )
        })
    });
    let mut response = Response::new(Body::from_stream(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(DRIP_ANNOUNCED));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An injected 5xx or 429, in the platform's envelope or as plain text.
fn error_answer(
    style: ErrorStyle,
    status: StatusCode,
    plain: bool,
    retry_after: Option<u64>,
) -> Response {
    let limited = status == StatusCode::TOO_MANY_REQUESTS;
    let rid = format!("fault{:016x}", rand::random::<u64>());
    let reason = status.canonical_reason().unwrap_or("Error");
    let json = |v: serde_json::Value| (status, axum::Json(v)).into_response();
    let mut response = match (style, plain) {
        (ErrorStyle::Plain, _) | (_, true) => (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            format!(
                "<html><head><title>{code} {reason}</title></head><body><center><h1>{code} {reason}</h1></center></body></html>",
                code = status.as_u16()
            ),
        )
            .into_response(),
        (ErrorStyle::Shopee, false) => json(serde_json::json!({
            "request_id": rid,
            "error": if limited { "error_rate_limit" } else { "error_server" },
            "message": if limited { "Too many requests, please try later." } else { "Something went wrong, please try later." },
        })),
        (ErrorStyle::Lazada, false) => json(serde_json::json!({
            "type": "ISP",
            "code": if limited { "ApiCallLimit" } else { "ServiceUnavailable" },
            "message": if limited { "The request has exceeded the limit" } else { "The service is temporarily unavailable" },
            "request_id": rid,
        })),
        (ErrorStyle::Ebay, false) => json(serde_json::json!({ "errors": [{
            "errorId": if limited { 2001 } else { 190_000 },
            "domain": if limited { "ACCESS" } else { "API_MEDIA" },
            "category": if limited { "REQUEST" } else { "APPLICATION" },
            "message": if limited {
                "Too many requests. The request limit has been reached for the resource."
            } else {
                "There was a problem with an eBay internal system or process. Contact eBay developer support for assistance."
            },
        }]})),
        (ErrorStyle::Shopify, false) => json(serde_json::json!({ "errors": [{
            "message": if limited { "Throttled" } else { "Internal error. Looks like something went wrong on our end." },
            "extensions": { "code": if limited { "THROTTLED" } else { "INTERNAL_SERVER_ERROR" } },
        }]})),
        (ErrorStyle::Smh, false) => json(serde_json::json!({
            "code": if limited { "RateLimitExceeded" } else { "InternalError" },
            "message": if limited { "request rate limit exceeded" } else { "internal error" },
            "requestId": rid,
        })),
        (ErrorStyle::Wechat, false) => json(serde_json::json!({
            "errcode": if limited { 45011 } else { -1 },
            "errmsg": format!(
                "{} rid: {rid}",
                if limited { "api minute-quota reach limit  mustslower  retry next minute" } else { "system error" }
            ),
        })),
        (ErrorStyle::Tiktok, false) => json(serde_json::json!({
            "code": if limited { 36_009_002 } else { 36_009_003 },
            "message": if limited { "Too many requests. Please try again later." } else { "Internal error. Retry request." },
            "request_id": rid,
            "data": null,
        })),
        (ErrorStyle::Cos, false) => {
            let (code, message) = match status {
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    ("SlowDown", "Please reduce your request rate.")
                }
                _ => ("InternalError", "We encountered an internal error. Please try again."),
            };
            (
                status,
                [(header::CONTENT_TYPE, "application/xml")],
                format!(
                    "<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n\t<Code>{code}</Code>\n\t<Message>{message}</Message>\n\t<RequestId>{rid}</RequestId>\n</Error>"
                ),
            )
                .into_response()
        }
    };
    if let Some(secs) = retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}
