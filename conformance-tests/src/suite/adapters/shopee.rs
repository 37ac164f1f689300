//! The Shopee simulator as a [`SimHandle`], for either media module: `v2.media_space`
//! ([`ShopeeHandle::start`]) or `v2.media` ([`ShopeeHandle::start_media`]).

use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::raw::UploadSession;

use super::fields_of;
use crate::suite::{
    CompletionPayload, ExpectedFailure, FaultTargets, SessionExpiry, SimCapabilities, SimHandle,
    WirePart,
};
use marketmedia_sim::faults::scope;
use marketmedia_sim::shopee::{Module, ShopeeSim, ShopeeSimConfig};
use marketmedia_sim::{SimServer, WireLog};

/// The seed of the hostile fault profile on this simulator.
const HOSTILE_SEED: u64 = 0x5_4079;

/// The session lifetime while an expiry is armed (24 h on the platform).
const SHORT_SESSION: Duration = Duration::from_secs(60);

/// A running Shopee simulator, reported to the suite.
#[derive(Debug)]
pub struct ShopeeHandle {
    sim: ShopeeSim,
    server: SimServer,
    module: Module,
}

impl ShopeeHandle {
    /// Starts a simulator with `config` on a free local port, reporting the `v2.media_space`
    /// calls.
    pub async fn start(config: ShopeeSimConfig) -> std::io::Result<Self> {
        Self::start_module(config, Module::MediaSpace).await
    }

    /// Starts a simulator with `config` on a free local port, reporting the `v2.media` calls
    /// (`/api/v2/media/…`).
    pub async fn start_media(config: ShopeeSimConfig) -> std::io::Result<Self> {
        Self::start_module(config, Module::Media).await
    }

    async fn start_module(config: ShopeeSimConfig, module: Module) -> std::io::Result<Self> {
        let sim = ShopeeSim::new(config);
        let server = sim.start(([127, 0, 0, 1], 0).into()).await?;
        Ok(ShopeeHandle {
            sim,
            server,
            module,
        })
    }

    /// The module whose calls this handle reports.
    pub fn module(&self) -> Module {
        self.module
    }

    /// The wire log's name of `call` in this handle's module.
    fn call(&self, call: &str) -> String {
        match self.module {
            Module::MediaSpace => call.to_owned(),
            Module::Media => format!("media/{call}"),
        }
    }

    /// The fault scopes of the part uploads and the completion in this handle's module.
    fn scopes(&self) -> (&'static str, &'static str) {
        match self.module {
            Module::MediaSpace => (scope::SHOPEE_PARTS, scope::SHOPEE_COMMIT),
            Module::Media => (scope::SHOPEE_MEDIA_PARTS, scope::SHOPEE_MEDIA_COMMIT),
        }
    }

    /// Starts a simulator with the defaults and a 50 ms transcode.
    pub async fn start_fast() -> std::io::Result<Self> {
        Self::start(ShopeeSimConfig {
            transcode_delay: Duration::from_millis(50),
            ..ShopeeSimConfig::default()
        })
        .await
    }

    /// Where to point the provider.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The simulator, for anything the suite does not ask.
    pub fn sim(&self) -> &ShopeeSim {
        &self.sim
    }
}

impl SimHandle for ShopeeHandle {
    fn platform(&self) -> &str {
        "shopee"
    }

    fn capabilities(&self) -> SimCapabilities {
        SimCapabilities {
            cancel_upload: true,
            processing_failure: true,
            rate_limiting: false,
            completion_fields: match self.module {
                Module::MediaSpace => vec![
                    "video_upload_id".into(),
                    "part_seq_list".into(),
                    "report_data.upload_cost".into(),
                ],
                // The reference lists the task id only.
                Module::Media => vec!["video_upload_id".into()],
            },
            instant_upload_min_bytes: None,
        }
    }

    fn wire(&self) -> &WireLog {
        self.sim.wire()
    }

    fn part_number_field(&self) -> &str {
        "part_seq"
    }

    fn parts_on_wire(&self, session: &UploadSession) -> Vec<WirePart> {
        self.sim
            .wire()
            .calls(&self.call("upload_video_part"))
            .into_iter()
            .filter(|r| r.param("video_upload_id") == Some(session.upload_id.as_str()))
            .map(|r| WirePart {
                number_as_sent: r.param("part_seq").unwrap_or_default().to_owned(),
                size: r
                    .files
                    .iter()
                    .find(|(name, _)| name == "part_content")
                    .map(|(_, n)| *n as u64)
                    .unwrap_or(0),
                accepted: r.error.is_none(),
                error: r.error.clone(),
                etag: None,
            })
            .collect()
    }

    fn completion(&self, session: &UploadSession) -> Option<CompletionPayload> {
        let r = self
            .sim
            .wire()
            .calls(&self.call("complete_video_upload"))
            .into_iter()
            .rev()
            .find(|r| r.param("video_upload_id") == Some(session.upload_id.as_str()))?;
        let part_numbers = r
            .param("part_seq_list")
            .and_then(|l| serde_json::from_str::<Vec<u32>>(l).ok());
        Some(CompletionPayload {
            part_numbers,
            etags: None,
            fields: fields_of(&r.params),
            accepted: r.error.is_none(),
        })
    }

    fn assembled(&self, asset_id: &str) -> Option<Bytes> {
        self.sim.assembled_bytes(asset_id)
    }

    fn set_processing_failure(&self, reason: Option<&str>) -> Option<ExpectedFailure> {
        self.sim
            .update_config(|c| c.force_transcode_failure = reason.map(str::to_owned));
        Some(ExpectedFailure {
            state: Some("FAILED".into()),
            reason: reason.map(str::to_owned),
        })
    }

    fn advance_clock(&self, by: Duration) {
        self.sim.clock().advance(by);
    }

    fn fault_targets(&self) -> Option<FaultTargets<'_>> {
        let prefix = self.module.prefix();
        let call = |name: &str| format!("{prefix}{name}");
        let (parts, commit) = self.scopes();
        Some(FaultTargets {
            faults: self.sim.faults(),
            parts: parts.into(),
            commit: commit.into(),
            all_but_commit: vec![
                call("init_video_upload"),
                parts.into(),
                call("get_video_upload_result"),
                call("cancel_video_upload"),
            ],
            part_call: self.call("upload_video_part"),
            seed: HOSTILE_SEED,
        })
    }

    /// Shopee computes a session's expiry at `init_video_upload`: the next session gets a
    /// 60 s lifetime, and the clock moves 61 s after its `parts`-th part (the lifetime is put
    /// back then, for the sessions opened later).
    fn expire_session_after_parts(&self, parts: u64) -> Option<SessionExpiry> {
        let lifetime = self.sim.config().upload_session_ttl;
        self.sim
            .update_config(|c| c.upload_session_ttl = SHORT_SESSION);
        let sim = self.sim.clone();
        self.sim
            .faults()
            .after_requests(self.scopes().0, parts, move || {
                sim.clock().advance(SHORT_SESSION + Duration::from_secs(1));
                sim.update_config(|c| c.upload_session_ttl = lifetime);
            });
        Some(SessionExpiry {
            refused_part_code: Some("error_invalid_upload_id".into()),
            init_call: Some(
                match self.module() {
                    marketmedia_sim::shopee::Module::Media => "media/init_video_upload",
                    marketmedia_sim::shopee::Module::MediaSpace => "init_video_upload",
                }
                .into(),
            ),
            session_param: Some("video_upload_id".into()),
            ..SessionExpiry::default()
        })
    }

    fn session_expired(&self, id: &str) -> Option<bool> {
        self.sim.upload(id).map(|u| u.expired)
    }

    fn traffic(&self) -> Option<&marketmedia_sim::Traffic> {
        Some(self.sim.traffic())
    }
}
