//! `marketmedia soak`: many uploads per marketplace against the embedded simulators under a
//! fault profile, each checked byte for byte against the source on the simulator's side, and a
//! table of what happened. Not part of the tests: a run takes as long as it takes.

use std::path::Path;
use std::time::{Duration, Instant};

use marketmedia_core::{
    ChunkedVideoUploader, Completion, Error, ErrorKind, PollPolicy, Result, RetryPolicy,
    UploadDriver, UploadOptions,
};
use marketmedia_sim::faults::FaultProfile;
use marketmedia_sim::fixtures::write_sample_mp4;
use serde::Serialize;

use crate::args::SoakArgs;
use crate::exit;
use crate::platform::{selection, Platform};
use crate::sandbox::{Sandbox, SandboxConfig};

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
    /// lost and the platform has no call to find it: Lazada). Not failures.
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

/// Runs the soak and prints the table (or JSON lines). Exit 0 when no byte was lost.
pub async fn soak(args: SoakArgs) -> Result<i32> {
    let rows = soak_rows(&args, SandboxConfig::default()).await?;
    let lost: u64 = rows.iter().map(|r| r.bytes_lost).sum();
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

/// The soak's figures, one row per marketplace, against simulators with `config` (the
/// tests give them short processing delays).
pub async fn soak_rows(args: &SoakArgs, config: SandboxConfig) -> Result<Vec<SoakRow>> {
    let profile: FaultProfile = args
        .faults
        .to_profile()
        .map_err(|e| Error::invalid_input(e.to_string()))?;
    let sandbox = Sandbox::start_with(config)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the simulators: {e}")))?;
    sandbox.shopee_sim().faults().set(profile.clone());
    sandbox.lazada_sim().faults().set(profile.clone());
    sandbox.smh_sim().faults().set(profile.clone());
    sandbox.wechat_sim().faults().set(profile);

    let dir = tempfile::tempdir()?;
    let video = dir.path().join("soak.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), args.size)?;
    let source = std::fs::read(&video)?;

    let driver = UploadDriver::new(UploadOptions {
        retry: RetryPolicy {
            max_attempts: args.attempts,
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            ..PollPolicy::default()
        },
        ..UploadOptions::default()
    });

    let mut rows = Vec::new();
    for platform in selection(&args.to) {
        rows.push(soak_one(&sandbox, platform, &driver, &video, &source, args.uploads).await?);
    }
    Ok(rows)
}

async fn soak_one(
    sandbox: &Sandbox,
    platform: Platform,
    driver: &UploadDriver,
    video: &Path,
    source: &[u8],
    uploads: u32,
) -> Result<SoakRow> {
    // SMH would take every upload after the first by its hashes without a byte: turn instant
    // upload off so each run really sends its parts.
    let shopee;
    let lazada;
    let smh;
    let ebay;
    let wechat;
    let provider: &dyn ChunkedVideoUploader = match platform {
        Platform::Shopee => {
            shopee = sandbox.shopee()?;
            &shopee
        }
        Platform::Lazada => {
            lazada = sandbox.lazada(sandbox.lazada_options("soak"))?;
            &lazada
        }
        Platform::Smh => {
            smh = marketmedia_smh::SmhUploader::new(sandbox.smh_config().instant_upload(false))?;
            &smh
        }
        Platform::Ebay => {
            ebay = sandbox.ebay()?;
            &ebay
        }
        Platform::Wechat => {
            wechat = sandbox.wechat()?;
            &wechat
        }
    };
    let mut row = SoakRow {
        platform: platform.name().to_owned(),
        ..SoakRow::default()
    };
    let mut times = Vec::new();
    for _ in 0..uploads {
        row.attempted += 1;
        let started = Instant::now();
        match driver.upload_file(provider, video).await {
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
    }
    times.sort_unstable();
    row.p50_ms = percentile(&times, 50.0);
    row.p99_ms = percentile(&times, 99.0);
    Ok(row)
}

/// The soak table as text.
pub fn table(rows: &[SoakRow]) -> String {
    let mut out = String::from(
        "| platform | attempted | succeeded | committed, id unknown | processing | failed | retries | bytes re-sent | bytes lost | p50 | p99 |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ms | {} ms |\n",
            r.platform,
            r.attempted,
            r.succeeded,
            r.committed_id_unknown,
            r.processing,
            r.failed,
            r.retries,
            r.bytes_resent,
            r.bytes_lost,
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
