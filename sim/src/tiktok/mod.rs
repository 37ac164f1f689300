//! A local simulator of the TikTok Shop Partner API calls a media client makes: Upload
//! Product File (`POST /product/202309/files/upload`, multipart `data` + `name`), Upload
//! Product Image (`POST /product/202309/images/upload`, multipart `data` + `use_case`), Get
//! Authorized Shops (`GET /authorization/202309/shops`), and the auth host's token calls
//! (`GET /api/v2/token/get`, `GET /api/v2/token/refresh`), all on one server.
//!
//! Every open API call is checked as the platform documents it: `app_key`, `timestamp` and
//! the HMAC-SHA256 `sign` (path, sorted query, the body unless multipart, wrapped in the app
//! secret), the seller's token in `x-tts-access-token` (on the shared token ledger, 7-day
//! access tokens), `shop_cipher` refused where the upload calls take none, the multipart
//! body read whole and refused in TikTok's envelope (`36009004`) when malformed or without
//! its `data` file, and the documented limits (formats, 100 MB videos, 20 MB PDFs, 10 MB
//! images, 9:16 to 16:9 where an MP4 track header states a size, image dimensions). Each
//! choice made where the pages are silent is in `docs/simulators/tiktok.md`.
//!
//! ```no_run
//! use marketmedia_sim::tiktok::{TiktokSim, TiktokSimConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = TiktokSim::new(TiktokSimConfig::default());
//! let server = sim.start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("TikTok Shop simulator at {}", server.base_url());
//! # Ok(()) }
//! ```

mod api;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;

use crate::common::Retention;
use crate::control::Control;
use crate::faults::ErrorStyle;
use crate::skeleton::{BodyLimit, SimCore};
use crate::tokens::{Grant, RefreshRules, TokenKind, TokenLedger, TokenLifetimes};
use crate::util::{md5_hex, millis, random_hex};
use crate::SimClock;

pub use api::{codes, sign};

/// The test app's key.
pub const TEST_APP_KEY: &str = "6sim7tiktokkey";
/// The test app's secret (the signing key).
pub const TEST_APP_SECRET: &str = "sim-tiktok-app-secret-7f3a9c";
/// The test app's service id (the authorization page's `service_id`).
pub const TEST_SERVICE_ID: &str = "7310000000000000001";
/// The test seller's initial access token.
pub const TEST_ACCESS_TOKEN: &str = "ROW_sim-tiktok-access-token-0001";
/// The test seller's `open_id`.
pub const TEST_OPEN_ID: &str = "sim-open-id-0001";
/// The test seller's shop.
pub const TEST_SHOP_ID: &str = "7494105515082810525";
/// The test shop's cipher.
pub const TEST_SHOP_CIPHER: &str = "ROW_simCipherAAAAC5i0xXesBU5U8f6";
/// "Max video size: 100 MB".
pub const MAX_VIDEO_BYTES: u64 = 100_000_000;
/// "Max PDF size: 20 MB".
pub const MAX_PDF_BYTES: u64 = 20_000_000;
/// Upload Product Image: "Max size: 10MB".
pub const MAX_IMAGE_BYTES: u64 = 10_000_000;

/// The platform name in wire records.
const PLATFORM: &str = "tiktok";

/// Wire log names of the calls.
pub mod calls {
    /// `POST /product/202309/files/upload`.
    pub const FILES_UPLOAD: &str = "files/upload";
    /// `POST /product/202309/images/upload`.
    pub const IMAGES_UPLOAD: &str = "images/upload";
    /// `GET /authorization/202309/shops`.
    pub const AUTHORIZED_SHOPS: &str = "authorization/shops";
    /// `GET /api/v2/token/get`.
    pub const TOKEN_GET: &str = "token/get";
    /// `GET /api/v2/token/refresh`.
    pub const TOKEN_REFRESH: &str = "token/refresh";
}

/// Paths.
pub mod paths {
    /// Upload Product File.
    pub const FILES_UPLOAD: &str = "/product/202309/files/upload";
    /// Upload Product Image.
    pub const IMAGES_UPLOAD: &str = "/product/202309/images/upload";
    /// Get Authorized Shops.
    pub const AUTHORIZED_SHOPS: &str = "/authorization/202309/shops";
    /// The code exchange.
    pub const TOKEN_GET: &str = "/api/v2/token/get";
    /// The refresh.
    pub const TOKEN_REFRESH: &str = "/api/v2/token/refresh";
}

/// One shop the seller authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimShop {
    /// The shop id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its cipher.
    pub cipher: String,
}

/// The simulator's settings. Every field has a default suited to tests.
#[derive(Debug, Clone)]
pub struct TiktokSimConfig {
    /// The app's key. Default [`TEST_APP_KEY`].
    pub app_key: String,
    /// The app's secret. Default [`TEST_APP_SECRET`].
    pub app_secret: String,
    /// The app's service id. Default [`TEST_SERVICE_ID`].
    pub service_id: String,
    /// The seller's initial access token. Default [`TEST_ACCESS_TOKEN`].
    pub access_token: String,
    /// The seller's `open_id`. Default [`TEST_OPEN_ID`].
    pub open_id: String,
    /// The seller's shops. Default one, [`TEST_SHOP_ID`] with [`TEST_SHOP_CIPHER`].
    pub shops: Vec<SimShop>,
    /// Access token lifetime. Default 7 days (both answers quoted in
    /// `docs/platforms/tiktok.md` expire 604,800 s after they were obtained).
    pub access_token_lifetime: Duration,
    /// Refresh token lifetime. Default 100 years (the answers quoted carry expiries about a
    /// century away).
    pub refresh_token_lifetime: Duration,
    /// Authorization code lifetime: not stated; an assumption. Default 10 minutes.
    pub code_lifetime: Duration,
    /// Largest video. Default [`MAX_VIDEO_BYTES`].
    pub max_video_bytes: u64,
    /// Largest PDF. Default [`MAX_PDF_BYTES`].
    pub max_pdf_bytes: u64,
    /// Largest image. Default [`MAX_IMAGE_BYTES`].
    pub max_image_bytes: u64,
    /// Largest request body read. Default the largest video plus 1 MiB.
    pub max_request_bytes: usize,
    /// How many wire records and bytes of uploaded files are kept.
    pub retention: Retention,
}

impl Default for TiktokSimConfig {
    fn default() -> Self {
        TiktokSimConfig {
            app_key: TEST_APP_KEY.into(),
            app_secret: TEST_APP_SECRET.into(),
            service_id: TEST_SERVICE_ID.into(),
            access_token: TEST_ACCESS_TOKEN.into(),
            open_id: TEST_OPEN_ID.into(),
            shops: vec![SimShop {
                id: TEST_SHOP_ID.into(),
                name: "SIM KETTLE STORE".into(),
                region: "MY".into(),
                cipher: TEST_SHOP_CIPHER.into(),
            }],
            access_token_lifetime: Duration::from_secs(7 * 86_400),
            refresh_token_lifetime: Duration::from_secs(100 * 365 * 86_400),
            code_lifetime: Duration::from_secs(600),
            max_video_bytes: MAX_VIDEO_BYTES,
            max_pdf_bytes: MAX_PDF_BYTES,
            max_image_bytes: MAX_IMAGE_BYTES,
            max_request_bytes: MAX_VIDEO_BYTES as usize + (1 << 20),
            retention: Retention::default(),
        }
    }
}

/// A file as the simulator holds it.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub name: String,
    pub format: &'static str,
    pub size: u64,
    /// Emptied when evicted.
    pub bytes: Bytes,
    pub order: u64,
    pub evicted: bool,
}

/// The simulator's state.
#[derive(Debug)]
pub(crate) struct State {
    pub ledger: TokenLedger,
    pub files: BTreeMap<String, StoredFile>,
    pub images: BTreeMap<String, Bytes>,
    pub force_rate_limit: bool,
    pub uploads: u64,
}

impl State {
    fn new(config: &TiktokSimConfig, now_ms: i64) -> Self {
        let lifetime = |d: Duration| u64::try_from(millis(d)).unwrap_or(u64::MAX).max(1);
        let mut ledger = TokenLedger::new(
            TokenLifetimes {
                access_ms: lifetime(config.access_token_lifetime),
                refresh_ms: lifetime(config.refresh_token_lifetime),
                code_ms: lifetime(config.code_lifetime),
                overlap_ms: 0,
            },
            // Each refresh answers a refresh token; the pages do not say the old one is spent
            // (an assumption: it stays valid until it expires), nor that refreshing extends
            // the authorization.
            RefreshRules {
                rotate: true,
                spend: false,
                keep_expiry: true,
                retain_previous_until_new_used: false,
            },
            mint,
        );
        let grant = seller_grant(config);
        ledger.seed(
            grant.clone(),
            &config.access_token,
            Some(&initial_secret(config, TokenKind::Refresh)),
            now_ms,
        );
        ledger.seed_code(grant, &initial_secret(config, TokenKind::Code), now_ms);
        State {
            ledger,
            files: BTreeMap::new(),
            images: BTreeMap::new(),
            force_rate_limit: false,
            uploads: 0,
        }
    }

    /// Evicts the bytes of the oldest files until at most `max` bytes are held.
    pub(crate) fn enforce_retention(&mut self, max: u64) {
        let held = self
            .files
            .iter()
            .filter(|(_, f)| !f.evicted)
            .map(|(id, f)| (id.clone(), f.order, f.size));
        for id in crate::common::to_evict(held, max) {
            if let Some(f) = self.files.get_mut(&id) {
                f.bytes = Bytes::new();
                f.evicted = true;
            }
        }
    }
}

/// TikTok's secrets: `ROW_…` (the shape of the tokens quoted in the pages' examples).
fn mint(kind: TokenKind) -> String {
    let tag = match kind {
        TokenKind::Access => "ROW_at",
        TokenKind::Refresh => "ROW_rt",
        TokenKind::Code => "ROW_code",
    };
    format!("{tag}{}", random_hex(20))
}

/// The seller's initial refresh token and code, the same again after a reset.
fn initial_secret(config: &TiktokSimConfig, kind: TokenKind) -> String {
    let seed =
        md5_hex(format!("tiktok-sim-{kind:?}-{}-{}", config.app_key, config.open_id).as_bytes());
    match kind {
        TokenKind::Code => format!("ROW_code{seed}"),
        _ => format!("ROW_rt{seed}"),
    }
}

/// The seller's grant.
pub(crate) fn seller_grant(config: &TiktokSimConfig) -> Grant {
    Grant::new(format!("seller:{}", config.open_id), Vec::new())
}

/// The TikTok Shop simulator. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TiktokSim {
    core: Arc<SimCore<TiktokSimConfig, State>>,
}

impl TiktokSim {
    /// A simulator with `config`.
    pub fn new(config: TiktokSimConfig) -> Self {
        let max_records = config.retention.max_wire_records;
        let core = SimCore::new(config, |config, clock| {
            State::new(config, clock.now_millis())
        });
        core.wire().set_max_records(max_records);
        TiktokSim {
            core: Arc::new(core),
        }
    }

    sim_accessors!(TiktokSimConfig);
    sim_start!();

    /// The axum application (the fault layer outermost, the control surface beside it).
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route(paths::FILES_UPLOAD, post(api::files_upload))
            .route(paths::IMAGES_UPLOAD, post(api::images_upload))
            .route(paths::AUTHORIZED_SHOPS, get(api::authorized_shops))
            .route(paths::TOKEN_GET, get(api::token_get))
            .route(paths::TOKEN_REFRESH, get(api::token_refresh))
            .fallback(api::unknown);
        self.core
            .app(routes, ErrorStyle::Tiktok, BodyLimit::Own, self.clone())
    }

    /// Answers every open API call with "too many requests" (`true`) or not.
    pub fn set_rate_limited(&self, on: bool) {
        self.core.state().force_rate_limit = on;
    }

    /// The bytes of file `id` (`None` when unknown or evicted).
    pub fn file_bytes(&self, id: &str) -> Option<Bytes> {
        let st = self.core.state();
        let f = st.files.get(id)?;
        (!f.evicted).then(|| f.bytes.clone())
    }

    /// How many files the simulator holds.
    pub fn file_count(&self) -> usize {
        self.core.state().files.len()
    }

    /// The name a file was uploaded with.
    pub fn file_name(&self, id: &str) -> Option<String> {
        self.core.state().files.get(id).map(|f| f.name.clone())
    }

    /// The bytes of an image, by its `uri`.
    pub fn image_bytes(&self, uri: &str) -> Option<Bytes> {
        self.core.state().images.get(uri).cloned()
    }

    /// The app's keys, as the standalone JSON line shows them.
    pub fn credentials(&self) -> serde_json::Value {
        let c = self.config();
        serde_json::json!({
            "app_key": c.app_key,
            "app_secret": c.app_secret,
            "service_id": c.service_id,
        })
    }

    /// The one account of the JSON line: the seller, its first shop's cipher, its initial
    /// access token, its refresh token and an authorization code (once).
    pub fn accounts(&self) -> serde_json::Value {
        let c = self.config();
        serde_json::json!([{
            "name": "tiktok",
            "open_id": c.open_id,
            "shop_cipher": c.shops.first().map(|s| s.cipher.clone()).unwrap_or_default(),
            "access_token": c.access_token,
            "refresh_token": initial_secret(&c, TokenKind::Refresh),
            "authorization_code": initial_secret(&c, TokenKind::Code),
        }])
    }

    crate::tokens::sim_tokens!();

    pub(crate) fn core(&self) -> &SimCore<TiktokSimConfig, State> {
        &self.core
    }
}

impl Control for TiktokSim {
    fn control_ledger(&self, f: &mut dyn FnMut(&mut TokenLedger)) -> bool {
        f(&mut self.core.state().ledger);
        true
    }

    /// `{}`: the seller's consent.
    fn control_code_grant(
        &self,
        _body: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Grant, String> {
        Ok(seller_grant(&self.config()))
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
        let st = self.core.state();
        st.files
            .iter()
            .map(|(id, f)| {
                serde_json::json!({
                    "id": id, "name": f.name, "format": f.format, "size": f.size,
                    "evicted": f.evicted,
                })
            })
            .collect()
    }

    fn control_parts(&self, id: &str) -> Option<serde_json::Value> {
        let st = self.core.state();
        let f = st.files.get(id)?;
        Some(serde_json::json!([{ "size": f.size }]))
    }

    fn control_bytes(&self, id: &str) -> Option<Bytes> {
        self.file_bytes(id)
    }

    fn control_evicted(&self, id: &str) -> bool {
        self.core.state().files.get(id).is_some_and(|f| f.evicted)
    }

    fn control_reset(&self) {
        self.core.reset_state();
    }

    /// Each file is its own upload, completed by its one request.
    fn control_sessions(&self) -> Vec<crate::control::SessionStanding> {
        use crate::control::{SessionStanding, Standing};
        self.core
            .state()
            .files
            .keys()
            .map(|id| SessionStanding {
                id: id.clone(),
                standing: Standing::Completed,
                parts: 1,
            })
            .collect()
    }
}

/// Starts the simulator for the standalone sandbox on `addr`: its entry of the JSON line
/// (`base_url` and `auth_url`, one server; the app's keys; the seller's account).
pub(crate) async fn launch(
    addr: std::net::SocketAddr,
    options: crate::standalone::StartOptions,
) -> std::io::Result<(TiktokSim, crate::SimServer, serde_json::Value)> {
    let sim = TiktokSim::new(TiktokSimConfig {
        retention: options.retention,
        ..TiktokSimConfig::default()
    });
    sim.faults().set(options.faults);
    let server = sim.start(addr).await?;
    let entry = serde_json::json!({
        "base_url": server.base_url(),
        "auth_url": server.base_url(),
        "credentials": sim.credentials(),
        "accounts": sim.accounts(),
    });
    Ok((sim, server, entry))
}
