//! What the simulator remembers: uploads, their blocks, videos, images, tokens, quota, counters.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::body::Bytes;
use serde::Serialize;

use super::LazadaSimConfig;

/// How a committed video ends its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum VideoOutcome {
    /// READY_FOR_TRANSCODE → TRANSCODING → READY_FOR_AUDIT → AUDIT_SUCCESS.
    #[default]
    AuditSuccess,
    /// READY_FOR_TRANSCODE → TRANSCODING → TRANSCODE_FAILED.
    TranscodeFailed,
    /// READY_FOR_TRANSCODE → TRANSCODING → READY_FOR_AUDIT → AUDIT_FAILED.
    AuditFailed,
}

/// A video's `state` as `/media/video/get` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VideoState {
    /// Committed, waiting for the transcoder.
    ReadyForTranscode,
    /// Being transcoded.
    Transcoding,
    /// Transcoding failed (terminal).
    TranscodeFailed,
    /// Transcoded, waiting for the audit.
    ReadyForAudit,
    /// The audit refused it (terminal).
    AuditFailed,
    /// Usable on products (terminal).
    AuditSuccess,
    /// Removed (terminal).
    Deleted,
}

impl VideoState {
    /// The wire spelling, e.g. `AUDIT_SUCCESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoState::ReadyForTranscode => "READY_FOR_TRANSCODE",
            VideoState::Transcoding => "TRANSCODING",
            VideoState::TranscodeFailed => "TRANSCODE_FAILED",
            VideoState::ReadyForAudit => "READY_FOR_AUDIT",
            VideoState::AuditFailed => "AUDIT_FAILED",
            VideoState::AuditSuccess => "AUDIT_SUCCESS",
            VideoState::Deleted => "DELETED",
        }
    }

    /// Whether the state no longer changes.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            VideoState::TranscodeFailed
                | VideoState::AuditFailed
                | VideoState::AuditSuccess
                | VideoState::Deleted
        )
    }

    /// Whether the transcoded file exists (and `video_url` is filled).
    pub fn has_video_url(self) -> bool {
        matches!(
            self,
            VideoState::ReadyForAudit | VideoState::AuditFailed | VideoState::AuditSuccess
        )
    }
}

/// One accepted `block/upload`, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedBlock {
    /// `blockNo` exactly as sent.
    pub block_no: String,
    /// `blockCount` exactly as sent.
    pub block_count: String,
    /// Bytes in the `file` field.
    pub size: usize,
    /// The `e_tag` answered (uppercase MD5 hex of the block).
    pub e_tag: String,
}

/// One entry of the commit's `parts` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitPart {
    /// `partNumber` (1-based on the wire).
    pub part_number: u64,
    /// `eTag` as sent.
    pub e_tag: String,
}

/// The parameters of the last `block/commit` of an upload whose `parts` parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitPayload {
    /// `parts` exactly as sent (a JSON string).
    pub parts_raw: String,
    /// `parts` parsed.
    pub parts: Vec<CommitPart>,
    /// `title`.
    pub title: String,
    /// `coverUrl`.
    pub cover_url: String,
    /// `videoUsage`, if sent.
    pub video_usage: Option<String>,
}

/// A snapshot of one upload session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadInfo {
    /// The `upload_id`.
    pub upload_id: String,
    /// `fileName` from block/create.
    pub file_name: String,
    /// `fileBytes` from block/create.
    pub file_bytes: u64,
    /// `blockCount` fixed by the first accepted block, if any.
    pub block_count: Option<u32>,
    /// Stored blocks: (blockNo, size), in blockNo order (a re-sent block replaces the old one).
    pub blocks: Vec<(u32, usize)>,
    /// The video created by a successful commit.
    pub video_id: Option<String>,
    /// Creation time on the sim clock (ms).
    pub created_at_ms: i64,
}

/// A snapshot of one video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoInfo {
    /// The `video_id`.
    pub video_id: String,
    /// The upload it was assembled from.
    pub upload_id: String,
    /// Its state now, on the sim clock.
    pub state: VideoState,
    /// `title` from the commit.
    pub title: String,
    /// `coverUrl` from the commit.
    pub cover_url: String,
    /// `videoUsage` from the commit (`pro_main_video` when absent).
    pub video_usage: String,
    /// Assembled size in bytes.
    pub size: u64,
}

/// How an image reached the simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ImageSource {
    /// `/image/upload`, with the file's size.
    Upload {
        /// Bytes received.
        size: usize,
    },
    /// `/image/migrate`, with the remote URL.
    Migrate {
        /// The `<Url>` of the payload.
        url: String,
    },
}

/// An image the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// `data.image.url` answered.
    pub url: String,
    /// `data.image.hash_code` answered.
    pub hash_code: String,
    /// Where it came from.
    pub source: ImageSource,
}

/// Running totals since the simulator was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LazadaCounters {
    /// Requests answered (any call, any outcome).
    pub requests: u64,
    /// Requests answered with an error.
    pub errors: u64,
    /// Uploads created.
    pub uploads_created: u64,
    /// Blocks accepted (re-sent blocks count again).
    pub blocks_accepted: u64,
    /// Bytes of accepted blocks.
    pub block_bytes_accepted: u64,
    /// Videos created by a commit.
    pub videos_committed: u64,
    /// Videos removed.
    pub videos_removed: u64,
    /// Images accepted (upload and migrate).
    pub images_accepted: u64,
}

#[derive(Debug)]
pub(crate) struct StoredBlock {
    pub bytes: Bytes,
    pub e_tag: String,
}

#[derive(Debug)]
pub(crate) struct Upload {
    pub file_name: String,
    pub file_bytes: u64,
    pub created_ms: i64,
    pub block_count: Option<u32>,
    pub blocks: BTreeMap<u32, StoredBlock>,
    pub received: Vec<ReceivedBlock>,
    pub last_commit: Option<CommitPayload>,
    pub video_id: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Video {
    pub upload_id: String,
    pub title: String,
    pub cover_url: String,
    pub video_usage: String,
    pub bytes: Bytes,
    pub committed_ms: i64,
    pub outcome: VideoOutcome,
    pub deleted: bool,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Video {
    pub fn state_at(&self, now_ms: i64, cfg: &LazadaSimConfig) -> VideoState {
        if self.deleted {
            return VideoState::Deleted;
        }
        let elapsed = now_ms.saturating_sub(self.committed_ms);
        let queued = millis(cfg.transcode_queue_delay);
        let transcoded = queued.saturating_add(millis(cfg.transcode_delay));
        let audited = transcoded.saturating_add(millis(cfg.audit_delay));
        if elapsed < queued {
            VideoState::ReadyForTranscode
        } else if elapsed < transcoded {
            VideoState::Transcoding
        } else if self.outcome == VideoOutcome::TranscodeFailed {
            VideoState::TranscodeFailed
        } else if elapsed < audited {
            VideoState::ReadyForAudit
        } else if self.outcome == VideoOutcome::AuditFailed {
            VideoState::AuditFailed
        } else {
            VideoState::AuditSuccess
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub uploads: HashMap<String, Upload>,
    pub videos: HashMap<String, Video>,
    pub images: Vec<ImageInfo>,
    /// access token → expiry (ms on the sim clock).
    pub tokens: HashMap<String, i64>,
    pub used_size: u64,
    pub next_video_id: u64,
    pub request_seq: u64,
    pub counters: LazadaCounters,
}
