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

/// One journal entry: a marketplace session for a source, with the parts acknowledged so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Platform name.
    pub platform: String,
    /// The source.
    pub source: SourceFingerprint,
    /// The session (plain data; no upload credentials — providers keep those out).
    pub session: UploadSession,
    /// Receipts of the acknowledged parts.
    pub receipts: Vec<PartReceipt>,
    /// When the entry was last written (Unix milliseconds).
    pub updated_at_ms: u64,
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

    fn entry_path(&self, platform: &str, source: &SourceFingerprint) -> PathBuf {
        let key = crate::digest::md5(source.path.to_string_lossy().as_bytes());
        let safe: String = platform
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        self.dir.join(format!("{safe}-{}.json", hex::encode(key)))
    }

    /// Writes (atomically replaces) the entry for a session and its receipts.
    pub fn record(
        &self,
        source: &SourceFingerprint,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<()> {
        let entry = JournalEntry {
            platform: session.platform.clone(),
            source: source.clone(),
            session: session.clone(),
            receipts: receipts.to_vec(),
            updated_at_ms: crate::http::unix_millis(),
        };
        let path = self.entry_path(&entry.platform, source);
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&entry)
            .map_err(|e| Error::new(ErrorKind::Io, format!("journal: cannot encode: {e}")))?;
        let mut file = std::fs::File::create(&tmp).map_err(|e| io_error("write", &tmp, e))?;
        file.write_all(&bytes)
            .and_then(|_| file.sync_all())
            .map_err(|e| io_error("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_error("replace", &path, e))
    }

    /// The entry for `platform` and this source, if one exists and the file is unchanged.
    pub fn find(&self, platform: &str, source: &SourceFingerprint) -> Option<JournalEntry> {
        let path = self.entry_path(platform, source);
        let bytes = std::fs::read(&path).ok()?;
        let entry: JournalEntry = serde_json::from_slice(&bytes).ok()?;
        (entry.platform == platform && entry.source.matches(source)).then_some(entry)
    }

    /// Forgets the entry for `platform` and this source.
    pub fn remove(&self, platform: &str, source: &SourceFingerprint) -> Result<()> {
        let path = self.entry_path(platform, source);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &path, e)),
        }
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
        self.remove(&entry.platform, &entry.source)
    }
}

// The journal sits above the driver: it wraps an upload with an observer of its own and
// decides what to keep; the driver knows nothing of it.
impl crate::driver::UploadDriver {
    /// Uploads a prepared source with a journal: resumes the marketplace's journaled session
    /// for this unchanged file when there is one (sending only the missing parts), starts
    /// afresh when there is none or the platform forgot it, records the session after every
    /// acknowledged part, and forgets it once the upload is done or cancelled. An upload that
    /// failed without being cancelled stays in the journal, resumable.
    pub async fn upload_journaled(
        &self,
        provider: &dyn crate::ChunkedVideoUploader,
        source: &crate::PreparedSource,
        journal: &Journal,
    ) -> Result<crate::UploadOutcome> {
        let platform = provider.rules().platform.clone();
        let mut fingerprint = SourceFingerprint::of(&source.probe.path)?;
        fingerprint.md5 = source.digests.md5_hex();
        let mut opts = self.options().clone();
        let previous = opts.on_receipt.take();
        let observer: crate::driver::ReceiptObserver = {
            let journal = journal.clone();
            let fingerprint = fingerprint.clone();
            std::sync::Arc::new(move |session: &UploadSession, receipts: &[PartReceipt]| {
                if let Err(err) = journal.record(&fingerprint, session, receipts) {
                    tracing::warn!(error = %err, "could not write the resume journal");
                }
                if let Some(cb) = &previous {
                    cb(session, receipts);
                }
            })
        };
        opts.on_receipt = Some(observer);
        let cancel_on_failure = opts.cancel_on_failure;
        let driver = self.with_options(opts);

        let result = match journal.find(&platform, &fingerprint) {
            Some(entry) => {
                tracing::info!(platform = %platform, parts = entry.receipts.len(), "resuming a journaled upload");
                match driver
                    .resume(provider, source, entry.session, entry.receipts)
                    .await
                {
                    Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Expired) => {
                        tracing::info!(platform = %platform, error = %e, "the journaled session is gone; starting afresh");
                        journal.remove(&platform, &fingerprint)?;
                        driver.upload_prepared(provider, source).await
                    }
                    other => other,
                }
            }
            None => driver.upload_prepared(provider, source).await,
        };
        if result.is_ok() || cancel_on_failure {
            journal.remove(&platform, &fingerprint)?;
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
