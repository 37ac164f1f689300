//! The catalog's timeline: what each marketplace's link carried, what was in flight on it and
//! what the processes spent, sampled while the batch runs, then where the time beyond the
//! physical limit went (`docs/benchmarks.md`, "Where the catalog's time goes").
//!
//! Sources, all outside the worker (which is measured, not instrumented):
//! - bytes on each link: the simulator's fault layer counts every request body byte as the
//!   shaper lets it through (`FaultCounters::paced_bytes`);
//! - requests in flight on each link: the simulator's [`Traffic`] counter;
//! - uploads in flight per marketplace, videos and images apart: the worker's `--json` events
//!   (`claimed` starts a task, `done`, `failed` and `waiting` end it: a video polled until
//!   ready counts until it is);
//! - CPU: `/proc/PID/stat` of the worker, and of this process, which holds the simulators.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use marketmedia_sim::faults::FaultHandle;
use marketmedia_sim::Traffic;
use plotters::prelude::*;
use serde::Serialize;

use crate::common_chart::{legend, load_font};

const MIB: f64 = (1u64 << 20) as f64;
/// Clock ticks per second of `/proc/PID/stat`'s CPU times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// What is sampled of one marketplace's simulator.
pub struct Probe {
    /// The marketplace.
    pub name: String,
    /// Its fault layer (the byte counter).
    pub faults: Option<FaultHandle>,
    /// Its request counter.
    pub traffic: Option<Traffic>,
}

/// Tasks in flight per marketplace, from the worker's events: `(videos, images, pace)`, the
/// pace being the account's uploads-in-flight limit at its last claim.
#[derive(Clone, Default)]
pub struct TaskCounts(Arc<Mutex<HashMap<String, InFlight>>>);

/// Video tasks, image tasks and the pace of one marketplace.
type InFlight = (i64, i64, i64);

impl TaskCounts {
    /// Takes one line of the worker's `--json` output.
    pub fn observe(&self, line: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return;
        };
        let delta = match v["event"].as_str() {
            Some("claimed") => 1,
            Some("done" | "failed" | "waiting") => -1,
            _ => return,
        };
        let (Some(market), Some(media)) = (v["marketplace"].as_str(), v["media"].as_str()) else {
            return;
        };
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = counts.entry(market.to_owned()).or_default();
        if let Some(pace) = v["pace"].as_i64() {
            entry.2 = pace;
        }
        if media == "video" {
            entry.0 += delta;
        } else {
            entry.1 += delta;
        }
    }

    fn get(&self, market: &str) -> InFlight {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(market).copied().unwrap_or_default()
    }
}

/// One marketplace at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct MarketPoint {
    /// Request body bytes received so far.
    pub bytes: u64,
    /// Requests in flight.
    pub requests: u64,
    /// Video tasks in flight (uploading or polled until ready).
    pub videos: i64,
    /// Image tasks in flight.
    pub images: i64,
    /// The account's uploads-in-flight limit at its last claim.
    pub pace: i64,
}

/// Every marketplace at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the worker started.
    pub t: f64,
    /// Per marketplace, in the probes' order.
    pub markets: Vec<MarketPoint>,
    /// The worker's CPU seconds so far (user + system).
    pub worker_cpu: f64,
    /// This process's (the simulators') CPU seconds so far.
    pub sims_cpu: f64,
}

/// A running sampler.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Sample>>,
}

/// CPU seconds of a process (user + system), from `/proc/PID/stat`.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

impl Sampler {
    /// Samples `probes`, `tasks` and the CPU of `worker` every `every`, from `started`.
    pub fn start(
        probes: Vec<Probe>,
        tasks: TaskCounts,
        worker: u32,
        started: Instant,
        every: Duration,
    ) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let worker = worker.to_string();
            let (mut worker_cpu, mut sims_cpu) = (0.0, 0.0);
            let mut samples = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                // A process that exited keeps its last reading.
                worker_cpu = cpu_seconds(&worker).unwrap_or(worker_cpu);
                sims_cpu = cpu_seconds("self").unwrap_or(sims_cpu);
                let markets = probes
                    .iter()
                    .map(|p| {
                        let (videos, images, pace) = tasks.get(&p.name);
                        MarketPoint {
                            bytes: p.faults.as_ref().map_or(0, |f| f.counters().paced_bytes),
                            requests: p.traffic.as_ref().map_or(0, |t| t.counters().in_flight),
                            videos,
                            images,
                            pace,
                        }
                    })
                    .collect();
                samples.push(Sample {
                    t: started.elapsed().as_secs_f64(),
                    markets,
                    worker_cpu,
                    sims_cpu,
                });
                std::thread::sleep(every);
            }
            samples
        });
        Sampler { stop, thread }
    }

    /// Stops sampling; the samples.
    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The link every marketplace is shaped to.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Link {
    /// Bytes per second per marketplace, in all.
    pub total: u64,
    /// Bytes per second per connection.
    pub per_conn: u64,
}

impl Link {
    /// Requests sending at once that fill the link (its total over one connection's cap).
    pub fn connections_to_fill(&self) -> u64 {
        self.total.div_ceil(self.per_conn.max(1))
    }
}

/// Where one marketplace's time went, in seconds: the batch's wall time is its bytes over the
/// link plus the link's idle or underfilled time, split by what was happening meanwhile.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// The marketplace.
    pub name: String,
    /// Bytes it received (every request body: parts, images, retries).
    pub bytes: u64,
    /// Those bytes over the link: its share of the physical limit.
    pub busy: f64,
    /// Before its first byte (the worker starting, claiming, hashing, init calls).
    pub before_first_byte: f64,
    /// Underfilled while no video upload was in flight (images alone, or nothing).
    pub images_only: f64,
    /// Underfilled with fewer requests in flight than fill the link.
    pub too_few_requests: f64,
    /// Underfilled with enough requests in flight (requests without bodies: inits,
    /// commits, polls, image calls' round trips, latency).
    pub requests_not_sending: f64,
    /// After its last byte, until the batch ended (commit, polling, the other marketplaces).
    pub after_last_byte: f64,
    /// The mean requests in flight while it had bytes to send.
    pub mean_requests: f64,
    /// The mean video tasks in flight, the same.
    pub mean_videos: f64,
    /// The mean image tasks in flight, the same.
    pub mean_images: f64,
    /// The mean pace (uploads-in-flight limit), the same.
    pub mean_pace: f64,
}

/// The whole finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The batch's wall time, seconds.
    pub wall: f64,
    /// Per marketplace.
    pub markets: Vec<Breakdown>,
    /// The worker's CPU seconds, and as a share of one core over the wall time.
    pub worker_cpu: f64,
    /// The simulators' CPU seconds.
    pub sims_cpu: f64,
}

/// Where each marketplace's time went.
pub fn analyse(samples: &[Sample], names: &[String], link: Link, wall: f64) -> Finding {
    let total = link.total as f64;
    let fill = link.connections_to_fill();
    let markets = names
        .iter()
        .enumerate()
        .map(|(m, name)| {
            let at = |i: usize| &samples[i].markets[m];
            let bytes = samples.last().map_or(0, |s| s.markets[m].bytes);
            let first = samples.iter().position(|s| s.markets[m].bytes > 0);
            let last = samples.iter().position(|s| s.markets[m].bytes >= bytes);
            let mut b = Breakdown {
                name: name.clone(),
                bytes,
                busy: bytes as f64 / total,
                before_first_byte: first.map_or(wall, |i| samples[i].t),
                images_only: 0.0,
                too_few_requests: 0.0,
                requests_not_sending: 0.0,
                after_last_byte: last.map_or(0.0, |i| (wall - samples[i].t).max(0.0)),
                mean_requests: 0.0,
                mean_videos: 0.0,
                mean_images: 0.0,
                mean_pace: 0.0,
            };
            if let (Some(first), Some(last)) = (first, last) {
                let mut span = 0.0;
                for i in first + 1..=last {
                    let dt = samples[i].t - samples[i - 1].t;
                    let sent = at(i).bytes.saturating_sub(at(i - 1).bytes) as f64;
                    // The underfilled share of this interval. Not clipped at 0: the counter
                    // counts a chunk when the shaper takes it, before the shaper's pause, so
                    // an interval can read above the link and the next one below; summed,
                    // the columns add up to the wall time.
                    let idle = dt - sent / total;
                    let (p, q) = (at(i - 1), at(i));
                    let videos = p.videos.max(q.videos);
                    let requests = p.requests.min(q.requests);
                    if videos <= 0 {
                        b.images_only += idle;
                    } else if requests < fill {
                        b.too_few_requests += idle;
                    } else {
                        b.requests_not_sending += idle;
                    }
                    span += dt;
                    b.mean_requests += dt * q.requests as f64;
                    b.mean_videos += dt * q.videos as f64;
                    b.mean_images += dt * q.images as f64;
                    b.mean_pace += dt * q.pace as f64;
                }
                if span > 0.0 {
                    b.mean_requests /= span;
                    b.mean_videos /= span;
                    b.mean_images /= span;
                    b.mean_pace /= span;
                }
            }
            b
        })
        .collect();
    let end = samples.last();
    Finding {
        wall,
        markets,
        worker_cpu: end.map_or(0.0, |s| s.worker_cpu),
        sims_cpu: end.map_or(0.0, |s| s.sims_cpu),
    }
}

impl Finding {
    /// The finding as a Markdown table, with the CPU line.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| marketplace | MB received | at the link's rate | before first byte | images only | too few requests | requests not sending | after last byte | unaccounted | mean requests | mean videos / images in flight | mean pace |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for b in &self.markets {
            let accounted = b.busy
                + b.before_first_byte
                + b.images_only
                + b.too_few_requests
                + b.requests_not_sending
                + b.after_last_byte;
            out.push_str(&format!(
                "| {} | {:.0} | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {:.1} | {:.1} / {:.1} | {:.1} |\n",
                b.name,
                b.bytes as f64 / 1e6,
                b.busy,
                b.before_first_byte,
                b.images_only,
                b.too_few_requests,
                b.requests_not_sending,
                b.after_last_byte,
                self.wall - accounted,
                b.mean_requests,
                b.mean_videos,
                b.mean_images,
                b.mean_pace,
            ));
        }
        out.push_str(&format!(
            "wall {:.1} s; CPU: worker {:.1} s ({:.0} % of a core), simulators {:.1} s ({:.0} % of a core)\n",
            self.wall,
            self.worker_cpu,
            100.0 * self.worker_cpu / self.wall.max(1e-9),
            self.sims_cpu,
            100.0 * self.sims_cpu / self.wall.max(1e-9),
        ));
        out
    }
}

/// Draws the timeline: MiB/s per link, requests and tasks in flight, CPU.
pub fn draw(samples: &[Sample], names: &[String], link: Link, path: &Path) -> Result<(), String> {
    load_font()?;
    let e = |err: DrawingAreaErrorKind<_>| format!("drawing failed: {err:?}");
    let root = BitMapBackend::new(path, (1100, 1000)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let panels = root.split_evenly((3, 1));
    let t_max = samples.last().map_or(1.0, |s| s.t).max(1.0);
    // Rates over a 1 s window, so that a 200 ms sampling jitter does not draw spikes.
    let window = 5usize;
    let rate = |m: usize| -> Vec<(f64, f64)> {
        (window..samples.len())
            .map(|i| {
                let (a, b) = (&samples[i - window], &samples[i]);
                let dt = (b.t - a.t).max(1e-6);
                let bytes = b.markets[m].bytes.saturating_sub(a.markets[m].bytes) as f64;
                (b.t, bytes / dt / MIB)
            })
            .collect()
    };
    let link_mib = link.total as f64 / MIB;

    let mut top = ChartBuilder::on(&panels[0])
        .caption(
            format!("Each link's MiB/s (1 s window; the link carries {link_mib:.0} MiB/s)"),
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..t_max, 0.0..link_mib * 1.2)
        .map_err(e)?;
    top.configure_mesh()
        .y_desc("MiB/s")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    top.draw_series(LineSeries::new(
        vec![(0.0, link_mib), (t_max, link_mib)],
        BLACK.mix(0.4).stroke_width(1),
    ))
    .map_err(e)?;
    for (m, name) in names.iter().enumerate() {
        let color = Palette99::pick(m).to_rgba();
        top.draw_series(LineSeries::new(rate(m), color.stroke_width(2)))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    legend(&mut top, 12)?;

    let max_in_flight = samples
        .iter()
        .flat_map(|s| s.markets.iter())
        .map(|p| {
            p.requests
                .max(p.videos.max(0) as u64 + p.images.max(0) as u64)
        })
        .max()
        .unwrap_or(1) as f64;
    let mut mid = ChartBuilder::on(&panels[1])
        .caption(
            "Requests in flight on each link (thick), the pace (thin), video tasks (dashed) and image tasks (dotted) in flight",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..t_max, 0.0..max_in_flight * 1.1 + 1.0)
        .map_err(e)?;
    mid.configure_mesh()
        .y_desc("in flight")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    for (m, name) in names.iter().enumerate() {
        let color = Palette99::pick(m).to_rgba();
        let series = |f: &dyn Fn(&MarketPoint) -> f64| -> Vec<(f64, f64)> {
            samples.iter().map(|s| (s.t, f(&s.markets[m]))).collect()
        };
        mid.draw_series(LineSeries::new(
            series(&|p| p.requests as f64),
            color.stroke_width(2),
        ))
        .map_err(e)?
        .label(name.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        mid.draw_series(LineSeries::new(
            series(&|p| p.pace as f64),
            color.mix(0.6).stroke_width(1),
        ))
        .map_err(e)?;
        mid.draw_series(DashedLineSeries::new(
            series(&|p| p.videos as f64),
            8,
            5,
            color.stroke_width(1),
        ))
        .map_err(e)?;
        mid.draw_series(DashedLineSeries::new(
            series(&|p| p.images as f64),
            2,
            4,
            color.stroke_width(1),
        ))
        .map_err(e)?;
    }
    legend(&mut mid, 12)?;

    let cpu = |f: &dyn Fn(&Sample) -> f64| -> Vec<(f64, f64)> {
        (window..samples.len())
            .map(|i| {
                let (a, b) = (&samples[i - window], &samples[i]);
                let dt = (b.t - a.t).max(1e-6);
                (b.t, 100.0 * (f(b) - f(a)) / dt)
            })
            .collect()
    };
    let mut low = ChartBuilder::on(&panels[2])
        .caption(
            "CPU, % of one core (1 s window; the machine has 2 cores)",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..t_max, 0.0..200.0)
        .map_err(e)?;
    low.configure_mesh()
        .x_desc("seconds")
        .y_desc("% of a core")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    let worker_color = BLUE.to_rgba();
    let sims_color = RED.to_rgba();
    low.draw_series(LineSeries::new(
        cpu(&|s| s.worker_cpu),
        worker_color.stroke_width(2),
    ))
    .map_err(e)?
    .label("worker (marketmedia batch run)")
    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], worker_color));
    low.draw_series(LineSeries::new(
        cpu(&|s| s.sims_cpu),
        sims_color.stroke_width(2),
    ))
    .map_err(e)?
    .label("simulators (the benchmark's process)")
    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], sims_color));
    legend(&mut low, 12)?;
    root.present().map_err(e)?;
    Ok(())
}
