//! Issue 14's findings, one test each, against a fake platform that keeps state as a real
//! one would (no network): lost completion answers, resume state that is still good, lost
//! sessions, true stats and a stop.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::Mutex;

use super::*;
use crate::journal::{Journal, JournalEntry, SourceFingerprint};
use crate::raw::{PartPlan, SourceInfo};
use crate::rules::{PartSizeRule, UploadRules};
use crate::uploader::Recovery;

const PART: u64 = 1000;
const PARTS: usize = 6;

fn rules() -> UploadRules {
    UploadRules {
        max_parts: 100,
        async_processing: true,
        ..UploadRules::new("fake", PartSizeRule::Exact(PART), 1 << 30)
    }
}

/// A file that sniffs as MP4 (no moov: the rules need no duration), of `PARTS` parts.
fn source_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("v.mp4");
    let mut data = b"\0\0\0\x14ftypisom\0\0\0\0isom".to_vec();
    let len = PARTS * PART as usize;
    data.extend((0..len - data.len()).map(|i| (i % 251) as u8));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&data).unwrap();
    path
}

async fn prepared(path: &std::path::Path) -> PreparedSource {
    let probe = crate::SourceProbe::open(path).await.unwrap();
    let r = rules();
    let plan = probe.plan(&r, None).unwrap();
    PreparedSource::digest(probe, &crate::source::digest_request(&r, &plan))
        .await
        .unwrap()
}

fn asset(id: &str) -> Asset {
    Asset {
        platform: "fake".into(),
        id: id.into(),
        urls: Vec::new(),
        thumbnails: Vec::new(),
        duration: None,
        size: None,
        details: serde_json::Value::Null,
    }
}

fn fast() -> UploadOptions {
    UploadOptions {
        concurrency: 1,
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

/// A platform with sessions, parts and a completion, and the faults of issue 14.
struct Fake {
    rules: UploadRules,
    /// Completion attempts that complete on the platform but whose answer is lost.
    lose_commit_answers: AtomicU32,
    /// Whether a `recover` can name the asset (Shopee, SMH) or not (Lazada).
    finds_asset: bool,
    /// Whether `cancel` fails (an outage).
    cancel_fails: bool,
    /// Part index at which the first session is lost (a restart).
    lose_session_at: Option<u32>,
    /// Part index whose answer is a non-retryable refusal.
    refuse_part: Option<u32>,
    /// Transient failures of the completion before it goes through.
    commit_flakes: AtomicU32,
    /// Set the stop signal after this part is acknowledged.
    stop_after: Option<(u32, tokio::sync::watch::Sender<bool>)>,
    /// The call that never answers (a server that drips): `init`, `commit` or `poll`.
    hang_in: Option<&'static str>,
    sessions: AtomicU32,
    committed: Mutex<Vec<String>>,
    commits: AtomicU32,
    cancels: AtomicU32,
    recovers: Mutex<Vec<Option<ErrorKind>>>,
    sent: Mutex<Vec<(String, u32)>>,
    lost_once: AtomicBool,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            rules: rules(),
            lose_commit_answers: AtomicU32::new(0),
            finds_asset: true,
            cancel_fails: false,
            lose_session_at: None,
            refuse_part: None,
            commit_flakes: AtomicU32::new(0),
            stop_after: None,
            hang_in: None,
            sessions: AtomicU32::new(0),
            committed: Mutex::new(Vec::new()),
            commits: AtomicU32::new(0),
            cancels: AtomicU32::new(0),
            recovers: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
            lost_once: AtomicBool::new(false),
        }
    }
}

impl Fake {
    /// Never returns when `call` is the one that hangs.
    async fn hang(&self, call: &str) {
        if self.hang_in == Some(call) {
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait::async_trait]
impl ChunkedVideoUploader for Fake {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }
    async fn init(&self, _: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        self.hang("init").await;
        let n = self.sessions.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(InitOutcome::Session(UploadSession {
            platform: "fake".into(),
            upload_id: format!("u{n}"),
            plan: *plan,
            expires_at: None,
            started_at_ms: 0,
            data: serde_json::Value::Null,
        }))
    }
    async fn put_part(&self, s: &UploadSession, part: &Part) -> Result<PartReceipt> {
        if Some(part.index) == self.lose_session_at
            && s.upload_id == "u1"
            && !self.lost_once.swap(true, Ordering::SeqCst)
        {
            return Err(Error::new(ErrorKind::NotFound, "no such upload"));
        }
        if Some(part.index) == self.refuse_part {
            return Err(Error::new(ErrorKind::Rejected, "refused"));
        }
        // The bytes go out, as a real provider's body reports them.
        part.report_sent(part.len());
        self.sent
            .lock()
            .unwrap()
            .push((s.upload_id.clone(), part.index));
        if let Some((after, tx)) = &self.stop_after {
            if *after == part.index {
                tx.send(true).unwrap();
            }
        }
        Ok(PartReceipt {
            index: part.index,
            wire_number: part.index,
            size: part.len(),
            etag: None,
        })
    }
    async fn commit(&self, s: &UploadSession, _: &[PartReceipt]) -> Result<CommitOutcome> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.hang("commit").await;
        if self
            .commit_flakes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::new(ErrorKind::Transient, "502 before the platform"));
        }
        let mut committed = self.committed.lock().unwrap();
        if committed.contains(&s.upload_id) {
            return Err(Error::new(ErrorKind::Conflict, "already completed"));
        }
        committed.push(s.upload_id.clone());
        if self
            .lose_commit_answers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::new(ErrorKind::Transient, "connection reset"));
        }
        Ok(CommitOutcome::Processing(ProcessingHandle {
            platform: "fake".into(),
            id: format!("video-{}", s.upload_id),
            data: serde_json::Value::Null,
        }))
    }
    async fn poll(&self, h: &ProcessingHandle) -> Result<ProcessingStatus> {
        self.hang("poll").await;
        Ok(ProcessingStatus::Ready(asset(&h.id)))
    }
    async fn cancel(&self, _: &UploadSession) -> Result<()> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        if self.cancel_fails {
            Err(Error::new(ErrorKind::Auth, "the proxy is down"))
        } else {
            Ok(())
        }
    }
    async fn recover(
        &self,
        s: &UploadSession,
        _: &[PartReceipt],
        commit_error: Option<ErrorKind>,
    ) -> Result<Recovery> {
        self.recovers.lock().unwrap().push(commit_error);
        let done = self.committed.lock().unwrap().contains(&s.upload_id);
        Ok(match (done, self.finds_asset) {
            (false, _) => Recovery::NotCommitted,
            (true, true) => Recovery::Committed(CommitOutcome::Ready(asset(&format!(
                "video-{}",
                s.upload_id
            )))),
            (true, false) if commit_error == Some(ErrorKind::Conflict) => {
                Recovery::CommittedIdUnknown
            }
            (true, false) => Recovery::NotCommitted,
        })
    }
}

#[tokio::test]
async fn a_lost_completion_answer_is_recovered_as_the_asset() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let fake = Fake::new();
    fake.lose_commit_answers.store(1, Ordering::SeqCst);
    let out = UploadDriver::new(fast())
        .upload_prepared(&fake, &source)
        .await
        .unwrap();
    assert_eq!(out.completion, Completion::Ready(asset("video-u1")));
    assert_eq!(
        *fake.recovers.lock().unwrap(),
        vec![Some(ErrorKind::Conflict)],
        "asked once, after the re-sent completion was refused as done"
    );
    assert_eq!(fake.cancels.load(Ordering::SeqCst), 0);
    assert_eq!(out.stats.retries, 1, "the completion was sent twice");
}

#[tokio::test]
async fn a_platform_that_cannot_name_the_asset_ends_committed_id_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let fake = Fake {
        finds_asset: false,
        ..Fake::new()
    };
    fake.lose_commit_answers.store(1, Ordering::SeqCst);
    let out = UploadDriver::new(fast())
        .upload_prepared(&fake, &source)
        .await
        .unwrap();
    assert_eq!(
        out.completion,
        Completion::CommittedIdUnknown {
            upload_id: "u1".into()
        }
    );
    assert_eq!(
        fake.cancels.load(Ordering::SeqCst),
        0,
        "a committed upload is never cancelled"
    );
}

#[tokio::test]
async fn a_failed_cancel_keeps_the_session_resumable_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let fake = Fake {
        cancel_fails: true,
        refuse_part: Some(3),
        ..Fake::new()
    };
    let err = UploadDriver::new(fast())
        .upload_journaled(&fake, &source, &journal)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(
        fake.cancels.load(Ordering::SeqCst) >= 1,
        "a cancel was tried"
    );
    let entries = journal.entries();
    assert_eq!(entries.len(), 1, "the cancel never reached the platform");
    assert_eq!(entries[0].receipts.len(), 3);
}

#[tokio::test]
async fn a_confirmed_cancel_forgets_the_session_and_a_cancel_that_asks_nothing_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let asks = Fake {
        refuse_part: Some(3),
        ..Fake::new()
    };
    let driver = UploadDriver::new(fast());
    assert!(driver
        .upload_journaled(&asks, &source, &journal)
        .await
        .is_err());
    assert!(
        journal.entries().is_empty(),
        "the platform confirmed the cancel"
    );

    let mut silent = Fake {
        refuse_part: Some(3),
        ..Fake::new()
    };
    silent.rules.remote_cancel = false;
    assert!(driver
        .upload_journaled(&silent, &source, &journal)
        .await
        .is_err());
    assert_eq!(journal.entries().len(), 1, "nothing confirmed the cancel");
}

#[tokio::test]
async fn a_changed_source_keeps_its_old_session_listed_for_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let path = source_file(dir.path());
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let driver = UploadDriver::new(UploadOptions {
        cancel_on_failure: false,
        ..fast()
    });
    let failing = Fake {
        refuse_part: Some(2),
        ..Fake::new()
    };
    assert!(driver
        .upload_journaled(&failing, &prepared(&path).await, &journal)
        .await
        .is_err());
    // The file changes (another modification time, other bytes), then uploads fine.
    let mut data = std::fs::read(&path).unwrap();
    data[100] ^= 0xff;
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&path, &data).unwrap();
    let fine = Fake::new();
    fine.sessions.store(1, Ordering::SeqCst);
    let out = driver
        .upload_journaled(&fine, &prepared(&path).await, &journal)
        .await
        .unwrap();
    assert_eq!(
        out.session.unwrap().upload_id,
        "u2",
        "a new session for the new file"
    );
    let left: Vec<String> = journal
        .entries()
        .into_iter()
        .map(|e| e.session.upload_id)
        .collect();
    assert_eq!(
        left,
        vec!["u1".to_owned()],
        "the old session stays for cleanup"
    );
}

/// A journal entry as a kill leaves it: every part acknowledged, the completion in `commit`.
fn killed_entry(source: &PreparedSource, commit: CommitState) -> JournalEntry {
    let mut fingerprint = SourceFingerprint::of(&source.probe.path).unwrap();
    fingerprint.md5 = source.digests.md5_hex();
    let plan = source.probe.plan(&rules(), None).unwrap();
    JournalEntry {
        account: None,
        platform: "fake".into(),
        source: fingerprint,
        session: UploadSession {
            platform: "fake".into(),
            upload_id: "u1".into(),
            plan,
            expires_at: None,
            started_at_ms: 0,
            data: serde_json::Value::Null,
        },
        receipts: plan
            .parts()
            .map(|p| PartReceipt {
                index: p.index,
                wire_number: p.index,
                size: p.len,
                etag: None,
            })
            .collect(),
        sending: (0..PARTS as u32).collect(),
        commit,
        updated_at_ms: 0,
    }
}

#[tokio::test]
async fn a_kill_after_the_completion_was_sent_resumes_by_asking_the_platform() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    journal
        .write(&killed_entry(&source, CommitState::Sent))
        .unwrap();
    // The platform completed it; the answer died with the process.
    let fake = Fake::new();
    fake.committed.lock().unwrap().push("u1".into());
    let out = UploadDriver::new(fast())
        .upload_journaled(&fake, &source, &journal)
        .await
        .unwrap();
    assert_eq!(out.completion, Completion::Ready(asset("video-u1")));
    assert_eq!(
        fake.commits.load(Ordering::SeqCst),
        0,
        "nothing completed twice"
    );
    assert!(fake.sent.lock().unwrap().is_empty(), "no part sent again");
    assert!(
        journal.entries().is_empty(),
        "forgotten once the asset is known"
    );

    // Where the platform cannot name it, the rerun ends committed with the id unknown — never
    // in a Conflict.
    journal
        .write(&killed_entry(&source, CommitState::Sent))
        .unwrap();
    let blind = Fake {
        finds_asset: false,
        ..Fake::new()
    };
    blind.committed.lock().unwrap().push("u1".into());
    let out = UploadDriver::new(fast())
        .upload_journaled(&blind, &source, &journal)
        .await
        .unwrap();
    assert_eq!(
        out.completion,
        Completion::CommittedIdUnknown {
            upload_id: "u1".into()
        }
    );
    assert!(journal.entries().is_empty());
}

#[tokio::test]
async fn a_kill_after_the_completion_was_answered_only_polls() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let handle = ProcessingHandle {
        platform: "fake".into(),
        id: "video-u1".into(),
        data: serde_json::Value::Null,
    };
    journal
        .write(&killed_entry(
            &source,
            CommitState::Answered(CommitOutcome::Processing(handle)),
        ))
        .unwrap();
    let fake = Fake::new();
    let out = UploadDriver::new(fast())
        .upload_journaled(&fake, &source, &journal)
        .await
        .unwrap();
    assert_eq!(out.completion, Completion::Ready(asset("video-u1")));
    assert_eq!(fake.commits.load(Ordering::SeqCst), 0);
    assert!(fake.recovers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn parts_in_flight_at_a_crash_count_as_resent() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let mut entry = killed_entry(&source, CommitState::NotSent);
    // Parts 0–2 acknowledged; 3 and 4 were on the wire when the process died.
    entry.receipts.truncate(3);
    entry.sending = vec![0, 1, 2, 3, 4];
    journal.write(&entry).unwrap();
    let fake = Fake::new();
    let out = UploadDriver::new(fast())
        .upload_journaled(&fake, &source, &journal)
        .await
        .unwrap();
    let sent: Vec<u32> = fake.sent.lock().unwrap().iter().map(|(_, i)| *i).collect();
    assert_eq!(sent, vec![3, 4, 5]);
    assert_eq!(
        out.stats.bytes_resent,
        2 * PART,
        "parts 3 and 4 went out twice"
    );
    assert_eq!(out.stats.parts_skipped, 3);
}

#[tokio::test]
async fn a_session_the_platform_lost_is_replaced_and_the_stats_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let fake = Fake {
        lose_session_at: Some(2),
        ..Fake::new()
    };
    fake.commit_flakes.store(1, Ordering::SeqCst);
    let out = UploadDriver::new(fast())
        .upload_prepared(&fake, &source)
        .await
        .unwrap();
    assert_eq!(out.completion, Completion::Ready(asset("video-u2")));
    assert_eq!(out.stats.sessions_restarted, 1);
    // Parts 0 and 1 went to the lost session, then again to the new one.
    assert_eq!(out.stats.bytes_resent, 2 * PART);
    assert_eq!(out.stats.parts_sent, 2 + PARTS as u32);
    // The completion's one transient failure is a retried attempt too.
    assert_eq!(out.stats.retries, 1);
    assert_eq!(
        fake.cancels.load(Ordering::SeqCst),
        0,
        "a lost session is not cancelled"
    );
}

#[tokio::test]
async fn a_stop_sends_no_new_part_and_keeps_the_session_resumable() {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let fake = Fake {
        stop_after: Some((1, tx)),
        ..Fake::new()
    };
    let err = UploadDriver::new(UploadOptions {
        stop: Some(rx),
        ..fast()
    })
    .upload_journaled(&fake, &source, &journal)
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let sent: Vec<u32> = fake.sent.lock().unwrap().iter().map(|(_, i)| *i).collect();
    assert_eq!(sent, vec![0, 1], "no part after the stop");
    assert_eq!(fake.cancels.load(Ordering::SeqCst), 0, "nothing cancelled");
    assert_eq!(fake.commits.load(Ordering::SeqCst), 0);
    let entries = journal.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].receipts.len(), 2, "both parts journaled");
}

/// Runs a journaled upload of `fake` with a 100 ms grace, the stop sent once `when` holds
/// (looked at from 50 ms in); returns the result, how long after the stop it ended, and the
/// journal.
async fn stopped_while(
    fake: &Fake,
    opts: UploadOptions,
    when: impl Fn(&Fake) -> bool,
) -> (Result<UploadOutcome>, Duration, Vec<JournalEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let source = prepared(&source_file(dir.path())).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let driver = UploadDriver::new(UploadOptions {
        stop: Some(rx),
        stop_grace: Duration::from_millis(100),
        ..opts
    });
    let upload = driver.upload_journaled(fake, &source, &journal);
    let stop = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        while !when(fake) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tx.send(true).unwrap();
        Instant::now()
    };
    let (result, stopped) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(upload, stop)
    })
    .await
    .expect("the stop did not end the upload");
    (result, stopped.elapsed(), journal.entries())
}

/// A stop while `init` hangs ends the upload after the grace, with nothing to cancel or keep.
#[tokio::test]
async fn a_stop_ends_a_hanging_init_after_the_grace() {
    let fake = Fake {
        hang_in: Some("init"),
        ..Fake::new()
    };
    let (result, took, entries) = stopped_while(&fake, fast(), |_| true).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert_eq!(err.code(), Some("STOPPED"));
    assert!(
        took >= Duration::from_millis(90) && took < Duration::from_secs(1),
        "{took:?}"
    );
    assert!(entries.is_empty());
    assert_eq!(fake.cancels.load(Ordering::SeqCst), 0);
}

/// A stop while the completion hangs: the session is kept with its completion sent, so the
/// rerun asks the platform first; nothing is cancelled.
#[tokio::test]
async fn a_stop_ends_a_hanging_commit_and_keeps_it_for_recovery() {
    let fake = Fake {
        hang_in: Some("commit"),
        ..Fake::new()
    };
    let committing = |f: &Fake| f.commits.load(Ordering::SeqCst) > 0;
    let (result, took, entries) = stopped_while(&fake, fast(), committing).await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].commit, CommitState::Sent);
    assert_eq!(entries[0].receipts.len(), PARTS);
    assert_eq!(fake.cancels.load(Ordering::SeqCst), 0);
    assert!(
        fake.recovers.lock().unwrap().is_empty(),
        "no recovery after a stop"
    );
}

/// A stop while polling ends the wait with the handle, which the journal keeps.
#[tokio::test]
async fn a_stop_ends_a_hanging_poll_with_the_handle() {
    let fake = Fake {
        hang_in: Some("poll"),
        ..Fake::new()
    };
    let committed = |f: &Fake| f.commits.load(Ordering::SeqCst) > 0;
    let (result, took, entries) = stopped_while(&fake, fast(), committed).await;
    let out = result.unwrap();
    assert!(
        matches!(out.completion, Completion::Processing(_)),
        "{out:?}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(entries.len(), 1);
    assert!(matches!(
        entries[0].commit,
        CommitState::Answered(CommitOutcome::Processing(_))
    ));
}

/// A stop during a long wait between two attempts (a `Retry-After` of minutes) ends it at
/// once, not after the wait.
#[tokio::test]
async fn a_stop_ends_the_wait_between_retries_at_once() {
    let fake = Fake::new();
    fake.commit_flakes.store(1, Ordering::SeqCst);
    let opts = UploadOptions {
        retry: RetryPolicy {
            initial_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(60),
            jitter: false,
            ..fast().retry
        },
        ..fast()
    };
    let flaked = |f: &Fake| f.commits.load(Ordering::SeqCst) > 0;
    let (result, took, _) = stopped_while(&fake, opts, flaked).await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
    assert!(took < Duration::from_millis(90), "{took:?}");
    assert_eq!(
        fake.commits.load(Ordering::SeqCst),
        1,
        "no attempt after the stop"
    );
}
