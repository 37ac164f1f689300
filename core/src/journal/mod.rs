//! The resume journal: every step of a session (a part sending, a part acknowledged, the
//! completion sent and answered) is recorded on disk with the source's fingerprint, so an
//! upload interrupted by a crash or a kill resumes where it stopped instead of starting over.
//! The format, what is on disk when, and the compaction are on [`Journal`]; the records are
//! in the `log` module, the writer thread in `writer`.

mod log;
mod writer;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::driver::{CommitState, Completion, ResumePoint, SessionEvent};
use crate::error::{Error, ErrorKind, Result};
use crate::uploader::{PartReceipt, UploadSession};

/// Identifies a source file: where it is, how big, when it last changed and (when known) its
/// MD5. A file that changed is a different source and is never resumed into an old session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFingerprint {
    /// Canonical path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: u128,
    /// Whole-file MD5 as lowercase hex, when computed.
    pub md5: Option<String>,
}

impl SourceFingerprint {
    /// The fingerprint of the file at `path` now (MD5 left empty).
    pub fn of(path: &Path) -> Result<Self> {
        let path = std::fs::canonicalize(path).map_err(|e| {
            Error::invalid_input(format!("cannot open {}: {e}", path.display())).with_source(e)
        })?;
        let meta = std::fs::metadata(&path)?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(SourceFingerprint {
            path,
            size: meta.len(),
            modified_ns,
            md5: None,
        })
    }

    /// Whether two fingerprints name the same unchanged file (MD5s compared when both known).
    pub fn matches(&self, other: &SourceFingerprint) -> bool {
        self.path == other.path
            && self.size == other.size
            && self.modified_ns == other.modified_ns
            && match (&self.md5, &other.md5) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// One journal entry: a marketplace session for a source, with the parts acknowledged so far,
/// the parts that were sending, and where the completion stood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Platform name.
    pub platform: String,
    /// The identity of the account the session belongs to ([`crate::AccountRef::identity`]);
    /// `None` in entries written before accounts, or for uploads made for no account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The source.
    pub source: SourceFingerprint,
    /// The session (plain data; no upload credentials — providers keep those out).
    pub session: UploadSession,
    /// Receipts of the acknowledged parts.
    pub receipts: Vec<PartReceipt>,
    /// Parts whose bytes started going out, acknowledged or not (a resumed upload counts the
    /// unacknowledged ones as re-sent).
    #[serde(default)]
    pub sending: Vec<u32>,
    /// Where the completion stood: an entry whose completion was sent is kept until its
    /// outcome is known, so a rerun asks the platform instead of failing on "already done".
    #[serde(default)]
    pub commit: CommitState,
    /// When the entry was last written (Unix milliseconds).
    pub updated_at_ms: u64,
}

impl JournalEntry {
    fn new(
        source: &SourceFingerprint,
        session: &UploadSession,
        account: Option<&str>,
    ) -> JournalEntry {
        JournalEntry {
            platform: session.platform.clone(),
            account: account.map(str::to_owned),
            source: source.clone(),
            session: session.clone(),
            receipts: Vec::new(),
            sending: Vec::new(),
            commit: CommitState::NotSent,
            updated_at_ms: crate::http::unix_millis(),
        }
    }

    /// Whether the platform may already hold the asset of this session (its completion was
    /// sent): cancelling it could delete a finished upload.
    pub fn committed(&self) -> bool {
        self.commit != CommitState::NotSent
    }
}

/// The asset (or processing handle) id a recorded completion answer names, when the record
/// says the session is committed.
pub fn committed_id(commit: &CommitState) -> Option<&str> {
    match commit {
        CommitState::Answered(crate::CommitOutcome::Ready(asset)) => Some(&asset.id),
        CommitState::Answered(crate::CommitOutcome::Processing(handle)) => Some(&handle.id),
        _ => None,
    }
}

/// The refusal to cancel a committed upload: the platform holds `id` (a video to delete on
/// purpose, not a session to cancel). [`ErrorKind::Conflict`], as a provider answers a cancel
/// after its own commit.
pub fn committed_conflict(platform: &str, id: &str) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!("the upload is already committed as video {id}; delete the video to remove it"),
    )
    .with_platform(platform)
    .with_call("cancel")
    .with_code("committed")
}

/// Cancels `session` deciding from what lasts, never from a process's memory: the
/// completion's record (the journal's [`JournalEntry::commit`], a job store's handle) first,
/// then the platform. A completion answered is a committed upload: [`committed_conflict`]
/// naming the video, and no request. A completion sent but never answered is looked up on the
/// platform ([`crate::ChunkedVideoUploader::recover`]): committed there is a conflict too
/// (naming the video when the platform can); otherwise the provider's cancel runs.
pub async fn cancel_recorded(
    provider: &dyn crate::ChunkedVideoUploader,
    session: &UploadSession,
    receipts: &[PartReceipt],
    commit: &CommitState,
) -> Result<()> {
    let platform = session.platform.as_str();
    if let Some(id) = committed_id(commit) {
        return Err(committed_conflict(platform, id));
    }
    if *commit == CommitState::Sent {
        match provider.recover(session, receipts, None).await? {
            crate::Recovery::Committed(outcome) => {
                let id = match &outcome {
                    crate::CommitOutcome::Ready(asset) => asset.id.clone(),
                    crate::CommitOutcome::Processing(handle) => handle.id.clone(),
                };
                return Err(committed_conflict(platform, &id));
            }
            crate::Recovery::CommittedIdUnknown => {
                return Err(committed_conflict(
                    platform,
                    &format!("(id unknown; upload {})", session.upload_id),
                ));
            }
            crate::Recovery::NotCommitted => {}
        }
    }
    provider.cancel(session).await
}

/// A directory of journal entries, one log per session (`PLATFORM-KEY-SESSION.jsonl`).
///
/// A log is JSON lines: a snapshot of the whole entry first, then one small record per step,
/// appended. A log whose records outgrow its snapshot (the larger of 256 records and the
/// parts its entry names) is compacted: replaced atomically by a new snapshot (a temporary
/// file, flushed to disk, renamed), so a 10,000-part upload keeps a file about twice its
/// entry's size and writes O(1) bytes per part, amortized. Reading replays a log, skipping a
/// line that does not parse (the torn last line of a crash mid-write). Entries written before
/// logs (`PLATFORM-KEY[-SESSION].json`, one pretty-printed entry each) are still read, and are
/// replaced by a log when their session runs again.
///
/// A journaled upload ([`crate::UploadDriver::upload_journaled`]) never writes on the async
/// runtime: a writer thread of its own takes the records through a channel, appends what
/// queued up in one write and flushes it once. What is on disk when:
/// - a session is on disk before its first part goes out (so `cleanup` can always list it);
/// - a part's receipt is on disk before the part gives up its place among the parts in
///   flight: a crash re-sends at most the parts in flight (the upload's concurrency);
/// - "completion sent" is on disk before the completion goes out, so a rerun asks the
///   platform first;
/// - everything is on disk when `upload_journaled` returns.
///
/// A part's "sending" mark is not waited for: a crash may lose the marks of the parts that
/// started since the last flush, and their bytes, sent again, are then not counted in
/// [`crate::UploadStats::bytes_resent`].
///
/// The other methods ([`Journal::entries`], [`Journal::find`], [`Journal::write`]…) read and
/// write the directory directly: they block, as file calls do.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
    /// What the writers wrote (tests and measurements).
    stats: std::sync::Arc<Stats>,
    /// Called by a writer before each batch (tests hold it closed).
    #[cfg(test)]
    gate: Option<Gate>,
}

/// What the writers of a journal wrote.
#[derive(Debug, Default)]
struct Stats {
    /// Bytes appended to logs.
    appended: std::sync::atomic::AtomicU64,
    /// Snapshots written (new logs, compactions, [`Journal::write`]).
    snapshots: std::sync::atomic::AtomicU64,
    /// Bytes of those snapshots.
    snapshot_bytes: std::sync::atomic::AtomicU64,
}

/// A hook a test sets to hold a journal's writer.
#[cfg(test)]
#[derive(Clone)]
struct Gate(std::sync::Arc<dyn Fn() + Send + Sync>);

#[cfg(test)]
impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

/// Where the journal lives by default: `$MARKETMEDIA_JOURNAL_DIR`, else
/// `$XDG_DATA_HOME/marketmedia/journal`, else `~/.local/share/marketmedia/journal`, else
/// `marketmedia-journal` in the temporary directory.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MARKETMEDIA_JOURNAL_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(data).join("marketmedia").join("journal");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home)
            .join(".local")
            .join("share")
            .join("marketmedia")
            .join("journal");
    }
    std::env::temp_dir().join("marketmedia-journal")
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("journal: cannot {what} {}: {e}", path.display()),
    )
    .with_source(e)
}

fn safe_name(platform: &str) -> String {
    platform
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// What names one session in the journal.
type SessionKey = (String, Option<String>, PathBuf, String);

fn key_of(entry: &JournalEntry) -> SessionKey {
    (
        entry.platform.clone(),
        entry.account.clone(),
        entry.source.path.clone(),
        entry.session.upload_id.clone(),
    )
}

impl Journal {
    /// Opens (creating it if needed) the journal in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Journal> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        Ok(Journal {
            dir,
            stats: std::sync::Arc::default(),
            #[cfg(test)]
            gate: None,
        })
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// One file per session: a source that changed, or a session that was replaced, keeps its
    /// own entry (for `cleanup`) instead of being overwritten. Entries of an account have the
    /// account's identity in the key (two shops uploading one file keep two files). The log's
    /// path; the entry file of the earlier format has the same stem.
    fn entry_path(
        &self,
        platform: &str,
        account: Option<&str>,
        source: &Path,
        upload_id: &str,
    ) -> PathBuf {
        let key = match account {
            None => crate::digest::md5(source.to_string_lossy().as_bytes()),
            Some(account) => {
                crate::digest::md5(format!("{account}\n{}", source.to_string_lossy()).as_bytes())
            }
        };
        let session = crate::digest::md5(upload_id.as_bytes());
        self.dir.join(format!(
            "{}-{}-{}.{}",
            safe_name(platform),
            hex::encode(key),
            &hex::encode(session)[..16],
            log::LOG_EXT
        ))
    }

    /// The path of `entry`'s log.
    fn log_path(&self, entry: &JournalEntry) -> PathBuf {
        self.entry_path(
            &entry.platform,
            entry.account.as_deref(),
            &entry.source.path,
            &entry.session.upload_id,
        )
    }

    /// The file name of entries written before sessions had files of their own.
    fn legacy_path(&self, platform: &str, source: &Path) -> PathBuf {
        let key = crate::digest::md5(source.to_string_lossy().as_bytes());
        self.dir.join(format!(
            "{}-{}.{}",
            safe_name(platform),
            hex::encode(key),
            log::ENTRY_EXT
        ))
    }

    /// Writes `entry` as the whole log at `path`, atomically (a temporary file flushed to
    /// disk, then renamed); returns the file, open at its end for appending.
    fn write_snapshot(&self, path: &Path, entry: &JournalEntry) -> Result<std::fs::File> {
        let mut bytes = Vec::new();
        log::encode_snapshot(entry, &mut bytes)?;
        let tmp = path.with_extension(format!("{}.tmp", log::LOG_EXT));
        let mut file = std::fs::File::create(&tmp).map_err(|e| io_error("write", &tmp, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("write", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_error("replace", path, e))?;
        // The rename itself lasts once the directory is flushed (where it can be opened).
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        use std::sync::atomic::Ordering;
        self.stats.snapshots.fetch_add(1, Ordering::Relaxed);
        self.stats
            .snapshot_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(file)
    }

    /// Removes the files earlier layouts kept for `entry`'s session (its whole-entry file,
    /// and the one named without the session), once its log holds it.
    fn remove_older_layouts(&self, entry: &JournalEntry) -> Result<()> {
        remove_file(&self.log_path(entry).with_extension(log::ENTRY_EXT))?;
        let legacy = self.legacy_path(&entry.platform, &entry.source.path);
        let same = std::fs::read(&legacy)
            .ok()
            .and_then(|b| serde_json::from_slice::<JournalEntry>(&b).ok())
            .is_some_and(|e| e.session.upload_id == entry.session.upload_id);
        if same {
            remove_file(&legacy)?;
        }
        Ok(())
    }

    /// Writes (atomically replaces) an entry: its session's log becomes one snapshot of it.
    /// Blocking: call it off the async runtime, or where a few milliseconds do not matter
    /// (journaled uploads write through a writer thread of their own).
    pub fn write(&self, entry: &JournalEntry) -> Result<()> {
        let mut entry = entry.clone();
        entry.updated_at_ms = crate::http::unix_millis();
        self.write_snapshot(&self.log_path(&entry), &entry)?;
        self.remove_older_layouts(&entry)
    }

    /// Writes (atomically replaces) the entry for a session and its receipts (nothing sending,
    /// completion not sent).
    pub fn record(
        &self,
        source: &SourceFingerprint,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<()> {
        let mut entry = JournalEntry::new(source, session, None);
        entry.receipts = receipts.to_vec();
        self.write(&entry)
    }

    /// The newest entry for `platform` and this source, if one exists and the file is
    /// unchanged (entries of any account or none).
    pub fn find(&self, platform: &str, source: &SourceFingerprint) -> Option<JournalEntry> {
        self.entries()
            .into_iter()
            .filter(|e| e.platform == platform && e.source.matches(source))
            .max_by_key(|e| e.updated_at_ms)
    }

    /// The newest entry of `account` (of `platform`) for this unchanged source: its own, or,
    /// when it [adopts](crate::AccountRef::adopts_unkeyed) them, one written before entries
    /// named their account.
    pub fn find_for(
        &self,
        platform: &str,
        account: &crate::AccountRef,
        source: &SourceFingerprint,
    ) -> Option<JournalEntry> {
        self.entries()
            .into_iter()
            .filter(|e| e.platform == platform && e.source.matches(source))
            .filter(|e| match &e.account {
                Some(identity) => *identity == account.identity,
                None => account.adopts_unkeyed,
            })
            .max_by_key(|e| e.updated_at_ms)
    }

    /// Forgets every entry for `platform` and this unchanged source.
    pub fn remove(&self, platform: &str, source: &SourceFingerprint) -> Result<()> {
        for entry in self.entries() {
            if entry.platform == platform && entry.source.matches(source) {
                self.remove_entry(&entry)?;
            }
        }
        Ok(())
    }

    /// Every readable entry, one per session (unreadable files are skipped): the logs,
    /// replayed, and the whole-entry files of the earlier format. A session found in both (a
    /// crash while its log replaced the older file) is the newer one.
    pub fn entries(&self) -> Vec<JournalEntry> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut sessions: std::collections::HashMap<SessionKey, JournalEntry> =
            std::collections::HashMap::new();
        for file in dir.flatten() {
            let path = file.path();
            let entry = match path.extension().and_then(|x| x.to_str()) {
                Some(log::LOG_EXT) => std::fs::read(&path)
                    .ok()
                    .and_then(|b| log::replay(&b))
                    .map(|(entry, _)| entry),
                Some(log::ENTRY_EXT) => std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok()),
                _ => None,
            };
            let Some(entry) = entry else { continue };
            match sessions.entry(key_of(&entry)) {
                std::collections::hash_map::Entry::Occupied(mut known) => {
                    if entry.updated_at_ms > known.get().updated_at_ms {
                        known.insert(entry);
                    }
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(entry);
                }
            }
        }
        sessions.into_values().collect()
    }

    /// Forgets an entry found through [`Journal::entries`].
    pub fn remove_entry(&self, entry: &JournalEntry) -> Result<()> {
        self.remove_session(
            &entry.platform,
            entry.account.as_deref(),
            &entry.source.path,
            &entry.session.upload_id,
        )
    }

    /// Forgets the entry of one session: its log, and the files of earlier layouts.
    fn remove_session(
        &self,
        platform: &str,
        account: Option<&str>,
        source: &Path,
        upload_id: &str,
    ) -> Result<()> {
        let path = self.entry_path(platform, account, source, upload_id);
        remove_file(&path)?;
        remove_file(&path.with_extension(log::ENTRY_EXT))?;
        // An entry of the earlier layout, for the same session.
        let legacy = self.legacy_path(platform, source);
        let same = std::fs::read(&legacy)
            .ok()
            .and_then(|b| serde_json::from_slice::<JournalEntry>(&b).ok())
            .is_some_and(|e| e.session.upload_id == upload_id);
        if same {
            remove_file(&legacy)?;
        }
        Ok(())
    }

    /// This journal with its writers held by `gate` before each batch.
    #[cfg(test)]
    fn gated(mut self, gate: impl Fn() + Send + Sync + 'static) -> Journal {
        self.gate = Some(Gate(std::sync::Arc::new(gate)));
        self
    }
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove", path, e)),
    }
}

/// The journal's view of the sessions of one upload: turns the driver's observations into
/// records for the writer, O(1) each (the session is copied only when it changed).
struct Recorder {
    writer: writer::Writer,
    source: SourceFingerprint,
    account: Option<String>,
    /// The session last recorded, per upload id.
    sessions: std::sync::Mutex<std::collections::HashMap<String, UploadSession>>,
}

impl Recorder {
    /// Starts the writer; a session resumed from `found` gets a fresh log of it (which
    /// replaces an earlier format's file, or a log a crash may have torn).
    fn start(
        journal: &Journal,
        source: SourceFingerprint,
        account: Option<String>,
        found: Option<&JournalEntry>,
    ) -> Result<Recorder> {
        let writer = writer::Writer::start(journal.clone())?;
        let mut sessions = std::collections::HashMap::new();
        if let Some(entry) = found {
            sessions.insert(entry.session.upload_id.clone(), entry.session.clone());
            writer.send(writer::Op::Open(Box::new(entry.clone())));
        }
        Ok(Recorder {
            writer,
            source,
            account,
            sessions: std::sync::Mutex::new(sessions),
        })
    }

    fn sessions(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, UploadSession>> {
        // Nothing panics under this lock; a poisoned one still holds consistent data.
        match self.sessions.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// The receipt observer: a session the journal does not know yet (a new one) gets a log.
    fn opened(&self, session: &UploadSession, receipts: &[PartReceipt]) {
        let mut sessions = self.sessions();
        if !sessions.contains_key(&session.upload_id) {
            sessions.insert(session.upload_id.clone(), session.clone());
            let mut entry = JournalEntry::new(&self.source, session, self.account.as_deref());
            entry.receipts = receipts.to_vec();
            self.writer.send(writer::Op::Open(Box::new(entry)));
        }
    }

    fn on_event(&self, session: &UploadSession, event: &SessionEvent) {
        let mut record = log::Record {
            at: crate::http::unix_millis(),
            ..log::Record::default()
        };
        match event {
            SessionEvent::Sending { part } => record.sending = Some(*part),
            SessionEvent::Acknowledged(receipt) => record.receipt = Some(receipt.clone()),
            SessionEvent::Committing => record.commit = Some(CommitState::Sent),
            SessionEvent::Committed(outcome) => {
                record.commit = Some(CommitState::Answered(outcome.clone()))
            }
            // The platform confirmed the session is gone (cancelled, or lost and replaced).
            SessionEvent::Cancelled | SessionEvent::Lost => {
                self.sessions().remove(&session.upload_id);
                self.writer.send(writer::Op::Remove {
                    upload_id: session.upload_id.clone(),
                    entry: None,
                    done: None,
                });
                return;
            }
        }
        let mut sessions = self.sessions();
        match sessions.get_mut(&session.upload_id) {
            None => {
                sessions.insert(session.upload_id.clone(), session.clone());
                let entry = JournalEntry::new(&self.source, session, self.account.as_deref());
                self.writer.send(writer::Op::Open(Box::new(entry)));
            }
            Some(known) if known != session => {
                *known = session.clone();
                record.session = Some(Box::new(session.clone()));
            }
            Some(_) => {}
        }
        self.writer.send(writer::Op::Append {
            upload_id: session.upload_id.clone(),
            record: Box::new(record),
        });
    }

    /// Until everything recorded so far is on disk.
    async fn written(&self) {
        self.writer.written().await;
    }

    /// Forgets a session once what was recorded before is written; `entry` names it when it
    /// was not recorded in this upload.
    async fn forget(&self, upload_id: &str, entry: Option<&JournalEntry>) -> Result<()> {
        self.sessions().remove(upload_id);
        let (done, answer) = tokio::sync::oneshot::channel();
        self.writer.send(writer::Op::Remove {
            upload_id: upload_id.to_owned(),
            entry: entry.map(|e| Box::new(e.clone())),
            done: Some(done),
        });
        answer.await.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Io,
                "journal: its writer stopped before forgetting a session",
            ))
        })
    }
}

// The journal sits above the driver: it wraps an upload with observers of its own and
// decides what to keep; the driver knows nothing of it.
impl crate::driver::UploadDriver {
    /// Uploads a prepared source with a journal: resumes the marketplace's journaled session
    /// for this unchanged file when there is one (sending only the missing parts, asking the
    /// platform first when the completion was sent but never answered), starts afresh when
    /// there is none, records the session at every step (a part sending, a part acknowledged,
    /// the completion), and forgets it only once the platform confirmed the asset (ready, or
    /// committed with an id it cannot name) or the cancel. An upload that failed, was
    /// stopped, or whose cancel did not reach the platform stays in the journal, resumable
    /// (and listed by `cleanup`); one still processing keeps its handle, so a rerun polls.
    ///
    /// The journal is read and written off the async runtime (the directory on the blocking
    /// pool, the records by a writer thread); what is on disk when is described on
    /// [`Journal`]. When this returns, everything is.
    pub async fn upload_journaled(
        &self,
        provider: &dyn crate::ChunkedVideoUploader,
        source: &crate::PreparedSource,
        journal: &Journal,
    ) -> Result<crate::UploadOutcome> {
        let platform = provider.rules().platform.clone();
        let mut fingerprint = SourceFingerprint::of(&source.probe.path)?;
        fingerprint.md5 = source.digests.md5_hex();
        let account = self.options().account.clone();
        let identity = account.as_ref().map(|a| a.identity.clone());
        let found = {
            let (journal, platform, fingerprint) =
                (journal.clone(), platform.clone(), fingerprint.clone());
            let account = account.clone();
            tokio::task::spawn_blocking(move || {
                find_adopting(&journal, &platform, account.as_ref(), &fingerprint)
            })
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("journal: the reading task failed: {e}"),
                )
            })??
        };
        let recorder = std::sync::Arc::new(Recorder::start(
            journal,
            fingerprint.clone(),
            identity.clone(),
            found.as_ref(),
        )?);
        let mut opts = self.options().clone();
        let previous = opts.on_receipt.take();
        let receipts: crate::driver::ReceiptObserver = {
            let recorder = std::sync::Arc::clone(&recorder);
            std::sync::Arc::new(move |session: &UploadSession, receipts: &[PartReceipt]| {
                recorder.opened(session, receipts);
                if let Some(cb) = &previous {
                    cb(session, receipts);
                }
            })
        };
        let previous_event = opts.on_event.take();
        let events: crate::driver::SessionObserver = {
            let recorder = std::sync::Arc::clone(&recorder);
            std::sync::Arc::new(move |session: &UploadSession, event: &SessionEvent| {
                recorder.on_event(session, event);
                if let Some(cb) = &previous_event {
                    cb(session, event);
                }
            })
        };
        let previous_durable = opts.durable.take();
        let durable: crate::driver::DurabilityBarrier = {
            let recorder = std::sync::Arc::clone(&recorder);
            std::sync::Arc::new(move || {
                let recorder = std::sync::Arc::clone(&recorder);
                let previous = previous_durable.clone();
                Box::pin(async move {
                    recorder.written().await;
                    if let Some(barrier) = previous {
                        barrier().await;
                    }
                })
            })
        };
        opts.on_receipt = Some(receipts);
        opts.on_event = Some(events);
        opts.durable = Some(durable);
        let driver = self.with_options(opts);

        let result = match found {
            Some(entry) => {
                tracing::info!(platform = %platform, parts = entry.receipts.len(), "resuming a journaled upload");
                let resume = ResumePoint {
                    receipts: entry.receipts.clone(),
                    sending: entry.sending.clone(),
                    commit: entry.commit.clone(),
                };
                match driver
                    .resume_from(provider, source, entry.session.clone(), resume)
                    .await
                {
                    // Sessions the platform lost are replaced inside the driver; an expired
                    // one that was never committed is gone too: start afresh.
                    Err(e) if e.kind() == ErrorKind::Expired && !entry.committed() => {
                        tracing::info!(platform = %platform, error = %e, "the journaled session is gone; starting afresh");
                        recorder
                            .forget(&entry.session.upload_id, Some(&entry))
                            .await?;
                        driver.upload_prepared(provider, source).await
                    }
                    other => other,
                }
            }
            None => driver.upload_prepared(provider, source).await,
        };
        if let Ok(outcome) = &result {
            let done = matches!(
                outcome.completion,
                Completion::Ready(_) | Completion::CommittedIdUnknown { .. }
            );
            if let (true, Some(session)) = (done, &outcome.session) {
                let mut entry = JournalEntry::new(&fingerprint, session, identity.as_deref());
                entry.platform.clone_from(&platform);
                recorder.forget(&session.upload_id, Some(&entry)).await?;
            }
        }
        recorder.written().await;
        result
    }
}

/// The newest entry of this upload's account (or of none) for the source; one written before
/// entries named their account, adopted, is rewritten under the account's identity.
/// Blocking: reads the journal's directory.
fn find_adopting(
    journal: &Journal,
    platform: &str,
    account: Option<&crate::AccountRef>,
    fingerprint: &SourceFingerprint,
) -> Result<Option<JournalEntry>> {
    let mut found = match account {
        Some(account) => journal.find_for(platform, account, fingerprint),
        None => journal.find(platform, fingerprint),
    };
    if let (Some(entry), Some(account)) = (found.as_mut(), account) {
        if entry.account.is_none() {
            let old = entry.clone();
            entry.account = Some(account.identity.clone());
            journal.write(entry)?;
            journal.remove_entry(&old)?;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
