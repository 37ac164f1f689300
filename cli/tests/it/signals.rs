//! Stopping `marketmedia upload` with SIGINT or SIGTERM, across processes: the command sends
//! no new part, tells what it is doing, keeps the journal, prints the marketplaces that can be
//! resumed and the command that resumes them, and exits 130; the printed command then finishes
//! the same session without opening another.
#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use crate::shopee_child;
use shopee_child::{command, entries as journal_entries, parts_received, SlowShopee, MIB};

/// Starts a slow 5-part Shopee upload (4 MiB parts at 2 MiB/s: a signal lands between parts,
/// with one in flight), sends `signal` once a part is stored, and checks the stop and the
/// resume the command prints.
async fn stop_then_resume(signal: &str) {
    let SlowShopee {
        sandbox,
        dir: _dir,
        journal,
        video,
        env,
    } = SlowShopee::start(20 * MIB, 2 * MIB).await;
    let video_arg = video.to_str().unwrap().to_owned();
    let args: Vec<String> = ["upload", &video_arg, "--to", "shopee", "--concurrency", "1"]
        .map(String::from)
        .to_vec();

    let child = command(&args, &env).spawn().unwrap();
    let pid = child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while parts_received(&sandbox) < 1 {
        assert!(Instant::now() < deadline, "the upload never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
    let signalled = Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let waited = signalled.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(marketmedia_cli::exit::INTERRUPTED),
        "{signal}: stdout {stdout}\nstderr {stderr}"
    );
    // The part in flight gets its grace (5 s) and no more: the command does not hang.
    assert!(
        waited < marketmedia_core::DEFAULT_STOP_GRACE + Duration::from_secs(10),
        "{signal}: exited {waited:?} after the signal"
    );
    let both = format!("{stdout}{stderr}");
    assert!(both.contains("stopping: no new part is sent"), "{both}");
    assert!(
        both.contains("Resumable from the journal: shopee."),
        "{both}"
    );
    let resume_line = both
        .lines()
        .find_map(|l| l.strip_prefix("Resume with: "))
        .unwrap_or_else(|| panic!("no resume command printed: {both}"))
        .to_owned();
    assert!(
        resume_line.starts_with("marketmedia upload ") && resume_line.contains("--to shopee"),
        "{resume_line}"
    );
    assert_eq!(journal_entries(&journal), 1, "the stopped upload is kept");
    let stored_at_stop = parts_received(&sandbox);
    assert!(
        stored_at_stop < 5,
        "{signal}: every part was stored ({stored_at_stop}); the stop sent new parts"
    );
    // No part went out after the stop: what the simulator received is what it had then.
    let sim = sandbox.sim::<marketmedia_sim::shopee::ShopeeSim>().unwrap();
    let part_requests_at_stop = sim.wire().count("upload_video_part");

    // The printed command (its words, with the binary for `marketmedia`) finishes the upload
    // on the same session.
    sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .clear();
    let words: Vec<String> = resume_line
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_owned())
        .collect();
    let rerun = tokio::task::spawn_blocking(move || command(&words, &env).output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        rerun.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert_eq!(
        sim.wire().count("init_video_upload"),
        1,
        "resumed, not restarted"
    );
    let ids = sim.upload_ids();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        sim.assembled_bytes(&ids[0]).unwrap().as_ref(),
        std::fs::read(&video).unwrap().as_slice()
    );
    let resent = sim.wire().count("upload_video_part") - part_requests_at_stop;
    assert_eq!(
        resent,
        5 - stored_at_stop,
        "the resume sends exactly the parts not stored"
    );
    assert_eq!(
        journal_entries(&journal),
        0,
        "a finished upload is forgotten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_keeps_the_journal_and_prints_the_resume() {
    stop_then_resume("INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_keeps_the_journal_and_prints_the_resume() {
    stop_then_resume("TERM").await;
}
