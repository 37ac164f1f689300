//! The secret-leak harness for provider tests: capture everything a run logs (every crate,
//! TRACE, `log` records bridged — what a user with `RUST_LOG=trace` gets) and assert that no
//! secret value appears in it, nor in what the provider hands back.
//!
//! A provider's `secrets.rs` keeps only what is its own: its secrets, the scenarios that make
//! it use them (a full upload, its extra calls, wrong credentials, its refusals), and the
//! names of its request spans. The rest is here, once:
//!
//! ```no_run
//! use marketmedia_conformance::leaks::{self, captured, Evidence, LeakCheck};
//!
//! # async fn scenarios(_: &mut Evidence) {}
//! let mut evidence = Evidence::default();
//! // Uploads against the simulator, wrong credentials, then `leaks::error_paths(..)`.
//! let ((), log) = captured(scenarios(&mut evidence));
//! LeakCheck {
//!     platform: "shopee",
//!     calls: &["init_video_upload", "upload_video_part"],
//!     secrets: &["the-partner-key", "the-access-token"],
//! }
//! .assert(&log, &evidence);
//! ```

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use marketmedia_core::digest_request;
use marketmedia_core::raw::{InitOutcome, PartPlan, UploadSession};
use marketmedia_core::{
    ChunkedVideoUploader, CredentialStore, Error, PollPolicy, PreparedSource, RetryPolicy,
    SourceProbe, TokenSource, UploadDriver, UploadOptions,
};

use crate::junk::{JunkAnswer, JunkServer};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;

/// A shared in-memory log sink.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        // A panic while holding this lock cannot leave the bytes half-written.
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Runs `f` on a fresh current-thread runtime with every event and span at TRACE, from every
/// crate (`log` records bridged), written into a buffer; returns `f`'s output and the log.
///
/// # Panics
/// When the runtime cannot be built (a test harness failure, not a provider's).
pub fn captured<T>(f: impl Future<Output = T>) -> (T, String) {
    // Bridges `log` records (reqwest's) to tracing; once per process, so an error means
    // another test installed it already.
    let _ = tracing_log::LogTracer::init();
    keep_two_dispatchers();
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a test runtime: {e}"),
    };
    let out = tracing::subscriber::with_default(subscriber, || rt.block_on(f));
    drop(rt);
    (out, buffer.text())
}

/// Keeps a second, silent dispatcher registered for the life of the process.
///
/// While exactly one dispatcher is registered, tracing-core takes it for the global default
/// and computes a new callsite's interest from the default *of the thread that reaches it
/// first*. In a test binary whose other tests run on other threads, a callsite first reached
/// there while [`captured`]'s subscriber was the only one would be disabled for good, and its
/// spans missing from the capture (seen once the providers' tests shared one binary: SMH's
/// `token` span). With two registered, every callsite asks every live dispatcher.
fn keep_two_dispatchers() {
    static SILENT: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SILENT.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
}

/// Panics, quoting the surroundings, when `text` contains any of `secrets`.
///
/// # Panics
/// On a leak: that is the point.
pub fn assert_clean<S: AsRef<str>>(secrets: &[S], what: &str, text: &str) {
    for secret in secrets {
        let secret = secret.as_ref();
        if secret.is_empty() {
            continue;
        }
        if let Some(at) = text.find(secret) {
            let mut from = at.saturating_sub(200);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            panic!(
                "{what} leaks {secret}: …{}…",
                &text[from..(at + secret.len()).min(text.len())]
            );
        }
    }
}

/// `Display` and `Debug` of an error and of every source under it.
pub fn describe(err: &Error) -> String {
    let mut text = format!("{err}\n{err:?}\n");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    text
}

/// Everything that must stay clean besides the log: the `Debug`, `Display` and JSON of what
/// the provider hands back (its config, outcomes, sessions, errors).
#[derive(Debug, Default)]
pub struct Evidence(String);

impl Evidence {
    /// Adds `text`.
    pub fn add(&mut self, text: impl AsRef<str>) {
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }

    /// Adds the error of `result` ([`describe`]) and returns it.
    ///
    /// # Panics
    /// When `result` is `Ok`: the scenario `what` was meant to fail.
    pub fn err<T>(&mut self, what: &str, result: marketmedia_core::Result<T>) -> Error {
        match result {
            Ok(_) => panic!("{what} should fail"),
            Err(e) => {
                self.add(describe(&e));
                e
            }
        }
    }

    /// Adds the `Debug` and the JSON of `v`.
    ///
    /// # Panics
    /// When `v` does not serialize (a bug of the value's type, which the test reports).
    pub fn value<T: std::fmt::Debug + serde::Serialize>(&mut self, v: &T) {
        self.add(format!("{v:?}"));
        match serde_json::to_string(v) {
            Ok(json) => self.add(json),
            Err(e) => panic!("{v:?} does not serialize: {e}"),
        }
    }

    /// Everything added so far.
    pub fn text(&self) -> &str {
        &self.0
    }
}

/// Adds to `ev` what a credential's tokens look like from outside: the `Debug` of the source
/// and of the store, of every stored credential's tokens, and of what the source hands back
/// now (its tokens, or its error: a refused refresh names the credential and the command to
/// run, never a token).
pub async fn token_evidence(ev: &mut Evidence, source: &TokenSource, store: &dyn CredentialStore) {
    ev.add(format!("{source:?}\n{store:?}"));
    match store.list().await {
        Ok(all) => {
            for (key, tokens) in all {
                ev.add(format!("{key} {key:?} {tokens:?}"));
            }
        }
        Err(e) => ev.add(describe(&e)),
    }
    match source.tokens().await {
        Ok(tokens) => ev.add(format!("{tokens:?}")),
        Err(e) => ev.add(describe(&e)),
    }
}

/// A driver for leak scenarios: two attempts (so an error path ends quickly, after one
/// retry that logs too), short delays, a 10 s processing deadline, and uploads carrying
/// [`crate::sample_meta`] (a title and a cover, which Lazada requires).
pub fn leak_driver() -> UploadDriver {
    UploadDriver::new(UploadOptions {
        retry: RetryPolicy {
            max_attempts: 2,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            deadline: Duration::from_secs(10),
            ..PollPolicy::default()
        },
        meta: crate::sample_meta(),
        ..UploadOptions::default()
    })
}

/// Probes, plans and digests `video` for `provider` and opens a session by hand (for the
/// scenarios that use a session outside the driver). Returns the session and its plan.
///
/// # Panics
/// When any step fails, or `init` finishes at once instead of opening a session.
pub async fn open_session(
    provider: &dyn ChunkedVideoUploader,
    video: &Path,
) -> (UploadSession, PartPlan) {
    let rules = provider.rules();
    let probe = match SourceProbe::open(video).await {
        Ok(p) => p,
        Err(e) => panic!("probing {}: {e}", video.display()),
    };
    let plan = match probe.plan(rules, None) {
        Ok(p) => p,
        Err(e) => panic!("planning {}: {e}", video.display()),
    };
    let source = match PreparedSource::digest(probe, &digest_request(rules, &plan)).await {
        Ok(s) => s,
        Err(e) => panic!("digesting {}: {e}", video.display()),
    };
    let mut info = source.info();
    info.meta = crate::sample_meta();
    match provider.init(&info, &plan).await {
        Ok(InitOutcome::Session(session)) => (session, plan),
        Ok(InitOutcome::Done(asset)) => panic!("init finished at once ({asset:?}): no session"),
        Err(e) => panic!("init: {e}"),
    }
}

/// The error paths every provider walks, each adding its error to `ev`: a server error
/// (HTTP 500 with `server_error_body`), junk (HTTP 200, not JSON) and a stalled answer cut by
/// a 50 ms read timeout, from a [`JunkServer`]; and no server at all at `nowhere`, which must
/// be a retryable error. `at(base_url, read_idle)` builds the provider.
///
/// # Panics
/// When a path does not fail, or the refused connection is not retryable.
pub async fn error_paths<P, F>(
    ev: &mut Evidence,
    video: &Path,
    server_error_body: &'static str,
    nowhere: &str,
    at: F,
) where
    P: ChunkedVideoUploader,
    F: Fn(&str, Duration) -> P,
{
    let long = Duration::from_secs(5);
    let junk = match JunkServer::start().await {
        Ok(j) => j,
        Err(e) => panic!("cannot start the junk server: {e}"),
    };
    let at_junk = at(&junk.base_url(), long);
    junk.always(JunkAnswer::new(500, server_error_body));
    ev.err(
        "a server error",
        leak_driver().upload_file(&at_junk, video).await,
    );
    junk.always(JunkAnswer::new(200, "not json"));
    ev.err("junk", leak_driver().upload_file(&at_junk, video).await);
    junk.always(JunkAnswer::new(200, "{}").with_delay(Duration::from_secs(2)));
    let stalled = at(&junk.base_url(), Duration::from_millis(50));
    ev.err("a stall", leak_driver().upload_file(&stalled, video).await);
    let refused = ev.err(
        "no server",
        leak_driver().upload_file(&at(nowhere, long), video).await,
    );
    assert!(refused.is_retryable(), "{refused}");
}

/// What a provider's leak test checks once its scenarios ran under [`captured`].
#[derive(Debug, Clone, Copy)]
pub struct LeakCheck<'a, S: AsRef<str>> {
    /// The platform, as the request spans name it (`platform="shopee"`).
    pub platform: &'a str,
    /// Every call whose request span must be in the log (so the log really holds the
    /// requests that carried the secrets).
    pub calls: &'a [&'a str],
    /// The values that must appear nowhere.
    pub secrets: &'a [S],
}

impl<S: AsRef<str>> LeakCheck<'_, S> {
    /// Checks that the log can fail the test (a request span of every call, span fields,
    /// transport failures and reqwest's own `log` records are in it), then that neither the
    /// log nor `evidence` holds a secret.
    ///
    /// # Panics
    /// On a missing span or record, or a leak.
    pub fn assert(&self, log: &str, evidence: &Evidence) {
        for call in self.calls {
            assert!(
                log.contains(&format!(
                    "request{{platform=\"{}\" call=\"{call}\"",
                    self.platform
                )),
                "no request span of {call} in the log"
            );
        }
        assert!(log.contains("status=200"), "span fields are recorded");
        assert!(
            log.contains("transport failure"),
            "transport failures are logged"
        );
        assert!(
            log.contains("starting new connection"),
            "reqwest's log records are captured"
        );
        assert_clean(self.secrets, "the TRACE log", log);
        assert_clean(self.secrets, "Debug, Display and JSON", evidence.text());
    }
}
