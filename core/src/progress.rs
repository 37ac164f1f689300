//! Progress events, delivered through a callback or a channel.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// The stages of one upload.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Stage {
    /// Checking the source against the rules.
    Preflight,
    /// Computing digests.
    Digesting,
    /// Opening the session.
    Initializing,
    /// A journaled or listed session is resumed: the platform already holds `parts_done` of
    /// its `parts` (sent right before [`Stage::Uploading`]).
    Resumed {
        /// Parts the platform already holds.
        parts_done: u32,
        /// Parts in the plan.
        parts: u32,
    },
    /// Sending parts.
    Uploading {
        /// Parts in the plan.
        parts: u32,
        /// Bytes in the source.
        total_bytes: u64,
        /// Bytes the platform already holds (resume or instant upload).
        already_uploaded: u64,
    },
    /// Completing the upload.
    Committing,
    /// The platform is processing the asset; the platform's stage name.
    Processing(String),
    /// The asset is ready.
    Done,
    /// The upload failed.
    Failed(String),
    /// The remote session was cancelled after a failure.
    Cancelled,
}

/// One progress event.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ProgressEvent {
    /// The upload moved to a new stage.
    Stage {
        /// Platform name, or the account's name when the upload is for an account
        /// ([`crate::UploadOptions::account`]).
        platform: String,
        /// The stage.
        stage: Stage,
    },
    /// Bytes of a part went out.
    Bytes {
        /// Platform name, or the account's name when the upload is for an account
        /// ([`crate::UploadOptions::account`]).
        platform: String,
        /// 0-based part index.
        part: u32,
        /// Bytes that just went out.
        bytes: u64,
    },
    /// A part was acknowledged.
    PartDone {
        /// Platform name, or the account's name when the upload is for an account
        /// ([`crate::UploadOptions::account`]).
        platform: String,
        /// 0-based part index.
        part: u32,
        /// Size of the part.
        size: u64,
    },
    /// An attempt failed and will be retried; bytes already counted for it are rolled back.
    Retry {
        /// Platform name, or the account's name when the upload is for an account
        /// ([`crate::UploadOptions::account`]).
        platform: String,
        /// The part, when the failed call was a part upload.
        part: Option<u32>,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// Bytes to subtract from the progress already reported.
        rolled_back: u64,
        /// How long the driver waits before the next attempt.
        delay: Duration,
        /// Why, in one line.
        reason: String,
    },
}

impl ProgressEvent {
    /// The label of the upload the event is about: the platform's name, or the account's.
    pub fn label(&self) -> &str {
        match self {
            ProgressEvent::Stage { platform, .. }
            | ProgressEvent::Bytes { platform, .. }
            | ProgressEvent::PartDone { platform, .. }
            | ProgressEvent::Retry { platform, .. } => platform,
        }
    }

    fn relabel(&mut self, label: &str) {
        match self {
            ProgressEvent::Stage { platform, .. }
            | ProgressEvent::Bytes { platform, .. }
            | ProgressEvent::PartDone { platform, .. }
            | ProgressEvent::Retry { platform, .. } => {
                label.clone_into(platform);
            }
        }
    }
}

/// `sink` with every event labelled `label` (an account's name) instead of the platform's.
pub fn relabelled(sink: ProgressSink, label: &str) -> ProgressSink {
    let label = label.to_owned();
    Arc::new(move |mut event: ProgressEvent| {
        event.relabel(&label);
        sink(event)
    })
}

/// Receives progress events. Must be cheap: it is called from the upload's tasks.
pub type ProgressSink = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// A sink forwarding events into an unbounded channel, and its receiving end.
pub fn progress_channel() -> (
    ProgressSink,
    tokio::sync::mpsc::UnboundedReceiver<ProgressEvent>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let sink: ProgressSink = Arc::new(move |event| {
        // A dropped receiver means nobody watches any more; that is not an upload failure.
        let _ = tx.send(event);
    });
    (sink, rx)
}
