//! The journal: entries, logs, compaction, the earlier formats, and its writer off the
//! runtime.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::plan::PartPlan;
use crate::rules::{PartSizeRule, UploadRules};

fn session() -> UploadSession {
    let rules = UploadRules {
        max_parts: 100,
        ..UploadRules::new("p", PartSizeRule::Exact(10), 1000)
    };
    UploadSession {
        platform: "p".into(),
        upload_id: "u".into(),
        plan: PartPlan::new(35, &rules, None).unwrap(),
        expires_at: None,
        started_at_ms: 1,
        data: serde_json::json!({"k": 1}),
    }
}

#[test]
fn records_finds_and_forgets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.mp4");
    std::fs::write(&file, vec![1u8; 35]).unwrap();
    let j = Journal::open(dir.path().join("j")).unwrap();
    let fp = SourceFingerprint::of(&file).unwrap();
    let r = PartReceipt {
        index: 1,
        wire_number: 1,
        size: 10,
        etag: None,
    };
    j.record(&fp, &session(), std::slice::from_ref(&r)).unwrap();
    let e = j.find("p", &fp).unwrap();
    assert_eq!(e.receipts, vec![r]);
    assert_eq!(e.session, session());
    assert_eq!(j.entries().len(), 1);
    assert!(j.find("other", &fp).is_none());
    // A changed file is a different source.
    std::fs::write(&file, vec![2u8; 36]).unwrap();
    let changed = SourceFingerprint::of(&file).unwrap();
    assert!(j.find("p", &changed).is_none());
    j.remove("p", &fp).unwrap();
    assert!(j.find("p", &fp).is_none());
    j.remove("p", &fp).unwrap();
}

#[test]
fn a_torn_entry_is_ignored_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path()).unwrap();
    std::fs::write(dir.path().join("p-x.json"), b"{ not json").unwrap();
    assert!(j.entries().is_empty());
}

#[test]
fn a_log_keeps_the_source_account_and_session_in_its_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.mp4");
    std::fs::write(&file, vec![1u8; 35]).unwrap();
    let j = Journal::open(dir.path().join("j")).unwrap();
    let mut entry = JournalEntry::new(&SourceFingerprint::of(&file).unwrap(), &session(), None);
    entry.account = Some("shop:1".into());
    j.write(&entry).unwrap();
    let files = journal_files(&j);
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with(".jsonl"), "{files:?}");
    let text = std::fs::read_to_string(j.dir().join(&files[0])).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["entry"]["account"], "shop:1");
    assert_eq!(first["entry"]["session"]["upload_id"], "u");
    assert_eq!(
        first["entry"]["source"]["path"],
        serde_json::json!(std::fs::canonicalize(&file).unwrap())
    );
}

/// The files in the journal's directory, sorted by name.
fn journal_files(j: &Journal) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(j.dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn receipt_of(index: u32) -> PartReceipt {
    PartReceipt {
        index,
        wire_number: index + 1,
        size: 10,
        etag: Some(format!("e{index}")),
    }
}

/// A log a crash cut mid-line: the records before the torn line are kept, the torn one is
/// skipped, and the entry is still found.
#[test]
fn a_torn_last_record_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.mp4");
    std::fs::write(&file, vec![1u8; 35]).unwrap();
    let j = Journal::open(dir.path().join("j")).unwrap();
    let fp = SourceFingerprint::of(&file).unwrap();
    let entry = JournalEntry::new(&fp, &session(), None);
    j.write(&entry).unwrap();
    let path = j.log_path(&entry);
    let mut bytes = std::fs::read(&path).unwrap();
    for part in 0..2 {
        let record = log::Record {
            at: 5,
            sending: Some(part),
            ..log::Record::default()
        };
        log::encode(&record, &mut bytes).unwrap();
        let record = log::Record {
            at: 6,
            receipt: Some(receipt_of(part)),
            ..log::Record::default()
        };
        log::encode(&record, &mut bytes).unwrap();
    }
    let mut torn = Vec::new();
    let record = log::Record {
        at: 7,
        receipt: Some(receipt_of(2)),
        ..log::Record::default()
    };
    log::encode(&record, &mut torn).unwrap();
    bytes.extend_from_slice(&torn[..torn.len() / 2]);
    std::fs::write(&path, &bytes).unwrap();

    let found = j.find("p", &fp).unwrap();
    assert_eq!(found.receipts, vec![receipt_of(0), receipt_of(1)]);
    assert_eq!(found.sending, vec![0, 1]);
    assert_eq!(found.commit, CommitState::NotSent);
    assert_eq!(found.session, session());
    // A log whose first line is torn holds nothing readable.
    std::fs::write(&path, &bytes[..10]).unwrap();
    assert!(j.entries().is_empty());
}

#[test]
fn records_replace_what_they_name_and_sent_never_undoes_answered() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.mp4");
    std::fs::write(&file, vec![1u8; 35]).unwrap();
    let fp = SourceFingerprint::of(&file).unwrap();
    let mut bytes = Vec::new();
    log::encode_snapshot(&JournalEntry::new(&fp, &session(), None), &mut bytes).unwrap();
    let answered =
        CommitState::Answered(crate::CommitOutcome::Processing(crate::ProcessingHandle {
            platform: "p".into(),
            id: "h".into(),
            data: serde_json::Value::Null,
        }));
    let mut renewed = session();
    renewed.expires_at = Some(99);
    let mut again = receipt_of(1);
    again.etag = Some("second".into());
    for record in [
        log::Record {
            receipt: Some(receipt_of(1)),
            ..log::Record::default()
        },
        log::Record {
            receipt: Some(receipt_of(0)),
            ..log::Record::default()
        },
        log::Record {
            receipt: Some(again.clone()),
            session: Some(Box::new(renewed.clone())),
            at: 42,
            ..log::Record::default()
        },
        log::Record {
            commit: Some(answered.clone()),
            ..log::Record::default()
        },
        log::Record {
            commit: Some(CommitState::Sent),
            ..log::Record::default()
        },
    ] {
        log::encode(&record, &mut bytes).unwrap();
    }
    let (entry, tail) = log::replay(&bytes).unwrap();
    assert_eq!(tail, 5);
    assert_eq!(entry.receipts, vec![receipt_of(0), again], "plan order");
    assert_eq!(entry.session, renewed);
    assert_eq!(entry.commit, answered);
    assert!(entry.updated_at_ms >= 42);
}

/// The whole-entry files of the earlier format (pretty-printed JSON, per session or per
/// source) are read as they are, and a session resumed from one gets a log in its place.
#[test]
fn entries_of_the_earlier_format_are_read_and_replaced_by_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.mp4");
    std::fs::write(&file, vec![1u8; 35]).unwrap();
    let j = Journal::open(dir.path().join("j")).unwrap();
    let fp = SourceFingerprint::of(&file).unwrap();
    // As the earlier release wrote it: every field by name, no `account`.
    let old = serde_json::json!({
        "platform": "p",
        "source": {"path": fp.path, "size": fp.size, "modified_ns": fp.modified_ns, "md5": null},
        "session": {"platform": "p", "upload_id": "u", "plan": session().plan,
                    "expires_at": null, "started_at_ms": 1, "data": {"k": 1}},
        "receipts": [{"index": 0, "wire_number": 1, "size": 10, "etag": "e0"}],
        "sending": [0, 1],
        "commit": "NotSent",
        "updated_at_ms": 7
    });
    let entry_file = j
        .entry_path("p", None, &fp.path, "u")
        .with_extension("json");
    std::fs::write(&entry_file, serde_json::to_vec_pretty(&old).unwrap()).unwrap();
    // The layout before sessions had files of their own: another session of the source.
    let mut older = old.clone();
    older["session"]["upload_id"] = "u0".into();
    older["updated_at_ms"] = 3.into();
    let legacy = j.legacy_path("p", &fp.path);
    std::fs::write(&legacy, serde_json::to_vec_pretty(&older).unwrap()).unwrap();

    let mut entries = j.entries();
    entries.sort_by_key(|e| e.updated_at_ms);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].session.upload_id, "u0");
    assert_eq!(entries[1].session.upload_id, "u");
    assert_eq!(entries[1].receipts, vec![receipt_of(0)]);
    assert_eq!(entries[1].sending, vec![0, 1]);
    assert_eq!(entries[1].account, None);
    assert_eq!(j.find("p", &fp).unwrap().session.upload_id, "u");

    // Written again (as a resumed session's log starts), it is a log; the old file is gone.
    j.write(&entries[1]).unwrap();
    let files = journal_files(&j);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".jsonl")), "{files:?}");
    assert!(!entry_file.exists());
    assert!(legacy.exists(), "another session's file is kept");
    assert_eq!(j.entries().len(), 2);
    j.remove_entry(&entries[0]).unwrap();
    j.remove_entry(&entries[1]).unwrap();
    assert!(journal_files(&j).is_empty());
}

/// Records fed as fast as a 2,000-part upload makes them, then 10,000 that replace what the
/// entry holds (renewed sessions): the file stays within its bound (its snapshot plus at
/// most max(256, the entry's size) records) at every point, it is compacted when records
/// outgrow its snapshot (not before), the bytes written stay proportional to the records
/// (not quadratic), and the replay is exact.
#[tokio::test]
async fn a_growing_log_is_compacted_within_its_bound() {
    const PARTS: u32 = 2000;
    const RENEWALS: u64 = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.mp4");
    std::fs::write(&file, vec![1u8; 35]).unwrap();
    let j = Journal::open(dir.path().join("j")).unwrap();
    let fp = SourceFingerprint::of(&file).unwrap();
    let rules = UploadRules {
        max_parts: 10_000,
        ..UploadRules::new("p", PartSizeRule::Exact(10), 1 << 20)
    };
    let mut s = session();
    s.plan = PartPlan::new(u64::from(PARTS) * 10, &rules, None).unwrap();
    let recorder = Recorder::start(&j, fp.clone(), None, None).unwrap();
    recorder.opened(&s, &[]);
    let path = j.log_path(&JournalEntry::new(&fp, &s, None));
    let within_bound = |step: &str, size: usize| {
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(
            lines <= 1 + log::COMPACT_MIN_RECORDS.max(size),
            "{lines} lines after {step} (entry of {size})"
        );
    };
    let records = |j: &Journal| {
        use std::sync::atomic::Ordering;
        (
            j.stats.snapshots.load(Ordering::Relaxed),
            j.stats.appended.load(Ordering::Relaxed)
                + j.stats.snapshot_bytes.load(Ordering::Relaxed),
        )
    };
    for part in 0..PARTS {
        recorder.on_event(&s, &SessionEvent::Sending { part });
        recorder.on_event(&s, &SessionEvent::Acknowledged(receipt_of(part)));
        if part % 97 == 0 {
            recorder.written().await;
            within_bound(&format!("part {part}"), 2 * (part as usize + 1));
        }
    }
    recorder.written().await;
    // Each record grew the entry as much as the log: appended once, never compacted.
    let (snapshots, parts_written) = records(&j);
    assert_eq!(snapshots, 1, "only the first line");
    let per_part = parts_written / u64::from(PARTS);
    assert!(per_part < 200, "{per_part} bytes written per part");
    let size = 2 * PARTS as usize;
    for n in 0..RENEWALS {
        s.expires_at = Some(n);
        recorder.on_event(&s, &SessionEvent::Sending { part: 0 });
        if n % 501 == 0 {
            recorder.written().await;
            within_bound(&format!("renewal {n}"), size);
        }
    }
    recorder.written().await;
    within_bound("the renewals", size);
    let (snapshots, written) = records(&j);
    // A compaction each time the records past the snapshot reach the entry's size.
    let expected = RENEWALS / size as u64;
    assert!(
        (expected..=expected + 2).contains(&(snapshots - 1)),
        "{snapshots} snapshots"
    );
    // Each renewal record is written once, and each compaction follows as many records as
    // it rewrites: the bytes stay within a small multiple of the records'.
    let per_record = (written - parts_written) / RENEWALS;
    assert!(per_record < 600, "{per_record} bytes written per renewal");
    let entry = j.find("p", &fp).unwrap();
    assert_eq!(entry.receipts.len(), PARTS as usize);
    assert!(entry
        .receipts
        .iter()
        .enumerate()
        .all(|(i, r)| r.index == i as u32));
    assert_eq!(entry.sending.len(), PARTS as usize);
    assert_eq!(entry.session, s);
    eprintln!(
        "{PARTS} parts: {per_part} bytes written per part, 1 snapshot; {RENEWALS} renewals: \
         {snapshots} snapshots, {per_record} bytes per renewal, file {} bytes",
        std::fs::metadata(&path).unwrap().len()
    );
}

// ---- Journaled uploads: the writer, durability and crashes ------------------------------

const PART: u64 = 1000;

/// A platform that holds parts, and can leave the parts from an index on hanging (a process
/// killed while they are on the wire).
struct Platform {
    rules: UploadRules,
    hang_from: Option<u32>,
    started: std::sync::Mutex<Vec<u32>>,
}

impl Platform {
    fn new(hang_from: Option<u32>) -> Platform {
        Platform {
            rules: UploadRules {
                max_parts: 1000,
                concurrent_parts: true,
                ..UploadRules::new("fake", PartSizeRule::Exact(PART), 1 << 30)
            },
            hang_from,
            started: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn started(&self) -> Vec<u32> {
        self.started.lock().unwrap().clone()
    }
}

fn asset() -> crate::Asset {
    crate::Asset {
        platform: "fake".into(),
        id: "v".into(),
        urls: Vec::new(),
        thumbnails: Vec::new(),
        duration: None,
        size: None,
        details: serde_json::Value::Null,
    }
}

#[async_trait::async_trait]
impl crate::ChunkedVideoUploader for Platform {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }
    async fn init(
        &self,
        _: &crate::raw::SourceInfo,
        plan: &PartPlan,
    ) -> Result<crate::raw::InitOutcome> {
        Ok(crate::raw::InitOutcome::Session(UploadSession {
            platform: "fake".into(),
            upload_id: "u1".into(),
            plan: *plan,
            expires_at: None,
            started_at_ms: 0,
            data: serde_json::Value::Null,
        }))
    }
    async fn put_part(&self, _: &UploadSession, part: &crate::raw::Part) -> Result<PartReceipt> {
        self.started.lock().unwrap().push(part.index);
        if self.hang_from.is_some_and(|h| part.index >= h) {
            std::future::pending::<()>().await;
        }
        part.report_sent(part.len());
        Ok(PartReceipt {
            index: part.index,
            wire_number: part.index + 1,
            size: part.len(),
            etag: None,
        })
    }
    async fn commit(
        &self,
        _: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<crate::CommitOutcome> {
        let indexes: Vec<u32> = receipts.iter().map(|r| r.index).collect();
        assert_eq!(indexes, (0..indexes.len() as u32).collect::<Vec<_>>());
        Ok(crate::CommitOutcome::Ready(asset()))
    }
    async fn poll(&self, _: &crate::ProcessingHandle) -> Result<crate::ProcessingStatus> {
        Ok(crate::ProcessingStatus::Ready(asset()))
    }
    async fn cancel(&self, _: &UploadSession) -> Result<()> {
        Ok(())
    }
}

/// A video of `parts` parts (it sniffs as MP4), digested for the platform.
async fn video(dir: &Path, parts: usize) -> crate::PreparedSource {
    let path = dir.join("v.mp4");
    let mut data = b"\0\0\0\x14ftypisom\0\0\0\0isom".to_vec();
    let len = parts * PART as usize;
    data.extend((0..len - data.len()).map(|i| (i % 251) as u8));
    std::fs::write(&path, &data).unwrap();
    let probe = crate::SourceProbe::open(&path).await.unwrap();
    let rules = Platform::new(None).rules;
    let plan = probe.plan(&rules, None).unwrap();
    crate::PreparedSource::digest(probe, &crate::source::digest_request(&rules, &plan))
        .await
        .unwrap()
}

fn driver(concurrency: usize) -> crate::UploadDriver {
    crate::UploadDriver::new(crate::UploadOptions {
        concurrency,
        cancel_on_failure: false,
        retry: crate::RetryPolicy {
            max_attempts: 1,
            ..crate::RetryPolicy::default()
        },
        ..crate::UploadOptions::default()
    })
}

/// A 100-part upload appends two small records per part to one file (never renamed: the
/// same inode, the same first line), and writes a few hundred bytes per part in all.
#[cfg(unix)]
#[tokio::test]
async fn a_journaled_upload_appends_records_instead_of_rewriting_its_entry() {
    use std::os::unix::fs::MetadataExt;
    const PARTS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let source = video(dir.path(), PARTS).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let jdir = journal.dir().to_path_buf();
    // Per acknowledged part: parts so far, the log's inode, its lines, its first line.
    type Seen = Vec<(usize, u64, usize, String)>;
    let seen: std::sync::Arc<std::sync::Mutex<Seen>> = std::sync::Arc::default();
    let watch = std::sync::Arc::clone(&seen);
    let observer: crate::ReceiptObserver = std::sync::Arc::new(move |_, receipts| {
        // Called once the part's record is durable: the log is as a crash would leave it.
        if receipts.is_empty() {
            return;
        }
        let files: Vec<_> = std::fs::read_dir(&jdir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].path()).unwrap();
        let ino = files[0].metadata().unwrap().ino();
        let first = text.lines().next().unwrap().to_owned();
        watch
            .lock()
            .unwrap()
            .push((receipts.len(), ino, text.lines().count(), first));
    });
    let opts = crate::UploadOptions {
        on_receipt: Some(observer),
        ..driver(1).options().clone()
    };
    crate::UploadDriver::new(opts)
        .upload_journaled(&Platform::new(None), &source, &journal)
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), PARTS);
    let (_, ino, _, first) = &seen[0];
    for (parts, this_ino, lines, this_first) in seen.iter() {
        assert_eq!(this_ino, ino, "the log was replaced after {parts} parts");
        assert_eq!(
            this_first, first,
            "the snapshot was rewritten after {parts} parts"
        );
        // The snapshot, then "sending" and "receipt" per part.
        assert_eq!(*lines, 1 + 2 * parts, "after {parts} parts");
    }
    assert!(journal.entries().is_empty(), "forgotten once done");
    use std::sync::atomic::Ordering;
    let snapshots = journal.stats.snapshots.load(Ordering::Relaxed);
    let written = journal.stats.appended.load(Ordering::Relaxed)
        + journal.stats.snapshot_bytes.load(Ordering::Relaxed);
    assert_eq!(snapshots, 1, "one snapshot: the session's first line");
    assert!(
        written < 300 * PARTS as u64,
        "{written} bytes for {PARTS} parts"
    );
    eprintln!(
        "{PARTS} parts: {written} bytes written to the journal ({} per part), {snapshots} snapshot",
        written / PARTS as u64
    );
}

/// A process killed with parts on the wire: what the journal holds on disk at that moment
/// has every acknowledged part (each was durable before its place went to another part), so
/// the rerun re-sends at most the parts that were in flight.
#[tokio::test]
async fn a_crash_mid_upload_resends_at_most_the_parts_in_flight() {
    const PARTS: usize = 10;
    const CONCURRENCY: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let source = video(dir.path(), PARTS).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    // Parts 5, 6 and 7 go out and never come back; 8 and 9 never start.
    let hanging = Platform::new(Some(5));
    let driver = driver(CONCURRENCY);
    let upload = driver.upload_journaled(&hanging, &source, &journal);
    let crashed = dir.path().join("crashed");
    let wait = async {
        while hanging.started().len() < 5 + CONCURRENCY {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The kill: the disk as it is now, nothing more written.
        std::fs::create_dir(&crashed).unwrap();
        for file in std::fs::read_dir(journal.dir()).unwrap().flatten() {
            std::fs::copy(file.path(), crashed.join(file.file_name())).unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            _ = upload => panic!("the upload ended with parts hanging"),
            () = wait => {}
        }
    })
    .await
    .expect("the parts never went out");
    assert_eq!(hanging.started(), (0..8).collect::<Vec<_>>());

    let after = Journal::open(&crashed).unwrap();
    let entries = after.entries();
    assert_eq!(entries.len(), 1);
    let acked: Vec<u32> = entries[0].receipts.iter().map(|r| r.index).collect();
    assert_eq!(
        acked,
        vec![0, 1, 2, 3, 4],
        "every acknowledged part is on disk"
    );

    let fine = Platform::new(None);
    let out = driver
        .upload_journaled(&fine, &source, &after)
        .await
        .unwrap();
    assert_eq!(fine.started(), vec![5, 6, 7, 8, 9]);
    let resent: Vec<u32> = fine
        .started()
        .into_iter()
        .filter(|p| hanging.started().contains(p))
        .collect();
    assert!(resent.len() <= CONCURRENCY, "re-sent {resent:?}");
    assert_eq!(out.stats.parts_skipped, 5);
    assert!(out.stats.bytes_resent <= CONCURRENCY as u64 * PART);
    assert!(after.entries().is_empty());
}

/// A disk that does not answer (the writer held at its first write) never holds up the async
/// runtime: on a single-threaded runtime another task runs meanwhile, while the upload
/// waits, before its first part, for its session to be on disk. Deterministic: the writer is
/// held until the test releases it; were it on the runtime, nothing would run until the
/// hold's safety timeout, which the test then sees.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_disk_never_blocks_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let source = video(dir.path(), 4).await;
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let holding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let timed_out = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (hold, late) = (
        std::sync::Arc::clone(&holding),
        std::sync::Arc::clone(&timed_out),
    );
    let journal = Journal::open(dir.path().join("j")).unwrap().gated(move || {
        use std::sync::atomic::Ordering;
        if hold.load(Ordering::SeqCst) {
            let _ = entered_tx.send(());
            let released = release_rx
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10));
            if released.is_err() {
                late.store(true, Ordering::SeqCst);
            }
        }
    });
    let platform = std::sync::Arc::new(Platform::new(None));
    let upload = {
        let (platform, journal) = (std::sync::Arc::clone(&platform), journal.clone());
        tokio::spawn(async move {
            driver(2)
                .upload_journaled(platform.as_ref(), &source, &journal)
                .await
        })
    };
    // The writer is held now, at the session's first line.
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the writer never wrote");
    let other = tokio::spawn(async { 7 });
    assert_eq!(other.await.unwrap(), 7, "another task ran");
    assert!(
        platform.started().is_empty(),
        "no part before the session is on disk"
    );
    use std::sync::atomic::Ordering;
    assert!(!timed_out.load(Ordering::SeqCst), "the runtime was blocked");
    holding.store(false, Ordering::SeqCst);
    release_tx.send(()).unwrap();
    let out = upload.await.unwrap().unwrap();
    assert!(out.asset().is_some());
    assert!(!timed_out.load(Ordering::SeqCst), "the runtime was blocked");
    assert_eq!(platform.started(), vec![0, 1, 2, 3]);
    assert!(journal.entries().is_empty());
}

/// A session journaled in the earlier format (a whole-entry `.json` file of a killed
/// upload) is resumed: only the missing parts are sent, and its file becomes a log.
#[tokio::test]
async fn an_upload_journaled_in_the_earlier_format_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let source = video(dir.path(), 6).await;
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let mut fp = SourceFingerprint::of(&source.probe.path).unwrap();
    fp.md5 = source.digests.md5_hex();
    let plan = source.probe.plan(&Platform::new(None).rules, None).unwrap();
    let session = UploadSession {
        platform: "fake".into(),
        upload_id: "u1".into(),
        plan,
        expires_at: None,
        started_at_ms: 0,
        data: serde_json::Value::Null,
    };
    let mut entry = JournalEntry::new(&fp, &session, None);
    entry.receipts = (0..3)
        .map(|i| PartReceipt {
            index: i,
            wire_number: i + 1,
            size: PART,
            etag: None,
        })
        .collect();
    entry.sending = vec![0, 1, 2, 3];
    let old = journal.log_path(&entry).with_extension("json");
    std::fs::write(&old, serde_json::to_vec_pretty(&entry).unwrap()).unwrap();

    // Stopped after one more part: the session is then journaled as a log only.
    let hanging = Platform::new(Some(4));
    let stopping = driver(1);
    let first = stopping.upload_journaled(&hanging, &source, &journal);
    let stopped = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            _ = first => panic!("the upload ended with a part hanging"),
            () = async {
                while hanging.started().len() < 2 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            } => {}
        }
    })
    .await;
    assert!(stopped.is_ok(), "the parts never went out");
    assert_eq!(hanging.started(), vec![3, 4], "only the missing parts");
    let files = journal_files(&journal);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".jsonl"), "{files:?}");
    assert_eq!(journal.entries()[0].receipts.len(), 4);

    let fine = Platform::new(None);
    let out = driver(1)
        .upload_journaled(&fine, &source, &journal)
        .await
        .unwrap();
    assert_eq!(fine.started(), vec![4, 5]);
    assert_eq!(out.stats.parts_skipped, 4);
    assert!(journal_files(&journal).is_empty());
}
