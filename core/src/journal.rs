//! The resume journal: after every acknowledged part, the session and its receipts are
//! written to disk with the source's fingerprint, so an upload interrupted by a crash or a
//! kill resumes where it stopped instead of starting over.
//!
//! The journal is a directory of small JSON files, one per (marketplace, source), each
//! replaced atomically (write to a temporary file, flush it to disk, rename), so a crash
//! mid-write leaves the previous entry intact.

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

/// A directory of journal entries.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
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

impl Journal {
    /// Opens (creating it if needed) the journal in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Journal> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        Ok(Journal { dir })
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// One file per session: a source that changed, or a session that was replaced, keeps its
    /// own entry (for `cleanup`) instead of being overwritten. Entries of an account have the
    /// account's identity in the key (two shops uploading one file keep two files).
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
            "{}-{}-{}.json",
            safe_name(platform),
            hex::encode(key),
            &hex::encode(session)[..16]
        ))
    }

    /// The file name of entries written before sessions had files of their own.
    fn legacy_path(&self, platform: &str, source: &Path) -> PathBuf {
        let key = crate::digest::md5(source.to_string_lossy().as_bytes());
        self.dir
            .join(format!("{}-{}.json", safe_name(platform), hex::encode(key)))
    }

    /// Writes (atomically replaces) an entry.
    pub fn write(&self, entry: &JournalEntry) -> Result<()> {
        let mut entry = entry.clone();
        entry.updated_at_ms = crate::http::unix_millis();
        let path = self.entry_path(
            &entry.platform,
            entry.account.as_deref(),
            &entry.source.path,
            &entry.session.upload_id,
        );
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&entry)
            .map_err(|e| Error::new(ErrorKind::Io, format!("journal: cannot encode: {e}")))?;
        let mut file = std::fs::File::create(&tmp).map_err(|e| io_error("write", &tmp, e))?;
        file.write_all(&bytes)
            .and_then(|_| file.sync_all())
            .map_err(|e| io_error("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_error("replace", &path, e))
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

    /// Every readable entry (unreadable files are skipped).
    pub fn entries(&self) -> Vec<JournalEntry> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        dir.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
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

    /// Forgets the entry of one session.
    fn remove_session(
        &self,
        platform: &str,
        account: Option<&str>,
        source: &Path,
        upload_id: &str,
    ) -> Result<()> {
        let path = self.entry_path(platform, account, source, upload_id);
        remove_file(&path)?;
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
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove", path, e)),
    }
}

/// The journal's view of the sessions of one upload, written at every step.
struct Recorder {
    journal: Journal,
    source: SourceFingerprint,
    account: Option<String>,
    entries: std::sync::Mutex<std::collections::HashMap<String, JournalEntry>>,
}

impl Recorder {
    fn update(&self, session: &UploadSession, change: impl FnOnce(&mut JournalEntry) -> bool) {
        let mut entries = match self.entries.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        let entry = entries
            .entry(session.upload_id.clone())
            .or_insert_with(|| JournalEntry::new(&self.source, session, self.account.as_deref()));
        entry.session = session.clone();
        let keep = change(entry);
        let result = if keep {
            self.journal.write(entry)
        } else {
            let gone = entries.remove(&session.upload_id);
            match gone {
                Some(e) => self.journal.remove_entry(&e),
                None => Ok(()),
            }
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not write the resume journal");
        }
    }

    fn on_event(&self, session: &UploadSession, event: &SessionEvent) {
        match event {
            SessionEvent::Sending { part } => self.update(session, |e| {
                if !e.sending.contains(part) {
                    e.sending.push(*part);
                }
                true
            }),
            SessionEvent::Committing => self.update(session, |e| {
                if e.commit == CommitState::NotSent {
                    e.commit = CommitState::Sent;
                }
                true
            }),
            SessionEvent::Committed(outcome) => self.update(session, |e| {
                e.commit = CommitState::Answered(outcome.clone());
                true
            }),
            // The platform confirmed the session is gone (cancelled, or lost and replaced).
            SessionEvent::Cancelled | SessionEvent::Lost => self.update(session, |_| false),
        }
    }
}

// The journal sits above the driver: it wraps an upload with observers of its own and
// decides what to keep; the driver knows nothing of it.
impl crate::driver::UploadDriver {
    /// Uploads a prepared source with a journal: resumes the marketplace's journaled session
    /// for this unchanged file when there is one (sending only the missing parts, asking the
    /// platform first when the completion was sent but never answered), starts afresh when
    /// there is none, records the session after every acknowledged part and at every step of
    /// the completion, and forgets it only once the platform confirmed the asset (ready, or
    /// committed with an id it cannot name) or the cancel. An upload that failed, was
    /// stopped, or whose cancel did not reach the platform stays in the journal, resumable
    /// (and listed by `cleanup`); one still processing keeps its handle, so a rerun polls.
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
        let mut found = match &account {
            Some(account) => journal.find_for(&platform, account, &fingerprint),
            None => journal.find(&platform, &fingerprint),
        };
        // An entry written before accounts, adopted: rewritten under the account's identity.
        if let (Some(entry), Some(identity)) = (found.as_mut(), &identity) {
            if entry.account.is_none() {
                let old = entry.clone();
                entry.account = Some(identity.clone());
                journal.write(entry)?;
                journal.remove_entry(&old)?;
            }
        }
        let recorder = std::sync::Arc::new(Recorder {
            journal: journal.clone(),
            source: fingerprint.clone(),
            account: identity.clone(),
            entries: std::sync::Mutex::new(
                found
                    .iter()
                    .map(|e| (e.session.upload_id.clone(), e.clone()))
                    .collect(),
            ),
        });
        let mut opts = self.options().clone();
        let previous = opts.on_receipt.take();
        let receipts: crate::driver::ReceiptObserver = {
            let recorder = std::sync::Arc::clone(&recorder);
            std::sync::Arc::new(move |session: &UploadSession, receipts: &[PartReceipt]| {
                recorder.update(session, |e| {
                    e.receipts = receipts.to_vec();
                    true
                });
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
        opts.on_receipt = Some(receipts);
        opts.on_event = Some(events);
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
                        journal.remove_entry(&entry)?;
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
            if done {
                if let Some(session) = &outcome.session {
                    journal.remove_session(
                        &platform,
                        identity.as_deref(),
                        &fingerprint.path,
                        &session.upload_id,
                    )?;
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
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
}
