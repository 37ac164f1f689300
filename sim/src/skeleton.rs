//! The skeleton every simulator is built on, written once: its state behind a mutex (with
//! poison recovery), its configuration, the wire log, the clock and the fault handle; the
//! router with the fault layer and the body limit; and start.
//!
//! A platform simulator is a cheap-to-clone handle on an `Arc<SimCore<Config, State>>`; the
//! `sim_accessors!` macro gives it the accessors every simulator has
//! (`wire()`, `clock()`, `faults()`, `traffic()`, `config()`, `update_config()`), so that it
//! adds only what differs: its calls, its checks and its snapshots.
//!
//! [`Traffic`] counts what reaches a simulator's routes, outermost (before the fault layer's
//! latency and faults): requests in flight now, the peak in flight, and the exchanges with
//! their start and end times, so a test sees from the simulator's side how many parts a
//! client really had in flight at once, and how long it waited before a retry.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use futures::future::BoxFuture;
use serde::Serialize;
use tower::{Layer, Service, ServiceExt};

use crate::common::{SimClock, WireLog};
use crate::control::{self, Control};
use crate::faults::{ErrorStyle, FaultHandle};
use crate::util::lock;

/// How a simulator builds its state from its configuration and clock.
type StateInit<C, S> = Box<dyn Fn(&C, &SimClock) -> S + Send + Sync>;

/// What a simulator shares between its server and its test: configuration `C`, state `S`,
/// the wire log, the clock and the fault handle.
pub struct SimCore<C, S> {
    config: Mutex<C>,
    state: Mutex<S>,
    init: StateInit<C, S>,
    wire: WireLog,
    clock: SimClock,
    faults: FaultHandle,
    traffic: Traffic,
}

impl<C: std::fmt::Debug, S: std::fmt::Debug> std::fmt::Debug for SimCore<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCore")
            .field("config", &self.config)
            .field("state", &self.state)
            .field("wire", &self.wire)
            .field("clock", &self.clock)
            .field("faults", &self.faults)
            .field("traffic", &self.traffic)
            .finish_non_exhaustive()
    }
}

/// How a simulator's router limits request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// The simulator reads bodies itself, up to its own configured limit (axum's limit off).
    Own,
    /// axum's default limit (2 MiB) applies to the extractors.
    AxumDefault,
}

impl<C: Clone, S> SimCore<C, S> {
    /// A core with `config`, a fresh clock, and the state `state` builds from both (e.g. the
    /// initial access token, issued now on the sim clock).
    pub fn new(config: C, state: impl Fn(&C, &SimClock) -> S + Send + Sync + 'static) -> Self {
        let clock = SimClock::default();
        let first = state(&config, &clock);
        Self {
            config: Mutex::new(config),
            state: Mutex::new(first),
            init: Box::new(state),
            wire: WireLog::default(),
            clock,
            faults: FaultHandle::default(),
            traffic: Traffic::default(),
        }
    }

    /// A snapshot of the configuration.
    pub fn config(&self) -> C {
        lock(&self.config).clone()
    }

    /// Changes the configuration from now on.
    pub fn update_config(&self, change: impl FnOnce(&mut C)) {
        change(&mut lock(&self.config));
    }

    /// The state, locked. Handlers complete every mutation before anything that could panic,
    /// so a poisoned lock (from a panicking test thread) still holds consistent data and is
    /// recovered.
    pub fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }

    /// Replaces the state with a fresh one built from the current configuration, as at
    /// creation (the clock keeps its offset).
    pub fn reset_state(&self) {
        let fresh = (self.init)(&self.config(), &self.clock);
        *lock(&self.state) = fresh;
    }

    /// Every request received.
    pub fn wire(&self) -> &WireLog {
        &self.wire
    }

    /// The clock every expiry is measured on.
    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    /// The fault and shaping layer's control (no fault until a profile is set).
    pub fn faults(&self) -> &FaultHandle {
        &self.faults
    }

    /// What reached the simulator's routes: requests in flight, their peak, the exchanges.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// The axum application of `routes` with `sim` as its state: the body limit `limit`,
    /// the fault and shaping layer answering in the platform's `style` and, outermost, the
    /// [`Traffic`] counter; beside them, outside both, the control surface under `/__sim/`
    /// ([`crate::control`]).
    pub(crate) fn app<T>(
        &self,
        routes: Router<T>,
        style: ErrorStyle,
        limit: BodyLimit,
        sim: T,
    ) -> Router
    where
        T: Control,
    {
        let routes = match limit {
            BodyLimit::Own => routes.layer(DefaultBodyLimit::disable()),
            BodyLimit::AxumDefault => routes,
        };
        let control = control::router(sim.clone(), self.traffic.clone());
        control.merge(
            routes
                .layer(self.faults.layer(style))
                .layer(self.traffic.layer())
                .with_state(sim),
        )
    }
}

/// Finished exchanges a [`Traffic`] keeps; older ones are forgotten first, so a long-running
/// sandbox holds a bounded log.
pub const TRAFFIC_KEPT: usize = 20_000;

/// One request/answer exchange as the simulator's outermost layer saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// `"METHOD /path?query"`, as the fault layer's [`FaultProfile::calls`](crate::FaultProfile)
    /// patterns match it.
    pub key: String,
    /// The answer's HTTP status; `None` while in flight, or when the client went away
    /// before the answer.
    pub status: Option<u16>,
    /// When the request arrived, in microseconds since the simulator was created (real,
    /// monotonic time: moving the [`SimClock`] does not change it).
    pub started_us: u64,
    /// When the answer's head was ready (or the client went away); `None` while in flight.
    pub ended_us: Option<u64>,
}

impl Exchange {
    /// Whether `pattern` is a substring of the key (every exchange matches `""`).
    pub fn matches(&self, pattern: &str) -> bool {
        self.key.contains(pattern)
    }
}

/// Requests counted by a [`Traffic`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrafficCounters {
    /// Requests that arrived (finished or not).
    pub requests: u64,
    /// Requests in flight now.
    pub in_flight: u64,
    /// The most requests in flight at once.
    pub peak_in_flight: u64,
}

#[derive(Debug)]
struct TrafficShared {
    epoch: Instant,
    next_id: AtomicU64,
    state: Mutex<TrafficState>,
}

#[derive(Debug, Default)]
struct TrafficState {
    requests: u64,
    peak: u64,
    open: BTreeMap<u64, Exchange>,
    done: VecDeque<Exchange>,
}

/// The in-flight counter of a simulator: every request that reaches its routes (not the
/// `/__sim/` control surface), counted outermost, before the fault layer delays, refuses or
/// drops it. Cheap to clone; clones share state. Also served as `GET /__sim/traffic`.
#[derive(Debug, Clone)]
pub struct Traffic {
    shared: Arc<TrafficShared>,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            shared: Arc::new(TrafficShared {
                epoch: Instant::now(),
                next_id: AtomicU64::new(0),
                state: Mutex::new(TrafficState::default()),
            }),
        }
    }
}

impl Traffic {
    fn now_us(&self) -> u64 {
        u64::try_from(self.shared.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Counts a request arriving; the guard counts it finished when dropped.
    fn start(&self, key: String) -> InFlight {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let started_us = self.now_us();
        let mut st = lock(&self.shared.state);
        st.requests += 1;
        st.open.insert(
            id,
            Exchange {
                key,
                status: None,
                started_us,
                ended_us: None,
            },
        );
        st.peak = st.peak.max(st.open.len() as u64);
        InFlight {
            traffic: self.clone(),
            id,
            status: None,
        }
    }

    fn finish(&self, id: u64, status: Option<u16>) {
        let ended_us = self.now_us();
        let mut st = lock(&self.shared.state);
        if let Some(mut exchange) = st.open.remove(&id) {
            exchange.status = status;
            exchange.ended_us = Some(ended_us);
            if st.done.len() >= TRAFFIC_KEPT {
                st.done.pop_front();
            }
            st.done.push_back(exchange);
        }
    }

    /// Requests so far, in flight now and the peak in flight, over every call.
    pub fn counters(&self) -> TrafficCounters {
        let st = lock(&self.shared.state);
        TrafficCounters {
            requests: st.requests,
            in_flight: st.open.len() as u64,
            peak_in_flight: st.peak,
        }
    }

    /// The same for the exchanges whose key contains `pattern` (a
    /// [`scope`](crate::faults::scope) pattern), from the exchanges kept: the peak is the
    /// most of them that overlapped in time.
    pub fn counters_of(&self, pattern: &str) -> TrafficCounters {
        let exchanges = self.exchanges_of(pattern);
        // Starts +1, ends −1; at the same microsecond an end comes first.
        let mut events: Vec<(u64, i8)> = Vec::with_capacity(exchanges.len() * 2);
        for e in &exchanges {
            events.push((e.started_us, 1));
            if let Some(end) = e.ended_us {
                events.push((end, -1));
            }
        }
        events.sort_unstable();
        let (mut now, mut peak) = (0i64, 0i64);
        for (_, delta) in events {
            now += i64::from(delta);
            peak = peak.max(now);
        }
        TrafficCounters {
            requests: exchanges.len() as u64,
            in_flight: exchanges.iter().filter(|e| e.ended_us.is_none()).count() as u64,
            peak_in_flight: u64::try_from(peak).unwrap_or(0),
        }
    }

    /// Every exchange kept (finished, then in flight), by start time.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges_of("")
    }

    /// The exchanges whose key contains `pattern`, by start time.
    pub fn exchanges_of(&self, pattern: &str) -> Vec<Exchange> {
        let st = lock(&self.shared.state);
        let mut out: Vec<Exchange> = st
            .done
            .iter()
            .chain(st.open.values())
            .filter(|e| e.matches(pattern))
            .cloned()
            .collect();
        out.sort_by_key(|e| e.started_us);
        out
    }

    /// Forgets the finished exchanges and brings the peak down to what is in flight now, so
    /// a test measures from here on (the request count is kept).
    pub fn reset(&self) {
        let mut st = lock(&self.shared.state);
        st.done.clear();
        st.peak = st.open.len() as u64;
    }

    /// The tower layer counting the requests of a router.
    pub fn layer(&self) -> TrafficLayer {
        TrafficLayer {
            traffic: self.clone(),
        }
    }
}

/// A request in flight; dropped when its answer is ready or the client went away.
struct InFlight {
    traffic: Traffic,
    id: u64,
    status: Option<u16>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.traffic.finish(self.id, self.status);
    }
}

/// The tower layer of a [`Traffic`] (see [`Traffic::layer`]).
#[derive(Debug, Clone)]
pub struct TrafficLayer {
    traffic: Traffic,
}

impl<S> Layer<S> for TrafficLayer {
    type Service = TrafficService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrafficService {
            inner,
            traffic: self.traffic.clone(),
        }
    }
}

/// The service [`TrafficLayer`] wraps around a router.
#[derive(Debug, Clone)]
pub struct TrafficService<S> {
    inner: S,
    traffic: Traffic,
}

impl<S> Service<Request<Body>> for TrafficService<S>
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
        let key = format!(
            "{} {}",
            req.method(),
            req.uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or("/")
        );
        let mut guard = self.traffic.start(key);
        Box::pin(async move {
            let response = match inner.oneshot(req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            guard.status = Some(response.status().as_u16());
            drop(guard);
            Ok(response)
        })
    }
}

/// The accessors every simulator has, delegating to its [`SimCore`] (the field `core`):
/// `wire()`, `clock()`, `faults()`, `traffic()`, `config()` and `update_config()`.
macro_rules! sim_accessors {
    ($config:ty) => {
        /// Every request received (and how it was answered).
        pub fn wire(&self) -> &$crate::WireLog {
            self.core.wire()
        }

        /// The simulator's clock: move it forward to expire timestamps, tokens, sessions and
        /// presigned URLs, or to finish processing, without sleeping.
        pub fn clock(&self) -> &$crate::SimClock {
            self.core.clock()
        }

        /// The fault and shaping layer's control (no fault until a profile is set).
        pub fn faults(&self) -> &$crate::FaultHandle {
            self.core.faults()
        }

        /// What reached the simulator's routes, counted before the fault layer: requests in
        /// flight now, the peak in flight, and every exchange's start and end.
        pub fn traffic(&self) -> &$crate::Traffic {
            self.core.traffic()
        }

        /// Every upload session held, with where it stands by the sim clock (open,
        /// completed, cancelled, expired) and the parts stored for it: count them with
        /// [`SessionTally::of`]($crate::control::SessionTally::of).
        pub fn sessions(&self) -> Vec<$crate::control::SessionStanding> {
            <Self as $crate::control::Control>::control_sessions(self)
        }

        /// A snapshot of the current configuration.
        pub fn config(&self) -> $config {
            self.core.config()
        }

        /// Changes the configuration from now on (e.g. switch a failure on mid-test).
        /// Existing sessions keep what was computed at their creation.
        pub fn update_config(&self, change: impl FnOnce(&mut $config)) {
            self.core.update_config(change)
        }
    };
}

/// `start(addr)` for a simulator served on one host by its `router()`.
macro_rules! sim_start {
    () => {
        /// Serves the simulator on `addr` (port 0 = a free port) until the server is dropped.
        pub async fn start(
            &self,
            addr: std::net::SocketAddr,
        ) -> std::io::Result<$crate::SimServer> {
            $crate::serve(self.router(), addr).await
        }
    };
}
