//! The upload benchmark: every scenario of `docs/benchmarks.md`, measured against its physical
//! limit in one run, so the ratios hold on a noisy machine.
//!
//! ```sh
//! cargo bench -p marketmedia-cli --bench upload            # everything (about 3 minutes)
//! cargo bench -p marketmedia-cli --bench upload -- --quick # one sample each, shorter sweep
//! cargo bench -p marketmedia-cli --bench upload -- --only 1,6 # some scenarios
//! cargo bench -p marketmedia-cli --bench upload -- --to shopee,lazada,smh # docs/benchmarks.md's
//! ```
//!
//! It starts the simulators of the registered marketplaces in this process (those `--to`
//! names, every one by default; `docs/benchmarks.md`'s figures were taken with the three it
//! was first measured with), shapes their links with the fault layer
//! (latency per request, bandwidth per connection and in total), uploads fresh files through
//! the real providers and driver, and prints a table. It also writes `upload.json` and the
//! chart `parts-in-flight.png` (upload time against parts in flight, per platform) to
//! `target/marketmedia-bench/` (or `--out DIR`). Memory is measured in a child process of this
//! binary that holds no simulator (the simulators keep every uploaded byte).

mod chart;
mod child;
#[path = "../common/chart.rs"]
mod common_chart;
#[path = "../common/raw_sink.rs"]
mod raw_sink;
mod scenarios;
mod sink;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// One mebibyte.
pub const MIB: u64 = 1 << 20;

/// The shaped link of the shaped scenarios.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Link {
    /// Added to every request before the server reads it.
    pub latency_ms: u64,
    /// Request body bytes per second on one connection.
    pub per_conn_bytes_per_sec: u64,
    /// Request body bytes per second over all connections to one marketplace.
    pub total_bytes_per_sec: u64,
}

impl Link {
    /// 50 ms per request, 8 MiB/s per connection, 40 MiB/s in all (issue 8's default).
    pub const DEFAULT: Link = Link {
        latency_ms: 50,
        per_conn_bytes_per_sec: 8 * MIB,
        total_bytes_per_sec: 40 * MIB,
    };

    /// One request's unavoidable wait.
    pub fn rtt(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }

    /// The fastest `bytes` can cross the link, plus `round_trips` requests that cannot overlap.
    pub fn ideal(&self, bytes: u64, round_trips: u32) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.total_bytes_per_sec as f64)
            + self.rtt() * round_trips
    }
}

/// One line of the result table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario number and name.
    pub scenario: String,
    /// What was measured.
    pub case: String,
    /// The measured figure (milliseconds, or MiB for memory).
    pub measured: f64,
    /// What it is compared with (the ideal, the baseline or the limit), same unit.
    pub reference: f64,
    /// The unit of both figures.
    pub unit: &'static str,
    /// How `ratio` is computed.
    pub ratio_is: &'static str,
    /// The figure the target is about.
    pub ratio: f64,
    /// The target, in words.
    pub target: String,
    /// Whether the target holds.
    pub pass: bool,
    /// Every sample taken, for the JSON.
    pub samples: Vec<f64>,
}

/// The whole run, as written to `upload.json`.
#[derive(Debug, Serialize)]
pub struct Run {
    /// When and where.
    pub machine: Machine,
    /// The shaped link.
    pub link: Link,
    /// The table.
    pub rows: Vec<Row>,
    /// Upload time against parts in flight.
    pub sweep: Vec<SweepPoint>,
}

/// One point of the parts-in-flight sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    /// Platform name.
    pub platform: String,
    /// Parts in flight.
    pub concurrency: usize,
    /// File size.
    pub bytes: u64,
    /// Upload time in milliseconds.
    pub millis: f64,
}

/// The machine the run was on.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// CPU model, from `/proc/cpuinfo`.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Memory, from `/proc/meminfo`.
    pub memory: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
}

impl Machine {
    fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "unknown".to_owned());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory,
            started_unix: marketmedia_core::raw::http::unix_secs(),
        }
    }
}

/// Command-line settings of the benchmark.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the JSON and the chart go.
    pub out: PathBuf,
    /// Samples per timed case (the best is kept).
    pub samples: usize,
    /// Parts in flight swept for the chart.
    pub sweep: Vec<usize>,
    /// The scenarios to run (1–7); all when empty.
    pub only: Vec<u32>,
    /// The marketplaces measured (`--to a,b`); every one with a simulator when empty.
    pub to: Vec<String>,
}

impl Settings {
    /// Whether scenario `n` runs.
    pub fn wants(&self, n: u32) -> bool {
        self.only.is_empty() || self.only.contains(&n)
    }
}

impl Settings {
    fn from_args() -> Settings {
        let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("marketmedia-bench");
        let mut samples = 2;
        let mut sweep = vec![1, 2, 4, 6, 8, 12, 16];
        let mut only = Vec::new();
        let mut to = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--out" => {
                    if let Some(dir) = args.next() {
                        out = PathBuf::from(dir);
                    }
                }
                "--only" => {
                    only = args
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .filter_map(|n| n.trim().parse().ok())
                        .collect();
                }
                "--to" => {
                    to = args
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .map(|n| n.trim().to_ascii_lowercase())
                        .filter(|n| !n.is_empty())
                        .collect();
                }
                "--quick" => {
                    samples = 1;
                    sweep = vec![1, 4, 8];
                }
                // `cargo bench` passes `--bench`; filters and other harness flags are ignored.
                _ => {}
            }
        }
        Settings {
            out,
            samples,
            sweep,
            only,
            to,
        }
    }
}

fn main() {
    if let Some(spec) = child::spec_from_env() {
        std::process::exit(child::run(spec));
    }
    // `MARKETMEDIA_BENCH_LOG=marketmedia_core=debug` (any tracing filter) prints every
    // request's span (call, part, status, duration) to stderr, to see where time goes.
    if let Ok(filter) = std::env::var("MARKETMEDIA_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let settings = Settings::from_args();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    match runtime.block_on(scenarios::run_all(&settings)) {
        Ok(run) => {
            print!("{}", table(&run));
            if let Err(e) = write_outputs(&settings, &run) {
                eprintln!("could not write the results: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            std::process::exit(1);
        }
    }
}

fn write_outputs(settings: &Settings, run: &Run) -> std::io::Result<()> {
    std::fs::create_dir_all(&settings.out)?;
    let json = serde_json::to_string_pretty(run).map_err(std::io::Error::other)?;
    let json_path = settings.out.join("upload.json");
    std::fs::write(&json_path, json)?;
    println!("\nresults: {}", json_path.display());
    let png = settings.out.join("parts-in-flight.png");
    match chart::draw(&run.sweep, &run.link, &png) {
        Ok(()) => println!("chart:   {}", png.display()),
        Err(e) => eprintln!("chart not drawn: {e}"),
    }
    Ok(())
}

/// The result table as Markdown.
pub fn table(run: &Run) -> String {
    let mut out = format!(
        "machine: {} ({} cores, {})\nshaped link: {} ms per request, {} MiB/s per connection, {} MiB/s in all\n\n",
        run.machine.cpu,
        run.machine.cores,
        run.machine.memory,
        run.link.latency_ms,
        run.link.per_conn_bytes_per_sec / MIB,
        run.link.total_bytes_per_sec / MIB
    );
    out.push_str(
        "| scenario | case | measured | reference | ratio | target | |\n|---|---|---|---|---|---|---|\n",
    );
    for r in &run.rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} ({}) | {} | {} |\n",
            r.scenario,
            r.case,
            figure(r.measured, r.unit),
            figure(r.reference, r.unit),
            r.ratio,
            r.ratio_is,
            r.target,
            if r.pass { "ok" } else { "MISSED" }
        ));
    }
    out
}

fn figure(value: f64, unit: &str) -> String {
    match unit {
        "ms" => format!("{value:.0} ms"),
        "MiB" => format!("{value:.1} MiB"),
        _ => format!("{value:.2} {unit}"),
    }
}
