//! The Shopify simulator as a [`SimHandle`].
//!
//! A Shopify upload is one request to the staged target: the plan has one part, reported as
//! part 0; the completion is the attach mutation (`fileCreate`, or `productCreateMedia` for a
//! product), found in the wire log by the staged `resourceUrl` it names.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::raw::UploadSession;

use crate::suite::{
    CompletionPayload, ExpectedFailure, FaultTargets, SessionExpiry, SimCapabilities, SimHandle,
    WirePart,
};
use marketmedia_sim::faults::scope;
use marketmedia_sim::shopify::{calls, MediaOutcome, ShopifyRunning, ShopifySim, ShopifySimConfig};
use marketmedia_sim::WireLog;

/// The seed of the hostile fault profile on this simulator. One staged request per upload
/// gives the "every call but the completion" case some 50 requests, in which a seed must
/// meet every fault kind: 4 does (seeds 1, 2, 5 and 0x5409 never drew a 429 there).
const HOSTILE_SEED: u64 = 4;

/// A running Shopify simulator (Admin API and staged host), reported to the suite.
#[derive(Debug)]
pub struct ShopifyHandle {
    running: ShopifyRunning,
    fail_next: Mutex<bool>,
}

impl ShopifyHandle {
    /// Starts a simulator with `config` on free local ports.
    pub async fn start(config: ShopifySimConfig) -> std::io::Result<Self> {
        let running = ShopifySim::new(config)
            .launch(([127, 0, 0, 1], 0).into(), ([127, 0, 0, 1], 0).into())
            .await?;
        Ok(ShopifyHandle {
            running,
            fail_next: Mutex::new(false),
        })
    }

    /// Starts a simulator with 20 ms of processing, a week-long access token, and a cost
    /// bucket large enough for the suite's hundreds of calls in seconds (the throttle itself
    /// is tested against the default simulator in the simulator's and the provider's tests).
    pub async fn start_fast() -> std::io::Result<Self> {
        Self::start(ShopifySimConfig {
            processing_delay: Duration::from_millis(20),
            bucket_size: 1e9,
            restore_rate: 1e9,
            access_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            ..ShopifySimConfig::default()
        })
        .await
    }

    /// The client base URL (`http://127.0.0.1:PORT`, replacing `https://SHOP`).
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// The store's domain.
    pub fn shop(&self) -> String {
        self.running.sim.config().shop
    }

    /// The simulator, for anything the suite does not ask.
    pub fn sim(&self) -> &ShopifySim {
        &self.running.sim
    }

    fn armed(&self) -> std::sync::MutexGuard<'_, bool> {
        self.fail_next.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The staged key of a resource URL (`…/tmp/{key}/{file}`).
fn staged_key(resource_url: &str) -> Option<&str> {
    resource_url.split("/tmp/").nth(1)?.split('/').next()
}

impl SimHandle for ShopifyHandle {
    fn platform(&self) -> &str {
        "shopify"
    }

    fn capabilities(&self) -> SimCapabilities {
        SimCapabilities {
            // No call abandons a staged upload.
            cancel_upload: false,
            processing_failure: true,
            rate_limiting: true,
            // The suite's uploads go to the file library: fileCreate's `files`.
            completion_fields: vec!["files".into()],
            instant_upload_min_bytes: None,
        }
    }

    fn wire(&self) -> &WireLog {
        self.running.sim.wire()
    }

    fn part_number_field(&self) -> &str {
        "none: one request to the staged target (reported as part 0)"
    }

    fn parts_on_wire(&self, session: &UploadSession) -> Vec<WirePart> {
        let Some(key) = staged_key(&session.upload_id) else {
            return Vec::new();
        };
        let suffix = format!("/upload/{key}");
        self.running
            .sim
            .wire()
            .calls(calls::STAGED_UPLOAD)
            .into_iter()
            .filter(|r| r.path.ends_with(&suffix))
            .map(|r| WirePart {
                number_as_sent: "0".into(),
                size: r
                    .files
                    .first()
                    .map(|(_, len)| *len as u64)
                    .unwrap_or(r.body_len as u64),
                accepted: r.error.is_none(),
                error: r.error.clone(),
                etag: None,
            })
            .collect()
    }

    fn completion(&self, session: &UploadSession) -> Option<CompletionPayload> {
        let wire = self.running.sim.wire();
        let mut records = wire.calls(calls::FILE_CREATE);
        records.extend(wire.calls(calls::PRODUCT_CREATE_MEDIA));
        let r = records
            .into_iter()
            .rfind(|r| r.params.values().any(|v| v.contains(&session.upload_id)))?;
        Some(CompletionPayload {
            part_numbers: None,
            etags: None,
            fields: super::fields_of(&r.params),
            accepted: r.error.is_none() && r.status == 200,
        })
    }

    fn assembled(&self, asset_id: &str) -> Option<Bytes> {
        self.running.sim.media_bytes(asset_id)
    }

    fn set_processing_failure(&self, reason: Option<&str>) -> Option<ExpectedFailure> {
        *self.armed() = reason.is_some();
        Some(ExpectedFailure {
            state: Some("FAILED".into()),
            reason: None,
        })
    }

    fn processing_started(&self, handle_id: &str) {
        if *self.armed() {
            self.running
                .sim
                .set_media_outcome(handle_id, MediaOutcome::Failed);
        }
    }

    fn set_rate_limited(&self, on: bool) -> bool {
        self.running.sim.set_throttled(on);
        true
    }

    fn advance_clock(&self, by: Duration) {
        self.running.sim.clock().advance(by);
    }

    /// The staged requests are the parts; every GraphQL call shares one path, so the
    /// completion's faults fall on the other GraphQL calls too, and the faults "on every call
    /// but the completion" fall on the staged requests only.
    fn fault_targets(&self) -> Option<FaultTargets<'_>> {
        Some(FaultTargets {
            faults: self.running.sim.faults(),
            parts: scope::SHOPIFY_PARTS.into(),
            commit: scope::SHOPIFY_GRAPHQL.into(),
            all_but_commit: vec![scope::SHOPIFY_PARTS.into()],
            part_call: calls::STAGED_UPLOAD.into(),
            seed: HOSTILE_SEED,
        })
    }

    fn traffic(&self) -> Option<&marketmedia_sim::Traffic> {
        Some(self.running.sim.traffic())
    }

    /// Not armed: the case expires a session between the parts of a 4-part upload, and a
    /// staged target takes one request (its expiry on the simulator's clock, 400
    /// `ExpiredToken`, is tested in `sim/tests/it/sim_shopify.rs`; the provider maps it to
    /// `NotFound`, which restarts the upload).
    fn expire_session_after_parts(&self, _parts: u64) -> Option<SessionExpiry> {
        None
    }
}
