//! The scale benchmark (issue 28): the job store at 1,000, 10,000 and 100,000 tasks, on
//! SQLite and on PostgreSQL (a database it creates and drops), with 1, 2 and 4 workers.
//!
//! ```sh
//! cargo bench -p marketmedia-cli --bench scale                   # up to 100,000 tasks
//! SCALE_MAX=10000 cargo bench -p marketmedia-cli --bench scale   # quicker: up to 10,000
//! SCALE_SAMPLE=500 SCALE_BACKENDS=sqlite cargo bench -p marketmedia-cli --bench scale
//! ```
//!
//! Run without `--bench` (as `cargo test --all-targets` runs benchmarks), it does a smoke run
//! of 300 tasks on SQLite.
//!
//! What it measures, and how (`docs/benchmarks.md`):
//! - **the store, not a marketplace**: each worker makes the calls `Worker` makes for a video
//!   task (claim, find the asset, save the session once per acknowledged part with the
//!   receipts so far, complete) directly on its own store handle (its own connection pool, as
//!   a separate `batch work` process has), with a marketplace that answers at once: nothing
//!   is sent, so the time is the store's;
//! - at each size N the store holds N pending tasks (one catalog, as `plan` leaves it, over
//!   three accounts); 1, then 2, then 4 workers each take the next `SCALE_SAMPLE` (1,000) of
//!   them: store time per task (wall ÷ tasks), claims per second (tasks claimed and finished
//!   per second of wall time, every worker together) and the mean time of one claim;
//! - enqueueing: `add_tasks` in chunks of 256, as `plan` writes them;
//! - `marketmedia batch status` on the largest store (the CLI binary, a child process);
//! - the peak resident set (`VmHWM`) of `marketmedia batch run --dry-run` on a manifest of
//!   `SCALE_MAX` rows (each naming a small video and an image), sampled from `/proc`.
//!
//! `SCALE_EXPLAIN=1` prints the query plans of the claim, the counts and the outstanding
//! query on the largest store of each back end. PostgreSQL is
//! `postgres://postgres@127.0.0.1:5432/postgres` (`MARKETMEDIA_TEST_PG` overrides it); when it
//! is unreachable its rows are skipped with the reason.

#[path = "common/child.rs"]
mod child;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use marketmedia_batch::store::{self, JobStore, MediaKind, NewTask};
use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::raw::TITLE;
use marketmedia_core::raw::{PartPlan, PartReceipt, PartSizeRule, UploadRules, UploadSession};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};
use sqlx::Connection;

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");
const MIB: u64 = 1 << 20;
/// The accounts the tasks are spread over (a worker claims round robin, as `Worker` does).
const ACCOUNTS: [&str; 3] = ["shop-a", "shop-b", "shop-c"];
/// Parts per video task: one save of the session per acknowledged part.
const PARTS: u64 = 4;
const CHUNK: usize = 256;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn now() -> i64 {
    marketmedia_core::raw::http::unix_millis() as i64
}

fn task(batch: &str, i: u64) -> NewTask {
    let account = ACCOUNTS[(i % ACCOUNTS.len() as u64) as usize];
    NewTask {
        batch: batch.into(),
        line: i + 2,
        sku: format!("S{i:06}"),
        media: "video".into(),
        kind: MediaKind::Video,
        marketplace: account.into(),
        platform: "bench".into(),
        account: format!("bench:{account}"),
        path: format!("/catalog/v{i:06}.mp4"),
        size: 20 * MIB,
        content_key: format!("sha256:{batch}:{i:058x}"),
        fields: BTreeMap::new(),
    }
}

/// Adds `n` tasks of `batch` in chunks, as `plan` does. Returns the time.
async fn enqueue(store: &dyn JobStore, batch: &str, n: u64) -> Duration {
    let started = Instant::now();
    let mut chunk = Vec::with_capacity(CHUNK);
    for i in 0..n {
        chunk.push(task(batch, i));
        if chunk.len() == CHUNK {
            store.add_tasks(&chunk).await.expect("add tasks");
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        store.add_tasks(&chunk).await.expect("add tasks");
    }
    started.elapsed()
}

/// What `workers` workers did with the pending tasks.
struct Run {
    tasks: u64,
    wall: Duration,
    claim_ms: f64,
}

/// One worker: claims round robin until nothing is left, and makes the store calls of a
/// video upload that the marketplace answers at once.
async fn work(location: String, owner: String, budget: Arc<AtomicU64>) -> (u64, Duration) {
    let store = store::open(&location).await.expect("open the store");
    let rules = UploadRules::new("bench", PartSizeRule::Exact(5 * MIB), 30 * MIB);
    let plan = PartPlan::new(PARTS * 5 * MIB, &rules, None).expect("plan");
    let (mut done, mut in_claims, mut next) = (0, Duration::ZERO, 0usize);
    loop {
        // Stop once the run's share of tasks is claimed (the rest stay pending).
        if budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
            .is_err()
        {
            return (done, in_claims);
        }
        let mut claimed = None;
        for k in 0..ACCOUNTS.len() {
            let account = ACCOUNTS[(next + k) % ACCOUNTS.len()];
            let t = now();
            let started = Instant::now();
            let task = store
                .claim(&owner, account, t, t + 30_000)
                .await
                .expect("claim");
            in_claims += started.elapsed();
            if let Some(task) = task {
                next = (next + k + 1) % ACCOUNTS.len();
                claimed = Some(task);
                break;
            }
        }
        let Some(task) = claimed else {
            return (done, in_claims);
        };
        let spec = &task.spec;
        let found = store
            .find_asset(&spec.content_key, &spec.marketplace, &spec.account)
            .await
            .expect("find asset");
        assert!(found.is_none(), "every content is new");
        let session = UploadSession {
            platform: "bench".into(),
            upload_id: format!("up-{}", task.id),
            plan,
            expires_at: None,
            started_at_ms: now() as u64,
            data: serde_json::Value::Null,
        };
        let receipts: Vec<PartReceipt> = plan
            .parts()
            .map(|p| PartReceipt {
                index: p.index,
                wire_number: p.index + 1,
                size: p.len,
                etag: Some(format!("\"etag-{}-{}\"", task.id, p.index)),
            })
            .collect();
        for n in 1..=receipts.len() {
            assert!(store
                .save_session(task.id, &owner, &session, &receipts[..n])
                .await
                .expect("save the session"));
        }
        let url = marketmedia_core::AssetUrl {
            region: None,
            url: format!("https://cdn.example/v/{}", task.id),
        };
        assert!(store
            .complete(
                &task,
                &owner,
                &format!("v-{}", task.id),
                &[url],
                PARTS * 5 * MIB,
                false
            )
            .await
            .expect("complete"));
        done += 1;
    }
}

async fn run_workers(location: &str, workers: usize, tasks: u64, tag: &str) -> Run {
    let budget = Arc::new(AtomicU64::new(tasks));
    let started = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            tokio::spawn(work(
                location.to_owned(),
                format!("{tag}-w{w}"),
                budget.clone(),
            ))
        })
        .collect();
    let (mut tasks, mut claims) = (0, Duration::ZERO);
    for h in handles {
        let (n, c) = h.await.expect("a worker");
        tasks += n;
        claims += c;
    }
    let wall = started.elapsed();
    Run {
        tasks,
        wall,
        claim_ms: claims.as_secs_f64() * 1000.0 / tasks.max(1) as f64,
    }
}

/// Runs the CLI, sampling its peak resident set until it exits: (time, peak KiB, success).
fn run_cli(args: &[&str], env: &[(String, String)], dir: &Path) -> (Duration, u64, bool, String) {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start marketmedia");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let (status, peak) = child::wait_sampling_peak(&mut child, Duration::from_millis(5));
    let elapsed = started.elapsed();
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    (elapsed, peak, status.success(), format!("{out}{err}"))
}

fn base_env(home: &Path) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), home.display().to_string()),
        (
            "XDG_CONFIG_HOME".into(),
            home.join("config").display().to_string(),
        ),
        (
            "XDG_DATA_HOME".into(),
            home.join("data").display().to_string(),
        ),
    ]
}

/// A PostgreSQL database made for the benchmark, dropped by [`PgDb::drop_db`].
struct PgDb {
    url: String,
    admin: String,
    name: String,
}

async fn pg_db(tag: &str) -> std::result::Result<PgDb, String> {
    let admins: Vec<String> = match std::env::var("MARKETMEDIA_TEST_PG") {
        Ok(url) => vec![url],
        Err(_) => ["postgres", "root"]
            .iter()
            .map(|u| format!("postgres://{u}@127.0.0.1:5432/postgres"))
            .collect(),
    };
    let mut why = String::new();
    for admin in admins {
        match sqlx::PgConnection::connect(&admin).await {
            Ok(mut conn) => {
                let name = format!("mm_scale_{}_{tag}", std::process::id());
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                return Ok(PgDb {
                    url: format!("{base}/{name}"),
                    admin: admin.clone(),
                    name,
                });
            }
            Err(e) => why = format!("{why}; {e}"),
        }
    }
    Err(why)
}

impl PgDb {
    async fn drop_db(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

/// The claim as the store runs it, for `EXPLAIN` (kept in step with `batch/src/store/sql.rs`
/// by hand: a benchmark reads no private constant).
const CLAIM_SELECT: &str = "SELECT t.id FROM tasks t WHERE t.marketplace = 'shop-a' \
    AND t.next_at <= 1 AND t.state IN ('pending', 'retry', 'waiting', 'running', 'processing') \
    AND (t.state IN ('pending', 'retry', 'waiting') \
         OR (t.state IN ('running', 'processing') AND t.lease_until < 1)) \
    AND NOT EXISTS (SELECT 1 FROM tasks o WHERE o.content_key = t.content_key \
         AND o.account = t.account AND o.id <> t.id \
         AND o.state IN ('running', 'processing') AND o.lease_until >= 1) \
    ORDER BY t.id LIMIT 1";
const COUNTS: &str =
    "SELECT marketplace, state, COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes \
    FROM tasks GROUP BY marketplace, state ORDER BY marketplace, state";
const OUTSTANDING: &str = "SELECT COUNT(*) FROM tasks \
    WHERE state IN ('pending', 'retry', 'waiting', 'running', 'processing') \
    AND marketplace IN ('shop-a', 'shop-b')";
const FAILED_PAGE: &str =
    "SELECT id FROM tasks WHERE id > 0 AND state = 'failed' ORDER BY id LIMIT 100";

async fn explain(location: &str) {
    let queries = [
        ("claim", CLAIM_SELECT),
        ("counts", COUNTS),
        ("outstanding", OUTSTANDING),
        ("failed page", FAILED_PAGE),
    ];
    for (what, q) in queries {
        let lines: Vec<String> = if location.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(location)
                .await
                .expect("connect");
            let _ = sqlx::query("ANALYZE tasks").execute(&mut conn).await;
            sqlx::query_scalar::<_, String>(&format!("EXPLAIN ANALYZE {q}"))
                .fetch_all(&mut conn)
                .await
                .expect("explain")
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{location}"))
                .await
                .expect("open");
            use sqlx::Row;
            sqlx::query(&format!("EXPLAIN QUERY PLAN {q}"))
                .fetch_all(&mut conn)
                .await
                .expect("explain")
                .iter()
                .map(|r| r.try_get::<String, _>("detail").unwrap_or_default())
                .collect()
        };
        eprintln!("EXPLAIN {what}:");
        for l in lines {
            eprintln!("    {l}");
        }
    }
}

/// One row of the table.
struct Row {
    backend: &'static str,
    size: u64,
    /// How the store's tasks stand: all pending but those the runs took, or half done.
    late: bool,
    workers: usize,
    enqueue_us: f64,
    ms_per_task: f64,
    claims_per_s: f64,
    claim_ms: f64,
}

async fn backend(
    name: &'static str,
    sizes: &[u64],
    sample: u64,
    dir: &Path,
    rows: &mut Vec<Row>,
    status: &mut Vec<(&'static str, u64, Duration)>,
) {
    let counts = [1usize, 2, 4];
    for &size in sizes {
        let pg = if name == "postgres" {
            match pg_db(&format!("{size}")).await {
                Ok(db) => Some(db),
                Err(why) => {
                    eprintln!("postgres skipped: unreachable ({why})");
                    return;
                }
            }
        } else {
            None
        };
        let location = match &pg {
            Some(db) => db.url.clone(),
            None => dir
                .join(format!("scale-{size}.sqlite"))
                .display()
                .to_string(),
        };
        let store = store::open(&location).await.expect("open the store");
        // The store holds `size` pending tasks, as `plan` leaves a catalog; each worker
        // count then takes the next `sample` of them (claimed in id order).
        let sample = sample.min(size / counts.len() as u64).max(1);
        let enqueued = enqueue(store.as_ref(), "catalog", size).await;
        let enqueue_us = enqueued.as_secs_f64() * 1e6 / size as f64;
        if std::env::var("SCALE_EXPLAIN").is_ok() && Some(&size) == sizes.last() {
            explain(&location).await;
        }
        for &w in &counts {
            let run = run_workers(&location, w, sample, &format!("{name}-{size}-{w}")).await;
            eprintln!(
                "{name} {size} tasks, {w} worker(s): {} tasks in {:.2} s",
                run.tasks,
                run.wall.as_secs_f64()
            );
            rows.push(Row {
                backend: name,
                size,
                late: false,
                workers: w,
                enqueue_us,
                ms_per_task: run.wall.as_secs_f64() * 1000.0 / run.tasks.max(1) as f64,
                claims_per_s: run.tasks as f64 / run.wall.as_secs_f64(),
                claim_ms: run.claim_ms,
            });
        }
        if Some(&size) == sizes.last() {
            // Late in the catalog (only when half of it is still pending after the runs).
            if size / 2 > sample * (counts.len() as u64 + 1) {
                // Late in the catalog: its first half done (finished rows ahead of every claim).
                let half = size / 2;
                let sql = format!("UPDATE tasks SET state = 'done' WHERE id <= {half}");
                if location.starts_with("postgres") {
                    let mut conn = sqlx::PgConnection::connect(&location)
                        .await
                        .expect("connect");
                    sqlx::query(&sql)
                        .execute(&mut conn)
                        .await
                        .expect("mark done");
                    // What autovacuum does after such a change (the migration `scale` has it
                    // analyze every 1 % of the table): one bulk update is not how a catalog
                    // finishes, and plans from statistics of an all-pending table read the
                    // finished tasks (`docs/benchmarks.md`).
                    sqlx::query("VACUUM ANALYZE tasks")
                        .execute(&mut conn)
                        .await
                        .expect("analyze");
                } else {
                    let url = format!("sqlite://{location}");
                    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open");
                    sqlx::query(&sql)
                        .execute(&mut conn)
                        .await
                        .expect("mark done");
                }
                let run = run_workers(&location, 4, sample, &format!("{name}-{size}-late")).await;
                rows.push(Row {
                    backend: name,
                    size,
                    late: true,
                    workers: 4,
                    enqueue_us,
                    ms_per_task: run.wall.as_secs_f64() * 1000.0 / run.tasks.max(1) as f64,
                    claims_per_s: run.tasks as f64 / run.wall.as_secs_f64(),
                    claim_ms: run.claim_ms,
                });
            }
            let home = dir.join("home");
            let (took, _, ok, out) = run_cli(
                &["batch", "status", "--store", &location],
                &base_env(&home),
                dir,
            );
            assert!(ok, "batch status failed: {out}");
            status.push((name, size, took));
        }
        drop(store);
        if let Some(db) = pg {
            db.drop_db().await;
        }
    }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; without it (`cargo test --all-targets` runs benchmarks
    // once to check them) a smoke run of 300 tasks on SQLite, unless SCALE_MAX says more.
    let benching = std::env::args().any(|a| a == "--bench");
    let max = env_u64("SCALE_MAX", if benching { 100_000 } else { 300 });
    let sample = env_u64("SCALE_SAMPLE", 1_000);
    let backends = std::env::var("SCALE_BACKENDS").unwrap_or_else(|_| {
        if benching || std::env::var("SCALE_MAX").is_ok() {
            "sqlite,postgres".into()
        } else {
            "sqlite".into()
        }
    });
    let mut sizes: Vec<u64> = [1_000, 10_000, 100_000]
        .into_iter()
        .filter(|&s| s <= max)
        .chain((max > 100_000).then_some(max))
        .collect();
    if sizes.is_empty() {
        sizes.push(max.max(3));
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut rows, mut status) = (Vec::new(), Vec::new());
    for b in backends.split(',').map(str::trim) {
        match b {
            "sqlite" => backend("sqlite", &sizes, sample, dir.path(), &mut rows, &mut status).await,
            "postgres" => {
                backend(
                    "postgres",
                    &sizes,
                    sample,
                    dir.path(),
                    &mut rows,
                    &mut status,
                )
                .await
            }
            other => eprintln!("unknown back end {other:?} (sqlite, postgres)"),
        }
    }

    // The dry run of a `max`-row manifest, against the sandbox's Shopee account.
    let sb = Sandbox::start().await.expect("start the sandbox");
    let market = sb
        .marketplaces()
        .into_iter()
        .find(|m| m.name() == "shopee")
        .expect("the sandbox has shopee");
    let settings = sb.settings_of(market.as_ref()).expect("settings");
    let required: Vec<(String, String)> = market
        .upload_fields()
        .iter()
        .filter(|f| f.required)
        .map(|f| {
            let value = if f.name == TITLE {
                "A product".to_owned()
            } else {
                settings.text(f.name).unwrap_or_default().to_owned()
            };
            (format!("shopee.{}", f.name), value)
        })
        .collect();
    write_sample_mp4(&dir.path().join("v.mp4"), Duration::from_secs(12), 200_000)
        .expect("write the video");
    std::fs::write(dir.path().join("i.jpg"), sample_jpeg(20_000)).expect("write the image");
    let header: Vec<&str> = required.iter().map(|(n, _)| n.as_str()).collect();
    let values: Vec<&str> = required.iter().map(|(_, v)| v.as_str()).collect();
    let mut csv = format!("sku,video,images,marketplaces{}\n", {
        let h = header.join(",");
        if h.is_empty() {
            h
        } else {
            format!(",{h}")
        }
    });
    for r in 0..max {
        let extra = if values.is_empty() {
            String::new()
        } else {
            format!(",{}", values.join(","))
        };
        csv.push_str(&format!("D{r:06},v.mp4,i.jpg,shopee{extra}\n"));
    }
    let manifest = dir.path().join("dry.csv");
    std::fs::write(&manifest, csv).expect("write the manifest");
    let home = dir.path().join("home-dry");
    let mut env = sb.env_vars(&["shopee"]);
    env.extend(base_env(&home));
    let dry_store = dir.path().join("dry.sqlite").display().to_string();
    let manifest_arg = manifest.display().to_string();
    eprintln!("dry run of {max} rows…");
    let (dry_took, dry_peak, dry_ok, dry_out) = run_cli(
        &[
            "batch",
            "run",
            &manifest_arg,
            "--dry-run",
            "--store",
            &dry_store,
        ],
        &env,
        dir.path(),
    );
    if !dry_ok {
        eprintln!(
            "the dry run failed: {}",
            dry_out.chars().take(2000).collect::<String>()
        );
    }

    println!("| back end | tasks in store | workers | enqueue µs/task | store ms/task | claims/s | claim ms |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {}{} | {} | {:.0} | {:.2} | {:.0} | {:.2} |",
            r.backend,
            r.size,
            if r.late { ", first half done" } else { "" },
            r.workers,
            r.enqueue_us,
            r.ms_per_task,
            r.claims_per_s,
            r.claim_ms
        );
    }
    println!();
    println!("| measure | value | goal | |");
    println!("|---|---|---|---|");
    for (b, size, took) in &status {
        println!(
            "| `batch status`, {b}, {size} tasks | {} ms | < 1 s | {} |",
            took.as_millis(),
            if took.as_secs_f64() < 1.0 {
                "ok"
            } else {
                "missed"
            }
        );
    }
    let mib = dry_peak as f64 / 1024.0;
    println!(
        "| dry run, {max} rows{} | {:.1} s, {mib:.1} MiB peak | ≤ 64 MiB | {} |",
        if dry_ok { "" } else { " (FAILED)" },
        dry_took.as_secs_f64(),
        if mib <= 64.0 { "ok" } else { "missed" }
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average at the end: {}", load.trim());
}
