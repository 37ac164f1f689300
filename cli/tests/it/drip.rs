//! A peer that drips, and signals while one does (issue 31), across processes against the
//! Shopee sandbox:
//! - a dripping answer to `init`, to a part and to the completion, and a part taken a trickle
//!   at a time, each given up on with a typed error naming the call, within the window the
//!   command line sets times the attempts it allows;
//! - SIGINT while `init` waits on a dripping answer: exit 130 within the grace, the resume
//!   line printed; a second SIGINT exits within a second; the journal intact; the printed
//!   command finishes the upload once the simulator is healthy;
//! - SIGTERM to `batch work` while `init` drips: exit 130, the lease released, and a second
//!   worker claims the task at once instead of after the lease.
#![cfg(unix)]

use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use marketmedia_sim::faults::{scope, FaultKind, FaultProfile};

use crate::common;
use crate::shopee_child::{command, entries as journal_entries, spawn_in, SlowShopee, MIB};

/// A 5 MiB video: two Shopee parts.
const VIDEO_BYTES: u64 = 5 * MIB;

/// Runs `upload VIDEO --to shopee` with `extra` flags, the Shopee calls matching `call`
/// answered as `profile` says; returns the output and how long the command took.
async fn upload_against(profile: FaultProfile, extra: &[&str]) -> (Output, Duration, SlowShopee) {
    let shopee = SlowShopee::start(VIDEO_BYTES, 1 << 30).await;
    shopee
        .sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .set(profile);
    let video = shopee.video.to_string_lossy().into_owned();
    let mut args: Vec<String> = ["upload", &video, "--to", "shopee", "--no-journal"]
        .map(String::from)
        .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    let env = shopee.env.clone();
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || command(&args, &env).output().unwrap())
        .await
        .unwrap();
    (out, started.elapsed(), shopee)
}

/// The flags of the drip tests: two attempts per call, one-second windows.
const QUICK: [&str; 8] = [
    "--attempts",
    "2",
    "--first-byte-timeout",
    "1",
    "--low-speed-time",
    "1",
    "--low-speed-limit",
    "1000",
];

/// Every byte of a dripping answer 200 ms apart: 5 bytes/s, under any limit here.
fn dripping(call: &str, times: usize) -> FaultProfile {
    FaultProfile {
        drip_ms: 200,
        ..FaultProfile::scripted(call, std::iter::repeat_n(FaultKind::Drip, times))
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The upload fails (exit 1) with a transient error on `call` saying `what`, after at most
/// `limit`.
fn fails_on(out: &Output, took: Duration, call: &str, what: &str, limit: Duration) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let line = all
        .lines()
        .find(|l| l.starts_with("error: shopee"))
        .unwrap_or_else(|| panic!("no error line: {all}"));
    assert!(line.contains(call), "{line}");
    assert!(line.contains(what), "{line}");
    assert!(
        took < limit,
        "given up after {took:?} (limit {limit:?}): {all}"
    );
    eprintln!("{call}: given up after {took:?}: {line}");
}

/// A dripping answer to `init` (both attempts): the low-speed limit ends each attempt one
/// window after the answer's head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_init_is_given_up_on_within_the_window_and_the_retries() {
    let mut flags = QUICK.to_vec();
    flags.extend(["--answer-timeout", "5"]);
    let (out, took, shopee) = upload_against(dripping(scope::SHOPEE_INIT, 2), &flags).await;
    // 2 attempts × (1 s window + a sample) + the backoff + the process's start.
    fails_on(
        &out,
        took,
        "init_video_upload",
        "dripping",
        Duration::from_secs(6),
    );
    assert_eq!(
        shopee
            .sandbox
            .sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .faults()
            .counters()
            .drips,
        2
    );
}

/// A dripping answer to a part: the low-speed limit (a part has no answer deadline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_part_answer_is_given_up_on() {
    let mut flags = QUICK.to_vec();
    flags.extend(["--concurrency", "1"]);
    let (out, took, _shopee) = upload_against(dripping(scope::SHOPEE_PARTS, 2), &flags).await;
    fails_on(
        &out,
        took,
        "upload_video_part",
        "dripping",
        Duration::from_secs(6),
    );
}

/// A part whose body the server takes at 2 KiB/s is given up on within seconds. Which limit
/// ends it depends on the socket buffers: the kernel takes a body's first MiBs at once (on
/// loopback, up to the whole 4 MiB part), so the low-speed limit sees the trickle only on a
/// body larger than those buffers (the core's test sends 64 MiB); a part they swallow counts
/// as sent, and the first-byte timeout ends the wait for its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_taken_a_trickle_at_a_time_is_given_up_on() {
    let profile = FaultProfile {
        bandwidth_per_conn: Some(2048),
        calls: vec![scope::SHOPEE_PARTS.into()],
        ..FaultProfile::default()
    };
    let flags = [
        "--attempts",
        "2",
        "--concurrency",
        "1",
        "--first-byte-timeout",
        "1",
        "--low-speed-time",
        "1",
        "--low-speed-limit",
        "65536",
    ];
    let (out, took, _shopee) = upload_against(profile, &flags).await;
    let all = text(&out);
    let what = if all.contains("dripping") {
        "dripping"
    } else {
        "no answer within 1 s"
    };
    fails_on(
        &out,
        took,
        "upload_video_part",
        what,
        Duration::from_secs(8),
    );
}

/// A dripping answer to the completion: its answer deadline, counted from the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_commit_is_given_up_on_at_its_answer_deadline() {
    let flags = [
        "--attempts",
        "2",
        "--first-byte-timeout",
        "1",
        "--answer-timeout",
        "1",
        "--low-speed-limit",
        "0",
    ];
    let (out, took, shopee) = upload_against(dripping(scope::SHOPEE_COMMIT, 2), &flags).await;
    fails_on(
        &out,
        took,
        "complete_video_upload",
        "not complete 1 s after the request",
        Duration::from_secs(8),
    );
    // Not committed: the recovery asked and the session was cancelled.
    let sim = shopee
        .sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap();
    assert_eq!(sim.faults().counters().drips, 2);
}

/// Waits until the Shopee simulator has started dripping `n` answers.
async fn until_dripping(shopee: &SlowShopee, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while shopee
        .sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .counters()
        .drips
        < n
    {
        assert!(Instant::now() < deadline, "no answer dripped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn signal(child: &Child, name: &str) -> Instant {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
    Instant::now()
}

async fn wait(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// SIGINT while `init` waits on an answer that drips a byte every 5 s (no limit of the
/// defaults would end it for half a minute): the command stops within the grace, keeps the
/// journal, exits 130 and prints the resume; a second SIGINT ends it within a second; the
/// printed command then finishes the upload against the healthy simulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_while_init_drips_stops_within_the_grace_and_resumes() {
    let shopee = SlowShopee::start(VIDEO_BYTES, 1 << 30).await;
    let sim = shopee
        .sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap();
    sim.faults().set(FaultProfile {
        drip_rate: 1.0,
        calls: vec![scope::SHOPEE_INIT.into()],
        ..FaultProfile::default()
    });
    let video = shopee.video.to_string_lossy().into_owned();
    let args = ["upload", video.as_str(), "--to", "shopee"];
    let grace = marketmedia_core::DEFAULT_STOP_GRACE;

    // One SIGINT: the init in flight gets the grace, then the command ends.
    let child = command(&args, &shopee.env).spawn().unwrap();
    until_dripping(&shopee, 1).await;
    let sent = signal(&child, "INT");
    let out = wait(child).await;
    let took = sent.elapsed();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert!(
        took < grace + Duration::from_secs(2),
        "stopped {took:?} after SIGINT: {all}"
    );
    eprintln!("SIGINT during a dripping init: exited 130 after {took:?}");
    let resume = all
        .lines()
        .find_map(|l| l.strip_prefix("Resume with: "))
        .unwrap_or_else(|| panic!("no resume line: {all}"))
        .to_owned();
    assert!(resume.contains("--to shopee"), "{resume}");
    // Nothing was acknowledged, so nothing is journaled, and nothing half-written is left.
    assert_eq!(journal_entries(&shopee.journal), 0);
    let leftovers = std::fs::read_dir(&shopee.journal)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "a stray journal file");

    // Two SIGINTs: the second exits at once.
    let child = command(&args, &shopee.env).spawn().unwrap();
    until_dripping(&shopee, 2).await;
    signal(&child, "INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = signal(&child, "INT");
    let out = wait(child).await;
    let took = second.elapsed();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        took < Duration::from_secs(1),
        "exited {took:?} after the second SIGINT"
    );
    eprintln!("second SIGINT: exited 130 after {took:?}");
    assert!(text(&out).contains("second signal"), "{}", text(&out));
    assert_eq!(journal_entries(&shopee.journal), 0);

    // The printed command, against the healthy simulator, finishes the upload.
    sim.faults().clear();
    let words: Vec<String> = resume
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_owned())
        .collect();
    let env = shopee.env.clone();
    let rerun = tokio::task::spawn_blocking(move || command(&words, &env).output().unwrap())
        .await
        .unwrap();
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun));
    let done: Vec<String> = sim
        .upload_ids()
        .into_iter()
        .filter(|id| sim.assembled_bytes(id).is_some())
        .collect();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        sim.assembled_bytes(&done[0]).unwrap().as_ref(),
        std::fs::read(&shopee.video).unwrap().as_slice()
    );
    assert_eq!(
        journal_entries(&shopee.journal),
        0,
        "a finished upload is forgotten"
    );
}

/// SIGTERM to `batch work` while its `init` drips: it exits 130 within the grace and gives
/// the task back, so a second worker claims it at once (its lease, a minute, would still
/// have most of its time to run) and finishes it against the healthy simulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_batch_work_releases_the_lease_for_the_next_worker() {
    use marketmedia_batch::store;
    use marketmedia_batch::{plan, Market, TaskFilter, TaskState};

    let Some(db) = common::pg().await else { return };
    let shopee = SlowShopee::start(VIDEO_BYTES, 1 << 30).await;
    let sim = shopee
        .sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap();
    let dir = shopee.dir.path();
    let manifest = dir.join("catalog.csv");
    std::fs::write(&manifest, "sku,video,marketplaces\nK1,kettle.mp4,shopee\n").unwrap();
    let store = store::open(&db.url).await.unwrap();
    let client = shopee.sandbox.client("shopee").unwrap();
    let market = Market::new("shopee", "shop-test")
        .with_video(client.video().clone())
        .with_images(client.images().clone());
    plan(&manifest, &[market], Some((store.as_ref(), "catalog.csv")))
        .await
        .unwrap();

    let mut env = shopee.env.clone();
    env.extend([
        ("HOME".into(), dir.to_string_lossy().into_owned()),
        (
            "XDG_DATA_HOME".into(),
            dir.join("data").to_string_lossy().into_owned(),
        ),
        (
            "XDG_CONFIG_HOME".into(),
            dir.join("config").to_string_lossy().into_owned(),
        ),
    ]);
    sim.faults().set(FaultProfile {
        drip_rate: 1.0,
        calls: vec![scope::SHOPEE_INIT.into()],
        ..FaultProfile::default()
    });
    let lease = Duration::from_secs(60);
    let work = [
        "batch",
        "work",
        "--store",
        db.url.as_str(),
        "--json",
        "--lease-secs",
        "60",
    ];
    let first = spawn_in(&work, &env, dir);
    until_dripping(&shopee, 1).await;
    let sent = signal(&first, "TERM");
    let out = wait(first).await;
    let stopped = sent.elapsed();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let grace = marketmedia_core::DEFAULT_STOP_GRACE;
    assert!(
        stopped < grace + Duration::from_secs(2),
        "stopped {stopped:?} after SIGTERM"
    );
    assert!(text(&out).contains("\"released\":1"), "{}", text(&out));

    // Given back: no lease, its attempt undone, claimable now.
    let tasks = store.tasks(0, 10, &TaskFilter::all()).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].state, TaskState::Pending, "{:?}", tasks[0]);
    assert_eq!(tasks[0].lease_owner, None);
    assert_eq!(tasks[0].attempts, 0);

    sim.faults().clear();
    let second = spawn_in(&work, &env, dir);
    let out = wait(second).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout.contains("\"event\":\"claimed\""), "{stdout}");
    let claimed = sent.elapsed();
    eprintln!(
        "batch work: SIGTERM during a dripping init, exited 130 after {stopped:?}; the second \
         worker had claimed and finished the task {claimed:?} after the signal (lease {lease:?})"
    );
    assert!(claimed < lease / 2, "claimed {claimed:?} after the signal");
    let tasks = store.tasks(0, 10, &TaskFilter::all()).await.unwrap();
    assert_eq!(tasks[0].state, TaskState::Done, "{:?}", tasks[0]);
    drop(store);
    db.drop_db().await;
}
