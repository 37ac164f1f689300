//! `marketmedia soak`: many uploads per marketplace against the embedded simulators under a
//! fault profile, each checked byte for byte against the source on the simulator's side, and a
//! table of what happened. Not part of the tests: a run takes as long as it takes.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use marketmedia_sim::control::SessionTally;

use marketmedia_core::{
    ChunkedVideoUploader, Completion, Error, ErrorKind, PollPolicy, Result, RetryPolicy,
    UploadDriver, UploadOptions,
};
use marketmedia_sim::faults::FaultProfile;
use marketmedia_sim::fixtures::write_sample_mp4;
use serde::Serialize;

use std::sync::Arc;

use marketmedia_core::{ConnectOptions, Marketplace};
use marketmedia_sim::standalone::StartOptions;

use crate::args::SoakArgs;
use crate::exit;
use crate::sandbox::Sandbox;
use crate::Setup;

/// One marketplace's soak figures.
#[derive(Debug, Default, Serialize)]
pub struct SoakRow {
    /// Platform name.
    pub platform: String,
    /// Uploads attempted.
    pub attempted: u32,
    /// Uploads that finished with an asset whose bytes equal the source.
    pub succeeded: u32,
    /// Uploads committed on the platform whose asset id is unknown (the answer naming it was
    /// lost and the platform has no call to find it). Not failures.
    pub committed_id_unknown: u32,
    /// Uploads committed and still processing when the poll's deadline passed (the handle
    /// returned to poll later). Not lost bytes.
    pub processing: u32,
    /// Uploads that ended with an error (cleanly: cancelled or resumable).
    pub failed: u32,
    /// Failed attempts the driver retried.
    pub retries: u64,
    /// Part bytes sent again after a failed attempt.
    pub bytes_resent: u64,
    /// Bytes of "successful" uploads missing or different on the platform. Must be 0.
    pub bytes_lost: u64,
    /// Upload sessions the simulator still holds open after the run, with parts stored: the
    /// client used them and left them neither completed nor cancelled. Must be 0 where the
    /// platform has a call to abandon an upload.
    pub stuck_sessions: u64,
    /// Upload sessions the simulator holds open that no part reached: opened by a request
    /// whose answer was lost, so the client never knew them (the platform's expiry ends them).
    pub orphaned_sessions: u64,
    /// Upload sessions that expired on the simulator before completion (replaced by the driver).
    pub expired_sessions: u64,
    /// Median upload time, milliseconds.
    pub p50_ms: u64,
    /// 99th percentile upload time, milliseconds.
    pub p99_ms: u64,
    /// The distinct errors seen, with counts.
    pub errors: Vec<(String, u32)>,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the soak and prints the table (or JSON lines). Exit 0 when no byte was lost, no
/// upload failed and no session was left stuck on a simulator.
pub async fn soak(setup: &Setup, args: SoakArgs) -> Result<i32> {
    let rows = soak_rows(
        setup,
        &args,
        StartOptions::default(),
        &SoakPacing::default(),
    )
    .await?;
    let lost: u64 = rows
        .iter()
        .map(|r| r.bytes_lost + u64::from(r.failed) + r.stuck_sessions)
        .sum();
    if args.json {
        for r in &rows {
            let line = serde_json::to_string(r)
                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot encode: {e}")))?;
            println!("{line}");
        }
    } else {
        print!("{}", table(&rows));
    }
    Ok(if lost == 0 {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

/// How the soak's driver waits between attempts and between polls.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakPacing {
    /// Delay before the second attempt of a call.
    pub retry_initial: Duration,
    /// Longest delay between two attempts.
    pub retry_max: Duration,
    /// Delay before the second poll of processing.
    pub poll_initial: Duration,
    /// Longest delay between two polls.
    pub poll_max: Duration,
}

impl Default for SoakPacing {
    /// What `marketmedia soak` uses: retries from 50 ms up to 2 s, polls from 100 to 500 ms.
    fn default() -> Self {
        SoakPacing {
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_secs(2),
            poll_initial: Duration::from_millis(100),
            poll_max: Duration::from_millis(500),
        }
    }
}

/// The soak's figures, one row per marketplace of `setup` with a simulator, against
/// simulators started with `options` (the tests give them short processing delays) and a
/// driver paced by `pacing` (the tests wait milliseconds where a run against a real link
/// waits up to seconds).
pub async fn soak_rows(
    setup: &Setup,
    args: &SoakArgs,
    options: StartOptions,
    pacing: &SoakPacing,
) -> Result<Vec<SoakRow>> {
    let profile: FaultProfile = args
        .faults
        .to_profile()
        .map_err(|e| Error::invalid_input(e.to_string()))?;
    for name in &args.to {
        setup.registry.find(name)?;
    }
    let sandbox = Sandbox::start_with(setup, options)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the simulators: {e}")))?;
    for sim in sandbox.running().simulators() {
        // A simulator without a fault layer is soaked without faults.
        if let Some(faults) = sim.faults() {
            faults.set(profile.clone());
        }
    }

    let dir = tempfile::tempdir()?;
    let video = dir.path().join("soak.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), args.size)?;
    let source = std::fs::read(&video)?;

    let driver = UploadDriver::new(UploadOptions {
        retry: RetryPolicy {
            max_attempts: args.attempts,
            initial_delay: pacing.retry_initial,
            max_delay: pacing.retry_max,
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: pacing.poll_initial,
            max_delay: pacing.poll_max,
            ..PollPolicy::default()
        },
        ..UploadOptions::default()
    });

    // Every marketplace at once, as a fan-out would: each has its own simulator, so their
    // uploads only share the machine.
    let markets: Vec<Arc<dyn Marketplace>> = sandbox
        .marketplaces()
        .into_iter()
        .filter(|m| args.to.is_empty() || args.to.iter().any(|n| n.eq_ignore_ascii_case(m.name())))
        .collect();
    let progress = SoakProgress::new(&markets, args.uploads, args.json);
    let runs = markets.iter().enumerate().map(|(i, market)| {
        let progress = &progress;
        let (driver, video, source, sandbox) = (&driver, &video, &source[..], &sandbox);
        async move {
            let tick = |row: &SoakRow| progress.tick(i, row);
            soak_one(
                sandbox,
                market.as_ref(),
                driver,
                video,
                source,
                args.uploads,
                &tick,
            )
            .await
        }
    });
    let rows = futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    progress.finish();
    Ok(rows)
}

/// Progress while a soak runs, on standard error: a bar per marketplace on a terminal,
/// otherwise a line per marketplace at every tenth of its uploads.
struct SoakProgress {
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    names: Vec<&'static str>,
    uploads: u32,
    logged: Vec<AtomicU32>,
}

impl SoakProgress {
    fn new(markets: &[Arc<dyn Marketplace>], uploads: u32, quiet: bool) -> Self {
        let names: Vec<&'static str> = markets.iter().map(|m| m.name()).collect();
        let bars = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix:>7} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bars = names
                .iter()
                .map(|name| {
                    let bar = multi.add(ProgressBar::new(u64::from(uploads)));
                    bar.set_style(style.clone());
                    bar.set_prefix(*name);
                    bar
                })
                .collect();
            (multi, bars)
        });
        let logged = names.iter().map(|_| AtomicU32::new(0)).collect();
        SoakProgress {
            bars,
            names,
            uploads,
            logged: if quiet { Vec::new() } else { logged },
        }
    }

    fn tick(&self, i: usize, row: &SoakRow) {
        let summary = format!(
            "ready {} · id unknown {} · processing {} · failed {} · retries {}",
            row.succeeded, row.committed_id_unknown, row.processing, row.failed, row.retries
        );
        if let Some((_, bars)) = &self.bars {
            if let Some(bar) = bars.get(i) {
                bar.set_position(u64::from(row.attempted));
                bar.set_message(summary);
            }
            return;
        }
        let Some(logged) = self.logged.get(i) else {
            return;
        };
        // A line at every tenth (and the last), each tenth once.
        let tenth = row.attempted.saturating_mul(10) / self.uploads.max(1);
        if tenth > logged.load(Ordering::Relaxed) || row.attempted == self.uploads {
            logged.store(tenth, Ordering::Relaxed);
            eprintln!(
                "soak {}: {}/{} · {summary}",
                self.names.get(i).copied().unwrap_or("?"),
                row.attempted,
                self.uploads
            );
        }
    }

    fn finish(&self) {
        if let Some((multi, bars)) = &self.bars {
            for bar in bars {
                bar.finish();
            }
            let _ = multi.clear();
        }
    }
}

async fn soak_one(
    sandbox: &Sandbox,
    market: &dyn Marketplace,
    driver: &UploadDriver,
    video: &Path,
    source: &[u8],
    uploads: u32,
    tick: &dyn Fn(&SoakRow),
) -> Result<SoakRow> {
    let platform = market.name();
    // A marketplace that takes a file it already holds by its hashes would take every upload
    // after the first without a byte: instant upload off, so each run really sends its parts.
    // The sandbox names a video after its file when the marketplace requires a title.
    let mut settings = sandbox.settings_of(market)?;
    let title = marketmedia_core::raw::TITLE;
    let needs_title = market
        .upload_fields()
        .iter()
        .any(|f| f.name == title && f.required);
    if needs_title && settings.setting(title).is_some() {
        settings.set(
            marketmedia_core::raw::TITLE,
            "soak",
            marketmedia_core::Origin::Code,
        )?;
    }
    let client = market.connect(
        &settings,
        &ConnectOptions::default().with_instant_upload(false),
    )?;
    let provider: &dyn ChunkedVideoUploader = client.video().as_ref();
    // Each upload carries the account's per-upload defaults (the title set above, a cover).
    let driver = driver.with_meta(client.upload_defaults().clone());
    let mut row = SoakRow {
        platform: platform.to_owned(),
        ..SoakRow::default()
    };
    let mut times = Vec::new();
    for n in 0..uploads {
        row.attempted += 1;
        // Each upload under a name of its own, as a catalog's videos are (a hard link: no
        // copy). With one name for all, a platform that renames on a name conflict places each file beside
        // identical older ones, and the recovery of a lost confirm answer, which looks at the
        // requested path, finds an older identical file there instead of this upload's.
        let named = video.with_file_name(format!("soak-{platform}-{n:05}.mp4"));
        let source_path = match std::fs::hard_link(video, &named) {
            Ok(()) => named.as_path(),
            Err(_) => video,
        };
        let started = Instant::now();
        let result = driver.upload_file(provider, source_path).await;
        if source_path != video {
            let _ = std::fs::remove_file(source_path);
        }
        match result {
            Ok(outcome) => {
                times.push(started.elapsed().as_millis() as u64);
                row.retries += u64::from(outcome.stats.retries);
                row.bytes_resent += outcome.stats.bytes_resent;
                match &outcome.completion {
                    Completion::Ready(asset) => {
                        let stored = sandbox.stored_video(platform, asset);
                        if stored.as_deref() == Some(source) {
                            row.succeeded += 1;
                        } else {
                            row.bytes_lost += source.len() as u64;
                        }
                    }
                    Completion::Processing(_) => row.processing += 1,
                    Completion::CommittedIdUnknown { .. } => row.committed_id_unknown += 1,
                }
            }
            Err(err) => {
                times.push(started.elapsed().as_millis() as u64);
                row.failed += 1;
                let key = format!("{:?} {}", err.kind(), err.code().unwrap_or("-"));
                match row.errors.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, n)) => *n += 1,
                    None => row.errors.push((key, 1)),
                }
            }
        }
        tick(&row);
    }
    let sessions = sandbox
        .simulator(platform)
        .map(|s| s.sessions())
        .unwrap_or_default();
    let tally = SessionTally::of(&sessions);
    row.stuck_sessions = tally.stuck();
    row.orphaned_sessions = tally.open_without_parts;
    row.expired_sessions = tally.expired;
    times.sort_unstable();
    row.p50_ms = percentile(&times, 50.0);
    row.p99_ms = percentile(&times, 99.0);
    Ok(row)
}

/// The soak table as text.
pub fn table(rows: &[SoakRow]) -> String {
    let mut out = String::from(
        "| platform | attempted | succeeded | committed, id unknown | processing | failed | retries | bytes re-sent | bytes lost | stuck sessions | orphaned sessions | expired sessions | p50 | p99 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ms | {} ms |\n",
            r.platform,
            r.attempted,
            r.succeeded,
            r.committed_id_unknown,
            r.processing,
            r.failed,
            r.retries,
            r.bytes_resent,
            r.bytes_lost,
            r.stuck_sessions,
            r.orphaned_sessions,
            r.expired_sessions,
            r.p50_ms,
            r.p99_ms
        ));
    }
    for r in rows {
        for (err, n) in &r.errors {
            out.push_str(&format!("{}: {n} × {err}\n", r.platform));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
