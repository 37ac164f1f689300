//! The provider trait and the plain values that cross it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::digest::Digests;
use crate::error::{Error, ErrorKind, Result};
use crate::media::MediaFormat;
use crate::plan::PartPlan;
use crate::rules::UploadRules;

/// What a provider learns about the source before `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// File name (no directories), as the platform will show it.
    pub file_name: String,
    /// Size in bytes.
    pub size: u64,
    /// Container or image format, by magic bytes.
    pub format: MediaFormat,
    /// Video duration, when the source is a video the probe could read.
    pub duration: Option<Duration>,
    /// The digests computed in the one pass over the source.
    pub digests: Digests,
    /// The upload's own fields (title, cover, usage, where it goes), as the caller gave them
    /// ([`crate::UploadDriver::with_meta`]); `file_name` above already holds
    /// [`crate::MetaField::FileName`] when one was given. Checked against
    /// [`UploadRules::required_meta`] before `preflight`.
    #[serde(default)]
    pub meta: crate::UploadMeta,
}

/// An upload session on a platform: plain data, so it can be persisted and resumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadSession {
    /// Platform name.
    pub platform: String,
    /// The platform's upload id (Shopee `video_upload_id`, Lazada `upload_id`, SMH confirm key).
    pub upload_id: String,
    /// The part plan the session was opened with.
    pub plan: PartPlan,
    /// When the session's upload credentials expire (Unix seconds), if they do.
    pub expires_at: Option<u64>,
    /// When the session was opened (Unix milliseconds).
    pub started_at_ms: u64,
    /// Provider-specific data (presigned headers, file name…).
    pub data: serde_json::Value,
}

/// What the platform acknowledged for one part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartReceipt {
    /// 0-based index of the part in the plan.
    pub index: u32,
    /// The part number as sent on the wire.
    pub wire_number: u32,
    /// Bytes in the part.
    pub size: u64,
    /// The platform's tag for the part (Lazada `e_tag`, COS `ETag`), when it returns one.
    pub etag: Option<String>,
}

/// Called with the number of bytes that just went out for a part.
pub type SentCallback = Arc<dyn Fn(u64) + Send + Sync>;

/// Where a part's bytes are.
#[derive(Clone)]
enum PartBytes {
    /// Held in memory (parts built by hand: tests, the conformance suite).
    Memory(Bytes),
    /// A range of the source file, read in chunks while the request body is sent (the
    /// driver's parts: memory stays independent of the part size).
    File(Arc<std::fs::File>),
}

/// One part to send: its place in the plan, where its bytes are (in memory, or a range of the
/// source file streamed from disk in pooled chunks) and its MD5 when the provider's rules ask
/// for part digests. Cloning is cheap: the bytes or the file are shared, never copied.
#[derive(Clone)]
pub struct Part {
    /// 0-based index in the plan.
    pub index: u32,
    /// Byte offset in the source.
    pub offset: u64,
    /// MD5 of the part's bytes, when the rules ask for part MD5s (the driver always sets it
    /// then).
    pub md5: Option<[u8; 16]>,
    len: u64,
    bytes: PartBytes,
    on_sent: Option<SentCallback>,
}

impl Part {
    /// A part whose bytes are in memory, with no progress reporting.
    pub fn new(index: u32, offset: u64, data: Bytes, md5: Option<[u8; 16]>) -> Self {
        Part {
            index,
            offset,
            md5,
            len: data.len() as u64,
            bytes: PartBytes::Memory(data),
            on_sent: None,
        }
    }

    /// A part that is `len` bytes of `file` from `offset`, read from the file each time its
    /// body is sent (see [`crate::chunks`]).
    pub fn from_file(
        index: u32,
        file: Arc<std::fs::File>,
        offset: u64,
        len: u64,
        md5: Option<[u8; 16]>,
    ) -> Self {
        Part {
            index,
            offset,
            md5,
            len,
            bytes: PartBytes::File(file),
            on_sent: None,
        }
    }

    /// Reports bytes of this part as they go out (used by [`crate::http::part_body`]).
    pub fn with_sent_callback(mut self, on_sent: SentCallback) -> Self {
        self.on_sent = Some(on_sent);
        self
    }

    /// Notes that `n` more bytes of this part were handed to the network.
    pub fn report_sent(&self, n: u64) {
        if let Some(cb) = &self.on_sent {
            cb(n);
        }
    }

    /// Length of the part.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the part is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The part's bytes when they are held in memory; `None` for a part read from the file.
    pub fn in_memory(&self) -> Option<&Bytes> {
        match &self.bytes {
            PartBytes::Memory(b) => Some(b),
            PartBytes::File(_) => None,
        }
    }

    /// The part's bytes as a stream of chunks: slices of the bytes in memory, or chunks read
    /// from the file one ahead of the consumer (needs a Tokio runtime). Nothing is reported
    /// as sent: [`crate::http::part_body`] does that.
    pub fn chunks(&self) -> futures::stream::BoxStream<'static, std::io::Result<Bytes>> {
        use futures::StreamExt;
        match &self.bytes {
            PartBytes::Memory(data) => {
                const SLICE: usize = 64 * 1024;
                let data = data.clone();
                let len = data.len();
                futures::stream::iter((0..len).step_by(SLICE).map(move |start| {
                    Ok::<Bytes, std::io::Error>(data.slice(start..(start + SLICE).min(len)))
                }))
                .boxed()
            }
            PartBytes::File(file) => {
                crate::chunks::file_chunks(Arc::clone(file), self.offset, self.len).boxed()
            }
        }
    }

    /// The whole part in memory: a clone of in-memory bytes, or a read of the file range on
    /// the blocking pool. For callers that need the bytes at once (a provider whose platform
    /// wants a buffered body, a test); the driver's providers stream [`Part::chunks`].
    pub async fn read_all(&self) -> Result<Bytes> {
        match &self.bytes {
            PartBytes::Memory(b) => Ok(b.clone()),
            PartBytes::File(file) => {
                let (file, offset, len) = (Arc::clone(file), self.offset, self.len);
                tokio::task::spawn_blocking(move || crate::chunks::read_range(&file, offset, len))
                    .await
                    .map_err(|e| Error::new(ErrorKind::Io, format!("the read task failed: {e}")))?
                    .map_err(Error::from)
            }
        }
    }

    /// MD5 of the part as lowercase hex. The driver sets [`Part::md5`] for every provider
    /// whose rules ask for part MD5s; otherwise it is computed here (for a part read from the
    /// file, by reading it on the blocking pool).
    pub async fn md5_hex(&self) -> Result<String> {
        if let Some(m) = self.md5 {
            return Ok(hex::encode(m));
        }
        match &self.bytes {
            PartBytes::Memory(b) => Ok(hex::encode(crate::digest::md5(b))),
            PartBytes::File(file) => {
                let (file, offset, len) = (Arc::clone(file), self.offset, self.len);
                let digest = tokio::task::spawn_blocking(move || {
                    crate::chunks::md5_of_range(&file, offset, len)
                })
                .await
                .map_err(|e| Error::new(ErrorKind::Io, format!("the hashing task failed: {e}")))?
                .map_err(Error::from)?;
                Ok(hex::encode(digest))
            }
        }
    }
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part")
            .field("index", &self.index)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field(
                "from",
                &match self.bytes {
                    PartBytes::Memory(_) => "memory",
                    PartBytes::File(_) => "file",
                },
            )
            .finish()
    }
}

/// A URL of an uploaded asset, per region where the platform serves several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetUrl {
    /// Region code, when the platform gives one.
    pub region: Option<String>,
    /// The URL.
    pub url: String,
}

/// An uploaded, usable asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// Platform name.
    pub platform: String,
    /// The id to attach to products (Shopee `video_upload_id`, Lazada `video_id`, SMH path).
    pub id: String,
    /// Where the asset can be fetched.
    pub urls: Vec<AssetUrl>,
    /// Thumbnails or cover images.
    pub thumbnails: Vec<AssetUrl>,
    /// Duration, for videos, when the platform reports it.
    pub duration: Option<Duration>,
    /// Size in bytes, when the platform reports it.
    pub size: Option<u64>,
    /// Other platform facts (eTag, crc64, state…), as the platform named them.
    pub details: serde_json::Value,
}

/// What `init` produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InitOutcome {
    /// Parts must be uploaded into this session.
    Session(UploadSession),
    /// The platform already has the file (instant upload): nothing to send.
    Done(Asset),
}

/// What to poll for an asset being processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingHandle {
    /// Platform name.
    pub platform: String,
    /// The id to poll.
    pub id: String,
    /// Provider-specific data.
    pub data: serde_json::Value,
}

/// What `commit` produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommitOutcome {
    /// The asset is ready.
    Ready(Asset),
    /// The platform is processing it; poll the handle.
    Processing(ProcessingHandle),
}

/// What the platform holds for a session whose completion answer was lost (the connection
/// dropped after the request went out, or a re-sent completion was refused as already done).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Recovery {
    /// The platform completed the upload: the asset, or the handle to poll.
    Committed(CommitOutcome),
    /// The platform completed the upload but offers no call that names the asset (Lazada:
    /// no documented call finds a video by its upload id). Not a failure: the upload went
    /// through, only its id is unknown.
    CommittedIdUnknown,
    /// The platform holds no completed upload for this session: the completion did not take
    /// place (or the provider cannot tell), so the completion's own error stands.
    NotCommitted,
}

/// Where asynchronous processing stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProcessingStatus {
    /// Still processing; `stage` is the platform's name for it (e.g. `TRANSCODING`).
    Pending {
        /// The platform's stage name.
        stage: String,
    },
    /// Done.
    Ready(Asset),
    /// Processing failed for good.
    Failed {
        /// The platform's state or code (e.g. `AUDIT_FAILED`).
        state: String,
        /// The platform's reason, in its words.
        reason: String,
    },
}

/// A marketplace's chunked video upload protocol: init → put_part → commit → poll, plus
/// cancel. Providers translate between these calls and their platform's wire format; they
/// never spawn tasks, sleep, retry or read files — the driver does that.
///
/// Indexes are always 0-based here; a provider maps them to its wire numbering, which it
/// declares in [`UploadRules`].
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ChunkedVideoUploader: Send + Sync {
    /// The provider's rules, as data.
    fn rules(&self) -> &UploadRules;

    /// Provider-specific checks before any upload request (required options, remaining
    /// quota…), and any warm-up that saves `init` a round trip (SMH fetches its access token).
    /// The generic checks from [`UploadRules`] have already passed. The driver runs it while
    /// the digest pass reads the file, so `source.digests` may be empty here.
    async fn preflight(&self, _source: &SourceInfo) -> Result<()> {
        Ok(())
    }

    /// Opens an upload session, or finishes at once when the platform already has the file.
    async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome>;

    /// Sends one part. Sending the same part twice must be harmless.
    async fn put_part(&self, session: &UploadSession, part: &Part) -> Result<PartReceipt>;

    /// Completes the upload with every part's receipt, in part order.
    async fn commit(
        &self,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<CommitOutcome>;

    /// Asks where processing stands.
    async fn poll(&self, handle: &ProcessingHandle) -> Result<ProcessingStatus>;

    /// Cancels an unfinished session.
    async fn cancel(&self, session: &UploadSession) -> Result<()>;

    /// The parts the platform already holds, when it can tell (server-side resume).
    async fn uploaded_parts(&self, _session: &UploadSession) -> Result<Option<Vec<PartReceipt>>> {
        Ok(None)
    }

    /// Finds out what the platform holds for a session whose completion answer may have been
    /// lost, before the driver decides the upload failed. The driver calls it when `commit`
    /// failed (`commit_error` is its error's kind: a lost answer, or [`ErrorKind::Conflict`]
    /// for "already completed" to a re-sent completion) and when it resumes a journaled
    /// session whose completion was sent but never answered (`commit_error` is `None`). It is
    /// retried like any call.
    ///
    /// The default knows nothing: [`Recovery::NotCommitted`], so the completion's error
    /// stands. A platform that can look the upload up (Shopee's upload result by upload id,
    /// SMH's file information) answers [`Recovery::Committed`]; one that can only tell the
    /// completion happened answers [`Recovery::CommittedIdUnknown`].
    async fn recover(
        &self,
        _session: &UploadSession,
        _receipts: &[PartReceipt],
        _commit_error: Option<ErrorKind>,
    ) -> Result<Recovery> {
        Ok(Recovery::NotCommitted)
    }

    /// Fresh upload credentials for a session whose credentials expire or expired.
    async fn renew(&self, _session: &UploadSession) -> Result<UploadSession> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "this platform's sessions cannot be renewed",
        ))
    }
}
