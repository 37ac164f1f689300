//! The job store: every task of every batch, its state, its upload session and part receipts
//! (the resume state), its asset, its error and its attempts, in a real database.
//!
//! [`JobStore`] is the trait the engine uses; [`SqliteStore`] (embedded, the default) and
//! [`PostgresStore`] (several workers on one or many machines) implement it with the same
//! SQL, except for claiming: PostgreSQL claims with `FOR UPDATE SKIP LOCKED` under a
//! transaction-scoped advisory lock, SQLite with one atomic `UPDATE … RETURNING`.
//! [`open`] picks one from a location (`postgres://…` or a file path).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use marketmedia_core::raw::{PartReceipt, UploadSession};
use marketmedia_core::{AssetUrl, ProcessingHandle};

use crate::error::Result;

pub(crate) mod sql;

pub use sql::{PostgresStore, SqliteStore};

/// Where a task stands. See `docs/batch.md` for the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting for a worker.
    Pending,
    /// Leased by a worker that is uploading it (claimable again once the lease expires).
    Running,
    /// Uploaded and committed; a worker polls the platform until the asset is ready.
    Processing,
    /// Failed transiently; claimable again from `next_at` on.
    Retry,
    /// Waiting for its account's credential to be authorized again (the platform refused
    /// the refresh token): not failed, no attempt counted; claimed again from `next_at` on
    /// to look at the credential, and uploaded once it is authorized.
    Waiting,
    /// The asset is ready (made by this task, or reused).
    Done,
    /// Failed for good (a permanent error, or out of attempts). `retry --failed` resets it.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl TaskState {
    /// Every state, in the order reports list them.
    pub const ALL: [TaskState; 8] = [
        TaskState::Pending,
        TaskState::Running,
        TaskState::Processing,
        TaskState::Retry,
        TaskState::Waiting,
        TaskState::Done,
        TaskState::Failed,
        TaskState::Cancelled,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Processing => "processing",
            TaskState::Retry => "retry",
            TaskState::Waiting => "waiting",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// The state named `s` in the database.
    pub fn parse(s: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the task will not move again without `retry --failed`.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Done | TaskState::Failed | TaskState::Cancelled
        )
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a task uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// The product's video (chunked upload).
    Video,
    /// One of the product's images.
    Image,
}

impl MediaKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Video => "video",
            MediaKind::Image => "image",
        }
    }
}

/// A task to add to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// The batch it belongs to.
    pub batch: String,
    /// The manifest line of its product.
    pub line: u64,
    /// The product.
    pub sku: String,
    /// Which media of the product: `video`, `image1`, `image2`…
    pub media: String,
    /// Video or image.
    pub kind: MediaKind,
    /// The account's name (its market's: `shopee-sg`; `shopee` for the account named after
    /// its marketplace, and in stores written before accounts).
    pub marketplace: String,
    /// The marketplace the account is of (`shopee`).
    pub platform: String,
    /// The account's identity on the platform (with the content key, the idempotence key:
    /// renaming the account changes nothing).
    pub account: String,
    /// The local file.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its content digest (`sha256:…`).
    pub content_key: String,
    /// The marketplace's fields of this product (e.g. Lazada's `title`).
    pub fields: BTreeMap<String, String>,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The store's id.
    pub id: i64,
    /// What was added.
    pub spec: NewTask,
    /// Where it stands.
    pub state: TaskState,
    /// The open upload session, when a video upload started.
    pub session: Option<UploadSession>,
    /// The receipts of the session's acknowledged parts.
    pub receipts: Vec<PartReceipt>,
    /// The processing handle, once committed and not yet ready.
    pub handle: Option<ProcessingHandle>,
    /// The asset's id, once done.
    pub asset_id: Option<String>,
    /// Where the asset is served.
    pub urls: Vec<AssetUrl>,
    /// Whether the asset was reused (same content, same account) rather than uploaded.
    pub reused: bool,
    /// The last error's kind (`invalid input`, `temporary failure`…).
    pub error_kind: Option<String>,
    /// The last error's message.
    pub error_message: Option<String>,
    /// How many times a worker started it.
    pub attempts: u32,
    /// Not claimable before this time (ms since the epoch).
    pub next_at: i64,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// Part bytes acknowledged for this task.
    pub bytes_sent: u64,
}

/// Which tasks [`JobStore::tasks`] lists: all by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only those in this state.
    pub state: Option<TaskState>,
    /// Only those of this batch.
    pub batch: Option<String>,
}

impl TaskFilter {
    /// Every task.
    pub fn all() -> TaskFilter {
        TaskFilter::default()
    }

    /// The tasks in `state`.
    pub fn state(state: TaskState) -> TaskFilter {
        TaskFilter {
            state: Some(state),
            batch: None,
        }
    }

    /// Narrowed to one batch (or left as it is with `None`).
    pub fn in_batch(mut self, batch: Option<&str>) -> TaskFilter {
        self.batch = batch.map(str::to_owned);
        self
    }
}

/// An asset already made for a content key on a marketplace account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAsset {
    /// The platform's id.
    pub asset_id: String,
    /// Where it is served.
    pub urls: Vec<AssetUrl>,
    /// The task that made it.
    pub created_by: i64,
}

/// How a task failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error kind, in words.
    pub kind: String,
    /// The message.
    pub message: String,
    /// When to try again (ms since the epoch), or `None` when the failure is permanent.
    pub retry_at: Option<i64>,
}

/// The number of tasks in one state on one marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// The account (the tasks' `marketplace` column: the account's name).
    pub marketplace: String,
    /// The state.
    pub state: TaskState,
    /// How many tasks.
    pub tasks: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Tasks not final yet: how many, and the earliest time one of them may be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outstanding {
    /// Tasks pending, running, processing, waiting to retry or waiting for authorization.
    pub tasks: u64,
    /// Of those, the tasks waiting for their credential to be authorized again.
    pub waiting: u64,
    /// The earliest `next_at` among those waiting, or the earliest lease expiry among
    /// running ones (ms since the epoch).
    pub next_at: Option<i64>,
}

/// The database behind a batch. Every method is one short transaction; a worker that dies
/// leaves nothing but an expiring lease.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Adds tasks; a task already there (same batch, sku, media and marketplace) is kept as
    /// it is. Returns how many were new.
    async fn add_tasks(&self, tasks: &[NewTask]) -> Result<u64>;

    /// Leases the next claimable task of `marketplace` to `owner` until `lease_until`:
    /// pending, due for retry, or running/processing with an expired lease, and not sharing
    /// its content key and account with a task another worker is uploading. Counts an
    /// attempt.
    async fn claim(
        &self,
        owner: &str,
        marketplace: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Task>>;

    /// Extends a lease. `false` when `owner` no longer holds it.
    async fn renew(&self, id: i64, owner: &str, lease_until: i64) -> Result<bool>;

    /// Records the upload session and its receipts so far (the resume state).
    async fn save_session(
        &self,
        id: i64,
        owner: &str,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<bool>;

    /// Records that the upload is committed and processing.
    async fn set_processing(&self, id: i64, owner: &str, handle: &ProcessingHandle)
        -> Result<bool>;

    /// The asset made for this content on this account, if any.
    async fn find_asset(
        &self,
        content_key: &str,
        marketplace: &str,
        account: &str,
    ) -> Result<Option<StoredAsset>>;

    /// Marks the task done with its asset and records the asset for its content key (unless
    /// `reused`).
    async fn complete(
        &self,
        task: &Task,
        owner: &str,
        asset_id: &str,
        urls: &[AssetUrl],
        bytes_sent: u64,
        reused: bool,
    ) -> Result<bool>;

    /// Gives a task back unfinished (its worker was stopped): claimable by any worker at
    /// once, its session, receipts and processing handle kept (the next claim resumes them),
    /// and the attempt it counted undone (a stop is no failure). `false` when `owner` no
    /// longer holds it.
    async fn release(&self, id: i64, owner: &str) -> Result<bool>;

    /// Records a failure: back to `retry` at `failure.retry_at`, or `failed` for good.
    /// Keeps the session unless `drop_session`.
    async fn fail(
        &self,
        id: i64,
        owner: &str,
        failure: &Failure,
        drop_session: bool,
    ) -> Result<bool>;

    /// Puts a task whose credential must be authorized again (the platform refused its
    /// refresh token) in [`TaskState::Waiting`] with `message` (the platform's, never a
    /// secret): its lease released, its session kept, the attempt it counted undone (it is
    /// no failure of the task), claimable again from `next_at` on to look at the credential.
    /// `false` when `owner` no longer holds it.
    async fn wait_for_authorization(
        &self,
        id: i64,
        owner: &str,
        message: &str,
        next_at: i64,
    ) -> Result<bool>;

    /// Counts by marketplace and state, of one batch or of all.
    async fn counts(&self, batch: Option<&str>) -> Result<Vec<Count>>;

    /// Tasks of these marketplaces not final yet.
    async fn outstanding(&self, marketplaces: &[String]) -> Result<Outstanding>;

    /// Up to `limit` tasks with an id above `after`, in id order, that `filter` selects.
    async fn tasks(&self, after: i64, limit: u32, filter: &TaskFilter) -> Result<Vec<Task>>;

    /// Resets failed tasks (of one batch or of all) to pending with no attempts. Returns
    /// how many.
    async fn retry_failed(&self, batch: Option<&str>) -> Result<u64>;

    /// Cancels every task not final yet (of one batch or of all). Returns how many. Their
    /// upload sessions stay recorded until [`JobStore::forget_session`], so the sessions
    /// still open on the platforms can be closed (see [`crate::cancel_batch`]).
    async fn cancel(&self, batch: Option<&str>) -> Result<u64>;

    /// Moves the tasks and assets of `platform` recorded under `old` (the account key a
    /// release before accounts derived: a shop id, an app key…, as each marketplace says,
    /// `marketmedia_core::AccountInfo::pre_accounts_key`) to the account's `identity`, so that what was
    /// uploaded before the upgrade is still found. Returns the rows moved.
    async fn adopt_account(&self, platform: &str, old: &str, identity: &str) -> Result<u64>;

    /// Drops a cancelled task's upload session once the platform confirmed its cancel.
    /// `false` when the task is not cancelled.
    async fn forget_session(&self, id: i64) -> Result<bool>;
}

/// Opens the store at `location`: a `postgres://` or `postgresql://` URL, or a path to an
/// SQLite file (created with its directory when missing). Runs the migrations.
pub async fn open(location: &str) -> Result<Arc<dyn JobStore>> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(location).await?))
    } else {
        Ok(Arc::new(SqliteStore::open(Path::new(location)).await?))
    }
}

/// A store location fit to print: a URL through core's one redaction
/// ([`marketmedia_core::redact_url`]: no user info, no query values), a file path as is.
pub fn redact_location(location: &str) -> String {
    if location.contains("://") {
        marketmedia_core::redact_url(location)
    } else {
        location.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_are_printed_without_passwords() {
        assert_eq!(
            redact_location("postgres://u:secret@db:5432/x?sslmode=require"),
            "postgres://db:5432/x?sslmode=***"
        );
        assert_eq!(redact_location("/tmp/a.sqlite"), "/tmp/a.sqlite");
    }

    #[test]
    fn states_round_trip() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str()), Some(s));
        }
    }
}
