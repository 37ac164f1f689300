//! The SMH simulator (API + storage) as a [`SimHandle`].

use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::raw::UploadSession;

use super::fields_of;
use crate::suite::{
    CompletionPayload, FaultTargets, SessionExpiry, SimCapabilities, SimHandle, WirePart,
};
use marketmedia_sim::faults::scope;
use marketmedia_sim::smh::{calls, SmhServers, SmhSim, SmhSimConfig};
use marketmedia_sim::WireLog;

/// The seed of the hostile fault profile on these simulators.
const HOSTILE_SEED: u64 = 0x5e4;

/// A running SMH simulator, reported to the suite. The provider's session `upload_id` is the
/// confirm key; the asset id is the file's path.
#[derive(Debug)]
pub struct SmhHandle {
    sim: SmhSim,
    servers: SmhServers,
}

impl SmhHandle {
    /// Starts a simulator with `config` (API and storage on free local ports).
    pub async fn start(config: SmhSimConfig) -> std::io::Result<Self> {
        let sim = SmhSim::new(config);
        let servers = sim.start(([127, 0, 0, 1], 0).into()).await?;
        Ok(SmhHandle { sim, servers })
    }

    /// Starts a simulator with the defaults (nothing in SMH is slow).
    pub async fn start_fast() -> std::io::Result<Self> {
        Self::start(SmhSimConfig::default()).await
    }

    /// The API base URL (storage URLs come from the API, scheme `http`).
    pub fn base_url(&self) -> String {
        self.servers.api_base_url()
    }

    /// The simulator, for anything the suite does not ask.
    pub fn sim(&self) -> &SmhSim {
        &self.sim
    }
}

impl SimHandle for SmhHandle {
    fn platform(&self) -> &str {
        "smh"
    }

    fn capabilities(&self) -> SimCapabilities {
        let c = self.sim.config();
        SimCapabilities {
            cancel_upload: true,
            processing_failure: false,
            rate_limiting: true,
            completion_fields: Vec::new(),
            instant_upload_min_bytes: c.instant_upload.then_some(c.instant_upload_min_size),
        }
    }

    fn wire(&self) -> &WireLog {
        self.sim.wire()
    }

    fn part_number_field(&self) -> &str {
        "partNumber"
    }

    fn parts_on_wire(&self, session: &UploadSession) -> Vec<WirePart> {
        let confirm_key = session.upload_id.as_str();
        let Some(upload_id) = self.sim.upload_id(confirm_key) else {
            return Vec::new();
        };
        let held = self.sim.parts(confirm_key).unwrap_or_default();
        self.sim
            .wire()
            .calls(calls::PUT_PART)
            .into_iter()
            .filter(|r| r.param("uploadId") == Some(upload_id.as_str()))
            .map(|r| {
                let number = r.param("partNumber").unwrap_or_default().to_owned();
                let accepted = r.error.is_none();
                let etag = held
                    .iter()
                    .find(|p| accepted && p.number.to_string() == number)
                    .map(|p| p.etag.clone());
                WirePart {
                    number_as_sent: number,
                    size: r.body_len as u64,
                    accepted,
                    error: r.error.clone(),
                    etag,
                }
            })
            .collect()
    }

    fn completion(&self, session: &UploadSession) -> Option<CompletionPayload> {
        let r = self
            .sim
            .wire()
            .calls(calls::CONFIRM_UPLOAD)
            .into_iter()
            .rev()
            .find(|r| r.param("ConfirmKey") == Some(session.upload_id.as_str()))?;
        Some(CompletionPayload {
            part_numbers: None,
            etags: None,
            fields: fields_of(&r.params),
            accepted: r.error.is_none(),
        })
    }

    fn assembled(&self, asset_id: &str) -> Option<Bytes> {
        self.sim.file(asset_id)
    }

    fn committed_upload(&self, upload_id: &str) -> Option<Bytes> {
        match self.sim.upload_state(upload_id)? {
            marketmedia_sim::smh::SmhUploadState::Confirmed { path } => {
                self.sim.file(&path.join("/"))
            }
            _ => None,
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
            parts: scope::SMH_PARTS.into(),
            commit: scope::SMH_COMMIT.into(),
            // Both servers: the API's token, begin, renew and simple-upload calls, and the
            // storage's parts.
            all_but_commit: vec![
                "GET /api/v1/token".into(),
                "?multipart".into(),
                "?renew".into(),
                "?upload".into(),
                scope::SMH_PARTS.into(),
            ],
            part_call: calls::PUT_PART.into(),
            seed: HOSTILE_SEED,
        })
    }

    /// What expires is the presigned storage headers (`upload_info_lifetime`, 30 min): the
    /// clock moves past it, and a minute more, after the `parts`-th part. The next part is
    /// refused 403 "Request has expired" and the provider renews the upload information.
    fn expire_session_after_parts(&self, parts: u64) -> Option<SessionExpiry> {
        let clock = self.sim.clock().clone();
        let by = self.sim.config().upload_info_lifetime + Duration::from_secs(60);
        self.sim
            .faults()
            .after_requests(scope::SMH_PARTS, parts, move || clock.advance(by));
        Some(SessionExpiry {
            renew_call: Some(calls::RENEW_UPLOAD.into()),
            refused_part_status: Some(403),
            init_call: Some(calls::BEGIN_MULTIPART.into()),
            ..SessionExpiry::default()
        })
    }

    fn traffic(&self) -> Option<&marketmedia_sim::Traffic> {
        Some(self.sim.traffic())
    }
}
