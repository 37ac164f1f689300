//! The scenarios, each a function that measures and returns its rows.

use std::io::{Seek, SeekFrom, Write};

use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_cli::Setup;
use marketmedia_core::digest_file;
use marketmedia_core::raw::{Origin, TITLE};
use marketmedia_core::{
    Client, Completion, ConnectOptions, DigestRequest, Marketplace, ProgressEvent, ProgressSink,
    Stage, UploadDriver, UploadMeta, UploadOptions, UploadOutcome,
};
use marketmedia_sim::faults::FaultProfile;
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::standalone::StartOptions;

use crate::child::{self, Spec};
use crate::raw_sink;
use crate::sink::SinkProvider;
use crate::{Link, Machine, Row, Run, Settings, SweepPoint, MIB};

type Res<T> = std::result::Result<T, String>;

/// The size of the shaped single uploads of scenario 1, of the sweep and of the unshaped
/// loopback: 100 MiB, or a marketplace's largest video when it takes less (30 MiB for
/// Shopee's `media_space`).
const SHAPED_BYTES: u64 = 100 * MIB;

/// Requests no upload can overlap with its parts: init, commit and the first poll (or a
/// token, a begin and a confirm).
const FIXED_ROUND_TRIPS: u32 = 3;

/// The part size of the driver's upload to the raw sink: a common one.
const SINK_PART_BYTES: u64 = 2 * MIB;

/// The simulators, a scratch directory, the link and the marketplaces measured.
pub struct Bench {
    sandbox: Sandbox,
    markets: Vec<Arc<dyn Marketplace>>,
    dir: tempfile::TempDir,
    seq: AtomicU64,
    link: Link,
    samples: usize,
}

impl Bench {
    async fn start(settings: &Settings) -> Res<Bench> {
        // Processing takes no time here: the benchmark measures the client, and the ideal
        // counts the first poll as one round trip that finds the asset ready.
        let setup = Setup::default();
        let sandbox = Sandbox::start_with(
            &setup,
            StartOptions::default().with_processing_delay(Duration::ZERO),
        )
        .await
        .map_err(|e| format!("cannot start the simulators: {e}"))?;
        // The marketplaces `--to` names (`docs/benchmarks.md`'s figures: shopee, lazada and
        // smh, those it was first measured with), every one with a simulator by default.
        let markets: Vec<Arc<dyn Marketplace>> = sandbox
            .marketplaces()
            .into_iter()
            .filter(|m| settings.to.is_empty() || settings.to.iter().any(|n| n == m.name()))
            .collect();
        if markets.is_empty() {
            return Err(format!(
                "no marketplace of {:?} has a simulator",
                settings.to
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("no scratch directory: {e}"))?;
        Ok(Bench {
            sandbox,
            markets,
            dir,
            seq: AtomicU64::new(0),
            link: Link::DEFAULT,
            samples: settings.samples.max(1),
        })
    }

    /// A valid 30 s MP4 of `size` bytes whose content no earlier upload had (SMH would take a
    /// repeat by its hashes without a byte).
    fn fresh_video(&self, size: u64) -> Res<PathBuf> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("video-{n}.mp4"));
        write_sample_mp4(&path, Duration::from_secs(30), size)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| e.to_string())?;
        // Past the small header everything is `mdat` filler: stamp the run's sequence number
        // in the first MiB (SMH's beginningHash) and at the end.
        for at in [SeekFrom::Start(64 * 1024), SeekFrom::End(-8)] {
            file.seek(at).map_err(|e| e.to_string())?;
            file.write_all(&n.to_be_bytes())
                .map_err(|e| e.to_string())?;
        }
        Ok(path)
    }

    fn shape(&self, on: bool) {
        let profile = if on {
            FaultProfile {
                latency_ms: self.link.latency_ms,
                bandwidth_per_conn: Some(self.link.per_conn_bytes_per_sec),
                bandwidth_total: Some(self.link.total_bytes_per_sec),
                ..FaultProfile::default()
            }
        } else {
            FaultProfile::default()
        };
        for sim in self.sandbox.running().simulators() {
            if let Some(faults) = sim.faults() {
                faults.set(profile.clone());
            }
        }
    }

    /// The settings of `market`'s account on its simulator (a title where one is required).
    fn settings(&self, market: &dyn Marketplace) -> Res<marketmedia_core::Settings> {
        let mut settings = self
            .sandbox
            .settings_of(market)
            .map_err(|e| e.to_string())?;
        let needs_title = market
            .upload_fields()
            .iter()
            .any(|f| f.name == TITLE && f.required);
        if needs_title {
            settings
                .set(TITLE, "benchmark", Origin::Code)
                .map_err(|e| e.to_string())?;
        }
        Ok(settings)
    }

    fn client(&self, market: &dyn Marketplace) -> Res<Client> {
        market
            .connect(&self.settings(market)?, &ConnectOptions::default())
            .map_err(|e| e.to_string())
    }

    /// `wanted` bytes, or `market`'s largest video when it takes less.
    fn size_for(&self, market: &dyn Marketplace, wanted: u64) -> Res<u64> {
        Ok(wanted.min(self.client(market)?.video().rules().max_file_bytes))
    }

    fn driver(concurrency: Option<usize>) -> UploadDriver {
        Self::driver_with(concurrency, None)
    }

    fn driver_with(concurrency: Option<usize>, progress: Option<ProgressSink>) -> UploadDriver {
        let mut opts = UploadOptions::default();
        if let Some(c) = concurrency {
            opts.concurrency = c;
        }
        opts.progress = progress;
        UploadDriver::new(opts)
    }

    /// One upload of a fresh file, timed from the call to the ready asset, and checked byte
    /// for byte on the simulator.
    async fn timed_upload(
        &self,
        market: &dyn Marketplace,
        size: u64,
        concurrency: Option<usize>,
    ) -> Res<(f64, UploadOutcome)> {
        let platform = market.name();
        let path = self.fresh_video(size)?;
        let client = self.client(market)?;
        let (sink, stages) = stage_clock();
        let started = Instant::now();
        let outcome = Self::driver_with(concurrency, Some(sink))
            .with_meta(client.upload_defaults().clone())
            .upload_file(client.video().as_ref(), &path)
            .await
            .map_err(|e| format!("{platform} upload failed: {e}"))?;
        let ms = millis(started.elapsed());
        self.verify(platform, &outcome, &path)?;
        let phases =
            Phases::from_stages(started, &stages.lock().unwrap_or_else(|e| e.into_inner()));
        eprintln!(
            "    {platform} {}, {} in flight: {ms:.0} ms = {phases}",
            mib(size),
            concurrency.unwrap_or(UploadOptions::default().concurrency)
        );
        Ok((ms, outcome))
    }

    /// Best of the bench's samples.
    async fn best_upload(
        &self,
        market: &dyn Marketplace,
        size: u64,
        concurrency: Option<usize>,
    ) -> Res<Vec<f64>> {
        let mut samples = Vec::new();
        for _ in 0..self.samples {
            samples.push(self.timed_upload(market, size, concurrency).await?.0);
        }
        Ok(samples)
    }

    fn verify(&self, platform: &str, outcome: &UploadOutcome, path: &Path) -> Res<()> {
        let Completion::Ready(asset) = &outcome.completion else {
            return Err(format!("{platform}: the upload is still processing"));
        };
        let stored = self.sandbox.stored_video(platform, asset);
        let source = std::fs::read(path).map_err(|e| e.to_string())?;
        if stored.as_deref() != Some(&source[..]) {
            return Err(format!(
                "{platform}: the simulator's copy differs from the source"
            ));
        }
        Ok(())
    }

    /// The memory client's spec: the file, and the sandbox settings of every measured
    /// marketplace that takes a file of `size`.
    fn child_spec(&self, file: PathBuf, size: u64) -> Res<Spec> {
        let mut markets = Vec::new();
        for m in &self.markets {
            if self.size_for(m.as_ref(), size)? < size {
                continue;
            }
            let settings = self.settings(m.as_ref())?;
            let pairs = settings
                .keys()
                .filter_map(|k| Some((k.to_owned(), settings.expose(k)?.to_owned())))
                .collect();
            markets.push((m.name().to_owned(), pairs));
        }
        Ok(Spec { file, markets })
    }
}

/// When each stage of an upload began.
type StageLog = Arc<Mutex<Vec<(Instant, Stage)>>>;

fn stage_clock() -> (ProgressSink, StageLog) {
    let log: StageLog = Arc::default();
    let sink_log = Arc::clone(&log);
    let sink: ProgressSink = Arc::new(move |event| {
        if let ProgressEvent::Stage { stage, .. } = event {
            sink_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((Instant::now(), stage));
        }
    });
    (sink, log)
}

/// Where an upload's time went: before `init` (probe, digests, preflight), `init`, the parts,
/// and commit plus polling.
struct Phases {
    before_init: f64,
    init: f64,
    parts: f64,
    finish: f64,
}

impl Phases {
    fn from_stages(started: Instant, stages: &[(Instant, Stage)]) -> Phases {
        let at = |want: fn(&Stage) -> bool| {
            stages
                .iter()
                .find(|(_, s)| want(s))
                .map(|(t, _)| millis(t.duration_since(started)))
        };
        let init = at(|s| matches!(s, Stage::Initializing)).unwrap_or(0.0);
        let uploading = at(|s| matches!(s, Stage::Uploading { .. })).unwrap_or(init);
        let committing = at(|s| matches!(s, Stage::Committing)).unwrap_or(uploading);
        let done = at(|s| matches!(s, Stage::Done)).unwrap_or(committing);
        Phases {
            before_init: init,
            init: uploading - init,
            parts: committing - uploading,
            finish: done - committing,
        }
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} before init + {:.0} init + {:.0} parts + {:.0} commit/poll",
            self.before_init, self.init, self.parts, self.finish
        )
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn best(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::INFINITY, f64::min)
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / MIB)
}

/// Runs every scenario.
pub async fn run_all(settings: &Settings) -> Res<Run> {
    let machine = Machine::read();
    let bench = Bench::start(settings).await?;
    let mut rows = Vec::new();
    let mut defaults = Vec::new();
    let mut sweep = Vec::new();
    if settings.wants(1) {
        eprintln!("1/7 shaped link");
        match shaped(&bench, &mut rows).await {
            Ok(d) => defaults = d,
            Err(e) => failed(&mut rows, "1 shaped link", e),
        }
    }
    if settings.wants(2) {
        eprintln!("2/7 parts in flight (sweep {:?})", settings.sweep);
        match parts_in_flight(&bench, settings, &defaults, &mut rows).await {
            Ok(s) => sweep = s,
            Err(e) => failed(&mut rows, "2 parts in flight", e),
        }
    }
    // The scenarios that need nothing from the others, in order.
    type Scenario = for<'a> fn(&'a Bench) -> BoxFuture<'a, Res<Vec<Row>>>;
    let independent: [(u32, &str, Scenario); 5] = [
        (3, "3 fan-out", |b| Box::pin(fan_out(b))),
        (4, "4 unshaped loopback", |b| Box::pin(loopback(b))),
        (5, "5 memory", |b| Box::pin(memory(b))),
        (6, "6 instant upload", |b| Box::pin(instant(b))),
        (7, "7 digests", |b| Box::pin(digests(b))),
    ];
    for (n, name, scenario) in independent {
        if settings.wants(n) {
            eprintln!(
                "{n}/7 {}",
                name.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ')
            );
            keep(&mut rows, name, scenario(&bench).await);
        }
    }
    Ok(Run {
        machine,
        link: bench.link,
        rows,
        sweep,
    })
}

/// A scenario's rows, or a row that says why it could not run.
fn keep(rows: &mut Vec<Row>, scenario: &str, result: Res<Vec<Row>>) {
    match result {
        Ok(mut new) => rows.append(&mut new),
        Err(why) => failed(rows, scenario, why),
    }
}

/// A scenario that could not run: a row that says why, never a figure.
fn failed(rows: &mut Vec<Row>, scenario: &str, why: String) {
    eprintln!("    {scenario} failed: {why}");
    rows.push(Row {
        scenario: scenario.into(),
        case: format!("did not run: {why}"),
        measured: f64::NAN,
        reference: f64::NAN,
        unit: "ms",
        ratio_is: "-",
        ratio: f64::NAN,
        target: "-".into(),
        pass: false,
        samples: Vec::new(),
    });
}

/// 1. Each marketplace alone on the shaped link, against bytes / aggregate bandwidth plus
///    the round trips that cannot overlap. Returns the best time per marketplace.
async fn shaped(bench: &Bench, rows: &mut Vec<Row>) -> Res<Vec<(String, f64)>> {
    bench.shape(true);
    let mut out = Vec::new();
    for market in &bench.markets {
        let platform = market.name();
        let size = bench.size_for(market.as_ref(), SHAPED_BYTES)?;
        let samples = bench.best_upload(market.as_ref(), size, None).await?;
        let measured = best(&samples);
        let ideal = millis(bench.link.ideal(size, FIXED_ROUND_TRIPS));
        let ratio = measured / ideal;
        rows.push(Row {
            scenario: "1 shaped link".into(),
            case: format!("{platform} {}", mib(size)),
            measured,
            reference: ideal,
            unit: "ms",
            ratio_is: "measured / ideal",
            ratio,
            target: "≤ 1.25".into(),
            pass: ratio <= 1.25,
            samples,
        });
        out.push((platform.to_owned(), measured));
    }
    Ok(out)
}

/// 2. One part at a time (what today's SDKs do) against the default, and the sweep for the
///    chart.
async fn parts_in_flight(
    bench: &Bench,
    settings: &Settings,
    defaults: &[(String, f64)],
    rows: &mut Vec<Row>,
) -> Res<Vec<SweepPoint>> {
    bench.shape(true);
    let default_c = UploadOptions::default().concurrency;
    let mut sweep = Vec::new();
    for market in &bench.markets {
        let platform = market.name();
        let size = bench.size_for(market.as_ref(), SHAPED_BYTES)?;
        let mut levels = settings.sweep.clone();
        if !levels.contains(&1) {
            levels.insert(0, 1);
        }
        let mut one_at_a_time = None;
        for c in levels {
            let (ms, _) = bench.timed_upload(market.as_ref(), size, Some(c)).await?;
            if c == 1 {
                one_at_a_time = Some(ms);
            }
            sweep.push(SweepPoint {
                platform: platform.to_owned(),
                concurrency: c,
                bytes: size,
                millis: ms,
            });
        }
        let sequential = one_at_a_time.unwrap_or(f64::NAN);
        // Scenario 1's best time when it ran, else the sweep's point at the default.
        let default_ms = defaults
            .iter()
            .find(|(p, _)| p == platform)
            .map(|(_, ms)| *ms)
            .or_else(|| {
                sweep
                    .iter()
                    .find(|p| p.platform == platform && p.concurrency == default_c)
                    .map(|p| p.millis)
            })
            .unwrap_or(f64::NAN);
        let ratio = sequential / default_ms;
        rows.push(Row {
            scenario: "2 parts in flight".into(),
            case: format!("{platform} {}: 1 vs {default_c}", mib(size)),
            measured: default_ms,
            reference: sequential,
            unit: "ms",
            ratio_is: "1 at a time / default",
            ratio,
            target: "≥ 3".into(),
            pass: ratio >= 3.0,
            samples: vec![default_ms, sequential],
        });
    }
    Ok(sweep)
}

/// 3. One 30 MiB video to every measured marketplace at once, against the slowest of them
///    uploaded alone.
async fn fan_out(bench: &Bench) -> Res<Vec<Row>> {
    let mut rows = Vec::new();
    bench.shape(true);
    let size = 30 * MIB;
    let mut slowest: f64 = 0.0;
    let mut singles = Vec::new();
    for market in &bench.markets {
        let ms = best(&bench.best_upload(market.as_ref(), size, None).await?);
        singles.push(ms);
        slowest = slowest.max(ms);
    }
    let mut samples = Vec::new();
    for _ in 0..bench.samples {
        let path = bench.fresh_video(size)?;
        let clients: Vec<Client> = bench
            .markets
            .iter()
            .map(|m| bench.client(m.as_ref()))
            .collect::<Res<_>>()?;
        let refs: Vec<&dyn marketmedia_core::ChunkedVideoUploader> =
            clients.iter().map(|c| c.video().as_ref()).collect();
        let started = Instant::now();
        let meta = clients
            .iter()
            .fold(UploadMeta::default(), |m, c| m.or(c.upload_defaults()));
        let report = Bench::driver(None)
            .with_meta(meta)
            .upload_to_all(&refs, &path)
            .await;
        let ms = millis(started.elapsed());
        for (market, r) in bench.markets.iter().zip(report.reports) {
            let outcome = r
                .result
                .map_err(|e| format!("fan-out to {}: {e}", market.name()))?;
            bench.verify(market.name(), &outcome, &path)?;
        }
        samples.push(ms);
    }
    let measured = best(&samples);
    let ratio = measured / slowest;
    rows.push(Row {
        scenario: "3 fan-out".into(),
        case: format!(
            "{} to all {} (alone: {})",
            mib(size),
            bench.markets.len(),
            singles
                .iter()
                .map(|ms| format!("{ms:.0}"))
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        measured,
        reference: slowest,
        unit: "ms",
        ratio_is: "fan-out / slowest alone",
        ratio,
        target: "≤ 1.15".into(),
        pass: ratio <= 1.15,
        samples,
    });
    Ok(rows)
}

/// A plain streaming POST of `path` to the raw sink of the server at `base`, as a baseline
/// client would send it (`common/raw_sink.rs`): its time.
async fn raw_post(base: &str, path: &Path) -> Res<f64> {
    let client = marketmedia_core::raw::http::HttpClient::new(Default::default())
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    raw_sink::post_file(client.post(raw_sink::sink_url(base)), path).await?;
    Ok(millis(started.elapsed()))
}

/// 4. No shaping: our upload of 100 MiB against a plain streaming POST of the same bytes to the
///    same server — first through the driver to the raw sink (the client's own transport, no
///    server work), then to the simulated platforms that take 64 MiB or more (their per-byte
///    work included).
async fn loopback(bench: &Bench) -> Res<Vec<Row>> {
    let mut rows = Vec::new();
    bench.shape(false);
    let size = SHAPED_BYTES;
    let server = |m: &dyn Marketplace| raw_sink::origin(&bench.sandbox.base_url(m.name()));
    {
        let base = server(bench.markets[0].as_ref());
        let sink = SinkProvider::new(&base, SINK_PART_BYTES).map_err(|e| e.to_string())?;
        let file = bench.fresh_video(size)?;
        let mut raw = Vec::new();
        let mut ours = Vec::new();
        for _ in 0..bench.samples.max(2) {
            raw.push(raw_post(&base, &file).await?);
            let started = Instant::now();
            Bench::driver(None)
                .upload_file(&sink, &file)
                .await
                .map_err(|e| format!("driver to the raw sink: {e}"))?;
            ours.push(millis(started.elapsed()));
        }
        let (raw_ms, our_ms) = (best(&raw), best(&ours));
        let ratio = raw_ms / our_ms;
        rows.push(Row {
            scenario: "4 unshaped loopback".into(),
            case: format!(
                "driver, {} in {} MiB parts to the raw sink vs raw POST",
                mib(size),
                SINK_PART_BYTES / MIB
            ),
            measured: our_ms,
            reference: raw_ms,
            unit: "ms",
            ratio_is: "our throughput / raw",
            ratio,
            target: "≥ 0.8".into(),
            pass: ratio >= 0.8,
            samples: ours.into_iter().chain(raw).collect(),
        });
    }
    for market in &bench.markets {
        let size = bench.size_for(market.as_ref(), SHAPED_BYTES)?;
        if size < 64 * MIB {
            continue;
        }
        let platform = market.name();
        let base = server(market.as_ref());
        let reference_file = bench.fresh_video(size)?;
        let mut raw = Vec::new();
        let mut ours = Vec::new();
        for _ in 0..bench.samples.max(2) {
            raw.push(raw_post(&base, &reference_file).await?);
            ours.push(bench.timed_upload(market.as_ref(), size, None).await?.0);
        }
        let (raw_ms, our_ms) = (best(&raw), best(&ours));
        let ratio = raw_ms / our_ms;
        rows.push(Row {
            scenario: "4 unshaped loopback".into(),
            case: format!(
                "{platform} {} (server work included) vs raw POST",
                mib(size)
            ),
            measured: our_ms,
            reference: raw_ms,
            unit: "ms",
            ratio_is: "our throughput / raw",
            ratio,
            target: "≥ 0.8".into(),
            pass: ratio >= 0.8,
            samples: ours.into_iter().chain(raw).collect(),
        });
    }
    Ok(rows)
}

/// 5. Peak resident set of a client process fanning one file out to every measured
///    marketplace that takes its size.
async fn memory(bench: &Bench) -> Res<Vec<Row>> {
    let mut rows = Vec::new();
    bench.shape(false);
    for size in [100 * MIB, 25 * MIB] {
        let file = bench.fresh_video(size)?;
        let spec = bench.child_spec(file, size)?;
        let n = spec.markets.len();
        let report = child::measure(&spec).await?;
        if !report.failed.is_empty() {
            return Err(format!("memory client: {:?}", report.failed));
        }
        let peak = report.peak_rss_kib as f64 / 1024.0;
        rows.push(Row {
            scenario: "5 memory".into(),
            case: format!("{} {n}-way fan-out ({} ms)", mib(size), report.elapsed_ms),
            measured: peak,
            reference: 64.0,
            unit: "MiB",
            ratio_is: "peak RSS / 64 MiB",
            ratio: peak / 64.0,
            target: "≤ 1 (64 MiB)".into(),
            pass: peak <= 64.0,
            samples: vec![peak],
        });
    }
    Ok(rows)
}

/// 6. A second upload of the same 100 MiB file to each measured marketplace that takes a
///    file it holds by its hashes (`UploadRules::instant_upload`): no part byte, and no more
///    than three round trips and the hashing.
async fn instant(bench: &Bench) -> Res<Vec<Row>> {
    let mut rows = Vec::new();
    bench.shape(true);
    for market in &bench.markets {
        let platform = market.name();
        let first = bench.client(market.as_ref())?;
        if !first.video().rules().instant_upload {
            continue;
        }
        let size = bench.size_for(market.as_ref(), SHAPED_BYTES)?;
        let path = bench.fresh_video(size)?;
        Bench::driver(None)
            .with_meta(first.upload_defaults().clone())
            .upload_file(first.video().as_ref(), &path)
            .await
            .map_err(|e| format!("first {platform} upload failed: {e}"))?;
        let hash_ms = {
            let p = path.clone();
            let request = DigestRequest {
                instant_upload_hashes: true,
                crc64: true,
                ..DigestRequest::default()
            };
            let started = Instant::now();
            tokio::task::spawn_blocking(move || digest_file(&p, &request))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            millis(started.elapsed())
        };
        // What the simulator's servers received: the request bodies its wire log records.
        let sim = bench
            .sandbox
            .simulator(platform)
            .ok_or_else(|| format!("no {platform} simulator"))?;
        let received_before: usize = sim.wire().records().iter().map(|r| r.body_len).sum();
        let second = bench.client(market.as_ref())?;
        let started = Instant::now();
        let outcome = Bench::driver(None)
            .with_meta(second.upload_defaults().clone())
            .upload_file(second.video().as_ref(), &path)
            .await
            .map_err(|e| format!("second {platform} upload failed: {e}"))?;
        let ms = millis(started.elapsed());
        let received = sim
            .wire()
            .records()
            .iter()
            .map(|r| r.body_len)
            .sum::<usize>()
            .saturating_sub(received_before);
        let limit = millis(bench.link.rtt() * 3) + hash_ms;
        // The calls' own bodies (hashes, names) are a few hundred bytes; a part is a MiB.
        let sent_nothing =
            outcome.stats.instant && outcome.stats.bytes_sent == 0 && received < MIB as usize;
        rows.push(Row {
            scenario: "6 instant upload".into(),
            case: format!(
                "{platform} {} again: {} part bytes sent, {} request bytes received (hashing {hash_ms:.0} ms)",
                mib(size),
                outcome.stats.bytes_sent,
                received
            ),
            measured: ms,
            reference: limit,
            unit: "ms",
            ratio_is: "time / (3 RTT + hashing)",
            ratio: ms / limit,
            target: "≤ 1, 0 part bytes".into(),
            pass: sent_nothing && ms <= limit,
            samples: vec![ms, hash_ms],
        });
    }
    Ok(rows)
}

/// 7. The one-pass digests (MD5 + SHA-256 instant-upload chain + CRC-64) against plain MD5 of
///    the same file.
async fn digests(bench: &Bench) -> Res<Vec<Row>> {
    let mut rows = Vec::new();
    let size = 100 * MIB;
    let path = bench.fresh_video(size)?;
    let md5_only = DigestRequest {
        file_md5: true,
        ..DigestRequest::default()
    };
    let one_pass = DigestRequest {
        file_md5: true,
        instant_upload_hashes: true,
        crc64: true,
        ..DigestRequest::default()
    };
    let time = |request: DigestRequest| {
        let p = path.clone();
        async move {
            let mut samples = Vec::new();
            for _ in 0..3 {
                let p = p.clone();
                let r = request.clone();
                let started = Instant::now();
                tokio::task::spawn_blocking(move || digest_file(&p, &r))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                samples.push(millis(started.elapsed()));
            }
            Res::Ok(samples)
        }
    };
    let plain = time(md5_only).await?;
    let pass = time(one_pass).await?;
    let (plain_ms, pass_ms) = (best(&plain), best(&pass));
    let ratio = pass_ms / plain_ms;
    rows.push(Row {
        scenario: "7 digests".into(),
        case: format!("{}: MD5 + SHA-256 chain + CRC-64 vs MD5", mib(size)),
        measured: pass_ms,
        reference: plain_ms,
        unit: "ms",
        ratio_is: "one pass / plain MD5",
        ratio,
        target: "≤ 1.1".into(),
        pass: ratio <= 1.1,
        samples: pass.into_iter().chain(plain).collect(),
    });
    Ok(rows)
}
