//! A faithful local simulator of the Lazada Open Platform gateway serving the Media Center video
//! calls and the product image calls (platforms.md section 2).
//!
//! Clients use `<server>/rest` as their base URL ([`LazadaSim::rest_base_url`]) and sign the API
//! path without `/rest`, e.g. `/media/video/block/create`. See `docs/simulators/lazada.md` for
//! every rule enforced and every choice made where the platform text is open.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use marketmedia_sim::lazada::{LazadaSim, LazadaSimConfig};
//! let sim = LazadaSim::new(LazadaSimConfig::default());
//! let server = sim.start(([127, 0, 0, 1], 0).into()).await?;
//! let base_url = LazadaSim::rest_base_url(&server); // http://127.0.0.1:PORT/rest
//! let creds = sim.credentials(); // app_key, app_secret, access_token
//! # let _ = (base_url, creds); Ok(()) }
//! ```

mod auth;
pub mod calls;
mod image;
mod video;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::Router;
use serde::Serialize;

use crate::common::Retention;
use crate::faults::ErrorStyle;
use crate::skeleton::{BodyLimit, SimCore};
use crate::tokens::{Grant, RefreshRules, TokenKind, TokenLedger, TokenLifetimes};
use crate::util::{md5_hex, millis, random_hex};
use crate::SimServer;
pub use calls::{codes, ApiError, ErrorFamily, ErrorType};
use calls::{fallback, route, Call};
pub use image::ImageFormat;

/// The platform name in the wire log.
pub const PLATFORM: &str = "lazada";
/// The test application's `app_key`.
pub const LAZADA_TEST_APP_KEY: &str = "100132";
/// The test application's secret (the HMAC key of every signature).
pub const LAZADA_TEST_APP_SECRET: &str = "lazada-sim-secret-3b6f1c0e9d2a4f85";
/// The seller access token valid from the simulator's creation for
/// [`LazadaSimConfig::access_token_lifetime`].
pub const LAZADA_TEST_ACCESS_TOKEN: &str = "50000sim601lazadatestaccesstoken0000000000000000000";
/// The simulated seller's login (`account` in the token answers).
pub const LAZADA_TEST_SELLER_ACCOUNT: &str = "seller@lazada-sim.invalid";
/// The only `sign_method` the gateway accepts.
pub const LAZADA_SIGN_METHOD: &str = "sha256";

const MIB: usize = 1024 * 1024;

/// The simulator's configuration. Every default is listed on its field.
#[derive(Debug, Clone)]
pub struct LazadaSimConfig {
    /// The known application key. Default [`LAZADA_TEST_APP_KEY`].
    pub app_key: String,
    /// Its secret. Default [`LAZADA_TEST_APP_SECRET`].
    pub app_secret: String,
    /// The seller access token registered at creation. Default [`LAZADA_TEST_ACCESS_TOKEN`].
    pub access_token: String,
    /// How long an access token stays valid on the sim clock. Default 30 days (an online
    /// app's; 7 days for an app in test status).
    pub access_token_lifetime: Duration,
    /// How long a refresh token stays valid from the authorization; refreshing never
    /// extends it. Default 180 days (an online app's; 14 days in test status).
    pub refresh_token_lifetime: Duration,
    /// How long an authorization code stays usable (once). Default 30 minutes.
    pub code_lifetime: Duration,
    /// The seller's login, `account` in the token answers. Default
    /// [`LAZADA_TEST_SELLER_ACCOUNT`].
    pub seller_account: String,
    /// Largest accepted difference between `timestamp` and the sim clock. Default 7200 s.
    pub timestamp_tolerance: Duration,
    /// Accept a lowercase-hex `sign`. Default `false` (the SDKs send uppercase).
    pub accept_lowercase_sign: bool,
    /// Largest accepted `fileBytes` at block/create, inclusive. Default 99,999,999: Lazada's
    /// "should be less than 100M", read as less than 100 MB = 100,000,000 bytes.
    pub max_file_bytes: u64,
    /// Refuse a call sent with another HTTP method than its own (GET for get and quota, POST
    /// for the others) with the gateway error `InvalidHttpMethod`. Default true.
    pub enforce_http_method: bool,
    /// Largest accepted block at block/upload, inclusive. Default 5 MiB (5,242,880).
    pub max_block_bytes: usize,
    /// How long an upload accepts blocks and a commit after block/create. Default 24 h.
    pub upload_ttl: Duration,
    /// `capacity_size` of the video space. Default 10 GiB.
    pub quota_capacity_bytes: u64,
    /// `used_size` when the simulator starts. Default 0.
    pub quota_used_bytes: u64,
    /// Time a committed video spends in READY_FOR_TRANSCODE. Default 200 ms.
    pub transcode_queue_delay: Duration,
    /// Time in TRANSCODING. Default 300 ms.
    pub transcode_delay: Duration,
    /// Time in READY_FOR_AUDIT. Default 200 ms.
    pub audit_delay: Duration,
    /// How committed videos end. Default [`VideoOutcome::AuditSuccess`].
    pub video_outcome: VideoOutcome,
    /// Largest accepted image, inclusive. Default 3 MiB (3,145,728).
    pub max_image_bytes: usize,
    /// Largest accepted image width and height in pixels. Default 5000.
    pub max_image_dimension: u32,
    /// Answer Media Center business failures with `code:"0"` and `success:false` (as the
    /// platform sometimes does) instead of the error code. Default `false`.
    pub business_failures_as_code_zero: bool,
    /// A second commit of an already committed upload answers the same `video_id` instead of
    /// `FAIL_TO_BLOCK_COMPLETE`. Default `false`.
    pub recommit_returns_video: bool,
    /// Largest request body read; a larger one is answered HTTP 413 (in the gateway's JSON
    /// envelope). Default 64 MiB.
    pub max_request_bytes: usize,
    /// How many wire records and bytes of committed videos are kept, oldest evicted first.
    /// Default [`Retention::default`].
    pub retention: Retention,
    /// Base of the `video_url` and image `url` answered. Default `https://cdn.lazada-sim.invalid`.
    pub cdn_base_url: String,
}

impl Default for LazadaSimConfig {
    fn default() -> Self {
        LazadaSimConfig {
            app_key: LAZADA_TEST_APP_KEY.to_string(),
            app_secret: LAZADA_TEST_APP_SECRET.to_string(),
            access_token: LAZADA_TEST_ACCESS_TOKEN.to_string(),
            access_token_lifetime: Duration::from_secs(30 * 24 * 3600),
            refresh_token_lifetime: Duration::from_secs(180 * 24 * 3600),
            code_lifetime: Duration::from_secs(30 * 60),
            seller_account: LAZADA_TEST_SELLER_ACCOUNT.to_string(),
            timestamp_tolerance: Duration::from_secs(7200),
            accept_lowercase_sign: false,
            max_file_bytes: 100_000_000 - 1,
            enforce_http_method: true,
            max_block_bytes: 5 * MIB,
            upload_ttl: Duration::from_secs(24 * 3600),
            quota_capacity_bytes: 10 * 1024 * MIB as u64,
            quota_used_bytes: 0,
            transcode_queue_delay: Duration::from_millis(200),
            transcode_delay: Duration::from_millis(300),
            audit_delay: Duration::from_millis(200),
            video_outcome: VideoOutcome::AuditSuccess,
            max_image_bytes: 3 * MIB,
            max_image_dimension: 5000,
            business_failures_as_code_zero: false,
            recommit_returns_video: false,
            max_request_bytes: 64 * MIB,
            retention: Retention::default(),
            cdn_base_url: "https://cdn.lazada-sim.invalid".to_string(),
        }
    }
}

/// The test credentials a client needs (what the `marketmedia-sim` binary prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LazadaCredentials {
    /// `app_key`.
    pub app_key: String,
    /// The HMAC key.
    pub app_secret: String,
    /// A valid seller `access_token`.
    pub access_token: String,
    /// The seller's refresh token (`/auth/token/refresh`), valid
    /// [`LazadaSimConfig::refresh_token_lifetime`] from the simulator's creation (or its last
    /// reset).
    pub refresh_token: String,
    /// An authorization code (`/auth/token/create`), valid
    /// [`LazadaSimConfig::code_lifetime`] from the simulator's creation (or its last reset),
    /// once.
    pub authorization_code: String,
    /// `sign_method`: always `sha256`.
    pub sign_method: String,
}

/// What a standalone launch prints: where to point a client and how to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LazadaSimInfo {
    /// Always `lazada`.
    pub platform: String,
    /// The client base URL, `http://127.0.0.1:PORT/rest`.
    pub base_url: String,
    /// The token calls' base URL (Lazada's `https://auth.lazada.com/rest`),
    /// `http://127.0.0.1:PORT/auth/rest`.
    pub auth_base_url: String,
    /// The test credentials.
    pub credentials: LazadaCredentials,
}

/// A simulator serving in the background; dropping `server` stops it.
#[derive(Debug)]
pub struct LazadaRunning {
    /// The simulator (state, wire log, clock).
    pub sim: LazadaSim,
    /// The server; keep it alive as long as the simulator should answer.
    pub server: SimServer,
    /// Base URL and credentials, serializable for printing.
    pub info: LazadaSimInfo,
}

/// Starts a Lazada simulator with `config` on `addr` (port 0 = a free port) and returns it with
/// its base URL and credentials. This is the one call the `marketmedia-sim` binary needs.
pub async fn launch(config: LazadaSimConfig, addr: SocketAddr) -> std::io::Result<LazadaRunning> {
    let sim = LazadaSim::new(config);
    let server = sim.start(addr).await?;
    let info = LazadaSimInfo {
        platform: PLATFORM.to_string(),
        base_url: LazadaSim::rest_base_url(&server),
        auth_base_url: LazadaSim::auth_base_url(&server),
        credentials: sim.credentials(),
    };
    Ok(LazadaRunning { sim, server, info })
}

/// The Lazada simulator. Cheap to clone: clones share state, wire log and clock.
#[derive(Debug, Clone)]
pub struct LazadaSim {
    core: Arc<SimCore<LazadaSimConfig, Store>>,
}

impl LazadaSim {
    /// A simulator with `config`; its access token is valid from now on the sim clock.
    pub fn new(config: LazadaSimConfig) -> Self {
        let max_records = config.retention.max_wire_records;
        let core = SimCore::new(config, |config, clock| {
            Store::new(config, clock.now_millis())
        });
        core.wire().set_max_records(max_records);
        LazadaSim {
            core: Arc::new(core),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.core.state()
    }

    sim_accessors!(LazadaSimConfig);
    sim_start!();

    /// The base URL of one country's gateway on a server of this simulator:
    /// `<server>/<country>/rest` (one seller token serves every gateway, as Lazada's
    /// cross-border sellers' does).
    pub fn gateway_base_url(server: &SimServer, country: &str) -> String {
        format!(
            "{}/{}/rest",
            server.base_url(),
            country.to_ascii_lowercase()
        )
    }

    /// The most requests each gateway (country) held at once, and the most over all
    /// gateways, since the simulator was created.
    pub fn peak_in_flight(&self) -> (BTreeMap<String, usize>, usize) {
        let store = self.store();
        (store.peak_in_flight.clone(), store.peak_in_flight_total)
    }

    /// The base URL clients use for a server of this simulator: `<server>/rest`.
    pub fn rest_base_url(server: &SimServer) -> String {
        format!("{}/rest", server.base_url())
    }

    /// The base URL of the token calls (`/auth/token/create`, `/auth/token/refresh`), Lazada's
    /// one auth gateway for every country (`https://auth.lazada.com/rest`):
    /// `<server>/auth/rest`.
    pub fn auth_base_url(server: &SimServer) -> String {
        format!("{}/auth/rest", server.base_url())
    }

    /// The axum application: the eight calls under `/rest`, GET or POST each; any other
    /// `/rest/...` path answers `InvalidApiPath`. The simulator reads bodies itself, up to
    /// [`LazadaSimConfig::max_request_bytes`].
    pub fn router(&self) -> Router {
        let mut routes: Router<LazadaSim> = Router::new();
        for call in Call::ALL {
            routes = routes.route(&format!("/rest{}", call.api_path()), route(call));
            // The country gateways (`api.lazada.sg`, `.com.my`…) as path prefixes of one
            // server: `<server>/<country>/rest` ([`LazadaSim::gateway_base_url`]).
            for country in GATEWAYS {
                routes = routes.route(&format!("/{country}/rest{}", call.api_path()), route(call));
            }
        }
        // The token calls answer on the auth gateway only, as Lazada's reference lists them.
        for call in Call::AUTH {
            routes = routes.route(&format!("/auth/rest{}", call.api_path()), route(call));
        }
        let routes = routes.fallback(fallback);
        self.core
            .app(routes, ErrorStyle::Lazada, BodyLimit::Own, self.clone())
    }

    /// The test credentials.
    pub fn credentials(&self) -> LazadaCredentials {
        let cfg = self.config();
        LazadaCredentials {
            app_key: cfg.app_key.clone(),
            app_secret: cfg.app_secret.clone(),
            access_token: cfg.access_token.clone(),
            refresh_token: initial_secret(&cfg, TokenKind::Refresh),
            authorization_code: initial_secret(&cfg, TokenKind::Code),
            sign_method: LAZADA_SIGN_METHOD.to_string(),
        }
    }

    /// Registers a new valid access token for the seller (the access lifetime in force, from
    /// now on the sim clock) and returns it, e.g. to test a client that refreshes its token.
    pub fn issue_access_token(&self) -> String {
        let now = self.clock().now_millis();
        let grant = seller_grant(&self.config());
        self.store().ledger.issue_access(grant, now).access_token
    }

    /// Makes `token` invalid at once (`IllegalAccessToken` from now on).
    pub fn revoke_access_token(&self, token: &str) {
        let now = self.clock().now_millis();
        let what = crate::tokens::Revoke {
            access_token: Some(token.to_owned()),
            ..Default::default()
        };
        let _ = self.store().ledger.revoke(&what, now);
    }

    crate::tokens::sim_tokens!();

    /// The assembled bytes of a committed video.
    pub fn video_bytes(&self, video_id: &str) -> Option<Bytes> {
        self.store().videos.get(video_id)?.bytes.clone()
    }

    /// A video's metadata and its state now.
    pub fn video(&self, video_id: &str) -> Option<VideoInfo> {
        let now = self.clock().now_millis();
        let store = self.store();
        let v = store.videos.get(video_id)?;
        Some(VideoInfo {
            video_id: video_id.to_string(),
            upload_id: v.upload_id.clone(),
            state: video::state_of(v, now, &self.config()),
            title: v.title.clone(),
            cover_url: v.cover_url.clone(),
            video_usage: v.video_usage.clone(),
            size: v.size,
        })
    }

    /// A video's state now on the sim clock.
    pub fn video_state(&self, video_id: &str) -> Option<VideoState> {
        self.video(video_id).map(|v| v.state)
    }

    /// Overrides how one video ends its processing (the configuration gives the default).
    pub fn set_video_outcome(&self, video_id: &str, outcome: VideoOutcome) -> bool {
        match self.store().videos.get_mut(video_id) {
            Some(v) => {
                v.outcome = outcome;
                true
            }
            None => false,
        }
    }

    /// Every video id, sorted.
    pub fn video_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.store().videos.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// A snapshot of an upload session.
    pub fn upload(&self, upload_id: &str) -> Option<UploadInfo> {
        let store = self.store();
        let u = store.uploads.get(upload_id)?;
        Some(UploadInfo {
            upload_id: upload_id.to_string(),
            file_name: u.file_name.clone(),
            file_bytes: u.file_bytes,
            block_count: u.block_count,
            blocks: u.blocks.iter().map(|(n, b)| (*n, b.bytes.len())).collect(),
            video_id: u.video_id.clone(),
            created_at_ms: u.created_ms,
        })
    }

    /// Every accepted block of an upload, in arrival order (`blockNo` as sent, size, e_tag).
    pub fn blocks_received(&self, upload_id: &str) -> Vec<ReceivedBlock> {
        self.store()
            .uploads
            .get(upload_id)
            .map(|u| u.received.clone())
            .unwrap_or_default()
    }

    /// The last commit of an upload whose `parts` parsed (whether or not it succeeded).
    pub fn commit_payload(&self, upload_id: &str) -> Option<CommitPayload> {
        self.store().uploads.get(upload_id)?.last_commit.clone()
    }

    /// `(capacity_size, used_size)` now.
    pub fn quota(&self) -> (u64, u64) {
        (self.config().quota_capacity_bytes, self.store().used_size)
    }

    /// Every accepted image, in order.
    pub fn images(&self) -> Vec<ImageInfo> {
        self.store().images.clone()
    }

    /// The running totals.
    pub fn counters(&self) -> LazadaCounters {
        self.store().counters
    }
}

// ---------------------------------------------------------------------------------------------
// State: what the simulator remembers (uploads, their blocks, videos, images, tokens, quota,
// counters).

/// How a committed video ends its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum VideoOutcome {
    /// READY_FOR_TRANSCODE → TRANSCODING → READY_FOR_AUDIT → AUDIT_SUCCESS.
    #[default]
    AuditSuccess,
    /// READY_FOR_TRANSCODE → TRANSCODING → TRANSCODE_FAILED.
    TranscodeFailed,
    /// READY_FOR_TRANSCODE → TRANSCODING → READY_FOR_AUDIT → AUDIT_FAILED.
    AuditFailed,
}

/// A video's `state` as `/media/video/get` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VideoState {
    /// Committed, waiting for the transcoder.
    ReadyForTranscode,
    /// Being transcoded.
    Transcoding,
    /// Transcoding failed (terminal).
    TranscodeFailed,
    /// Transcoded, waiting for the audit.
    ReadyForAudit,
    /// The audit refused it (terminal).
    AuditFailed,
    /// Usable on products (terminal).
    AuditSuccess,
    /// Removed (terminal).
    Deleted,
}

impl VideoState {
    /// The wire spelling, e.g. `AUDIT_SUCCESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoState::ReadyForTranscode => "READY_FOR_TRANSCODE",
            VideoState::Transcoding => "TRANSCODING",
            VideoState::TranscodeFailed => "TRANSCODE_FAILED",
            VideoState::ReadyForAudit => "READY_FOR_AUDIT",
            VideoState::AuditFailed => "AUDIT_FAILED",
            VideoState::AuditSuccess => "AUDIT_SUCCESS",
            VideoState::Deleted => "DELETED",
        }
    }

    /// Whether the state no longer changes.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            VideoState::TranscodeFailed
                | VideoState::AuditFailed
                | VideoState::AuditSuccess
                | VideoState::Deleted
        )
    }

    /// Whether the transcoded file exists (and `video_url` is filled).
    pub fn has_video_url(self) -> bool {
        matches!(
            self,
            VideoState::ReadyForAudit | VideoState::AuditFailed | VideoState::AuditSuccess
        )
    }
}

/// One accepted `block/upload`, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedBlock {
    /// `blockNo` exactly as sent.
    pub block_no: String,
    /// `blockCount` exactly as sent.
    pub block_count: String,
    /// Bytes in the `file` field.
    pub size: usize,
    /// The `e_tag` answered (uppercase MD5 hex of the block).
    pub e_tag: String,
}

/// One entry of the commit's `parts` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitPart {
    /// `partNumber` (1-based on the wire).
    pub part_number: u64,
    /// `eTag` as sent.
    pub e_tag: String,
}

/// The parameters of the last `block/commit` of an upload whose `parts` parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitPayload {
    /// `parts` exactly as sent (a JSON string).
    pub parts_raw: String,
    /// `parts` parsed.
    pub parts: Vec<CommitPart>,
    /// `title`.
    pub title: String,
    /// `coverUrl`.
    pub cover_url: String,
    /// `videoUsage`, if sent.
    pub video_usage: Option<String>,
}

/// A snapshot of one upload session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadInfo {
    /// The `upload_id`.
    pub upload_id: String,
    /// `fileName` from block/create.
    pub file_name: String,
    /// `fileBytes` from block/create.
    pub file_bytes: u64,
    /// `blockCount` fixed by the first accepted block, if any.
    pub block_count: Option<u32>,
    /// Stored blocks: (blockNo, size), in blockNo order (a re-sent block replaces the old one).
    pub blocks: Vec<(u32, usize)>,
    /// The video created by a successful commit.
    pub video_id: Option<String>,
    /// Creation time on the sim clock (ms).
    pub created_at_ms: i64,
}

/// A snapshot of one video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoInfo {
    /// The `video_id`.
    pub video_id: String,
    /// The upload it was assembled from.
    pub upload_id: String,
    /// Its state now, on the sim clock.
    pub state: VideoState,
    /// `title` from the commit.
    pub title: String,
    /// `coverUrl` from the commit.
    pub cover_url: String,
    /// `videoUsage` from the commit (`pro_main_video` when absent).
    pub video_usage: String,
    /// Assembled size in bytes.
    pub size: u64,
}

/// How an image reached the simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ImageSource {
    /// `/image/upload`, with the file's size.
    Upload {
        /// Bytes received.
        size: usize,
    },
    /// `/image/migrate`, with the remote URL.
    Migrate {
        /// The `<Url>` of the payload.
        url: String,
    },
}

/// An image the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// `data.image.url` answered.
    pub url: String,
    /// `data.image.hash_code` answered.
    pub hash_code: String,
    /// Where it came from.
    pub source: ImageSource,
}

/// Running totals since the simulator was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LazadaCounters {
    /// Requests answered (any call, any outcome).
    pub requests: u64,
    /// Requests answered with an error.
    pub errors: u64,
    /// Uploads created.
    pub uploads_created: u64,
    /// Blocks accepted (re-sent blocks count again).
    pub blocks_accepted: u64,
    /// Bytes of accepted blocks.
    pub block_bytes_accepted: u64,
    /// Videos created by a commit.
    pub videos_committed: u64,
    /// Videos removed.
    pub videos_removed: u64,
    /// Images accepted (upload and migrate).
    pub images_accepted: u64,
}

#[derive(Debug)]
pub(crate) struct StoredBlock {
    pub bytes: Bytes,
    pub e_tag: String,
}

#[derive(Debug)]
pub(crate) struct Upload {
    pub file_name: String,
    pub file_bytes: u64,
    pub created_ms: i64,
    pub block_count: Option<u32>,
    pub blocks: BTreeMap<u32, StoredBlock>,
    pub received: Vec<ReceivedBlock>,
    pub last_commit: Option<CommitPayload>,
    pub video_id: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Video {
    pub upload_id: String,
    pub title: String,
    pub cover_url: String,
    pub video_usage: String,
    /// The assembled bytes; `None` once evicted by the retention limit.
    pub bytes: Option<Bytes>,
    /// Their size (kept after eviction).
    pub size: u64,
    pub committed_ms: i64,
    pub outcome: VideoOutcome,
    pub deleted: bool,
}

impl Video {
    pub fn state_at(&self, now_ms: i64, cfg: &LazadaSimConfig) -> VideoState {
        if self.deleted {
            return VideoState::Deleted;
        }
        let elapsed = now_ms.saturating_sub(self.committed_ms);
        let queued = millis(cfg.transcode_queue_delay);
        let transcoded = queued.saturating_add(millis(cfg.transcode_delay));
        let audited = transcoded.saturating_add(millis(cfg.audit_delay));
        if elapsed < queued {
            VideoState::ReadyForTranscode
        } else if elapsed < transcoded {
            VideoState::Transcoding
        } else if self.outcome == VideoOutcome::TranscodeFailed {
            VideoState::TranscodeFailed
        } else if elapsed < audited {
            VideoState::ReadyForAudit
        } else if self.outcome == VideoOutcome::AuditFailed {
            VideoState::AuditFailed
        } else {
            VideoState::AuditSuccess
        }
    }
}

#[derive(Debug)]
pub(crate) struct Store {
    /// Requests being handled now, per gateway, and the peaks.
    pub in_flight: BTreeMap<String, usize>,
    pub peak_in_flight: BTreeMap<String, usize>,
    pub in_flight_total: usize,
    pub peak_in_flight_total: usize,
    pub uploads: HashMap<String, Upload>,
    pub videos: HashMap<String, Video>,
    pub images: Vec<ImageInfo>,
    /// The seller's access and refresh tokens and codes (credential `seller:<account>`).
    pub ledger: TokenLedger,
    pub used_size: u64,
    pub next_video_id: u64,
    pub request_seq: u64,
    pub counters: LazadaCounters,
}

/// The six country gateways Lazada documents (`api.lazada.sg`, `.com.my`, `.co.th`, `.vn`,
/// `.com.ph`, `.co.id`), served as path prefixes.
pub const GATEWAYS: [&str; 6] = ["sg", "my", "th", "vn", "ph", "id"];

/// The simulated seller's id in `country` (`/seller/get`): one seller, an id per country, as
/// the token answer's `country_user_info` lists them.
pub fn seller_id_in(country: &str) -> u64 {
    let n = GATEWAYS.iter().position(|g| *g == country).unwrap_or(0) as u64;
    1_000_100_000 + n
}

/// Lazada's secrets: access tokens `50000…`, refresh tokens `50001…`, codes
/// `0_<app_key>_…` (the shapes of the reference's samples).
fn mint(kind: TokenKind) -> String {
    match kind {
        TokenKind::Access => format!("50000sim{}", random_hex(20)),
        TokenKind::Refresh => format!("50001sim{}", random_hex(20)),
        TokenKind::Code => format!("0_sim_{}", random_hex(12)),
    }
}

/// The seller's initial refresh token and code, derived from the configuration so that a
/// reset gives the same values again.
fn initial_secret(config: &LazadaSimConfig, kind: TokenKind) -> String {
    let seed = md5_hex(
        format!(
            "lazada-sim-{kind:?}-{}-{}",
            config.app_key, config.seller_account
        )
        .as_bytes(),
    );
    match kind {
        TokenKind::Code => format!("0_{}_{seed}", config.app_key),
        _ => format!("50001sim{seed}"),
    }
}

/// The one seller's grant: its token serves every country gateway.
pub(crate) fn seller_grant(config: &LazadaSimConfig) -> Grant {
    Grant::new(format!("seller:{}", config.seller_account), Vec::new())
}

/// The gateway a request path came through: `/<country>/rest/…`, or `sg` for `/rest/…`.
pub(crate) fn gateway_of(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    GATEWAYS
        .iter()
        .find(|g| **g == first)
        .copied()
        .unwrap_or("sg")
}

/// A request counted in flight on its gateway until dropped.
pub(crate) struct InFlight {
    sim: LazadaSim,
    gateway: &'static str,
}

impl InFlight {
    pub(crate) fn enter(sim: &LazadaSim, gateway: &'static str) -> InFlight {
        {
            let mut store = sim.store();
            let now = {
                let n = store.in_flight.entry(gateway.to_owned()).or_default();
                *n += 1;
                *n
            };
            let peak = store.peak_in_flight.entry(gateway.to_owned()).or_default();
            *peak = (*peak).max(now);
            store.in_flight_total += 1;
            store.peak_in_flight_total = store.peak_in_flight_total.max(store.in_flight_total);
        }
        InFlight {
            sim: sim.clone(),
            gateway,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut store = self.sim.store();
        if let Some(n) = store.in_flight.get_mut(self.gateway) {
            *n = n.saturating_sub(1);
        }
        store.in_flight_total = store.in_flight_total.saturating_sub(1);
    }
}

impl Store {
    /// A fresh store: the quota used at start, and the seller's initial tokens and code
    /// issued now.
    pub(crate) fn new(config: &LazadaSimConfig, now_ms: i64) -> Self {
        let lifetime = |d: Duration| u64::try_from(millis(d)).unwrap_or(u64::MAX).max(1);
        let mut ledger = TokenLedger::new(
            TokenLifetimes {
                access_ms: lifetime(config.access_token_lifetime),
                refresh_ms: lifetime(config.refresh_token_lifetime),
                code_ms: lifetime(config.code_lifetime),
                overlap_ms: 0,
            },
            // A refresh answers a new refresh token with the old one's expiry: refreshing
            // never extends the authorization. Whether the old one is then refused, the pages
            // do not say: it stays usable until it expires.
            RefreshRules {
                rotate: true,
                spend: false,
                keep_expiry: true,
                retain_previous_until_new_used: false,
            },
            mint,
        );
        let grant = seller_grant(config);
        let refresh = initial_secret(config, TokenKind::Refresh);
        ledger.seed(grant.clone(), &config.access_token, Some(&refresh), now_ms);
        ledger.seed_code(grant, &initial_secret(config, TokenKind::Code), now_ms);
        Store {
            in_flight: BTreeMap::new(),
            peak_in_flight: BTreeMap::new(),
            in_flight_total: 0,
            peak_in_flight_total: 0,
            uploads: HashMap::new(),
            videos: HashMap::new(),
            images: Vec::new(),
            ledger,
            used_size: config.quota_used_bytes,
            next_video_id: 0,
            request_seq: 0,
            counters: LazadaCounters::default(),
        }
    }

    /// Evicts the bytes of the oldest committed videos until at most `max` bytes are held
    /// (the newest is always kept).
    pub(crate) fn enforce_retention(&mut self, max: u64) {
        let held = self.videos.iter().filter_map(|(id, v)| {
            let b = v.bytes.as_ref()?;
            // Ids grow with each commit: their number is the order.
            Some((id.clone(), id.parse::<u64>().unwrap_or(0), b.len() as u64))
        });
        for id in crate::common::to_evict(held, max) {
            if let Some(v) = self.videos.get_mut(&id) {
                v.bytes = None;
            }
        }
    }
}

impl crate::control::Control for LazadaSim {
    fn control_ledger(&self, f: &mut dyn FnMut(&mut TokenLedger)) -> bool {
        f(&mut self.store().ledger);
        true
    }

    /// `{}`: the one seller authorizes the app (for every country at once).
    fn control_code_grant(
        &self,
        _body: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Grant, String> {
        Ok(seller_grant(&self.config()))
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
        let mut ids: Vec<String> = self.store().uploads.keys().cloned().collect();
        ids.sort();
        ids.iter()
            .filter_map(|id| self.upload(id))
            .map(|u| {
                let mut v = serde_json::json!(u);
                v["id"] = serde_json::json!(u.upload_id);
                if let Some(video) = u.video_id.as_deref().and_then(|id| self.video(id)) {
                    v["video"] = serde_json::json!(video);
                }
                v
            })
            .collect()
    }

    fn control_parts(&self, id: &str) -> Option<serde_json::Value> {
        self.upload(id)?;
        Some(serde_json::json!(self.blocks_received(id)))
    }

    /// The committed video of upload `id` (or of video `id`).
    fn control_bytes(&self, id: &str) -> Option<Bytes> {
        let video_id = self
            .upload(id)
            .and_then(|u| u.video_id)
            .unwrap_or_else(|| id.to_owned());
        self.video_bytes(&video_id)
    }

    fn control_evicted(&self, id: &str) -> bool {
        let video_id = self
            .upload(id)
            .and_then(|u| u.video_id)
            .unwrap_or_else(|| id.to_owned());
        self.store()
            .videos
            .get(&video_id)
            .is_some_and(|v| v.bytes.is_none())
    }

    fn control_reset(&self) {
        self.core.reset_state();
    }

    fn control_sessions(&self) -> Vec<crate::control::SessionStanding> {
        use crate::control::{SessionStanding, Standing};
        let ttl_ms = i64::try_from(self.config().upload_ttl.as_millis()).unwrap_or(i64::MAX);
        let now_ms = self.clock().now_millis();
        let store = self.store();
        let mut sessions: Vec<SessionStanding> = store
            .uploads
            .iter()
            .map(|(id, u)| {
                // The same test as the block calls' (`video.rs`): an upload past its lifetime
                // is refused.
                let standing = if u.video_id.is_some() {
                    Standing::Completed
                } else if now_ms.saturating_sub(u.created_ms) > ttl_ms {
                    Standing::Expired
                } else {
                    Standing::Open
                };
                SessionStanding {
                    id: id.clone(),
                    standing,
                    parts: u.blocks.len() as u64,
                }
            })
            .collect();
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(size: usize) -> Video {
        Video {
            upload_id: String::new(),
            title: String::new(),
            cover_url: String::new(),
            video_usage: String::new(),
            bytes: Some(Bytes::from(vec![0u8; size])),
            size: size as u64,
            committed_ms: 0,
            outcome: VideoOutcome::AuditSuccess,
            deleted: false,
        }
    }

    /// The oldest committed videos lose their bytes first (ids grow with each commit, and
    /// `30000000010` is newer than `30000000009`); sizes stay.
    #[test]
    fn retention_evicts_the_oldest_videos_first() {
        let mut store = Store::new(&LazadaSimConfig::default(), 0);
        for id in ["30000000009", "30000000010", "30000000011"] {
            store.videos.insert(id.to_owned(), video(100));
        }
        store.enforce_retention(250);
        assert!(store.videos["30000000009"].bytes.is_none());
        assert!(store.videos["30000000010"].bytes.is_some());
        assert!(store.videos["30000000011"].bytes.is_some());
        assert_eq!(store.videos["30000000009"].size, 100);
        // The newest is kept whatever the limit.
        store.enforce_retention(0);
        assert!(store.videos["30000000011"].bytes.is_some());
        assert!(store.videos["30000000010"].bytes.is_none());
    }
}
