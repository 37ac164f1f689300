//! `marketmedia batch …`: a seller's catalog, resumable, on the job store of
//! `marketmedia-batch` (SQLite by default, PostgreSQL for many workers).
//!
//! ```text
//! marketmedia batch run MANIFEST [--store PATH|postgres://…] [--dry-run] [--json]
//! marketmedia batch work   [--store …] [--json]
//! marketmedia batch status [--store …] [--batch NAME] [--json]
//! marketmedia batch retry --failed [--store …] [--batch NAME]
//! marketmedia batch cancel [--store …] [--batch NAME] [--json]
//! marketmedia batch export --format csv|json [--output FILE] [--store …] [--batch NAME]
//! ```
//!
//! Marketplaces are the configured ones, and the embedded sandbox for the others (as for
//! `upload`). With the sandbox only, media a manifest names but that do not exist yet are
//! generated (sample videos and images), so `examples/catalog/catalog.csv` runs on a fresh
//! machine. See `docs/batch.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use marketmedia_batch::store::{self as job_store, redact_location, JobStore};
use marketmedia_batch::{
    cancel_batch, export, plan, Event, ExportFormat, ManifestReader, Market, Plan, TaskFilter,
    TaskState, WorkOptions, WorkReport, Worker,
};
use marketmedia_core::{Error, Result};
use marketmedia_sim::fixtures::{decodable_jpeg, decodable_png, write_sample_mp4};

use crate::commands::SAMPLE_DURATION;
use crate::config::Config;
use crate::exit;
use crate::report;
use crate::targets::{Targets, VideoMeta};

/// The environment variable naming the store (a path or a `postgres://` URL).
pub const STORE_ENV: &str = "MARKETMEDIA_BATCH_STORE";

/// `marketmedia batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Where credentials come from (as for `upload`).
    #[command(flatten)]
    pub config: crate::args::ConfigArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: BatchCommand,
}

/// The batch subcommands.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Check the whole manifest, add its tasks to the store, and work them in this process.
    Run(RunArgs),
    /// Join the work of the store's batches (several workers may share a PostgreSQL store).
    Work(WorkArgs),
    /// Counts by marketplace and state, and the failures with their reasons.
    Status(StatusArgs),
    /// Make failed tasks pending again (`--failed`).
    Retry(RetryArgs),
    /// Cancel every task not finished yet, and the upload sessions they hold open on the
    /// platforms.
    Cancel(CancelArgs),
    /// One line per sku × marketplace × media: asset id, URL, state and error.
    Export(ExportArgs),
}

/// Where the job store is.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// An SQLite file, or a `postgres://` URL for several workers (default:
    /// `$MARKETMEDIA_BATCH_STORE`, else `batch.sqlite` in the user's data directory).
    #[arg(long, value_name = "PATH|URL", env = STORE_ENV, hide_env_values = true)]
    pub store: Option<String>,
}

/// Which batch a command looks at.
#[derive(Debug, Args, Clone, Default)]
pub struct BatchFilter {
    /// Only this batch (its name in the store, as `batch run --batch` gave it; default: the
    /// manifest's file name). Default: every batch of the store.
    #[arg(long, value_name = "NAME")]
    pub batch: Option<String>,
}

/// How a worker works.
#[derive(Debug, Args, Clone)]
pub struct WorkerArgs {
    /// Uploads in flight at once per account, fixed. Default: adaptive, from 6 to 12: as
    /// many as raise the rate the account's link takes (docs/batch.md, "Limits").
    #[arg(long, value_name = "N")]
    pub uploads_per_market: Option<usize>,
    /// Uploads in flight at once in this process, over every account (a video polled until
    /// it is ready does not count).
    #[arg(long, default_value_t = 32)]
    pub tasks: usize,
    /// Seconds a claimed task stays leased without renewal (a dead worker's tasks are taken
    /// over after it).
    #[arg(long, default_value_t = 30)]
    pub lease_secs: u64,
    /// Attempts of a task before a transient failure is final.
    #[arg(long, default_value_t = 5)]
    pub attempts: u32,
    /// Print one JSON event per line instead of the progress bar.
    #[arg(long)]
    pub json: bool,
    /// Milliseconds between two looks at a credential whose tasks wait for authorization
    /// (a read of the credential store; nothing is sent to the platform).
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub auth_poll_ms: u64,
    /// Seconds a worker left with nothing but tasks waiting for authorization waits for it
    /// before it stops (another `batch work` resumes them).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub auth_wait_secs: u64,
}

/// `marketmedia batch run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The manifest: CSV (header with `sku`, `video`, `images`, `marketplaces`, and
    /// `MARKET.FIELD` columns such as `<marketplace>.title`) or JSON Lines (`.jsonl`).
    pub manifest: PathBuf,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print the plan (uploads, bytes and time per marketplace) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The bandwidth per marketplace the dry run's time is computed at, in bytes per second
    /// (KiB/MiB suffixes).
    #[arg(long, default_value = "8MiB", value_parser = crate::args::parse_size)]
    pub bandwidth: u64,
    /// The batch's name in the store (default: the manifest's file name).
    #[arg(long)]
    pub batch: Option<String>,
    /// The worker.
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// `marketmedia batch work`.
#[derive(Debug, Args)]
pub struct WorkArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The worker.
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// `marketmedia batch status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The batch.
    #[command(flatten)]
    pub filter: BatchFilter,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `marketmedia batch retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The batch.
    #[command(flatten)]
    pub filter: BatchFilter,
    /// Retry the tasks that failed for good (required: the only kind there is to retry;
    /// transient failures are retried by themselves).
    #[arg(long, required = true)]
    pub failed: bool,
}

/// `marketmedia batch cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The batch.
    #[command(flatten)]
    pub filter: BatchFilter,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// CSV with a header.
    Csv,
    /// JSON Lines.
    Json,
}

/// `marketmedia batch export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The batch.
    #[command(flatten)]
    pub filter: BatchFilter,
    /// The format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// The file to write (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// The default store: `batch.sqlite` in the user's data directory
/// (`~/.local/share/marketmedia/batch.sqlite` on Linux).
pub fn default_store() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("marketmedia")
        .join("batch.sqlite")
}

fn location(args: &StoreArgs) -> String {
    args.store
        .clone()
        .unwrap_or_else(|| default_store().display().to_string())
}

fn store_error(e: marketmedia_batch::Error) -> Error {
    match e {
        marketmedia_batch::Error::Upload(e) => e,
        other => Error::new(marketmedia_core::ErrorKind::Io, other.to_string()),
    }
}

async fn open(args: &StoreArgs) -> Result<Arc<dyn JobStore>> {
    job_store::open(&location(args)).await.map_err(store_error)
}

/// Runs `marketmedia batch …`.
pub async fn run(config: &Config, force_sandbox: bool, args: BatchArgs) -> Result<i32> {
    match args.command {
        BatchCommand::Run(a) => run_manifest(config, force_sandbox, a).await,
        BatchCommand::Work(a) => {
            let store = open(&a.store).await?;
            adopt_legacy_accounts(store.as_ref(), config, force_sandbox).await?;
            let (markets, _targets) =
                markets(config, force_sandbox, &a.worker, Some(&location(&a.store))).await?;
            let (report, stopped) = work(store.clone(), markets, &a.worker).await?;
            let code = finish(store.as_ref(), &report, None, a.worker.json).await?;
            Ok(if stopped {
                stopped_summary(&report, a.worker.json)
            } else {
                code
            })
        }
        BatchCommand::Status(a) => {
            let store = open(&a.store).await?;
            status(store.as_ref(), a.filter.batch.as_deref(), a.json).await?;
            Ok(exit::SUCCESS)
        }
        BatchCommand::Retry(a) => {
            let store = open(&a.store).await?;
            let n = store
                .retry_failed(a.filter.batch.as_deref())
                .await
                .map_err(store_error)?;
            println!("{n} failed task(s) are pending again; `marketmedia batch work` sends them");
            Ok(exit::SUCCESS)
        }
        BatchCommand::Cancel(a) => cancel(config, force_sandbox, a).await,
        BatchCommand::Export(a) => {
            let store = open(&a.store).await?;
            let format = match a.format {
                Format::Csv => ExportFormat::Csv,
                Format::Json => ExportFormat::Json,
            };
            match &a.output {
                Some(path) => {
                    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
                    export(store.as_ref(), format, a.filter.batch.as_deref(), file)
                        .await
                        .map_err(store_error)?
                }
                None => export(
                    store.as_ref(),
                    format,
                    a.filter.batch.as_deref(),
                    std::io::stdout().lock(),
                )
                .await
                .map_err(store_error)?,
            };
            Ok(exit::SUCCESS)
        }
    }
}

/// The markets of a batch: every configured account, or every marketplace's embedded
/// simulator when none is configured (or with `--sandbox`); the returned targets keep the
/// sandbox running. A market is named after its account and keyed by its identity.
///
/// With a PostgreSQL job store (`store`), the accounts' credentials live in that database
/// (one source of truth for every worker), not in this machine's credential store.
pub async fn markets(
    config: &Config,
    force_sandbox: bool,
    worker: &WorkerArgs,
    store: Option<&str>,
) -> Result<(Vec<Market>, Targets)> {
    let meta = VideoMeta {
        sandbox_title: "Product video".into(),
        shared_credentials: store
            .filter(|s| crate::tokens::is_shared(s))
            .map(str::to_owned),
        ..VideoMeta::default()
    };
    let mut targets = Targets::chosen(&[], config, &meta, force_sandbox).await?;
    let mut out = Vec::new();
    for target in std::mem::take(&mut targets.targets) {
        // One uploader for every product: a row's own fields (a manifest's
        // `<marketplace>.title`) over the account's (or the sandbox's), which are the market's
        // defaults; the rules' required fields are checked for every row before any request.
        let market = Market::new(target.account.clone(), target.identity.clone())
            .with_video(target.client.video().clone())
            .with_images(target.client.images().clone())
            .with_defaults(target.meta());
        out.push(market.with_platform(target.platform()).with_uploads(
            match worker.uploads_per_market {
                Some(n) => marketmedia_batch::PaceLimit::Fixed(n.max(1)),
                None => marketmedia_batch::PaceLimit::default(),
            },
        ));
    }
    Ok((out, targets))
}

/// Moves what a store written before accounts keeps under the old account keys to the
/// identities of the accounts that take over those entries (the account named after its
/// marketplace, or the marketplace's only account), so its tasks resume and its assets are
/// reused. Embedded simulators are left alone: the assets of a sandbox that is gone are of
/// no use.
async fn adopt_legacy_accounts(
    store: &dyn JobStore,
    config: &Config,
    force_sandbox: bool,
) -> Result<()> {
    if force_sandbox {
        return Ok(());
    }
    // Unfinished tasks of an account no longer configured (removed, or renamed: tasks are
    // stored under the account's name) are said, never left silently.
    let counts = store.counts(None).await.map_err(store_error)?;
    let mut orphans: BTreeMap<String, u64> = BTreeMap::new();
    for c in counts.iter().filter(|c| !c.state.is_final()) {
        let known = config.account(&c.marketplace).is_some()
            || (config.accounts.is_empty() && config.registry.get(&c.marketplace).is_some());
        if !known {
            *orphans.entry(c.marketplace.clone()).or_default() += c.tasks;
        }
    }
    for (name, n) in orphans {
        eprintln!(
            "warning: the store holds {n} unfinished task(s) of account {name}, which is not \
             configured (removed or renamed): configure it again to finish them, or run \
             `marketmedia batch cancel` to close them"
        );
    }
    for account in &config.accounts {
        let of = config.accounts_of(account.market.name()).count();
        let Some(old_key) = &account.pre_accounts_key else {
            continue;
        };
        if account.legacy || of == 1 {
            store
                .adopt_account(account.market.name(), old_key, &account.identity)
                .await
                .map_err(store_error)?;
        }
    }
    Ok(())
}

/// With the sandbox only: writes the sample media a manifest names but that are missing.
async fn generate_missing_media(manifest: &Path) -> Result<usize> {
    let mut missing = BTreeSet::new();
    let reader = ManifestReader::open(manifest).map_err(store_error)?;
    for row in reader.flatten() {
        for path in row.video.iter().chain(row.images.iter()) {
            if !path.exists() {
                missing.insert(path.clone());
            }
        }
    }
    for (n, path) in missing.iter().enumerate() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            // Distinct sizes, so distinct content: each is its own asset.
            Some("mp4") | Some("mov") => {
                write_sample_mp4(path, SAMPLE_DURATION, (3 << 20) + n as u64 * 4096)?
            }
            // Real pictures: a provider may decode every image to send its dimensions.
            Some("jpg") | Some("jpeg") => std::fs::write(path, decodable_jpeg(40_000 + n)?)?,
            Some("png") => std::fs::write(path, decodable_png(40_000 + n)?)?,
            _ => continue,
        }
    }
    Ok(missing.len())
}

async fn run_manifest(config: &Config, force_sandbox: bool, args: RunArgs) -> Result<i32> {
    let (markets, targets) = markets(
        config,
        force_sandbox,
        &args.worker,
        Some(&location(&args.store)),
    )
    .await?;
    let all_sandbox = force_sandbox || config.accounts.is_empty();
    if all_sandbox {
        let n = generate_missing_media(&args.manifest).await?;
        if n > 0 && !args.worker.json {
            eprintln!("generated {n} sample media file(s) for the sandbox");
        }
    }
    let batch = args.batch.clone().unwrap_or_else(|| {
        args.manifest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "batch".into())
    });
    if args.dry_run {
        let planned = plan(&args.manifest, &markets, None)
            .await
            .map_err(store_error)?;
        print_plan(&planned, Some(args.bandwidth), args.worker.json);
        return Ok(if planned.problems.is_empty() {
            exit::SUCCESS
        } else {
            exit::PARTIAL
        });
    }
    let store = open(&args.store).await?;
    adopt_legacy_accounts(store.as_ref(), config, force_sandbox).await?;
    if !args.worker.json {
        eprintln!("store: {}", redact_location(&location(&args.store)));
    }
    let planned = plan(&args.manifest, &markets, Some((store.as_ref(), &batch)))
        .await
        .map_err(store_error)?;
    print_plan(&planned, None, args.worker.json);
    let (report, stopped) = work(store.clone(), markets, &args.worker).await?;
    drop(targets);
    let code = finish(store.as_ref(), &report, Some(&batch), args.worker.json).await?;
    if stopped {
        return Ok(stopped_summary(&report, args.worker.json));
    }
    Ok(if code == exit::SUCCESS && !planned.problems.is_empty() {
        exit::PARTIAL
    } else {
        code
    })
}

fn print_plan(planned: &Plan, bandwidth: Option<u64>, json: bool) {
    if json {
        let mut value = serde_json::json!({ "event": "plan", "plan": planned });
        if let Some(bw) = bandwidth {
            value["seconds"] = serde_json::json!(planned.seconds_at(bw));
        }
        println!("{value}");
        return;
    }
    for p in &planned.problems {
        eprintln!("{p}");
    }
    println!(
        "{} row(s): {} good, {} with problems; {} task(s), {} new in the store",
        planned.rows,
        planned.good_rows,
        planned.rows - planned.good_rows,
        planned.tasks(),
        planned.tasks_added
    );
    let rows: Vec<Vec<String>> = planned
        .markets
        .iter()
        .map(|(m, p)| {
            let mut row = vec![
                m.clone(),
                p.videos.to_string(),
                p.images.to_string(),
                p.bytes.to_string(),
            ];
            if let Some(bw) = bandwidth {
                row.push(format!("{:.1}", p.bytes as f64 / bw.max(1) as f64));
            }
            row
        })
        .collect();
    let mut headers = vec!["marketplace", "videos", "images", "bytes"];
    if bandwidth.is_some() {
        headers.push("seconds");
    }
    print!("{}", report::table(&headers, &rows));
    if let Some(bw) = bandwidth {
        println!(
            "about {:.1} s at {bw} B/s per marketplace, marketplaces in parallel",
            planned.seconds_at(bw)
        );
    }
}

/// What a stopped `batch run` or `batch work` prints last (on stderr; nothing with `--json`,
/// whose `finished` event carries `released`), and its exit status.
fn stopped_summary(report: &WorkReport, json: bool) -> i32 {
    if !json {
        eprintln!(
            "marketmedia: stopped. {} unfinished task(s) released: any worker claims them at \
             once, resuming their sessions (`marketmedia batch work`).",
            report.released
        );
    }
    exit::INTERRUPTED
}

/// Works the store's tasks until none is left or a signal stops the worker; `true` when a
/// signal did (SIGINT or SIGTERM: no new task is claimed, the uploads in flight stop within
/// the grace, and the unfinished tasks' leases are released).
async fn work(
    store: Arc<dyn JobStore>,
    markets: Vec<Market>,
    args: &WorkerArgs,
) -> Result<(WorkReport, bool)> {
    let names: Vec<String> = markets.iter().map(|m| m.name.clone()).collect();
    let total = store.outstanding(&names).await.map_err(store_error)?.tasks;
    let stop = crate::stop::StopOnSignal::install(format!(
        "no new task is claimed; uploads in flight get {} s to finish, then the unfinished \
         tasks are released for another worker (a second Ctrl-C exits at once)…",
        marketmedia_core::DEFAULT_STOP_GRACE.as_secs()
    ));
    let opts = WorkOptions {
        lease: std::time::Duration::from_secs(args.lease_secs.max(1)),
        max_in_flight: args.tasks.max(1),
        max_attempts: args.attempts.max(1),
        auth_poll: std::time::Duration::from_millis(args.auth_poll_ms.max(10)),
        auth_wait: std::time::Duration::from_secs(args.auth_wait_secs),
        upload: marketmedia_core::UploadOptions {
            stop: Some(stop.signal()),
            ..marketmedia_core::UploadOptions::default()
        },
        ..WorkOptions::default()
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:32} {pos}/{len} tasks, {prefix} sent, ETA {eta} {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    };
    let per_market: Arc<Mutex<BTreeMap<String, (u64, u64)>>> = Arc::default();
    let json = args.json;
    let sink_bar = bar.clone();
    let sink_counts = per_market.clone();
    let sink_bytes: Arc<Mutex<u64>> = Arc::default();
    let sink = Arc::new(move |event: &Event| {
        if json {
            if let Ok(line) = serde_json::to_string(event) {
                println!("{line}");
            }
            return;
        }
        let (marketplace, ok) = match event {
            Event::Done {
                marketplace,
                bytes_sent,
                ..
            } => {
                sink_bar.inc(1);
                if let Ok(mut sent) = sink_bytes.lock() {
                    *sent += bytes_sent;
                    sink_bar.set_prefix(indicatif::HumanBytes(*sent).to_string());
                }
                (marketplace, true)
            }
            Event::Failed {
                marketplace,
                retry: false,
                sku,
                message,
                ..
            } => {
                sink_bar.inc(1);
                sink_bar.println(format!("{sku} [{marketplace}]: {message}"));
                (marketplace, false)
            }
            _ => return,
        };
        if let Ok(mut counts) = sink_counts.lock() {
            let c = counts.entry(marketplace.clone()).or_default();
            if ok {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
            let msg: Vec<String> = counts
                .iter()
                .map(|(m, (d, f))| format!("{m} {d} done {f} failed"))
                .collect();
            sink_bar.set_message(msg.join(", "));
        }
    });
    if total == 0 && !json {
        bar.finish_and_clear();
        println!("nothing to send: every task in the store is finished");
    }
    let worker = Worker::new(store, markets, opts).with_events(sink);
    let report = worker.run().await.map_err(store_error)?;
    bar.finish_and_clear();
    Ok((report, stop.stopped()))
}

/// `marketmedia batch cancel`: the store's unfinished tasks, then the sessions they hold open
/// on the configured marketplaces. Exits 3 (partial) when a session could not be closed: the
/// store keeps it and a rerun tries again.
async fn cancel(config: &Config, force_sandbox: bool, args: CancelArgs) -> Result<i32> {
    let store = open(&args.store).await?;
    adopt_legacy_accounts(store.as_ref(), config, force_sandbox).await?;
    let worker = WorkerArgs {
        uploads_per_market: Some(marketmedia_batch::DEFAULT_UPLOADS_PER_MARKET),
        tasks: 1,
        lease_secs: 30,
        attempts: 1,
        json: args.json,
        auth_poll_ms: 5000,
        auth_wait_secs: 0,
    };
    let (markets, targets) =
        markets(config, force_sandbox, &worker, Some(&location(&args.store))).await?;
    // The embedded sandbox of an earlier process is gone, and its sessions with it: only
    // configured marketplaces are asked to cancel.
    let reachable: Vec<Market> = markets
        .into_iter()
        .filter(|m| !m.account.starts_with("sandbox:"))
        .collect();
    let report = cancel_batch(store.as_ref(), &reachable, args.filter.batch.as_deref())
        .await
        .map_err(store_error)?;
    drop(targets);
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "event": "cancelled", "report": report })
        );
    } else {
        println!(
            "{} unfinished task(s) cancelled; {} open upload session(s) cancelled on the platforms",
            report.tasks_cancelled, report.sessions_closed
        );
        for done in &report.committed {
            println!(
                "committed: {} [{}] (task {}): {}",
                done.sku, done.marketplace, done.task, done.reason
            );
        }
        for left in &report.sessions_left {
            println!(
                "still open: {} [{}] (task {}): {}",
                left.sku, left.marketplace, left.task, left.reason
            );
        }
        if !report.sessions_left.is_empty() {
            println!("the store keeps these sessions; `marketmedia batch cancel` tries them again");
        }
    }
    Ok(if report.sessions_left.is_empty() {
        exit::SUCCESS
    } else {
        exit::PARTIAL
    })
}

async fn finish(
    store: &dyn JobStore,
    report: &WorkReport,
    batch: Option<&str>,
    json: bool,
) -> Result<i32> {
    if json {
        println!(
            "{}",
            serde_json::json!({ "event": "finished", "report": report })
        );
    } else {
        println!(
            "uploaded {}, reused {}, failed {}, retrying later {}, {} bytes sent",
            report.uploaded, report.reused, report.failed, report.retrying, report.bytes_sent
        );
        status(store, batch, false).await?;
    }
    let counts = store.counts(batch).await.map_err(store_error)?;
    let n = |s: TaskState| {
        counts
            .iter()
            .filter(|c| c.state == s)
            .map(|c| c.tasks)
            .sum::<u64>()
    };
    let (done, failed) = (n(TaskState::Done), n(TaskState::Failed));
    if n(TaskState::Waiting) > 0 {
        // Not failed: the seller authorizes, then any `batch work` sends them.
        let mut accounts: BTreeSet<&str> = BTreeSet::new();
        for c in counts.iter().filter(|c| c.state == TaskState::Waiting) {
            accounts.insert(&c.marketplace);
        }
        for a in accounts {
            eprintln!(
                "marketmedia: tasks of {a} wait for authorization: run `{} {a}` (with the \
                 batch's `--store` when it is a PostgreSQL store); `marketmedia batch work` \
                 then sends them",
                marketmedia_core::AUTHORIZE_COMMAND
            );
        }
        return Ok(exit::REAUTHORIZE);
    }
    Ok(match (done, failed) {
        (_, 0) => exit::SUCCESS,
        (0, _) => exit::FAILURE,
        _ => exit::PARTIAL,
    })
}

/// The accounts whose tasks wait for authorization: how many tasks, and the message of the
/// latest (the platform's refusal and the command to run; never a secret).
async fn waiting_for_authorization(
    store: &dyn JobStore,
    batch: Option<&str>,
) -> Result<BTreeMap<String, (u64, String)>> {
    let mut by_account: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store
            .tasks(
                after,
                500,
                &TaskFilter::state(TaskState::Waiting).in_batch(batch),
            )
            .await
            .map_err(store_error)?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        for t in &page {
            let entry = by_account.entry(t.spec.marketplace.clone()).or_default();
            entry.0 += 1;
            if let Some(m) = &t.error_message {
                entry.1 = m.clone();
            }
        }
    }
    Ok(by_account)
}

/// Prints counts by marketplace and state, the accounts waiting for authorization, then the
/// failures with their reasons.
async fn status(store: &dyn JobStore, batch: Option<&str>, json: bool) -> Result<()> {
    let counts = store.counts(batch).await.map_err(store_error)?;
    let failed = store
        .tasks(
            0,
            100,
            &TaskFilter::state(TaskState::Failed).in_batch(batch),
        )
        .await
        .map_err(store_error)?;
    let waiting = waiting_for_authorization(store, batch).await?;
    if json {
        let failures: Vec<_> = failed
            .iter()
            .map(marketmedia_batch::ExportRow::from)
            .collect();
        let waiting: Vec<_> = waiting
            .iter()
            .map(|(account, (tasks, message))| {
                serde_json::json!({ "account": account, "tasks": tasks, "message": message })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "counts": counts, "failures": failures, "waiting_for_authorization": waiting })
        );
        return Ok(());
    }
    let mut table: BTreeMap<String, BTreeMap<TaskState, u64>> = BTreeMap::new();
    for c in &counts {
        *table
            .entry(c.marketplace.clone())
            .or_default()
            .entry(c.state)
            .or_default() += c.tasks;
    }
    let headers: Vec<&str> = std::iter::once("account")
        .chain(TaskState::ALL.iter().map(|s| s.as_str()))
        .collect();
    let rows: Vec<Vec<String>> = table
        .iter()
        .map(|(m, by)| {
            std::iter::once(m.clone())
                .chain(
                    TaskState::ALL
                        .iter()
                        .map(|s| by.get(s).copied().unwrap_or(0).to_string()),
                )
                .collect()
        })
        .collect();
    print!("{}", report::table(&headers, &rows));
    let mut out = std::io::stdout().lock();
    for (account, (tasks, message)) in &waiting {
        let _ = writeln!(
            out,
            "waiting for authorization: {account} ({tasks} task(s)): {message}"
        );
    }
    for t in &failed {
        let _ = writeln!(
            out,
            "failed: {} {} [{}]: {}",
            t.spec.sku,
            t.spec.media,
            t.spec.marketplace,
            t.error_message.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
