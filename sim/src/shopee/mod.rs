//! A faithful local simulator of Shopee Open Platform v2's two media modules (platforms.md §1
//! and §5): chunked video upload (`init_video_upload`, `upload_video_part`,
//! `complete_video_upload`, `get_video_upload_result`, `cancel_video_upload`) and
//! `upload_image`, under `/api/v2/media_space/` and under `/api/v2/media/` (business and
//! scene declared at init, the part size given by the init answer, images for a business and
//! scene answered with `image_list`), with Shopee's signing, timestamp and access-token checks,
//! its envelope and error codes. Both modules share the sessions, parts and signature logic.
//!
//! ```no_run
//! use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = ShopeeSim::new(ShopeeSimConfig::default());
//! let server = sim.start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("Shopee simulator at {}", server.base_url());
//! // ... drive a client against server.base_url() ...
//! assert!(sim.wire().count("init_video_upload") <= 1);
//! # Ok(()) }
//! ```
//!
//! What it enforces, and every choice made where the platform text is open, is written down
//! in `docs/simulators/shopee.md`.

mod auth;
mod calls;
mod image;
mod media;
mod oauth;
mod probe;
mod video;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use md5::{Digest, Md5};
use serde::Serialize;

use crate::common::Retention;
use crate::faults::ErrorStyle;
use crate::skeleton::{BodyLimit, SimCore};
use crate::tokens::{Grant, RefreshRules, TokenKind, TokenLedger, TokenLifetimes};
use crate::util::{md5_hex, millis, random_hex};

/// The test partner id (the one in platforms.md's signing vectors).
pub const TEST_PARTNER_ID: u64 = 2_001_887;
/// The test partner key.
pub const TEST_PARTNER_KEY: &str = "6d6d2d73696d2d73686f7065652d706172746e65722d6b65792d30303031";
/// The test shop id.
pub const TEST_SHOP_ID: u64 = 600_001;
/// The test shop's access token, valid for [`ShopeeSimConfig::access_token_ttl`] from the
/// simulator's creation.
pub const TEST_ACCESS_TOKEN: &str = "4a6f8c2e1b3d5f7091a2b3c4d5e6f708";
/// A second test shop under the same partner (a main account's other shop: after the first
/// token refresh every shop has its own id and token).
pub const TEST_SHOP_ID_2: u64 = 600_002;
/// The second test shop's access token.
pub const TEST_ACCESS_TOKEN_2: &str = "5b7f9d3f2c4e6a8102b3c4d5e6f7a819";
/// The test main account: it authorizes every shop of the partner at once
/// (`auth/token/get` with `main_account_id` answers `shop_id_list`).
pub const TEST_MAIN_ACCOUNT_ID: u64 = 700_001;
/// `auth/token/get` (GetAccessToken): a code for the first tokens.
pub const TOKEN_GET_PATH: &str = "/api/v2/auth/token/get";
/// `auth/access_token/get` (RefreshAccessToken): a refresh token for a new pair.
pub const ACCESS_TOKEN_GET_PATH: &str = "/api/v2/auth/access_token/get";
/// Every simulated `v2.media_space` call's path starts with this.
pub const API_PREFIX: &str = "/api/v2/media_space/";
/// Every simulated `v2.media` call's path starts with this.
pub const MEDIA_API_PREFIX: &str = "/api/v2/media/";
/// `v2.media`'s "Maximum 1GB" for Shopee Video, read as GiB like "30MB" and "4MB".
pub const DEFAULT_MEDIA_MAX_VIDEO_BYTES: u64 = 1024 * 1024 * 1024;
/// The `business`/`scene` pairs `v2.media.init_video_upload` accepts: 3 (Video) / 1
/// (Shopee Video), the only pair Shopee's reference lists.
pub const MEDIA_VIDEO_USES: &[(i64, i64)] = &[(3, 1)];
/// The `business`/`scene` pairs `v2.media.upload_image` accepts: 2 (Returns) / 1 (Return
/// Seller Self Arrange Pickup Proof Image), the only pair Shopee's reference lists.
pub const MEDIA_IMAGE_USES: &[(i64, i64)] = &[(2, 1)];

/// Which of Shopee's two media modules a call or session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    /// `v2.media_space.*`.
    MediaSpace,
    /// `v2.media.*`.
    Media,
}

impl Module {
    /// `media_space` or `media`.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::MediaSpace => "media_space",
            Module::Media => "media",
        }
    }

    /// The module's path prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Module::MediaSpace => API_PREFIX,
            Module::Media => MEDIA_API_PREFIX,
        }
    }
}
/// "4MB": the exact size of every video part but the last, 4 × 1024 × 1024 bytes.
pub const DEFAULT_PART_SIZE: u64 = 4 * 1024 * 1024;
/// "30 MB", read as MiB like "4MB": 31,457,280 bytes.
pub const DEFAULT_MAX_VIDEO_BYTES: u64 = 30 * 1024 * 1024;
/// "10 MB" per image, read as MiB: 10,485,760 bytes.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// The platform name in wire records.
const PLATFORM: &str = "shopee";

/// The simulator's settings. Every field has a default suited to fast tests.
#[derive(Debug, Clone)]
pub struct ShopeeSimConfig {
    /// The partner id the simulator knows. Default [`TEST_PARTNER_ID`].
    pub partner_id: u64,
    /// The partner key signatures are checked with. Default [`TEST_PARTNER_KEY`].
    pub partner_key: String,
    /// The authorised shop. Default [`TEST_SHOP_ID`].
    pub shop_id: u64,
    /// The shop's initial access token. Default [`TEST_ACCESS_TOKEN`].
    pub access_token: String,
    /// The other shops the partner is authorised for, each with its own id and token (and
    /// the name and region `v2.shop.get_shop_info` answers). Default: one,
    /// [`TEST_SHOP_ID_2`] in `MY`.
    pub more_shops: Vec<ShopeeSimShop>,
    /// How long an access token lives, on the sim clock, from its issue (the simulator's
    /// creation for the initial token). Default 4 h.
    pub access_token_ttl: Duration,
    /// How long a refresh token lives from its issue. Default 30 days.
    pub refresh_token_ttl: Duration,
    /// How long an authorization code stays usable (once). Default 10 minutes.
    pub code_ttl: Duration,
    /// The main account that authorizes every shop (and merchant) at once. Default
    /// [`TEST_MAIN_ACCOUNT_ID`].
    pub main_account_id: u64,
    /// The merchants (cross-border) the main account also authorizes. Default none.
    pub merchant_ids: Vec<u64>,
    /// How far the `timestamp` parameter may be from the sim clock, either way. Default 300 s.
    pub timestamp_tolerance: Duration,
    /// Region prefix of `video_upload_id` (`sg_…_000000`) and, uppercased, the
    /// `*_url_region` of media URLs. Default `sg`.
    pub region: String,
    /// Largest `file_size` accepted by `init_video_upload`. Default
    /// [`DEFAULT_MAX_VIDEO_BYTES`] (30 MiB).
    pub max_video_bytes: u64,
    /// Exact size of every part but the last. Default [`DEFAULT_PART_SIZE`] (4 MiB).
    pub part_size: u64,
    /// `v2.media`: the `part_size` its init answers with, and then enforces. Shopee does not
    /// publish the value. Default [`DEFAULT_PART_SIZE`] (4 MiB).
    pub media_part_size: u64,
    /// `v2.media`: largest `file_size` accepted for Shopee Video. Default
    /// [`DEFAULT_MEDIA_MAX_VIDEO_BYTES`] (1 GiB).
    pub media_max_video_bytes: u64,
    /// `v2.media`: shortest accepted duration, declared at init and probed at completion.
    /// Default 1 s.
    pub media_min_video_duration: Duration,
    /// `v2.media`: longest accepted duration. Default 180 s.
    pub media_max_video_duration: Duration,
    /// `v2.media`: most images in one `upload_image` call. Default 3.
    pub media_max_images_per_call: usize,
    /// How long an upload session that was not completed stays usable, on the sim clock, from
    /// `init_video_upload`. Default 24 h.
    pub upload_session_ttl: Duration,
    /// Time between `complete_video_upload` and the final status (SUCCEEDED or FAILED), on
    /// the sim clock (so a test may also advance the clock). Default 300 ms.
    pub transcode_delay: Duration,
    /// Shortest accepted video duration. Default 10 s.
    pub min_video_duration: Duration,
    /// Longest accepted video duration. Default 60 s.
    pub max_video_duration: Duration,
    /// When set, every completed upload ends FAILED with this message, whatever its content.
    /// Default `None`.
    pub force_transcode_failure: Option<String>,
    /// How many `init_video_upload` calls succeed per UTC day (sim clock) before
    /// `error_limit`; `None` = unlimited. Default `None`.
    pub daily_upload_limit: Option<u32>,
    /// Most images in one `upload_image` call. Default 9.
    pub max_images_per_call: usize,
    /// Largest accepted image. Default [`DEFAULT_MAX_IMAGE_BYTES`] (10 MiB).
    pub max_image_bytes: u64,
    /// Whether the test shop is whitelisted for `ratio=3:4` images. Default `false`.
    pub ratio_3_4_whitelisted: bool,
    /// Largest request body read; a larger one is answered `error_param` with HTTP 413.
    /// Default 128 MiB (room for 9 images of 10 MiB and an oversized one).
    pub max_request_bytes: usize,
    /// How many wire records and bytes of completed uploads are kept, oldest evicted first.
    /// Default [`Retention::default`].
    pub retention: Retention,
    /// Base of the video URLs returned on SUCCEEDED (`{base}/{id}`). Default
    /// `https://cvf.shopee.sg/file`.
    pub video_url_base: String,
    /// Base of image and thumbnail URLs (`{base}/{id}`). Default `https://cf.shopee.sg/file`.
    pub image_url_base: String,
}

impl Default for ShopeeSimConfig {
    fn default() -> Self {
        Self {
            partner_id: TEST_PARTNER_ID,
            partner_key: TEST_PARTNER_KEY.to_string(),
            shop_id: TEST_SHOP_ID,
            access_token: TEST_ACCESS_TOKEN.to_string(),
            more_shops: vec![ShopeeSimShop {
                shop_id: TEST_SHOP_ID_2,
                access_token: TEST_ACCESS_TOKEN_2.to_string(),
                shop_name: "Sim Shop MY".to_string(),
                region: "MY".to_string(),
            }],
            access_token_ttl: Duration::from_secs(4 * 3600),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            code_ttl: Duration::from_secs(600),
            main_account_id: TEST_MAIN_ACCOUNT_ID,
            merchant_ids: Vec::new(),
            timestamp_tolerance: Duration::from_secs(300),
            region: "sg".to_string(),
            max_video_bytes: DEFAULT_MAX_VIDEO_BYTES,
            part_size: DEFAULT_PART_SIZE,
            media_part_size: DEFAULT_PART_SIZE,
            media_max_video_bytes: DEFAULT_MEDIA_MAX_VIDEO_BYTES,
            media_min_video_duration: Duration::from_secs(1),
            media_max_video_duration: Duration::from_secs(180),
            media_max_images_per_call: 3,
            upload_session_ttl: Duration::from_secs(24 * 3600),
            transcode_delay: Duration::from_millis(300),
            min_video_duration: Duration::from_secs(10),
            max_video_duration: Duration::from_secs(60),
            force_transcode_failure: None,
            daily_upload_limit: None,
            max_images_per_call: 9,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            ratio_3_4_whitelisted: false,
            max_request_bytes: 128 * 1024 * 1024,
            retention: Retention::default(),
            video_url_base: "https://cvf.shopee.sg/file".to_string(),
            image_url_base: "https://cf.shopee.sg/file".to_string(),
        }
    }
}

/// Another shop of the simulated partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopeeSimShop {
    /// Its shop id.
    pub shop_id: u64,
    /// Its initial access token.
    pub access_token: String,
    /// Its name (`get_shop_info`'s `shop_name`).
    pub shop_name: String,
    /// Its region (`get_shop_info`'s `region`, e.g. `MY`).
    pub region: String,
}

/// The test credentials a client needs, as the `marketmedia-sim` binary prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShopeeCredentials {
    /// Partner id.
    pub partner_id: u64,
    /// Partner key (the HMAC key).
    pub partner_key: String,
    /// Shop id.
    pub shop_id: u64,
    /// A valid access token for the shop.
    pub access_token: String,
    /// The shop's refresh token, valid [`ShopeeSimConfig::refresh_token_ttl`] from the
    /// simulator's creation (or its last reset); spent by its first use.
    pub refresh_token: String,
    /// An authorization code for the shop (`auth/token/get` with this `shop_id`), valid
    /// [`ShopeeSimConfig::code_ttl`] from the simulator's creation (or its last reset), once.
    pub authorization_code: String,
    /// The main account authorizing every shop at once.
    pub main_account_id: u64,
}

/// The status of a video upload, as `get_video_upload_result` reports it. `media_space` uses
/// INITIATED, TRANSCODING, SUCCEEDED, FAILED and CANCELLED; `media` uses INITIATED,
/// UPLOADING, UPLOADED, PROCESSING, SUCCEEDED, FAILED and CANCELLED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UploadStatus {
    /// Initiated; parts may be uploaded (`media`: no part arrived yet).
    Initiated,
    /// `media`: some parts arrived, not all.
    Uploading,
    /// `media`: every part arrived; waiting for `complete_video_upload`.
    Uploaded,
    /// `media_space`: completed; transcoding.
    Transcoding,
    /// `media`: completed; processing.
    Processing,
    /// Transcoded; the video is usable.
    Succeeded,
    /// Transcoding failed (see the message).
    Failed,
    /// Cancelled.
    Cancelled,
}

impl UploadStatus {
    /// The platform's spelling, e.g. `TRANSCODING`.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Initiated => "INITIATED",
            UploadStatus::Uploading => "UPLOADING",
            UploadStatus::Uploaded => "UPLOADED",
            UploadStatus::Transcoding => "TRANSCODING",
            UploadStatus::Processing => "PROCESSING",
            UploadStatus::Succeeded => "SUCCEEDED",
            UploadStatus::Failed => "FAILED",
            UploadStatus::Cancelled => "CANCELLED",
        }
    }
}

/// One part the simulator holds for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// The part number (0-based).
    pub part_seq: u32,
    /// `part_seq` exactly as the client sent it the last time.
    pub part_seq_as_sent: String,
    /// Size in bytes.
    pub size: usize,
    /// `content_md5` (`media`: `part_md5`) as the client sent it the last time.
    pub content_md5_as_sent: String,
    /// How many times this part was accepted (re-sends replace it).
    pub times_received: u32,
}

/// A snapshot of one upload session.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadSnapshot {
    /// The session id.
    pub video_upload_id: String,
    /// The module that opened it (its calls answer only under that module's paths).
    pub module: Module,
    /// `media`: `file_name`, `duration` (s), `business` and `scene` as declared at init.
    pub declared: Option<MediaDeclared>,
    /// The part size the session enforces.
    pub part_size: u64,
    /// The status now (by the sim clock).
    pub status: UploadStatus,
    /// Whether the session expired without being completed (calls then answer
    /// `error_invalid_upload_id`).
    pub expired: bool,
    /// The shop that created it.
    pub shop_id: u64,
    /// `file_md5` from init (`media`: empty, it sends none).
    pub file_md5: String,
    /// `file_size` from init.
    pub file_size: u64,
    /// How many parts the file must be cut into.
    pub part_count: u32,
    /// `part_seq_list` as received by a successful `complete_video_upload`.
    pub part_seq_list: Option<Vec<u32>>,
    /// `report_data.upload_cost` as received by a successful `complete_video_upload`.
    pub upload_cost: Option<u64>,
    /// The video's duration in seconds, once the container was probed successfully.
    pub duration_secs: Option<f64>,
    /// The FAILED message, when the status is FAILED.
    pub failure: Option<String>,
}

/// What a `v2.media.init_video_upload` declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaDeclared {
    /// `business`.
    pub business: i64,
    /// `scene`.
    pub scene: i64,
    /// `file_name`.
    pub file_name: String,
    /// `duration`, in seconds.
    pub duration: u64,
}

/// An image accepted by `upload_image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// The image id returned.
    pub image_id: String,
    /// The bytes received.
    pub bytes: Bytes,
    /// `scene` as applied (`normal` or `desc`; `media`: the scene code).
    pub scene: String,
    /// `ratio` as applied (`1:1` or `3:4`; `media`: empty).
    pub ratio: String,
    /// The module that took it.
    pub module: Module,
    /// `media`: the `business` code (`None` under `media_space`).
    pub business: Option<i64>,
}

/// What the simulator counted since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShopeeCounters {
    /// Requests received (any path).
    pub requests: u64,
    /// Requests answered with a non-empty `error`.
    pub rejected: u64,
    /// Sessions created by `init_video_upload`.
    pub sessions_initiated: u64,
    /// Sessions completed.
    pub sessions_completed: u64,
    /// Sessions cancelled.
    pub sessions_cancelled: u64,
    /// Parts accepted (re-sends included).
    pub parts_accepted: u64,
    /// Bytes of accepted parts (re-sends included).
    pub part_bytes_accepted: u64,
    /// Images accepted by `upload_image`.
    pub images_accepted: u64,
    /// Images refused inside a successful `upload_image` answer.
    pub images_refused: u64,
}

/// The Shopee `media_space` simulator. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct ShopeeSim {
    core: Arc<SimCore<ShopeeSimConfig, ShopeeState>>,
}

impl ShopeeSim {
    /// A simulator with `config`; its initial access token is issued now (sim clock).
    pub fn new(config: ShopeeSimConfig) -> Self {
        let max_records = config.retention.max_wire_records;
        let core = SimCore::new(config, |config, clock| {
            ShopeeState::new(config, clock.now_millis())
        });
        core.wire().set_max_records(max_records);
        Self {
            core: Arc::new(core),
        }
    }

    /// The axum application: every path is answered (unknown ones with Shopee's not-found
    /// envelope) and recorded in the wire log. Axum's default body limit is replaced by
    /// [`ShopeeSimConfig::max_request_bytes`].
    pub fn router(&self) -> Router {
        let routes = Router::new().fallback(route);
        self.core
            .app(routes, ErrorStyle::Shopee, BodyLimit::Own, self.clone())
    }

    sim_accessors!(ShopeeSimConfig);
    sim_start!();

    /// The test credentials.
    pub fn credentials(&self) -> ShopeeCredentials {
        let c = self.config();
        shop_credentials(&c, c.shop_id, &c.access_token)
    }

    /// The credentials of every shop the partner is authorised for: the configured shop
    /// first, then [`ShopeeSimConfig::more_shops`].
    pub fn shops(&self) -> Vec<ShopeeCredentials> {
        let c = self.config();
        let mut all = vec![self.credentials()];
        all.extend(
            c.more_shops
                .iter()
                .map(|s| shop_credentials(&c, s.shop_id, &s.access_token)),
        );
        all
    }

    crate::tokens::sim_tokens!();

    /// Issues a new access token for the configured shop, valid for the access lifetime in
    /// force from now; older tokens stay valid until they expire.
    pub fn issue_access_token(&self) -> String {
        let shop_id = self.config().shop_id;
        let now = self.core.clock().now_millis();
        self.state()
            .ledger
            .issue_access(shop_grant(shop_id), now)
            .access_token
    }

    /// The assembled file of a completed upload (`None` before completion or for an unknown
    /// id).
    pub fn assembled_bytes(&self, video_upload_id: &str) -> Option<Bytes> {
        self.state().assembled(video_upload_id)
    }

    /// The parts the simulator holds for a session, by part number (`None` for an unknown id).
    pub fn parts(&self, video_upload_id: &str) -> Option<Vec<PartInfo>> {
        self.state().parts(video_upload_id)
    }

    /// The status of an upload now (`None` for an unknown id).
    pub fn upload_status(&self, video_upload_id: &str) -> Option<UploadStatus> {
        self.upload(video_upload_id).map(|u| u.status)
    }

    /// A snapshot of an upload session (`None` for an unknown id).
    pub fn upload(&self, video_upload_id: &str) -> Option<UploadSnapshot> {
        let now = self.core.clock().now_millis();
        self.state().snapshot(video_upload_id, now)
    }

    /// Every session id, in creation order.
    pub fn upload_ids(&self) -> Vec<String> {
        self.state().upload_ids()
    }

    /// An image accepted by `upload_image`.
    pub fn image(&self, image_id: &str) -> Option<StoredImage> {
        self.state().image(image_id)
    }

    /// Every accepted image, in arrival order.
    pub fn images(&self) -> Vec<StoredImage> {
        self.state().images()
    }

    /// The counters.
    pub fn counters(&self) -> ShopeeCounters {
        self.state().counters.clone()
    }

    fn state(&self) -> MutexGuard<'_, ShopeeState> {
        self.core.state()
    }
}

async fn route(State(sim): State<ShopeeSim>, req: Request<Body>) -> Response {
    calls::handle(sim, req).await
}

// ---------------------------------------------------------------------------------------------
// State

#[derive(Debug)]
pub(super) struct StoredPart {
    pub(super) info: PartInfo,
    pub(super) bytes: Bytes,
}

#[derive(Debug)]
pub(super) enum Verdict {
    Ready { duration_secs: f64 },
    Failed { message: String },
}

#[derive(Debug)]
pub(super) enum Phase {
    Initiated,
    Completed {
        ready_at_ms: i64,
        /// `None` once evicted by the retention limit.
        assembled: Option<Bytes>,
        verdict: Verdict,
        probed_duration: Option<f64>,
        part_seq_list: Vec<u32>,
        upload_cost: u64,
        media_key: String,
    },
    Cancelled,
}

#[derive(Debug)]
pub(super) struct Upload {
    pub(super) module: Module,
    pub(super) declared: Option<MediaDeclared>,
    /// When the status last changed (sim clock, ms): `media`'s `update_time`.
    pub(super) updated_ms: i64,
    pub(super) shop_id: u64,
    pub(super) file_md5: String,
    pub(super) file_size: u64,
    pub(super) part_size: u64,
    pub(super) part_count: u32,
    pub(super) expires_at_ms: i64,
    pub(super) parts: BTreeMap<u32, StoredPart>,
    /// MD5 of the parts `0..n` received so far, in order, so that completing does not hash the
    /// whole file again; `None` once a part already hashed was replaced by other bytes.
    pub(super) prefix_md5: Option<(Md5, u32)>,
    pub(super) phase: Phase,
}

impl Upload {
    /// Folds the parts that extend the hashed prefix into it. Called after every stored part.
    pub(super) fn advance_prefix_md5(&mut self) {
        if let Some((hasher, next)) = &mut self.prefix_md5 {
            while let Some(part) = self.parts.get(next) {
                hasher.update(&part.bytes);
                *next += 1;
            }
        }
    }

    /// The MD5 of the assembled file (the parts in order), from the prefix when it covers
    /// every part.
    pub(super) fn file_md5_of(&self, file: &[u8]) -> String {
        match &self.prefix_md5 {
            Some((hasher, next)) if *next == self.part_count => {
                hex::encode(hasher.clone().finalize())
            }
            _ => md5_hex(file),
        }
    }

    pub(super) fn status(&self, now_ms: i64) -> UploadStatus {
        let media = self.module == Module::Media;
        match &self.phase {
            Phase::Initiated if !media || self.parts.is_empty() => UploadStatus::Initiated,
            Phase::Initiated if self.parts.len() < self.part_count as usize => {
                UploadStatus::Uploading
            }
            Phase::Initiated => UploadStatus::Uploaded,
            Phase::Cancelled => UploadStatus::Cancelled,
            Phase::Completed {
                ready_at_ms,
                verdict,
                ..
            } => {
                if now_ms < *ready_at_ms {
                    if media {
                        UploadStatus::Processing
                    } else {
                        UploadStatus::Transcoding
                    }
                } else {
                    match verdict {
                        Verdict::Ready { .. } => UploadStatus::Succeeded,
                        Verdict::Failed { .. } => UploadStatus::Failed,
                    }
                }
            }
        }
    }

    /// A session that was never completed nor cancelled expires.
    pub(super) fn expired(&self, now_ms: i64) -> bool {
        matches!(self.phase, Phase::Initiated) && now_ms >= self.expires_at_ms
    }

    /// The exact size part `seq` must have.
    pub(super) fn expected_part_size(&self, seq: u32) -> u64 {
        if seq + 1 == self.part_count {
            self.file_size - self.part_size * u64::from(self.part_count - 1)
        } else {
            self.part_size
        }
    }
}

/// Everything the simulator remembers.
#[derive(Debug)]
pub(super) struct ShopeeState {
    /// Access and refresh tokens, codes (credentials `shop:<id>`, `merchant:<id>`,
    /// `main_account:<id>`).
    pub(super) ledger: TokenLedger,
    pub(super) uploads: HashMap<String, Upload>,
    pub(super) upload_order: Vec<String>,
    pub(super) images: Vec<StoredImage>,
    pub(super) inits_per_day: HashMap<i64, u32>,
    pub(super) counters: ShopeeCounters,
}

impl ShopeeState {
    pub(super) fn new(config: &ShopeeSimConfig, now_ms: i64) -> Self {
        let mut ledger = TokenLedger::new(
            TokenLifetimes {
                access_ms: lifetime_ms(config.access_token_ttl),
                refresh_ms: lifetime_ms(config.refresh_token_ttl),
                code_ms: lifetime_ms(config.code_ttl),
                overlap_ms: 0,
            },
            // Every refresh answers a new refresh token and spends the one presented.
            RefreshRules {
                rotate: true,
                spend: true,
                keep_expiry: false,
                retain_previous_until_new_used: false,
            },
            mint,
        );
        let shops = std::iter::once((config.shop_id, &config.access_token)).chain(
            config
                .more_shops
                .iter()
                .map(|s| (s.shop_id, &s.access_token)),
        );
        for (shop_id, access) in shops {
            let refresh = initial_secret(config.partner_id, shop_id, "refresh");
            ledger.seed(shop_grant(shop_id), access, Some(&refresh), now_ms);
            let code = initial_secret(config.partner_id, shop_id, "code");
            ledger.seed_code(shop_grant(shop_id), &code, now_ms);
        }
        Self {
            ledger,
            uploads: HashMap::new(),
            upload_order: Vec::new(),
            images: Vec::new(),
            inits_per_day: HashMap::new(),
            counters: ShopeeCounters::default(),
        }
    }

    pub(super) fn assembled(&self, id: &str) -> Option<Bytes> {
        match &self.uploads.get(id)?.phase {
            Phase::Completed { assembled, .. } => assembled.clone(),
            _ => None,
        }
    }

    /// Whether upload `id` completed and its assembled bytes were evicted.
    pub(super) fn evicted(&self, id: &str) -> bool {
        self.uploads.get(id).is_some_and(|u| {
            matches!(
                u.phase,
                Phase::Completed {
                    assembled: None,
                    ..
                }
            )
        })
    }

    /// Evicts the assembled bytes of the oldest completed uploads until at most `max` bytes
    /// are held (the newest is always kept).
    pub(super) fn enforce_retention(&mut self, max: u64) {
        let held = self.upload_order.iter().enumerate().filter_map(|(i, id)| {
            match &self.uploads.get(id)?.phase {
                Phase::Completed {
                    assembled: Some(b), ..
                } => Some((id.clone(), i as u64, b.len() as u64)),
                _ => None,
            }
        });
        for id in crate::common::to_evict(held, max) {
            if let Some(Phase::Completed { assembled, .. }) =
                self.uploads.get_mut(&id).map(|u| &mut u.phase)
            {
                *assembled = None;
            }
        }
    }

    pub(super) fn parts(&self, id: &str) -> Option<Vec<PartInfo>> {
        let upload = self.uploads.get(id)?;
        Some(upload.parts.values().map(|p| p.info.clone()).collect())
    }

    pub(super) fn snapshot(&self, id: &str, now_ms: i64) -> Option<UploadSnapshot> {
        let u = self.uploads.get(id)?;
        let status = u.status(now_ms);
        let (part_seq_list, upload_cost, duration_secs, failure) = match &u.phase {
            Phase::Completed {
                part_seq_list,
                upload_cost,
                probed_duration,
                verdict,
                ..
            } => (
                Some(part_seq_list.clone()),
                Some(*upload_cost),
                *probed_duration,
                match verdict {
                    Verdict::Failed { message } if status == UploadStatus::Failed => {
                        Some(message.clone())
                    }
                    _ => None,
                },
            ),
            _ => (None, None, None, None),
        };
        Some(UploadSnapshot {
            video_upload_id: id.to_string(),
            module: u.module,
            declared: u.declared.clone(),
            part_size: u.part_size,
            status,
            expired: u.expired(now_ms),
            shop_id: u.shop_id,
            file_md5: u.file_md5.clone(),
            file_size: u.file_size,
            part_count: u.part_count,
            part_seq_list,
            upload_cost,
            duration_secs,
            failure,
        })
    }

    pub(super) fn upload_ids(&self) -> Vec<String> {
        self.upload_order.clone()
    }

    pub(super) fn image(&self, id: &str) -> Option<StoredImage> {
        self.images.iter().find(|i| i.image_id == id).cloned()
    }

    pub(super) fn images(&self) -> Vec<StoredImage> {
        self.images.clone()
    }
}

/// A Shopee secret: 32 lowercase hex characters, as Shopee's tokens and codes are.
fn mint(_kind: TokenKind) -> String {
    random_hex(16)
}

/// A lifetime in ms for the ledger (at least 1).
pub(super) fn lifetime_ms(d: Duration) -> u64 {
    u64::try_from(millis(d)).unwrap_or(u64::MAX).max(1)
}

/// The initial refresh token or code of a shop: derived from the partner and the shop, so
/// that a reset gives the same values again (a printed JSON line stays usable).
fn initial_secret(partner_id: u64, shop_id: u64, what: &str) -> String {
    md5_hex(format!("shopee-sim-{what}-{partner_id}-{shop_id}").as_bytes())
}

/// The ledger subject (and credential) of a shop.
pub(super) fn shop_subject(shop_id: u64) -> String {
    format!("shop:{shop_id}")
}

/// The grant of a shop's own tokens.
pub(super) fn shop_grant(shop_id: u64) -> Grant {
    Grant::new(shop_subject(shop_id), vec![shop_subject(shop_id)])
}

/// The grant of a main account's first tokens: every shop and merchant it authorizes.
pub(super) fn main_account_grant(config: &ShopeeSimConfig) -> Grant {
    let shops = std::iter::once(config.shop_id).chain(config.more_shops.iter().map(|s| s.shop_id));
    let subjects = shops
        .map(shop_subject)
        .chain(config.merchant_ids.iter().map(|m| format!("merchant:{m}")))
        .collect();
    Grant::new(format!("main_account:{}", config.main_account_id), subjects)
}

/// Whether `shop_id` is one of the partner's shops.
pub(super) fn is_shop(config: &ShopeeSimConfig, shop_id: u64) -> bool {
    shop_id == config.shop_id || config.more_shops.iter().any(|s| s.shop_id == shop_id)
}

fn shop_credentials(c: &ShopeeSimConfig, shop_id: u64, access_token: &str) -> ShopeeCredentials {
    ShopeeCredentials {
        partner_id: c.partner_id,
        partner_key: c.partner_key.clone(),
        shop_id,
        access_token: access_token.to_owned(),
        refresh_token: initial_secret(c.partner_id, shop_id, "refresh"),
        authorization_code: initial_secret(c.partner_id, shop_id, "code"),
        main_account_id: c.main_account_id,
    }
}

impl crate::control::Control for ShopeeSim {
    fn control_ledger(&self, f: &mut dyn FnMut(&mut TokenLedger)) -> bool {
        f(&mut self.state().ledger);
        true
    }

    /// `{"shop_id": N}` (one shop) or `{"main_account_id": N}` (every shop at once), as the
    /// redirect after the seller's consent names them.
    fn control_code_grant(
        &self,
        body: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Grant, String> {
        let c = self.config();
        let id = |name: &str| body.get(name).and_then(serde_json::Value::as_u64);
        match (id("shop_id"), id("main_account_id")) {
            (Some(shop), None) if is_shop(&c, shop) => Ok(shop_grant(shop)),
            (Some(shop), None) => Err(format!("shop {shop} is not one of the partner's shops")),
            (None, Some(main)) if main == c.main_account_id => Ok(main_account_grant(&c)),
            (None, Some(main)) => Err(format!("main account {main} is not the partner's")),
            _ => Err("give {\"shop_id\": N} or {\"main_account_id\": N}".to_owned()),
        }
    }

    fn control_wire(&self) -> &crate::WireLog {
        self.wire()
    }

    fn control_clock(&self) -> &crate::SimClock {
        self.clock()
    }

    fn control_faults(&self) -> &crate::FaultHandle {
        self.faults()
    }

    fn control_uploads(&self) -> Vec<serde_json::Value> {
        self.upload_ids()
            .iter()
            .filter_map(|id| self.upload(id))
            .map(|u| {
                serde_json::json!({
                    "id": u.video_upload_id,
                    "module": u.module.as_str(),
                    "declared": u.declared,
                    "part_size": u.part_size,
                    "status": u.status.as_str(),
                    "expired": u.expired,
                    "shop_id": u.shop_id,
                    "file_md5": u.file_md5,
                    "file_size": u.file_size,
                    "part_count": u.part_count,
                    "part_seq_list": u.part_seq_list,
                    "upload_cost": u.upload_cost,
                    "duration_secs": u.duration_secs,
                    "failure": u.failure,
                })
            })
            .collect()
    }

    fn control_parts(&self, id: &str) -> Option<serde_json::Value> {
        let parts = self.parts(id)?;
        Some(serde_json::Value::Array(
            parts
                .into_iter()
                .map(|p| {
                    serde_json::json!({
                        "part_seq": p.part_seq,
                        "part_seq_as_sent": p.part_seq_as_sent,
                        "size": p.size,
                        "content_md5_as_sent": p.content_md5_as_sent,
                        "times_received": p.times_received,
                    })
                })
                .collect(),
        ))
    }

    fn control_bytes(&self, id: &str) -> Option<Bytes> {
        self.assembled_bytes(id)
    }

    fn control_evicted(&self, id: &str) -> bool {
        self.state().evicted(id)
    }

    fn control_reset(&self) {
        self.core.reset_state();
    }

    fn control_sessions(&self) -> Vec<crate::control::SessionStanding> {
        use crate::control::{SessionStanding, Standing};
        let now_ms = self.clock().now_millis();
        let st = self.state();
        st.upload_order
            .iter()
            .filter_map(|id| {
                let u = st.uploads.get(id)?;
                let standing = match u.phase {
                    Phase::Initiated if u.expired(now_ms) => Standing::Expired,
                    Phase::Initiated => Standing::Open,
                    Phase::Completed { .. } => Standing::Completed,
                    Phase::Cancelled => Standing::Cancelled,
                };
                Some(SessionStanding {
                    id: id.clone(),
                    standing,
                    parts: u.parts.len() as u64,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(size: usize) -> Upload {
        Upload {
            shop_id: 1,
            module: Module::MediaSpace,
            declared: None,
            updated_ms: 0,
            file_md5: String::new(),
            file_size: size as u64,
            part_size: size as u64,
            part_count: 1,
            expires_at_ms: 0,
            parts: BTreeMap::new(),
            prefix_md5: None,
            phase: Phase::Completed {
                ready_at_ms: 0,
                assembled: Some(Bytes::from(vec![0u8; size])),
                verdict: Verdict::Ready {
                    duration_secs: 12.0,
                },
                probed_duration: None,
                part_seq_list: vec![0],
                upload_cost: 0,
                media_key: String::new(),
            },
        }
    }

    /// The oldest completed uploads (in init order) lose their bytes first; the newest stays.
    #[test]
    fn retention_evicts_the_oldest_completed_uploads_first() {
        let mut st = ShopeeState::new(&ShopeeSimConfig::default(), 0);
        for id in ["a", "b", "c"] {
            st.uploads.insert(id.to_owned(), completed(100));
            st.upload_order.push(id.to_owned());
        }
        st.enforce_retention(250);
        assert!(st.evicted("a"));
        assert_eq!(st.assembled("a"), None);
        assert!(!st.evicted("b") && !st.evicted("c"));
        st.enforce_retention(0);
        assert!(st.evicted("b"));
        assert_eq!(st.assembled("c").map(|b| b.len()), Some(100));
    }
}
