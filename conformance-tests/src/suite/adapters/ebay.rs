//! The eBay simulator as a [`SimHandle`].
//!
//! eBay's upload has no part numbers: parts are `Content-Range` chunks of one stream. A chunk
//! is reported as the part whose plan range it is (`start / part size`), so the suite's
//! numbering and size checks read the ranges.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::raw::UploadSession;

use crate::suite::{
    CompletionPayload, ExpectedFailure, FaultTargets, SessionExpiry, SimCapabilities, SimHandle,
    WirePart,
};
use marketmedia_sim::ebay::{calls, EbaySim, EbaySimConfig, VideoOutcome};
use marketmedia_sim::faults::scope;
use marketmedia_sim::{SimServer, WireLog};

/// The seed of the hostile fault profile on this simulator.
const HOSTILE_SEED: u64 = 0xeba1;

/// A running eBay simulator, reported to the suite.
#[derive(Debug)]
pub struct EbayHandle {
    sim: EbaySim,
    server: SimServer,
    fail_next: Mutex<bool>,
}

impl EbayHandle {
    /// Starts a simulator with `config` on a free local port.
    pub async fn start(config: EbaySimConfig) -> std::io::Result<Self> {
        let sim = EbaySim::new(config);
        let server = sim.start(([127, 0, 0, 1], 0).into()).await?;
        Ok(EbayHandle {
            sim,
            server,
            fail_next: Mutex::new(false),
        })
    }

    /// Starts a simulator with 20 ms of processing, a week-long user token, and the POST limit
    /// raised to 100,000 per 5 s: the suite's hundreds of uploads in seconds would otherwise wait on it (the limit
    /// itself is tested against the default simulator in the provider's tests).
    pub async fn start_fast() -> std::io::Result<Self> {
        Self::start(EbaySimConfig {
            processing_delay: Duration::from_millis(20),
            post_limit: Some((100_000, Duration::from_secs(5))),
            // The suite's session-expiry case moves the clock past `pending_ttl` (24 h), beyond
            // the 2-hour user token the suite's fixed-token client holds; token expiry and
            // refresh have tests of their own (the provider's and the simulators').
            access_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            ..EbaySimConfig::default()
        })
        .await
    }

    /// The client base URL (`http://127.0.0.1:PORT/commerce/media/v1_beta`).
    pub fn base_url(&self) -> String {
        EbaySim::api_base_url(&self.server)
    }

    /// The simulator, for anything the suite does not ask.
    pub fn sim(&self) -> &EbaySim {
        &self.sim
    }

    fn armed(&self) -> std::sync::MutexGuard<'_, bool> {
        self.fail_next.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SimHandle for EbayHandle {
    fn platform(&self) -> &str {
        "ebay"
    }

    fn capabilities(&self) -> SimCapabilities {
        SimCapabilities {
            // eBay has no call to delete or abandon a video.
            cancel_upload: false,
            processing_failure: true,
            rate_limiting: true,
            // No completion call.
            completion_fields: Vec::new(),
            instant_upload_min_bytes: None,
        }
    }

    fn wire(&self) -> &WireLog {
        self.sim.wire()
    }

    fn part_number_field(&self) -> &str {
        "Content-Range start / part size"
    }

    fn parts_on_wire(&self, session: &UploadSession) -> Vec<WirePart> {
        let suffix = format!("/video/{}/upload", session.upload_id);
        let part_size = session.plan.part_size().max(1);
        self.sim
            .wire()
            .calls(calls::UPLOAD_VIDEO)
            .into_iter()
            .filter(|r| r.path.ends_with(&suffix))
            .map(|r| {
                let range = r.param("content-range").unwrap_or_default();
                let start = range
                    .strip_prefix("bytes ")
                    .and_then(|s| s.split('-').next())
                    .and_then(|s| s.parse::<u64>().ok());
                WirePart {
                    number_as_sent: match start {
                        Some(s) if s % part_size == 0 => (s / part_size).to_string(),
                        _ => format!("{range:?}"),
                    },
                    size: r.body_len as u64,
                    accepted: r.error.is_none(),
                    error: r.error.clone(),
                    etag: None,
                }
            })
            .collect()
    }

    /// eBay has no completion call: the provider's commit is a getVideo that found every
    /// byte; reported as a bare completion.
    fn completion(&self, session: &UploadSession) -> Option<CompletionPayload> {
        let suffix = format!("/video/{}", session.upload_id);
        let r = self
            .sim
            .wire()
            .calls(calls::GET_VIDEO)
            .into_iter()
            .rev()
            .find(|r| r.path.ends_with(&suffix))?;
        Some(CompletionPayload {
            part_numbers: None,
            etags: None,
            fields: Default::default(),
            accepted: r.error.is_none(),
        })
    }

    fn assembled(&self, asset_id: &str) -> Option<Bytes> {
        self.sim.video_bytes(asset_id)
    }

    fn set_processing_failure(&self, reason: Option<&str>) -> Option<ExpectedFailure> {
        *self.armed() = reason.is_some();
        Some(ExpectedFailure {
            state: Some("PROCESSING_FAILED".into()),
            reason: None,
        })
    }

    fn processing_started(&self, handle_id: &str) {
        if *self.armed() {
            self.sim
                .set_video_outcome(handle_id, VideoOutcome::ProcessingFailed);
        }
    }

    fn set_rate_limited(&self, on: bool) -> bool {
        self.sim.set_rate_limited(on);
        true
    }

    fn advance_clock(&self, by: Duration) {
        self.sim.clock().advance(by);
    }

    fn fault_targets(&self) -> Option<FaultTargets<'_>> {
        Some(FaultTargets {
            faults: self.sim.faults(),
            parts: scope::EBAY_PARTS.into(),
            commit: scope::EBAY_COMMIT.into(),
            all_but_commit: vec![scope::EBAY_POSTS.into()],
            part_call: calls::UPLOAD_VIDEO.into(),
            seed: HOSTILE_SEED,
        })
    }

    /// A video still `PENDING_UPLOAD` is forgotten `pending_ttl` after createVideo (the
    /// simulator's assumption; eBay states no lifetime for unfinished uploads): the clock moves
    /// past it after the `parts`-th chunk, so the next chunk meets a 404 and the driver starts
    /// over.
    fn traffic(&self) -> Option<&marketmedia_sim::Traffic> {
        Some(self.sim.traffic())
    }

    fn expire_session_after_parts(&self, parts: u64) -> Option<SessionExpiry> {
        let by = self.sim.config().pending_ttl + Duration::from_secs(60);
        let clock = self.sim.clock().clone();
        self.sim
            .faults()
            .after_requests(scope::EBAY_PARTS, parts, move || clock.advance(by));
        Some(SessionExpiry::default())
    }
}
