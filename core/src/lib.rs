//! # marketmedia-core
//!
//! The platform-neutral heart of marketmedia: the [`ChunkedVideoUploader`] trait that every
//! marketplace backend implements (init → put_part → commit → poll, plus cancel), the rules
//! each backend declares as data ([`UploadRules`]), part planning, digests in one streaming
//! pass, and the [`UploadDriver`] that does the hard part once for every backend: bounded
//! memory, concurrent parts, retries with backoff and jitter, renewal, commit, polling,
//! cancellation on failure and progress events.
//!
//! ## Why a thin trait and one driver
//! Every platform cuts uploads into parts, but each numbers, signs and completes them its own
//! way. Keeping those differences in small providers, and everything about *how* bytes move
//! in one driver, means a fix to retries or memory use helps every marketplace at once, and a
//! new marketplace is a page of wire code (see `docs/providers.md`).
//!
//! ## Two doors
//! - **Applications** (a CLI, a listing tool, an ERP) use the items at the top of this crate:
//!   the [`UploadDriver`] and its [`UploadOptions`], each upload's own fields
//!   ([`UploadMeta`]: title, cover… given with [`UploadDriver::with_meta`], so one client
//!   serves a whole catalog), fan-out to several marketplaces
//!   ([`UploadDriver::upload_to_all`]), the resume [`Journal`], progress events, policies,
//!   errors, and the finished [`Asset`]s.
//! - **Provider authors** (a new marketplace) use [`raw`]: the [`raw::ChunkedVideoUploader`]
//!   trait, the rules they declare, the part, session and receipt values, and the HTTP,
//!   signing and secret helpers every provider shares. Applications need nothing from it but
//!   the trait objects they hand to the driver (re-exported here too).
//!
//! ```no_run
//! # async fn demo(provider: &dyn marketmedia_core::ChunkedVideoUploader) -> marketmedia_core::Result<()> {
//! use marketmedia_core::{UploadDriver, UploadOptions};
//! let driver = UploadDriver::new(UploadOptions::default());
//! let outcome = driver.upload_file(provider, std::path::Path::new("demo.mp4")).await?;
//! if let Some(asset) = outcome.asset() {
//!     println!("{} is ready: {}", asset.platform, asset.id);
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod account;
mod chunks;
mod credential;
mod digest;
mod driver;
mod error;
mod fanout;
mod http;
mod image;
mod journal;
mod marketplace;
mod media;
mod meta;
mod passes;
mod plan;
mod progress;
mod rate;
mod retry;
mod rules;
mod secret;
mod signing;
mod source;
mod units;
mod uploader;

pub mod raw;

// ---- The application's door ------------------------------------------------------------
pub use account::{AccountCheck, AccountRef};
pub use credential::{
    default_refresh_retry, no_refresh_token, refresh_if_due, seed_from_settings, Authorization,
    CredentialKey, CredentialSources, CredentialStore, MemoryStore, RefreshDue, RefreshMargin,
    Refresher, TokenSource, TokenSourceBuilder, Tokens, AUTHORIZE_COMMAND,
};
pub use digest::{digest_file, digest_file_async, DigestRequest, Digests, InstantHashes};
pub use driver::{
    CommitState, Completion, DurabilityBarrier, ReceiptObserver, ResumePoint, SessionEvent,
    SessionObserver, StopSignal, UploadDriver, UploadOptions, UploadOutcome, UploadStats,
    DEFAULT_CONCURRENCY, DEFAULT_STOP_GRACE, MAX_SESSION_RESTARTS,
};
pub use error::{Error, ErrorKind, Result};
pub use fanout::{
    images_overall, upload_images_to_all, upload_images_to_all_checked, AccountUpload,
    FanOutReport, ImageCheck, ImageReport, MarketReport, Overall,
};
pub use http::{ClientOptions, HttpTimeouts, LowSpeed, RequestRate, Watchdog};
pub use image::{
    check_dimensions, check_image, check_images, decode_image, upload_images, ImageRules,
    ImageSource, ImageUploader, UploadedImage,
};
pub use journal::{
    cancel_recorded, committed_conflict, committed_id, default_dir as default_journal_dir, Journal,
    JournalEntry, SourceFingerprint,
};
pub use marketplace::{
    Account, AccountInfo, Client, ConnectOptions, Fields, Marketplace, Origin, Registry, Setting,
    Settings, UploadField,
};
pub use media::MediaFormat;
pub use meta::{MetaField, UploadMeta};
pub use passes::{DigestPasses, PassCounts, DEFAULT_PASSES_KEPT};
pub use progress::{progress_channel, ProgressEvent, ProgressSink, Stage};
pub use retry::{PollPolicy, RetryPolicy};
pub use secret::{redact_url, RedactedUrl, Secret};
pub use source::{digest_request, PreparedSource, SourceProbe};
pub use units::{count, human_size, human_sizes, plural};
pub use uploader::{
    Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, ProcessingHandle, ProcessingStatus,
    Recovery,
};
