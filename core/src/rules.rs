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
    /// MD5 of the whole file (Shopee's `file_md5`).
    pub file_md5: bool,
    /// MD5 of every part (Shopee's `content_md5`; Lazada's eTag check).
    pub part_md5: bool,
    /// SMH instant-upload hashes (`beginningHash`, `fullHash`).
    pub instant_upload_hashes: bool,
    /// CRC-64/XZ (ECMA-182) of the whole file (SMH confirm).
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRules {
    /// Short platform name, used in errors, logs and reports (e.g. `shopee`).
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
}
