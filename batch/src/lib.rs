//! # marketmedia-batch
//!
//! A seller's catalog as one job: hundreds or thousands of products, each with a video and
//! images, each listed on several marketplaces, surviving crashes and reruns, and ending in
//! a table of asset ids to attach to listings.
//!
//! - [`manifest`]: one product per row, CSV or JSON Lines, streamed;
//! - [`plan()`]: the whole manifest checked before any request (missing files, formats,
//!   each marketplace's declared rules), a report by line, and one task per (product,
//!   media, marketplace) in the store;
//! - [`store`]: the [`JobStore`] trait, on SQLite (embedded, the default) or PostgreSQL
//!   (several workers, claims with `FOR UPDATE SKIP LOCKED`); a task keeps its state, its
//!   upload session and part receipts (the resume state), its asset, its error and its
//!   attempts;
//! - [`Worker`]: claims tasks under a lease, uploads them with core's driver (a session
//!   found in the store is resumed, sending only the missing parts), reuses an asset made
//!   for the same content and account, retries transient failures with backoff, leaves
//!   permanent ones with their task, and parks the tasks of a credential that must be
//!   authorized again in [`TaskState::Waiting`] until it is;
//! - [`export()`]: one line per sku × marketplace × media;
//! - [`credentials`]: the machine's credential store (SQLite, `0600`), where the tokens of
//!   every credential live and are refreshed under a write lock, one process at a time, and
//!   the workers' shared one in a PostgreSQL job store's database
//!   ([`credentials::PgCredentialStore`]: one row lock per refresh, expiries on the
//!   database's clock, a refusal recorded for every worker);
//! - [`cancel_batch`]: cancels unfinished tasks and the upload sessions they left open on the
//!   platforms (a session leaves the store only once its platform confirmed the cancel).
//!
//! See `docs/batch.md` for the task states and the design.
//!
//! ```no_run
//! # async fn demo(shopee: std::sync::Arc<dyn marketmedia_core::ChunkedVideoUploader>) -> marketmedia_batch::Result<()> {
//! use marketmedia_batch::{plan, store, Market, WorkOptions, Worker};
//!
//! let store = store::open("catalog.sqlite").await?;
//! let markets = vec![Market::new("shopee", "shop-1").with_video(shopee)];
//! let manifest = std::path::Path::new("catalog.csv");
//! let planned = plan(manifest, &markets, Some((store.as_ref(), "catalog"))).await?;
//! for problem in &planned.problems {
//!     eprintln!("{problem}");
//! }
//! let report = Worker::new(store, markets, WorkOptions::default()).run().await?;
//! println!("{} uploaded, {} reused", report.uploaded, report.reused);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod cancel;
pub mod credentials;
mod error;
mod export;
pub mod manifest;
mod market;
pub mod pace;
mod plan;
pub mod store;
mod worker;

pub use cancel::{cancel_batch, CancelReport, SessionLeft};
pub use error::{Error, Result};
pub use export::{export, ExportFormat, ExportRow};
pub use manifest::{ManifestFormat, ManifestReader, ProductRow};
pub use market::{Fields, Market, DEFAULT_UPLOADS_PER_MARKET};
pub use pace::PaceLimit;
pub use plan::{content_key, plan, MarketPlan, Plan, Problem};
pub use store::{JobStore, PostgresStore, SqliteStore, Task, TaskFilter, TaskState};
pub use worker::{Event, EventSink, WorkOptions, WorkReport, Worker};
