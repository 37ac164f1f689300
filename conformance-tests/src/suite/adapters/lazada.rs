//! The Lazada simulator as a [`SimHandle`].

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::raw::UploadSession;

use super::fields_of;
use crate::suite::{
    CompletionPayload, ExpectedFailure, FaultTargets, SessionExpiry, SimCapabilities, SimHandle,
    WirePart,
};
use marketmedia_sim::faults::scope;
use marketmedia_sim::lazada::{calls, LazadaSim, LazadaSimConfig, VideoOutcome};
use marketmedia_sim::{SimServer, WireLog};

/// The seed of the hostile fault profile on this simulator.
const HOSTILE_SEED: u64 = 0x1a2ada;

/// A running Lazada simulator, reported to the suite.
#[derive(Debug)]
pub struct LazadaHandle {
    sim: LazadaSim,
    server: SimServer,
    fail_next: Mutex<bool>,
}

impl LazadaHandle {
    /// Starts a simulator with `config` on a free local port.
    pub async fn start(config: LazadaSimConfig) -> std::io::Result<Self> {
        let sim = LazadaSim::new(config);
        let server = sim.start(([127, 0, 0, 1], 0).into()).await?;
        Ok(LazadaHandle {
            sim,
            server,
            fail_next: Mutex::new(false),
        })
    }

    /// Starts a simulator with the defaults and 20 ms per processing stage.
    pub async fn start_fast() -> std::io::Result<Self> {
        Self::start(LazadaSimConfig {
            transcode_queue_delay: Duration::from_millis(20),
            transcode_delay: Duration::from_millis(20),
            audit_delay: Duration::from_millis(20),
            ..LazadaSimConfig::default()
        })
        .await
    }

    /// The client base URL (`http://127.0.0.1:PORT/rest`).
    pub fn base_url(&self) -> String {
        LazadaSim::rest_base_url(&self.server)
    }

    /// The simulator, for anything the suite does not ask.
    pub fn sim(&self) -> &LazadaSim {
        &self.sim
    }

    fn armed(&self) -> std::sync::MutexGuard<'_, bool> {
        self.fail_next.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SimHandle for LazadaHandle {
    fn platform(&self) -> &str {
        "lazada"
    }

    fn capabilities(&self) -> SimCapabilities {
        SimCapabilities {
            // Lazada has no call to abandon a block upload.
            cancel_upload: false,
            processing_failure: true,
            rate_limiting: false,
            completion_fields: vec![
                "uploadId".into(),
                "parts".into(),
                "title".into(),
                "coverUrl".into(),
            ],
            instant_upload_min_bytes: None,
        }
    }

    fn wire(&self) -> &WireLog {
        self.sim.wire()
    }

    fn part_number_field(&self) -> &str {
        "blockNo"
    }

    fn parts_on_wire(&self, session: &UploadSession) -> Vec<WirePart> {
        let id = session.upload_id.as_str();
        // Accepted blocks carry the e_tag the simulator answered, paired by `blockNo` (the
        // wire log and the upload's store are written by concurrent handlers, so their orders
        // may differ; a re-sent block has the same bytes, so the same tag).
        let mut answered = self.sim.blocks_received(id);
        self.sim
            .wire()
            .calls(calls::BLOCK_UPLOAD)
            .into_iter()
            .filter(|r| r.param("uploadId") == Some(id))
            .map(|r| {
                let accepted = r.error.is_none();
                WirePart {
                    number_as_sent: r.param("blockNo").unwrap_or_default().to_owned(),
                    size: r
                        .files
                        .iter()
                        .find(|(name, _)| name == "file")
                        .map(|(_, n)| *n as u64)
                        .unwrap_or(0),
                    accepted,
                    error: r.error.clone(),
                    etag: if accepted {
                        let number = r.param("blockNo").unwrap_or_default();
                        answered
                            .iter()
                            .position(|b| b.block_no == number)
                            .map(|i| answered.remove(i).e_tag)
                    } else {
                        None
                    },
                }
            })
            .collect()
    }

    fn completion(&self, session: &UploadSession) -> Option<CompletionPayload> {
        let id = session.upload_id.as_str();
        let r = self
            .sim
            .wire()
            .calls(calls::BLOCK_COMMIT)
            .into_iter()
            .rev()
            .find(|r| r.param("uploadId") == Some(id))?;
        let payload = self.sim.commit_payload(id);
        let mut fields = fields_of(&r.params);
        // `parts` is a JSON array in a string: keep it whole.
        if let Some(parts) = r.param("parts") {
            fields.retain(|k, _| !k.starts_with("parts."));
            fields.insert("parts".into(), parts.to_owned());
        }
        Some(CompletionPayload {
            part_numbers: payload.as_ref().map(|p| {
                p.parts
                    .iter()
                    .map(|c| u32::try_from(c.part_number).unwrap_or(u32::MAX))
                    .collect()
            }),
            etags: payload.map(|p| p.parts.into_iter().map(|c| c.e_tag).collect()),
            fields,
            accepted: r.error.is_none(),
        })
    }

    fn assembled(&self, asset_id: &str) -> Option<Bytes> {
        self.sim.video_bytes(asset_id)
    }

    fn committed_upload(&self, upload_id: &str) -> Option<Bytes> {
        let video = self.sim.upload(upload_id)?.video_id?;
        self.sim.video_bytes(&video)
    }

    fn set_processing_failure(&self, reason: Option<&str>) -> Option<ExpectedFailure> {
        *self.armed() = reason.is_some();
        // The simulator fails the audit with its own words; the state is what is known.
        Some(ExpectedFailure {
            state: Some("AUDIT_FAILED".into()),
            reason: None,
        })
    }

    fn processing_started(&self, handle_id: &str) {
        if *self.armed() {
            self.sim
                .set_video_outcome(handle_id, VideoOutcome::AuditFailed);
        }
    }

    fn advance_clock(&self, by: Duration) {
        self.sim.clock().advance(by);
    }

    fn fault_targets(&self) -> Option<FaultTargets<'_>> {
        Some(FaultTargets {
            faults: self.sim.faults(),
            parts: scope::LAZADA_PARTS.into(),
            commit: scope::LAZADA_COMMIT.into(),
            all_but_commit: [
                calls::BLOCK_CREATE,
                calls::BLOCK_UPLOAD,
                calls::VIDEO_GET,
                calls::QUOTA_GET,
            ]
            .map(String::from)
            .to_vec(),
            part_call: calls::BLOCK_UPLOAD.into(),
            seed: HOSTILE_SEED,
        })
    }

    /// A block upload expires `upload_ttl` after `block/create` (checked at each call): the
    /// clock moves past it, and a minute more, after the `parts`-th block. The access token
    /// lives longer (7 days), so only the upload expires. The simulator refuses requests whose
    /// `timestamp` is further than `timestamp_tolerance` from its clock, so a move past the
    /// default 24 h `upload_ttl` would refuse every later request: unsupported (`None`) unless
    /// the simulator was started with an `upload_ttl` under half the tolerance.
    fn expire_session_after_parts(&self, parts: u64) -> Option<SessionExpiry> {
        let config = self.sim.config();
        let by = config.upload_ttl + Duration::from_secs(60);
        if by > config.timestamp_tolerance / 2 {
            return None;
        }
        let clock = self.sim.clock().clone();
        self.sim
            .faults()
            .after_requests(scope::LAZADA_PARTS, parts, move || clock.advance(by));
        Some(SessionExpiry {
            refused_part_code: Some(calls::codes::FAIL_TO_UPLOAD_BLOCK.into()),
            init_call: Some(calls::BLOCK_CREATE.into()),
            session_param: Some("uploadId".into()),
            ..SessionExpiry::default()
        })
    }

    /// An upload expires `upload_ttl` after its `block/create`, on the simulator's clock.
    fn session_expired(&self, id: &str) -> Option<bool> {
        let upload = self.sim.upload(id)?;
        let ttl = i64::try_from(self.sim.config().upload_ttl.as_millis()).unwrap_or(i64::MAX);
        let now = self.sim.clock().now_millis();
        Some(upload.video_id.is_none() && now.saturating_sub(upload.created_at_ms) > ttl)
    }

    fn traffic(&self) -> Option<&marketmedia_sim::Traffic> {
        Some(self.sim.traffic())
    }
}
