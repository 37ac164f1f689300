//! The worker: claims tasks from the store under a lease, uploads them with core's driver
//! (resuming a stored session with only its missing parts), and records each outcome with
//! its task.
//!
//! Limits: at most [`WorkOptions::max_in_flight`] uploads at once (bounded memory whatever the
//! catalog's size), and per account as many as its pace allows ([`Market::uploads`]: by
//! default adaptive, as many as raise the rate its link takes, [`crate::pace`]). A committed
//! video polled until it is ready holds neither: it waits among at most
//! [`WorkOptions::max_polling`] others, and its slots take new uploads at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use marketmedia_core::raw::{PartReceipt, UploadRules, UploadSession};
use marketmedia_core::{
    check_images, digest_request, Completion, DigestPasses, Error as CoreError, ErrorKind,
    ImageSource, SourceProbe, UploadDriver, UploadOptions, UploadOutcome,
};

use crate::error::Result;
use crate::market::Market;
use crate::pace::{Pace, PaceSlot};
use crate::store::sql::now_ms;
use crate::store::{Failure, JobStore, MediaKind, Task};

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkOptions {
    /// This worker's name in leases (default: host-independent `worker-PID`).
    pub worker_id: String,
    /// How long a claim holds without renewal; a dead worker's tasks are claimable again
    /// this long after its last renewal (default 30 s, renewed every third of it).
    pub lease: Duration,
    /// Uploads in flight at once in this worker, over every account (default 32; each
    /// account's own pace is the tighter limit, [`Market::uploads`]). A task polled until its
    /// video is ready does not count.
    pub max_in_flight: usize,
    /// Tasks polled until their video is ready at once (default 256): each holds a
    /// processing handle and a timer, no upload slot.
    pub max_polling: usize,
    /// Attempts of a task before a transient failure becomes final (default 5).
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles, up to `max_backoff` (default 2 s).
    pub backoff: Duration,
    /// The longest delay between attempts (default 5 minutes).
    pub max_backoff: Duration,
    /// How often an idle worker looks for work (default 250 ms).
    pub idle_poll: Duration,
    /// The worker stops when the next claimable task is further away than this (a retry
    /// later, another run picks it up) (default 60 s).
    pub max_wait: Duration,
    /// How often a task waiting for its credential's authorization is claimed again to look
    /// at the credential (default 5 s). Looking costs a read of the credential store, no
    /// request to the platform while the credential is recorded as refused.
    pub auth_poll: Duration,
    /// How long a worker left with nothing but tasks waiting for authorization keeps
    /// waiting for it before it stops (default 60 s; another `batch work` resumes them).
    pub auth_wait: Duration,
    /// The driver's options (the worker installs its own receipt observer and keeps failed
    /// sessions open, so they can be resumed). Their `stop` stops the worker too: when it
    /// turns on, no task is claimed any more, the uploads in flight stop as the driver does
    /// (within `stop_grace`), and every task not finished by then is released
    /// ([`JobStore::release`]), so another worker claims it at once instead of after the
    /// lease.
    pub upload: UploadOptions,
}

impl Default for WorkOptions {
    fn default() -> Self {
        WorkOptions {
            worker_id: format!("worker-{}", std::process::id()),
            lease: Duration::from_secs(30),
            max_in_flight: 32,
            max_polling: 256,
            max_attempts: 5,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            idle_poll: Duration::from_millis(250),
            max_wait: Duration::from_secs(60),
            auth_poll: Duration::from_secs(5),
            auth_wait: Duration::from_secs(60),
            upload: UploadOptions::default(),
        }
    }
}

impl WorkOptions {
    /// The delay before attempt `attempts + 1`, at least what the platform asked for.
    pub fn backoff_after(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .backoff
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
        exp.min(self.max_backoff)
            .max(retry_after.unwrap_or_default())
    }
}

/// What happened to a task, for scripts (`--json`) and progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A worker claimed the task.
    Claimed {
        /// The task's id.
        task: i64,
        /// Its product.
        sku: String,
        /// Its marketplace.
        marketplace: String,
        /// Its media.
        media: String,
        /// The attempt, from 1.
        attempt: u32,
        /// Whether a stored session is resumed.
        resumed: bool,
        /// The account's uploads-in-flight limit when it was claimed (its pace: fixed, or
        /// where the adaptive one stands).
        pace: usize,
    },
    /// The task is done.
    Done {
        /// The task's id.
        task: i64,
        /// Its product.
        sku: String,
        /// Its marketplace.
        marketplace: String,
        /// Its media.
        media: String,
        /// The asset's id.
        asset_id: String,
        /// Whether an existing asset was reused.
        reused: bool,
        /// Part bytes sent by this attempt.
        bytes_sent: u64,
    },
    /// The task waits for its account's credential to be authorized again (the platform
    /// refused the refresh token): not a failure; it is uploaded once the credential is
    /// authorized (`marketmedia accounts authorize NAME`).
    Waiting {
        /// The task's id.
        task: i64,
        /// Its product.
        sku: String,
        /// Its marketplace.
        marketplace: String,
        /// Its media.
        media: String,
        /// Why, with the command to run (never a secret).
        message: String,
    },
    /// The task failed (for now, when `retry` is set).
    Failed {
        /// The task's id.
        task: i64,
        /// Its product.
        sku: String,
        /// Its marketplace.
        marketplace: String,
        /// Its media.
        media: String,
        /// The error kind, in words.
        kind: String,
        /// The message.
        message: String,
        /// Whether it will be retried.
        retry: bool,
    },
}

/// Where events go.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkReport {
    /// Tasks it finished by uploading.
    pub uploaded: u64,
    /// Tasks it finished by reusing an asset.
    pub reused: u64,
    /// Tasks that failed for good.
    pub failed: u64,
    /// Tasks that failed transiently and wait for a retry.
    pub retrying: u64,
    /// Tasks whose lease it lost (cancelled, or taken over after a stall).
    pub lost: u64,
    /// Part bytes it sent.
    pub bytes_sent: u64,
    /// Tasks still outstanding when it stopped (a retry due later than `max_wait`).
    pub left: u64,
    /// Tasks it gave back unfinished because it was asked to stop (claimable at once).
    pub released: u64,
    /// Tasks waiting for their credential to be authorized again when it stopped.
    pub waiting: u64,
    /// Reads of a video for its digests ([`marketmedia_core::DigestPasses`]): one per file
    /// when its tasks share them.
    pub digest_passes: u64,
    /// Video tasks whose digests came from another task's read of the same file.
    pub digest_passes_shared: u64,
}

enum Outcome {
    Uploaded(u64),
    Reused,
    Failed { retry: bool },
    Lost,
    Released,
    Waiting,
}

/// A worker of a batch.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn JobStore>,
    markets: Vec<Market>,
    opts: WorkOptions,
    events: Option<EventSink>,
    /// The digest passes the video tasks share: one read of a file for all its accounts.
    passes: Arc<DigestPasses>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("markets", &self.markets)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker of the tasks in `store` for `markets`.
    pub fn new(store: Arc<dyn JobStore>, markets: Vec<Market>, opts: WorkOptions) -> Worker {
        // Every account this worker sends videos to is a companion: the first task of a file
        // reads it once for the digests of all of them.
        let companions: Vec<UploadRules> = markets
            .iter()
            .filter_map(|m| m.video().map(|v| v.rules().clone()))
            .collect();
        let passes = DigestPasses::default().with_companions(companions, opts.upload.part_size);
        Worker {
            store,
            markets,
            opts,
            events: None,
            passes: Arc::new(passes),
        }
    }

    /// Sends every task event to `sink`.
    pub fn with_events(mut self, sink: EventSink) -> Worker {
        self.events = Some(sink);
        self
    }

    /// Whether the worker was asked to stop ([`WorkOptions::upload`]'s `stop`).
    fn stopped(&self) -> bool {
        self.opts.upload.stop.as_ref().is_some_and(|s| *s.borrow())
    }

    /// Returns once the worker is asked to stop (never without a stop signal), `after` later.
    async fn stop_then(&self, after: Duration) {
        match self.opts.upload.stop.clone() {
            Some(mut stop) => {
                if stop.wait_for(|on| *on).await.is_err() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(after).await;
            }
            None => std::future::pending::<()>().await,
        }
    }

    fn emit(&self, event: Event) {
        if let Some(sink) = &self.events {
            sink(&event);
        }
    }

    /// Works until no task of its marketplaces is left, the next one is due later than
    /// [`WorkOptions::max_wait`], or it is asked to stop (see [`WorkOptions::upload`]). Store
    /// errors stop it; a task's own failure stays with the task.
    pub async fn run(&self) -> Result<WorkReport> {
        let mut report = WorkReport::default();
        let paces: HashMap<String, Arc<Pace>> = self
            .markets
            .iter()
            .map(|m| (m.name.clone(), Pace::new(m.uploads)))
            .collect();
        let slots = Slots {
            uploads: Arc::new(Semaphore::new(self.opts.max_in_flight.max(1))),
            freed: Arc::new(Notify::new()),
        };
        let names: Vec<String> = self.markets.iter().map(|m| m.name.clone()).collect();
        // Tasks run on their own (spawned): a task holding a store connection must make
        // progress while this loop waits for one to claim the next.
        let mut in_flight = tokio::task::JoinSet::new();
        let mut next_market = 0usize;
        // Since when only tasks waiting for authorization are left.
        let mut only_waiting_since: Option<std::time::Instant> = None;
        loop {
            let most = self.opts.max_in_flight.max(1) + self.opts.max_polling.max(1);
            while in_flight.len() < most && !self.stopped() {
                let Some((market, task, permit)) =
                    self.claim_next(&paces, &slots, &mut next_market).await?
                else {
                    break;
                };
                let worker = self.clone();
                // The task's requests count against its account's limits and rates.
                let account = market.account.clone();
                in_flight.spawn(async move {
                    marketmedia_core::raw::http::in_account(
                        &account,
                        worker.process(market, task, permit),
                    )
                    .await
                });
            }
            if in_flight.is_empty() {
                if self.stopped() {
                    break;
                }
                let now = now_ms();
                let left = self.store.outstanding(&names).await?;
                if left.tasks == 0 {
                    break;
                }
                if left.tasks == left.waiting {
                    let since = *only_waiting_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= self.opts.auth_wait {
                        report.waiting = left.waiting;
                        report.left = left.tasks;
                        break;
                    }
                } else {
                    only_waiting_since = None;
                }
                let wait = left.next_at.map(|at| at - now).unwrap_or(0).max(0) as u64;
                if Duration::from_millis(wait) > self.opts.max_wait {
                    report.left = left.tasks;
                    break;
                }
                let nap = self.opts.idle_poll.min(Duration::from_millis(wait.max(10)));
                tokio::select! {
                    () = tokio::time::sleep(nap) => {}
                    () = self.stop_then(Duration::ZERO) => {}
                }
                continue;
            }
            // A finished task frees a slot, and so does a task that moved on to polling (its
            // slot's drop notifies); the timer lets a pace that grew take new work.
            tokio::select! {
                Some(done) = in_flight.join_next() => {
                    let done = done.map_err(|e| {
                        crate::error::Error::Store(format!("a task stopped unexpectedly: {e}"))
                    })?;
                    tally(&mut report, done?)
                }
                () = slots.freed.notified() => {}
                _ = tokio::time::sleep(self.opts.idle_poll) => {}
                // A stop: go round to claim nothing more.
                () = self.stop_then(Duration::ZERO), if !self.stopped() => {}
            }
        }
        let counts = self.passes.counts();
        report.digest_passes = counts.passes;
        report.digest_passes_shared = counts.shared;
        Ok(report)
    }

    async fn claim_next(
        &self,
        paces: &HashMap<String, Arc<Pace>>,
        slots: &Slots,
        next_market: &mut usize,
    ) -> Result<Option<(Market, Task, Slot)>> {
        let n = self.markets.len();
        for i in 0..n {
            let market = &self.markets[(*next_market + i) % n];
            let Some(pace) = paces.get(&market.name) else {
                continue;
            };
            let Ok(upload) = slots.uploads.clone().try_acquire_owned() else {
                // The worker's uploads are all taken: no account can start one.
                return Ok(None);
            };
            let Some(paced) = pace.try_start() else {
                continue;
            };
            let mut permit = Slot {
                upload: Some(upload),
                paced: Some(paced),
                freed: None,
            };
            let now = now_ms();
            let lease_until = now + self.opts.lease.as_millis() as i64;
            if let Some(task) = self
                .store
                .claim(&self.opts.worker_id, &market.name, now, lease_until)
                .await?
            {
                *next_market = (*next_market + i + 1) % n;
                // Only a slot that carried a task wakes the loop when freed: one given back
                // unused (nothing to claim) must not, or the loop would spin.
                permit.freed = Some(Arc::clone(&slots.freed));
                return Ok(Some((market.clone(), task, permit)));
            }
        }
        Ok(None)
    }

    async fn process(&self, market: Market, task: Task, permit: Slot) -> Result<Outcome> {
        let owner = self.opts.worker_id.clone();
        self.emit(Event::Claimed {
            task: task.id,
            sku: task.spec.sku.clone(),
            marketplace: task.spec.marketplace.clone(),
            media: task.spec.media.clone(),
            attempt: task.attempts,
            resumed: task.session.is_some() || task.handle.is_some(),
            pace: permit.pace().map_or(0, |p| p.limit()),
        });
        let renewal = async {
            let every = self.opts.lease / 3;
            loop {
                tokio::time::sleep(every).await;
                let until = now_ms() + self.opts.lease.as_millis() as i64;
                match self.store.renew(task.id, &owner, until).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(task = task.id, error = %e, "cannot renew a lease"),
                }
            }
        };
        let work = self.attempt(&market, &task, permit);
        // The driver stops its uploads within the grace; this bounds the rest (an image
        // call, a resumed video's digest pass) just after.
        let backstop = self.stop_then(self.opts.upload.stop_grace + Duration::from_secs(1));
        let result = tokio::select! {
            r = work => r,
            () = renewal => return Ok(Outcome::Lost),
            () = backstop => Err(CoreError::new(ErrorKind::Cancelled, "stopped")),
        };
        if result.is_err() && self.stopped() {
            // Unfinished because of the stop: give it back for another worker, session kept.
            return Ok(if self.store.release(task.id, &owner).await? {
                Outcome::Released
            } else {
                Outcome::Lost
            });
        }
        match result {
            Ok(Some((asset_id, urls, bytes, reused))) => {
                if !self
                    .store
                    .complete(&task, &owner, &asset_id, &urls, bytes, reused)
                    .await?
                {
                    return Ok(Outcome::Lost);
                }
                self.emit(Event::Done {
                    task: task.id,
                    sku: task.spec.sku.clone(),
                    marketplace: task.spec.marketplace.clone(),
                    media: task.spec.media.clone(),
                    asset_id,
                    reused,
                    bytes_sent: bytes,
                });
                Ok(if reused {
                    Outcome::Reused
                } else {
                    Outcome::Uploaded(bytes)
                })
            }
            Ok(None) => Ok(Outcome::Lost),
            Err(err) if err.kind() == ErrorKind::Reauthorize => {
                // Not the task's failure: its credential waits for the seller. Looked at
                // again after `auth_poll` (the credential store answers at once while the
                // credential is recorded as refused: no request is sent).
                let message = err.to_string();
                let next_at = now_ms() + self.opts.auth_poll.as_millis() as i64;
                if !self
                    .store
                    .wait_for_authorization(task.id, &owner, &message, next_at)
                    .await?
                {
                    return Ok(Outcome::Lost);
                }
                self.emit(Event::Waiting {
                    task: task.id,
                    sku: task.spec.sku.clone(),
                    marketplace: task.spec.marketplace.clone(),
                    media: task.spec.media.clone(),
                    message,
                });
                Ok(Outcome::Waiting)
            }
            Err(err) => {
                let retry = err.is_retryable() && task.attempts < self.opts.max_attempts;
                let failure = Failure {
                    kind: err.kind().to_string(),
                    message: err.to_string(),
                    retry_at: retry.then(|| {
                        now_ms()
                            + self
                                .opts
                                .backoff_after(task.attempts, err.retry_after())
                                .as_millis() as i64
                    }),
                };
                // A transient failure keeps its session: the next attempt sends only the
                // missing parts. A permanent one drops it.
                if !self.store.fail(task.id, &owner, &failure, !retry).await? {
                    return Ok(Outcome::Lost);
                }
                self.emit(Event::Failed {
                    task: task.id,
                    sku: task.spec.sku.clone(),
                    marketplace: task.spec.marketplace.clone(),
                    media: task.spec.media.clone(),
                    kind: failure.kind,
                    message: failure.message,
                    retry,
                });
                Ok(Outcome::Failed { retry })
            }
        }
    }

    /// One attempt: `Ok(Some((asset id, urls, bytes sent, reused)))`, `Ok(None)` when the
    /// lease was lost, or the upload's error.
    async fn attempt(
        &self,
        market: &Market,
        task: &Task,
        permit: Slot,
    ) -> std::result::Result<Option<Done>, CoreError> {
        let spec = &task.spec;
        if let Some(asset) = self
            .store
            .find_asset(&spec.content_key, &spec.marketplace, &spec.account)
            .await
            .map_err(store_error)?
        {
            return Ok(Some((asset.asset_id, asset.urls, 0, true)));
        }
        match spec.kind {
            MediaKind::Video => self.video(market, task, permit).await,
            MediaKind::Image => {
                let uploader = market.images().ok_or_else(|| {
                    CoreError::invalid_input("this marketplace takes no images")
                        .with_platform(&market.name)
                })?;
                let rules = uploader.image_rules();
                let image =
                    ImageSource::read(std::path::Path::new(&spec.path), rules.max_bytes).await?;
                let size = image.data.len() as u64;
                let images = [image];
                check_images(rules, &images)?;
                let mut results = uploader.upload_images(&images).await?;
                if let Some(pace) = permit.pace() {
                    pace.carried(size);
                }
                drop(permit);
                let uploaded = results.pop().ok_or_else(|| {
                    CoreError::protocol("the platform answered no image")
                        .with_platform(&market.name)
                })??;
                Ok(Some((uploaded.id, uploaded.urls, size, false)))
            }
        }
    }

    async fn video(
        &self,
        market: &Market,
        task: &Task,
        permit: Slot,
    ) -> std::result::Result<Option<Done>, CoreError> {
        let spec = &task.spec;
        let uploader = market.video().cloned().ok_or_else(|| {
            CoreError::invalid_input("this marketplace takes no videos").with_platform(&market.name)
        })?;
        let rules: UploadRules = uploader.rules().clone();
        let owner = self.opts.worker_id.clone();
        let mut opts = self.opts.upload.clone();
        // The product's own fields (its title, its cover…) over the market's defaults: one
        // uploader serves every product.
        opts.meta = market.meta_for(&spec.fields);
        opts.cancel_on_failure = false;
        opts.wait_for_processing = false;
        // The observer appends each new receipt to `latest` (the driver lends it the whole
        // list, grown by one per part: copying it per part was quadratic in parts) and wakes
        // the persister below, which copies only what it has not seen.
        let latest = Arc::new(std::sync::Mutex::new(Latest::default()));
        let (tx, mut rx) = tokio::sync::watch::channel(());
        let observed = latest.clone();
        opts.on_receipt = Some(Arc::new(move |session, receipts| {
            lock(&observed).observe(session, receipts);
            tx.send_replace(());
        }));
        // The part bytes each connection takes also go to the account's pace, its measure
        // of the link (before any sink the options had).
        if let Some(pace) = permit.pace().cloned() {
            let next = opts.progress.take();
            opts.progress = Some(Arc::new(move |event: marketmedia_core::ProgressEvent| {
                if let marketmedia_core::ProgressEvent::Bytes { bytes, .. } = &event {
                    pace.carried(*bytes);
                }
                if let Some(next) = &next {
                    next(event);
                }
            }));
        }
        // The poller has no observer: the persister below ends when the upload's driver,
        // the observer's only holder, is dropped.
        let poller = UploadDriver::new(UploadOptions {
            on_receipt: None,
            ..opts.clone()
        });

        let handle = match &task.handle {
            Some(handle) => handle.clone(),
            None => {
                let driver = UploadDriver::new(opts);
                let path = std::path::PathBuf::from(&spec.path);
                let session = task.session.clone();
                let known = task.receipts.clone();
                let passes = Arc::clone(&self.passes);
                let upload = async move {
                    let outcome = match session {
                        Some(session) => {
                            let probe = SourceProbe::open(&path).await?;
                            probe.check(&rules)?;
                            let request = digest_request(&rules, &session.plan);
                            let prepared = passes.prepare(&probe, &request).await?;
                            match driver
                                .resume(uploader.as_ref(), &prepared, session, known)
                                .await
                            {
                                // The platform forgot the session (or it expired): start over.
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        ErrorKind::NotFound | ErrorKind::Expired
                                    ) =>
                                {
                                    driver
                                        .upload_file_shared(uploader.as_ref(), &path, &passes)
                                        .await
                                }
                                other => other,
                            }
                        }
                        None => {
                            driver
                                .upload_file_shared(uploader.as_ref(), &path, &passes)
                                .await
                        }
                    };
                    drop(driver);
                    outcome.map(|o| (o, uploader))
                };
                // Persists the latest session and receipts as parts are acknowledged; ends
                // when the driver (holding the observer) is dropped, after a last save of
                // whatever came in meanwhile: `set_processing` and `complete` run after it.
                // Receipts arriving during a save are coalesced into the next one, so a
                // crash re-sends at most the parts in flight and those acknowledged while
                // the last save was being written.
                let persist = async {
                    let mut saved = Latest::default();
                    while rx.changed().await.is_ok() {
                        let _ = rx.borrow_and_update();
                        if !lock(&latest).copy_new_into(&mut saved) {
                            continue;
                        }
                        if let Some(session) = &saved.session {
                            if let Err(e) = self
                                .store
                                .save_session(task.id, &owner, session, &saved.receipts)
                                .await
                            {
                                tracing::warn!(task = task.id, error = %e, "cannot save receipts");
                            }
                        }
                    }
                };
                let (outcome, ()) = tokio::join!(upload, persist);
                let (outcome, uploader): (UploadOutcome, _) = outcome?;
                let bytes = outcome.stats.bytes_sent;
                match outcome.completion {
                    Completion::Ready(asset) => {
                        return Ok(Some((asset.id, asset.urls, bytes, false)));
                    }
                    Completion::Processing(handle) => {
                        if !self
                            .store
                            .set_processing(task.id, &owner, &handle)
                            .await
                            .map_err(store_error)?
                        {
                            return Ok(None);
                        }
                        drop(permit);
                        return self.wait(&poller, uploader.as_ref(), &handle, bytes).await;
                    }
                    // Committed, but the platform names no asset: there is no id to store.
                    Completion::CommittedIdUnknown { upload_id } => {
                        return Err(CoreError::new(
                            ErrorKind::Conflict,
                            format!(
                                "committed as upload {upload_id}, but the answer naming the video was lost and the platform has no call to find it"
                            ),
                        )
                        .with_platform(&market.name)
                        .with_code("COMMITTED_ID_UNKNOWN"));
                    }
                }
            }
        };
        drop(permit);
        let uploader = market.video().ok_or_else(|| {
            CoreError::invalid_input("this marketplace takes no videos").with_platform(&market.name)
        })?;
        self.wait(&poller, uploader.as_ref(), &handle, 0).await
    }

    async fn wait(
        &self,
        driver: &UploadDriver,
        uploader: &dyn marketmedia_core::ChunkedVideoUploader,
        handle: &marketmedia_core::ProcessingHandle,
        bytes: u64,
    ) -> std::result::Result<Option<Done>, CoreError> {
        match driver.wait_ready(uploader, handle).await? {
            Completion::Ready(asset) => Ok(Some((asset.id, asset.urls, bytes, false))),
            Completion::Processing(_) | Completion::CommittedIdUnknown { .. } => {
                Err(CoreError::new(
                    ErrorKind::Transient,
                    "the platform is still processing the video; it is polled again later",
                )
                .with_platform(&handle.platform))
            }
        }
    }
}

/// The worker's limit on uploads in flight, and the signal that one was freed.
struct Slots {
    uploads: Arc<Semaphore>,
    freed: Arc<Notify>,
}

/// One upload's places: among the worker's uploads and in its account's pace. Dropped when
/// the upload is over (or moves on to polling); then it wakes the claiming loop.
struct Slot {
    upload: Option<OwnedSemaphorePermit>,
    paced: Option<PaceSlot>,
    freed: Option<Arc<Notify>>,
}

impl Slot {
    /// The account's pace (its meter).
    fn pace(&self) -> Option<&Arc<Pace>> {
        self.paced.as_ref().map(PaceSlot::pace)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Both places are given back before the loop is woken to use them.
        self.upload.take();
        self.paced.take();
        if let Some(freed) = &self.freed {
            freed.notify_one();
        }
    }
}

/// The resume state of an upload as the driver reports it: its session and the receipts of
/// its acknowledged parts, in the order acknowledged.
#[derive(Default)]
struct Latest {
    session: Option<UploadSession>,
    receipts: Vec<PartReceipt>,
    /// Bumped whenever `receipts` is replaced rather than appended to (a new session, a
    /// part acknowledged again), so that a copy knows to start over.
    generation: u64,
}

impl Latest {
    /// Takes the driver's report. The driver's list only grows by one receipt per call, or
    /// has one receipt replaced in place (a part sent again): the first costs one receipt's
    /// copy, the second (rare) a copy of the list.
    fn observe(&mut self, session: &UploadSession, receipts: &[PartReceipt]) {
        if self.session.as_ref() != Some(session) {
            let restarted = self
                .session
                .as_ref()
                .is_none_or(|s| s.upload_id != session.upload_id);
            self.session = Some(session.clone());
            if restarted {
                self.receipts.clear();
                self.generation += 1;
            }
        }
        let known = self.receipts.len();
        if receipts.len() > known {
            self.receipts.extend_from_slice(&receipts[known..]);
        } else {
            self.receipts.clear();
            self.receipts.extend_from_slice(receipts);
            self.generation += 1;
        }
    }

    /// Brings `copy` up to date with what it has not seen; `false` when nothing changed.
    fn copy_new_into(&self, copy: &mut Latest) -> bool {
        let mut changed = false;
        if copy.session != self.session {
            copy.session.clone_from(&self.session);
            changed = true;
        }
        if copy.generation != self.generation {
            copy.receipts.clone_from(&self.receipts);
            copy.generation = self.generation;
            changed = true;
        } else if self.receipts.len() > copy.receipts.len() {
            copy.receipts
                .extend_from_slice(&self.receipts[copy.receipts.len()..]);
            changed = true;
        }
        changed
    }
}

/// Locks `latest`, whatever a panicking holder left (it holds plain data, consistent
/// between statements).
fn lock(latest: &std::sync::Mutex<Latest>) -> std::sync::MutexGuard<'_, Latest> {
    latest
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A finished attempt: asset id, URLs, part bytes sent, reused.
type Done = (String, Vec<marketmedia_core::AssetUrl>, u64, bool);

fn store_error(e: crate::error::Error) -> CoreError {
    CoreError::new(ErrorKind::Transient, e.to_string())
}

fn tally(report: &mut WorkReport, outcome: Outcome) {
    match outcome {
        Outcome::Uploaded(bytes) => {
            report.uploaded += 1;
            report.bytes_sent += bytes;
        }
        Outcome::Reused => report.reused += 1,
        Outcome::Failed { retry: true } => report.retrying += 1,
        Outcome::Failed { retry: false } => report.failed += 1,
        Outcome::Lost => report.lost += 1,
        Outcome::Released => report.released += 1,
        // Counted when the worker stops (`WorkReport::waiting`): a task may wait and then
        // be uploaded by this same worker.
        Outcome::Waiting => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketmedia_core::raw::{PartPlan, PartSizeRule};

    fn session(id: &str) -> UploadSession {
        let rules = UploadRules::new("t", PartSizeRule::Exact(1 << 20), 1 << 30);
        UploadSession {
            platform: "t".into(),
            upload_id: id.into(),
            plan: PartPlan::new(10 << 20, &rules, None).unwrap(),
            expires_at: None,
            started_at_ms: 0,
            data: serde_json::Value::Null,
        }
    }

    fn receipt(index: u32, etag: &str) -> PartReceipt {
        PartReceipt {
            index,
            wire_number: index + 1,
            size: 1 << 20,
            etag: Some(etag.into()),
        }
    }

    #[test]
    fn the_persisted_copy_follows_appends_replacements_and_new_sessions() {
        let (mut latest, mut copy) = (Latest::default(), Latest::default());
        let s = session("u1");
        let mut list = vec![receipt(0, "a")];
        latest.observe(&s, &list);
        assert!(latest.copy_new_into(&mut copy));
        assert_eq!(copy.receipts, list);
        assert!(!latest.copy_new_into(&mut copy), "nothing new");

        // Two parts acknowledged before the persister looks: both appended, in order.
        list.push(receipt(2, "c"));
        latest.observe(&s, &list);
        list.push(receipt(1, "b"));
        latest.observe(&s, &list);
        assert!(latest.copy_new_into(&mut copy));
        assert_eq!(copy.receipts, list);

        // A part acknowledged again replaces its receipt in place.
        list[1] = receipt(2, "c2");
        latest.observe(&s, &list);
        assert!(latest.copy_new_into(&mut copy));
        assert_eq!(copy.receipts, list);

        // The same session with new data: the receipts stay.
        let mut refreshed = s.clone();
        refreshed.data = serde_json::json!({"token": "t2"});
        latest.observe(&refreshed, &list);
        assert!(latest.copy_new_into(&mut copy));
        assert_eq!(copy.session.as_ref(), Some(&refreshed));
        assert_eq!(copy.receipts, list);

        // A new session (the platform forgot the old one) starts over.
        let restarted = session("u2");
        let fresh = vec![receipt(0, "z")];
        latest.observe(&restarted, &fresh);
        assert!(latest.copy_new_into(&mut copy));
        assert_eq!(copy.session.as_ref(), Some(&restarted));
        assert_eq!(copy.receipts, fresh);
    }
}
