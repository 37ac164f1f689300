//! A local simulator of the WeChat Channels Store (微信小店) media calls, written from
//! Tencent's pages (`docs/platforms/wechat.md` lists them with their sources): the access
//! token (`GET /cgi-bin/token`, and the stable token `POST /cgi-bin/stable_token` in normal and
//! force-refresh mode), chunked video upload (`video/initupload`, `video/uploadpart`,
//! `video/finishupload`), the temporary play URL polled after it (`video/getplayinfo`) and
//! image upload (`img/upload`), with the `errcode`/`errmsg` envelope.
//!
//! ```no_run
//! use marketmedia_sim::wechat::{WechatSim, WechatSimConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = WechatSim::new(WechatSimConfig::default());
//! let server = sim.start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("WeChat simulator at {}", server.base_url());
//! assert_eq!(sim.wire().count("video_initupload"), 0);
//! # Ok(()) }
//! ```
//!
//! What it enforces, and each choice made where the pages are silent (the upload key's
//! lifetime, the codes of refusals the pages do not number), is in `docs/simulators/wechat.md`.

mod calls;
mod image;
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
use serde::Serialize;

use crate::common::Retention;
use crate::faults::ErrorStyle;
use crate::skeleton::{BodyLimit, SimCore};
use crate::tokens::{Grant, RefreshRules, TokenKind, TokenLedger, TokenLifetimes};
use crate::util::{millis, random_hex};

pub use calls::code;

/// The test app id (`appid` of the token call).
pub const TEST_APPID: &str = "wx5a1m0c0ffee0test";
/// The test app secret.
pub const TEST_APPSECRET: &str = "7e57a995ec7e7000000000000000c0de";
/// The initial access token, valid for [`WechatSimConfig::token_ttl`] from the simulator's
/// creation.
pub const TEST_ACCESS_TOKEN: &str = "SIM_ACCESS_TOKEN_0001_wechat_channels_store";
/// Every video call's path starts with this.
pub const VIDEO_PREFIX: &str = "/shop/ec/basics/video/";
/// The image upload path.
pub const IMG_UPLOAD_PATH: &str = "/shop/ec/basics/img/upload";
/// The access token path.
pub const TOKEN_PATH: &str = "/cgi-bin/token";
/// The stable access token path (getStableAccessToken).
pub const STABLE_TOKEN_PATH: &str = "/cgi-bin/stable_token";
/// `scene_type` of product videos (商品视频): up to 500MB and 180 s.
pub const SCENE_PRODUCT: u64 = 162;
/// `scene_type` of after-sale videos (售后相关的视频): up to 20MB.
pub const SCENE_AFTER_SALE: u64 = 173;
/// "1M": the smallest part but the last, read in its larger sense, 1 MiB.
pub const MIN_PART_BYTES: u64 = 1024 * 1024;
/// "2MB": the largest part, read in its smaller sense, 2,000,000 bytes.
pub const MAX_PART_BYTES: u64 = 2_000_000;

/// The platform name in wire records.
const PLATFORM: &str = "wechat";

/// The simulator's settings. Every field has a default suited to fast tests.
#[derive(Debug, Clone)]
pub struct WechatSimConfig {
    /// The app id the token call accepts. Default [`TEST_APPID`].
    pub appid: String,
    /// The app secret the token call accepts. Default [`TEST_APPSECRET`].
    pub appsecret: String,
    /// The initial access token. Default [`TEST_ACCESS_TOKEN`].
    pub access_token: String,
    /// How long a token lives from its issue (`expires_in`). Default 7200 s.
    pub token_ttl: Duration,
    /// How long an older token stays valid after `/cgi-bin/token` issued a newer one, and how
    /// long before its expiry a stable token is renewed (old and new both valid meanwhile).
    /// Default 300 s ("5分钟内,新老access_token都可用").
    pub token_overlap: Duration,
    /// Force-refresh calls of `stable_token` allowed per day (China time) before `errcode`
    /// 45009. Default 20 ("强制刷新模式每天限用20次").
    pub stable_force_refresh_daily_limit: u32,
    /// The shortest interval between two force refreshes; a closer one does not refresh
    /// and answers the current token. Default 30 s ("需间隔30秒").
    pub stable_force_refresh_interval: Duration,
    /// Largest `file_size` of a product video (`scene_type` 162). Default 500,000,000 ("500MB").
    pub max_product_video_bytes: u64,
    /// Largest `file_size` of an after-sale video (`scene_type` 173). Default 20,000,000 ("20MB").
    pub max_after_sale_video_bytes: u64,
    /// Smallest part but the last, checked at `finishupload` (`EntityTooSmall`). Default
    /// [`MIN_PART_BYTES`].
    pub min_part_bytes: u64,
    /// Largest part, checked at `uploadpart`. Default [`MAX_PART_BYTES`].
    pub max_part_bytes: u64,
    /// Highest `partnum`. Default 10,000.
    pub max_partnum: u32,
    /// How long a `video_upload_key` stays usable from `initupload` until it is finished (the
    /// pages are silent). Default 24 h.
    pub upload_key_ttl: Duration,
    /// Time between `finishupload` and the play URL, on the sim clock. Default 300 ms.
    pub processing_delay: Duration,
    /// Largest image with `resp_type=1` (a link). Default 10,000,000 ("10MB").
    pub max_image_bytes_link: u64,
    /// Largest image with `resp_type=0` (media ids). Default 2,000,000 ("2MB").
    pub max_image_bytes_media_id: u64,
    /// When set, every call but the token answers `errcode` 45011 (minute quota). Default off.
    pub rate_limited: bool,
    /// Largest request body read. Default 16 MiB.
    pub max_request_bytes: usize,
    /// Base of play URLs (`{base}/{key}.f0.mp4`). Default `https://173.wxapp.tc.qq.com/173/sim`.
    pub video_url_base: String,
    /// Base of image URLs (`{base}/{appid}/{key}`). Default `https://mmecimage.cn/p`.
    pub image_url_base: String,
    /// How many wire records and bytes of finished uploads are kept, oldest evicted first
    /// (the newest always kept). Default [`Retention::default`].
    pub retention: Retention,
}

impl Default for WechatSimConfig {
    fn default() -> Self {
        Self {
            appid: TEST_APPID.into(),
            appsecret: TEST_APPSECRET.into(),
            access_token: TEST_ACCESS_TOKEN.into(),
            token_ttl: Duration::from_secs(7200),
            token_overlap: Duration::from_secs(300),
            stable_force_refresh_daily_limit: 20,
            stable_force_refresh_interval: Duration::from_secs(30),
            max_product_video_bytes: 500_000_000,
            max_after_sale_video_bytes: 20_000_000,
            min_part_bytes: MIN_PART_BYTES,
            max_part_bytes: MAX_PART_BYTES,
            max_partnum: 10_000,
            upload_key_ttl: Duration::from_secs(24 * 3600),
            processing_delay: Duration::from_millis(300),
            max_image_bytes_link: 10_000_000,
            max_image_bytes_media_id: 2_000_000,
            rate_limited: false,
            max_request_bytes: 16 * 1024 * 1024,
            video_url_base: "https://173.wxapp.tc.qq.com/173/sim".into(),
            image_url_base: "https://mmecimage.cn/p".into(),
            retention: Retention::default(),
        }
    }
}

/// The test credentials a client needs, as the `marketmedia-sim` binary prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WechatCredentials {
    /// App id.
    pub appid: String,
    /// App secret.
    pub appsecret: String,
    /// A valid access token (the initial one).
    pub access_token: String,
}

/// One part the simulator holds for an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartInfo {
    /// The part number (1-based).
    pub partnum: u32,
    /// Size in bytes.
    pub size: usize,
    /// The SHA-1 the simulator answered (lowercase hex).
    pub part_sha: String,
    /// How many times this part was accepted (a re-send overwrites it).
    pub times_received: u32,
}

/// A part answer, in the order answered: the number as sent and the `part_sha` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartAnswer {
    /// `partnum` exactly as sent.
    pub partnum: String,
    /// The `part_sha` answered.
    pub part_sha: String,
}

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Parts may be uploaded.
    Uploading,
    /// Finished; the play URL is not ready yet.
    Processing,
    /// Finished; `getplayinfo` answers the URL.
    Ready,
}

/// A snapshot of one upload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadSnapshot {
    /// The `video_upload_key`.
    pub video_upload_key: String,
    /// Status by the sim clock.
    pub status: UploadStatus,
    /// Whether the key expired before it was finished.
    pub expired: bool,
    /// `scene_type` from init.
    pub scene_type: u64,
    /// `file_type` from init.
    pub file_type: String,
    /// `file_size` from init.
    pub file_size: u64,
    /// `finish_parts[].partnum` of the successful `finishupload`.
    pub finished_parts: Option<Vec<u32>>,
}

/// An image accepted by `img/upload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// `media_id` answered (also for `resp_type=1`, kept for lookups).
    pub media_id: String,
    /// The link answered for `resp_type=1`.
    pub img_url: Option<String>,
    /// `width` and `height` as sent.
    pub declared: (u32, u32),
    /// The bytes received.
    pub bytes: Bytes,
}

/// The WeChat Channels Store simulator. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct WechatSim {
    core: Arc<SimCore<WechatSimConfig, WechatState>>,
}

impl WechatSim {
    /// A simulator with `config`; its initial access token is issued now (sim clock).
    pub fn new(config: WechatSimConfig) -> Self {
        let max_records = config.retention.max_wire_records;
        let core = SimCore::new(config, |config, clock| {
            WechatState::new(config, clock.now_millis())
        });
        core.wire().set_max_records(max_records);
        Self {
            core: Arc::new(core),
        }
    }

    /// The axum application: every path answered (unknown ones with `errcode` 40066,
    /// "invalid url") and recorded in the wire log.
    pub fn router(&self) -> Router {
        let routes = Router::new().fallback(route);
        self.core
            .app(routes, ErrorStyle::Wechat, BodyLimit::Own, self.clone())
    }

    sim_accessors!(WechatSimConfig);
    sim_start!();

    /// The test credentials.
    pub fn credentials(&self) -> WechatCredentials {
        let c = self.config();
        WechatCredentials {
            appid: c.appid,
            appsecret: c.appsecret,
            access_token: c.access_token,
        }
    }

    /// The assembled file of a finished upload, by `video_upload_key` (`None` once evicted
    /// by the retention limit).
    pub fn assembled_bytes(&self, key: &str) -> Option<Bytes> {
        self.state().uploads.get(key)?.assembled.clone()
    }

    /// The parts held for an upload, by part number.
    pub fn parts(&self, key: &str) -> Option<Vec<PartInfo>> {
        let u = self
            .state()
            .uploads
            .get(key)
            .map(|u| u.parts.values().map(|p| p.info.clone()).collect::<Vec<_>>());
        u
    }

    /// Every accepted part answer of an upload, in the order answered.
    pub fn part_answers(&self, key: &str) -> Vec<PartAnswer> {
        self.state()
            .uploads
            .get(key)
            .map(|u| u.answers.clone())
            .unwrap_or_default()
    }

    /// A snapshot of an upload.
    pub fn upload(&self, key: &str) -> Option<UploadSnapshot> {
        let now = self.clock().now_millis();
        self.state().uploads.get(key).map(|u| u.snapshot(key, now))
    }

    /// Every `video_upload_key`, in creation order.
    pub fn upload_keys(&self) -> Vec<String> {
        self.state().order.clone()
    }

    /// Every accepted image, in arrival order.
    pub fn images(&self) -> Vec<StoredImage> {
        self.state().images.clone()
    }

    /// Tokens issued by the `/cgi-bin/token` call so far (the initial one not counted).
    pub fn tokens_issued(&self) -> u64 {
        self.state().tokens_issued
    }

    crate::tokens::sim_tokens!();

    fn state(&self) -> MutexGuard<'_, WechatState> {
        self.core.state()
    }
}

async fn route(State(sim): State<WechatSim>, req: Request<Body>) -> Response {
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
pub(super) struct Upload {
    pub(super) scene_type: u64,
    pub(super) file_type: String,
    pub(super) file_size: u64,
    pub(super) expires_ms: i64,
    pub(super) parts: BTreeMap<u32, StoredPart>,
    pub(super) answers: Vec<PartAnswer>,
    /// `(partnum, part_sha)` of the successful finish, and when the URL is ready.
    pub(super) finished: Option<(Vec<(u32, String)>, i64)>,
    /// The order in which uploads were finished (for the retention limit).
    pub(super) finished_order: u64,
    /// The assembled file; `None` before the finish, and once evicted.
    pub(super) assembled: Option<Bytes>,
    /// Whether the retention limit evicted the assembled file.
    pub(super) evicted: bool,
}

impl Upload {
    pub(super) fn expired(&self, now_ms: i64) -> bool {
        self.finished.is_none() && now_ms >= self.expires_ms
    }

    pub(super) fn status(&self, now_ms: i64) -> UploadStatus {
        match &self.finished {
            None => UploadStatus::Uploading,
            Some((_, ready_ms)) if now_ms < *ready_ms => UploadStatus::Processing,
            Some(_) => UploadStatus::Ready,
        }
    }

    fn snapshot(&self, key: &str, now_ms: i64) -> UploadSnapshot {
        UploadSnapshot {
            video_upload_key: key.to_owned(),
            status: self.status(now_ms),
            expired: self.expired(now_ms),
            scene_type: self.scene_type,
            file_type: self.file_type.clone(),
            file_size: self.file_size,
            finished_parts: self
                .finished
                .as_ref()
                .map(|(parts, _)| parts.iter().map(|(n, _)| *n).collect()),
        }
    }
}

/// Everything the simulator remembers.
#[derive(Debug)]
pub(super) struct WechatState {
    /// The app's tokens: credential `app:<appid>` (stable tokens) and
    /// `app:<appid>/cgi-bin/token` (the older call's, isolated from them).
    pub(super) ledger: TokenLedger,
    pub(super) tokens_issued: u64,
    /// Sim-clock times of today's force refreshes of the stable token.
    pub(super) force_refreshes: Vec<i64>,
    pub(super) uploads: HashMap<String, Upload>,
    pub(super) order: Vec<String>,
    pub(super) images: Vec<StoredImage>,
    /// How many uploads were finished (the next one's `finished_order`).
    pub(super) uploads_finished: u64,
}

impl WechatState {
    fn new(config: &WechatSimConfig, now_ms: i64) -> Self {
        let lifetime = |d: Duration| u64::try_from(millis(d)).unwrap_or(u64::MAX).max(1);
        let mut ledger = TokenLedger::new(
            TokenLifetimes {
                access_ms: lifetime(config.token_ttl),
                refresh_ms: 0,
                code_ms: 0,
                overlap_ms: lifetime(config.token_overlap),
            },
            // No refresh tokens: the AppID and AppSecret fetch every token.
            RefreshRules {
                rotate: false,
                spend: false,
                keep_expiry: false,
                retain_previous_until_new_used: false,
            },
            mint,
        );
        ledger.seed(
            legacy_grant(&config.appid),
            &config.access_token,
            None,
            now_ms,
        );
        Self {
            ledger,
            tokens_issued: 0,
            force_refreshes: Vec::new(),
            uploads: HashMap::new(),
            order: Vec::new(),
            images: Vec::new(),
            uploads_finished: 0,
        }
    }

    /// Evicts the assembled files of the oldest finished uploads until at most `max` bytes
    /// are held (the newest is always kept); their state and parts' facts stay.
    pub(super) fn enforce_retention(&mut self, max: u64) {
        let held = self.uploads.iter().filter_map(|(key, u)| {
            let file = u.assembled.as_ref()?;
            Some((key.clone(), u.finished_order, file.len() as u64))
        });
        for key in crate::common::to_evict(held, max) {
            if let Some(u) = self.uploads.get_mut(&key) {
                u.assembled = None;
                u.evicted = true;
            }
        }
    }
}

/// A WeChat access token (`SIM` and 48 hex digits).
fn mint(_kind: TokenKind) -> String {
    format!("SIM{}", random_hex(24))
}

/// The credential of the app's stable tokens.
pub(super) fn stable_grant(appid: &str) -> Grant {
    Grant::new(format!("app:{appid}"), Vec::new())
}

/// The credential of the tokens of `/cgi-bin/token`, isolated from the stable ones.
pub(super) fn legacy_grant(appid: &str) -> Grant {
    Grant::new(format!("app:{appid}{TOKEN_PATH}"), Vec::new())
}

impl crate::control::Control for WechatSim {
    fn control_ledger(&self, f: &mut dyn FnMut(&mut TokenLedger)) -> bool {
        f(&mut self.state().ledger);
        true
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
        self.upload_keys()
            .iter()
            .filter_map(|k| self.upload(k))
            .filter_map(|u| serde_json::to_value(u).ok())
            .collect()
    }

    fn control_parts(&self, id: &str) -> Option<serde_json::Value> {
        serde_json::to_value(self.parts(id)?).ok()
    }

    fn control_bytes(&self, id: &str) -> Option<Bytes> {
        self.assembled_bytes(id)
    }

    fn control_evicted(&self, id: &str) -> bool {
        self.state().uploads.get(id).is_some_and(|u| u.evicted)
    }

    fn control_reset(&self) {
        self.core.reset_state();
    }

    fn control_sessions(&self) -> Vec<crate::control::SessionStanding> {
        use crate::control::{SessionStanding, Standing};
        let now_ms = self.clock().now_millis();
        let st = self.state();
        st.order
            .iter()
            .filter_map(|key| {
                let u = st.uploads.get(key)?;
                // WeChat has no call to abandon an upload: a key is finished or expires.
                let standing = if u.finished.is_some() {
                    Standing::Completed
                } else if u.expired(now_ms) {
                    Standing::Expired
                } else {
                    Standing::Open
                };
                Some(SessionStanding {
                    id: key.clone(),
                    standing,
                    parts: u.parts.len() as u64,
                })
            })
            .collect()
    }
}
