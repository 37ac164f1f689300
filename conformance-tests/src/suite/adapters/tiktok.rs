//! The TikTok Shop simulator as a [`SimHandle`].
//!
//! TikTok Shop takes a file in one multipart request (`files/upload`): that request is the
//! upload's one part **and** its completion. A session is told from the others by the `name`
//! its provider sent (`UploadSession::data["name"]`, unique per upload).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::raw::UploadSession;

use crate::suite::{CompletionPayload, FaultTargets, SimCapabilities, SimHandle, WirePart};
use marketmedia_sim::faults::scope;
use marketmedia_sim::tiktok::{calls, TiktokSim, TiktokSimConfig};
use marketmedia_sim::{SimServer, WireLog, WireRecord};

/// The seed of the hostile fault profile on this simulator: its 30 one-request uploads make
/// about 56 requests, and this seed meets every fault kind of the profile in them (its 1 %
/// of 429 bursts included; seeds 1, 2, 5, 7 and 8 do not).
const HOSTILE_SEED: u64 = 4;

/// A running TikTok Shop simulator, reported to the suite.
#[derive(Debug)]
pub struct TiktokHandle {
    sim: TiktokSim,
    server: SimServer,
}

impl TiktokHandle {
    /// The largest video of [`TiktokHandle::start_fast`]: small, so that the suite's files
    /// at the maximum stay small (give the provider the same `max_video_bytes`).
    pub const FAST_MAX_VIDEO_BYTES: u64 = 3 << 20;

    /// Starts a simulator with `config` on a free local port.
    pub async fn start(config: TiktokSimConfig) -> std::io::Result<Self> {
        let sim = TiktokSim::new(config);
        let server = sim.start(([127, 0, 0, 1], 0).into()).await?;
        Ok(TiktokHandle { sim, server })
    }

    /// Starts a simulator taking videos up to [`TiktokHandle::FAST_MAX_VIDEO_BYTES`].
    pub async fn start_fast() -> std::io::Result<Self> {
        Self::start(TiktokSimConfig {
            max_video_bytes: Self::FAST_MAX_VIDEO_BYTES,
            max_request_bytes: Self::FAST_MAX_VIDEO_BYTES as usize + (1 << 20),
            ..TiktokSimConfig::default()
        })
        .await
    }

    /// The open API host (and the auth host: one server).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The simulator, for anything the suite does not ask.
    pub fn sim(&self) -> &TiktokSim {
        &self.sim
    }

    /// The file requests of `session`, in arrival order.
    fn requests_of(&self, session: &UploadSession) -> Vec<WireRecord> {
        let Some(name) = session.data.get("name").and_then(|n| n.as_str()) else {
            return Vec::new();
        };
        self.sim
            .wire()
            .calls(calls::FILES_UPLOAD)
            .into_iter()
            .filter(|r| r.param("body.name") == Some(name))
            .collect()
    }
}

impl SimHandle for TiktokHandle {
    fn platform(&self) -> &str {
        "tiktok"
    }

    fn capabilities(&self) -> SimCapabilities {
        SimCapabilities {
            // No call abandons or deletes a file.
            cancel_upload: false,
            // Nothing is processed after the upload.
            processing_failure: false,
            rate_limiting: true,
            // The completion is the upload request itself: its `name`.
            completion_fields: vec!["name".into()],
            instant_upload_min_bytes: None,
        }
    }

    fn wire(&self) -> &WireLog {
        self.sim.wire()
    }

    fn part_number_field(&self) -> &str {
        "files/upload (one request per file)"
    }

    fn parts_on_wire(&self, session: &UploadSession) -> Vec<WirePart> {
        self.requests_of(session)
            .into_iter()
            .map(|r| WirePart {
                number_as_sent: "0".into(),
                size: r
                    .files
                    .iter()
                    .find(|(n, _)| n == "data")
                    .map_or(0, |(_, len)| *len as u64),
                accepted: r.error.is_none(),
                error: r.error.clone(),
                etag: None,
            })
            .collect()
    }

    fn completion(&self, session: &UploadSession) -> Option<CompletionPayload> {
        let r = self.requests_of(session).into_iter().next_back()?;
        let mut fields = BTreeMap::new();
        if let Some(name) = r.param("body.name") {
            fields.insert("name".to_owned(), name.to_owned());
        }
        Some(CompletionPayload {
            part_numbers: None,
            etags: None,
            fields,
            accepted: r.error.is_none(),
        })
    }

    fn assembled(&self, asset_id: &str) -> Option<Bytes> {
        self.sim.file_bytes(asset_id)
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
            parts: scope::TIKTOK_FILES.into(),
            commit: scope::TIKTOK_FILES.into(),
            all_but_commit: vec![scope::TIKTOK_FILES.into()],
            part_call: calls::FILES_UPLOAD.into(),
            seed: HOSTILE_SEED,
        })
    }

    fn traffic(&self) -> Option<&marketmedia_sim::Traffic> {
        Some(self.sim.traffic())
    }
}
