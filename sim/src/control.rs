//! The sandbox's HTTP control surface, under the reserved prefix `/__sim/` of every simulator
//! server: what a test in any language needs to assert on what its client sent and to drive
//! the sandbox, without linking this crate.
//!
//! | request | answer |
//! |---|---|
//! | `GET /__sim/wire[?call=NAME]` | the wire log: every request received, in order |
//! | `DELETE /__sim/wire` | forgets the wire log (204) |
//! | `GET /__sim/uploads` | every upload session the simulator holds, as the platform keeps it |
//! | `GET /__sim/sessions` | every upload session in words all simulators share ([`Standing`]: `open`, `completed`, `cancelled`, `expired`) with the parts stored for it, and the counts ([`SessionTally`]) |
//! | `GET /__sim/uploads/{id}/parts` | the parts held for one upload |
//! | `GET /__sim/uploads/{id}/digest` | `{size, md5, sha256}` of its assembled bytes |
//! | `GET /__sim/uploads/{id}/bytes` | its assembled bytes (`application/octet-stream`) |
//! | `GET /__sim/clock` | `{now_ms, offset_ms}` |
//! | `POST /__sim/clock/advance` `{"seconds": N}` or `{"ms": N}` | moves the clock forward |
//! | `GET /__sim/faults` | `{profile, counters}` |
//! | `PUT /__sim/faults` (a fault profile as JSON) | sets it (400 if it cannot be used) |
//! | `DELETE /__sim/faults` | clears it (204) |
//! | `GET /__sim/traffic[?call=PATTERN]` | `{requests, in_flight, peak_in_flight, exchanges}`: requests in flight now and at most at once, over every call or those whose `"METHOD /path?query"` contains `PATTERN` (the peak then from the exchanges kept), and each exchange's `key`, `status`, `started_us`, `ended_us` ([`crate::Traffic`]) |
//! | `DELETE /__sim/traffic` | forgets the finished exchanges and brings the peak down to what is in flight (204) |
//! | `POST /__sim/reset` | back to a fresh simulator: state (tokens included), wire log, faults and traffic (204) |
//! | `GET /__sim/tokens`, `GET`/`PUT /__sim/tokens/lifetimes`, `POST /__sim/tokens/revoke`, `POST /__sim/tokens/code` | the token ledger: counts per credential, lifetimes, revocation, authorization codes on demand ([`crate::tokens`]) |
//!
//! These requests bypass the fault layer and are not written in the wire log. An unknown id
//! answers 404 `{"error": "..."}`. The bytes and digest of an upload whose bytes the
//! retention limit evicted ([`crate::Retention`]) answer 410 `{"error": "...", "state":
//! "evicted"}`; the wire log's answer says in `x-sim-wire-evicted` how many of its oldest
//! records were forgotten.

use axum::body::Body;
use axum::extract::{Path, Query as AxQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::common::{SimClock, WireLog};
use crate::faults::{FaultHandle, FaultProfile};
use crate::skeleton::Traffic;
use crate::tokens::{Grant, LifetimesPatch, TokenLedger, TokenLifetimes};

/// The reserved path prefix of the control surface.
pub const CONTROL_PREFIX: &str = "/__sim";

/// What a simulator exposes to its control surface.
pub(crate) trait Control: Clone + Send + Sync + 'static {
    /// The wire log.
    fn control_wire(&self) -> &WireLog;
    /// The clock.
    fn control_clock(&self) -> &SimClock;
    /// The fault handle.
    fn control_faults(&self) -> &FaultHandle;
    /// Every upload session, as JSON objects.
    fn control_uploads(&self) -> Vec<Value>;
    /// The parts of one upload (`None`: unknown id).
    fn control_parts(&self, id: &str) -> Option<Value>;
    /// The assembled bytes of one upload (`None`: unknown id, nothing assembled yet, or
    /// evicted).
    fn control_bytes(&self, id: &str) -> Option<Bytes>;
    /// Whether the assembled bytes of upload `id` were evicted by the retention limit.
    fn control_evicted(&self, id: &str) -> bool;
    /// Back to a fresh simulator with the same configuration.
    fn control_reset(&self);
    /// Every upload session the simulator holds, with its [`Standing`] by the sim clock.
    fn control_sessions(&self) -> Vec<SessionStanding>;
    /// Runs `f` on the simulator's token ledger, under its state's lock; `false` when it
    /// keeps none (SMH).
    fn control_ledger(&self, _f: &mut dyn FnMut(&mut TokenLedger)) -> bool {
        false
    }
    /// The grant of an authorization code asked for with `body`, in the platform's words
    /// (Shopee `{"shop_id"}` or `{"main_account_id"}`; `{}` elsewhere).
    fn control_code_grant(&self, _body: &Map<String, Value>) -> Result<Grant, String> {
        Err("this platform issues no authorization codes".to_owned())
    }
    /// Sets the lifetimes of what is issued from now on.
    fn control_set_lifetimes(&self, patch: LifetimesPatch) -> Result<TokenLifetimes, String> {
        let mut out = Err("this simulator keeps no token ledger".to_owned());
        self.control_ledger(&mut |l| out = l.set_lifetimes(patch));
        out
    }
}

/// Where an upload session stands, in words every simulator shares (each platform's own
/// status words are in `GET /__sim/uploads`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Neither completed, nor cancelled, nor expired: the platform still holds it open.
    Open,
    /// Completed (committed, or every byte received where the last byte completes it): an
    /// asset was made of it, whatever its processing says now.
    Completed,
    /// Cancelled (aborted) by the client.
    Cancelled,
    /// Expired on the simulator's clock before it was completed.
    Expired,
}

/// One upload session and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStanding {
    /// The platform's id of the session (upload id, confirm key, video id, upload key).
    pub id: String,
    /// Where it stands.
    pub standing: Standing,
    /// Parts (blocks, chunks, or a simple upload's one body) the simulator stored for it.
    pub parts: u64,
}

/// Upload sessions counted by [`Standing`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTally {
    /// Sessions still open.
    pub open: u64,
    /// Of the open ones, those no part reached. After a client finished its work these are,
    /// in practice, sessions whose opening answer never reached the client (a lost answer):
    /// it cannot name them, let alone close them, and the platform's own expiry ends them.
    pub open_without_parts: u64,
    /// Sessions completed.
    pub completed: u64,
    /// Sessions cancelled.
    pub cancelled: u64,
    /// Sessions expired before completion.
    pub expired: u64,
}

impl SessionTally {
    /// Counts `sessions` by standing.
    pub fn of(sessions: &[SessionStanding]) -> Self {
        let mut tally = SessionTally::default();
        for s in sessions {
            match s.standing {
                Standing::Open => {
                    tally.open += 1;
                    if s.parts == 0 {
                        tally.open_without_parts += 1;
                    }
                }
                Standing::Completed => tally.completed += 1,
                Standing::Cancelled => tally.cancelled += 1,
                Standing::Expired => tally.expired += 1,
            }
        }
        tally
    }

    /// Open sessions that received parts: a client used them and left them neither completed
    /// nor cancelled. After a client finished its work, each one is a session it left stuck.
    pub fn stuck(&self) -> u64 {
        self.open - self.open_without_parts
    }
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": what }))).into_response()
}

/// 404 for an unknown upload or one not assembled yet, 410 for one whose bytes were evicted.
fn no_bytes<T: Control>(sim: &T, id: &str) -> Response {
    if sim.control_evicted(id) {
        return (
            StatusCode::GONE,
            Json(json!({
                "error": format!("the assembled bytes of upload {id:?} were evicted (retention limit)"),
                "state": "evicted",
            })),
        )
            .into_response();
    }
    not_found(format!("no assembled bytes for upload {id:?}"))
}

#[derive(Deserialize)]
struct WireFilter {
    call: Option<String>,
}

async fn wire<T: Control>(State(sim): State<T>, AxQuery(f): AxQuery<WireFilter>) -> Response {
    let records = match f.call {
        Some(call) => sim.control_wire().calls(&call),
        None => sim.control_wire().records(),
    };
    let evicted = sim.control_wire().evicted().to_string();
    ([("x-sim-wire-evicted", evicted)], Json(records)).into_response()
}

async fn wire_clear<T: Control>(State(sim): State<T>) -> StatusCode {
    sim.control_wire().clear();
    StatusCode::NO_CONTENT
}

async fn uploads<T: Control>(State(sim): State<T>) -> Response {
    Json(sim.control_uploads()).into_response()
}

async fn sessions<T: Control>(State(sim): State<T>) -> Json<Value> {
    let sessions = sim.control_sessions();
    let tally = SessionTally::of(&sessions);
    Json(json!({
        "open": tally.open,
        "open_without_parts": tally.open_without_parts,
        "stuck": tally.stuck(),
        "completed": tally.completed,
        "cancelled": tally.cancelled,
        "expired": tally.expired,
        "sessions": sessions,
    }))
}

async fn parts<T: Control>(State(sim): State<T>, Path(id): Path<String>) -> Response {
    match sim.control_parts(&id) {
        Some(v) => Json(v).into_response(),
        None => not_found(format!("no upload {id:?}")),
    }
}

async fn bytes<T: Control>(State(sim): State<T>, Path(id): Path<String>) -> Response {
    match sim.control_bytes(&id) {
        Some(b) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Body::from(b),
        )
            .into_response(),
        None => no_bytes(&sim, &id),
    }
}

async fn digest<T: Control>(State(sim): State<T>, Path(id): Path<String>) -> Response {
    match sim.control_bytes(&id) {
        Some(b) => Json(json!({
            "size": b.len(),
            "md5": hex::encode(Md5::digest(&b)),
            "sha256": hex::encode(Sha256::digest(&b)),
        }))
        .into_response(),
        None => no_bytes(&sim, &id),
    }
}

async fn clock<T: Control>(State(sim): State<T>) -> Json<Value> {
    let c = sim.control_clock();
    Json(json!({ "now_ms": c.now_millis(), "offset_ms": c.offset_millis() }))
}

#[derive(Deserialize)]
struct Advance {
    seconds: Option<u64>,
    ms: Option<u64>,
}

async fn clock_advance<T: Control>(State(sim): State<T>, body: Bytes) -> Response {
    let advance: Advance = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("expected {{\"seconds\": N}} or {{\"ms\": N}}: {e}") })),
        )
            .into_response(),
    };
    let ms = advance
        .seconds
        .unwrap_or(0)
        .saturating_mul(1000)
        .saturating_add(advance.ms.unwrap_or(0));
    let c = sim.control_clock();
    c.advance(std::time::Duration::from_millis(ms));
    Json(json!({ "now_ms": c.now_millis(), "offset_ms": c.offset_millis() })).into_response()
}

async fn faults_get<T: Control>(State(sim): State<T>) -> Json<Value> {
    let f = sim.control_faults();
    Json(json!({ "profile": f.profile(), "counters": f.counters() }))
}

async fn faults_put<T: Control>(State(sim): State<T>, body: Bytes) -> Response {
    let profile: FaultProfile = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": format!("not a fault profile: {e}") })),
            )
                .into_response()
        }
    };
    match sim.control_faults().try_set(profile) {
        Ok(()) => faults_get(State(sim)).await.into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e.0 }))).into_response(),
    }
}

async fn faults_clear<T: Control>(State(sim): State<T>) -> StatusCode {
    sim.control_faults().clear();
    StatusCode::NO_CONTENT
}

async fn traffic_get(State(t): State<Traffic>, AxQuery(f): AxQuery<WireFilter>) -> Json<Value> {
    let (counters, exchanges) = match f.call {
        Some(pattern) => (t.counters_of(&pattern), t.exchanges_of(&pattern)),
        None => (t.counters(), t.exchanges()),
    };
    Json(json!({
        "requests": counters.requests,
        "in_flight": counters.in_flight,
        "peak_in_flight": counters.peak_in_flight,
        "exchanges": exchanges,
    }))
}

async fn traffic_clear(State(t): State<Traffic>) -> StatusCode {
    t.reset();
    StatusCode::NO_CONTENT
}

async fn reset<T: Control>(State((sim, traffic)): State<(T, Traffic)>) -> StatusCode {
    sim.control_faults().clear();
    sim.control_reset();
    sim.control_wire().clear();
    traffic.reset();
    StatusCode::NO_CONTENT
}

/// The control routes for `sim`, whose routes `traffic` counts.
pub(crate) fn router<T: Control>(sim: T, traffic: Traffic) -> Router {
    let traffic_routes = Router::new()
        .route("/__sim/traffic", get(traffic_get).delete(traffic_clear))
        .with_state(traffic.clone());
    let reset_route = Router::new()
        .route("/__sim/reset", post(reset::<T>))
        .with_state((sim.clone(), traffic));
    Router::new()
        .route("/__sim/wire", get(wire::<T>).delete(wire_clear::<T>))
        .route("/__sim/uploads", get(uploads::<T>))
        .route("/__sim/sessions", get(sessions::<T>))
        .route("/__sim/uploads/{id}/parts", get(parts::<T>))
        .route("/__sim/uploads/{id}/bytes", get(bytes::<T>))
        .route("/__sim/uploads/{id}/digest", get(digest::<T>))
        .route("/__sim/clock", get(clock::<T>))
        .route("/__sim/clock/advance", post(clock_advance::<T>))
        .route(
            "/__sim/faults",
            get(faults_get::<T>)
                .put(faults_put::<T>)
                .delete(faults_clear::<T>),
        )
        .with_state(sim.clone())
        .merge(crate::tokens::routes(sim))
        .merge(traffic_routes)
        .merge(reset_route)
}
