//! The driver's decisions against a mocked `ChunkedVideoUploader` (mockall), for what
//! `driver_tests.rs` does not cover: receipts handed to commit in part order when parts
//! finish out of order, resume skipping known parts (local and server-side), the poll deadline
//! returning a processing handle, cancel after a failed commit, and the receipt observer.
//!
//! A unit-test module (it was an integration test needing the `mock` feature, which made
//! `cargo test --workspace` build core and every crate above it a second time with other
//! features than `cargo run`: docs/decisions.md).

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::digest_request;
use crate::raw::{
    CommitOutcome, DigestNeeds, InitOutcome, MockChunkedVideoUploader, NumberingBase, Part,
    PartReceipt, PartSizeRule, UploadRules, UploadSession,
};
use crate::{
    Asset, Completion, Error, ErrorKind, PollPolicy, PreparedSource, ProcessingHandle,
    ProcessingStatus, RetryPolicy, SourceProbe, UploadDriver, UploadOptions,
};

const PART: u64 = 1000;

fn rules(server_side_resume: bool) -> UploadRules {
    UploadRules {
        part_numbering: NumberingBase::One,
        commit_numbering: Some(NumberingBase::One),
        max_parts: 100,
        digests: DigestNeeds {
            part_md5: true,
            ..DigestNeeds::default()
        },
        async_processing: true,
        server_side_resume,
        ..UploadRules::new("mock", PartSizeRule::Exact(PART), 1 << 30)
    }
}

/// A file that sniffs as MP4 (no moov: these rules need no duration).
fn source_file(len: usize) -> tempfile::NamedTempFile {
    let mut data = b"\0\0\0\x14ftypisom\0\0\0\0isom".to_vec();
    data.extend((0..len - data.len()).map(|i| (i % 251) as u8));
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&data).unwrap();
    f
}

async fn prepared(path: &std::path::Path, r: &UploadRules) -> PreparedSource {
    let probe = SourceProbe::open(path).await.unwrap();
    let plan = probe.plan(r, None).unwrap();
    PreparedSource::digest(probe, &digest_request(r, &plan))
        .await
        .unwrap()
}

fn receipt(part: &Part) -> PartReceipt {
    PartReceipt {
        index: part.index,
        wire_number: part.index + 1,
        size: part.len(),
        etag: Some(format!("tag-{}", part.index)),
    }
}

fn known(index: u32, size: u64) -> PartReceipt {
    PartReceipt {
        index,
        wire_number: index + 1,
        size,
        etag: Some(format!("known-{index}")),
    }
}

fn asset() -> Asset {
    Asset {
        platform: "mock".into(),
        id: "v1".into(),
        urls: vec![],
        thumbnails: vec![],
        duration: None,
        size: None,
        details: serde_json::Value::Null,
    }
}

fn handle() -> ProcessingHandle {
    ProcessingHandle {
        platform: "mock".into(),
        id: "h1".into(),
        data: serde_json::Value::Null,
    }
}

fn session(plan: crate::raw::PartPlan) -> UploadSession {
    UploadSession {
        platform: "mock".into(),
        upload_id: "u1".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: serde_json::Value::Null,
    }
}

fn fast(concurrency: usize) -> UploadOptions {
    UploadOptions {
        concurrency,
        retry: RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(40),
            jitter: false,
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(1),
            multiplier: 1.0,
            max_delay: Duration::from_millis(2),
            deadline: Duration::from_secs(5),
        },
        ..UploadOptions::default()
    }
}

fn mock(r: UploadRules) -> MockChunkedVideoUploader {
    let mut m = MockChunkedVideoUploader::new();
    m.expect_rules().return_const(r);
    m.expect_preflight().returning(|_| Ok(()));
    m.expect_init()
        .returning(|_, plan| Ok(InitOutcome::Session(session(*plan))));
    // A refused completion is looked up first; this platform holds nothing completed.
    m.expect_recover()
        .returning(|_, _, _| Ok(crate::Recovery::NotCommitted));
    m
}

#[tokio::test]
async fn receipts_reach_commit_in_part_order_when_parts_finish_out_of_order() {
    let f = source_file(5500);
    let mut m = mock(rules(false));
    let finished = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&finished);
    let failures = AtomicU32::new(0);
    // Part 0 fails twice (transient), so it finishes after every other part.
    m.expect_put_part().returning(move |_, part| {
        if part.index == 0 && failures.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(Error::new(ErrorKind::Transient, "connection reset"));
        }
        seen.lock().unwrap().push(part.index);
        Ok(receipt(part))
    });
    m.expect_commit().times(1).returning(|_, receipts| {
        let order: Vec<(u32, u32)> = receipts.iter().map(|r| (r.index, r.wire_number)).collect();
        assert_eq!(order, vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]);
        assert!(receipts
            .iter()
            .all(|r| r.etag.as_deref() == Some(format!("tag-{}", r.index).as_str())));
        Ok(CommitOutcome::Ready(asset()))
    });
    m.expect_cancel().times(0);
    let out = UploadDriver::new(fast(6))
        .upload_file(&m, f.path())
        .await
        .unwrap();
    let finished = finished.lock().unwrap().clone();
    assert_eq!(
        finished.last(),
        Some(&0),
        "part 0 finished last: {finished:?}"
    );
    assert_eq!(out.stats.retries, 2);
}

#[tokio::test]
async fn resume_sends_only_unknown_parts_and_commits_known_receipts_unchanged() {
    let r = rules(false);
    let f = source_file(3500);
    let source = prepared(f.path(), &r).await;
    let plan = source.probe.plan(&r, None).unwrap();
    let mut m = mock(r);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&sent);
    m.expect_put_part().returning(move |_, part| {
        s2.lock().unwrap().push(part.index);
        Ok(receipt(part))
    });
    m.expect_uploaded_parts().times(0);
    m.expect_commit().times(1).returning(|_, receipts| {
        let tags: Vec<&str> = receipts.iter().filter_map(|r| r.etag.as_deref()).collect();
        assert_eq!(tags, vec!["known-0", "tag-1", "known-2", "tag-3"]);
        Ok(CommitOutcome::Ready(asset()))
    });
    let out = UploadDriver::new(fast(2))
        .resume(
            &m,
            &source,
            session(plan),
            vec![known(0, PART), known(2, PART)],
        )
        .await
        .unwrap();
    let mut sent = sent.lock().unwrap().clone();
    sent.sort();
    assert_eq!(sent, vec![1, 3]);
    assert_eq!(out.stats.parts_skipped, 2);
    assert_eq!(out.stats.parts_sent, 2);
}

#[tokio::test]
async fn server_side_resume_trusts_the_server_and_resends_a_part_of_the_wrong_size() {
    let r = rules(true);
    let f = source_file(3500);
    let source = prepared(f.path(), &r).await;
    let plan = source.probe.plan(&r, None).unwrap();
    let mut m = mock(r);
    // The server holds part 1 whole and part 2 cut short; the journal's part 0 is not there.
    m.expect_uploaded_parts()
        .times(1)
        .returning(|_| Ok(Some(vec![known(1, PART), known(2, PART - 10)])));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&sent);
    m.expect_put_part().returning(move |_, part| {
        s2.lock().unwrap().push(part.index);
        Ok(receipt(part))
    });
    m.expect_commit()
        .returning(|_, _| Ok(CommitOutcome::Ready(asset())));
    UploadDriver::new(fast(1))
        .resume(&m, &source, session(plan), vec![known(0, PART)])
        .await
        .unwrap();
    assert_eq!(*sent.lock().unwrap(), vec![0, 2, 3]);
}

#[tokio::test]
async fn the_poll_deadline_returns_the_processing_handle_without_cancelling() {
    let f = source_file(1500);
    let mut m = mock(rules(false));
    m.expect_put_part().returning(|_, p| Ok(receipt(p)));
    m.expect_commit()
        .returning(|_, _| Ok(CommitOutcome::Processing(handle())));
    m.expect_poll().returning(|_| {
        Ok(ProcessingStatus::Pending {
            stage: "TRANSCODING".into(),
        })
    });
    m.expect_cancel().times(0);
    let opts = UploadOptions {
        poll: PollPolicy {
            initial_delay: Duration::from_millis(5),
            multiplier: 1.0,
            max_delay: Duration::from_millis(5),
            deadline: Duration::from_millis(60),
        },
        ..fast(2)
    };
    let out = UploadDriver::new(opts)
        .upload_file(&m, f.path())
        .await
        .unwrap();
    assert_eq!(out.completion, Completion::Processing(handle()));
    assert!(out.asset().is_none());
}

#[tokio::test]
async fn a_refused_commit_cancels_the_session() {
    let f = source_file(2500);
    let mut m = mock(rules(false));
    m.expect_put_part().returning(|_, p| Ok(receipt(p)));
    m.expect_commit()
        .times(1)
        .returning(|_, _| Err(Error::new(ErrorKind::Rejected, "parts do not match")));
    m.expect_cancel().times(1).returning(|_| Ok(()));
    let err = UploadDriver::new(fast(2))
        .upload_file(&m, f.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.platform(), Some("mock"));
}

#[tokio::test]
async fn the_receipt_observer_sees_every_acknowledged_part() {
    let f = source_file(3500);
    let mut m = mock(rules(false));
    m.expect_put_part().returning(|_, p| Ok(receipt(p)));
    m.expect_commit()
        .returning(|_, _| Ok(CommitOutcome::Ready(asset())));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let c2 = Arc::clone(&counts);
    let opts = UploadOptions {
        on_receipt: Some(Arc::new(move |s: &UploadSession, r: &[PartReceipt]| {
            assert_eq!(s.upload_id, "u1");
            c2.lock().unwrap().push(r.len());
        })),
        ..fast(2)
    };
    UploadDriver::new(opts)
        .upload_file(&m, f.path())
        .await
        .unwrap();
    // Once when the session opens (so a journal holds it before any part), then per part.
    assert_eq!(*counts.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}
