//! The catalog benchmark (issue 15): 100 distinct videos of 6–25 MB and 300 images, each to
//! every marketplace `--to` names (`docs/benchmarks.md`'s figures: shopee, lazada and smh,
//! those it was first measured with; every one with a simulator by default), on the shaped
//! sandbox (50 ms per request, 8 MiB/s per connection, 40 MiB/s per marketplace), run by
//! `marketmedia batch run` in a child process.
//!
//! ```sh
//! cargo bench -p marketmedia-cli --bench batch              # the full catalog (a few minutes)
//! cargo bench -p marketmedia-cli --bench batch -- --videos 20 # a smaller one
//! cargo bench -p marketmedia-cli --bench batch -- --to shopee,lazada,smh
//! cargo bench -p marketmedia-cli --bench batch -- --uploads-per-market 6 --quick  # a sweep point
//! cargo bench -p marketmedia-cli --bench batch -- --link-mib 10 --latency-ms 150  # another link
//! ```
//!
//! `--uploads-per-market N` and `--tasks N` are passed to the worker (default: the worker's
//! own, an adaptive pace per account); `--quick` skips the dry run and the store loop;
//! `--link-mib`, `--conn-mib` and `--latency-ms` shape the links (40, 8, 50).
//!
//! It prints, and writes to `target/marketmedia-bench/batch.json`:
//! - the batch's wall time against the physical limit: each marketplace's bytes over its
//!   40 MiB/s, the marketplaces in parallel; or the CPU floor when it is larger (the CPU
//!   seconds of the worker and of the simulators over the machine's cores); or, when larger
//!   still, the time a platform's published request rate needs for the requests its
//!   simulator accepted (eBay's 50 POST per 5 s; target ≤ 1.15×);
//! - the worker process's peak resident set (`VmHWM`, target ≤ 64 MiB, independent of the
//!   catalog's size), and the same for a 1,000-row dry run;
//! - the time per task spent in the store (SQLite: add, claim, save the session, complete);
//! - the timeline (`timeline.rs`): each link's bytes per second, requests and tasks in flight,
//!   the CPU of the worker and of the simulators, every 200 ms; where each marketplace's time
//!   beyond its bytes over its link went; drawn to `catalog-timeline.png` beside `batch.json`
//!   (or `--chart PATH`), the samples in `batch-timeline.json`.
//!
//! The simulators run in this process and keep what they receive; the worker is the real CLI
//! binary, so its memory is the client's alone.

#[path = "../common/child.rs"]
mod child;
#[path = "../common/chart.rs"]
mod common_chart;
mod plain;
#[path = "../common/raw_sink.rs"]
mod raw_sink;
mod timeline;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use marketmedia_batch::store::{self, MediaKind, NewTask};
use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::raw::{PartPlan, PartSizeRule, UploadRules, UploadSession, TITLE};
use marketmedia_core::Marketplace;
use marketmedia_sim::faults::FaultProfile;
use marketmedia_sim::fixtures::{decodable_jpeg, write_sample_mp4};
use serde::Serialize;

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");
const MB: u64 = 1_000_000;
const MIB: u64 = 1 << 20;

#[derive(Debug, Serialize)]
struct Results {
    videos: u64,
    images: u64,
    video_bytes: u64,
    image_bytes: u64,
    wall_ms: u64,
    limit_ms: u64,
    cpu_floor_ms: u64,
    rate_floor_ms: u64,
    ratio: f64,
    worker_peak_rss_mib: f64,
    dry_run_rows: u64,
    dry_run_ms: u64,
    dry_run_peak_rss_mib: f64,
    store_ms_per_task: f64,
    uploaded: u64,
    failed: u64,
    uploads_per_market: Option<u64>,
    tasks: Option<u64>,
    link: timeline::Link,
    latency_ms: u64,
    finding: timeline::Finding,
    digest_passes: u64,
    digest_passes_shared: u64,
    cpu: Option<CpuPerGib>,
}

/// The worker's CPU per GiB sent, beside the plain client's for the same bytes.
#[derive(Debug, Serialize)]
struct CpuPerGib {
    bytes: u64,
    worker_cpu_s: f64,
    plain_cpu_s: f64,
    worker_s_per_gib: f64,
    plain_s_per_gib: f64,
    ratio: f64,
}

fn text_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a run of the CLI gave: wall time, peak resident set (KiB), standard output, success,
/// and the timeline's samples.
struct Measured {
    wall: Duration,
    peak_kib: u64,
    out: String,
    ok: bool,
    samples: Vec<timeline::Sample>,
}

/// Runs the CLI with `args` and `env`, sampling its peak resident set until it exits, and the
/// timeline of `probes` meanwhile.
fn run_measured(
    args: &[&str],
    env: &[(String, String)],
    dir: &Path,
    probes: Vec<timeline::Probe>,
) -> Measured {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start marketmedia");
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped stdout");
    let tasks = timeline::TaskCounts::default();
    let counts = tasks.clone();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut out = String::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            counts.observe(&line);
            out.push_str(&line);
            out.push('\n');
        }
        out
    });
    let sampler = timeline::Sampler::start(probes, tasks, pid, started, Duration::from_millis(200));
    let (status, peak) = child::wait_sampling_peak(&mut child, Duration::from_millis(20));
    let wall = started.elapsed();
    let samples = sampler.finish();
    let out = reader.join().unwrap_or_default();
    Measured {
        wall,
        peak_kib: peak,
        out,
        ok: status.success(),
        samples,
    }
}

/// The marketplaces `--to` names, every one with a simulator when it names none.
fn markets(sb: &Sandbox) -> Vec<std::sync::Arc<dyn Marketplace>> {
    let args: Vec<String> = std::env::args().collect();
    let to: Vec<String> = args
        .iter()
        .position(|a| a == "--to")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(|n| n.trim().to_owned()).collect())
        .unwrap_or_default();
    sb.marketplaces()
        .into_iter()
        .filter(|m| to.is_empty() || to.iter().any(|n| n == m.name()))
        .collect()
}

fn env_for(sb: &Sandbox, names: &[&str], home: &Path) -> Vec<(String, String)> {
    let mut env = sb.env_vars(names);
    let pairs: Vec<(&str, String)> = vec![
        ("HOME", home.display().to_string()),
        ("XDG_CONFIG_HOME", home.join("config").display().to_string()),
        ("XDG_DATA_HOME", home.join("data").display().to_string()),
    ];
    env.extend(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)));
    // The C library's allocator settings, when the run sets them (`MALLOC_ARENA_MAX=2`…):
    // the worker's resident set depends on them.
    env.extend(std::env::vars().filter(|(k, _)| k.starts_with("MALLOC_")));
    env
}

/// The per-product columns every row gives: `<marketplace>.<field>` for each field a
/// marketplace requires with every video, and each one's value in row `i` (a title of its
/// own, else what the marketplace's simulator account holds for it: a cover on its CDN).
type Columns = Vec<(String, Box<dyn Fn(u64) -> String>)>;

fn columns(sb: &Sandbox, markets: &[std::sync::Arc<dyn Marketplace>]) -> Columns {
    let mut out: Columns = Vec::new();
    for m in markets {
        let settings = sb.settings_of(m.as_ref()).expect("the sandbox's settings");
        for f in m.upload_fields().iter().filter(|f| f.required) {
            let name = format!("{}.{}", m.name(), f.name);
            if f.name == TITLE {
                out.push((name, Box::new(|i| format!("Product {i}"))));
            } else {
                let value = settings.text(f.name).unwrap_or_default().to_owned();
                out.push((name, Box::new(move |_| value.clone())));
            }
        }
    }
    out
}

/// The catalog: `videos` products with a video of 6–25 MB and three images each.
fn write_catalog(
    dir: &Path,
    videos: u64,
    names: &[&str],
    columns: &Columns,
) -> (PathBuf, u64, u64) {
    let header: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let mut csv = format!("sku,video,images,marketplaces,{}\n", header.join(","));
    let (mut video_bytes, mut image_bytes) = (0, 0);
    for i in 0..videos {
        // Spread over 6–25 MB, each size distinct (distinct content).
        let size = 6 * MB + (i * 19 * MB) / videos.max(1) + i * 4096;
        let video = format!("v{i:03}.mp4");
        write_sample_mp4(&dir.join(&video), Duration::from_secs(12), size).expect("write video");
        video_bytes += size;
        let mut images = Vec::new();
        for j in 0..3 {
            let name = format!("i{i:03}_{j}.jpg");
            let len = 150_000 + (i as usize * 3 + j) * 1000;
            // A real picture: a platform may decode it (WeChat's simulator does).
            std::fs::write(
                dir.join(&name),
                decodable_jpeg(len).expect("encode an image"),
            )
            .expect("write image");
            image_bytes += len as u64;
            images.push(name);
        }
        let values: Vec<String> = columns.iter().map(|(_, value)| value(i)).collect();
        csv.push_str(&format!(
            "P{i:03},{video},{},{},{}\n",
            images.join("|"),
            names.join(";"),
            values.join(",")
        ));
    }
    let path = dir.join("catalog.csv");
    std::fs::write(&path, csv).expect("write the manifest");
    (path, video_bytes, image_bytes)
}

/// Runs the plain client (`plain.rs`) over the catalog in `dir`: every video and image to
/// every marketplace's raw sink, with the digests that marketplace's rules require.
fn plain_cpu(
    sb: &Sandbox,
    names: &[&str],
    dir: &Path,
    videos: u64,
) -> Result<plain::Report, String> {
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for i in 0..videos {
        files.push((dir.join(format!("v{i:03}.mp4")), true));
        for j in 0..3 {
            files.push((dir.join(format!("i{i:03}_{j}.jpg")), false));
        }
    }
    let mut items = Vec::new();
    for name in names {
        let client = sb.client(name).map_err(|e| e.to_string())?;
        let rules = client.video().rules().clone();
        let sink = raw_sink::sink_url(&sb.base_url(name));
        for (path, video) in &files {
            let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
            let d = rules.digests;
            let part = PartPlan::new(size, &rules, None)
                .map(|p| p.part_size())
                .ok();
            items.push(plain::Item {
                path: path.clone(),
                sink: sink.clone(),
                md5: *video && d.file_md5,
                part_md5: if *video && d.part_md5 { part } else { None },
                sha_chain: *video && d.instant_upload_hashes,
                crc64: *video && d.crc64,
            });
        }
    }
    let spec = dir.join("plain.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&items).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(plain::CHILD_VAR, &spec)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("the plain client exited with {}", out.status));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).map_err(|e| format!("{e}: {line}"))
}

/// Store time per task on SQLite: add, claim, save a session with receipts, complete.
async fn store_ms_per_task(dir: &Path, tasks: u64) -> f64 {
    let path = dir.join("store-bench.sqlite");
    let store = store::open(path.to_str().unwrap_or("store-bench.sqlite"))
        .await
        .expect("open the store");
    let rules = UploadRules::new("bench", PartSizeRule::Exact(4 * MIB), 30 * MIB);
    let started = Instant::now();
    let new: Vec<NewTask> = (0..tasks)
        .map(|i| NewTask {
            batch: "bench".into(),
            line: i + 2,
            sku: format!("S{i}"),
            media: "video".into(),
            kind: MediaKind::Video,
            marketplace: "bench".into(),
            platform: "bench".into(),
            account: "shop".into(),
            path: format!("/tmp/v{i}.mp4"),
            size: 20 * MIB,
            content_key: format!("sha256:{i:064x}"),
            fields: BTreeMap::new(),
        })
        .collect();
    store.add_tasks(&new).await.expect("add tasks");
    for _ in 0..tasks {
        let now = marketmedia_core::raw::http::unix_millis() as i64;
        let task = store
            .claim("bench", "bench", now, now + 30_000)
            .await
            .expect("claim")
            .expect("a task");
        let session = UploadSession {
            platform: "bench".into(),
            upload_id: format!("up-{}", task.id),
            plan: PartPlan::new(20 * MIB, &rules, None).expect("plan"),
            expires_at: None,
            started_at_ms: now as u64,
            data: serde_json::Value::Null,
        };
        let receipts: Vec<_> = session
            .plan
            .parts()
            .map(|p| marketmedia_core::raw::PartReceipt {
                index: p.index,
                wire_number: p.index,
                size: p.len,
                etag: None,
            })
            .collect();
        // One save per acknowledged part, as the worker does.
        for n in 1..=receipts.len() {
            store
                .save_session(task.id, "bench", &session, &receipts[..n])
                .await
                .expect("save");
        }
        store
            .complete(
                &task,
                "bench",
                &format!("asset-{}", task.id),
                &[],
                20 * MIB,
                false,
            )
            .await
            .expect("complete");
    }
    started.elapsed().as_secs_f64() * 1000.0 / tasks as f64
}

#[tokio::main]
async fn main() {
    if let Some(items) = plain::spec_from_env() {
        std::process::exit(plain::run(items).await);
    }
    let videos = arg("--videos", 100);
    let quick = flag("--quick");
    let tasks = text_arg("--tasks").and_then(|v| v.parse::<u64>().ok());
    let uploads_per_market = text_arg("--uploads-per-market").and_then(|v| v.parse::<u64>().ok());
    let latency_ms = arg("--latency-ms", 50);
    let link = timeline::Link {
        total: arg("--link-mib", 40) * MIB,
        per_conn: arg("--conn-mib", 8) * MIB,
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sb = Sandbox::start().await.expect("start the sandbox");
    let profile = FaultProfile {
        latency_ms,
        bandwidth_per_conn: Some(link.per_conn),
        bandwidth_total: Some(link.total),
        ..FaultProfile::none()
    };
    let markets = markets(&sb);
    let names: Vec<&str> = markets.iter().map(|m| m.name()).collect();
    for name in &names {
        if let Some(faults) = sb.simulator(name).and_then(|s| s.faults()) {
            faults.set(profile.clone());
        }
    }
    let columns = columns(&sb, &markets);

    eprintln!("writing {videos} videos and {} images…", videos * 3);
    let (manifest, video_bytes, image_bytes) = write_catalog(dir.path(), videos, &names, &columns);
    let env = env_for(&sb, &names, dir.path());
    let store_path = dir.path().join("batch.sqlite");
    let store_arg = store_path.display().to_string();
    let manifest_arg = manifest.display().to_string();

    eprintln!("running the batch…");
    let probes = names
        .iter()
        .map(|name| {
            let sim = sb.simulator(name);
            timeline::Probe {
                name: name.to_string(),
                faults: sim.and_then(|s| s.faults()).cloned(),
                traffic: sim.and_then(|s| s.traffic()).cloned(),
            }
        })
        .collect();
    let mut run_args = vec![
        "batch",
        "run",
        &manifest_arg,
        "--store",
        &store_arg,
        "--json",
    ];
    let tasks_arg = tasks.map(|n| n.to_string());
    if let Some(n) = &tasks_arg {
        run_args.extend(["--tasks", n]);
    }
    let uploads_arg = uploads_per_market.map(|n| n.to_string());
    if let Some(n) = &uploads_arg {
        run_args.extend(["--uploads-per-market", n]);
    }
    let run = run_measured(&run_args, &env, dir.path(), probes);
    let (wall, peak_kib, out, ok) = (run.wall, run.peak_kib, run.out, run.ok);
    let market_names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    // Answers refused for the platform's request rate (429), per marketplace: time the link
    // stood idle waiting for the platform, not for the client.
    let refused: Vec<String> = names
        .iter()
        .map(|name| {
            let n = sb.simulator(name).map_or(0, |s| {
                s.wire()
                    .records()
                    .iter()
                    .filter(|r| r.status == 429)
                    .count()
            });
            format!("{name} {n}")
        })
        .collect();
    // The published request rates the simulators enforce (eBay's 50 POST per 5 s): the
    // requests of the counted method each one accepted need at least this long.
    let rate_floors: Vec<(String, usize, f64)> = names
        .iter()
        .filter_map(|name| {
            let sim = sb.simulator(name)?;
            let rate = sim.request_rate()?;
            let accepted = sim
                .wire()
                .records()
                .iter()
                .filter(|r| r.method.eq_ignore_ascii_case(rate.method) && r.status != 429)
                .count();
            let floor = accepted as f64 / rate.requests.max(1) as f64 * rate.per.as_secs_f64();
            Some((name.to_string(), accepted, floor))
        })
        .collect();
    let rate_floor = rate_floors.iter().map(|r| r.2).fold(0.0, f64::max);
    let finding = timeline::analyse(&run.samples, &market_names, link, wall.as_secs_f64());
    let finished = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["event"] == "finished")
        .unwrap_or_default();
    let uploaded = finished["report"]["uploaded"].as_u64().unwrap_or(0);
    let failed = finished["report"]["failed"].as_u64().unwrap_or(0);
    if !ok {
        eprintln!("the batch did not end cleanly ({failed} failed)");
    }

    // The physical limit: each marketplace receives every byte once over its own 40 MiB/s;
    // they run in parallel, so the limit is one marketplace's bytes over its link.
    let per_market = video_bytes + image_bytes;
    let limit = Duration::from_secs_f64(per_market as f64 / link.total as f64);
    // The CPU floor: the work of the worker and of the simulators (their hashing, mostly)
    // over the machine's cores; with many marketplaces at once it can exceed the links'
    // limit, and the reference is then the larger.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cpu_floor = (finding.worker_cpu + finding.sims_cpu) / cores;
    let reference = limit.as_secs_f64().max(cpu_floor).max(rate_floor);
    let ratio = wall.as_secs_f64() / reference;

    // A 1,000-row dry run, its rows naming the catalog's files again under new skus.
    let rows = if quick { 0 } else { 1000 };
    let (dry_wall, dry_peak) = if quick {
        (Duration::ZERO, 0)
    } else {
        let header: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let mut csv = format!("sku,video,images,marketplaces,{}\n", header.join(","));
        for r in 0..rows {
            let i = r % videos.max(1);
            let values: Vec<String> = columns.iter().map(|(_, value)| value(r)).collect();
            csv.push_str(&format!(
                "D{r:04},v{i:03}.mp4,i{i:03}_0.jpg|i{i:03}_1.jpg|i{i:03}_2.jpg,{},{}\n",
                names.join(";"),
                values.join(",")
            ));
        }
        let dry = dir.path().join("dry.csv");
        std::fs::write(&dry, csv).expect("write the dry-run manifest");
        let dry_arg = dry.display().to_string();
        let dry = run_measured(
            &["batch", "run", &dry_arg, "--dry-run", "--store", &store_arg],
            &env,
            dir.path(),
            Vec::new(),
        );
        (dry.wall, dry.peak_kib)
    };

    let store_ms = if quick {
        0.0
    } else {
        store_ms_per_task(dir.path(), 300).await
    };

    // The plain client's CPU for the same bytes and the digests each platform requires, on
    // unshaped links (the CPU a byte costs does not depend on the link's speed).
    for name in &names {
        if let Some(faults) = sb.simulator(name).and_then(|s| s.faults()) {
            faults.set(FaultProfile::none());
        }
    }
    let cpu = if quick {
        None
    } else {
        match plain_cpu(&sb, &names, dir.path(), videos) {
            Ok(report) => {
                let gib = report.bytes as f64 / (1u64 << 30) as f64;
                let worker = finding.worker_cpu / gib;
                let plain = report.cpu_s / gib;
                Some(CpuPerGib {
                    bytes: report.bytes,
                    worker_cpu_s: finding.worker_cpu,
                    plain_cpu_s: report.cpu_s,
                    worker_s_per_gib: worker,
                    plain_s_per_gib: plain,
                    ratio: worker / plain,
                })
            }
            Err(e) => {
                eprintln!("no plain-client baseline: {e}");
                None
            }
        }
    };
    let digest_passes = finished["report"]["digest_passes"].as_u64().unwrap_or(0);
    let digest_passes_shared = finished["report"]["digest_passes_shared"]
        .as_u64()
        .unwrap_or(0);

    let results = Results {
        videos,
        images: videos * 3,
        video_bytes,
        image_bytes,
        wall_ms: wall.as_millis() as u64,
        limit_ms: limit.as_millis() as u64,
        cpu_floor_ms: (cpu_floor * 1000.0) as u64,
        rate_floor_ms: (rate_floor * 1000.0) as u64,
        ratio,
        worker_peak_rss_mib: peak_kib as f64 / 1024.0,
        dry_run_rows: rows,
        dry_run_ms: dry_wall.as_millis() as u64,
        dry_run_peak_rss_mib: dry_peak as f64 / 1024.0,
        store_ms_per_task: store_ms,
        uploaded,
        failed,
        uploads_per_market,
        tasks,
        link,
        latency_ms,
        finding,
        digest_passes,
        digest_passes_shared,
        cpu,
    };
    println!(
        "| catalog | measured | reference | ratio | target |\n|---|---|---|---|---|\n\
         | {} videos + {} images × {} marketplaces ({:.0} MB each) | {:.1} s | links' limit {:.1} s, CPU floor {:.1} s{} | {:.2} | ≤ 1.15 {} |\n\
         | worker peak RSS | {:.1} MiB | — | — | ≤ 64 MiB {} |\n\
         | dry run, {} rows | {:.1} s, {:.1} MiB peak | — | — | ≤ 64 MiB {} |\n\
         | store time per task (SQLite) | {:.2} ms | — | — | — |\n\
         {}\
         uploaded {uploaded}, failed {failed}; digest passes {digest_passes} ({digest_passes_shared} tasks took another's)",
        results.videos,
        results.images,
        names.len(),
        per_market as f64 / MB as f64,
        wall.as_secs_f64(),
        limit.as_secs_f64(),
        cpu_floor,
        rate_floors
            .iter()
            .map(|(name, n, floor)| format!(", {name}'s published rate {floor:.1} s ({n} requests)"))
            .collect::<String>(),
        ratio,
        if ratio <= 1.15 { "ok" } else { "missed" },
        results.worker_peak_rss_mib,
        if results.worker_peak_rss_mib <= 64.0 { "ok" } else { "missed" },
        rows,
        dry_wall.as_secs_f64(),
        results.dry_run_peak_rss_mib,
        if results.dry_run_peak_rss_mib <= 64.0 { "ok" } else { "missed" },
        store_ms,
        results.cpu.as_ref().map_or_else(String::new, |c| format!(
            "| worker CPU per GiB sent ({:.2} GiB) | {:.2} s/GiB ({:.1} s) | plain POST + required digests {:.2} s/GiB ({:.1} s) | {:.2} | — |\n",
            c.bytes as f64 / (1u64 << 30) as f64,
            c.worker_s_per_gib,
            c.worker_cpu_s,
            c.plain_s_per_gib,
            c.plain_cpu_s,
            c.ratio
        )),
    );
    println!(
        "\nlinks {} MiB/s each ({} MiB/s per connection, {} ms per request); worker: --tasks {}, --uploads-per-market {}; 429 answers: {}\n\n{}",
        link.total / MIB,
        link.per_conn / MIB,
        latency_ms,
        tasks.map_or_else(|| "default".to_owned(), |n| n.to_string()),
        uploads_per_market.map_or_else(|| "default".to_owned(), |n| n.to_string()),
        refused.join(", "),
        results.finding.table()
    );
    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/marketmedia-bench");
    if std::fs::create_dir_all(&out_dir).is_ok() {
        if let Ok(json) = serde_json::to_string_pretty(&results) {
            let _ = std::fs::write(out_dir.join("batch.json"), json);
        }
        if let Ok(json) = serde_json::to_string(&run.samples) {
            let _ = std::fs::write(out_dir.join("batch-timeline.json"), json);
        }
        let chart = text_arg("--chart")
            .map(PathBuf::from)
            .unwrap_or_else(|| out_dir.join("catalog-timeline.png"));
        match timeline::draw(&run.samples, &market_names, link, &chart) {
            Ok(()) => eprintln!("timeline drawn to {}", chart.display()),
            Err(e) => eprintln!("no timeline chart: {e}"),
        }
    }
}
