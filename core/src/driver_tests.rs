//! The driver's decisions, tested against a mocked provider (no network).

use std::io::Write;
use std::sync::atomic::{AtomicU32, AtomicUsize};
use std::sync::Mutex;

use super::*;
use crate::raw::{PartPlan, SourceInfo};
use crate::rules::{DigestNeeds, NumberingBase, PartSizeRule, UploadRules};
use crate::uploader::MockChunkedVideoUploader;
use crate::{progress_channel, DigestRequest};

const PART: u64 = 1000;

fn rules(concurrent: bool, renewable: bool) -> UploadRules {
    UploadRules {
        commit_numbering: Some(NumberingBase::Zero),
        max_parts: 100,
        digests: DigestNeeds {
            file_md5: true,
            part_md5: true,
            ..DigestNeeds::default()
        },
        concurrent_parts: concurrent,
        async_processing: true,
        renewable_sessions: renewable,
        ..UploadRules::new("mock", PartSizeRule::Exact(PART), 1 << 30)
    }
}

/// A file that sniffs as MP4 (no moov: the mock rules need no duration).
fn source_file(len: usize) -> tempfile::NamedTempFile {
    let mut data = b"\0\0\0\x14ftypisom\0\0\0\0isom".to_vec();
    data.extend((0..len - data.len()).map(|i| (i % 251) as u8));
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&data).unwrap();
    f
}

fn session(plan: &PartPlan) -> UploadSession {
    UploadSession {
        platform: "mock".into(),
        upload_id: "u1".into(),
        plan: *plan,
        expires_at: None,
        started_at_ms: 0,
        data: serde_json::Value::Null,
    }
}

fn receipt(part: &Part) -> PartReceipt {
    PartReceipt {
        index: part.index,
        wire_number: part.index,
        size: part.len(),
        etag: None,
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

fn fast_opts() -> UploadOptions {
    UploadOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            multiplier: 1.0,
            deadline: Duration::from_secs(5),
        },
        ..UploadOptions::default()
    }
}

fn base_mock(r: UploadRules) -> MockChunkedVideoUploader {
    let mut m = MockChunkedVideoUploader::new();
    m.expect_rules().return_const(r);
    m.expect_preflight().returning(|_| Ok(()));
    m.expect_init()
        .returning(|_, plan| Ok(InitOutcome::Session(session(plan))));
    m
}

#[tokio::test]
async fn retries_a_transient_part_failure_then_commits_in_order() {
    let f = source_file(2500);
    let mut m = base_mock(rules(true, false));
    let failed_once = AtomicU32::new(0);
    m.expect_put_part().times(4).returning(move |_, part| {
        assert!(part.md5.is_some(), "part MD5 must be provided");
        if part.index == 1 && failed_once.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(Error::new(ErrorKind::Transient, "reset"));
        }
        Ok(receipt(part))
    });
    m.expect_commit().times(1).returning(|_, receipts| {
        let idx: Vec<u32> = receipts.iter().map(|r| r.index).collect();
        assert_eq!(idx, vec![0, 1, 2]);
        Ok(CommitOutcome::Ready(asset()))
    });
    m.expect_cancel().times(0);
    let out = UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap();
    assert_eq!(out.stats.retries, 1);
    assert_eq!(out.stats.parts_sent, 3);
    assert_eq!(out.stats.bytes_sent, 2500);
    assert!(out.asset().is_some());
}

#[tokio::test]
async fn gives_up_after_the_cap_and_cancels_the_session() {
    let f = source_file(3000);
    let mut m = base_mock(rules(true, false));
    let attempts_on_2 = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&attempts_on_2);
    m.expect_put_part().returning(move |_, part| {
        if part.index == 2 {
            seen.fetch_add(1, Ordering::SeqCst);
            return Err(Error::new(ErrorKind::Transient, "503"));
        }
        Ok(receipt(part))
    });
    m.expect_commit().times(0);
    m.expect_cancel().times(1).returning(|_| Ok(()));
    let err = UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(attempts_on_2.load(Ordering::SeqCst), 3, "max_attempts is 3");
}

#[tokio::test]
async fn never_commits_while_a_part_is_missing() {
    let f = source_file(3000);
    let mut m = base_mock(rules(false, false));
    m.expect_put_part().returning(|_, part| {
        if part.index == 1 {
            Err(Error::new(ErrorKind::Rejected, "bad part"))
        } else {
            Ok(receipt(part))
        }
    });
    m.expect_commit().times(0);
    m.expect_cancel().times(1).returning(|_| Ok(()));
    let err = UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
}

#[tokio::test]
async fn a_receipt_for_the_wrong_part_is_never_committed() {
    let f = source_file(2000);
    let mut m = base_mock(rules(false, false));
    m.expect_put_part().returning(|_, part| {
        let mut r = receipt(part);
        r.index = 0; // always claims part 0
        Ok(r)
    });
    m.expect_commit().times(0);
    m.expect_cancel().times(1).returning(|_| Ok(()));
    let err = UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
}

#[tokio::test]
async fn no_cancel_when_disabled_keeps_the_session_resumable() {
    let f = source_file(2000);
    let mut m = base_mock(rules(false, false));
    m.expect_put_part()
        .returning(|_, _| Err(Error::new(ErrorKind::Auth, "token")));
    m.expect_cancel().times(0);
    let opts = UploadOptions {
        cancel_on_failure: false,
        ..fast_opts()
    };
    let err = UploadDriver::new(opts)
        .upload_file(&m, f.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test]
async fn progress_is_rolled_back_on_retry() {
    let f = source_file(2500);
    let mut m = base_mock(rules(true, false));
    let failures = AtomicU32::new(0);
    m.expect_put_part().returning(move |_, part| {
        part.report_sent(part.len());
        if part.index == 0 && failures.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(Error::new(ErrorKind::Transient, "lost"));
        }
        Ok(receipt(part))
    });
    m.expect_commit()
        .returning(|_, _| Ok(CommitOutcome::Ready(asset())));
    let (sink, mut rx) = progress_channel();
    let opts = UploadOptions {
        progress: Some(sink),
        ..fast_opts()
    };
    UploadDriver::new(opts)
        .upload_file(&m, f.path())
        .await
        .unwrap();
    let mut net: i64 = 0;
    let mut rolled = 0;
    while let Ok(ev) = rx.try_recv() {
        match ev {
            ProgressEvent::Bytes { bytes, .. } => net += bytes as i64,
            ProgressEvent::Retry { rolled_back, .. } => {
                rolled += rolled_back;
                net -= rolled_back as i64
            }
            _ => {}
        }
    }
    assert_eq!(rolled, 2 * PART);
    assert_eq!(net, 2500);
}

#[tokio::test]
async fn polls_until_ready_and_reports_failure_with_the_platform_state() {
    let f = source_file(1500);
    let mut m = base_mock(rules(true, false));
    m.expect_put_part().returning(|_, p| Ok(receipt(p)));
    m.expect_commit().returning(|_, _| {
        Ok(CommitOutcome::Processing(ProcessingHandle {
            platform: "mock".into(),
            id: "h".into(),
            data: serde_json::Value::Null,
        }))
    });
    let polls = AtomicU32::new(0);
    m.expect_poll().returning(move |_| {
        Ok(match polls.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => ProcessingStatus::Pending {
                stage: "TRANSCODING".into(),
            },
            _ => ProcessingStatus::Failed {
                state: "AUDIT_FAILED".into(),
                reason: "blurry".into(),
            },
        })
    });
    // Committed uploads are never cancelled (that could delete the asset).
    m.expect_cancel().times(0);
    let err = UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("AUDIT_FAILED"));
    assert!(err.to_string().contains("blurry"));
}

#[tokio::test]
async fn an_expired_session_is_renewed_once_and_the_part_retried() {
    let f = source_file(1500);
    let mut m = base_mock(rules(false, true));
    let renewed = Arc::new(AtomicU32::new(0));
    let r2 = Arc::clone(&renewed);
    m.expect_put_part().returning(move |s, p| {
        if s.upload_id == "u1" {
            Err(Error::new(ErrorKind::Expired, "Request has expired"))
        } else {
            Ok(receipt(p))
        }
    });
    m.expect_renew().returning(move |s| {
        r2.fetch_add(1, Ordering::SeqCst);
        let mut s = s.clone();
        s.upload_id = "u2".into();
        Ok(s)
    });
    m.expect_commit().returning(|s, _| {
        assert_eq!(s.upload_id, "u2");
        Ok(CommitOutcome::Ready(asset()))
    });
    UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap();
    assert_eq!(renewed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn instant_upload_sends_no_part() {
    let f = source_file(1500);
    let mut m = MockChunkedVideoUploader::new();
    m.expect_rules().return_const(rules(true, false));
    m.expect_preflight().returning(|_| Ok(()));
    m.expect_init()
        .returning(|_, _| Ok(InitOutcome::Done(asset())));
    m.expect_put_part().times(0);
    let out = UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap();
    assert!(out.stats.instant);
}

#[tokio::test]
async fn bad_input_sends_no_request() {
    let m = {
        let mut m = MockChunkedVideoUploader::new();
        m.expect_rules().return_const(rules(true, false));
        m.expect_init().times(0);
        m
    };
    let driver = UploadDriver::new(fast_opts());
    let missing = driver
        .upload_file(&m, Path::new("/nonexistent/video.mp4"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::InvalidInput);
    let mut text = tempfile::NamedTempFile::new().unwrap();
    text.write_all(b"just some text, certainly not a video")
        .unwrap();
    let not_video = driver.upload_file(&m, text.path()).await.unwrap_err();
    assert_eq!(not_video.kind(), ErrorKind::InvalidInput);
    let empty = tempfile::NamedTempFile::new().unwrap();
    let empty_err = driver.upload_file(&m, empty.path()).await.unwrap_err();
    assert_eq!(empty_err.kind(), ErrorKind::InvalidInput);
}

/// A field the provider declares required and the upload lacks: refused before preflight
/// (no call at all), alone and in a fan-out; given, it reaches preflight and init with the
/// upload's file name.
#[tokio::test]
async fn a_required_field_missing_sends_no_request_and_given_reaches_the_provider() {
    let required = UploadRules {
        required_meta: vec![crate::MetaField::Title, crate::MetaField::CoverUrl],
        ..rules(true, false)
    };
    let f = source_file(1500);
    let refusing = {
        let mut m = MockChunkedVideoUploader::new();
        m.expect_rules().return_const(required.clone());
        m.expect_preflight().times(0);
        m.expect_init().times(0);
        m
    };
    let driver = UploadDriver::new(fast_opts());
    let lacking = driver.with_meta(crate::UploadMeta::default().with_title("Kettle"));
    let err = lacking.upload_file(&refusing, f.path()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("cover_url"), "{err}");
    let report = lacking.upload_to_all(&[&refusing], f.path()).await;
    let err = report.reports[0].result.as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut m = MockChunkedVideoUploader::new();
    m.expect_rules().return_const(required);
    let (at_preflight, at_init) = (seen.clone(), seen.clone());
    m.expect_preflight().returning(move |s: &SourceInfo| {
        at_preflight.lock().unwrap().push(("preflight", s.clone()));
        Ok(())
    });
    m.expect_init().returning(move |s, _| {
        at_init.lock().unwrap().push(("init", s.clone()));
        Err(Error::invalid_input("stop here"))
    });
    let meta = crate::UploadMeta::default()
        .with_title("Kettle")
        .with_cover_url("https://c/k.jpg")
        .with_file_name("kettle-001.mp4");
    let _ = driver
        .with_meta(meta.clone())
        .upload_file(&m, f.path())
        .await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for (call, info) in seen.iter() {
        assert_eq!(info.meta, meta, "{call}");
        assert_eq!(info.file_name, "kettle-001.mp4", "{call}");
    }
}

/// A hand-written provider that measures how many parts are in flight at once.
struct SlowProvider {
    rules: UploadRules,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    stored: Mutex<Vec<(u32, bytes::Bytes)>>,
}

#[async_trait::async_trait]
impl ChunkedVideoUploader for SlowProvider {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }
    async fn init(&self, _: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        Ok(InitOutcome::Session(session(plan)))
    }
    async fn put_part(&self, _: &UploadSession, part: &Part) -> Result<PartReceipt> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let data = part.read_all().await?;
        self.stored.lock().unwrap().push((part.index, data));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(receipt(part))
    }
    async fn commit(&self, _: &UploadSession, _: &[PartReceipt]) -> Result<CommitOutcome> {
        Ok(CommitOutcome::Ready(asset()))
    }
    async fn poll(&self, _: &ProcessingHandle) -> Result<ProcessingStatus> {
        Ok(ProcessingStatus::Ready(asset()))
    }
    async fn cancel(&self, _: &UploadSession) -> Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn parts_go_concurrently_up_to_the_limit_and_reassemble() {
    for (concurrent, limit, expected_peak) in [(true, 3, 3), (false, 3, 1)] {
        let f = source_file(20 * PART as usize + 7);
        let p = SlowProvider {
            rules: rules(concurrent, false),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            stored: Mutex::new(Vec::new()),
        };
        let opts = UploadOptions {
            concurrency: limit,
            ..fast_opts()
        };
        UploadDriver::new(opts)
            .upload_file(&p, f.path())
            .await
            .unwrap();
        assert_eq!(p.peak.load(Ordering::SeqCst), expected_peak);
        let mut parts = p.stored.into_inner().unwrap();
        parts.sort_by_key(|(i, _)| *i);
        let joined: Vec<u8> = parts.into_iter().flat_map(|(_, b)| b.to_vec()).collect();
        assert_eq!(joined, std::fs::read(f.path()).unwrap());
    }
}

#[test]
fn digest_request_follows_rules() {
    let r = rules(true, false);
    let plan = PartPlan::new(2500, &r, None).unwrap();
    let req = crate::source::digest_request(&r, &plan);
    assert_eq!(
        req,
        DigestRequest {
            file_md5: true,
            part_md5_sizes: vec![PART],
            instant_upload_hashes: false,
            crc64: false,
        }
    );
}

#[tokio::test]
async fn a_session_lost_before_commit_is_restarted_once() {
    let f = source_file(2500);
    let mut m = MockChunkedVideoUploader::new();
    m.expect_rules().return_const(rules(true, false));
    m.expect_preflight().returning(|_| Ok(()));
    let inits = AtomicU32::new(0);
    m.expect_init().times(2).returning(move |_, plan| {
        let mut s = session(plan);
        if inits.fetch_add(1, Ordering::SeqCst) == 1 {
            s.upload_id = "u2".into();
        }
        Ok(InitOutcome::Session(s))
    });
    m.expect_put_part().returning(|s, p| {
        if s.upload_id == "u1" && p.index == 2 {
            Err(Error::new(ErrorKind::NotFound, "error_invalid_upload_id"))
        } else {
            Ok(receipt(p))
        }
    });
    m.expect_cancel().returning(|_| Ok(()));
    m.expect_commit().times(1).returning(|s, r| {
        assert_eq!(s.upload_id, "u2");
        assert_eq!(r.len(), 3);
        Ok(CommitOutcome::Ready(asset()))
    });
    UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lost_session_after_commit_is_never_restarted() {
    let f = source_file(1500);
    let mut m = base_mock(rules(true, false));
    m.expect_put_part().returning(|_, p| Ok(receipt(p)));
    m.expect_commit().times(1).returning(|_, _| {
        Ok(CommitOutcome::Processing(ProcessingHandle {
            platform: "mock".into(),
            id: "h".into(),
            data: serde_json::Value::Null,
        }))
    });
    m.expect_poll()
        .returning(|_| Err(Error::new(ErrorKind::NotFound, "gone")));
    m.expect_cancel().times(0);
    let err = UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// A provider that holds parts like a platform would, and can be told to fail after N parts.
struct Recorder {
    rules: UploadRules,
    fail_after: Option<usize>,
    sent: Mutex<Vec<u32>>,
}

#[async_trait::async_trait]
impl ChunkedVideoUploader for Recorder {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }
    async fn init(&self, _: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        Ok(InitOutcome::Session(session(plan)))
    }
    async fn put_part(&self, _: &UploadSession, part: &Part) -> Result<PartReceipt> {
        let mut sent = self.sent.lock().unwrap();
        if self.fail_after.is_some_and(|n| sent.len() >= n) {
            return Err(Error::new(ErrorKind::Auth, "the process was killed here"));
        }
        sent.push(part.index);
        Ok(receipt(part))
    }
    async fn commit(&self, _: &UploadSession, r: &[PartReceipt]) -> Result<CommitOutcome> {
        assert_eq!(r.len() as u32, r.last().map(|x| x.index + 1).unwrap_or(0));
        Ok(CommitOutcome::Ready(asset()))
    }
    async fn poll(&self, _: &ProcessingHandle) -> Result<ProcessingStatus> {
        Ok(ProcessingStatus::Ready(asset()))
    }
    async fn cancel(&self, _: &UploadSession) -> Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_journaled_upload_resumes_with_only_the_missing_parts() {
    let f = source_file(10 * PART as usize);
    let dir = tempfile::tempdir().unwrap();
    let journal = crate::Journal::open(dir.path()).unwrap();
    let opts = UploadOptions {
        concurrency: 1,
        cancel_on_failure: false,
        ..fast_opts()
    };
    let driver = UploadDriver::new(opts);
    let probe = crate::SourceProbe::open(f.path()).await.unwrap();
    let r = rules(true, false);
    let plan = probe.plan(&r, None).unwrap();
    let source = PreparedSource::digest(probe, &crate::source::digest_request(&r, &plan))
        .await
        .unwrap();

    let first = Recorder {
        rules: r.clone(),
        fail_after: Some(4),
        sent: Mutex::new(Vec::new()),
    };
    assert!(driver
        .upload_journaled(&first, &source, &journal)
        .await
        .is_err());
    assert_eq!(journal.entries().len(), 1, "kept resumable");
    assert_eq!(journal.entries()[0].receipts.len(), 4);

    let second = Recorder {
        rules: r,
        fail_after: None,
        sent: Mutex::new(Vec::new()),
    };
    let (sink, mut rx) = progress_channel();
    let watched = driver.with_options(UploadOptions {
        progress: Some(sink),
        ..driver.options().clone()
    });
    watched
        .upload_journaled(&second, &source, &journal)
        .await
        .unwrap();
    assert_eq!(*second.sent.lock().unwrap(), vec![4, 5, 6, 7, 8, 9]);
    // The resume is announced, then the real stage: uploading the missing parts.
    let mut stages = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let crate::ProgressEvent::Stage { stage, .. } = e {
            stages.push(stage);
        }
    }
    let resumed = stages
        .iter()
        .position(|s| {
            *s == Stage::Resumed {
                parts_done: 4,
                parts: 10,
            }
        })
        .unwrap_or_else(|| panic!("no resume announced: {stages:?}"));
    assert!(
        matches!(stages.get(resumed + 1), Some(Stage::Uploading { already_uploaded, .. }) if *already_uploaded == 4 * PART),
        "{stages:?}"
    );
    assert!(journal.entries().is_empty(), "forgotten once done");
}

fn processing_commit(m: &mut MockChunkedVideoUploader) {
    m.expect_commit().returning(|_, _| {
        Ok(CommitOutcome::Processing(ProcessingHandle {
            platform: "mock".into(),
            id: "h".into(),
            data: serde_json::Value::Null,
        }))
    });
}

#[tokio::test]
async fn a_poll_that_keeps_failing_hands_back_the_handle_without_cancelling() {
    let f = source_file(1500);
    let mut m = base_mock(rules(true, false));
    m.expect_put_part().returning(|_, p| Ok(receipt(p)));
    processing_commit(&mut m);
    m.expect_poll()
        .times(3..)
        .returning(|_| Err(Error::new(ErrorKind::Transient, "502")));
    m.expect_cancel().times(0);
    let mut opts = fast_opts();
    opts.poll.deadline = Duration::from_millis(50);
    let out = UploadDriver::new(opts)
        .upload_file(&m, f.path())
        .await
        .unwrap();
    assert!(matches!(out.completion, Completion::Processing(ref h) if h.id == "h"));
}

/// Issue 14: a poll whose retries all failed (a 502 burst longer than the retry policy) no
/// longer ends the wait with "processing": the next poll, within the deadline, sees it ready.
#[tokio::test]
async fn polling_survives_transient_errors_inside_its_deadline() {
    let f = source_file(1500);
    let mut m = base_mock(rules(true, false));
    m.expect_put_part().returning(|_, p| Ok(receipt(p)));
    processing_commit(&mut m);
    let polls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&polls);
    // Three failed series of the policy's 3 attempts each, then ready.
    m.expect_poll().returning(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < 9 {
            Err(Error::new(ErrorKind::Transient, "502"))
        } else {
            Ok(ProcessingStatus::Ready(asset()))
        }
    });
    m.expect_cancel().times(0);
    let out = UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap();
    assert_eq!(out.completion, Completion::Ready(asset()));
    assert_eq!(polls.load(Ordering::SeqCst), 10);
    // 2 retries in each of the three failed series, and one more poll after each series.
    assert_eq!(out.stats.retries, 9);
}

#[tokio::test]
async fn a_temporary_preflight_failure_is_retried() {
    let f = source_file(1500);
    let mut m = MockChunkedVideoUploader::new();
    m.expect_rules().return_const(rules(true, false));
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    m.expect_preflight().times(2).returning(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(Error::new(ErrorKind::Transient, "quota call failed"))
        } else {
            Ok(())
        }
    });
    m.expect_init()
        .returning(|_, _| Ok(InitOutcome::Done(asset())));
    UploadDriver::new(fast_opts())
        .upload_file(&m, f.path())
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
