//! The WeChat Channels Store simulator as a [`SimHandle`].

use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::raw::UploadSession;

use super::fields_of;
use crate::suite::{
    CompletionPayload, FaultTargets, SessionExpiry, SimCapabilities, SimHandle, WirePart,
};
use marketmedia_sim::faults::scope;
use marketmedia_sim::wechat::{self as sim, WechatSim, WechatSimConfig};
use marketmedia_sim::{SimServer, WireLog};

/// The seed of the hostile fault profile on this simulator.
const HOSTILE_SEED: u64 = 0x3E_C4A7;

/// The key lifetime while an expiry is armed.
const SHORT_KEY: Duration = Duration::from_secs(60);

/// A running WeChat simulator, reported to the suite.
#[derive(Debug)]
pub struct WechatHandle {
    sim: WechatSim,
    server: SimServer,
}

impl WechatHandle {
    /// Starts a simulator with `config` on a free local port.
    pub async fn start(config: WechatSimConfig) -> std::io::Result<Self> {
        let sim = WechatSim::new(config);
        let server = sim.start(([127, 0, 0, 1], 0).into()).await?;
        Ok(WechatHandle { sim, server })
    }

    /// Starts a simulator with the defaults and a 30 ms processing delay.
    pub async fn start_fast() -> std::io::Result<Self> {
        Self::start(WechatSimConfig {
            processing_delay: Duration::from_millis(30),
            ..WechatSimConfig::default()
        })
        .await
    }

    /// Where to point the provider.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The simulator, for anything the suite does not ask.
    pub fn sim(&self) -> &WechatSim {
        &self.sim
    }
}

/// One `finish_parts` entry as the wire log holds it.
#[derive(serde::Deserialize)]
struct FinishPart {
    partnum: u32,
    part_sha: String,
}

impl SimHandle for WechatHandle {
    fn platform(&self) -> &str {
        "wechat"
    }

    fn capabilities(&self) -> SimCapabilities {
        SimCapabilities {
            // The store has no call that abandons an upload.
            cancel_upload: false,
            // The pages do not say how a failed processing shows in getplayinfo.
            processing_failure: false,
            rate_limiting: true,
            completion_fields: vec!["video_upload_key".into(), "finish_parts".into()],
            instant_upload_min_bytes: None,
        }
    }

    fn wire(&self) -> &WireLog {
        self.sim.wire()
    }

    fn part_number_field(&self) -> &str {
        "partnum"
    }

    fn parts_on_wire(&self, session: &UploadSession) -> Vec<WirePart> {
        let key = session.upload_id.as_str();
        // Accepted parts carry the part_sha answered, paired by partnum (the wire log and the
        // upload's answers are written by concurrent handlers, so their orders may differ).
        let mut answered = self.sim.part_answers(key);
        self.sim
            .wire()
            .calls("video_uploadpart")
            .into_iter()
            .filter(|r| r.param("video_upload_key") == Some(key))
            .map(|r| {
                let accepted = r.error.is_none();
                let number = r.param("partnum").unwrap_or_default().to_owned();
                let etag = if accepted {
                    answered
                        .iter()
                        .position(|a| a.partnum == number)
                        .map(|i| answered.remove(i).part_sha)
                } else {
                    None
                };
                WirePart {
                    number_as_sent: number,
                    size: r
                        .files
                        .iter()
                        .find(|(name, _)| name == "media")
                        .map(|(_, n)| *n as u64)
                        .unwrap_or(0),
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
            .calls("video_finishupload")
            .into_iter()
            .rev()
            .find(|r| r.param("video_upload_key") == Some(session.upload_id.as_str()))?;
        let parts = r
            .param("finish_parts")
            .and_then(|l| serde_json::from_str::<Vec<FinishPart>>(l).ok());
        Some(CompletionPayload {
            part_numbers: parts
                .as_ref()
                .map(|p| p.iter().map(|e| e.partnum).collect()),
            etags: parts.map(|p| p.into_iter().map(|e| e.part_sha).collect()),
            fields: fields_of(&r.params),
            accepted: r.error.is_none(),
        })
    }

    fn assembled(&self, asset_id: &str) -> Option<Bytes> {
        self.sim.assembled_bytes(asset_id)
    }

    fn set_rate_limited(&self, on: bool) -> bool {
        self.sim.update_config(|c| c.rate_limited = on);
        true
    }

    fn advance_clock(&self, by: Duration) {
        self.sim.clock().advance(by);
    }

    fn fault_targets(&self) -> Option<FaultTargets<'_>> {
        Some(FaultTargets {
            faults: self.sim.faults(),
            parts: scope::WECHAT_PARTS.into(),
            commit: scope::WECHAT_COMMIT.into(),
            all_but_commit: vec![
                sim::TOKEN_PATH.into(),
                format!("{}initupload", sim::VIDEO_PREFIX),
                scope::WECHAT_PARTS.into(),
                format!("{}getplayinfo", sim::VIDEO_PREFIX),
            ],
            part_call: "video_uploadpart".into(),
            seed: HOSTILE_SEED,
        })
    }

    /// The key's lifetime is fixed at `initupload`: the next upload gets 60 s, and the clock
    /// moves 61 s after its `parts`-th part (the lifetime is put back then).
    fn traffic(&self) -> Option<&marketmedia_sim::Traffic> {
        Some(self.sim.traffic())
    }

    fn expire_session_after_parts(&self, parts: u64) -> Option<SessionExpiry> {
        let lifetime = self.sim.config().upload_key_ttl;
        self.sim.update_config(|c| c.upload_key_ttl = SHORT_KEY);
        let sim = self.sim.clone();
        self.sim
            .faults()
            .after_requests(scope::WECHAT_PARTS, parts, move || {
                sim.clock().advance(SHORT_KEY + Duration::from_secs(1));
                sim.update_config(|c| c.upload_key_ttl = lifetime);
            });
        Some(SessionExpiry::default())
    }
}
