//! A provider's rules, described as data, so the driver and the conformance suite read them
//! instead of special-casing platform names.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How big the parts of an upload must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartSizeRule {
    /// Every part is exactly this size, except the last, which holds the remainder.
    Exact(u64),
    /// Any size in `min..=max` (the last part may be smaller than `min`); the driver starts from
    /// `preferred` and grows it when the file would otherwise need more than the part limit.
    Range {
        /// Smallest size of every part but the last.
        min: u64,
        /// Largest size of any part.
        max: u64,
        /// The size used unless the part limit forces a larger one.
        preferred: u64,
    },
}

/// The number the platform expects for the first part on the wire. The driver always works
/// with 0-based indexes; a provider maps them with [`NumberingBase::wire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NumberingBase {
    /// The first part is 0.
    Zero,
    /// The first part is 1.
    One,
}

impl NumberingBase {
    /// The wire number of the part with 0-based `index`.
    pub fn wire(self, index: u32) -> u32 {
        match self {
            NumberingBase::Zero => index,
            NumberingBase::One => index + 1,
        }
    }
}

/// Which digests of the source a provider needs before or while uploading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestNeeds {
    /// MD5 of the whole file (a platform whose init names the file's digest).
    pub file_md5: bool,
    /// MD5 of every part (a platform that checks each part's digest, or answers it as an
    /// eTag to compare).
    pub part_md5: bool,
    /// The instant-upload hashes (`beginningHash`, `fullHash`: a platform that takes a file
    /// it already holds by its hashes, without its bytes).
    pub instant_upload_hashes: bool,
    /// CRC-64/XZ (ECMA-182) of the whole file (a platform that confirms an upload by it).
    pub crc64: bool,
}

impl DigestNeeds {
    /// The union of two sets of needs.
    pub fn union(self, other: DigestNeeds) -> DigestNeeds {
        DigestNeeds {
            file_md5: self.file_md5 || other.file_md5,
            part_md5: self.part_md5 || other.part_md5,
            instant_upload_hashes: self.instant_upload_hashes || other.instant_upload_hashes,
            crc64: self.crc64 || other.crc64,
        }
    }
}

/// A range of video durations a platform accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationRange {
    /// Shortest accepted duration.
    pub min: Duration,
    /// Longest accepted duration.
    pub max: Duration,
}

/// Everything the driver and the conformance suite need to know about a provider's video
/// upload protocol.
///
/// Build it with [`UploadRules::new`], which takes what every platform must state (its name,
/// its part size rule and its largest file) and defaults the rest, then state only what
/// differs with struct update syntax, as OpenDAL's `Capability { ..Default::default() }`:
///
/// ```
/// use marketmedia_core::raw::{NumberingBase, PartSizeRule, UploadRules};
///
/// let rules = UploadRules {
///     part_numbering: NumberingBase::One,
///     async_processing: true,
///     ..UploadRules::new("example", PartSizeRule::Exact(4 << 20), 100 << 20)
/// };
/// assert_eq!(rules.max_parts, 10_000);
/// assert!(rules.concurrent_parts);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRules {
    /// Short platform name, used in errors, logs and reports: its marketplace's name
    /// (`marketmedia_core::Marketplace::name`).
    pub platform: String,
    /// Part size rule.
    pub part_size: PartSizeRule,
    /// Wire numbering of parts as sent with each part.
    pub part_numbering: NumberingBase,
    /// Wire numbering of parts in the completion call, when it lists parts.
    pub commit_numbering: Option<NumberingBase>,
    /// Smallest accepted file, in bytes.
    pub min_file_bytes: u64,
    /// Largest accepted file, in bytes.
    pub max_file_bytes: u64,
    /// Most parts one upload may have.
    pub max_parts: u32,
    /// Digests `init` or `put_part` need.
    pub digests: DigestNeeds,
    /// Whether parts may be sent concurrently.
    pub concurrent_parts: bool,
    /// Whether `commit` starts asynchronous processing that must be polled.
    pub async_processing: bool,
    /// Whether `init` may finish the upload at once (instant upload by hashes).
    pub instant_upload: bool,
    /// Whether the platform can list the parts it already holds (server-side resume).
    pub server_side_resume: bool,
    /// Accepted video duration, when the platform limits it.
    pub video_duration: Option<DurationRange>,
    /// Whether sessions carry an expiry that `renew` can push back.
    pub renewable_sessions: bool,
    /// Whether `cancel` asks the platform to drop the session, so that its `Ok` confirms the
    /// session is gone. `false` where the platform has no such call and `cancel` does nothing
    /// (no call abandons an upload): the journal then keeps a failed session resumable
    /// instead of forgetting it.
    pub remote_cancel: bool,
    /// The per-upload fields ([`crate::UploadMeta`]) every video needs on this platform
    /// (Lazada: `title` and `cover_url`). The driver refuses an upload missing one before
    /// any request; a batch checks a whole manifest against it before it starts. Default
    /// none.
    #[serde(default)]
    pub required_meta: Vec<crate::MetaField>,
}

/// Parts per upload when a platform states no limit of its own: COS's and S3's 10,000, the
/// most common published limit.
pub const DEFAULT_MAX_PARTS: u32 = 10_000;

impl UploadRules {
    /// Rules for `platform` with this part size rule and largest file, and the defaults of a
    /// plain chunked upload: parts numbered from 0 on the wire, no part list at commit, files
    /// of at least one byte, at most [`DEFAULT_MAX_PARTS`] parts, no digest, parts sent
    /// concurrently, ready at commit (no processing to poll), no instant upload, no
    /// server-side part listing, no duration limit, no renewable sessions, and a `cancel` that
    /// asks the platform.
    pub fn new(platform: impl Into<String>, part_size: PartSizeRule, max_file_bytes: u64) -> Self {
        UploadRules {
            platform: platform.into(),
            part_size,
            part_numbering: NumberingBase::Zero,
            commit_numbering: None,
            min_file_bytes: 1,
            max_file_bytes,
            max_parts: DEFAULT_MAX_PARTS,
            digests: DigestNeeds::default(),
            concurrent_parts: true,
            async_processing: false,
            instant_upload: false,
            server_side_resume: false,
            video_duration: None,
            renewable_sessions: false,
            remote_cancel: true,
            required_meta: Vec::new(),
        }
    }
}

impl UploadRules {
    /// Rules for a platform that takes each file whole, in one request (TikTok Shop's
    /// `files/upload`: one multipart request per file): one part as large as the file (any
    /// size up to `max_file_bytes`), at most one part, sent alone, no server-side part list
    /// (a failed request sends the whole file again: no resume within a file), and no call to
    /// abandon an upload (`remote_cancel = false`). `init` opens no session on the platform
    /// and `commit` sends nothing: the part's answer is the asset. The rest as
    /// [`UploadRules::new`]; state what differs with struct update syntax.
    ///
    /// ```
    /// use marketmedia_core::raw::{PartPlan, UploadRules};
    ///
    /// let rules = UploadRules::one_request("example", 100 << 20);
    /// let plan = PartPlan::new(42 << 20, &rules, None)?;
    /// assert_eq!(plan.count(), 1);
    /// assert_eq!(plan.part(0).map(|p| p.len), Some(42 << 20));
    /// assert!(rules.is_one_request() && !rules.concurrent_parts);
    /// # Ok::<(), marketmedia_core::Error>(())
    /// ```
    pub fn one_request(platform: impl Into<String>, max_file_bytes: u64) -> Self {
        let max = max_file_bytes.max(1);
        UploadRules {
            max_parts: 1,
            concurrent_parts: false,
            remote_cancel: false,
            ..UploadRules::new(
                platform,
                PartSizeRule::Range {
                    min: 1,
                    max,
                    preferred: max,
                },
                max,
            )
        }
    }

    /// Whether every file goes in one request ([`UploadRules::one_request`]): at most one part.
    pub fn is_one_request(&self) -> bool {
        self.max_parts == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Some platforms count blocks from 0, others parts from 1: the driver's 0-based index
    /// maps to both.
    /// A fan-out hashes once for every provider: the union keeps each need of either side.
    #[test]
    fn digest_needs_union_keeps_every_need() {
        let file_and_parts = DigestNeeds {
            file_md5: true,
            part_md5: true,
            ..DigestNeeds::default()
        };
        let instant_and_crc = DigestNeeds {
            instant_upload_hashes: true,
            crc64: true,
            ..DigestNeeds::default()
        };
        let all = DigestNeeds {
            file_md5: true,
            part_md5: true,
            instant_upload_hashes: true,
            crc64: true,
        };
        assert_eq!(file_and_parts.union(instant_and_crc), all);
        assert_eq!(instant_and_crc.union(file_and_parts), all);
        assert_eq!(file_and_parts.union(DigestNeeds::default()), file_and_parts);
        assert_eq!(
            DigestNeeds::default().union(instant_and_crc),
            instant_and_crc
        );
    }

    #[test]
    fn wire_numbers_follow_the_base() {
        assert_eq!(NumberingBase::Zero.wire(0), 0);
        assert_eq!(NumberingBase::Zero.wire(7), 7);
        assert_eq!(NumberingBase::One.wire(0), 1);
        assert_eq!(NumberingBase::One.wire(7), 8);
    }

    #[test]
    fn new_states_the_required_and_defaults_the_rest() {
        let r = UploadRules::new("p", PartSizeRule::Exact(10), 1000);
        assert_eq!(r.platform, "p");
        assert_eq!(r.part_size, PartSizeRule::Exact(10));
        assert_eq!(r.max_file_bytes, 1000);
        assert_eq!(r.min_file_bytes, 1);
        assert_eq!(r.max_parts, DEFAULT_MAX_PARTS);
        assert_eq!(r.part_numbering, NumberingBase::Zero);
        assert_eq!(r.commit_numbering, None);
        assert_eq!(r.digests, DigestNeeds::default());
        assert!(r.concurrent_parts);
        assert!(!r.async_processing && !r.instant_upload && !r.server_side_resume);
        assert!(!r.renewable_sessions);
        assert_eq!(r.video_duration, None);
    }
}
