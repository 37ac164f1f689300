//! # marketmedia-cli
//!
//! The `marketmedia` command, and the pieces of it that examples and tests reuse:
//!
//! - [`Setup`]: the marketplaces the command knows (a [`Registry`], `marketmedia::registry()`
//!   by default) and their simulators; an application adds its own and runs the same
//!   command with [`main_with`] or [`run_with`];
//! - [`sandbox`]: every marketplace's simulator in-process, and clients pointed at them;
//! - [`config`]: accounts from `MARKETMEDIA_*` environment variables or a TOML file, read
//!   through each marketplace's declared settings;
//! - [`targets`]: a client per chosen account, configured or sandboxed;
//! - [`progress`]: one live bar per marketplace; [`report`]: the table and the JSON lines;
//! - [`commands`]: `upload`, `images`, `status`, `digest`, `sim`, `cleanup`, `soak`;
//!   [`batch`]: `batch …`.
//!
//! ```text
//! marketmedia upload [FILE] [--to ACCOUNT,MARKETPLACE,…] [--json] [--title T --cover-url U]
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
//! use marketmedia_core::{ChunkedVideoUploader, Overall, UploadDriver, UploadMeta, UploadOptions};
//!
//! let sandbox = Sandbox::start().await?;
//! let clients = sandbox.clients()?;
//! let providers: Vec<&dyn ChunkedVideoUploader> =
//!     clients.iter().map(|(_, c)| c.video().as_ref()).collect();
//! // Each marketplace's per-upload defaults (a Lazada title and cover) go with the upload.
//! let meta = clients
//!     .iter()
//!     .fold(UploadMeta::default(), |m, (_, c)| m.or(c.upload_defaults()));
//! let report = UploadDriver::new(UploadOptions::default())
//!     .with_meta(meta)
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
pub mod docs;
pub mod progress;
pub mod report;
pub mod sandbox;
pub mod soak;
pub mod stop;
pub mod targets;
pub mod tokens;

use marketmedia_core::{Marketplace, Registry};
use marketmedia_sim::standalone::SimulatorEntry;

pub use args::Cli;
pub use commands::run;

/// What the command knows: the marketplaces it uploads to, and the simulators its sandbox
/// starts (a marketplace without one only takes configured accounts).
///
/// The default is `marketmedia::registry()` and the sim crate's list
/// ([`marketmedia_sim::standalone::PLATFORMS`]). An application adds a marketplace of its own,
/// and the same command takes its accounts, variables, flags and simulator:
///
/// ```no_run
/// # fn demo(bazaar: impl marketmedia_core::Marketplace, sim: marketmedia_sim::standalone::SimulatorEntry) {
/// let setup = marketmedia_cli::Setup::default().with_marketplace(bazaar, Some(sim));
/// std::process::exit(marketmedia_cli::main_with(setup));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Setup {
    /// The marketplaces, in the order reports list them.
    pub registry: Registry,
    /// The simulators of the sandbox, in port order.
    pub simulators: Vec<SimulatorEntry>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            registry: marketmedia::registry(),
            simulators: marketmedia_sim::standalone::PLATFORMS.to_vec(),
        }
    }
}

impl Setup {
    /// These marketplaces and simulators.
    pub fn new(registry: Registry, simulators: Vec<SimulatorEntry>) -> Setup {
        Setup {
            registry,
            simulators,
        }
    }

    /// With one more marketplace (last, or in place of one of the same name), and its
    /// simulator when it has one.
    pub fn with_marketplace(
        mut self,
        market: impl Marketplace,
        simulator: Option<SimulatorEntry>,
    ) -> Setup {
        self.registry.register(std::sync::Arc::new(market));
        if let Some(sim) = simulator {
            self.simulators.retain(|s| s.name != sim.name);
            self.simulators.push(sim);
        }
        self
    }
}

/// Runs the command line `args` (the program's name first) with `setup`'s marketplaces:
/// the exit status, or clap's error (usage, help, version) to print.
pub async fn run_with<I, T>(setup: &Setup, args: I) -> std::result::Result<i32, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let (cli, flags) = args::parse_from(setup, args)?;
    Ok(finish(commands::run_with_flags(setup, cli, &flags).await))
}

/// The exit status of a command's result, its error printed on one line: a platform's
/// refusal of a credential's refresh is [`exit::REAUTHORIZE`].
fn finish(result: marketmedia_core::Result<i32>) -> i32 {
    match result {
        Ok(code) => tokens::exit_status(code),
        Err(err) => {
            // One readable line: the error's Display, never its Debug.
            eprintln!(
                "marketmedia: {}",
                err.to_string().replace(['\n', '\r'], " ")
            );
            if err.kind() == marketmedia_core::ErrorKind::Reauthorize {
                exit::REAUTHORIZE
            } else {
                tokens::exit_status(exit::FAILURE)
            }
        }
    }
}

/// The `marketmedia` binary with `setup`'s marketplaces: parses the process's arguments,
/// runs the command on a multi-threaded runtime and returns the exit status.
pub fn main_with(setup: Setup) -> i32 {
    // Usage errors exit with clap's status 2 (help and version with 0).
    let (cli, flags) = match args::parse_from(&setup, std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(e) => e.exit(),
    };
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("marketmedia: cannot start the async runtime: {e}");
            return exit::FAILURE;
        }
    };
    let code = finish(runtime.block_on(commands::run_with_flags(&setup, cli, &flags)));
    // A task still on the blocking pool (a digest pass a stop abandoned stops at its next
    // chunk) is not waited for long: a stopped command exits within its promise.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

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
    /// A platform refused to refresh an account's tokens (the refresh token was revoked,
    /// spent or expired): the seller must run `marketmedia accounts authorize NAME` for the
    /// accounts the error names, then run the command again.
    pub const REAUTHORIZE: i32 = 5;
    /// `upload`, `batch run` or `batch work` was stopped by SIGINT or SIGTERM: no new part
    /// or call was sent, what was in flight got a few seconds, the journal (or the job store,
    /// its leases released) was saved; run the same command to resume (128 + SIGINT's 2, as
    /// shells report an interrupted command). A second signal exits at once, with it too.
    pub const INTERRUPTED: i32 = 130;
}
