//! Crash safety: a `marketmedia upload` killed with SIGKILL in the middle of an upload is
//! resumed by the next run of the same command from the resume journal, which re-sends at most
//! the parts that were in flight, and `marketmedia cleanup` cancels what a kill left behind.
#![cfg(unix)]

use std::time::{Duration, Instant};

use crate::shopee_child;
use shopee_child::{command, entries, parts_received, SlowShopee, MIB};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upload_resumes_and_resends_at_most_the_parts_in_flight() {
    // 5 parts of 4 MiB, slowed so that the kill lands in the middle of the upload.
    let SlowShopee {
        sandbox,
        dir: _dir,
        journal,
        video,
        env,
    } = SlowShopee::start(20 * MIB, 4 * MIB).await;
    let video_arg = video.to_str().unwrap().to_owned();
    let args: Vec<String> = [
        "upload",
        &video_arg,
        "--to",
        "shopee",
        "--concurrency",
        "1",
        "--json",
    ]
    .map(String::from)
    .to_vec();

    let mut child = command(&args, &env).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while parts_received(&sandbox) < 2 {
        assert!(Instant::now() < deadline, "the upload never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL: no chance to cancel or clean up
    child.wait().unwrap();
    let before_rerun = parts_received(&sandbox);
    assert!(before_rerun < 5, "killed too late to prove anything");
    assert_eq!(entries(&journal), 1, "the killed upload is in the journal");

    sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .clear();
    let sim = sandbox.sim::<marketmedia_sim::shopee::ShopeeSim>().unwrap();
    // The part the kill cut off may still be on its way through the simulator (its handler
    // sees the connection end, then logs it): count the wire once nothing is in flight, or
    // that part would be counted as one the rerun sent.
    let settle = Instant::now() + Duration::from_secs(10);
    while sim.traffic().counters().in_flight > 0 {
        assert!(Instant::now() < settle, "a killed request never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let wire_before = sim.wire().count("upload_video_part");
    // The rerun in human form, to see it announce the resume.
    let rerun: Vec<String> = args.iter().filter(|a| *a != "--json").cloned().collect();
    let out = tokio::task::spawn_blocking(move || command(&rerun, &env).output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Resumed, not restarted: one session, every part once, plus at most the one in flight.
    assert_eq!(sim.wire().count("init_video_upload"), 1);
    let ids = sim.upload_ids();
    assert_eq!(ids.len(), 1);
    let parts = sim.parts(&ids[0]).unwrap();
    assert_eq!(parts.len(), 5);
    let resent = sim.wire().count("upload_video_part") - wire_before;
    assert!(
        resent <= 5 - before_rerun + 1,
        "the rerun sent {resent} parts; {before_rerun} were stored before the kill"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "shopee: resumed, {} of 5 parts already sent",
            5 - resent
        )),
        "{stdout}"
    );
    assert_eq!(
        sim.assembled_bytes(&ids[0]).unwrap().as_ref(),
        std::fs::read(&video).unwrap().as_slice()
    );
    assert_eq!(entries(&journal), 0, "a finished upload is forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_cancels_what_a_kill_left_behind() {
    let SlowShopee {
        sandbox,
        dir: _dir,
        journal,
        video,
        env,
    } = SlowShopee::start(12 * MIB, 2 * MIB).await;
    let upload = [
        "upload",
        video.to_str().unwrap(),
        "--to",
        "shopee",
        "--concurrency",
        "1",
        "--json",
    ];
    let mut child = command(&upload, &env).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while parts_received(&sandbox) < 1 {
        assert!(Instant::now() < deadline, "the upload never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .clear();

    let out = tokio::task::spawn_blocking(move || {
        command(&["cleanup", "--json"], &env).output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["platform"], "shopee");
    assert_eq!(line["outcome"], "cancelled");
    let sim = sandbox.sim::<marketmedia_sim::shopee::ShopeeSim>().unwrap();
    assert_eq!(sim.wire().count("cancel_video_upload"), 1);
    assert_eq!(entries(&journal), 0);
}
