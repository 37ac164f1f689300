//! Two `marketmedia batch` processes on one PostgreSQL store and one sandbox: the first is
//! SIGKILLed mid-batch, the second (`batch work`) takes over its leases and finishes every
//! task. Each video becomes exactly one asset holding its source's bytes, and the survivor
//! re-sends at most the parts that were in flight at the kill.
#![cfg(unix)]

use crate::common;
use crate::shopee_child::spawn_in;

use std::path::Path;
use std::time::{Duration, Instant};

use marketmedia_batch::store::{self, JobStore};
use marketmedia_batch::{TaskFilter, TaskState};
use marketmedia_cli::sandbox::Sandbox;
use marketmedia_sim::faults::{scope, FaultProfile};
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::shopee::UploadStatus;

const MIB: u64 = 1 << 20;
const VIDEOS: u64 = 4;
/// Each video is 9 MiB and a bit: three 4 MiB parts on Shopee.
const VIDEO_BYTES: u64 = 9 * MIB;

fn shopee_env(sandbox: &Sandbox, home: &Path) -> Vec<(String, String)> {
    let mut env = sandbox.env_vars(&["shopee"]);
    env.extend([
        // No user config file or data directory of the machine's user is read.
        ("HOME".into(), home.to_string_lossy().into_owned()),
        (
            "XDG_CONFIG_HOME".into(),
            home.join("config").to_string_lossy().into_owned(),
        ),
        (
            "XDG_DATA_HOME".into(),
            home.join("data").to_string_lossy().into_owned(),
        ),
    ]);
    env
}

/// Waits until the store holds at least `parts` part receipts over all tasks.
async fn wait_for_receipts(store: &dyn JobStore, parts: usize) {
    let start = Instant::now();
    loop {
        let tasks = store.tasks(0, 100, &TaskFilter::all()).await.unwrap();
        let held: usize = tasks.iter().map(|t| t.receipts.len()).sum();
        if held >= parts {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {held} receipts recorded after a minute"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The last `{"event":"finished"}` line of a `--json` run.
fn finished_report(stdout: &str) -> serde_json::Value {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["event"] == "finished")
        .unwrap_or_else(|| panic!("no finished event in:\n{stdout}"))["report"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_worker_process_is_finished_by_another_process() {
    let Some(db) = common::pg().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("sku,video,marketplaces\n");
    for i in 0..VIDEOS {
        let name = format!("v{i}.mp4");
        write_sample_mp4(
            &dir.path().join(&name),
            Duration::from_secs(12),
            VIDEO_BYTES + i * 4096,
        )
        .unwrap();
        csv.push_str(&format!("P{i},{name},shopee\n"));
    }
    std::fs::write(dir.path().join("catalog.csv"), csv).unwrap();

    let sandbox = Sandbox::start().await.unwrap();
    // Parts at 8 MiB/s per connection: about half a second each, so the kill lands mid-batch.
    sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .set(FaultProfile {
            bandwidth_per_conn: Some(8 * MIB),
            calls: vec![scope::SHOPEE_PARTS.into()],
            ..FaultProfile::none()
        });
    let env = shopee_env(&sandbox, dir.path());
    let common_args = ["--lease-secs", "1", "--uploads-per-market", "2", "--json"];

    let mut first = {
        let mut args = vec!["batch", "run", "catalog.csv", "--store", &db.url];
        args.extend(common_args);
        spawn_in(&args, &env, dir.path())
    };
    let store = store::open(&db.url).await.unwrap();
    // The first worker planned the batch and has some parts acknowledged.
    wait_for_receipts(store.as_ref(), 2).await;
    let second = {
        let mut args = vec!["batch", "work", "--store", &db.url];
        args.extend(common_args);
        spawn_in(&args, &env, dir.path())
    };
    wait_for_receipts(store.as_ref(), 3).await;
    first.kill().unwrap(); // SIGKILL
    let killed = first.wait().unwrap();
    assert!(!killed.success(), "the first worker was killed: {killed:?}");

    let out = tokio::task::spawn_blocking(move || second.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the second worker failed: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report = finished_report(&stdout);

    let tasks = store.tasks(0, 100, &TaskFilter::all()).await.unwrap();
    assert_eq!(tasks.len() as u64, VIDEOS, "{tasks:#?}");
    assert!(
        tasks.iter().all(|t| t.state == TaskState::Done),
        "{tasks:#?}"
    );
    // Every asset made exactly once and holding its source.
    let sim = sandbox.sim::<marketmedia_sim::shopee::ShopeeSim>().unwrap();
    let completed: Vec<String> = sim
        .upload_ids()
        .into_iter()
        .filter(|id| {
            matches!(
                sim.upload_status(id),
                Some(UploadStatus::Transcoding | UploadStatus::Succeeded)
            )
        })
        .collect();
    assert_eq!(completed.len() as u64, VIDEOS, "assets: {completed:?}");
    let mut assets: Vec<&str> = tasks.iter().filter_map(|t| t.asset_id.as_deref()).collect();
    assets.sort_unstable();
    assets.dedup();
    assert_eq!(assets.len() as u64, VIDEOS, "distinct assets");
    for t in &tasks {
        let asset = t.asset_id.as_deref().unwrap();
        let held = sim.assembled_bytes(asset).unwrap();
        // The manifest was named relative to the workers' directory; the store holds
        // absolute paths, so the test (elsewhere) reads the same files.
        assert!(Path::new(&t.spec.path).is_absolute(), "{}", t.spec.path);
        assert_eq!(
            held.as_ref(),
            std::fs::read(&t.spec.path).unwrap().as_slice()
        );
    }
    // Sessions: one per video, plus at most one a kill between init and its record in the
    // store left behind per upload slot.
    let sessions = sim.upload_ids().len() as u64;
    assert!(sessions <= VIDEOS + 2, "{sessions} sessions");
    // The survivor finished what the killed worker had started: it sent no more than the
    // batch's bytes, and at least one of its tasks was a resumed one.
    let total = VIDEOS * VIDEO_BYTES + 6 * 4096;
    let sent = report["bytes_sent"].as_u64().unwrap();
    let resumed = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "claimed" && v["resumed"] == true)
        .count();
    // Parts on the wire from both processes against the 3 per video planned: the excess is
    // what the kill made re-send (the parts in flight at that moment).
    let parts = sim.wire().count("upload_video_part") as u64;
    eprintln!(
        "two processes, one SIGKILLed: {} tasks, {} assets, {sessions} sessions, {parts} parts \
         on the wire for {} planned; the survivor sent {sent} of {total} bytes and resumed \
         {resumed} task(s)",
        tasks.len(),
        completed.len(),
        VIDEOS * 3
    );
    assert!(parts <= VIDEOS * 3 + 2, "{parts} parts sent");
    assert!(resumed >= 1, "the survivor resumed nothing:\n{stdout}");
    assert!(
        sent < total,
        "the survivor re-sent everything: {sent} of {total}"
    );
    drop(store);
    db.drop_db().await;
}
