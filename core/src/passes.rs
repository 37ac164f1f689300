//! Digest passes shared by the uploads of one file.
//!
//! A catalog sends one video to several accounts, each through its own task, and each
//! platform wants its own digests before `init` (Shopee the file's MD5 and its parts' MD5s,
//! SMH the SHA-256 chain and the CRC-64). Fan-out ([`crate::UploadDriver::upload_to_all`])
//! reads the file once for all of them because it starts them together; tasks start apart.
//! [`DigestPasses`] gives them the same single read: the first upload of a file starts one
//! pass computing what it needs **and** what the other uploads this worker may send the same
//! file to will need (its *companions*, [`DigestPasses::with_companions`]); the others, in
//! flight at the same moment or minutes later, take that pass's result instead of reading the
//! file again. An upload asking for a digest the pass did not compute (a companion it did not
//! know of, or a pass evicted since) runs a pass of its own, as it would alone.
//!
//! A pass is keyed by the file's path, size and modification time: a file rewritten between
//! two uploads is read again. At most `capacity` passes are kept (the oldest go first); each
//! holds only digests (a few hundred bytes, plus 16 bytes per part for part MD5s), never file
//! contents.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::digest::{digest_file_async, DigestRequest, Digests};
use crate::error::{Error, ErrorKind, Result};
use crate::rules::UploadRules;
use crate::source::{digest_request, merge_requests, PreparedSource, SourceProbe};

/// The default number of passes kept: far more than the files a worker has in flight.
pub const DEFAULT_PASSES_KEPT: usize = 1024;

type Pass = Shared<BoxFuture<'static, std::result::Result<Digests, Arc<Error>>>>;

/// The file a pass read: the same path, size and modification time are the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileKey {
    path: PathBuf,
    size: u64,
    modified: Option<SystemTime>,
}

struct Entry {
    covers: DigestRequest,
    pass: Pass,
}

#[derive(Default)]
struct Kept {
    entries: HashMap<FileKey, Entry>,
    /// The kept keys, oldest first, each once.
    order: VecDeque<FileKey>,
}

/// What the passes did, for measurements and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassCounts {
    /// Passes over a file started (each one read of the file).
    pub passes: u64,
    /// Requests served by a pass another upload had started.
    pub shared: u64,
}

/// Digest passes shared by the uploads of one file (see the [module docs](self)).
///
/// ```
/// # use marketmedia_core::raw::UploadRules;
/// # async fn run(probe: marketmedia_core::SourceProbe,
/// #              shopee: UploadRules,
/// #              smh: UploadRules) -> marketmedia_core::Result<()> {
/// use marketmedia_core::{digest_request, DigestPasses};
/// let passes = DigestPasses::default().with_companions(vec![shopee.clone(), smh], None);
/// let plan = probe.plan(&shopee, None)?;
/// // Reads the file once for Shopee's digests and SMH's; an SMH upload of the same file
/// // asking next reads nothing.
/// let prepared = passes.prepare(&probe, &digest_request(&shopee, &plan)).await?;
/// # let _ = prepared; Ok(()) }
/// ```
pub struct DigestPasses {
    capacity: usize,
    companions: Vec<UploadRules>,
    part_size: Option<u64>,
    kept: Mutex<Kept>,
    passes: AtomicU64,
    shared: AtomicU64,
}

impl Default for DigestPasses {
    fn default() -> Self {
        DigestPasses::new(DEFAULT_PASSES_KEPT)
    }
}

impl std::fmt::Debug for DigestPasses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestPasses")
            .field("capacity", &self.capacity)
            .field("companions", &self.companions.len())
            .field("counts", &self.counts())
            .finish()
    }
}

impl DigestPasses {
    /// Passes with no companions, keeping at most `capacity` (at least 1).
    pub fn new(capacity: usize) -> Self {
        DigestPasses {
            capacity: capacity.max(1),
            companions: Vec::new(),
            part_size: None,
            kept: Mutex::new(Kept::default()),
            passes: AtomicU64::new(0),
            shared: AtomicU64::new(0),
        }
    }

    /// The rules of every provider an upload of the same file may go to, and the part size
    /// the uploads use (`None`: each provider's default). A pass computes, besides what its
    /// first upload asks, what each companion whose rules accept the file will ask.
    pub fn with_companions(mut self, rules: Vec<UploadRules>, part_size: Option<u64>) -> Self {
        self.companions = rules;
        self.part_size = part_size;
        self
    }

    /// Passes started and requests shared so far.
    pub fn counts(&self) -> PassCounts {
        PassCounts {
            passes: self.passes.load(Ordering::Relaxed),
            shared: self.shared.load(Ordering::Relaxed),
        }
    }

    /// `probe`'s file with at least the digests `request` asks: from a pass of the same
    /// unchanged file that computes them (running or finished), or from a new pass that also
    /// computes what the companions will ask. No read at all when `request` is empty.
    pub async fn prepare(
        &self,
        probe: &SourceProbe,
        request: &DigestRequest,
    ) -> Result<PreparedSource> {
        if request.is_empty() {
            return Ok(PreparedSource::undigested(probe.clone()));
        }
        let meta = tokio::fs::metadata(&probe.path).await.map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read {}: {e}", probe.path.display()),
            )
            .with_source(e)
        })?;
        let key = FileKey {
            path: probe.path.clone(),
            size: meta.len(),
            modified: meta.modified().ok(),
        };
        if key.size != probe.size {
            return Err(Error::new(
                ErrorKind::Io,
                format!("{} changed since it was probed", probe.path.display()),
            ));
        }
        let pass = self.pass_for(&key, probe, request);
        let digests = match pass.await {
            Ok(d) => d,
            Err(e) => {
                // A failed pass is not kept: the next upload reads again.
                self.forget(&key);
                return Err(e.detached());
            }
        };
        if digests.size != probe.size {
            self.forget(&key);
            return Err(Error::new(
                ErrorKind::Io,
                format!("{} changed while it was read", probe.path.display()),
            ));
        }
        Ok(PreparedSource {
            probe: probe.clone(),
            digests,
        })
    }

    /// The pass serving `request` for `key`: a kept one that covers it, or a new one.
    fn pass_for(&self, key: &FileKey, probe: &SourceProbe, request: &DigestRequest) -> Pass {
        let mut kept = self.lock();
        if let Some(entry) = kept.entries.get(key) {
            if covers(&entry.covers, request) {
                self.shared.fetch_add(1, Ordering::Relaxed);
                return entry.pass.clone();
            }
        }
        // What this upload asks, what the companions will ask, and what a kept pass of this
        // file already computed (so the new pass replaces it without losing anything).
        let mut wanted: Vec<DigestRequest> = vec![request.clone()];
        for rules in &self.companions {
            if probe.check(rules).is_err() {
                continue;
            }
            if let Ok(plan) = probe.plan(rules, self.part_size) {
                wanted.push(digest_request(rules, &plan));
            }
        }
        if let Some(entry) = kept.entries.get(key) {
            wanted.push(entry.covers.clone());
        }
        let covers = merge_requests(wanted.iter());
        let pass: Pass = {
            let (path, covers) = (key.path.clone(), covers.clone());
            async move { digest_file_async(&path, &covers).await.map_err(Arc::new) }
                .boxed()
                .shared()
        };
        self.passes.fetch_add(1, Ordering::Relaxed);
        // A replaced pass's key moves to the newest place: the order holds each key once.
        if kept
            .entries
            .insert(
                key.clone(),
                Entry {
                    covers,
                    pass: pass.clone(),
                },
            )
            .is_some()
        {
            kept.order.retain(|k| k != key);
        }
        kept.order.push_back(key.clone());
        while kept.entries.len() > self.capacity {
            let Some(oldest) = kept.order.pop_front() else {
                break;
            };
            kept.entries.remove(&oldest);
        }
        pass
    }

    fn forget(&self, key: &FileKey) {
        let mut kept = self.lock();
        kept.entries.remove(key);
        kept.order.retain(|k| k != key);
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        // The map holds no invariant a panic elsewhere could break half-way.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a pass computing `have` serves `want`.
fn covers(have: &DigestRequest, want: &DigestRequest) -> bool {
    (have.file_md5 || !want.file_md5)
        && (have.instant_upload_hashes || !want.instant_upload_hashes)
        && (have.crc64 || !want.crc64)
        && want
            .part_md5_sizes
            .iter()
            .all(|s| have.part_md5_sizes.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::digest_file;
    use std::io::Write;

    fn video(dir: &std::path::Path, name: &str, size: usize, seed: u8) -> PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        // An MP4's `ftyp` so the probe sees a video; the rest is patterned bytes.
        let mut data = vec![0u8; size];
        data[..12].copy_from_slice(b"\0\0\0\x0cftypisom");
        for (i, b) in data.iter_mut().enumerate().skip(12) {
            *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
        }
        f.write_all(&data).unwrap();
        path
    }

    fn md5_only() -> DigestRequest {
        DigestRequest {
            file_md5: true,
            ..DigestRequest::default()
        }
    }

    fn sha_crc() -> DigestRequest {
        DigestRequest {
            instant_upload_hashes: true,
            crc64: true,
            ..DigestRequest::default()
        }
    }

    fn rules(name: &str, md5: bool, sha_crc: bool) -> UploadRules {
        let mut r = UploadRules::new(name, crate::rules::PartSizeRule::Exact(1 << 20), 100 << 20);
        r.digests.file_md5 = md5;
        r.digests.instant_upload_hashes = sha_crc;
        r.digests.crc64 = sha_crc;
        r
    }

    #[tokio::test]
    async fn uploads_of_one_file_share_one_pass_and_get_the_same_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = video(dir.path(), "a.mp4", 3 << 20, 1);
        let probe = SourceProbe::open(&path).await.unwrap();
        let companions = vec![
            rules("md5-like", true, false),
            rules("sha-like", false, true),
        ];
        let passes = DigestPasses::new(8).with_companions(companions, None);
        // Started together, asking different digests: one pass, whichever asks first.
        let (md5, sha) = (md5_only(), sha_crc());
        let (a, b) = tokio::join!(passes.prepare(&probe, &md5), passes.prepare(&probe, &sha));
        let (a, b) = (a.unwrap(), b.unwrap());
        // Apart: still the kept pass.
        let c = passes.prepare(&probe, &sha_crc()).await.unwrap();
        assert_eq!(
            passes.counts(),
            PassCounts {
                passes: 1,
                shared: 2
            }
        );
        let expected = digest_file(&path, &merge_requests([&md5, &sha])).unwrap();
        assert_eq!(a.digests.md5, expected.md5);
        assert_eq!(b.digests.instant, expected.instant);
        assert_eq!(c.digests, expected);
    }

    #[tokio::test]
    async fn a_request_the_pass_did_not_cover_reads_again_unless_a_companion_asked_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = video(dir.path(), "a.mp4", 1 << 20, 2);
        let probe = SourceProbe::open(&path).await.unwrap();
        let alone = DigestPasses::new(8);
        alone.prepare(&probe, &md5_only()).await.unwrap();
        alone.prepare(&probe, &sha_crc()).await.unwrap();
        assert_eq!(
            alone.counts().passes,
            2,
            "no companion: the second reads again"
        );
        // The second pass replaced the first: one entry, its key once in the order.
        {
            let kept = alone.lock();
            assert_eq!((kept.entries.len(), kept.order.len()), (1, 1));
        }
        // The second pass computed both: asking either again reads nothing.
        alone.prepare(&probe, &md5_only()).await.unwrap();
        assert_eq!(alone.counts().passes, 2);

        // An SMH-like companion: the first pass computes its digests too.
        let smh = rules("smh-like", false, true);
        let with = DigestPasses::new(8).with_companions(vec![smh], None);
        with.prepare(&probe, &md5_only()).await.unwrap();
        let later = with.prepare(&probe, &sha_crc()).await.unwrap();
        assert_eq!(
            with.counts(),
            PassCounts {
                passes: 1,
                shared: 1
            }
        );
        assert_eq!(
            later.digests.crc64,
            digest_file(&path, &sha_crc()).unwrap().crc64
        );
    }

    #[tokio::test]
    async fn a_rewritten_file_is_read_again_and_a_changed_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = video(dir.path(), "a.mp4", 1 << 20, 3);
        let probe = SourceProbe::open(&path).await.unwrap();
        let passes = DigestPasses::new(8);
        let first = passes.prepare(&probe, &md5_only()).await.unwrap();
        // Same size, new bytes, a later modification time.
        std::thread::sleep(std::time::Duration::from_millis(20));
        video(dir.path(), "a.mp4", 1 << 20, 4);
        let second = passes.prepare(&probe, &md5_only()).await.unwrap();
        assert_eq!(passes.counts().passes, 2);
        assert_ne!(first.digests.md5, second.digests.md5);
        // The probe said 1 MiB; the file is now 2 MiB.
        video(dir.path(), "a.mp4", 2 << 20, 4);
        let err = passes.prepare(&probe, &md5_only()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("changed"), "{err}");
    }

    #[tokio::test]
    async fn at_most_capacity_passes_are_kept_and_nothing_is_read_for_an_empty_request() {
        let dir = tempfile::tempdir().unwrap();
        let passes = DigestPasses::new(2);
        let mut probes = Vec::new();
        for i in 0..5u8 {
            let path = video(dir.path(), &format!("{i}.mp4"), 64 << 10, i);
            let probe = SourceProbe::open(&path).await.unwrap();
            passes.prepare(&probe, &md5_only()).await.unwrap();
            probes.push(probe);
        }
        assert_eq!(passes.lock().entries.len(), 2);
        assert_eq!(passes.lock().order.len(), 2);
        // The newest is kept, the oldest was dropped.
        passes.prepare(&probes[4], &md5_only()).await.unwrap();
        assert_eq!(passes.counts().passes, 5);
        passes.prepare(&probes[0], &md5_only()).await.unwrap();
        assert_eq!(passes.counts().passes, 6);
        let none = passes
            .prepare(&probes[1], &DigestRequest::default())
            .await
            .unwrap();
        assert_eq!(none.digests.md5, None);
        assert_eq!(passes.counts().passes, 6);
    }

    #[tokio::test]
    async fn a_failed_pass_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = video(dir.path(), "a.mp4", 64 << 10, 5);
        let probe = SourceProbe::open(&path).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let passes = DigestPasses::new(8);
        assert!(passes.prepare(&probe, &md5_only()).await.is_err());
        assert!(passes.lock().entries.is_empty());
    }
}
