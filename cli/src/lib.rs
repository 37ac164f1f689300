//! # marketmedia-cli
//!
//! The `marketmedia` command, and the pieces of it that examples and tests reuse:
//!
//! - [`sandbox`]: every platform's simulator in-process, and providers pointed at them;
//! - [`config`]: credentials from `MARKETMEDIA_*` environment variables or a TOML file;
//! - [`targets`]: a provider per chosen marketplace, configured or sandboxed;
//! - [`progress`]: one live bar per marketplace; [`report`]: the table and the JSON lines;
//! - [`commands`]: `upload`, `images`, `status`, `digest`, `sim`, `cleanup`, `soak`;
//!   [`batch`]: `batch …`.
//!
//! ```text
//! marketmedia upload [FILE] [--to shopee,lazada,…] [--json] [--title T --cover-url U]
//! marketmedia images FILE... [--to …] [--json]
//! marketmedia status --platform P --id ID [--wait] [--json]
//! marketmedia digest FILE [--part-size N] [--json]
//! marketmedia sim [--listen ADDR]
//! ```
//!
//! Exit status (see [`exit`]): 0 when every marketplace succeeded, 3 when some did and some
//! failed, 1 when all failed or nothing could be tried, 2 for a usage error. See `docs/cli.md`.
//!
//! Uploading from code through the sandbox:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use marketmedia_cli::sandbox::Sandbox;
//! use marketmedia_core::{ChunkedVideoUploader, Overall, UploadDriver, UploadOptions};
//!
//! let sandbox = Sandbox::start().await?;
//! let (shopee, smh) = (sandbox.shopee()?, sandbox.smh()?);
//! let providers: [&dyn ChunkedVideoUploader; 2] = [&shopee, &smh];
//! let report = UploadDriver::new(UploadOptions::default())
//!     .upload_to_all(&providers, std::path::Path::new("kettle.mp4"))
//!     .await;
//! assert_eq!(report.overall(), Overall::AllSucceeded);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod accounts;
pub mod args;
pub mod batch;
pub mod check;
pub mod commands;
pub mod config;
pub mod platform;
pub mod progress;
pub mod report;
pub mod sandbox;
pub mod soak;
pub mod stop;
pub mod targets;

pub use args::Cli;
pub use commands::run;
pub use platform::Platform;

/// The process exit statuses.
pub mod exit {
    /// Every marketplace succeeded (for `status`: the asset is ready).
    pub const SUCCESS: i32 = 0;
    /// Every marketplace failed, or the command stopped before trying any (bad file, bad
    /// configuration); for `status`, processing failed or the status could not be read.
    pub const FAILURE: i32 = 1;
    /// The command line is wrong (clap's own status for usage errors).
    pub const USAGE: i32 = 2;
    /// Some marketplaces succeeded and some failed.
    pub const PARTIAL: i32 = 3;
    /// The platform is still processing the asset (`status`; `upload` when every
    /// marketplace succeeded and some are still processing — committed, not an error).
    pub const PENDING: i32 = 4;
    /// `upload`, `batch run` or `batch work` was stopped by SIGINT or SIGTERM: no new part
    /// or call was sent, what was in flight got a few seconds, the journal (or the job store,
    /// its leases released) was saved; run the same command to resume (128 + SIGINT's 2, as
    /// shells report an interrupted command). A second signal exits at once, with it too.
    pub const INTERRUPTED: i32 = 130;
}
