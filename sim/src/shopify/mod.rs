//! A local simulator of Shopify's Admin GraphQL API for media: `stagedUploadsCreate`,
//! `productCreateMedia`, `fileCreate`, the `node` query that reads a media's or a file's
//! status, and `shop`; a staged-upload host on a port of its own that checks the signed form
//! parameters it issued, the size and the content type; the cost-based throttle with its
//! documented answer; and the OAuth token call with expiring offline tokens (rotated on each
//! refresh, the previous refresh token retained until its replacement is used) and a
//! non-expiring one.
//!
//! The GraphQL documents are parsed, validated and executed by `async-graphql` (a schema of
//! exactly these operations, [`schema`]), not by hand.
//!
//! ```no_run
//! use marketmedia_sim::shopify::{ShopifySim, ShopifySimConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let running = ShopifySim::new(ShopifySimConfig::default())
//!     .launch("127.0.0.1:0".parse().unwrap(), "127.0.0.1:0".parse().unwrap())
//!     .await?;
//! println!("Shopify simulator at {}", running.base_url());
//! # Ok(()) }
//! ```
//!
//! What it enforces, and each choice made where Shopify's pages are silent, is written down
//! in `docs/simulators/shopify.md`.

mod api;
pub mod schema;
mod staged;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{post, put};
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

/// The store.
pub const TEST_SHOP: &str = "sim-kettles.myshopify.com";
/// The store's non-expiring offline access token (a custom app's, or one issued before
/// expiring tokens): accepted until revoked.
pub const TEST_ACCESS_TOKEN: &str = "shpat_sim0000000000000000000000000001";
/// The initial expiring offline access token (60 minutes from the simulator's start).
pub const TEST_EXPIRING_ACCESS_TOKEN: &str = "shpat_sim0000000000000000000000000002";
/// The app's client id.
pub const TEST_CLIENT_ID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
/// The app's client secret.
pub const TEST_CLIENT_SECRET: &str = "shpss_sim00000000000000000000000001";
/// The app's redirect URL.
pub const TEST_REDIRECT_URI: &str = "https://app.example/shopify/callback";
/// The products of the store (numeric ids of `gid://shopify/Product/…`).
pub const TEST_PRODUCTS: &[u64] = &[8001, 8002];
/// "up to 1 GB" (help.shopify.com, product media), read as 10^9 bytes.
pub const MAX_VIDEO_BYTES: u64 = 1_000_000_000;
/// "smaller than 20 MB", read as 20 × 10^6 bytes.
pub const MAX_IMAGE_BYTES: u64 = 20_000_000;
/// The token call's path.
pub const TOKEN_PATH: &str = "/admin/oauth/access_token";

/// The platform name in wire records.
const PLATFORM: &str = "shopify";

/// Wire log names of the calls: the GraphQL root field, or the HTTP call.
pub mod calls {
    /// `mutation stagedUploadsCreate`.
    pub const STAGED_UPLOADS_CREATE: &str = "stagedUploadsCreate";
    /// `mutation productCreateMedia`.
    pub const PRODUCT_CREATE_MEDIA: &str = "productCreateMedia";
    /// `mutation fileCreate`.
    pub const FILE_CREATE: &str = "fileCreate";
    /// `query { node }`.
    pub const NODE: &str = "node";
    /// `query { shop }`.
    pub const SHOP: &str = "shop";
    /// The request to the staged host (POST form or PUT).
    pub const STAGED_UPLOAD: &str = "stagedUpload";
    /// `POST /admin/oauth/access_token` (both grants; `grant_type` in the record).
    pub const OAUTH_TOKEN: &str = "oauthAccessToken";
    /// A GraphQL request the simulator could not read or refused before executing.
    pub const GRAPHQL: &str = "graphql";
}

/// How processing of a media ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum MediaOutcome {
    /// `READY`.
    #[default]
    Ready,
    /// `FAILED`, with a `VIDEO_VALIDATION_ERROR` media error.
    Failed,
}

/// The simulator's settings. Every field has a default suited to tests.
#[derive(Debug, Clone)]
pub struct ShopifySimConfig {
    /// The store's domain. Default [`TEST_SHOP`].
    pub shop: String,
    /// The non-expiring offline token. Default [`TEST_ACCESS_TOKEN`].
    pub access_token: String,
    /// The initial expiring offline token. Default [`TEST_EXPIRING_ACCESS_TOKEN`].
    pub expiring_access_token: String,
    /// The app's client id. Default [`TEST_CLIENT_ID`].
    pub client_id: String,
    /// The app's client secret. Default [`TEST_CLIENT_SECRET`].
    pub client_secret: String,
    /// The app's redirect URL. Default [`TEST_REDIRECT_URI`].
    pub redirect_uri: String,
    /// The scopes granted. Default `write_products,write_files`.
    pub scope: String,
    /// Expiring access token lifetime: "expires_in … (3600 seconds)". Default 3600 s.
    pub access_token_lifetime: Duration,
    /// Refresh token lifetime: "its normal 90-day lifetime". Default 90 days.
    pub refresh_token_lifetime: Duration,
    /// Authorization code lifetime (Shopify states none: an assumption). Default 600 s.
    pub code_lifetime: Duration,
    /// The cost bucket's size (the rate limits page gives points per second by plan, not
    /// the bucket: an assumption). Default 1000 points.
    pub bucket_size: f64,
    /// Points restored per second: "Standard 100 points/second". Default 100.
    pub restore_rate: f64,
    /// What a mutation costs ("mutations cost 10 points" on the rate limits page's examples).
    /// Default 10.
    pub mutation_cost: f64,
    /// What a query's root field costs (an object: 1, plus its objects; simplified). Default 2.
    pub query_cost: f64,
    /// Largest `fileSize` for a `VIDEO`. Default [`MAX_VIDEO_BYTES`].
    pub max_video_bytes: u64,
    /// Largest image. Default [`MAX_IMAGE_BYTES`].
    pub max_image_bytes: u64,
    /// How long a staged target takes uploads (Shopify states none: an assumption). Default
    /// 1 h.
    pub staged_ttl: Duration,
    /// `UPLOADED` then `PROCESSING` for this long after the attach (sim clock). Default 300 ms.
    pub processing_delay: Duration,
    /// Largest request body read by the staged host. Default the largest video + 1 MiB.
    pub max_request_bytes: usize,
    /// How many wire records and bytes of staged files are kept.
    pub retention: Retention,
}

impl Default for ShopifySimConfig {
    fn default() -> Self {
        ShopifySimConfig {
            shop: TEST_SHOP.into(),
            access_token: TEST_ACCESS_TOKEN.into(),
            expiring_access_token: TEST_EXPIRING_ACCESS_TOKEN.into(),
            client_id: TEST_CLIENT_ID.into(),
            client_secret: TEST_CLIENT_SECRET.into(),
            redirect_uri: TEST_REDIRECT_URI.into(),
            scope: "write_products,write_files".into(),
            access_token_lifetime: Duration::from_secs(3600),
            refresh_token_lifetime: Duration::from_secs(90 * 24 * 3600),
            code_lifetime: Duration::from_secs(600),
            bucket_size: 1000.0,
            restore_rate: 100.0,
            mutation_cost: 10.0,
            query_cost: 2.0,
            max_video_bytes: MAX_VIDEO_BYTES,
            max_image_bytes: MAX_IMAGE_BYTES,
            staged_ttl: Duration::from_secs(3600),
            processing_delay: Duration::from_millis(300),
            max_request_bytes: MAX_VIDEO_BYTES as usize + (1 << 20),
            retention: Retention::default(),
        }
    }
}

/// The resource a staged target was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Resource {
    /// `VIDEO`.
    Video,
    /// `IMAGE` (and `PRODUCT_IMAGE`…).
    Image,
    /// `FILE`.
    File,
}

/// One request to the staged host, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagedRecord {
    /// Bytes of the file.
    pub size: u64,
    /// Whether it was taken.
    pub accepted: bool,
    /// The XML error code when refused.
    pub error: Option<String>,
}

/// A staged target and what arrived at it.
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    pub resource: Resource,
    pub filename: String,
    pub mime: String,
    /// The signed size (`fileSize`), or the largest accepted when none was given.
    pub size: u64,
    /// Whether the size is exact (a `fileSize` was given).
    pub exact: bool,
    pub method: String,
    pub expires_ms: i64,
    /// The parameters issued, in order.
    pub parameters: Vec<(String, String)>,
    /// The file, once taken (emptied when evicted).
    pub bytes: Option<Bytes>,
    pub evicted: bool,
    pub uploaded_order: u64,
    pub requests: Vec<StagedRecord>,
}

/// A media (product media or file library entry).
#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub resource: Resource,
    /// The staged key its `originalSource` named (`None`: not a staged URL of this host).
    pub staged_key: Option<String>,
    /// `Some(product gid)` for product media.
    pub product: Option<String>,
    pub alt: Option<String>,
    pub filename: Option<String>,
    pub created_ms: i64,
    pub outcome: MediaOutcome,
    /// The source was never uploaded: processing fails with `GENERIC_FILE_DOWNLOAD_FAILURE`.
    pub source_missing: bool,
}

/// The simulator's state.
#[derive(Debug)]
pub(crate) struct State {
    pub ledger: TokenLedger,
    /// The non-expiring token was revoked.
    pub static_revoked: bool,
    /// Staged targets by key.
    pub staged: BTreeMap<String, Staged>,
    /// Media by global id.
    pub media: BTreeMap<String, Media>,
    pub next_id: u64,
    /// Points in the bucket, and when they were counted (sim clock).
    pub bucket: (f64, i64),
    /// Every GraphQL request is throttled while set.
    pub force_throttle: bool,
    /// The next attached media fail processing.
    pub fail_next: bool,
    pub uploads_finished: u64,
}

impl State {
    fn new(config: &ShopifySimConfig, now_ms: i64) -> Self {
        let lifetime = |d: Duration| u64::try_from(millis(d)).unwrap_or(u64::MAX).max(1);
        let mut ledger = TokenLedger::new(
            TokenLifetimes {
                access_ms: lifetime(config.access_token_lifetime),
                refresh_ms: lifetime(config.refresh_token_lifetime),
                code_ms: lifetime(config.code_lifetime),
                overlap_ms: 0,
            },
            // "Shopify replaces its refresh token every time your app uses it"; since
            // 2026-08-28 the previous one is retained until the replacement is used.
            RefreshRules {
                rotate: true,
                spend: true,
                keep_expiry: false,
                retain_previous_until_new_used: true,
            },
            mint,
        );
        let grant = shop_grant(config);
        ledger.seed(
            grant.clone(),
            &config.expiring_access_token,
            Some(&initial_secret(config, TokenKind::Refresh)),
            now_ms,
        );
        ledger.seed_code(grant, &initial_secret(config, TokenKind::Code), now_ms);
        State {
            ledger,
            static_revoked: false,
            staged: BTreeMap::new(),
            media: BTreeMap::new(),
            next_id: 1,
            bucket: (config.bucket_size, now_ms),
            force_throttle: false,
            fail_next: false,
            uploads_finished: 0,
        }
    }

    /// Evicts the bytes of the oldest uploaded staged files until at most `max` are held.
    pub(crate) fn enforce_retention(&mut self, max: u64) {
        let held = self
            .staged
            .iter()
            .filter(|(_, s)| s.bytes.is_some())
            .map(|(k, s)| (k.clone(), s.uploaded_order, s.size));
        for key in crate::common::to_evict(held, max) {
            if let Some(s) = self.staged.get_mut(&key) {
                s.bytes = None;
                s.evicted = true;
            }
        }
    }
}

/// The Shopify simulator. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShopifySim {
    core: Arc<SimCore<ShopifySimConfig, State>>,
    /// The staged host's base URL, once it serves (targets point there).
    staged_base: Arc<std::sync::Mutex<String>>,
    /// The key the staged targets' policies are signed with (the simulator's own).
    signing_key: Arc<String>,
}

/// The running simulator: the GraphQL and token server, and the staged host.
#[derive(Debug)]
pub struct ShopifyRunning {
    /// The simulator.
    pub sim: ShopifySim,
    /// The Admin API server (GraphQL, OAuth).
    pub server: SimServer,
    /// The staged-upload host.
    pub staged: SimServer,
}

impl ShopifyRunning {
    /// `http://127.0.0.1:PORT`: the base URL a client is given instead of `https://SHOP`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The line the standalone simulators print for Shopify.
    pub fn entry(&self) -> serde_json::Value {
        let c = self.sim.config();
        serde_json::json!({
            "base_url": self.base_url(),
            "shop": c.shop,
            "api_version": "2026-10",
            "staged_url": self.staged.base_url(),
            "token_url": format!("{}{TOKEN_PATH}", self.base_url()),
            "credentials": self.sim.credentials(),
            "accounts": self.sim.accounts(),
        })
    }
}

impl ShopifySim {
    /// A simulator with `config`.
    pub fn new(config: ShopifySimConfig) -> Self {
        let max_records = config.retention.max_wire_records;
        let core = SimCore::new(config, |config, clock: &SimClock| {
            State::new(config, clock.now_millis())
        });
        core.wire().set_max_records(max_records);
        ShopifySim {
            core: Arc::new(core),
            staged_base: Arc::new(std::sync::Mutex::new(String::new())),
            signing_key: Arc::new(random_hex(32)),
        }
    }

    sim_accessors!(ShopifySimConfig);

    /// Serves the Admin API on `api` and the staged host on `staged` (port 0: free ports).
    pub async fn launch(
        &self,
        api: SocketAddr,
        staged: SocketAddr,
    ) -> std::io::Result<ShopifyRunning> {
        let staged_server = crate::serve(self.staged_router(), staged).await?;
        *crate::util::lock(&self.staged_base) = staged_server.base_url();
        let server = crate::serve(self.router(), api).await?;
        Ok(ShopifyRunning {
            sim: self.clone(),
            server,
            staged: staged_server,
        })
    }

    /// The Admin API application: `POST /admin/api/{version}/graphql.json` and the token call.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/admin/api/{version}/graphql.json", post(api::graphql))
            .route(TOKEN_PATH, post(api::token))
            .fallback(api::unknown);
        self.core
            .app(routes, ErrorStyle::Shopify, BodyLimit::Own, self.clone())
    }

    /// The staged host's application: `POST /upload/{key}` (form) and `PUT /upload/{key}`.
    pub fn staged_router(&self) -> Router {
        let routes = Router::new()
            .route("/upload/{key}", post(staged::post_form))
            .route("/upload/{key}", put(staged::put_bytes))
            .fallback(staged::unknown);
        self.core
            .app(routes, ErrorStyle::Cos, BodyLimit::Own, self.clone())
    }

    pub(crate) fn core(&self) -> &SimCore<ShopifySimConfig, State> {
        &self.core
    }

    pub(crate) fn staged_base(&self) -> String {
        crate::util::lock(&self.staged_base).clone()
    }

    pub(crate) fn signing_key(&self) -> &str {
        &self.signing_key
    }

    /// Throttles every GraphQL request (`true`) or not, whatever the bucket holds; the staged
    /// host answers 429 `SlowDown` meanwhile.
    pub fn set_throttled(&self, on: bool) {
        self.core.state().force_throttle = on;
    }

    /// The next media attached fail processing (`FAILED`, `VIDEO_VALIDATION_ERROR`).
    pub fn fail_next_media(&self, on: bool) {
        self.core.state().fail_next = on;
    }

    /// How processing of `media_id` ends.
    pub fn set_media_outcome(&self, media_id: &str, outcome: MediaOutcome) {
        if let Some(m) = self.core.state().media.get_mut(media_id) {
            m.outcome = outcome;
        }
    }

    /// The bytes a media was made from (its staged file), by the media's global id.
    pub fn media_bytes(&self, media_id: &str) -> Option<Bytes> {
        let st = self.core.state();
        let key = st.media.get(media_id)?.staged_key.clone()?;
        st.staged.get(&key)?.bytes.clone()
    }

    /// The bytes a staged target received, by its `resourceUrl`.
    pub fn staged_bytes(&self, resource_url: &str) -> Option<Bytes> {
        let key = staged::key_of_resource(resource_url)?;
        self.core.state().staged.get(&key)?.bytes.clone()
    }

    /// The requests a staged target received, by its `resourceUrl`.
    pub fn staged_requests(&self, resource_url: &str) -> Vec<StagedRecord> {
        let Some(key) = staged::key_of_resource(resource_url) else {
            return Vec::new();
        };
        self.core
            .state()
            .staged
            .get(&key)
            .map(|s| s.requests.clone())
            .unwrap_or_default()
    }

    /// The status of a media now (`UPLOADED`, `PROCESSING`, `READY`, `FAILED`).
    pub fn media_status(&self, media_id: &str) -> Option<&'static str> {
        let cfg = self.config();
        let now = self.clock().now_millis();
        let st = self.core.state();
        st.media
            .get(media_id)
            .map(|m| schema::status_of(m, &cfg, now))
    }

    /// The test credentials: the non-expiring token and the app's keys.
    pub fn credentials(&self) -> serde_json::Value {
        let c = self.config();
        serde_json::json!({
            "access_token": c.access_token,
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "redirect_uri": c.redirect_uri,
        })
    }

    /// The one account of the JSON line: the store, its expiring token, its refresh token and
    /// an authorization code (single-use).
    pub fn accounts(&self) -> serde_json::Value {
        let c = self.config();
        serde_json::json!([{
            "name": "shopify",
            "shop": c.shop,
            "access_token": c.access_token,
            "expiring_access_token": c.expiring_access_token,
            "refresh_token": initial_secret(&c, TokenKind::Refresh),
            "authorization_code": initial_secret(&c, TokenKind::Code),
        }])
    }

    crate::tokens::sim_tokens!();
}

/// Shopify's secrets: `shpat_` access tokens, `shprt_` refresh tokens (the prefixes of
/// Shopify's tokens), hex codes.
fn mint(kind: TokenKind) -> String {
    match kind {
        TokenKind::Access => format!("shpat_{}", random_hex(16)),
        TokenKind::Refresh => format!("shprt_{}", random_hex(16)),
        TokenKind::Code => random_hex(16),
    }
}

/// The initial refresh token and code, the same after a reset.
fn initial_secret(config: &ShopifySimConfig, kind: TokenKind) -> String {
    let seed =
        md5_hex(format!("shopify-sim-{kind:?}-{}-{}", config.client_id, config.shop).as_bytes());
    match kind {
        TokenKind::Code => seed,
        _ => format!("shprt_{seed}"),
    }
}

/// The store's grant.
pub(crate) fn shop_grant(config: &ShopifySimConfig) -> Grant {
    Grant {
        credential: format!("shop:{}", config.shop),
        subjects: Vec::new(),
        scope: config.scope.clone(),
    }
}

impl Control for ShopifySim {
    fn control_ledger(&self, f: &mut dyn FnMut(&mut TokenLedger)) -> bool {
        f(&mut self.core.state().ledger);
        true
    }

    fn control_code_grant(
        &self,
        _body: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Grant, String> {
        Ok(shop_grant(&self.config()))
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
        st.media
            .iter()
            .map(|(id, m)| {
                serde_json::json!({
                    "id": id,
                    "product": m.product,
                    "alt": m.alt,
                    "filename": m.filename,
                    "status": schema::status_of(m, &cfg, now),
                })
            })
            .collect()
    }

    fn control_parts(&self, id: &str) -> Option<serde_json::Value> {
        let st = self.core.state();
        let key = st.media.get(id)?.staged_key.clone()?;
        serde_json::to_value(&st.staged.get(&key)?.requests).ok()
    }

    fn control_bytes(&self, id: &str) -> Option<Bytes> {
        self.media_bytes(id)
    }

    fn control_evicted(&self, id: &str) -> bool {
        let st = self.core.state();
        st.media
            .get(id)
            .and_then(|m| m.staged_key.as_ref())
            .and_then(|k| st.staged.get(k))
            .is_some_and(|s| s.evicted)
    }

    fn control_reset(&self) {
        self.core.reset_state();
    }

    fn control_sessions(&self) -> Vec<crate::control::SessionStanding> {
        use crate::control::{SessionStanding, Standing};
        let now_ms = self.clock().now_millis();
        let st = self.core.state();
        let attached: std::collections::BTreeSet<&String> = st
            .media
            .values()
            .filter_map(|m| m.staged_key.as_ref())
            .collect();
        st.staged
            .iter()
            .map(|(key, s)| SessionStanding {
                id: key.clone(),
                standing: if attached.contains(key) {
                    Standing::Completed
                } else if now_ms >= s.expires_ms {
                    Standing::Expired
                } else {
                    Standing::Open
                },
                parts: s.requests.len() as u64,
            })
            .collect()
    }
}

/// Starts the simulator standalone (`marketmedia sim`, the sandbox, the soak): the Admin API
/// on `addrs[0]`, the staged host on `addrs[1]`.
pub fn start_standalone(
    addrs: Vec<SocketAddr>,
    options: crate::standalone::StartOptions,
) -> crate::standalone::StartFuture {
    Box::pin(async move {
        let defaults = ShopifySimConfig::default();
        let sim = ShopifySim::new(ShopifySimConfig {
            retention: options.retention,
            processing_delay: options
                .processing_delay
                .unwrap_or(defaults.processing_delay),
            ..defaults
        });
        sim.faults().set(options.faults);
        let running = sim.launch(addrs[0], addrs[1]).await?;
        let entry = running.entry();
        Ok(crate::standalone::Started {
            simulator: Box::new(running),
            entry,
        })
    })
}
