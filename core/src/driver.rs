//! The upload driver: the one place that reads the source, sends parts concurrently with
//! bounded memory, retries, renews, commits, polls and cancels. Providers only translate.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::error::{Error, ErrorKind, Result};
use crate::plan::{PartPlan, PartSpec};
use crate::progress::{ProgressEvent, ProgressSink, Stage};
use crate::retry::{PollPolicy, RetryPolicy};
use crate::rules::UploadRules;
use crate::source::{digest_request, PreparedSource, SourceProbe};
use crate::uploader::{
    Asset, ChunkedVideoUploader, CommitOutcome, InitOutcome, Part, PartReceipt, ProcessingHandle,
    ProcessingStatus, Recovery, SentCallback, UploadSession,
};

/// Called when a session opens (with the receipts already known) and after every acknowledged
/// part with the session and every receipt so far, in the order they were acknowledged (the
/// known ones first). The slice is the driver's own list, lent without a copy: an observer
/// that keeps it pays for the copy (a journal keeps only the new receipt, from
/// [`SessionEvent::Acknowledged`]).
pub type ReceiptObserver = Arc<dyn Fn(&UploadSession, &[PartReceipt]) + Send + Sync>;

/// A step in a session's life that a journal (or any observer) may want to persist, one
/// event per step, so that recording one costs the same at the first part and at the
/// 10,000th.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The first attempt of a part in this upload is about to send its bytes. A part
    /// journaled as sending but never acknowledged went out (in part) before a crash: a
    /// resumed upload counts its bytes as re-sent.
    Sending {
        /// 0-based index of the part.
        part: u32,
    },
    /// The platform acknowledged a part (before [`ReceiptObserver`] sees it in the list).
    /// The part keeps its place among the parts in flight until
    /// [`UploadOptions::durable`] says the observers' records of it are on disk.
    Acknowledged(PartReceipt),
    /// The completion is about to be sent: from now on the platform may hold the asset, and
    /// the session must be kept until the outcome is known.
    Committing,
    /// The platform answered the completion (or recovery found what it holds).
    Committed(CommitOutcome),
    /// The platform confirmed the session is cancelled: nothing is left to resume.
    Cancelled,
    /// The platform no longer knows the session; a new one replaces it.
    Lost,
}

/// Called with the session at every [`SessionEvent`].
pub type SessionObserver = Arc<dyn Fn(&UploadSession, &SessionEvent) + Send + Sync>;

/// Returns a future that resolves once everything the observers were told so far is durable
/// (a journal's writer has written and flushed it to disk). See [`UploadOptions::durable`].
pub type DurabilityBarrier = Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// Tells the driver to stop (a SIGINT or SIGTERM in the CLI): send `true`. A watch channel,
/// so every upload of a fan-out sees it.
pub type StopSignal = tokio::sync::watch::Receiver<bool>;

/// Sessions an upload may open again after the platform lost one: a second loss in a row
/// is more likely a platform that keeps forgetting than bad luck.
pub const MAX_SESSION_RESTARTS: u32 = 2;

/// How long parts already in flight may still finish after a stop by default: long enough
/// for a 4 MiB part at about 1 MB/s, short enough for a person waiting at a terminal.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);

/// Where a journaled session's completion stood when the process ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum CommitState {
    /// Not sent yet: the session is resumed by sending the missing parts.
    #[default]
    NotSent,
    /// Sent, never answered: the platform may hold the asset; recovery asks first.
    Sent,
    /// Answered: the asset, or the handle to poll.
    Answered(CommitOutcome),
}

/// What a resumed upload knows of its session: the parts acknowledged, the parts that were
/// sending (their bytes count as re-sent when sent again), and the completion's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumePoint {
    /// Receipts of the acknowledged parts.
    pub receipts: Vec<PartReceipt>,
    /// Parts whose bytes went out (in part) without an acknowledgement.
    pub sending: Vec<u32>,
    /// Where the completion stood.
    pub commit: CommitState,
}

/// Parts in flight at once by default, per upload. Ten keep a link whose connections are each
/// slower than the whole (a long round trip, a per-connection cap) full, and send a 30 MB
/// upload's parts all at once (8 Shopee parts, 10 Lazada blocks), so no part is left alone at
/// the end; parts are streamed from disk, so memory does not grow with it (see
/// `docs/benchmarks.md`).
pub const DEFAULT_CONCURRENCY: usize = 10;

/// How the driver uploads.
#[derive(Clone)]
pub struct UploadOptions {
    /// Parts in flight at once, where the provider allows concurrency (default
    /// [`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
    /// Part size to use, where the provider's rule allows a choice.
    pub part_size: Option<u64>,
    /// Retries of each call.
    pub retry: RetryPolicy,
    /// Polling of asynchronous processing.
    pub poll: PollPolicy,
    /// Whether to poll until the asset is ready (default) or return after commit.
    pub wait_for_processing: bool,
    /// Whether to cancel the remote session when the upload fails for good (default true).
    /// Turn it off to keep a failed session resumable.
    pub cancel_on_failure: bool,
    /// Renew upload credentials this long before they expire (default 5 minutes).
    pub renew_margin: Duration,
    /// Where progress events go.
    pub progress: Option<ProgressSink>,
    /// Called when a session opens and after every acknowledged part with the session and
    /// every receipt so far (lent, in the order acknowledged), for an observer that keeps
    /// the whole list (a job store saving it).
    pub on_receipt: Option<ReceiptObserver>,
    /// Called at every step of a session's life: a part starting to send, a part
    /// acknowledged, the completion sent and answered, a confirmed cancel, a lost session.
    /// [`crate::Journal`], which sits above the driver, installs its own observer and appends
    /// one record per step to the session's log.
    pub on_event: Option<SessionObserver>,
    /// Awaited where the upload relies on what the observers recorded: after a session opens
    /// (before its first part), after each part's [`SessionEvent::Acknowledged`] (the part
    /// keeps its place among the parts in flight meanwhile, so a crash re-sends at most the
    /// parts in flight) and after [`SessionEvent::Committing`] (before the completion is
    /// sent). The observers themselves never block: a journal hands its records to a writer
    /// off the async runtime and installs this barrier to wait for it.
    pub durable: Option<DurabilityBarrier>,
    /// When it turns `true`, at every phase: no new part is sent and no new call starts; the
    /// parts and the call in flight (token, preflight, init, commit, recovery, poll, cancel)
    /// get `stop_grace` to finish; the probe, the digest pass and the waits between retries
    /// and polls end at once. The upload then ends with [`ErrorKind::Cancelled`] (code
    /// `STOPPED`), not cancelled on the platform and resumable from the journal; one already
    /// committed and polling ends [`Completion::Processing`] with its handle.
    pub stop: Option<StopSignal>,
    /// How long parts and calls in flight may finish after a stop (default
    /// [`DEFAULT_STOP_GRACE`]).
    pub stop_grace: Duration,
    /// The account the upload is for, when the caller has several of one marketplace: the
    /// journal keys its entries by the account's identity. Set it with
    /// [`UploadOptions::for_account`], which also labels progress events by the account's
    /// name.
    pub account: Option<crate::AccountRef>,
    /// The per-upload fields (title, description, cover, usage, directory, file name) of
    /// the uploads these options run, handed to the provider in
    /// [`crate::raw::SourceInfo::meta`] and checked against its
    /// [`crate::raw::UploadRules::required_meta`] before any request. Set it per upload
    /// with [`UploadDriver::with_meta`]; one client serves every upload of a catalog.
    pub meta: crate::UploadMeta,
}

impl UploadOptions {
    /// These options for an upload to `account`: journal entries keyed by its identity,
    /// progress events labelled by its name.
    pub fn for_account(mut self, account: &crate::AccountRef) -> UploadOptions {
        if self.account.as_ref() != Some(account) {
            self.progress = self
                .progress
                .take()
                .map(|sink| crate::progress::relabelled(sink, &account.name));
            self.account = Some(account.clone());
        }
        self
    }
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            concurrency: DEFAULT_CONCURRENCY,
            part_size: None,
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
            wait_for_processing: true,
            cancel_on_failure: true,
            renew_margin: Duration::from_secs(300),
            progress: None,
            on_receipt: None,
            on_event: None,
            durable: None,
            stop: None,
            stop_grace: DEFAULT_STOP_GRACE,
            account: None,
            meta: crate::UploadMeta::default(),
        }
    }
}

impl std::fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadOptions")
            .field("concurrency", &self.concurrency)
            .field("part_size", &self.part_size)
            .field("retry", &self.retry)
            .field("poll", &self.poll)
            .field("wait_for_processing", &self.wait_for_processing)
            .field("cancel_on_failure", &self.cancel_on_failure)
            .field("renew_margin", &self.renew_margin)
            .field("stop_grace", &self.stop_grace)
            .field("account", &self.account)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Where an upload ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Completion {
    /// The asset is ready.
    Ready(Asset),
    /// Uploaded and committed; the platform is still processing it (poll the handle later).
    Processing(ProcessingHandle),
    /// Uploaded and committed — the platform holds the asset — but its answer naming the
    /// asset was lost and the platform offers no call to find it by the upload id (Lazada).
    /// Not a failure: the asset exists; find its id on the platform's console.
    CommittedIdUnknown {
        /// The platform's upload id of the committed session.
        upload_id: String,
    },
}

/// Counters of one upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStats {
    /// Part bytes acknowledged by the platform.
    pub bytes_sent: u64,
    /// Part bytes sent more than once: the bytes of failed attempts, of parts in flight
    /// when a previous run stopped, and of parts sent to a session the platform lost.
    pub bytes_resent: u64,
    /// Parts acknowledged.
    pub parts_sent: u32,
    /// Parts skipped because the platform already had them (resume).
    pub parts_skipped: u32,
    /// Failed attempts that were retried, of every call from `init` on (parts, commit,
    /// recovery, polls…), in every session of the upload.
    pub retries: u32,
    /// Sessions the platform lost (a restart, an expired upload) that a new session
    /// replaced, every part sent again.
    pub sessions_restarted: u32,
    /// Whether the platform took the file by its hashes without any part.
    pub instant: bool,
    /// Wall time from init to the end.
    pub elapsed_ms: u64,
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadOutcome {
    /// Platform name.
    pub platform: String,
    /// Ready asset or processing handle.
    pub completion: Completion,
    /// The session used, when there was one.
    pub session: Option<UploadSession>,
    /// Counters.
    pub stats: UploadStats,
}

impl UploadOutcome {
    /// The ready asset, if processing finished.
    pub fn asset(&self) -> Option<&Asset> {
        match &self.completion {
            Completion::Ready(a) => Some(a),
            Completion::Processing(_) | Completion::CommittedIdUnknown { .. } => None,
        }
    }
}

/// The upload driver. Cheap to clone; one driver can run many uploads at once.
#[derive(Debug, Clone, Default)]
pub struct UploadDriver {
    opts: UploadOptions,
    /// The provider's preflight already ran (concurrently with the digest pass), so
    /// `upload_prepared` does not run it again.
    preflighted: bool,
}

/// Why a session ended in failure.
enum SessionError {
    /// The platform no longer knows the session (and nothing was committed): restartable.
    Lost(Error),
    /// Any other failure.
    Failed(Error),
}

impl SessionError {
    fn into_error(self) -> Error {
        match self {
            SessionError::Lost(e) | SessionError::Failed(e) => e,
        }
    }
}

/// The current session and a version counter, so concurrent parts renew it once.
struct SessionCell {
    inner: tokio::sync::Mutex<(u64, UploadSession)>,
}

/// One run of a session: what its phases (the resumed completion, the parts, the completion)
/// share.
struct SessionRun<'a> {
    provider: &'a dyn ChunkedVideoUploader,
    source: &'a PreparedSource,
    cell: &'a SessionCell,
    counters: &'a Counters,
    /// When the upload started.
    started: Instant,
    /// Whether `init` just opened the session.
    fresh: bool,
    /// Whether the completion took place (or may have): the session is then never cancelled
    /// nor replaced.
    committed: std::sync::atomic::AtomicBool,
}

impl SessionRun<'_> {
    fn platform(&self) -> &str {
        &self.provider.rules().platform
    }

    fn mark_committed(&self) {
        self.committed.store(true, Ordering::SeqCst);
    }
}

/// The parts a session holds: each receipt once, in the order acknowledged (the list the
/// [`ReceiptObserver`] is lent, grown by one per part, never copied), and which parts have one.
struct Acknowledged {
    receipts: Vec<PartReceipt>,
    /// Per part index, where its receipt is in `receipts`.
    at: Vec<Option<u32>>,
}

impl Acknowledged {
    fn new(parts: u32) -> Acknowledged {
        Acknowledged {
            receipts: Vec::new(),
            at: vec![None; parts as usize],
        }
    }

    /// Adds a receipt (replacing an earlier one of the same part); one outside the plan is
    /// dropped.
    fn insert(&mut self, receipt: PartReceipt) {
        let Some(slot) = self.at.get_mut(receipt.index as usize) else {
            return;
        };
        match *slot {
            Some(i) => self.receipts[i as usize] = receipt,
            None => {
                *slot = Some(self.receipts.len() as u32);
                self.receipts.push(receipt);
            }
        }
    }

    fn has(&self, index: u32) -> bool {
        self.at.get(index as usize).is_some_and(Option::is_some)
    }

    /// Parts with a receipt.
    fn len(&self) -> u32 {
        self.receipts.len() as u32
    }

    fn as_slice(&self) -> &[PartReceipt] {
        &self.receipts
    }

    /// Every receipt in plan order, or the refusal to commit when a part has none.
    fn into_ordered(mut self, platform: &str) -> Result<Vec<PartReceipt>> {
        if let Some(i) = self.at.iter().position(Option::is_none) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("refusing to commit: part {i} has no receipt"),
            )
            .with_platform(platform));
        }
        self.receipts.sort_unstable_by_key(|r| r.index);
        Ok(self.receipts)
    }
}

/// The counters of one upload, shared by every session it opens.
#[derive(Default)]
struct Counters {
    bytes_sent: AtomicU64,
    bytes_resent: AtomicU64,
    retries: AtomicU64,
    restarts: AtomicU64,
    parts_sent: AtomicU64,
    parts_skipped: AtomicU64,
    /// Per part index, the most bytes of it handed to the network so far (any attempt, any
    /// session, or a previous run), so that a byte sent again is counted once as re-sent.
    sent_before: std::sync::Mutex<std::collections::HashMap<u32, u64>>,
}

impl Counters {
    /// Notes that an attempt of part `index` handed `sent` bytes to the network.
    fn account(&self, index: u32, sent: u64) {
        // The map is only touched here; a poisoned lock means a panic elsewhere already
        // failed the upload, and the figures are then only approximate.
        let mut map = match self.sent_before.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let before = map.entry(index).or_insert(0);
        self.bytes_resent
            .fetch_add(sent.min(*before), Ordering::Relaxed);
        *before = (*before).max(sent);
    }

    /// Notes that part `index` (of `len` bytes) went out before this run (journaled as
    /// sending, never acknowledged).
    fn sent_earlier(&self, index: u32, len: u64) {
        let mut map = match self.sent_before.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let before = map.entry(index).or_insert(0);
        *before = (*before).max(len);
    }

    fn stats(&self, started: Instant, instant: bool) -> UploadStats {
        UploadStats {
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_resent: self.bytes_resent.load(Ordering::Relaxed),
            parts_sent: u32::try_from(self.parts_sent.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
            parts_skipped: u32::try_from(self.parts_skipped.load(Ordering::Relaxed))
                .unwrap_or(u32::MAX),
            retries: u32::try_from(self.retries.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
            sessions_restarted: u32::try_from(self.restarts.load(Ordering::Relaxed))
                .unwrap_or(u32::MAX),
            instant,
            elapsed_ms: started.elapsed().as_millis() as u64,
        }
    }
}

impl UploadDriver {
    /// A driver with these options.
    pub fn new(opts: UploadOptions) -> Self {
        UploadDriver {
            opts,
            preflighted: false,
        }
    }

    /// This driver with other options (and whether preflight already ran kept).
    pub(crate) fn with_options(&self, opts: UploadOptions) -> UploadDriver {
        UploadDriver {
            opts,
            preflighted: self.preflighted,
        }
    }

    /// This driver for uploads to `account` ([`UploadOptions::for_account`]). Scope the
    /// upload with [`crate::AccountRef::scope`] too, so its requests count against the
    /// account's limits.
    pub fn for_account(&self, account: &crate::AccountRef) -> UploadDriver {
        self.with_options(self.opts.clone().for_account(account))
    }

    /// This driver for uploads carrying `meta` (title, cover…): a cheap copy, so one driver
    /// and one client serve a whole catalog, each upload with its own fields.
    ///
    /// ```no_run
    /// # async fn demo(lazada: &dyn marketmedia_core::ChunkedVideoUploader) -> marketmedia_core::Result<()> {
    /// use marketmedia_core::{UploadDriver, UploadMeta, UploadOptions};
    /// let driver = UploadDriver::new(UploadOptions::default());
    /// for (file, title) in [("kettle.mp4", "Blue kettle"), ("teapot.mp4", "Teapot")] {
    ///     let meta = UploadMeta::default()
    ///         .with_title(title)
    ///         .with_cover_url("https://cdn.example/cover.jpg");
    ///     driver.with_meta(meta).upload_file(lazada, file.as_ref()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn with_meta(&self, meta: crate::UploadMeta) -> UploadDriver {
        let mut opts = self.opts.clone();
        opts.meta = meta;
        self.with_options(opts)
    }

    /// What the provider sees of `source` for this upload: the probe, the digests and the
    /// upload's fields, the stored name being [`crate::MetaField::FileName`] when given.
    pub(crate) fn info(&self, source: &PreparedSource) -> crate::uploader::SourceInfo {
        let mut info = source.info();
        if let Some(name) = self.opts.meta.get(crate::MetaField::FileName) {
            info.file_name = name.to_owned();
        }
        info.meta = self.opts.meta.clone();
        info
    }

    /// This driver, for a source whose provider's preflight already ran.
    /// The plan of `probe` under `rules`: the options' part size when they set one, else the
    /// rule's, evened out for the parts in flight ([`PartPlan::balanced`]).
    pub(crate) fn plan(&self, probe: &SourceProbe, rules: &UploadRules) -> Result<PartPlan> {
        let plan = probe.plan(rules, self.opts.part_size)?;
        Ok(if self.opts.part_size.is_none() && rules.concurrent_parts {
            plan.balanced(rules, self.opts.concurrency)
        } else {
            plan
        })
    }

    pub(crate) fn preflighted(&self) -> UploadDriver {
        UploadDriver {
            opts: self.opts.clone(),
            preflighted: true,
        }
    }

    /// Runs the provider's preflight (retried like any call) while `digest` computes the
    /// source's digests: the platform's checks (Lazada's quota, SMH's access token) cost no
    /// time of their own when a digest pass is needed. Preflight sees the source without
    /// digests. The preflight's failure wins over the digest's.
    pub(crate) async fn preflight_while<F>(
        &self,
        provider: &dyn ChunkedVideoUploader,
        probe: &SourceProbe,
        digest: F,
    ) -> Result<PreparedSource>
    where
        F: std::future::Future<Output = Result<PreparedSource>>,
    {
        let platform = provider.rules().platform.clone();
        let bare = self.info(&PreparedSource::undigested(probe.clone()));
        let (pre, digested) = tokio::join!(
            self.with_retry(&platform, "preflight", None, || provider.preflight(&bare)),
            digest
        );
        pre?;
        digested
    }

    /// The options.
    pub fn options(&self) -> &UploadOptions {
        &self.opts
    }

    fn emit(&self, event: ProgressEvent) {
        if let Some(sink) = &self.opts.progress {
            sink(event);
        }
    }

    fn stage(&self, platform: &str, stage: Stage) {
        self.emit(ProgressEvent::Stage {
            platform: platform.to_owned(),
            stage,
        });
    }

    /// Uploads the video at `path`: pre-flight checks (no request before they pass), one
    /// digest pass, init, parts, commit and, unless disabled, polling until ready.
    pub async fn upload_file(
        &self,
        provider: &dyn ChunkedVideoUploader,
        path: &Path,
    ) -> Result<UploadOutcome> {
        self.upload_file_via(provider, path, None).await
    }

    /// [`UploadDriver::upload_file`], its digests from `passes`: another upload of the same
    /// unchanged file (to another account, run apart) may already have read it for them, and
    /// a pass this upload starts also computes what the passes' companions need.
    pub async fn upload_file_shared(
        &self,
        provider: &dyn ChunkedVideoUploader,
        path: &Path,
        passes: &crate::DigestPasses,
    ) -> Result<UploadOutcome> {
        self.upload_file_via(provider, path, Some(passes)).await
    }

    async fn upload_file_via(
        &self,
        provider: &dyn ChunkedVideoUploader,
        path: &Path,
        passes: Option<&crate::DigestPasses>,
    ) -> Result<UploadOutcome> {
        let rules = provider.rules();
        self.stage(&rules.platform, Stage::Preflight);
        let probe = self
            .unless_stopped(&rules.platform, SourceProbe::open(path))
            .await
            .map_err(|e| e.with_platform(&rules.platform))?;
        probe.check(rules)?;
        self.opts.meta.check(rules)?;
        let plan = self.plan(&probe, rules)?;
        let request = digest_request(rules, &plan);
        if !request.is_empty() {
            self.stage(&rules.platform, Stage::Digesting);
        }
        let source = self
            .preflight_while(
                provider,
                &probe,
                self.unless_stopped(&rules.platform, async {
                    match passes {
                        Some(passes) => passes.prepare(&probe, &request).await,
                        None => PreparedSource::digest(probe.clone(), &request).await,
                    }
                }),
            )
            .await?;
        self.preflighted().upload_prepared(provider, &source).await
    }

    /// Uploads a source already probed, checked and digested (with at least what this
    /// provider needs) — the entry point for fan-out, which digests once for all providers.
    pub async fn upload_prepared(
        &self,
        provider: &dyn ChunkedVideoUploader,
        source: &PreparedSource,
    ) -> Result<UploadOutcome> {
        let rules = provider.rules();
        let platform = rules.platform.clone();
        source.probe.check(rules)?;
        self.opts.meta.check(rules)?;
        let plan = self.plan(&source.probe, rules)?;
        let info = self.info(source);
        // Preflight may ask the platform (e.g. Lazada's quota): a temporary failure there is
        // retried like any other call.
        if !self.preflighted {
            self.with_retry(&platform, "preflight", None, || provider.preflight(&info))
                .await?;
        }
        let started = Instant::now();
        let counters = Counters::default();
        self.stage(&platform, Stage::Initializing);
        let init = self
            .with_retry(&platform, "init", Some(&counters), || {
                provider.init(&info, &plan)
            })
            .await;
        let init = match init {
            Ok(init) => init,
            Err(e) => {
                self.stage(&platform, Stage::Failed(e.to_string()));
                return Err(e);
            }
        };
        match init {
            InitOutcome::Done(asset) => Ok(self.instant(platform, asset, started, &counters)),
            InitOutcome::Session(session) => {
                self.sessions(
                    provider,
                    source,
                    session,
                    ResumePoint::default(),
                    (started, true),
                    &counters,
                )
                .await
            }
        }
    }

    /// Runs a session and, while the platform loses it before it is committed (a restart, an
    /// expired upload), opens a new one and sends every part again — at most
    /// [`MAX_SESSION_RESTARTS`] times.
    async fn sessions(
        &self,
        provider: &dyn ChunkedVideoUploader,
        source: &PreparedSource,
        session: UploadSession,
        resume: ResumePoint,
        (started, fresh): (Instant, bool),
        counters: &Counters,
    ) -> Result<UploadOutcome> {
        let platform = provider.rules().platform.clone();
        let mut outcome = self
            .run_session(
                provider,
                source,
                session,
                resume,
                (started, fresh),
                counters,
            )
            .await;
        let mut restarts = 0;
        loop {
            match outcome {
                Err(SessionError::Lost(err)) if restarts < MAX_SESSION_RESTARTS => {
                    // The platform forgot the session (restarted, expired or cleaned up)
                    // before it was committed: nothing was half-committed, so start anew.
                    restarts += 1;
                    counters.restarts.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(platform = %platform, error = %err, "session lost; restarting the upload");
                    self.stage(&platform, Stage::Initializing);
                    let info = self.info(source);
                    let plan = self.plan(&source.probe, provider.rules())?;
                    match self
                        .with_retry(&platform, "init", Some(counters), || {
                            provider.init(&info, &plan)
                        })
                        .await?
                    {
                        InitOutcome::Done(asset) => {
                            return Ok(self.instant(platform, asset, started, counters))
                        }
                        InitOutcome::Session(session) => {
                            outcome = self
                                .run_session(
                                    provider,
                                    source,
                                    session,
                                    ResumePoint::default(),
                                    (started, true),
                                    counters,
                                )
                                .await;
                        }
                    }
                }
                other => return other.map_err(SessionError::into_error),
            }
        }
    }

    fn instant(
        &self,
        platform: String,
        asset: Asset,
        started: Instant,
        counters: &Counters,
    ) -> UploadOutcome {
        self.stage(&platform, Stage::Done);
        UploadOutcome {
            platform,
            completion: Completion::Ready(asset),
            session: None,
            stats: counters.stats(started, true),
        }
    }

    /// Resumes an upload: sends only the parts not in `known` (and, where the platform can
    /// list its parts, not on the server), then commits and polls.
    pub async fn resume(
        &self,
        provider: &dyn ChunkedVideoUploader,
        source: &PreparedSource,
        session: UploadSession,
        known: Vec<PartReceipt>,
    ) -> Result<UploadOutcome> {
        self.resume_from(
            provider,
            source,
            session,
            ResumePoint {
                receipts: known,
                ..ResumePoint::default()
            },
        )
        .await
    }

    /// Resumes an upload from what a journal knew: with the completion answered, only polls
    /// (or returns the asset); with the completion sent but never answered, first asks the
    /// platform what it holds ([`ChunkedVideoUploader::recover`]); otherwise sends the missing
    /// parts, counting the parts that were sending as re-sent, then commits and polls. A
    /// session the platform lost before its completion is replaced by a new one.
    pub async fn resume_from(
        &self,
        provider: &dyn ChunkedVideoUploader,
        source: &PreparedSource,
        session: UploadSession,
        resume: ResumePoint,
    ) -> Result<UploadOutcome> {
        if session.plan.file_size() != source.probe.size {
            return Err(Error::invalid_input(
                "the source's size differs from the session's; it cannot be resumed",
            )
            .with_platform(&session.platform));
        }
        let counters = Counters::default();
        for &index in &resume.sending {
            if let Some(spec) = session.plan.part(index) {
                counters.sent_earlier(index, spec.len);
            }
        }
        self.sessions(
            provider,
            source,
            session,
            resume,
            (Instant::now(), false),
            &counters,
        )
        .await
    }

    fn event(&self, session: &UploadSession, event: SessionEvent) {
        if let Some(cb) = &self.opts.on_event {
            cb(session, &event);
        }
    }

    /// Until what the observers recorded so far is durable ([`UploadOptions::durable`]).
    async fn durable(&self) {
        if let Some(barrier) = &self.opts.durable {
            barrier().await;
        }
    }

    fn stopped(&self) -> bool {
        self.opts.stop.as_ref().is_some_and(|s| *s.borrow())
    }

    /// Runs `call`, a request to the platform, unless a stop came first: a stop that comes
    /// while it runs gives it [`UploadOptions::stop_grace`] to finish (its answer may be
    /// what makes the upload resumable), then ends it with the stop error.
    async fn stoppable<T>(
        &self,
        platform: &str,
        call: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.until_stop(platform, self.opts.stop_grace, call).await
    }

    /// Runs `work`, local work such as the probe or the digest pass, unless a stop came
    /// first; a stop that comes while it runs ends it at once (nothing is in flight on a
    /// platform).
    pub(crate) async fn unless_stopped<T>(
        &self,
        platform: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.until_stop(platform, Duration::ZERO, work).await
    }

    async fn until_stop<T>(
        &self,
        platform: &str,
        grace: Duration,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(stop) = self.opts.stop.clone() else {
            return work.await;
        };
        if *stop.borrow() {
            return Err(self.stop_error(platform));
        }
        tokio::select! {
            biased;
            result = work => result,
            () = after_stop(stop, grace) => Err(self.stop_error(platform)),
        }
    }

    /// Sleeps `delay`, cut short by a stop: `false` when stopped.
    async fn nap(&self, delay: Duration) -> bool {
        match self.opts.stop.clone() {
            None => {
                tokio::time::sleep(delay).await;
                true
            }
            Some(stop) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => !*stop.borrow(),
                    () = after_stop(stop.clone(), Duration::ZERO) => false,
                }
            }
        }
    }

    async fn run_session(
        &self,
        provider: &dyn ChunkedVideoUploader,
        source: &PreparedSource,
        session: UploadSession,
        resume: ResumePoint,
        (started, fresh): (Instant, bool),
        counters: &Counters,
    ) -> std::result::Result<UploadOutcome, SessionError> {
        let platform = provider.rules().platform.clone();
        if let Some(cb) = &self.opts.on_receipt {
            cb(&session, &resume.receipts);
        }
        // A journal holds the session before any of its bytes go out (`cleanup` can list it).
        self.durable().await;
        let cell = SessionCell {
            inner: tokio::sync::Mutex::new((0, session)),
        };
        let run = SessionRun {
            provider,
            source,
            cell: &cell,
            counters,
            started,
            fresh,
            committed: std::sync::atomic::AtomicBool::new(false),
        };
        let result = self.parts_and_commit(&run, resume).await;
        match result {
            Ok(outcome) => Ok(outcome),
            Err(err) => {
                let committed = run.committed.load(Ordering::SeqCst);
                let lost = err.kind() == ErrorKind::NotFound && !committed;
                let stopped = self.stopped();
                self.stage(&platform, Stage::Failed(err.to_string()));
                let session = cell.inner.lock().await.1.clone();
                if lost {
                    self.event(&session, SessionEvent::Lost);
                }
                // Once committed, the upload belongs to the platform: cancelling could delete
                // an asset that is merely slow to process, so only uncommitted sessions are
                // cancelled. A stopped upload is kept to be resumed, and a lost one is gone.
                if self.opts.cancel_on_failure && !committed && !stopped && !lost {
                    match self
                        .with_retry(&platform, "cancel", Some(counters), || {
                            provider.cancel(&session)
                        })
                        .await
                    {
                        Ok(()) => {
                            self.stage(&platform, Stage::Cancelled);
                            if provider.rules().remote_cancel {
                                self.event(&session, SessionEvent::Cancelled);
                            }
                        }
                        Err(cancel_err) => tracing::warn!(
                            platform = %platform,
                            error = %cancel_err,
                            "could not cancel the failed upload session; it stays resumable"
                        ),
                    }
                }
                Err(if lost {
                    SessionError::Lost(err)
                } else {
                    SessionError::Failed(err)
                })
            }
        }
    }

    /// A session's run: the completion a journal saw (when it saw one), then the parts the
    /// session lacks, then the completion.
    async fn parts_and_commit(
        &self,
        run: &SessionRun<'_>,
        resume: ResumePoint,
    ) -> Result<UploadOutcome> {
        let session = run.cell.inner.lock().await.1.clone();
        if let Some(done) = self.resumed_completion(run, &session, &resume).await {
            return done;
        }
        let mut acked = self.known_parts(run, &session, resume.receipts).await?;
        self.announce_parts(run, &session.plan, &acked);
        self.send_parts(run, &session.plan, &mut acked).await?;
        // Never commit with a part missing.
        let ordered = acked.into_ordered(run.platform())?;
        self.commit_parts(run, ordered).await
    }

    /// Where a journal saw the completion: answered, only the processing is left (the
    /// outcome); sent and never answered, the platform is asked first (the outcome when it
    /// holds the asset). `None`: the parts and the completion are still to send.
    async fn resumed_completion(
        &self,
        run: &SessionRun<'_>,
        session: &UploadSession,
        resume: &ResumePoint,
    ) -> Option<Result<UploadOutcome>> {
        let (provider, platform) = (run.provider, run.platform());
        match &resume.commit {
            CommitState::Answered(outcome) => {
                run.mark_committed();
                Some(
                    self.finish(
                        provider,
                        session,
                        outcome.clone(),
                        run.started,
                        run.counters,
                    )
                    .await,
                )
            }
            CommitState::Sent => {
                // The completion went out and its answer never came back: ask first.
                self.stage(platform, Stage::Committing);
                let found = self
                    .with_retry(platform, "recover", Some(run.counters), || {
                        provider.recover(session, &resume.receipts, None)
                    })
                    .await;
                match found {
                    Ok(Recovery::NotCommitted) => None,
                    Ok(found) => {
                        run.mark_committed();
                        Some(
                            self.recovered(provider, session, found, run.started, run.counters)
                                .await,
                        )
                    }
                    Err(e) if self.stopped() => Some(Err(e)),
                    Err(e) => {
                        tracing::warn!(platform = %platform, error = %e, "could not ask what the platform holds; committing again");
                        None
                    }
                }
            }
            CommitState::NotSent => None,
        }
    }

    /// The parts the session already holds: the resumed receipts or, where the platform lists
    /// its parts and the session is not new, the platform's list.
    async fn known_parts(
        &self,
        run: &SessionRun<'_>,
        session: &UploadSession,
        resumed: Vec<PartReceipt>,
    ) -> Result<Acknowledged> {
        let plan = &session.plan;
        let mut acked = Acknowledged::new(plan.count());
        for r in resumed {
            acked.insert(r);
        }
        // A session `init` just opened holds nothing yet: asking the platform which parts it
        // has would cost a round trip for an empty answer.
        if run.provider.rules().server_side_resume && !run.fresh {
            let listed = self
                .with_retry(run.platform(), "uploaded_parts", Some(run.counters), || {
                    run.provider.uploaded_parts(session)
                })
                .await?;
            if let Some(listed) = listed {
                // The server is the truth: a part it does not hold must be sent again.
                acked = Acknowledged::new(plan.count());
                for r in listed {
                    if plan.part(r.index).map(|p| p.len) == Some(r.size) {
                        acked.insert(r);
                    }
                }
            }
        }
        Ok(acked)
    }

    /// Counts the parts skipped and announces the resume (when parts were) and the upload.
    fn announce_parts(&self, run: &SessionRun<'_>, plan: &PartPlan, acked: &Acknowledged) {
        let platform = run.platform();
        let skipped = acked.len();
        run.counters
            .parts_skipped
            .store(u64::from(skipped), Ordering::Relaxed);
        let already: u64 = plan
            .parts()
            .filter(|p| acked.has(p.index))
            .map(|p| p.len)
            .sum();
        if !run.fresh && skipped > 0 {
            self.stage(
                platform,
                Stage::Resumed {
                    parts_done: skipped,
                    parts: plan.count(),
                },
            );
        }
        self.stage(
            platform,
            Stage::Uploading {
                parts: plan.count(),
                total_bytes: plan.file_size(),
                already_uploaded: already,
            },
        );
    }

    /// Sends the parts `acked` lacks, at most the concurrency at once, adding their receipts
    /// to it. After a stop no new part is sent and the parts in flight get the grace.
    async fn send_parts(
        &self,
        run: &SessionRun<'_>,
        plan: &PartPlan,
        acked: &mut Acknowledged,
    ) -> Result<()> {
        let rules = run.provider.rules();
        let platform = run.platform();
        let part_md5s = run
            .source
            .digests
            .part_md5s(plan.part_size())
            .filter(|m| m.len() == plan.count() as usize);
        let want_md5 = rules.digests.part_md5;
        let file = Arc::new(
            File::open(&run.source.probe.path)
                .map_err(|e| Error::from(e).with_platform(platform))?,
        );
        let concurrency = if rules.concurrent_parts {
            self.opts.concurrency.max(1)
        } else {
            1
        };

        let todo: Vec<PartSpec> = plan.parts().filter(|p| !acked.has(p.index)).collect();
        let mut queue = todo.into_iter();
        let mut in_flight = FuturesUnordered::new();
        let mut stop = self.opts.stop.clone();
        let mut grace: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            while in_flight.len() < concurrency && grace.is_none() && !self.stopped() {
                let Some(spec) = queue.next() else { break };
                let md5 = if want_md5 {
                    part_md5s.map(|m| m[spec.index as usize])
                } else {
                    None
                };
                let file = Arc::clone(&file);
                in_flight.push(async move {
                    // A part holds no more than a few chunks in memory while it is sent.
                    let part = read_part(file, spec, md5, want_md5).await?;
                    self.send_part(run.provider, run.cell, part, run.counters)
                        .await
                });
            }
            if self.stopped() && grace.is_none() {
                grace = Some(Box::pin(tokio::time::sleep(self.opts.stop_grace)));
            }
            if in_flight.is_empty() {
                if grace.is_some() {
                    return Err(self.stop_error(platform));
                }
                return Ok(());
            }
            let in_grace = grace.is_some();
            let next = tokio::select! {
                next = in_flight.next() => next,
                // The stop turned on: go round to stop sending new parts.
                _ = async {
                    match stop.as_mut() {
                        Some(s) if !in_grace => {
                            if s.changed().await.is_err() {
                                // The sender is gone: no stop can come any more.
                                std::future::pending::<()>().await;
                            }
                        }
                        _ => std::future::pending::<()>().await,
                    }
                } => continue,
                _ = async {
                    match grace.as_mut() {
                        Some(g) => g.as_mut().await,
                        None => std::future::pending::<()>().await,
                    }
                } => return Err(self.stop_error(platform)),
            };
            match next {
                None => return Ok(()),
                Some(Ok(receipt)) => {
                    run.counters.parts_sent.fetch_add(1, Ordering::Relaxed);
                    acked.insert(receipt);
                    if let Some(cb) = &self.opts.on_receipt {
                        // The session and the list are lent, not copied: O(1) per part.
                        let guard = run.cell.inner.lock().await;
                        cb(&guard.1, acked.as_slice());
                    }
                }
                // A part that failed for a network reason during the grace is resumable.
                Some(Err(err)) if self.stopped() && err.is_retryable() => {
                    return Err(self.stop_error(platform))
                }
                Some(Err(err)) => return Err(err),
            }
        }
    }

    /// Sends the completion with every receipt in plan order; a completion that failed in a
    /// way that may still have taken place asks the platform before calling it failed.
    async fn commit_parts(
        &self,
        run: &SessionRun<'_>,
        ordered: Vec<PartReceipt>,
    ) -> Result<UploadOutcome> {
        let (provider, platform, counters) = (run.provider, run.platform(), run.counters);
        self.stage(platform, Stage::Committing);
        let session = run.cell.inner.lock().await.1.clone();
        self.event(&session, SessionEvent::Committing);
        // A journal holds "completion sent" before it goes: a rerun then asks the platform.
        self.durable().await;
        let commit = self
            .with_retry(platform, "commit", Some(counters), || {
                provider.commit(&session, &ordered)
            })
            .await;
        let commit = match commit {
            Ok(commit) => commit,
            Err(err) if may_have_committed(&err) => {
                // The completion may have happened although its answer was lost (or a re-sent
                // completion was refused as done): ask the platform before calling it failed.
                let found = self
                    .with_retry(platform, "recover", Some(counters), || {
                        provider.recover(&session, &ordered, Some(err.kind()))
                    })
                    .await;
                match found {
                    Ok(Recovery::NotCommitted) => return Err(err),
                    Ok(found) => {
                        tracing::info!(platform = %platform, error = %err, "the completion's answer was lost; recovered what the platform holds");
                        run.mark_committed();
                        return self
                            .recovered(provider, &session, found, run.started, counters)
                            .await;
                    }
                    Err(recover_err) => {
                        tracing::warn!(platform = %platform, error = %recover_err, "could not ask what the platform holds");
                        return Err(err);
                    }
                }
            }
            Err(err) => return Err(err),
        };
        run.mark_committed();
        self.finish(provider, &session, commit, run.started, counters)
            .await
    }

    fn stop_error(&self, platform: &str) -> Error {
        Error::new(
            ErrorKind::Cancelled,
            "stopped before the upload finished; it can be resumed",
        )
        .with_platform(platform)
        .with_code("STOPPED")
    }

    /// The outcome of a recovery the platform answered with a committed session.
    async fn recovered(
        &self,
        provider: &dyn ChunkedVideoUploader,
        session: &UploadSession,
        found: Recovery,
        started: Instant,
        counters: &Counters,
    ) -> Result<UploadOutcome> {
        match found {
            Recovery::Committed(outcome) => {
                self.finish(provider, session, outcome, started, counters)
                    .await
            }
            // `NotCommitted` never reaches here; the id-unknown outcome is final.
            Recovery::CommittedIdUnknown | Recovery::NotCommitted => {
                let platform = provider.rules().platform.clone();
                let completion = Completion::CommittedIdUnknown {
                    upload_id: session.upload_id.clone(),
                };
                self.stage(&platform, Stage::Done);
                Ok(UploadOutcome {
                    platform,
                    completion,
                    session: Some(session.clone()),
                    stats: counters.stats(started, false),
                })
            }
        }
    }

    /// After a completion the platform answered: the asset, or polling it.
    async fn finish(
        &self,
        provider: &dyn ChunkedVideoUploader,
        session: &UploadSession,
        commit: CommitOutcome,
        started: Instant,
        counters: &Counters,
    ) -> Result<UploadOutcome> {
        let platform = provider.rules().platform.clone();
        self.event(session, SessionEvent::Committed(commit.clone()));
        let completion = match commit {
            CommitOutcome::Ready(asset) => Completion::Ready(asset),
            CommitOutcome::Processing(handle) if self.opts.wait_for_processing => {
                self.poll_until_ready(provider, &handle, Some(counters))
                    .await?
            }
            CommitOutcome::Processing(handle) => Completion::Processing(handle),
        };
        if matches!(completion, Completion::Ready(_)) {
            self.stage(&platform, Stage::Done);
        }
        Ok(UploadOutcome {
            platform,
            completion,
            session: Some(session.clone()),
            stats: counters.stats(started, false),
        })
    }

    /// Polls `handle` with progressive delays until the asset is ready, processing fails
    /// ([`ErrorKind::Rejected`] carrying the platform's state and reason), or the deadline
    /// passes (then the handle is returned for a later poll). A poll that fails with a
    /// temporary error (after the retry policy's own attempts) does not end the wait: the
    /// next poll goes at the next delay, within the deadline.
    pub async fn wait_ready(
        &self,
        provider: &dyn ChunkedVideoUploader,
        handle: &ProcessingHandle,
    ) -> Result<Completion> {
        self.poll_until_ready(provider, handle, None).await
    }

    async fn poll_until_ready(
        &self,
        provider: &dyn ChunkedVideoUploader,
        handle: &ProcessingHandle,
        counters: Option<&Counters>,
    ) -> Result<Completion> {
        let platform = provider.rules().platform.clone();
        let deadline = Instant::now() + self.opts.poll.deadline;
        let mut last_stage = String::new();
        for n in 0.. {
            let delay = self.opts.poll.delay(n);
            if Instant::now() + delay > deadline || self.stopped() {
                break;
            }
            // A stop ends the wait with the handle: the upload is committed, and a rerun
            // (or `status`) polls it.
            if !self.nap(delay).await {
                break;
            }
            let status = match self
                .with_retry(&platform, "poll", counters, || provider.poll(handle))
                .await
            {
                Ok(status) => status,
                Err(_) if self.stopped() => break,
                // The upload is committed; a platform that cannot answer for now does not
                // make it fail: poll again later, within the deadline.
                Err(err) if err.is_retryable() => {
                    tracing::warn!(platform = %platform, error = %err, "polling failed for now; polling again");
                    if let Some(c) = counters {
                        c.retries.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                Err(err) => return Err(err),
            };
            match status {
                ProcessingStatus::Ready(asset) => return Ok(Completion::Ready(asset)),
                ProcessingStatus::Failed { state, reason } => {
                    return Err(Error::new(
                        ErrorKind::Rejected,
                        format!("processing failed ({state}): {reason}"),
                    )
                    .with_platform(&platform)
                    .with_code(state));
                }
                ProcessingStatus::Pending { stage } => {
                    if stage != last_stage {
                        self.stage(&platform, Stage::Processing(stage.clone()));
                        last_stage = stage;
                    }
                }
            }
        }
        Ok(Completion::Processing(handle.clone()))
    }

    async fn send_part(
        &self,
        provider: &dyn ChunkedVideoUploader,
        cell: &SessionCell,
        part: Part,
        counters: &Counters,
    ) -> Result<PartReceipt> {
        let rules = provider.rules();
        let platform = rules.platform.as_str();
        let mut attempt = 1u32;
        let mut renewals = 0u32;
        loop {
            let (version, session) = self.current_session(provider, cell, counters).await?;
            if attempt == 1 {
                self.event(&session, SessionEvent::Sending { part: part.index });
            }
            let sent = Arc::new(AtomicU64::new(0));
            let on_sent: SentCallback = {
                let sent = Arc::clone(&sent);
                let sink = self.opts.progress.clone();
                let platform = platform.to_owned();
                let index = part.index;
                Arc::new(move |n| {
                    sent.fetch_add(n, Ordering::Relaxed);
                    if let Some(sink) = &sink {
                        sink(ProgressEvent::Bytes {
                            platform: platform.clone(),
                            part: index,
                            bytes: n,
                        });
                    }
                })
            };
            let this_attempt = part.clone().with_sent_callback(on_sent);
            let span = tracing::debug_span!("part", platform, part = part.index, attempt);
            let result = provider
                .put_part(&session, &this_attempt)
                .instrument(span)
                .await
                .and_then(|r| {
                    if r.index == part.index && r.size == part.len() {
                        Ok(r)
                    } else {
                        Err(Error::protocol(format!(
                            "receipt for part {} names part {} of {} bytes",
                            part.index, r.index, r.size
                        ))
                        .with_platform(platform))
                    }
                });
            let err = match result {
                Ok(receipt) => {
                    // An acknowledged part went out whole, whatever the provider reported.
                    counters.account(part.index, part.len());
                    counters.bytes_sent.fetch_add(part.len(), Ordering::Relaxed);
                    self.emit(ProgressEvent::PartDone {
                        platform: platform.to_owned(),
                        part: part.index,
                        size: part.len(),
                    });
                    // The part keeps its place among those in flight until its record is
                    // durable: a crash re-sends at most the parts in flight.
                    if self.opts.on_event.is_some() {
                        self.event(&session, SessionEvent::Acknowledged(receipt.clone()));
                    }
                    self.durable().await;
                    return Ok(receipt);
                }
                Err(err) => err,
            };
            let rolled_back = sent.load(Ordering::Relaxed).min(part.len());
            counters.account(part.index, rolled_back);
            let delay =
                if err.kind() == ErrorKind::Expired && rules.renewable_sessions && renewals < 3 {
                    renewals += 1;
                    self.renew(provider, cell, version, counters).await?;
                    Some(Duration::ZERO)
                } else {
                    self.opts.retry.next_delay(attempt, &err)
                };
            let Some(delay) = delay.filter(|_| !self.stopped()) else {
                return Err(err.with_platform(platform));
            };
            counters.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(platform, part = part.index, attempt, error = %err, ?delay, "retrying part");
            self.emit(ProgressEvent::Retry {
                platform: platform.to_owned(),
                part: Some(part.index),
                attempt,
                rolled_back,
                delay,
                reason: err.to_string(),
            });
            if !self.nap(delay).await {
                return Err(err.with_platform(platform));
            }
            attempt += 1;
        }
    }

    /// The session to use now, renewed first when its credentials are about to expire.
    async fn current_session(
        &self,
        provider: &dyn ChunkedVideoUploader,
        cell: &SessionCell,
        counters: &Counters,
    ) -> Result<(u64, UploadSession)> {
        let (version, session) = cell.inner.lock().await.clone();
        let renewable = provider.rules().renewable_sessions;
        if let (true, Some(expires)) = (renewable, session.expires_at) {
            let now = crate::http::unix_secs();
            if now + self.opts.renew_margin.as_secs() >= expires {
                self.renew(provider, cell, version, counters).await?;
                return Ok(cell.inner.lock().await.clone());
            }
        }
        Ok((version, session))
    }

    /// Renews the session once per expiry, however many parts noticed it.
    async fn renew(
        &self,
        provider: &dyn ChunkedVideoUploader,
        cell: &SessionCell,
        seen_version: u64,
        counters: &Counters,
    ) -> Result<()> {
        let mut guard = cell.inner.lock().await;
        if guard.0 != seen_version {
            return Ok(());
        }
        let platform = provider.rules().platform.clone();
        let current = guard.1.clone();
        let fresh = self
            .with_retry(&platform, "renew", Some(counters), || {
                provider.renew(&current)
            })
            .await?;
        tracing::debug!(platform = %platform, "renewed upload credentials");
        *guard = (guard.0 + 1, fresh);
        Ok(())
    }

    /// Runs a non-part call with the retry policy, counting its retries in `counters`. After a
    /// stop no attempt starts, a wait between attempts ends at once, and an attempt in flight
    /// gets the grace ([`UploadDriver::stoppable`]).
    async fn with_retry<T, F, Fut>(
        &self,
        platform: &str,
        call: &str,
        counters: Option<&Counters>,
        mut f: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut attempt = 1u32;
        loop {
            let span = tracing::debug_span!("call", platform, call, attempt);
            match self.stoppable(platform, f().instrument(span)).await {
                Ok(v) => return Ok(v),
                Err(err) => match self
                    .opts
                    .retry
                    .next_delay(attempt, &err)
                    .filter(|_| !self.stopped())
                {
                    Some(delay) => {
                        if let Some(c) = counters {
                            c.retries.fetch_add(1, Ordering::Relaxed);
                        }
                        tracing::debug!(platform, call, attempt, error = %err, ?delay, "retrying");
                        self.emit(ProgressEvent::Retry {
                            platform: platform.to_owned(),
                            part: None,
                            attempt,
                            rolled_back: 0,
                            delay,
                            reason: err.to_string(),
                        });
                        if !self.nap(delay).await {
                            return Err(self.stop_error(platform));
                        }
                        attempt += 1;
                    }
                    None => return Err(err.with_platform(platform)),
                },
            }
        }
    }
}

/// Returns once `stop` is on (never, when its sender is gone without a stop), `grace` later.
async fn after_stop(mut stop: StopSignal, grace: Duration) {
    if stop.wait_for(|on| *on).await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(grace).await;
}

/// Whether a completion that failed this way may still have taken place on the platform (its
/// answer lost, or a re-sent completion refused as already done): then the driver asks the
/// provider what the platform holds before calling the upload failed. Bad input, refused
/// credentials and local failures never reached a completed state.
fn may_have_committed(err: &Error) -> bool {
    !matches!(
        err.kind(),
        ErrorKind::InvalidInput
            | ErrorKind::Auth
            | ErrorKind::Reauthorize
            | ErrorKind::Io
            | ErrorKind::Unsupported
            | ErrorKind::Cancelled
    )
}

/// The part `spec` of `file`, streamed from disk when sent. When the rules want its MD5 and
/// the digest pass did not compute it, it is hashed here, on the blocking pool, with pooled
/// buffers: concurrently with the other parts on the network, never on the async runtime.
async fn read_part(
    file: Arc<File>,
    spec: PartSpec,
    md5: Option<[u8; 16]>,
    want_md5: bool,
) -> Result<Part> {
    let md5 = match (md5, want_md5) {
        (Some(m), _) => Some(m),
        (None, false) => None,
        (None, true) => {
            let file = Arc::clone(&file);
            let digest = tokio::task::spawn_blocking(move || {
                crate::chunks::md5_of_range(&file, spec.offset, spec.len)
            })
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("the hashing task failed: {e}")))?;
            Some(digest.map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    Error::new(ErrorKind::Io, "the source became shorter during the upload")
                } else {
                    Error::from(e)
                }
            })?)
        }
    };
    Ok(Part::from_file(
        spec.index,
        file,
        spec.offset,
        spec.len,
        md5,
    ))
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "reliability_tests.rs"]
mod reliability_tests;

#[cfg(test)]
#[path = "driver_mock_tests.rs"]
mod mock_tests;
