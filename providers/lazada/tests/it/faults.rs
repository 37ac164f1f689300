//! The fault scenario only Lazada has: a gateway that answers a re-sent
//! `/media/video/block/commit` with the same `video_id` (`recommit_returns_video`). There the
//! suite's `lost_commit_answer` case, a known deviation against the default simulator (see
//! `conformance.rs`), passes: the driver's retry recovers the lost answer. The other fault
//! scenarios are suite cases, run by `conformance.rs`.

use std::time::Duration;

use marketmedia_conformance::suite::{self, adapters::LazadaHandle, Backend, CaseOutcome};
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region};
use marketmedia_sim::lazada::{self as sim, calls, LazadaSimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_commit_answer_is_recovered_where_a_recommit_returns_the_video() {
    let handle = LazadaHandle::start(LazadaSimConfig {
        recommit_returns_video: true,
        transcode_queue_delay: Duration::from_millis(10),
        transcode_delay: Duration::from_millis(10),
        audit_delay: Duration::from_millis(10),
        ..LazadaSimConfig::default()
    })
    .await
    .unwrap();
    let base_url = handle.base_url();
    let backend = Backend::new(handle, move |_| {
        let config = LazadaConfig::builder()
            .app_key(sim::LAZADA_TEST_APP_KEY)
            .app_secret(sim::LAZADA_TEST_APP_SECRET)
            .access_token(sim::LAZADA_TEST_ACCESS_TOKEN)
            .region(Region::Sg)
            .base_url(&base_url)
            .block_size(256 * 1024)
            .build()?;
        LazadaUploader::new(config)
    });
    let case = suite::case_named("lost_commit_answer").expect("the suite has the case");
    let report = suite::run_cases(&backend, &[case]).await;
    report.assert_passed();
    assert!(
        matches!(
            report.outcome("lost_commit_answer"),
            Some(CaseOutcome::Passed { .. })
        ),
        "the case ran and passed: {report}"
    );
    assert_eq!(
        backend.sim().wire().count(calls::BLOCK_COMMIT),
        2,
        "the lost commit and its re-send"
    );
}
