//! Progress against a throttled simulator: what the bars report never runs ahead of the bytes
//! the simulator has received by more than one chunk, it moves while the upload goes on, and
//! it ends at the file's size.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressDrawTarget;
use marketmedia_cli::progress::Bars;
use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::{ChunkedVideoUploader, ProgressEvent, UploadDriver, UploadOptions};
use marketmedia_sim::faults::{scope, FaultProfile};
use marketmedia_sim::fixtures::write_sample_mp4;

const MIB: u64 = 1024 * 1024;
/// The chunk a part streams in (core's pooled read size).
const CHUNK: u64 = 256 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_never_runs_ahead_of_what_a_throttled_simulator_received() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("kettle.mp4");
    let size = 16 * MIB; // four Shopee parts of 4 MiB
    write_sample_mp4(&video, Duration::from_secs(20), size).unwrap();
    sandbox
        .sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .set(FaultProfile {
            bandwidth_per_conn: Some(2 * MIB),
            bandwidth_total: Some(4 * MIB),
            calls: vec![scope::SHOPEE_PARTS.to_owned()],
            ..FaultProfile::default()
        });

    let bars = Bars::with_target(&["shopee"], ProgressDrawTarget::hidden());
    // What counting bytes handed to the connection would show, for comparison.
    let handed_off = Arc::new(AtomicU64::new(0));
    let sink = {
        let (bars, handed_off) = (bars.sink(), Arc::clone(&handed_off));
        Arc::new(move |e: ProgressEvent| {
            if let ProgressEvent::Bytes { bytes, .. } = &e {
                handed_off.fetch_add(*bytes, Ordering::Relaxed);
            }
            bars(e);
        }) as marketmedia_core::ProgressSink
    };
    let shopee = sandbox.client("shopee").unwrap();
    let driver = UploadDriver::new(UploadOptions {
        progress: Some(sink),
        wait_for_processing: false,
        concurrency: 2,
        ..UploadOptions::default()
    });
    let providers: [&dyn ChunkedVideoUploader; 1] = [shopee.video().as_ref()];
    let run = driver.upload_to_all(&providers, &video);
    tokio::pin!(run);
    let (mut seen, mut max_lead, mut naive_lead) = (BTreeSet::new(), 0i64, 0i64);
    loop {
        tokio::select! {
            report = &mut run => {
                assert!(report.reports[0].result.is_ok(), "{:?}", report.reports[0].result);
                break;
            }
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                // Read the bar first: the simulator's count only grows meanwhile.
                let shown = bars.position("shopee").unwrap_or(0) as i64;
                let received = sandbox.sim::<marketmedia_sim::shopee::ShopeeSim>().unwrap().faults().counters().paced_bytes as i64;
                max_lead = max_lead.max(shown - received);
                naive_lead = naive_lead.max(handed_off.load(Ordering::Relaxed) as i64 - received);
                if shown > 0 && shown < size as i64 {
                    seen.insert(shown);
                }
            }
        }
    }
    eprintln!("lead of the bar: {max_lead} bytes; of hand-off counting: {naive_lead} bytes");
    assert!(
        max_lead <= CHUNK as i64,
        "the bar ran {max_lead} bytes ahead of what the simulator had received"
    );
    // It moved smoothly while the upload went on, not in one jump at the end.
    assert!(
        seen.len() >= 10,
        "only {} distinct positions: {seen:?}",
        seen.len()
    );
    assert_eq!(bars.position("shopee"), Some(size));
}
