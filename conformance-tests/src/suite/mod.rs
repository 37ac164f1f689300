//! The shared conformance suite: every case any provider must pass, run against the
//! provider's simulator, selected from the provider's declared
//! [`UploadRules`](marketmedia_core::raw::UploadRules), never from its name.
//!
//! Modelled on object_store's `integration` module, OpenDAL's behavior tests and rclone's
//! `fstests`: a provider author hands the suite a factory for the provider and a
//! [`SimHandle`] on the simulator, and gets every guarantee the other providers give.
//!
//! ```no_run
//! use marketmedia_conformance::suite::{self, adapters::ShopeeHandle, Backend, Credentials};
//! use marketmedia_core::{ChunkedVideoUploader, Result, UploadMeta};
//!
//! // `make` stands for the provider's constructor (e.g. `ShopeeUploader::new`).
//! async fn conformance<P: ChunkedVideoUploader + 'static>(
//!     make: impl Fn(&str, &str) -> Result<P> + Send + Sync + 'static,
//! ) -> std::io::Result<()> {
//!     let sim = ShopeeHandle::start_fast().await?;
//!     let base_url = sim.base_url();
//!     let backend = Backend::new(sim, move |creds: Credentials| {
//!         let key = match creds {
//!             Credentials::Valid => "the simulator's key",
//!             Credentials::Wrong => "not-the-key",
//!         };
//!         make(&base_url, key) // build the provider pointing at the simulator
//!     });
//!     suite::run_all(&backend).await.assert_passed();
//!     Ok(())
//! }
//! ```
//!
//! Each case is also a public async fn in [`cases`], for a provider that wants one test per
//! case. A failing case names the rule that broke and what the simulator saw on the wire,
//! e.g. ``rule `part_numbering = Zero`: part 2 sent as part_seq=3, expected 2``.

pub mod adapters;
pub mod cases;
mod handle;
mod report;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::{ChunkedVideoUploader, Result, UploadMeta};

pub use handle::{
    CompletionPayload, ExpectedFailure, FaultTargets, SessionExpiry, SimCapabilities, SimHandle,
    WirePart,
};
pub use report::{CaseOutcome, CaseReport, SuiteReport};

/// Which credentials the factory should build the provider with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// The simulator's test credentials.
    Valid,
    /// Credentials the platform refuses (a wrong key or token). A factory that cannot build
    /// such a provider returns an `Unsupported` error and the case is skipped.
    Wrong,
}

/// Builds a provider pointing at the simulator.
pub type ProviderFactory =
    Arc<dyn Fn(Credentials) -> Result<Box<dyn ChunkedVideoUploader>> + Send + Sync>;

/// Builds a provider pointing at the simulator, with valid credentials and the given HTTP
/// timeouts (for the case that stalls an answer).
pub type TimeoutsFactory =
    Arc<dyn Fn(HttpTimeouts) -> Result<Box<dyn ChunkedVideoUploader>> + Send + Sync>;

/// How the suite runs.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// Largest file the suite uploads; the `maximum_size` case is skipped when the rules'
    /// maximum is larger. Default 128 MiB.
    pub max_upload_bytes: u64,
    /// Parts in flight in driver-based cases. Default 4.
    pub concurrency: usize,
    /// How long processing may take before a case gives up. Default 30 s.
    pub poll_deadline: Duration,
}

impl Default for SuiteConfig {
    fn default() -> Self {
        SuiteConfig {
            max_upload_bytes: 128 << 20,
            concurrency: 4,
            poll_deadline: Duration::from_secs(30),
        }
    }
}

/// A provider factory and a handle on its simulator: what every case takes.
#[derive(Clone)]
pub struct Backend {
    sim: Arc<dyn SimHandle>,
    factory: ProviderFactory,
    with_timeouts: Option<TimeoutsFactory>,
    config: SuiteConfig,
    deviations: Vec<(String, String)>,
    meta: UploadMeta,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("platform", &self.sim.platform())
            .field("config", &self.config)
            .field("deviations", &self.deviations)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// A backend from a simulator handle and a factory building the provider against it.
    pub fn new<S, F, P>(sim: S, factory: F) -> Self
    where
        S: SimHandle + 'static,
        F: Fn(Credentials) -> Result<P> + Send + Sync + 'static,
        P: ChunkedVideoUploader + 'static,
    {
        Backend {
            sim: Arc::new(sim),
            factory: Arc::new(move |c| {
                factory(c).map(|p| Box::new(p) as Box<dyn ChunkedVideoUploader>)
            }),
            with_timeouts: None,
            config: SuiteConfig::default(),
            deviations: Vec::new(),
            meta: crate::sample_meta(),
        }
    }

    /// The same backend, its uploads carrying `meta` (default [`crate::sample_meta`]: a
    /// title, a description and a cover URL), for a platform needing other fields.
    pub fn with_meta(mut self, meta: UploadMeta) -> Self {
        self.meta = meta;
        self
    }

    /// The per-upload fields every upload of the suite carries.
    pub fn meta(&self) -> &UploadMeta {
        &self.meta
    }

    /// The same backend, also able to build the provider with given HTTP timeouts (valid
    /// credentials). Without it the case that stalls an answer is skipped.
    pub fn with_timeouts<F, P>(mut self, factory: F) -> Self
    where
        F: Fn(HttpTimeouts) -> Result<P> + Send + Sync + 'static,
        P: ChunkedVideoUploader + 'static,
    {
        self.with_timeouts = Some(Arc::new(move |t| {
            factory(t).map(|p| Box::new(p) as Box<dyn ChunkedVideoUploader>)
        }));
        self
    }

    /// The same backend with another configuration.
    pub fn with_config(mut self, config: SuiteConfig) -> Self {
        self.config = config;
        self
    }

    /// Declares a known deviation: the case named `case` may fail, and the report shows it as
    /// `known` with `why` instead of failing the run. For platform limits the rules cannot
    /// express yet; every one is a debt to pay.
    pub fn allow_deviation(mut self, case: &str, why: &str) -> Self {
        self.deviations.push((case.to_owned(), why.to_owned()));
        self
    }

    /// A fresh provider.
    pub fn provider(&self, credentials: Credentials) -> Result<Box<dyn ChunkedVideoUploader>> {
        (self.factory)(credentials)
    }

    /// A fresh provider with valid credentials and `timeouts`, when the backend was given a
    /// way to build one ([`Backend::with_timeouts`]).
    pub fn provider_with_timeouts(
        &self,
        timeouts: HttpTimeouts,
    ) -> Option<Result<Box<dyn ChunkedVideoUploader>>> {
        self.with_timeouts.as_ref().map(|f| f(timeouts))
    }

    /// The simulator handle.
    pub fn sim(&self) -> &dyn SimHandle {
        self.sim.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &SuiteConfig {
        &self.config
    }
}

/// A case of the suite: its name and its function.
#[derive(Clone, Copy)]
pub struct Case {
    /// The case's name (its function's name in [`cases`]).
    pub name: &'static str,
    /// Runs it.
    pub run: for<'a> fn(&'a Backend) -> BoxFuture<'a, CaseOutcome>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! case_list {
    ($($name:ident),* $(,)?) => {
        /// Every case, in the order [`run_all`] runs them.
        pub const CASES: &[Case] = &[
            $(Case {
                name: stringify!($name),
                run: |b| Box::pin(cases::$name(b)),
            }),*
        ];
    };
}

case_list!(
    bad_input_refused,
    over_maximum_refused,
    size_boundaries,
    one_byte,
    part_numbering,
    completion_payload,
    out_of_order_concurrent,
    part_sent_twice,
    resume_skips_known_parts,
    commit_twice,
    put_part_after_cancel,
    cancel_after_commit,
    processing_ready,
    processing_failed,
    wrong_credentials,
    error_codes,
    instant_upload,
    maximum_size,
    uploads_under_faults,
    uploads_under_faults_on_every_call,
    lost_commit_answer,
    stalled_part_answer,
    session_expiring_mid_upload,
    parts_overlap_on_the_wire,
    retry_after_is_waited,
);

/// The case named `name`, to run one case on a backend of its own with
/// [`run_cases`](run_cases) (e.g. against a simulator configured as another gateway).
pub fn case_named(name: &str) -> Option<Case> {
    CASES.iter().copied().find(|c| c.name == name)
}

/// Runs every case on `backend`, one after the other, and reports which ran, which were
/// skipped and why, and which failed.
pub async fn run_all(backend: &Backend) -> SuiteReport {
    run_cases(backend, CASES).await
}

/// Runs the given cases (e.g. a filtered [`CASES`]).
pub async fn run_cases(backend: &Backend, cases: &[Case]) -> SuiteReport {
    let mut report = SuiteReport {
        platform: backend.sim.platform().to_owned(),
        cases: Vec::with_capacity(cases.len()),
    };
    for case in cases {
        let started = Instant::now();
        let mut outcome = (case.run)(backend).await;
        if let CaseOutcome::Failed { rule, seen } = &outcome {
            if let Some((_, why)) = backend.deviations.iter().find(|(n, _)| n == case.name) {
                outcome = CaseOutcome::Deviation {
                    rule: rule.clone(),
                    seen: seen.clone(),
                    why: why.clone(),
                };
            }
        }
        report.cases.push(CaseReport {
            name: case.name,
            outcome,
            elapsed: started.elapsed(),
        });
    }
    report
}
