//! A local simulator of eBay's Media API (`/commerce/media/v1_beta`): `createVideo`,
//! `uploadVideo` (whole, or resumable in `Content-Range` chunks sent in order), `getVideo`,
//! `createImageFromFile` and `getImage`, with the OAuth bearer token check, the 50 POST per
//! 5 s user limit and eBay's `errors[]` shape.
//!
//! ```no_run
//! use marketmedia_sim::ebay::{EbaySim, EbaySimConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = EbaySim::new(EbaySimConfig::default());
//! let server = sim.start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("eBay simulator at {}", EbaySim::api_base_url(&server));
//! # Ok(()) }
//! ```
//!
//! What it enforces, and each choice made where eBay's pages are silent, is written down in
//! `docs/simulators/ebay.md`. It is written from those pages, not from any client.

mod api;
mod oauth;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use serde::Serialize;

use crate::common::Retention;
use crate::control::Control;
use crate::faults::ErrorStyle;
use crate::skeleton::{BodyLimit, SimCore};
use crate::tokens::{Grant, RefreshRules, TokenKind, TokenLedger, TokenLifetimes};
use crate::util::{md5_hex, millis, random_hex};
use crate::{SimClock, SimServer};

pub use api::codes;

/// The test user's OAuth access token (`Authorization: Bearer …`).
pub const TEST_ACCESS_TOKEN: &str = "v^1.1#i^1#sim-ebay-user-token-0001";
/// The test application's client id (App ID).
pub const TEST_CLIENT_ID: &str = "SimSelle-Marketme-SBX-0a1b2c3d4-5e6f7a8b";
/// The test application's client secret (Cert ID).
pub const TEST_CLIENT_SECRET: &str = "SBX-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b";
/// The test application's RuName, the `redirect_uri` of the code grant.
pub const TEST_RU_NAME: &str = "Sim_Seller-SimSelle-Market-abcdefgh";
/// The test user (the credential `user:<name>`).
pub const TEST_USERNAME: &str = "sim_ebay_seller";
/// The OAuth scopes the test user consented to (space-separated).
pub const TEST_SCOPE: &str =
    "https://api.ebay.com/oauth/api_scope https://api.ebay.com/oauth/api_scope/sell.inventory";
/// The token endpoint's path (`https://api.ebay.com/identity/v1/oauth2/token`).
pub const TOKEN_PATH: &str = "/identity/v1/oauth2/token";
/// The Media API's base path.
pub const BASE_PATH: &str = "/commerce/media/v1_beta";
/// "150MB, or 157,286,400 bytes": the largest video `createVideo` accepts.
pub const MAX_VIDEO_BYTES: u64 = 157_286_400;

/// The platform name in wire records.
const PLATFORM: &str = "ebay";

/// Wire log names of the calls (eBay's operation ids).
pub mod calls {
    /// `POST /video`.
    pub const CREATE_VIDEO: &str = "createVideo";
    /// `POST /video/{video_id}/upload`.
    pub const UPLOAD_VIDEO: &str = "uploadVideo";
    /// `GET /video/{video_id}`.
    pub const GET_VIDEO: &str = "getVideo";
    /// `POST /image/create_image_from_file`.
    pub const CREATE_IMAGE_FROM_FILE: &str = "createImageFromFile";
    /// `GET /image/{image_id}`.
    pub const GET_IMAGE: &str = "getImage";
    /// `POST /identity/v1/oauth2/token` (both grants; `grant_type` in the wire record).
    pub const OAUTH_TOKEN: &str = "oauthToken";
}

/// How processing of an uploaded video ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum VideoOutcome {
    /// `LIVE`, with a DASH and an HLS playlist.
    #[default]
    Live,
    /// `PROCESSING_FAILED`.
    ProcessingFailed,
    /// `BLOCKED` by moderation.
    Blocked,
}

/// The simulator's settings. Every field has a default suited to tests.
#[derive(Debug, Clone)]
pub struct EbaySimConfig {
    /// The user's initial access token. Default [`TEST_ACCESS_TOKEN`].
    pub access_token: String,
    /// The application's client id. Default [`TEST_CLIENT_ID`].
    pub client_id: String,
    /// The application's client secret. Default [`TEST_CLIENT_SECRET`].
    pub client_secret: String,
    /// The application's RuName (`redirect_uri`). Default [`TEST_RU_NAME`].
    pub ru_name: String,
    /// The user. Default [`TEST_USERNAME`].
    pub username: String,
    /// The scopes the user consented to. Default [`TEST_SCOPE`].
    pub scope: String,
    /// User access token lifetime. Default 7200 s.
    pub access_token_lifetime: Duration,
    /// Refresh token lifetime. Default 47,304,000 s (18 months).
    pub refresh_token_lifetime: Duration,
    /// Authorization code lifetime (`expires_in=299` on the consent redirect). Default 299 s.
    pub code_lifetime: Duration,
    /// Largest `size` in `createVideo`. Default [`MAX_VIDEO_BYTES`].
    pub max_video_bytes: u64,
    /// The user-level limit on POST requests: at most `.0` in any `.1` (sim clock). eBay:
    /// 50 per 5 seconds. `None` turns it off.
    pub post_limit: Option<(usize, Duration)>,
    /// PROCESSING lasts this long after the last byte arrived (sim clock). Default 300 ms.
    pub processing_delay: Duration,
    /// How processing ends for videos created from now on. Default [`VideoOutcome::Live`].
    pub outcome: VideoOutcome,
    /// How long a video still `PENDING_UPLOAD` is kept after `createVideo` (sim clock), after
    /// which it is unknown (404). eBay states none: an assumption. Default 24 h.
    pub pending_ttl: Duration,
    /// Largest image `createImageFromFile` takes. eBay's pages read state none: an
    /// assumption. Default 12 MiB.
    pub max_image_bytes: usize,
    /// Largest request body read. Default the largest video plus 1 MiB.
    pub max_request_bytes: usize,
    /// How many wire records and bytes of fully uploaded videos are kept, oldest evicted
    /// first (the newest always kept). Default [`Retention::default`].
    pub retention: Retention,
}

impl Default for EbaySimConfig {
    fn default() -> Self {
        Self {
            access_token: TEST_ACCESS_TOKEN.to_string(),
            client_id: TEST_CLIENT_ID.to_string(),
            client_secret: TEST_CLIENT_SECRET.to_string(),
            ru_name: TEST_RU_NAME.to_string(),
            username: TEST_USERNAME.to_string(),
            scope: TEST_SCOPE.to_string(),
            access_token_lifetime: Duration::from_secs(7200),
            refresh_token_lifetime: Duration::from_secs(47_304_000),
            code_lifetime: Duration::from_secs(299),
            max_video_bytes: MAX_VIDEO_BYTES,
            post_limit: Some((50, Duration::from_secs(5))),
            processing_delay: Duration::from_millis(300),
            outcome: VideoOutcome::Live,
            pending_ttl: Duration::from_secs(24 * 3600),
            max_image_bytes: 12 << 20,
            max_request_bytes: MAX_VIDEO_BYTES as usize + (1 << 20),
            retention: Retention::default(),
        }
    }
}

/// One `Content-Range` chunk as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkRecord {
    /// First byte (inclusive).
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
    /// Whether it was taken (appended, or an identical re-send of bytes already held).
    pub accepted: bool,
    /// The error id when refused.
    pub error: Option<String>,
}

/// A video as the simulator holds it.
#[derive(Debug, Clone)]
pub(crate) struct Video {
    pub title: String,
    pub description: Option<String>,
    pub size: u64,
    pub created_ms: i64,
    /// The bytes received so far, in order; emptied when evicted.
    pub bytes: Vec<u8>,
    pub chunks: Vec<ChunkRecord>,
    /// When the last byte arrived (status PROCESSING from then).
    pub uploaded_ms: Option<i64>,
    /// The order in which videos were fully uploaded (for the retention limit).
    pub uploaded_order: u64,
    /// Whether the retention limit evicted its bytes (every byte had arrived).
    pub evicted: bool,
    pub outcome: VideoOutcome,
}

impl Video {
    /// How many bytes arrived (all of them for an evicted video).
    pub fn received(&self) -> u64 {
        if self.evicted {
            self.size
        } else {
            self.bytes.len() as u64
        }
    }
}

/// An image as the simulator holds it.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub bytes: Bytes,
    pub created_ms: i64,
}

/// The simulator's state.
#[derive(Debug)]
pub(crate) struct State {
    /// The user's tokens and codes (credential `user:<name>`).
    pub ledger: TokenLedger,
    pub videos: BTreeMap<String, Video>,
    pub images: BTreeMap<String, Image>,
    /// Sim-clock times of the POSTs in the current window.
    pub posts: VecDeque<i64>,
    /// When set, every POST is answered 429.
    pub force_rate_limit: bool,
    /// How many videos were fully uploaded (the next one's `uploaded_order`).
    pub uploads_finished: u64,
}

impl State {
    /// A fresh state: the user's initial tokens and code issued at `now_ms`.
    pub(crate) fn new(config: &EbaySimConfig, now_ms: i64) -> Self {
        let lifetime = |d: Duration| u64::try_from(millis(d)).unwrap_or(u64::MAX).max(1);
        let mut ledger = TokenLedger::new(
            TokenLifetimes {
                access_ms: lifetime(config.access_token_lifetime),
                refresh_ms: lifetime(config.refresh_token_lifetime),
                code_ms: lifetime(config.code_lifetime),
                overlap_ms: 0,
            },
            // The refresh grant answers an access token only; the refresh token stays the
            // user's until it expires.
            RefreshRules {
                rotate: false,
                spend: false,
                keep_expiry: true,
                retain_previous_until_new_used: false,
            },
            mint,
        );
        let grant = user_grant(config);
        let refresh = initial_secret(config, TokenKind::Refresh);
        ledger.seed(grant.clone(), &config.access_token, Some(&refresh), now_ms);
        ledger.seed_code(grant, &initial_secret(config, TokenKind::Code), now_ms);
        State {
            ledger,
            videos: BTreeMap::new(),
            images: BTreeMap::new(),
            posts: VecDeque::new(),
            force_rate_limit: false,
            uploads_finished: 0,
        }
    }

    /// Evicts the bytes of the oldest fully uploaded videos until at most `max` bytes are
    /// held (the newest is always kept); their metadata and status stay.
    pub(crate) fn enforce_retention(&mut self, max: u64) {
        let held = self
            .videos
            .iter()
            .filter(|(_, v)| v.uploaded_ms.is_some() && !v.evicted)
            .map(|(id, v)| (id.clone(), v.uploaded_order, v.size));
        for id in crate::common::to_evict(held, max) {
            if let Some(v) = self.videos.get_mut(&id) {
                v.bytes = Vec::new();
                v.evicted = true;
            }
        }
    }
}

/// The eBay Media API simulator. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EbaySim {
    core: Arc<SimCore<EbaySimConfig, State>>,
}

impl EbaySim {
    /// A simulator with `config`.
    pub fn new(config: EbaySimConfig) -> Self {
        let max_records = config.retention.max_wire_records;
        let core = SimCore::new(config, |config, clock| {
            State::new(config, clock.now_millis())
        });
        core.wire().set_max_records(max_records);
        Self {
            core: Arc::new(core),
        }
    }

    sim_accessors!(EbaySimConfig);
    sim_start!();

    /// `{server}/commerce/media/v1_beta`: the base URL a client is given.
    pub fn api_base_url(server: &SimServer) -> String {
        format!("{}{BASE_PATH}", server.base_url())
    }

    /// The axum application (the fault layer outermost, the control surface beside it).
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route(&format!("{BASE_PATH}/video"), post(api::create_video))
            .route(&format!("{BASE_PATH}/video/{{id}}"), get(api::get_video))
            .route(
                &format!("{BASE_PATH}/video/{{id}}/upload"),
                post(api::upload_video),
            )
            .route(
                &format!("{BASE_PATH}/image/create_image_from_file"),
                post(api::create_image),
            )
            .route(&format!("{BASE_PATH}/image/{{id}}"), get(api::get_image))
            .route(TOKEN_PATH, post(oauth::token))
            .fallback(api::unknown);
        self.core
            .app(routes, ErrorStyle::Ebay, BodyLimit::Own, self.clone())
    }

    /// Answers every POST with 429 (`true`) or not, whatever the window holds.
    pub fn set_rate_limited(&self, on: bool) {
        self.core.state().force_rate_limit = on;
    }

    /// How processing of `video_id` ends (when it has not ended yet).
    pub fn set_video_outcome(&self, video_id: &str, outcome: VideoOutcome) {
        if let Some(v) = self.core.state().videos.get_mut(video_id) {
            v.outcome = outcome;
        }
    }

    /// The chunks `video_id` received, in arrival order.
    pub fn chunks(&self, video_id: &str) -> Vec<ChunkRecord> {
        self.core
            .state()
            .videos
            .get(video_id)
            .map(|v| v.chunks.clone())
            .unwrap_or_default()
    }

    /// The bytes of `video_id`, once every byte arrived (`None` once evicted by the
    /// retention limit).
    pub fn video_bytes(&self, video_id: &str) -> Option<Bytes> {
        let st = self.core.state();
        let v = st.videos.get(video_id)?;
        (!v.evicted && v.bytes.len() as u64 == v.size).then(|| Bytes::from(v.bytes.clone()))
    }

    /// The video's status now, as `getVideo` would answer it.
    pub fn video_status(&self, video_id: &str) -> Option<&'static str> {
        let cfg = self.config();
        let now = self.clock().now_millis();
        let st = self.core.state();
        st.videos
            .get(video_id)
            .map(|v| api::status_of(v, &cfg, now))
    }

    /// The bytes of an image, by its id.
    pub fn image_bytes(&self, image_id: &str) -> Option<Bytes> {
        self.core
            .state()
            .images
            .get(image_id)
            .map(|i| i.bytes.clone())
    }

    /// The test credentials, as the standalone JSON line shows them: the user's initial
    /// access token, the application's client id, secret and RuName.
    pub fn credentials(&self) -> serde_json::Value {
        let c = self.config();
        serde_json::json!({
            "access_token": c.access_token,
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "ru_name": c.ru_name,
        })
    }

    /// `{server}/identity/v1/oauth2/token`: the token endpoint a client is given.
    pub fn token_url(server: &SimServer) -> String {
        format!("{}{TOKEN_PATH}", server.base_url())
    }

    /// The one account of the JSON line: the user, its initial access token, its refresh
    /// token (valid 18 months from the simulator's creation or last reset) and an
    /// authorization code (299 s from then, once).
    pub fn accounts(&self) -> serde_json::Value {
        let c = self.config();
        serde_json::json!([{
            "name": "ebay",
            "username": c.username,
            "access_token": c.access_token,
            "refresh_token": initial_secret(&c, TokenKind::Refresh),
            "authorization_code": initial_secret(&c, TokenKind::Code),
        }])
    }

    crate::tokens::sim_tokens!();

    pub(crate) fn core(&self) -> &SimCore<EbaySimConfig, State> {
        &self.core
    }
}

/// eBay's secrets: `v^1.1#i^1#…` (the shape of eBay's tokens and codes).
fn mint(kind: TokenKind) -> String {
    let tag = match kind {
        TokenKind::Access => "p^3",
        TokenKind::Refresh => "r^1",
        TokenKind::Code => "f^0",
    };
    format!("v^1.1#i^1#{tag}#{}", random_hex(24))
}

/// The user's initial refresh token and code, derived from the configuration so that a
/// reset gives the same values again.
fn initial_secret(config: &EbaySimConfig, kind: TokenKind) -> String {
    let seed =
        md5_hex(format!("ebay-sim-{kind:?}-{}-{}", config.client_id, config.username).as_bytes());
    let tag = if kind == TokenKind::Code {
        "f^0"
    } else {
        "r^1"
    };
    format!("v^1.1#i^1#{tag}#{seed}")
}

/// The user's grant, with the scopes consented to.
pub(crate) fn user_grant(config: &EbaySimConfig) -> Grant {
    Grant {
        credential: format!("user:{}", config.username),
        subjects: Vec::new(),
        scope: config.scope.clone(),
    }
}

impl Control for EbaySim {
    fn control_ledger(&self, f: &mut dyn FnMut(&mut TokenLedger)) -> bool {
        f(&mut self.core.state().ledger);
        true
    }

    /// `{}` (or `{"scope": "…"}`, a subset of the consented scopes): the user's consent.
    fn control_code_grant(
        &self,
        body: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Grant, String> {
        let mut grant = user_grant(&self.config());
        if let Some(scope) = body.get("scope").and_then(serde_json::Value::as_str) {
            if !oauth::scope_within(scope, &grant.scope) {
                return Err(format!("scope {scope:?} is not within {:?}", grant.scope));
            }
            grant.scope = scope.to_owned();
        }
        Ok(grant)
    }

    fn control_wire(&self) -> &crate::WireLog {
        self.core.wire()
    }

    fn control_clock(&self) -> &SimClock {
        self.core.clock()
    }

    fn control_faults(&self) -> &crate::FaultHandle {
        self.core.faults()
    }

    fn control_uploads(&self) -> Vec<serde_json::Value> {
        let cfg = self.config();
        let now = self.clock().now_millis();
        let st = self.core.state();
        st.videos
            .iter()
            .map(|(id, v)| {
                serde_json::json!({
                    "videoId": id,
                    "title": v.title,
                    "size": v.size,
                    "received": v.received(),
                    "evicted": v.evicted,
                    "status": api::status_of(v, &cfg, now),
                })
            })
            .collect()
    }

    fn control_parts(&self, id: &str) -> Option<serde_json::Value> {
        let st = self.core.state();
        let v = st.videos.get(id)?;
        serde_json::to_value(&v.chunks).ok()
    }

    fn control_bytes(&self, id: &str) -> Option<Bytes> {
        self.video_bytes(id)
    }

    fn control_evicted(&self, id: &str) -> bool {
        self.core.state().videos.get(id).is_some_and(|v| v.evicted)
    }

    fn control_reset(&self) {
        self.core.reset_state();
    }

    fn control_sessions(&self) -> Vec<crate::control::SessionStanding> {
        use crate::control::{SessionStanding, Standing};
        let ttl_ms = i64::try_from(self.config().pending_ttl.as_millis()).unwrap_or(i64::MAX);
        let now_ms = self.clock().now_millis();
        let st = self.core.state();
        st.videos
            .iter()
            .map(|(id, v)| {
                // The last byte completes an eBay upload; a video still waiting for bytes past
                // its keeping time is dropped by the next call (`api::expire`).
                let standing = match v.uploaded_ms {
                    Some(_) => Standing::Completed,
                    None if now_ms >= v.created_ms.saturating_add(ttl_ms) => Standing::Expired,
                    None => Standing::Open,
                };
                SessionStanding {
                    id: id.clone(),
                    standing,
                    parts: v.chunks.len() as u64,
                }
            })
            .collect()
    }
}
