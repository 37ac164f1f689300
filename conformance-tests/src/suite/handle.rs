//! What the suite needs from a simulator: a report of what arrived on the wire, and a few
//! knobs. Implemented for the bundled simulators in [`super::adapters`]; a new marketplace's
//! simulator implements it in a page (see `examples/examples/custom_provider.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::raw::UploadSession;

use marketmedia_sim::faults::FaultHandle;
use marketmedia_sim::{Traffic, WireLog};

/// One part request as the simulator received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WirePart {
    /// The part number exactly as sent (Shopee `part_seq`, Lazada `blockNo`, SMH `partNumber`).
    pub number_as_sent: String,
    /// Bytes of the part's payload.
    pub size: u64,
    /// Whether the simulator accepted it.
    pub accepted: bool,
    /// The platform's error code when it refused the part.
    pub error: Option<String>,
    /// The tag the platform answered for an accepted part, when it answers one (Lazada
    /// `e_tag`, COS `ETag`).
    pub etag: Option<String>,
}

impl WirePart {
    /// The part number as an integer, when it is one.
    pub fn number(&self) -> Option<u32> {
        self.number_as_sent.trim().parse().ok()
    }
}

/// The completion (commit) request of an upload, as the simulator received it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompletionPayload {
    /// The part numbers listed, in the order listed, when the platform's completion lists
    /// parts (Shopee `part_seq_list`, Lazada `parts[].partNumber`); `None` when it lists none
    /// (SMH's bare confirm).
    pub part_numbers: Option<Vec<u32>>,
    /// The tag listed with each part, when the completion carries tags (Lazada `eTag`).
    pub etags: Option<Vec<String>>,
    /// Every other field, flattened with dots (`report_data.upload_cost`, `title`…).
    pub fields: BTreeMap<String, String>,
    /// Whether the simulator accepted the completion.
    pub accepted: bool,
}

/// What the simulator can be asked to do, and what it knows of its platform. Cases that need a
/// missing ability are skipped, with the reason in the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimCapabilities {
    /// The platform has a call that abandons an unfinished upload (so a part sent after it must
    /// be refused). Lazada has none.
    pub cancel_upload: bool,
    /// [`SimHandle::set_processing_failure`] can make processing fail.
    pub processing_failure: bool,
    /// [`SimHandle::set_rate_limited`] can make the platform answer "slow down".
    pub rate_limiting: bool,
    /// Fields the platform requires in the completion call, named as in
    /// [`CompletionPayload::fields`] (e.g. `report_data.upload_cost`).
    pub completion_fields: Vec<String>,
    /// Smallest file the simulator takes by instant upload, when it offers instant upload.
    pub instant_upload_min_bytes: Option<u64>,
}

/// Where the fault cases aim a simulator's fault layer, and what they count: the request
/// patterns (as [`FaultHandle::after_requests`] and `FaultProfile::calls` match them) of the
/// platform's calls, and the wire log's name of the part call.
#[derive(Debug, Clone)]
pub struct FaultTargets<'a> {
    /// The simulator's fault layer.
    pub faults: &'a FaultHandle,
    /// Matches every part request (e.g. `scope::SHOPEE_PARTS`).
    pub parts: String,
    /// Matches the completion (commit) request (e.g. `scope::SHOPEE_COMMIT`).
    pub commit: String,
    /// Matches every request of an upload but the completion: where the hostile profile goes
    /// in `uploads_under_faults`, so a platform whose lost commit answer cannot be recovered
    /// still shows that everything else can.
    pub all_but_commit: Vec<String>,
    /// The [`WireLog`] call name of a part request (`upload_video_part`), to count parts.
    pub part_call: String,
    /// The seed of the hostile profile, so a failure replays.
    pub seed: u64,
}

/// What an upload session expiring mid-upload looks like on the wire, as armed by
/// [`SimHandle::expire_session_after_parts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionExpiry {
    /// The [`WireLog`] call name of the renewal, for platforms whose sessions are renewable
    /// (`renewable_sessions = true`): the case checks it went out at least once.
    pub renew_call: Option<String>,
    /// The status the platform answers to the part that meets the expiry, when it refuses
    /// exactly one (SMH's storage: 403 "Request has expired").
    pub refused_part_status: Option<u16>,
    /// The platform's error code for that part, as the [`WireLog`] records it (Shopee
    /// `error_invalid_upload_id`, Lazada `FAIL_TO_UPLOAD_BLOCK`).
    pub refused_part_code: Option<String>,
    /// The [`WireLog`] call name that opens an upload session (`init_video_upload`,
    /// `/media/video/block/create`): where sessions are not renewable, the case checks that a
    /// second one was opened after the expiry; where they are, that none was.
    pub init_call: Option<String>,
    /// The part requests' parameter naming their session (`video_upload_id`, `uploadId`),
    /// so the case tells the expired session's parts from the new one's.
    pub session_param: Option<String>,
}

/// How a processing failure switched on with [`SimHandle::set_processing_failure`] will look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedFailure {
    /// The platform's terminal state, when the simulator knows it (`FAILED`, `AUDIT_FAILED`).
    pub state: Option<String>,
    /// The platform's reason the provider must pass on, when the simulator chooses it.
    pub reason: Option<String>,
}

/// A handle on a provider's simulator that reports what arrived on the wire.
///
/// Ids are the provider's: an [`UploadSession`] as `init` returned it, and the `id` of an
/// [`marketmedia_core::Asset`] or [`marketmedia_core::ProcessingHandle`]. An adapter maps them
/// to its simulator's accessors.
pub trait SimHandle: Send + Sync {
    /// The platform's name, as the provider's rules spell it.
    fn platform(&self) -> &str;

    /// What this simulator can do.
    fn capabilities(&self) -> SimCapabilities;

    /// Every request received.
    fn wire(&self) -> &WireLog;

    /// The platform's name for the part number field, for messages (`part_seq`).
    fn part_number_field(&self) -> &str;

    /// Every part request of `session`, accepted or not, in arrival order.
    fn parts_on_wire(&self, session: &UploadSession) -> Vec<WirePart>;

    /// The last completion request of `session`, when one arrived.
    fn completion(&self, session: &UploadSession) -> Option<CompletionPayload>;

    /// The assembled bytes of a finished upload, by the asset's or processing handle's id.
    fn assembled(&self, asset_id: &str) -> Option<Bytes>;

    /// The assembled bytes of the asset a completed upload session became, by the session's
    /// upload id: how the suite checks a [`marketmedia_core::Completion::CommittedIdUnknown`]
    /// outcome. `None` by default (a platform whose provider always names its asset).
    fn committed_upload(&self, _upload_id: &str) -> Option<Bytes> {
        None
    }

    /// Bytes of part payloads received so far, over every upload (re-sends included).
    fn part_bytes_received(&self) -> u64 {
        self.wire().file_bytes() as u64
    }

    /// Requests received so far (any call).
    fn request_count(&self) -> usize {
        self.wire().records().len()
    }

    /// Makes processing of uploads committed from now on fail (`Some(reason)`), or succeed
    /// again (`None`). Returns how the failure will look, or `None` when unsupported.
    fn set_processing_failure(&self, reason: Option<&str>) -> Option<ExpectedFailure> {
        let _ = reason;
        None
    }

    /// Called by the suite right after a commit returned a processing handle, so an adapter
    /// can apply per-asset settings (e.g. the armed processing failure).
    fn processing_started(&self, handle_id: &str) {
        let _ = handle_id;
    }

    /// Makes every call answer "rate limited" (`true`) or not. Returns whether supported.
    fn set_rate_limited(&self, on: bool) -> bool {
        let _ = on;
        false
    }

    /// Moves the simulator's clock forward (to finish processing without sleeping).
    fn advance_clock(&self, by: Duration) {
        let _ = by;
    }

    /// The simulator's fault layer and where to aim it, for the fault cases; `None` when the
    /// simulator has none (the cases are skipped).
    fn fault_targets(&self) -> Option<FaultTargets<'_>> {
        None
    }

    /// Makes the upload session opened next expire right after its `parts`-th part request
    /// arrived (by moving the simulator's clock past the session's lifetime). Returns what the
    /// expiry looks like on the wire, or `None` when unsupported.
    fn expire_session_after_parts(&self, parts: u64) -> Option<SessionExpiry> {
        let _ = parts;
        None
    }

    /// Whether the simulator holds the session `id` (as its part requests name it, see
    /// [`SessionExpiry::session_param`]) as expired at its clock now; `None` when it cannot
    /// tell (unknown id, or unsupported).
    fn session_expired(&self, id: &str) -> Option<bool> {
        let _ = id;
        None
    }

    /// The simulator's own count of the requests reaching it, in flight and at most at once,
    /// with each exchange's times ([`Traffic`]): the cases that check how many parts overlap
    /// on the wire and how long a rate-limited client waited. `None` when the simulator
    /// counts none (those cases are skipped).
    fn traffic(&self) -> Option<&Traffic> {
        None
    }
}
