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

pub mod chunks;
pub mod digest;
pub mod driver;
pub mod error;
pub mod fanout;
pub mod http;
pub mod image;
pub mod journal;
pub mod media;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod rules;
pub mod secret;
pub mod signing;
pub mod source;
pub mod uploader;

pub use digest::{DigestRequest, Digests, InstantHashes};
pub use driver::{Completion, UploadDriver, UploadOptions, UploadOutcome, UploadStats};
pub use error::{Error, ErrorKind, Result};
pub use fanout::{upload_images_to_all, FanOutReport, ImageReport, MarketReport, Overall};
pub use image::{check_images, ImageRules, ImageSource, ImageUploader, UploadedImage};
pub use journal::{Journal, JournalEntry, SourceFingerprint};
pub use media::MediaFormat;
pub use plan::{PartPlan, PartSpec};
pub use progress::{progress_channel, ProgressEvent, ProgressSink, Stage};
pub use retry::{PollPolicy, RetryPolicy};
pub use rules::{DigestNeeds, DurationRange, NumberingBase, PartSizeRule, UploadRules};
pub use secret::Secret;
pub use source::{PreparedSource, SourceProbe};
#[cfg(any(test, feature = "mock"))]
pub use uploader::MockChunkedVideoUploader;
pub use uploader::{
    Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, InitOutcome, Part, PartReceipt,
    ProcessingHandle, ProcessingStatus, SourceInfo, UploadSession,
};
