//! The subcommands. Each returns the process exit status ([`crate::exit`]) or an error that
//! stops the command before any marketplace was tried (printed as one line, status 1).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use marketmedia_core::digest_file_async;
use marketmedia_core::images_overall;
use marketmedia_core::{
    Completion, DigestRequest, Error, ErrorKind, FanOutReport, ImageSource, ImageUploader, Journal,
    MarketReport, Overall, ProcessingHandle, ProcessingStatus, Result, RetryPolicy, UploadDriver,
    UploadOptions,
};
use marketmedia_sim::fixtures::write_sample_mp4;
use serde::Serialize;

use crate::accounts::{Account, Chosen};
use crate::args::{
    CleanupArgs, Cli, Command, ConfigArgs, DigestArgs, ImagesArgs, JournalArgs, SimArgs,
    StatusArgs, TimeoutArgs, UploadArgs,
};
use crate::config::{process_env, Config};
use crate::exit;
use crate::progress::Bars;
use crate::report::{self, ErrorRecord};
use crate::targets::{Targets, VideoMeta};

/// Duration of the sample video `upload` generates when no file is given.
pub const SAMPLE_DURATION: Duration = Duration::from_secs(12);
/// Size of the sample video: 6 MiB (a few parts on every marketplace, under the smallest
/// limit of them).
pub const SAMPLE_BYTES: u64 = 6 * 1024 * 1024;

/// The largest image read from disk (the most any bundled platform accepts); each
/// platform's own, lower limit is checked before its request.
pub const MAX_IMAGE_READ: u64 = 50 * 1024 * 1024;

/// Runs a parsed command line with the bundled marketplaces and simulators.
pub async fn run(cli: Cli) -> Result<i32> {
    run_with_flags(
        &crate::Setup::default(),
        cli,
        &crate::args::MarketFlags::default(),
    )
    .await
}

/// Runs a parsed command line with `setup`'s marketplaces and simulators; `flags` are the
/// marketplaces' own command-line flags it carried (`--<marketplace>-<key> VALUE`).
pub async fn run_with_flags(
    setup: &crate::Setup,
    cli: Cli,
    flags: &crate::args::MarketFlags,
) -> Result<i32> {
    let load = |args: &ConfigArgs| -> Result<Config> {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect();
        let loaded = if args.sandbox {
            Ok(Config::empty(setup))
        } else {
            Config::load(setup, args.config.as_deref(), &process_env, &names)
        };
        // Account variables are known once the accounts are.
        let accounts = loaded
            .as_ref()
            .map(|c| c.env_names.clone())
            .unwrap_or_default();
        let names = names.into_iter().filter(|n| {
            loaded.is_ok() || !n.starts_with(marketmedia_core::raw::ACCOUNT_ENV_PREFIX)
        });
        crate::config::warn_unknown_env(&setup.registry, names, &accounts);
        let mut config = loaded?;
        for (market, key, value) in &flags.values {
            config.set_from_command_line(market, key, value)?;
        }
        Ok(config)
    };
    match cli.command {
        Command::Upload(args) => upload(&load(&args.config)?, args.config.sandbox, args).await,
        Command::Images(args) => images(&load(&args.config)?, args.config.sandbox, args).await,
        Command::Status(args) => status(&load(&args.config)?, args.config.sandbox, args).await,
        Command::Digest(args) => digest(args).await,
        Command::Accounts(args) => crate::accounts::command(&load(&args.config)?, args).await,
        Command::Sim(args) => sim(args).await,
        Command::Cleanup(args) => cleanup(&load(&args.config)?, args.config.sandbox, args).await,
        Command::Soak(args) => crate::soak::soak(setup, args).await,
        Command::Batch(args) => {
            let config = load(&args.config)?;
            let sandbox = args.config.sandbox;
            crate::batch::run(&config, sandbox, args).await
        }
    }
}

/// Writes to stdout, ignoring a closed pipe (`marketmedia … | head` is not an error).
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn json_line<T: Serialize>(value: &T) -> Result<()> {
    let line = serde_json::to_string(value)
        .map_err(|e| Error::new(ErrorKind::Protocol, format!("cannot encode JSON: {e}")))?;
    out(&format!("{line}\n"));
    Ok(())
}

fn status_of(overall: Overall) -> i32 {
    match overall {
        Overall::AllSucceeded => exit::SUCCESS,
        Overall::Partial => exit::PARTIAL,
        Overall::AllFailed => exit::FAILURE,
    }
}

/// The exit status of a video fan-out: as [`status_of`], except that when every marketplace
/// succeeded and some are still processing (committed; the poll gave up at its deadline or
/// `--no-wait`), it is [`exit::PENDING`] — not an error: ask later with `status`.
fn upload_status_of(report: &FanOutReport, no_wait: bool) -> i32 {
    let processing = report.reports.iter().any(|r| {
        matches!(
            r.result.as_ref().map(|o| &o.completion),
            Ok(Completion::Processing(_))
        )
    });
    match report.overall() {
        Overall::AllSucceeded if processing && !no_wait => exit::PENDING,
        other => status_of(other),
    }
}

pub use marketmedia_core::human_size;

impl TimeoutArgs {
    /// The client options these flags ask for (0 is read as 1 second): the timeouts and the
    /// progress-based watchdog of every client the command builds, the other options at
    /// their defaults.
    pub fn client_options(&self) -> marketmedia_core::ClientOptions {
        use marketmedia_core::{ClientOptions, HttpTimeouts, LowSpeed, Watchdog};
        let secs = |n: u64| Duration::from_secs(n.max(1));
        ClientOptions::default()
            .with_watchdog(Some(Watchdog {
                first_byte: secs(self.first_byte_timeout),
                idle: secs(self.idle_timeout),
                total: secs(self.request_timeout),
                answer: secs(self.answer_timeout),
                low_speed: (self.low_speed_limit > 0).then(|| LowSpeed {
                    bytes_per_sec: self.low_speed_limit,
                    window: secs(self.low_speed_time),
                }),
            }))
            .with_timeouts(HttpTimeouts {
                connect: secs(self.connect_timeout),
                read_idle: secs(self.idle_timeout),
            })
    }
}

/// `marketmedia upload`.
pub async fn upload(config: &Config, force_sandbox: bool, args: UploadArgs) -> Result<i32> {
    let sample_dir;
    let (path, generated) = match &args.file {
        Some(p) if !p.is_file() => {
            return Err(Error::invalid_input(format!(
                "{} is not a readable file",
                p.display()
            )))
        }
        Some(p) => (p.clone(), false),
        None => {
            sample_dir = tempfile::tempdir()?;
            let p = sample_dir.path().join("sample.mp4");
            write_sample_mp4(&p, SAMPLE_DURATION, SAMPLE_BYTES)?;
            (p, true)
        }
    };
    let meta = VideoMeta {
        sandbox_title: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sample".into()),
        options: args.timeouts.client_options(),
        ..VideoMeta::default()
    }
    .with_flags(args.title.clone(), args.cover_url.clone());
    let targets = Targets::chosen(&args.to, config, &meta, force_sandbox).await?;

    if !args.json {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let what = if generated {
            format!(
                "a generated {} s, {} sample video",
                SAMPLE_DURATION.as_secs(),
                human_size(size)
            )
        } else {
            format!("{} ({})", path.display(), human_size(size))
        };
        out(&report::header(&what, &targets.targets));
    }

    // A marketplace the CLI already knows cannot take the video gets no request.
    let problems: Vec<Option<Error>> = targets.targets.iter().map(|t| t.video_problem()).collect();
    // Each upload carries its own fields (the command's `--title`, else the account's).
    let runnable: Vec<marketmedia_core::AccountUpload<'_>> = targets
        .targets
        .iter()
        .zip(&problems)
        .filter(|(_, p)| p.is_none())
        .map(|(t, _)| {
            marketmedia_core::AccountUpload::new(t.account_ref(), t.client.video().as_ref())
                .with_meta(t.meta())
        })
        .collect();
    let names: Vec<&str> = runnable.iter().map(|u| u.account.name.as_str()).collect();
    let bars = (!args.json).then(|| Bars::new(&names));
    let stop = crate::stop::StopOnSignal::install(format!(
        "no new part is sent and no new call starts; what is in flight gets {} s to finish \
         (a second Ctrl-C exits at once)…",
        marketmedia_core::DEFAULT_STOP_GRACE.as_secs()
    ));
    let driver = UploadDriver::new(UploadOptions {
        stop: Some(stop.signal()),
        progress: bars.as_ref().map(|b| b.sink()),
        retry: args.retry.policy(),
        wait_for_processing: !args.no_wait,
        concurrency: usize::try_from(args.concurrency)
            .unwrap_or(marketmedia_core::DEFAULT_CONCURRENCY),
        ..UploadOptions::default()
    });
    // Sessions on configured marketplaces are journaled so a crash or kill resumes them; the
    // embedded simulators die with the process, so there is nothing to resume there.
    let journal = if args.no_journal || targets.targets.iter().all(|t| t.sandbox) {
        None
    } else {
        Some(open_journal(&args.journal)?)
    };
    if let Some(journal) = &journal {
        for line in orphan_warnings(config, journal) {
            out_err(&line);
        }
    }
    let ran = if runnable.is_empty() {
        FanOutReport {
            reports: Vec::new(),
        }
    } else {
        driver
            .upload_to_accounts(&runnable, &path, journal.as_ref())
            .await
    };
    if let Some(bars) = &bars {
        bars.finish();
    }

    let mut ran = ran.reports.into_iter();
    let reports: Vec<MarketReport> = targets
        .targets
        .iter()
        .zip(problems)
        .map(|(t, problem)| match problem {
            Some(e) => MarketReport {
                platform: t.platform().to_owned(),
                account: Some(t.account.clone()),
                result: Err(e),
            },
            None => ran.next().unwrap_or_else(|| MarketReport {
                platform: t.platform().to_owned(),
                account: Some(t.account.clone()),
                result: Err(Error::protocol("no result").with_platform(t.platform())),
            }),
        })
        .collect();
    let report = FanOutReport { reports };
    let records = report::upload_records(&targets.targets, &report);
    if args.json {
        for r in &records {
            json_line(r)?;
        }
    } else {
        let errors: Vec<Option<&Error>> = report
            .reports
            .iter()
            .map(|r| r.result.as_ref().err())
            .collect();
        out(&format!("\n{}", report::upload_summary(&records, &errors)));
        out(&report::processing_hints(&records));
    }
    if stop.stopped() {
        out_err(&stop_summary(&report, journal.is_some(), &args));
        return Ok(exit::INTERRUPTED);
    }
    Ok(upload_status_of(&report, args.no_wait))
}

/// Writes to stderr, ignoring a closed pipe.
fn out_err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// What `upload` prints when a signal stopped it: which marketplaces can be resumed and the
/// command that resumes them.
fn stop_summary(report: &FanOutReport, journaled: bool, args: &UploadArgs) -> String {
    // A marketplace still processing when the stop came is journaled with its handle: the
    // rerun polls it.
    let unfinished: Vec<&str> = report
        .reports
        .iter()
        .filter(|r| match &r.result {
            Err(_) => true,
            Ok(outcome) => !args.no_wait && matches!(outcome.completion, Completion::Processing(_)),
        })
        .map(|r| r.account.as_deref().unwrap_or(&r.platform))
        .collect();
    if unfinished.is_empty() {
        return "marketmedia: stopped, but every account had finished.\n".to_owned();
    }
    let list = unfinished.join(", ");
    match (&args.file, journaled) {
        (Some(file), true) => format!(
            "marketmedia: stopped. Resumable from the journal: {list}.\nResume with: {}\n",
            resume_command(file, &unfinished)
        ),
        (None, _) => format!(
            "marketmedia: stopped. Not finished: {list}; the generated sample video is gone, \
             so there is nothing to resume.\n"
        ),
        (Some(_), false) => format!(
            "marketmedia: stopped. Not finished: {list}; nothing was journaled (the sandbox \
             forgets its uploads, or --no-journal), so a rerun starts afresh.\n"
        ),
    }
}

/// The command that resumes `file` on `platforms`: this command's own arguments, with the
/// marketplaces narrowed to the unfinished ones.
fn resume_command(file: &Path, platforms: &[&str]) -> String {
    let mut words: Vec<String> = vec!["marketmedia".into(), "upload".into()];
    let mut args = std::env::args().skip(1).peekable();
    // Keep every option but the marketplaces (and the subcommand, already written).
    let mut seen_upload = false;
    while let Some(a) = args.next() {
        if !seen_upload && a == "upload" {
            seen_upload = true;
            continue;
        }
        if a == "--to" {
            args.next();
            continue;
        }
        if a.starts_with("--to=") {
            continue;
        }
        words.push(a);
    }
    if !seen_upload {
        words.push(file.display().to_string());
    }
    words.push("--to".into());
    words.push(platforms.join(","));
    words
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `w` quoted for a POSIX shell when it needs to be.
fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// `marketmedia images`.
pub async fn images(config: &Config, force_sandbox: bool, args: ImagesArgs) -> Result<i32> {
    let mut sources = Vec::with_capacity(args.files.len());
    for path in &args.files {
        sources.push(ImageSource::read(path, MAX_IMAGE_READ).await?);
    }
    let names: Vec<String> = sources.iter().map(|s| s.file_name.clone()).collect();
    let meta = VideoMeta {
        options: args.timeouts.client_options(),
        ..VideoMeta::default()
    };
    let targets = Targets::chosen(&args.to, config, &meta, force_sandbox).await?;
    if !args.json {
        let what = marketmedia_core::count(sources.len() as u64, "image", "images");
        out(&report::header(&what, &targets.targets));
    }
    // Each image is decoded once (off the async runtime), then checked per platform. The
    // results are keyed by the image's buffer, which clones of an `ImageSource` share.
    let decoded: std::collections::HashMap<usize, std::result::Result<Option<(u32, u32)>, String>> = {
        let sources = sources.clone();
        tokio::task::spawn_blocking(move || {
            sources
                .iter()
                .map(|s| {
                    let result =
                        marketmedia_core::decode_image(s).map_err(|e| e.message().to_owned());
                    (s.data.as_ptr() as usize, result)
                })
                .collect()
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("the image check failed: {e}")))?
    };
    let registry = config.registry.clone();
    let check = move |rules: &marketmedia_core::ImageRules, img: &ImageSource| -> Result<()> {
        marketmedia_core::check_image(rules, img)?;
        match decoded.get(&(img.data.as_ptr() as usize)) {
            Some(Err(why)) => Err(Error::invalid_input(why.clone()).with_platform(&rules.platform)),
            Some(Ok(Some(dims))) => match registry
                .get(&rules.platform)
                .and_then(|m| m.max_image_dimensions())
            {
                Some(max) => {
                    marketmedia_core::check_dimensions(&rules.platform, &img.file_name, *dims, max)
                }
                None => Ok(()),
            },
            _ => Ok(()),
        }
    };
    let policy = args.retry.policy();
    let retrying: Vec<RetryingImages<'_>> = targets
        .targets
        .iter()
        .map(|t| RetryingImages {
            inner: t.client.images().as_ref(),
            policy: policy.clone(),
        })
        .collect();
    let uploaders: Vec<&dyn ImageUploader> =
        retrying.iter().map(|r| r as &dyn ImageUploader).collect();
    let reports =
        marketmedia_core::upload_images_to_all_checked(&uploaders, &sources, &check).await;
    let records = report::image_records(&targets.targets, &reports, &names);
    if args.json {
        for r in &records {
            json_line(r)?;
        }
    } else {
        out(&format!("\n{}", report::images_summary(&records)));
    }
    Ok(status_of(images_overall(&reports)))
}

/// An image uploader whose calls are retried with the command's retry policy (the same one
/// `upload` uses for every call): a call that failed as a whole with a retryable error
/// (connection failure, timeout, 5xx, 429) is sent again after the policy's delay.
struct RetryingImages<'a> {
    inner: &'a dyn ImageUploader,
    policy: RetryPolicy,
}

#[async_trait::async_trait]
impl ImageUploader for RetryingImages<'_> {
    fn image_rules(&self) -> &marketmedia_core::ImageRules {
        self.inner.image_rules()
    }

    async fn upload_images(
        &self,
        images: &[ImageSource],
    ) -> Result<Vec<Result<marketmedia_core::UploadedImage>>> {
        with_retry(&self.policy, || self.inner.upload_images(images)).await
    }
}

/// Runs `call` until it succeeds or `policy` says to stop.
async fn with_retry<T, F, Fut>(policy: &RetryPolicy, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) => match policy.next_delay(attempt, &e) {
                Some(delay) => {
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                None => return Err(e),
            },
        }
    }
}

/// What `status --json` prints.
#[derive(Debug, Serialize)]
pub struct StatusRecord {
    /// The account asked.
    pub account: String,
    /// Platform name.
    pub platform: String,
    /// The id asked about.
    pub id: String,
    /// `ready`, `processing`, `failed` (processing failed), `not_found` (the marketplace
    /// knows no upload with this id) or `unknown` (the status could not be read).
    pub state: &'static str,
    /// The platform's processing stage, while processing.
    pub stage: Option<String>,
    /// Where the asset is served, once ready.
    pub urls: Vec<marketmedia_core::AssetUrl>,
    /// Why processing failed, or why the status could not be read.
    pub error: Option<ErrorRecord>,
}

/// The account `status --platform NAME` asks: the account so named, or the only account of
/// the marketplace so named.
fn status_account<'a>(config: &'a Config, force_sandbox: bool, name: &str) -> Result<&'a Account> {
    let market = config.registry.get(name).cloned();
    if force_sandbox || config.accounts.is_empty() {
        let platform = market.as_ref().map(|m| m.name()).unwrap_or(name);
        return Err(Error::invalid_input(format!(
            "{platform} has no credentials configured: status asks the account that holds \
             the upload (the sandbox forgets its uploads when the command that made them ends); \
             configure the account (`docs/cli.md`, Accounts)"
        ))
        .with_platform(platform));
    }
    if let Some(account) = config.account(name) {
        return Ok(account);
    }
    let Some(market) = market else {
        return Err(Error::invalid_input(format!(
            "no account or marketplace is named {name}; `marketmedia accounts` lists them"
        )));
    };
    let mut of = config.accounts_of(market.name());
    match (of.next(), of.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(crate::accounts::no_account(market.as_ref())),
        (Some(_), Some(_)) => {
            let names: Vec<&str> = config
                .accounts_of(market.name())
                .map(|a| a.name.as_str())
                .collect();
            Err(Error::invalid_input(format!(
                "{} has several accounts ({}): name the one holding the upload \
                 with --account",
                market.name(),
                names.join(", ")
            ))
            .with_platform(market.name()))
        }
    }
}

/// `marketmedia status`.
pub async fn status(config: &Config, force_sandbox: bool, args: StatusArgs) -> Result<i32> {
    let account = status_account(config, force_sandbox, &args.platform)?;
    let platform = account.market.name();
    let meta = VideoMeta {
        options: args.timeouts.client_options(),
        ..VideoMeta::default()
    };
    let targets = Targets::build(&[Chosen::Account(account)], config, &meta).await?;
    let Some(target) = targets.targets.first() else {
        return Err(Error::invalid_input("no account chosen"));
    };
    let provider = target.client.video().as_ref();
    if !provider.rules().async_processing {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "uploads are ready as soon as they are confirmed; there is no processing to poll",
        )
        .with_platform(platform));
    }
    let handle = ProcessingHandle {
        platform: platform.to_owned(),
        id: args.id.clone(),
        data: serde_json::Value::Null,
    };
    let mut record = StatusRecord {
        account: account.name.clone(),
        platform: platform.to_owned(),
        id: args.id.clone(),
        state: "failed",
        stage: None,
        urls: Vec::new(),
        error: None,
    };
    let policy = args.retry.policy();
    let result: Result<ProcessingStatus> = if args.wait {
        UploadDriver::new(UploadOptions {
            retry: policy,
            ..UploadOptions::default()
        })
        .wait_ready(provider, &handle)
        .await
        .map(|c| match c {
            Completion::Ready(asset) => ProcessingStatus::Ready(asset),
            Completion::Processing(_) => ProcessingStatus::Pending {
                stage: "still processing at the polling deadline".into(),
            },
            // Polling a handle never ends here (it is the outcome of a lost completion).
            Completion::CommittedIdUnknown { upload_id } => ProcessingStatus::Pending {
                stage: format!("committed as upload {upload_id}, asset id unknown"),
            },
        })
    } else {
        with_retry(&policy, || provider.poll(&handle)).await
    };
    let code = match result {
        Ok(ProcessingStatus::Ready(asset)) => {
            record.state = "ready";
            record.urls = asset.urls;
            exit::SUCCESS
        }
        Ok(ProcessingStatus::Pending { stage }) => {
            record.state = "processing";
            record.stage = Some(stage);
            exit::PENDING
        }
        Ok(ProcessingStatus::Failed { state, reason }) => {
            let e = Error::new(
                ErrorKind::Rejected,
                format!("processing failed ({state}): {reason}"),
            )
            .with_platform(platform)
            .with_code(state);
            record.error = Some(ErrorRecord::from(&e));
            exit::FAILURE
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            record.state = "not_found";
            record.error = Some(ErrorRecord::from(&e));
            exit::FAILURE
        }
        Err(e) => {
            record.state = "unknown";
            record.error = Some(ErrorRecord::from(&e));
            exit::FAILURE
        }
    };
    if args.json {
        json_line(&record)?;
    } else {
        let state = match record.state {
            "not_found" => "not found (the marketplace knows no upload with this id)",
            "unknown" => "status unknown (the marketplace could not be asked)",
            "failed" => "processing failed",
            other => other,
        };
        let mut text = format!("{} {}: {state}", record.account, record.id);
        if let Some(stage) = &record.stage {
            text.push_str(&format!(" ({stage})"));
        }
        text.push('\n');
        for url in &record.urls {
            text.push_str(&format!("  {}\n", url.url));
        }
        out(&text);
        if let Some(e) = &record.error {
            eprintln!("error: {}", e.message.replace(['\n', '\r'], " "));
        }
    }
    Ok(code)
}

/// What `digest --json` prints.
#[derive(Debug, Serialize)]
pub struct DigestRecord {
    /// The file.
    pub file: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// MD5 of the whole file, lowercase hex.
    pub md5: String,
    /// The part size of `parts`.
    pub part_size: u64,
    /// Every part's offset, size and MD5.
    pub parts: Vec<PartDigest>,
    /// The SMH instant-upload hashes (absent for an empty file).
    pub smh: Option<SmhHashes>,
    /// CRC-64/XZ (ECMA-182) as a decimal string, as COS and SMH print it.
    pub crc64: String,
    /// The same CRC-64 as 16 hex digits.
    pub crc64_hex: String,
}

/// One part's digest.
#[derive(Debug, Serialize)]
pub struct PartDigest {
    /// 0-based index.
    pub index: u32,
    /// Byte offset.
    pub offset: u64,
    /// Bytes.
    pub size: u64,
    /// MD5, lowercase hex.
    pub md5: String,
}

/// SMH's instant-upload hashes.
#[derive(Debug, Serialize)]
pub struct SmhHashes {
    /// SHA-256 of the first MiB.
    pub beginning_hash: String,
    /// The last link of the SHA-256 chain over 1 MiB chunks.
    pub full_hash: String,
}

/// Computes the digests `digest` prints, in one read of the file.
pub async fn digest_record(path: &Path, part_size: u64) -> Result<DigestRecord> {
    let d = digest_file_async(
        path,
        &DigestRequest {
            file_md5: true,
            part_md5_sizes: vec![part_size],
            instant_upload_hashes: true,
            crc64: true,
        },
    )
    .await?;
    let parts = d
        .part_md5s(part_size)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, md5)| {
            let offset = i as u64 * part_size;
            PartDigest {
                index: i as u32,
                offset,
                size: part_size.min(d.size.saturating_sub(offset)),
                md5: hex_of(md5),
            }
        })
        .collect();
    let crc = d.crc64.unwrap_or(0);
    Ok(DigestRecord {
        file: path.to_owned(),
        size: d.size,
        md5: d.md5_hex().unwrap_or_default(),
        part_size,
        parts,
        smh: d.instant.map(|h| SmhHashes {
            beginning_hash: h.beginning_hex(),
            full_hash: h.full_hex(),
        }),
        crc64: crc.to_string(),
        crc64_hex: format!("{crc:016x}"),
    })
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `marketmedia digest`.
pub async fn digest(args: DigestArgs) -> Result<i32> {
    if !args.file.is_file() {
        return Err(Error::invalid_input(format!(
            "{} is not a readable file",
            args.file.display()
        )));
    }
    let r = digest_record(&args.file, args.part_size).await?;
    if args.json {
        json_line(&r)?;
        return Ok(exit::SUCCESS);
    }
    let mut text = format!(
        "file            {}\nsize            {} bytes\nmd5             {}\ncrc64           {} (0x{})\n",
        r.file.display(),
        r.size,
        r.md5,
        r.crc64,
        r.crc64_hex
    );
    match &r.smh {
        Some(h) => text.push_str(&format!(
            "beginningHash   {}\nfullHash        {}\n",
            h.beginning_hash, h.full_hash
        )),
        None => text.push_str("beginningHash   - (empty file)\nfullHash        -\n"),
    }
    text.push_str(&format!(
        "parts           {} of {} bytes\n",
        r.parts.len(),
        r.part_size
    ));
    let rows: Vec<Vec<String>> = r
        .parts
        .iter()
        .map(|p| {
            vec![
                p.index.to_string(),
                p.offset.to_string(),
                p.size.to_string(),
                p.md5.clone(),
            ]
        })
        .collect();
    text.push_str(&report::table(&["PART", "OFFSET", "SIZE", "MD5"], &rows));
    out(&text);
    Ok(exit::SUCCESS)
}

/// `marketmedia sim`.
pub async fn sim(args: SimArgs) -> Result<i32> {
    marketmedia_sim::standalone::run(&args)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("the simulators stopped: {e}")))?;
    Ok(exit::SUCCESS)
}

fn open_journal(args: &JournalArgs) -> Result<Journal> {
    let dir = args
        .journal_dir
        .clone()
        .unwrap_or_else(marketmedia_core::default_journal_dir);
    Journal::open(dir)
}

/// A warning per account the journal holds unfinished sessions of but that is not
/// configured any more (removed, or an entry of the release before accounts that no account
/// takes over): they are never orphaned silently.
pub fn orphan_warnings(config: &Config, journal: &Journal) -> Vec<String> {
    let mut orphans: std::collections::BTreeMap<String, usize> = Default::default();
    for e in journal.entries() {
        let Some(market) = config.registry.get(&e.platform) else {
            continue;
        };
        let platform = market.name();
        if entry_account(config, platform, e.account.as_deref()).is_none() {
            let who = e
                .account
                .clone()
                .unwrap_or_else(|| format!("{platform} (written before accounts)"));
            *orphans.entry(who).or_default() += 1;
        }
    }
    orphans
        .into_iter()
        .map(|(who, n)| {
            format!(
                "warning: the journal holds {} of {who}, which no configured account is: add \
                 the account back and run `marketmedia cleanup` to cancel them\n",
                marketmedia_core::count(n as u64, "unfinished session", "unfinished sessions")
            )
        })
        .collect()
}

/// The configured account a journal entry belongs to: the one with its identity, or for an
/// entry written before accounts, the account that adopts those (the legacy account named
/// after the marketplace, or the marketplace's only account).
pub fn entry_account<'a>(
    config: &'a Config,
    platform: &'a str,
    identity: Option<&str>,
) -> Option<&'a Account> {
    match identity {
        Some(identity) => config.accounts.iter().find(|a| a.identity == identity),
        None => {
            let mut of = config.accounts_of(platform);
            let first = of.next()?;
            if first.legacy {
                return Some(first);
            }
            of.next().is_none().then_some(first)
        }
    }
}

/// One journaled session's fate in `cleanup`.
#[derive(Debug, Serialize)]
struct CleanupRecord {
    platform: String,
    account: Option<String>,
    upload_id: String,
    file: String,
    /// `cancelled`, `committed` (the platform holds the video: nothing to cancel), `gone`
    /// (the platform no longer knows it), `kept` (cancel failed).
    outcome: &'static str,
    error: Option<String>,
}

/// `marketmedia cleanup`: cancels every journaled session and forgets it. A session the
/// platform no longer knows (or already completed) is forgotten too; one whose cancel failed
/// for another reason is kept for a later cleanup. Exit 0 when nothing was kept.
pub async fn cleanup(config: &Config, force_sandbox: bool, args: CleanupArgs) -> Result<i32> {
    let journal = open_journal(&args.journal)?;
    let now = marketmedia_core::raw::http::unix_millis();
    let entries: Vec<_> = journal
        .entries()
        .into_iter()
        .filter(|e| now.saturating_sub(e.updated_at_ms) >= args.older_than.saturating_mul(1000))
        .collect();
    if entries.is_empty() {
        if !args.json {
            out(&format!(
                "No unfinished upload in the journal ({}).\n",
                journal.dir().display()
            ));
        }
        return Ok(exit::SUCCESS);
    }
    // Each entry goes back to the account it belongs to (by identity; an entry written
    // before accounts to the account that adopts them), or to the sandbox when none is
    // configured.
    let sandbox = force_sandbox || config.accounts.is_empty();
    let mut chosen: Vec<Chosen<'_>> = Vec::new();
    for e in &entries {
        let Some(market) = config.registry.get(&e.platform) else {
            continue;
        };
        let choice = if sandbox {
            Some(Chosen::Sandbox(market.clone()))
        } else {
            entry_account(config, market.name(), e.account.as_deref()).map(Chosen::Account)
        };
        if let Some(c) = choice.filter(|c| !chosen.contains(c)) {
            chosen.push(c);
        }
    }
    let meta = VideoMeta {
        sandbox_title: "cleanup".into(),
        ..VideoMeta::default()
    };
    let targets = Targets::build(&chosen, config, &meta).await?;
    let mut kept = 0;
    for entry in entries {
        let target = targets.targets.iter().find(|t| {
            t.platform() == entry.platform
                && (sandbox
                    || match &entry.account {
                        Some(identity) => *identity == t.identity,
                        None => t.adopts_unkeyed,
                    })
        });
        let (outcome, error) = match target {
            None => (
                "kept",
                Some(match &entry.account {
                    Some(identity) => format!(
                        "no configured account is {identity} (removed from the config?): add \
                         it back and run cleanup again to cancel this session"
                    ),
                    None => format!(
                        "written before accounts, and no {} account adopts it (the one named \
                         {0}, or the only one): configure it and run cleanup again",
                        entry.platform
                    ),
                }),
            ),
            Some(t) => match t
                .account_ref()
                .scope(marketmedia_core::cancel_recorded(
                    t.client.video().as_ref(),
                    &entry.session,
                    &entry.receipts,
                    &entry.commit,
                ))
                .await
            {
                Ok(()) => ("cancelled", None),
                // Committed: the platform holds the video; nothing to cancel.
                Err(e) if e.kind() == ErrorKind::Conflict => ("committed", Some(e.to_string())),
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Expired) => {
                    ("gone", Some(e.to_string()))
                }
                Err(e) => ("kept", Some(e.to_string())),
            },
        };
        if outcome == "kept" {
            kept += 1;
        } else {
            journal.remove_entry(&entry)?;
        }
        let record = CleanupRecord {
            platform: entry.platform.clone(),
            account: target.map(|t| t.account.clone()),
            upload_id: entry.session.upload_id.clone(),
            file: entry.source.path.display().to_string(),
            outcome,
            error,
        };
        if args.json {
            json_line(&record)?;
        } else {
            out(&format!(
                "{:<7} {:<10} {} ({}){}\n",
                record.account.as_deref().unwrap_or(&record.platform),
                record.outcome,
                record.upload_id,
                record.file,
                record.error.map(|e| format!(": {e}")).unwrap_or_default()
            ));
        }
    }
    Ok(if kept == 0 {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(19), "19 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(SAMPLE_BYTES), "6.0 MiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
    }
}
