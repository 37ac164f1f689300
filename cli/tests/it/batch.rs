//! Batch runs against the sandbox with real stores: a killed worker's upload resumed with
//! only its missing parts, duplicate rows and reruns reusing assets, bad rows reported by
//! line while the good ones go, two workers sharing a PostgreSQL store, and a cancelled
//! batch's open sessions closed on the platform.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use marketmedia_batch::store::{self, JobStore};
use marketmedia_batch::{
    cancel_batch, plan, CancelReport, Market, TaskFilter, TaskState, WorkOptions, Worker,
};
use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::{PollPolicy, UploadOptions};
use marketmedia_sim::faults::{scope, FaultProfile};
use marketmedia_sim::fixtures::{sample_gif, sample_jpeg, write_sample_mp4};
use marketmedia_sim::shopee::UploadStatus;

const MIB: u64 = 1 << 20;
/// The Shopee simulator's wire-log name of a part upload.
const PARTS_CALL: &str = "upload_video_part";

fn shopee(sb: &Sandbox) -> Market {
    let c = sb.client("shopee").unwrap();
    Market::new("shopee", "shop-test")
        .with_video(c.video().clone())
        .with_images(c.images().clone())
}

fn smh(sb: &Sandbox) -> Market {
    let c = sb.client("smh").unwrap();
    Market::new("smh", "lib-test")
        .with_video(c.video().clone())
        .with_images(c.images().clone())
}

fn options(id: &str, lease: Duration) -> WorkOptions {
    WorkOptions {
        worker_id: id.into(),
        lease,
        idle_poll: Duration::from_millis(20),
        max_wait: Duration::from_secs(10),
        backoff: Duration::from_millis(50),
        upload: UploadOptions {
            // One part at a time, so a kill lands between parts.
            concurrency: 1,
            poll: PollPolicy {
                initial_delay: Duration::from_millis(50),
                multiplier: 1.5,
                max_delay: Duration::from_millis(300),
                deadline: Duration::from_secs(30),
            },
            ..UploadOptions::default()
        },
        ..WorkOptions::default()
    }
}

/// Slows Shopee's parts to about 0.25 s each (4 MiB at 16 MiB/s).
fn slow_parts(sb: &Sandbox) {
    sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .set(FaultProfile {
            bandwidth_per_conn: Some(16 * MIB),
            calls: vec![scope::SHOPEE_PARTS.into()],
            ..FaultProfile::none()
        });
}

async fn wait_for_receipts(store: &dyn JobStore, at_least: usize) {
    let start = Instant::now();
    loop {
        let tasks = store.tasks(0, 100, &TaskFilter::all()).await.unwrap();
        if tasks.iter().any(|t| t.receipts.len() >= at_least) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no receipt recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn a_killed_worker_is_resumed_with_only_the_missing_parts() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("k1.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 13 * MIB).unwrap(); // 4 parts
    let manifest = write(
        dir.path(),
        "m.csv",
        "sku,video,marketplaces\nK1,k1.mp4,shopee\n",
    );
    let sb = Sandbox::start().await.unwrap();
    slow_parts(&sb);
    let markets = vec![shopee(&sb)];
    let path = dir.path().join("store.sqlite");
    let store = store::open(path.to_str().unwrap()).await.unwrap();
    let planned = plan(&manifest, &markets, Some((store.as_ref(), "b")))
        .await
        .unwrap();
    assert_eq!((planned.tasks_added, planned.problems.len()), (1, 0));

    // Renewed every third of it: 1 s leaves a loaded machine 0.6 s of stall before the
    // living worker loses its own lease and claims the task a third time (400 ms did,
    // once, with the whole suite beside helpers' builds).
    let lease = Duration::from_secs(1);
    let first = Worker::new(store.clone(), markets.clone(), options("w1", lease));
    let killed = tokio::spawn(async move { first.run().await });
    wait_for_receipts(store.as_ref(), 2).await;
    killed.abort();
    let _ = killed.await;
    let parts_before = sb
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .wire()
        .count(PARTS_CALL);

    // The rerun waits for the dead worker's lease, then resumes its session.
    let store = store::open(path.to_str().unwrap()).await.unwrap();
    let report = Worker::new(store.clone(), markets, options("w2", lease))
        .run()
        .await
        .unwrap();
    assert_eq!(report.uploaded, 1, "{report:?}");
    let parts_after = sb
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .wire()
        .count(PARTS_CALL);
    let task = &store.tasks(0, 10, &TaskFilter::all()).await.unwrap()[0];
    assert_eq!((task.state, task.attempts), (TaskState::Done, 2));
    // One session only, and at most the one part in flight at the kill sent twice.
    assert_eq!(
        sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .upload_ids()
            .len(),
        1
    );
    eprintln!(
        "parts on the wire: {parts_before} before the kill, {parts_after} in all (4 planned); \
         the rerun sent {} bytes",
        report.bytes_sent
    );
    assert!(
        parts_before >= 2 && parts_after <= 5,
        "{parts_before} then {parts_after}"
    );
    assert!(
        report.bytes_sent <= 9 * MIB,
        "re-sent {} bytes",
        report.bytes_sent
    );
    let id = sb
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .upload_ids()
        .remove(0);
    let stored = sb
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .assembled_bytes(&id)
        .unwrap();
    assert_eq!(stored.as_ref(), std::fs::read(&video).unwrap().as_slice());
}

#[tokio::test]
async fn duplicate_rows_and_reruns_reuse_the_asset() {
    let dir = tempfile::tempdir().unwrap();
    write_sample_mp4(&dir.path().join("v.mp4"), Duration::from_secs(12), 5 * MIB).unwrap();
    std::fs::write(dir.path().join("a.jpg"), sample_jpeg(30_000)).unwrap();
    let manifest = write(
        dir.path(),
        "m.jsonl",
        "{\"sku\":\"A\",\"video\":\"v.mp4\",\"images\":[\"a.jpg\"],\"marketplaces\":\"shopee smh\"}\n\
         {\"sku\":\"A-RED\",\"video\":\"v.mp4\",\"images\":[\"a.jpg\"],\"marketplaces\":[\"shopee\",\"smh\"]}\n",
    );
    let sb = Sandbox::start().await.unwrap();
    let markets = vec![shopee(&sb), smh(&sb)];
    let store = store::open(dir.path().join("s.sqlite").to_str().unwrap())
        .await
        .unwrap();
    let planned = plan(&manifest, &markets, Some((store.as_ref(), "b")))
        .await
        .unwrap();
    assert_eq!(planned.tasks_added, 8);
    let report = Worker::new(
        store.clone(),
        markets.clone(),
        options("w", Duration::from_secs(5)),
    )
    .run()
    .await
    .unwrap();
    assert_eq!(
        (report.uploaded, report.reused, report.failed),
        (4, 4, 0),
        "{report:?}"
    );
    // Shopee's task and SMH's read the video once between them: the first pass also
    // computed the SMH digests (its companion), and the second task took them.
    assert_eq!(
        (report.digest_passes, report.digest_passes_shared),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(
        sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .upload_ids()
            .len(),
        1
    );
    assert_eq!(
        sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .images()
            .len(),
        1
    );
    let tasks = store.tasks(0, 10, &TaskFilter::all()).await.unwrap();
    for pair in [("A", "A-RED")] {
        for m in ["shopee", "smh"] {
            let find = |sku: &str| {
                tasks
                    .iter()
                    .find(|t| {
                        t.spec.sku == sku && t.spec.marketplace == m && t.spec.media == "video"
                    })
                    .unwrap()
                    .asset_id
                    .clone()
            };
            assert_eq!(find(pair.0), find(pair.1));
        }
    }

    // A rerun of the finished manifest adds nothing and sends nothing.
    let parts = sb
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .wire()
        .count(PARTS_CALL);
    let again = plan(&manifest, &markets, Some((store.as_ref(), "b")))
        .await
        .unwrap();
    assert_eq!(again.tasks_added, 0);
    let report = Worker::new(store.clone(), markets, options("w", Duration::from_secs(5)))
        .run()
        .await
        .unwrap();
    assert_eq!(report, marketmedia_batch::WorkReport::default());
    assert_eq!(
        sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .wire()
            .count(PARTS_CALL),
        parts
    );
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_good_rows_still_go() {
    let dir = tempfile::tempdir().unwrap();
    write_sample_mp4(
        &dir.path().join("good.mp4"),
        Duration::from_secs(12),
        2 * MIB,
    )
    .unwrap();
    write_sample_mp4(
        &dir.path().join("short.mp4"),
        Duration::from_secs(3),
        2 * MIB,
    )
    .unwrap();
    std::fs::write(dir.path().join("ok.jpg"), sample_jpeg(20_000)).unwrap();
    std::fs::write(dir.path().join("anim.gif"), sample_gif(20_000)).unwrap();
    let manifest = write(
        dir.path(),
        "m.csv",
        "sku,video,images,marketplaces\n\
         G1,good.mp4,ok.jpg,shopee\n\
         B1,missing.mp4,,shopee\n\
         B2,,anim.gif,shopee\n\
         B3,good.mp4,,ebay\n\
         B4,short.mp4,,shopee\n\
         G2,,ok.jpg,shopee\n",
    );
    let sb = Sandbox::start().await.unwrap();
    let markets = vec![shopee(&sb)];
    let store = store::open(dir.path().join("s.sqlite").to_str().unwrap())
        .await
        .unwrap();
    let planned = plan(&manifest, &markets, Some((store.as_ref(), "b")))
        .await
        .unwrap();
    let lines: Vec<u64> = planned.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6], "{:#?}", planned.problems);
    assert!(planned.problems[0].message.contains("missing.mp4"));
    assert_eq!(planned.problems[3].marketplace.as_deref(), Some("shopee"));
    assert_eq!(
        (planned.rows, planned.good_rows, planned.tasks_added),
        (6, 2, 3)
    );
    let report = Worker::new(store.clone(), markets, options("w", Duration::from_secs(5)))
        .run()
        .await
        .unwrap();
    // G1's image and G2's are the same bytes: one upload, one reuse.
    assert_eq!(
        (report.uploaded, report.reused, report.failed),
        (2, 1, 0),
        "{report:?}"
    );
}

/// Two workers on one PostgreSQL store: one is killed mid-batch, the other finishes
/// everything; each asset is made once and holds the source's bytes.
#[tokio::test]
async fn two_workers_share_a_postgres_store_and_survive_a_kill() {
    let Some(db) = common::pg().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("sku,video,marketplaces\n");
    for i in 0..4 {
        let name = format!("v{i}.mp4");
        write_sample_mp4(
            &dir.path().join(&name),
            Duration::from_secs(12),
            9 * MIB + i * 4096,
        )
        .unwrap();
        csv.push_str(&format!("P{i},{name},shopee\n"));
    }
    let manifest = write(dir.path(), "m.csv", &csv);
    let sb = Sandbox::start().await.unwrap();
    slow_parts(&sb);
    let markets = vec![shopee(&sb).with_max_uploads(2)];
    let store = store::open(&db.url).await.unwrap();
    plan(&manifest, &markets, Some((store.as_ref(), "b")))
        .await
        .unwrap();

    let lease = Duration::from_millis(500);
    let a = Worker::new(store.clone(), markets.clone(), options("a", lease));
    let b = Worker::new(store.clone(), markets, options("b", lease));
    let killed = tokio::spawn(async move { a.run().await });
    let survivor = tokio::spawn(async move { b.run().await });
    wait_for_receipts(store.as_ref(), 1).await;
    killed.abort();
    let _ = killed.await;
    let report = survivor.await.unwrap().unwrap();

    let tasks = store.tasks(0, 10, &TaskFilter::all()).await.unwrap();
    assert!(
        tasks.iter().all(|t| t.state == TaskState::Done),
        "{tasks:#?}"
    );
    assert_eq!(report.reused, 0);
    // Every asset made once: one session per video, each assembled to its source.
    let ids = sb
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .upload_ids();
    assert_eq!(ids.len(), 4, "{report:?}");
    for t in &tasks {
        let asset = t.asset_id.as_deref().unwrap();
        let bytes = sb
            .sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .assembled_bytes(asset)
            .unwrap();
        assert_eq!(
            bytes.as_ref(),
            std::fs::read(&t.spec.path).unwrap().as_slice()
        );
    }
    drop(store);
    db.drop_db().await;
}

/// `cancel_batch` cancels the unfinished task in the store and its session on the platform;
/// when the platform's cancel fails, the store keeps the session and a later call closes it.
#[tokio::test]
async fn cancelling_a_batch_closes_its_open_sessions_on_the_platform() {
    let dir = tempfile::tempdir().unwrap();
    write_sample_mp4(
        &dir.path().join("c1.mp4"),
        Duration::from_secs(12),
        13 * MIB,
    )
    .unwrap();
    let manifest = write(
        dir.path(),
        "m.csv",
        "sku,video,marketplaces\nC1,c1.mp4,shopee\n",
    );
    let sb = Sandbox::start().await.unwrap();
    slow_parts(&sb);
    let markets = vec![shopee(&sb)];
    let path = dir.path().join("store.sqlite");
    let store = store::open(path.to_str().unwrap()).await.unwrap();
    plan(&manifest, &markets, Some((store.as_ref(), "b")))
        .await
        .unwrap();
    let worker = Worker::new(
        store.clone(),
        markets.clone(),
        options("w1", Duration::from_secs(5)),
    );
    let killed = tokio::spawn(async move { worker.run().await });
    wait_for_receipts(store.as_ref(), 1).await;
    killed.abort();
    assert!(killed.await.unwrap_err().is_cancelled());
    let upload = sb
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .upload_ids()
        .remove(0);

    // The platform refuses the cancel: the session stays in the store, listed as open.
    sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .set(FaultProfile {
            error_rate: 1.0,
            calls: vec!["/media_space/cancel_video_upload".into()],
            ..FaultProfile::none()
        });
    let first = cancel_batch(store.as_ref(), &markets, Some("b"))
        .await
        .unwrap();
    assert_eq!(
        (
            first.tasks_cancelled,
            first.sessions_closed,
            first.sessions_left.len()
        ),
        (1, 0, 1),
        "{first:?}"
    );
    let task = store
        .tasks(0, 10, &TaskFilter::all())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(task.state, TaskState::Cancelled);
    assert_eq!(task.session.as_ref().unwrap().upload_id, upload);
    assert_ne!(
        sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .upload_status(&upload),
        Some(UploadStatus::Cancelled)
    );

    // Once the platform answers, the rerun closes it and the store forgets it.
    sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .set(FaultProfile::none());
    let second = cancel_batch(store.as_ref(), &markets, Some("b"))
        .await
        .unwrap();
    assert_eq!(
        (
            second.tasks_cancelled,
            second.sessions_closed,
            second.sessions_left.len()
        ),
        (0, 1, 0),
        "{second:?}"
    );
    assert_eq!(
        sb.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .upload_status(&upload),
        Some(UploadStatus::Cancelled)
    );
    let task = store
        .tasks(0, 10, &TaskFilter::all())
        .await
        .unwrap()
        .remove(0);
    assert!(task.session.is_none());
    // Nothing is left to close.
    let third = cancel_batch(store.as_ref(), &markets, None).await.unwrap();
    assert_eq!(third, CancelReport::default());
}

/// A committed video polled until it is ready holds no upload slot: with one upload in flight
/// at a time and a platform that processes each video for 4 s, the three videos are all
/// committed (and processing together) long before the first is ready. When polling held the
/// task's slot, at most one task was ever processing.
#[tokio::test]
async fn videos_polled_until_ready_leave_their_slot_to_the_next_upload() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = String::new();
    for i in 0..3u64 {
        let name = format!("v{i}.mp4");
        write_sample_mp4(
            &dir.path().join(&name),
            Duration::from_secs(12),
            MIB + i * 4096,
        )
        .unwrap();
        rows.push_str(&format!(
            "{{\"sku\":\"P{i}\",\"video\":\"{name}\",\"marketplaces\":\"shopee\"}}\n"
        ));
    }
    let manifest = write(dir.path(), "m.jsonl", &rows);
    let processing = Duration::from_secs(4);
    let sb = Sandbox::start_with(
        &marketmedia_cli::Setup::default(),
        marketmedia_sim::standalone::StartOptions::default().with_processing_delay(processing),
    )
    .await
    .unwrap();
    let markets = vec![shopee(&sb).with_max_uploads(1)];
    let store = store::open(dir.path().join("s.sqlite").to_str().unwrap())
        .await
        .unwrap();
    plan(&manifest, &markets, Some((store.as_ref(), "b")))
        .await
        .unwrap();
    let opts = WorkOptions {
        max_in_flight: 1,
        ..options("w", Duration::from_secs(30))
    };
    let worker = Worker::new(store.clone(), markets, opts);
    let run = tokio::spawn(async move { worker.run().await });
    let started = Instant::now();
    let mut most_processing = 0;
    while !run.is_finished() && started.elapsed() < Duration::from_secs(60) {
        let tasks = store.tasks(0, 10, &TaskFilter::all()).await.unwrap();
        let processing = tasks
            .iter()
            .filter(|t| t.state == TaskState::Processing)
            .count();
        most_processing = most_processing.max(processing);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = run.await.unwrap().unwrap();
    assert_eq!((report.uploaded, report.failed), (3, 0), "{report:?}");
    assert_eq!(
        most_processing, 3,
        "every video should be processing at once, each having left its slot to the next"
    );
}
