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

mod image;
mod media;
mod params;
mod signing;
mod store;
mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use super::common::{serve, SimClock, SimServer, WireLog, WireRecord};
use super::faults::{ErrorStyle, FaultHandle};
pub use image::ImageFormat;
use params::{CollectError, ReceivedRequest};
use store::Store;
pub use store::{
    CommitPart, CommitPayload, ImageInfo, ImageSource, LazadaCounters, ReceivedBlock, UploadInfo,
    VideoInfo, VideoOutcome, VideoState,
};
pub use wire::{calls, codes, ApiError, ErrorFamily, ErrorType};

/// The platform name in the wire log.
pub const PLATFORM: &str = "lazada";
/// The test application's `app_key`.
pub const LAZADA_TEST_APP_KEY: &str = "100132";
/// The test application's secret (the HMAC key of every signature).
pub const LAZADA_TEST_APP_SECRET: &str = "lazada-sim-secret-3b6f1c0e9d2a4f85";
/// The seller access token valid from the simulator's creation for
/// [`LazadaSimConfig::access_token_lifetime`].
pub const LAZADA_TEST_ACCESS_TOKEN: &str = "50000sim601lazadatestaccesstoken0000000000000000000";
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
    /// How long an access token stays valid on the sim clock. Default 7 days (a test-status
    /// app's token lifetime).
    pub access_token_lifetime: Duration,
    /// Largest accepted difference between `timestamp` and the sim clock. Default 7200 s.
    pub timestamp_tolerance: Duration,
    /// Accept a lowercase-hex `sign`. Default `false` (the SDKs send uppercase).
    pub accept_lowercase_sign: bool,
    /// Largest accepted `fileBytes` at block/create, inclusive. Default 100 MiB (104,857,600).
    pub max_file_bytes: u64,
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
    /// Largest request body read; a larger one is answered HTTP 413. Default 64 MiB.
    pub max_request_bytes: usize,
    /// Base of the `video_url` and image `url` answered. Default `https://cdn.lazada-sim.invalid`.
    pub cdn_base_url: String,
}

impl Default for LazadaSimConfig {
    fn default() -> Self {
        LazadaSimConfig {
            app_key: LAZADA_TEST_APP_KEY.to_string(),
            app_secret: LAZADA_TEST_APP_SECRET.to_string(),
            access_token: LAZADA_TEST_ACCESS_TOKEN.to_string(),
            access_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            timestamp_tolerance: Duration::from_secs(7200),
            accept_lowercase_sign: false,
            max_file_bytes: 100 * MIB as u64,
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
        credentials: sim.credentials(),
    };
    Ok(LazadaRunning { sim, server, info })
}

#[derive(Debug)]
struct Inner {
    config: LazadaSimConfig,
    wire: WireLog,
    clock: SimClock,
    store: Mutex<Store>,
    faults: FaultHandle,
}

/// The Lazada simulator. Cheap to clone: clones share state, wire log and clock.
#[derive(Debug, Clone)]
pub struct LazadaSim {
    inner: Arc<Inner>,
}

/// The calls served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    BlockCreate,
    BlockUpload,
    BlockCommit,
    VideoGet,
    QuotaGet,
    VideoRemove,
    ImageUpload,
    ImageMigrate,
}

impl Call {
    const ALL: [Call; 8] = [
        Call::BlockCreate,
        Call::BlockUpload,
        Call::BlockCommit,
        Call::VideoGet,
        Call::QuotaGet,
        Call::VideoRemove,
        Call::ImageUpload,
        Call::ImageMigrate,
    ];

    fn api_path(self) -> &'static str {
        match self {
            Call::BlockCreate => calls::BLOCK_CREATE,
            Call::BlockUpload => calls::BLOCK_UPLOAD,
            Call::BlockCommit => calls::BLOCK_COMMIT,
            Call::VideoGet => calls::VIDEO_GET,
            Call::QuotaGet => calls::QUOTA_GET,
            Call::VideoRemove => calls::VIDEO_REMOVE,
            Call::ImageUpload => calls::IMAGE_UPLOAD,
            Call::ImageMigrate => calls::IMAGE_MIGRATE,
        }
    }

    /// The call's declared byte parameters (never signed, even without a `filename`).
    fn file_fields(self) -> &'static [&'static str] {
        match self {
            Call::BlockUpload => &["file"],
            Call::ImageUpload => &["image"],
            _ => &[],
        }
    }
}

/// Parses `timestamp`: Unix milliseconds, or `YYYY-MM-DDTHH:MM:SSZ` (UTC), both documented.
fn parse_timestamp_ms(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse().ok();
    }
    let b = raw.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { raw.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60 * 1000 + s * 1000)
}

impl LazadaSim {
    /// A simulator with `config`; its access token is valid from now on the sim clock.
    pub fn new(config: LazadaSimConfig) -> Self {
        let clock = SimClock::default();
        let mut store = Store {
            used_size: config.quota_used_bytes,
            ..Store::default()
        };
        let expiry = clock.now_millis().saturating_add(
            i64::try_from(config.access_token_lifetime.as_millis()).unwrap_or(i64::MAX),
        );
        store.tokens.insert(config.access_token.clone(), expiry);
        LazadaSim {
            inner: Arc::new(Inner {
                config,
                wire: WireLog::default(),
                clock,
                store: Mutex::new(store),
                faults: FaultHandle::default(),
            }),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // Handlers never panic while holding the lock, and every mutation leaves the store
        // consistent at each step, so a poisoned lock still holds usable data.
        self.inner.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The configuration.
    pub fn config(&self) -> &LazadaSimConfig {
        &self.inner.config
    }

    /// The base URL clients use for a server of this simulator: `<server>/rest`.
    pub fn rest_base_url(server: &SimServer) -> String {
        format!("{}/rest", server.base_url())
    }

    /// The axum application: the eight calls under `/rest`, GET or POST each; any other
    /// `/rest/...` path answers `InvalidApiPath`.
    pub fn router(&self) -> Router {
        let mut router: Router<LazadaSim> = Router::new();
        for call in Call::ALL {
            router = router.route(&format!("/rest{}", call.api_path()), route(call));
        }
        router
            .fallback(fallback)
            // The simulator reads bodies itself, up to `max_request_bytes`.
            .layer(DefaultBodyLimit::disable())
            .layer(self.inner.faults.layer(ErrorStyle::Lazada))
            .with_state(self.clone())
    }

    /// The fault and shaping layer's control (no fault until a profile is set).
    pub fn faults(&self) -> &FaultHandle {
        &self.inner.faults
    }

    /// Serves the simulator on `addr` (port 0 = a free port) until the server is dropped.
    pub async fn start(&self, addr: SocketAddr) -> std::io::Result<SimServer> {
        serve(self.router(), addr).await
    }

    /// Every request received.
    pub fn wire(&self) -> &WireLog {
        &self.inner.wire
    }

    /// The clock every expiry and processing delay is measured on.
    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// The test credentials.
    pub fn credentials(&self) -> LazadaCredentials {
        let cfg = &self.inner.config;
        LazadaCredentials {
            app_key: cfg.app_key.clone(),
            app_secret: cfg.app_secret.clone(),
            access_token: cfg.access_token.clone(),
            sign_method: LAZADA_SIGN_METHOD.to_string(),
        }
    }

    /// Registers a new valid access token (lifetime from the configuration, from now on the
    /// sim clock) and returns it, e.g. to test a client that refreshes its token.
    pub fn issue_access_token(&self) -> String {
        let token = format!("50000sim{}", hex::encode(rand::random::<[u8; 20]>()));
        let lifetime =
            i64::try_from(self.inner.config.access_token_lifetime.as_millis()).unwrap_or(i64::MAX);
        let expiry = self.clock().now_millis().saturating_add(lifetime);
        self.store().tokens.insert(token.clone(), expiry);
        token
    }

    /// Makes `token` invalid at once.
    pub fn revoke_access_token(&self, token: &str) {
        self.store().tokens.remove(token);
    }

    /// The assembled bytes of a committed video.
    pub fn video_bytes(&self, video_id: &str) -> Option<Bytes> {
        self.store().videos.get(video_id).map(|v| v.bytes.clone())
    }

    /// A video's metadata and its state now.
    pub fn video(&self, video_id: &str) -> Option<VideoInfo> {
        let now = self.clock().now_millis();
        let store = self.store();
        let v = store.videos.get(video_id)?;
        Some(VideoInfo {
            video_id: video_id.to_string(),
            upload_id: v.upload_id.clone(),
            state: media::state_of(v, now, &self.inner.config),
            title: v.title.clone(),
            cover_url: v.cover_url.clone(),
            video_usage: v.video_usage.clone(),
            size: v.bytes.len() as u64,
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
        (
            self.inner.config.quota_capacity_bytes,
            self.store().used_size,
        )
    }

    /// Every accepted image, in order.
    pub fn images(&self) -> Vec<ImageInfo> {
        self.store().images.clone()
    }

    /// The running totals.
    pub fn counters(&self) -> LazadaCounters {
        self.store().counters
    }

    fn next_request_id(&self, now_ms: i64) -> String {
        let mut store = self.store();
        store.request_seq += 1;
        // The real ids are: the front end's IPv4 in hex, the time in ms, a sequence number.
        format!("7f000001{now_ms}{:04}", store.request_seq % 10_000)
    }

    /// The gateway's checks, in its order: app key, sign method, timestamp, signature, token.
    fn check_gateway(&self, call: Call, r: &ReceivedRequest, now_ms: i64) -> Result<(), ApiError> {
        let cfg = &self.inner.config;
        let app_key = media::required(r, "app_key")?;
        if app_key != cfg.app_key {
            return Err(ApiError::gateway(
                codes::INVALID_APP_KEY,
                "The specified app key is invalid",
            ));
        }
        let sign_method = media::required(r, "sign_method")?;
        let signature_error = || {
            ApiError::gateway(
                codes::INCOMPLETE_SIGNATURE,
                "The request signature does not conform to platform standards",
            )
        };
        if sign_method != LAZADA_SIGN_METHOD {
            return Err(signature_error());
        }
        let timestamp = media::required(r, "timestamp")?;
        let tolerance = i64::try_from(cfg.timestamp_tolerance.as_millis()).unwrap_or(i64::MAX);
        match parse_timestamp_ms(timestamp) {
            Some(ts) if (now_ms - ts).abs() <= tolerance => {}
            _ => {
                return Err(ApiError::gateway(
                    codes::INVALID_TIMESTAMP,
                    format!(
                        "The timestamp \"{timestamp}\" is invalid or differs from the server time by more than {} seconds",
                        cfg.timestamp_tolerance.as_secs()
                    ),
                ))
            }
        }
        let sign = media::required(r, "sign")?;
        if !signing::verify(
            &cfg.app_secret,
            call.api_path(),
            &r.params,
            sign,
            cfg.accept_lowercase_sign,
        ) {
            return Err(signature_error());
        }
        let token = media::required(r, "access_token")?;
        match self.store().tokens.get(token) {
            Some(expiry) if now_ms < *expiry => Ok(()),
            _ => Err(ApiError::gateway(
                codes::ILLEGAL_ACCESS_TOKEN,
                "The specified access token is invalid or expired",
            )),
        }
    }

    fn handle(
        &self,
        call: Call,
        r: &ReceivedRequest,
        now_ms: i64,
        request_id: &str,
    ) -> Result<Value, ApiError> {
        let cfg = &self.inner.config;
        let mut store = self.store();
        let store = &mut *store;
        let media_call = match call {
            Call::BlockCreate => media::block_create,
            Call::BlockUpload => media::block_upload,
            Call::BlockCommit => media::block_commit,
            Call::VideoGet => media::video_get,
            Call::QuotaGet => media::quota_get,
            Call::VideoRemove => media::video_remove,
            Call::ImageUpload => {
                return image::upload(store, cfg, r).map(|d| wire::data_success(request_id, d))
            }
            Call::ImageMigrate => {
                return image::migrate(store, cfg, r).map(|d| wire::data_success(request_id, d))
            }
        };
        media_call(store, cfg, now_ms, r).map(|data| wire::media_success(request_id, data))
    }

    fn record(&self, call: &str, r: &ReceivedRequest, status: u16, error: Option<String>) {
        {
            let mut store = self.store();
            store.counters.requests += 1;
            if error.is_some() {
                store.counters.errors += 1;
            }
        }
        self.inner.wire.push(WireRecord {
            platform: PLATFORM,
            call: call.to_string(),
            method: r.method.clone(),
            path: r.path.clone(),
            params: r.params.clone(),
            files: r.file_sizes(),
            body_len: r.body_len,
            status,
            error,
        });
    }

    fn answer(
        &self,
        call: &str,
        r: &ReceivedRequest,
        result: Result<Value, ApiError>,
        request_id: &str,
    ) -> Response {
        match result {
            Ok(body) => {
                self.record(call, r, 200, None);
                Json(body).into_response()
            }
            Err(err) => {
                self.record(call, r, 200, Some(err.code.to_string()));
                let zero = self.inner.config.business_failures_as_code_zero;
                Json(err.to_json(request_id, zero)).into_response()
            }
        }
    }

    async fn dispatch(&self, call: Call, req: Request) -> Response {
        let limit = self.inner.config.max_request_bytes;
        let collected = params::collect(req, call.file_fields(), limit).await;
        let now_ms = self.clock().now_millis();
        let request_id = self.next_request_id(now_ms);
        let received = match collected {
            Ok(r) => r,
            Err(CollectError::TooLarge(r)) => {
                self.record(
                    call.api_path(),
                    &r,
                    413,
                    Some("RequestEntityTooLarge".into()),
                );
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "413 Request Entity Too Large",
                )
                    .into_response();
            }
            Err(CollectError::Malformed(r, msg)) => {
                let err = ApiError::gateway(
                    codes::INVALID_PARAMETER,
                    format!("The request body could not be parsed: {msg}"),
                );
                return self.answer(call.api_path(), &r, Err(err), &request_id);
            }
        };
        let result = self
            .check_gateway(call, &received, now_ms)
            .and_then(|()| self.handle(call, &received, now_ms, &request_id));
        self.answer(call.api_path(), &received, result, &request_id)
    }
}

fn route(call: Call) -> MethodRouter<LazadaSim> {
    let handler = move |State(sim): State<LazadaSim>, req: Request| async move {
        sim.dispatch(call, req).await
    };
    get(handler).post(handler)
}

async fn fallback(State(sim): State<LazadaSim>, uri: Uri, req: Request) -> Response {
    let Some(api_path) = uri.path().strip_prefix("/rest") else {
        return (StatusCode::NOT_FOUND, "404 Not Found").into_response();
    };
    let api_path = api_path.to_string();
    let received = ReceivedRequest {
        method: req.method().to_string(),
        path: uri.path().to_string(),
        ..ReceivedRequest::default()
    };
    let now_ms = sim.clock().now_millis();
    let request_id = sim.next_request_id(now_ms);
    let err = ApiError {
        code: codes::INVALID_API_PATH,
        kind: ErrorType::System,
        family: ErrorFamily::Gateway,
        message: format!("The specified API path \"{api_path}\" is invalid"),
    };
    sim.answer(&api_path, &received, Err(err), &request_id)
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp_ms;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_ms("1517820392000"), Some(1_517_820_392_000));
        assert_eq!(
            parse_timestamp_ms("2017-11-11T12:00:00Z"),
            Some(1_510_401_600_000)
        );
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp_ms("yesterday"), None);
        assert_eq!(parse_timestamp_ms(""), None);
    }
}
