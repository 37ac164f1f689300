//! The skeleton every simulator is built on, written once: its state behind a mutex (with
//! poison recovery), its configuration, the wire log, the clock and the fault handle; the
//! router with the fault layer and the body limit; and start.
//!
//! A platform simulator is a cheap-to-clone handle on an `Arc<SimCore<Config, State>>`; the
//! `sim_accessors!` macro gives it the accessors every simulator has
//! (`wire()`, `clock()`, `faults()`, `config()`, `update_config()`), so that it adds only what
//! differs: its calls, its checks and its snapshots.

use std::sync::{Mutex, MutexGuard};

use axum::extract::DefaultBodyLimit;
use axum::Router;

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
}

impl<C: std::fmt::Debug, S: std::fmt::Debug> std::fmt::Debug for SimCore<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCore")
            .field("config", &self.config)
            .field("state", &self.state)
            .field("wire", &self.wire)
            .field("clock", &self.clock)
            .field("faults", &self.faults)
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

    /// The axum application of `routes` with `sim` as its state: the body limit `limit`
    /// and, outermost, the fault and shaping layer answering in the platform's `style`; beside
    /// them, outside the fault layer, the control surface under `/__sim/` ([`crate::control`]).
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
        let control = control::router(sim.clone());
        control.merge(routes.layer(self.faults.layer(style)).with_state(sim))
    }
}

/// The accessors every simulator has, delegating to its [`SimCore`] (the field `core`):
/// `wire()`, `clock()`, `faults()`, `config()` and `update_config()`.
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
