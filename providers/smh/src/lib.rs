//! # marketmedia-smh
//!
//! Tencent Cloud Smart Media Hosting (SMH) for marketmedia: videos through SMH's multipart
//! upload (presigned COS parts, 1-based, concurrent), with the instant-upload handshake that
//! skips every byte when the library already holds the file, renewal of the presigned upload
//! information before (and when) it expires, server-side resume, and confirm with the file's
//! CRC-64; images through SMH's simple upload. SMH is done at confirm: there is no processing
//! to poll.
//!
//! ```no_run
//! use marketmedia_core::{UploadDriver, UploadOptions};
//! use marketmedia_smh::{ConflictStrategy, SmhConfig, SmhUploader};
//!
//! # async fn demo() -> marketmedia_core::Result<()> {
//! let config = SmhConfig::builder()
//!     .library_id("smhxxxxxxxx")
//!     .library_secret(std::env::var("SMH_LIBRARY_SECRET").unwrap_or_default())
//!     .directory("products/2024")
//!     .conflict(ConflictStrategy::Rename)
//!     .build()?;
//! let smh = SmhUploader::new(config)?;
//! smh.create_directory("products/2024").await.ok(); // SMH does not create parents
//! let driver = UploadDriver::new(UploadOptions::default());
//! let outcome = driver.upload_file(&smh, std::path::Path::new("demo.mp4")).await?;
//! if let Some(asset) = outcome.asset() {
//!     // The final path: it differs from the requested one after an automatic rename.
//!     println!("stored as {} ({} bytes, instant: {})", asset.id, asset.size.unwrap_or(0), outcome.stats.instant);
//! }
//! # Ok(()) }
//! ```
//!
//! Access tokens come from `GET /api/v1/token` with the library secret, through core's token
//! mechanism ([`auth`]): kept, fetched again before `expiresIn` runs out, and once more when
//! the API answers `InvalidAccessToken` / `AuthorizationExpired`. The presigned storage headers are bearer
//! credentials: they live only in the uploader's memory, never in the session (which is
//! printed by `Debug` and persisted by journals); a session resumed by another process fetches
//! fresh ones through `?upload` or `?renew`.
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod errors;
pub mod marketplace;
pub mod signing;
pub mod wire;

use std::collections::HashMap;

use async_trait::async_trait;
use marketmedia_core::raw::http::{part_body, unix_millis, CallMeta, HttpClient, RawResponse};
use marketmedia_core::raw::Digester;
use marketmedia_core::raw::{
    Asset, ChunkedVideoUploader, CommitOutcome, DigestNeeds, DigestRequest, Error, ErrorKind,
    ImageRules, ImageSource, ImageUploader, InitOutcome, MediaFormat, MetaField, NumberingBase,
    Part, PartPlan, PartReceipt, PartSizeRule, ProcessingHandle, ProcessingStatus, Result,
    SourceInfo, TokenSource, UploadRules, UploadSession, UploadedImage,
};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_LENGTH, ETAG};
use serde::{Deserialize, Serialize};
use url::Url;

pub use config::{
    library_base_url, ConflictStrategy, Credentials, SmhConfig, SmhConfigBuilder, StorageScheme,
    DEFAULT_GRANTS, DEFAULT_PART_SIZE, LIBRARY_DOMAIN_SUFFIX, MIB,
};
pub use marketplace::{Smh, SmhSettings};

use crate::config::{check_file_name, directory_segments};
use crate::errors::{api_error_for, is_token_error, storage_error};
use crate::wire::{query, BeginRequest, ConfirmRequest, FileInfo, UploadInfo, UploadStatus};
use marketmedia_core::raw::Recovery;

/// The platform's short name.
pub const PLATFORM: &str = "smh";

/// Largest COS part (5 GiB).
pub const MAX_PART_BYTES: u64 = 5 * 1024 * MIB;
/// Most parts of one upload (COS).
pub const MAX_PARTS: u32 = 10_000;

/// The uploader: implements [`ChunkedVideoUploader`] and [`ImageUploader`] for one media
/// library, space, target directory and conflict strategy.
pub struct SmhUploader {
    config: SmhConfig,
    base: Url,
    http: HttpClient,
    rules: UploadRules,
    image_rules: ImageRules,
    /// The access token of each request (core's mechanism; see [`auth`]).
    tokens: TokenSource,
    /// Presigned upload information by confirm key (never persisted: it holds credentials).
    live: std::sync::Mutex<HashMap<String, LiveInfo>>,
    /// Serialises fetching missing upload information, so concurrent parts fetch it once.
    fill: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SmhUploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmhUploader")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Where and how parts of one upload go. Holds presigned credentials: not `Debug`.
#[derive(Clone)]
struct LiveInfo {
    domain: String,
    path: String,
    upload_id: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// What the session carries between calls and processes. No credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionData {
    confirm_key: String,
    file_path: String,
    conflict: ConflictStrategy,
    crc64: Option<String>,
    domain: String,
    path: String,
    upload_id: String,
    expiration: Option<String>,
}

/// The rules of SMH multipart uploads, with the preferred part size of `config`.
pub fn rules_for(config: &SmhConfig) -> UploadRules {
    UploadRules {
        part_numbering: NumberingBase::One,
        max_parts: MAX_PARTS,
        digests: DigestNeeds {
            instant_upload_hashes: config.instant_upload,
            crc64: true,
            ..DigestNeeds::default()
        },
        instant_upload: config.instant_upload,
        server_side_resume: true,
        renewable_sessions: true,
        ..UploadRules::new(
            PLATFORM,
            PartSizeRule::Range {
                min: MIB,
                max: MAX_PART_BYTES,
                preferred: config.part_size,
            },
            u64::from(MAX_PARTS) * MAX_PART_BYTES,
        )
    }
}

pub(crate) fn meta(call: &str) -> CallMeta<'_> {
    CallMeta {
        platform: PLATFORM,
        call,
        part: None,
    }
}

pub(crate) fn protocol(call: &str, message: impl Into<String>) -> Error {
    Error::protocol(message)
        .with_platform(PLATFORM)
        .with_call(call)
}

fn is_success(raw: &RawResponse) -> bool {
    (200..300).contains(&raw.status)
}

/// `directory/name`, both checked (no empty, `.` or `..` segment; a plain file name).
fn path_in(directory: &str, name: &str) -> Result<Vec<String>> {
    check_file_name(name)?;
    let mut segs: Vec<String> = directory_segments(directory)?
        .into_iter()
        .map(str::to_owned)
        .collect();
    segs.push(name.to_owned());
    Ok(segs)
}

impl SmhUploader {
    /// An uploader for `config` (checked here, without any request).
    pub fn new(config: SmhConfig) -> Result<Self> {
        let http = HttpClient::new(config.options)?;
        Self::with_client(config, http)
    }

    /// An uploader sharing an existing HTTP client.
    pub fn with_client(config: SmhConfig, http: HttpClient) -> Result<Self> {
        config.validate()?;
        let base = Url::parse(&config.base_url).map_err(|e| {
            Error::invalid_input(format!(
                "{:?} is not a URL",
                marketmedia_core::RedactedUrl::new(&config.base_url)
            ))
            .with_platform(PLATFORM)
            .with_source(e)
        })?;
        if base.cannot_be_a_base() {
            return Err(Error::invalid_input(format!(
                "{:?} cannot be a base URL",
                marketmedia_core::RedactedUrl::new(&config.base_url)
            ))
            .with_platform(PLATFORM));
        }
        let rules = rules_for(&config);
        let image_rules = ImageRules {
            platform: PLATFORM.into(),
            max_images: None,
            max_bytes: config.image_max_bytes,
            formats: vec![
                MediaFormat::Jpeg,
                MediaFormat::Png,
                MediaFormat::Gif,
                MediaFormat::Webp,
            ],
        };
        let tokens = auth::token_source(&config, &http, &base)?;
        Ok(SmhUploader {
            config,
            base,
            http,
            rules,
            image_rules,
            tokens,
            live: std::sync::Mutex::new(HashMap::new()),
            fill: tokio::sync::Mutex::new(()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SmhConfig {
        &self.config
    }

    /// Creates a directory (`a/b`) in the space: `PUT /api/v1/directory/…`. SMH creates no
    /// parent directory by itself, so create each level first. An existing directory is a
    /// [`ErrorKind::Conflict`].
    pub async fn create_directory(&self, dir: &str) -> Result<()> {
        let segments = directory_segments(dir)?;
        if segments.is_empty() {
            return Err(
                Error::invalid_input("the root directory always exists").with_platform(PLATFORM)
            );
        }
        let url = self.api_url(wire::DIRECTORY_PATH, &segments)?;
        let call = "create_directory";
        self.api(call, |token| {
            let mut url = url.clone();
            url.query_pairs_mut()
                .append_pair(query::ACCESS_TOKEN, token);
            self.http.put(url)
        })
        .await?;
        Ok(())
    }

    /// `{base}/{prefix…}/{LibraryId}/{SpaceId}/{tail…}`, every segment percent-encoded.
    fn api_url(&self, prefix: [&str; 3], tail: &[&str]) -> Result<Url> {
        let mut url = self.base.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|_| {
                Error::invalid_input("the SMH base URL cannot carry a path").with_platform(PLATFORM)
            })?;
            segs.pop_if_empty();
            segs.extend(prefix);
            segs.push(&self.config.library_id);
            segs.push(&self.config.space_id);
            segs.extend(tail);
        }
        Ok(url)
    }

    /// The target path of a video, checked: `dir/name`, the directory being the upload's
    /// ([`MetaField::Directory`]) or the configured one, the name the source's as the driver
    /// gives it (the upload's [`MetaField::FileName`] when given).
    fn target_path(&self, source: &SourceInfo) -> Result<Vec<String>> {
        let directory = source
            .meta
            .get(MetaField::Directory)
            .unwrap_or(&self.config.directory);
        path_in(directory, &source.file_name)
    }

    /// `dir/name` in the configured directory, checked.
    fn path_in_directory(&self, name: &str) -> Result<Vec<String>> {
        path_in(&self.config.directory, name)
    }

    /// Fetches an access token with the library secret (`GET /api/v1/token`): the one
    /// documented authenticated call that needs no file, for `marketmedia accounts check`.
    /// A configured ready token cannot be checked this way (SMH documents no call that only
    /// checks a token): [`ErrorKind::Unsupported`].
    pub async fn check_account(&self) -> Result<marketmedia_core::AccountCheck> {
        let Credentials::LibrarySecret(secret) = &self.config.credentials else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "configured with a ready access token: SMH documents no call that only checks \
                 one (configure library_secret to check the library)",
            )
            .with_platform(PLATFORM));
        };
        let refresher = auth::SmhRefresher::new(
            self.http.clone(),
            self.base.clone(),
            self.config.clone(),
            secret.clone(),
        );
        refresher.fetch().await?;
        Ok(marketmedia_core::AccountCheck {
            call: "GET /api/v1/token".into(),
            display_name: None,
            id: Some(format!(
                "{}/{}",
                self.config.library_id, self.config.space_id
            )),
            country: None,
            status: None,
        })
    }

    /// One API call with the access token, fetched again once when the API says it is invalid
    /// or expired. `build` gets the token and builds the request. Non-2xx answers are errors.
    async fn api<F>(&self, call: &str, build: F) -> Result<RawResponse>
    where
        F: Fn(&str) -> reqwest::RequestBuilder,
    {
        self.tokens
            .call(|token| {
                let request = build(token.expose());
                async move {
                    let raw = self.http.send(request, meta(call)).await?;
                    if is_success(&raw) {
                        return Ok(raw);
                    }
                    let err = api_error_for(&raw, &meta(call), &self.config);
                    Err(if is_token_error(&raw) {
                        err.with_token_refused()
                    } else {
                        err
                    })
                }
            })
            .await
    }

    // ---- upload information ---------------------------------------------------------------

    fn live_info(
        info: &UploadInfo,
        fallback: Option<&SessionData>,
        call: &str,
    ) -> Result<LiveInfo> {
        let domain = info
            .domain
            .clone()
            .filter(|d| !d.is_empty())
            .or_else(|| fallback.map(|s| s.domain.clone()))
            .ok_or_else(|| protocol(call, "the upload information names no storage domain"))?;
        let path = info
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .or_else(|| fallback.map(|s| s.path.clone()))
            .ok_or_else(|| protocol(call, "the upload information names no storage path"))?;
        let upload_id = info
            .upload_id
            .clone()
            .or_else(|| fallback.map(|s| s.upload_id.clone()));
        let mut headers = Vec::new();
        for (k, v) in info.header_pairs() {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| protocol(call, format!("the upload header {k:?} is not valid")))?;
            if name == CONTENT_LENGTH || name == reqwest::header::HOST {
                continue;
            }
            let value = HeaderValue::from_str(&v).map_err(|_| {
                protocol(call, format!("the value of upload header {k} is not valid"))
            })?;
            headers.push((name, value));
        }
        Ok(LiveInfo {
            domain,
            path,
            upload_id,
            headers,
        })
    }

    fn remember(&self, confirm_key: &str, info: LiveInfo) {
        if let Ok(mut map) = self.live.lock() {
            map.insert(confirm_key.to_owned(), info);
        }
    }

    /// `live` if its storage domain and path make a URL: an answer naming no host is a
    /// `Protocol` error of the call that brought it, never remembered for the parts after it.
    fn usable(&self, live: LiveInfo, call: &str) -> Result<LiveInfo> {
        self.storage_url(&live.domain, &live.path, call)?;
        Ok(live)
    }

    fn recall(&self, confirm_key: &str) -> Option<LiveInfo> {
        self.live.lock().ok()?.get(confirm_key).cloned()
    }

    fn forget(&self, confirm_key: &str) {
        if let Ok(mut map) = self.live.lock() {
            map.remove(confirm_key);
        }
    }

    /// The presigned information of a session: remembered, or fetched through `?renew` (a
    /// session resumed by another process).
    async fn info_for(&self, session: &UploadSession, data: &SessionData) -> Result<LiveInfo> {
        if let Some(info) = self.recall(&data.confirm_key) {
            return Ok(info);
        }
        let _guard = self.fill.lock().await;
        if let Some(info) = self.recall(&data.confirm_key) {
            return Ok(info);
        }
        self.renew_session(session).await?;
        self.recall(&data.confirm_key)
            .ok_or_else(|| protocol("renew", "no upload information after renewal"))
    }

    fn storage_url(&self, domain: &str, path: &str, call: &str) -> Result<Url> {
        let origin = if domain.starts_with("http://") || domain.starts_with("https://") {
            domain.to_owned()
        } else {
            format!("{}://{}", self.config.storage_scheme.as_str(), domain)
        };
        let not_a_host = || protocol(call, format!("the storage domain {domain:?} is not a host"));
        let mut url = Url::parse(&origin).map_err(|_| not_a_host())?;
        if !names_a_host(&url) {
            return Err(not_a_host());
        }
        url.set_path(path);
        Ok(url)
    }

    fn file_call_url(&self, confirm_key: &str) -> Result<Url> {
        self.api_url(wire::FILE_PATH, &[confirm_key])
    }

    async fn renew_session(&self, session: &UploadSession) -> Result<UploadSession> {
        let call = "renew";
        let mut data = session_data(session)?;
        let url = self.file_call_url(&data.confirm_key)?;
        let raw = self
            .api(call, |token| {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_key_only(query::RENEW)
                    .append_pair(query::ACCESS_TOKEN, token);
                self.http.post(url)
            })
            .await?;
        let info: UploadInfo = raw.json(&meta(call))?;
        let live = self.usable(Self::live_info(&info, Some(&data), call)?, call)?;
        data.domain = live.domain.clone();
        data.path = live.path.clone();
        if let Some(id) = &live.upload_id {
            data.upload_id = id.clone();
        }
        if info.expiration.is_some() {
            data.expiration = info.expiration.clone();
        }
        self.remember(&data.confirm_key, live);
        let mut fresh = session.clone();
        fresh.expires_at = data.expiration.as_deref().and_then(wire::parse_expiration);
        fresh.data = to_data(&data)?;
        Ok(fresh)
    }

    /// The upload task's status call (`GET …/{ConfirmKey}?upload`), its answer ignored: `Ok`
    /// while the task is open, the platform's error otherwise.
    async fn upload_task(&self, data: &SessionData) -> Result<()> {
        let url = self.file_call_url(&data.confirm_key)?;
        self.api("upload_status", |token| {
            let mut url = url.clone();
            url.query_pairs_mut()
                .append_key_only(query::UPLOAD)
                .append_pair(query::ACCESS_TOKEN, token);
            self.http.get(url)
        })
        .await
        .map(|_| ())
    }

    /// Whether the upload task of `session` is gone (the platform answers 404 for it).
    async fn upload_is_gone(&self, session: &UploadSession) -> bool {
        match session_data(session) {
            Ok(data) => matches!(
                self.upload_task(&data).await,
                Err(e) if e.kind() == ErrorKind::NotFound
            ),
            Err(_) => false,
        }
    }

    /// A file's details (`GET /api/v1/directory/{Lib}/{Space}/{FilePath}?info`, "View file
    /// details", which describes a file or a directory).
    async fn file_info(&self, path: &[String]) -> Result<FileInfo> {
        let call = "file_info";
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let url = self.api_url(wire::DIRECTORY_PATH, &segs)?;
        let raw = self
            .api(call, |token| {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_key_only(query::INFO)
                    .append_pair(query::ACCESS_TOKEN, token);
                self.http.get(url)
            })
            .await?;
        raw.json(&meta(call))
    }

    // ---- begin ----------------------------------------------------------------------------

    async fn begin(&self, path: &[String], size: u64, body: &BeginRequest) -> Result<RawResponse> {
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let url = self.api_url(wire::FILE_PATH, &segs)?;
        let conflict = self.config.conflict.as_str();
        self.api("begin", |token| {
            let mut url = url.clone();
            url.query_pairs_mut()
                .append_key_only(query::MULTIPART)
                .append_pair(query::CONFLICT, conflict)
                .append_pair(query::FILESIZE, &size.to_string())
                .append_pair(query::ACCESS_TOKEN, token);
            self.http.post(url).json(body)
        })
        .await
    }

    async fn confirm(
        &self,
        confirm_key: &str,
        crc64: Option<String>,
        conflict: ConflictStrategy,
    ) -> Result<FileInfo> {
        let call = "confirm";
        let url = self.file_call_url(confirm_key)?;
        let body = ConfirmRequest { crc64 };
        let raw = self
            .api(call, |token| {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_key_only(query::CONFIRM)
                    .append_pair(query::CONFLICT, conflict.as_str())
                    .append_pair(query::ACCESS_TOKEN, token);
                let req = self.http.post(url);
                if body.crc64.is_some() {
                    req.json(&body)
                } else {
                    req
                }
            })
            .await?;
        let info: FileInfo = raw.json(&meta(call))?;
        if let (Some(ours), Some(theirs)) = (&body.crc64, &info.crc64) {
            if ours != theirs {
                return Err(protocol(
                    call,
                    format!("the stored file's CRC-64 is {theirs}, the source's {ours}"),
                ));
            }
        }
        Ok(info)
    }

    async fn upload_image(&self, image: &ImageSource) -> Result<UploadedImage> {
        let path = self.path_in_directory(&image.file_name)?;
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let url = self.api_url(wire::FILE_PATH, &segs)?;
        let size = image.data.len() as u64;
        let conflict = self.config.conflict;
        let call = "simple_upload";
        let raw = self
            .api(call, |token| {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_pair(query::CONFLICT, conflict.as_str())
                    .append_pair(query::FILESIZE, &size.to_string())
                    .append_pair(query::ACCESS_TOKEN, token);
                self.http.put(url)
            })
            .await?;
        let info: UploadInfo = raw.json(&meta(call))?;
        let confirm_key = info
            .confirm_key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| protocol(call, "the simple upload answer carries no confirmKey"))?;
        let live = self.usable(Self::live_info(&info, None, call)?, call)?;
        let put = "put_object";
        let url = self.storage_url(&live.domain, &live.path, put)?;
        let mut req = self.http.put(url);
        for (k, v) in &live.headers {
            req = req.header(k, v);
        }
        let req = req
            .header(CONTENT_LENGTH, size)
            .body(reqwest::Body::from(image.data.clone()));
        let raw = self.http.send(req, meta(put)).await?;
        if !is_success(&raw) {
            return Err(storage_error(&raw, &meta(put)));
        }
        let mut digester = Digester::new(&DigestRequest {
            crc64: true,
            ..DigestRequest::default()
        });
        digester.update(&image.data);
        let crc = signing::crc64_decimal(&digester.finish());
        let file = self.confirm(&confirm_key, crc, conflict).await?;
        let asset = asset_from(file, "confirm")?;
        Ok(UploadedImage {
            platform: PLATFORM.into(),
            id: asset.id,
            urls: Vec::new(),
            details: asset.details,
        })
    }

    fn session_from(
        &self,
        info: &UploadInfo,
        file_path: String,
        crc64: Option<String>,
        plan: &PartPlan,
    ) -> Result<UploadSession> {
        let call = "begin";
        let confirm_key = info
            .confirm_key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| protocol(call, "the upload information carries no confirmKey"))?;
        let live = self.usable(Self::live_info(info, None, call)?, call)?;
        let upload_id = live
            .upload_id
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| protocol(call, "the upload information carries no uploadId"))?;
        let expires_at = info.expiration.as_deref().and_then(wire::parse_expiration);
        if info.expiration.is_some() && expires_at.is_none() {
            tracing::warn!(
                platform = PLATFORM,
                "could not read the upload information's expiration"
            );
        }
        let data = SessionData {
            confirm_key: confirm_key.clone(),
            file_path,
            conflict: self.config.conflict,
            crc64,
            domain: live.domain.clone(),
            path: live.path.clone(),
            upload_id,
            expiration: info.expiration.clone(),
        };
        self.remember(&confirm_key, live);
        Ok(UploadSession {
            platform: PLATFORM.into(),
            upload_id: confirm_key,
            plan: *plan,
            expires_at,
            started_at_ms: unix_millis(),
            data: to_data(&data)?,
        })
    }
}

fn session_data(session: &UploadSession) -> Result<SessionData> {
    serde_json::from_value(session.data.clone()).map_err(|e| {
        Error::invalid_input(format!("this is not an SMH upload session: {e}"))
            .with_platform(PLATFORM)
    })
}

fn to_data(data: &SessionData) -> Result<serde_json::Value> {
    serde_json::to_value(data)
        .map_err(|e| protocol("session", format!("cannot encode the session: {e}")))
}

/// The asset for a stored file.
fn asset_from(file: FileInfo, call: &str) -> Result<Asset> {
    let path = file
        .path
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| protocol(call, "the answer names no path for the stored file"))?;
    let details = serde_json::to_value(&file)
        .map_err(|e| protocol(call, format!("cannot keep the file information: {e}")))?;
    Ok(Asset {
        platform: PLATFORM.into(),
        id: path.join("/"),
        urls: Vec::new(),
        thumbnails: Vec::new(),
        duration: None,
        size: file.size,
        details,
    })
}

#[async_trait]
impl ChunkedVideoUploader for SmhUploader {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }

    async fn preflight(&self, source: &SourceInfo) -> Result<()> {
        self.target_path(source)?;
        // The driver runs this while it hashes the file: fetching the access token now takes
        // its round trip off the begin call (and refuses a wrong library secret early).
        self.tokens.access_token().await?;
        Ok(())
    }

    async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        let call = "begin";
        let path = self.target_path(source)?;
        let hashes = if self.config.instant_upload {
            signing::instant_hashes(source.size, &source.digests)
        } else {
            None
        };
        let crc64 = signing::crc64_decimal(&source.digests);
        let mut body = BeginRequest {
            size: source.size.to_string(),
            beginning_hash: hashes.as_ref().map(|h| h.0.clone()),
            full_hash: None,
        };
        for round in 0..2 {
            let raw = self.begin(&path, source.size, &body).await?;
            match raw.status {
                200 => {
                    let file: FileInfo = raw.json(&meta(call))?;
                    tracing::debug!(
                        platform = PLATFORM,
                        "instant upload: the library has the file"
                    );
                    return Ok(InitOutcome::Done(asset_from(file, call)?));
                }
                201 => {
                    let info: UploadInfo = raw.json(&meta(call))?;
                    let session = self.session_from(&info, path.join("/"), crc64, plan)?;
                    return Ok(InitOutcome::Session(session));
                }
                202 if round == 0 => match &hashes {
                    Some((_, full)) => body.full_hash = Some(full.clone()),
                    None => {
                        return Err(protocol(
                            call,
                            "HTTP 202 (send fullHash) to a request without hashes",
                        )
                        .with_http_status(202))
                    }
                },
                status => {
                    return Err(protocol(
                        call,
                        format!("unexpected HTTP {status} to the begin call"),
                    )
                    .with_http_status(status))
                }
            }
        }
        Err(protocol(call, "HTTP 202 again after sending fullHash").with_http_status(202))
    }

    async fn put_part(&self, session: &UploadSession, part: &Part) -> Result<PartReceipt> {
        // COS storage accepts any part number up to 10,000; a part outside the session's plan
        // would silently corrupt the assembled file, so it is refused here.
        let expected = session.plan.part(part.index).map(|p| p.len);
        if expected != Some(part.len()) {
            return Err(Error::invalid_input(format!(
                "part {} of {} bytes is not in this session's plan ({} parts of {} bytes)",
                part.index,
                part.len(),
                session.plan.count(),
                session.plan.part_size()
            ))
            .with_platform(PLATFORM)
            .with_call("upload_part"));
        }
        let data = session_data(session)?;
        let info = self.info_for(session, &data).await?;
        let wire_number = self.rules.part_numbering.wire(part.index);
        let call = "upload_part";
        let mut url = self.storage_url(&info.domain, &info.path, call)?;
        let upload_id = info.upload_id.as_deref().unwrap_or(&data.upload_id);
        url.query_pairs_mut()
            .append_pair(query::UPLOAD_ID, upload_id)
            .append_pair(query::PART_NUMBER, &wire_number.to_string());
        let mut req = self.http.put(url);
        for (k, v) in &info.headers {
            req = req.header(k, v);
        }
        let req = req.header(CONTENT_LENGTH, part.len()).body(part_body(part));
        let meta = CallMeta {
            platform: PLATFORM,
            call,
            part: Some(part.index),
        };
        let raw = self.http.send(req, meta).await?;
        if !is_success(&raw) {
            let err = storage_error(&raw, &meta);
            if err.kind() == ErrorKind::Auth && self.upload_is_gone(session).await {
                // COS refuses the part because the upload behind the presigned headers no
                // longer exists (the service lost it, e.g. after a restart): a lost session,
                // which the driver replaces with a new one.
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "the platform no longer knows this upload (part {} refused: {})",
                        wire_number,
                        err.message()
                    ),
                )
                .with_platform(PLATFORM)
                .with_call(call)
                .with_code("UploadNotFound"));
            }
            return Err(err);
        }
        let etag = raw
            .headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // COS answers a stored part with its MD5 as the quoted ETag. A 200 without it, or
        // with another, is not an acknowledgement of these bytes: retried (as Corrupted),
        // never carried to confirm.
        let ours = part.md5_hex().await?;
        match etag.as_deref().map(|t| t.trim().trim_matches('"').to_ascii_lowercase()) {
            Some(theirs) if theirs == ours => {}
            Some(theirs) => {
                return Err(Error::new(
                    ErrorKind::Corrupted,
                    format!("part {wire_number}: the storage's ETag {theirs} is not the part's MD5 {ours}"),
                )
                .with_platform(PLATFORM)
                .with_call(call))
            }
            None => {
                return Err(Error::new(
                    ErrorKind::Corrupted,
                    format!("part {wire_number}: the storage answered without an ETag; the part is not acknowledged"),
                )
                .with_platform(PLATFORM)
                .with_call(call))
            }
        }
        Ok(PartReceipt {
            index: part.index,
            wire_number,
            size: part.len(),
            etag,
        })
    }

    async fn commit(
        &self,
        session: &UploadSession,
        _receipts: &[PartReceipt],
    ) -> Result<CommitOutcome> {
        // SMH records no eTags: confirm carries only the key and the CRC-64.
        let data = session_data(session)?;
        let file = self
            .confirm(&data.confirm_key, data.crc64.clone(), data.conflict)
            .await?;
        self.forget(&data.confirm_key);
        Ok(CommitOutcome::Ready(asset_from(file, "confirm")?))
    }

    /// The upload task first (`GET …?upload`): still open means confirm did not take place,
    /// gone means it was cancelled or expired; `UploadComplete` means it was confirmed. Then
    /// the file's details at the session's path (`GET /api/v1/directory/…/{FilePath}?info`,
    /// "View file details"): the same size and CRC-64 as the source make it this upload's
    /// asset. A confirmed upload whose file is elsewhere (renamed by the `rename` strategy
    /// next to a different file of the same name) is committed with its path unknown.
    async fn recover(
        &self,
        session: &UploadSession,
        _receipts: &[PartReceipt],
        _commit_error: Option<ErrorKind>,
    ) -> Result<Recovery> {
        let data = session_data(session)?;
        match self.upload_task(&data).await {
            Ok(()) => return Ok(Recovery::NotCommitted),
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Recovery::NotCommitted),
            Err(e) => return Err(e),
        }
        self.forget(&data.confirm_key);
        let segments: Vec<String> = data.file_path.split('/').map(str::to_owned).collect();
        match self.file_info(&segments).await {
            Ok(file) => {
                let size_ok = file.size == Some(session.plan.file_size());
                let crc_ok = match (&data.crc64, &file.crc64) {
                    (Some(ours), Some(theirs)) => ours == theirs,
                    // Without a CRC-64 on either side the size alone cannot tell two files
                    // apart: the asset is not claimed.
                    _ => false,
                };
                if size_ok && crc_ok {
                    Ok(Recovery::Committed(CommitOutcome::Ready(asset_from(
                        file,
                        "file_info",
                    )?)))
                } else {
                    Ok(Recovery::CommittedIdUnknown)
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Recovery::CommittedIdUnknown),
            Err(e) => Err(e),
        }
    }

    async fn poll(&self, handle: &ProcessingHandle) -> Result<ProcessingStatus> {
        // SMH is done at confirm; a handle can only carry a ready asset.
        let asset = handle
            .data
            .get("asset")
            .cloned()
            .and_then(|a| serde_json::from_value::<Asset>(a).ok())
            .ok_or_else(|| protocol("poll", "SMH has no processing to poll"))?;
        Ok(ProcessingStatus::Ready(asset))
    }

    async fn cancel(&self, session: &UploadSession) -> Result<()> {
        let call = "cancel";
        let data = session_data(session)?;
        let url = self.file_call_url(&data.confirm_key)?;
        let result = self
            .api(call, |token| {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_key_only(query::UPLOAD)
                    .append_pair(query::ACCESS_TOKEN, token);
                self.http.delete(url)
            })
            .await;
        self.forget(&data.confirm_key);
        match result {
            Ok(_) => Ok(()),
            // Already gone: nothing left to cancel.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn uploaded_parts(&self, session: &UploadSession) -> Result<Option<Vec<PartReceipt>>> {
        let call = "upload_status";
        let data = session_data(session)?;
        let url = self.file_call_url(&data.confirm_key)?;
        let raw = self
            .api(call, |token| {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_key_only(query::UPLOAD)
                    .append_pair(query::ACCESS_TOKEN, token);
                self.http.get(url)
            })
            .await?;
        let status: UploadStatus = raw.json(&meta(call))?;
        if let Some(info) = &status.upload_part_info {
            if let Ok(live) =
                Self::live_info(info, Some(&data), call).and_then(|live| self.usable(live, call))
            {
                self.remember(&data.confirm_key, live);
            }
        }
        let count = session.plan.count();
        let receipts = status
            .parts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                let number = u32::try_from(p.part_number?).ok()?;
                if number == 0 || number > count {
                    return None;
                }
                Some(PartReceipt {
                    index: number - 1,
                    wire_number: number,
                    size: p.size?,
                    etag: p.etag,
                })
            })
            .collect();
        Ok(Some(receipts))
    }

    async fn renew(&self, session: &UploadSession) -> Result<UploadSession> {
        let _guard = self.fill.lock().await;
        self.renew_session(session).await
    }
}

#[async_trait]
impl ImageUploader for SmhUploader {
    fn image_rules(&self) -> &ImageRules {
        &self.image_rules
    }

    /// Uploads each image by SMH's simple upload (begin, `PUT` of the bytes to storage,
    /// confirm with the CRC-64) into the configured directory, under its own file name.
    async fn upload_images(&self, images: &[ImageSource]) -> Result<Vec<Result<UploadedImage>>> {
        let mut out = Vec::with_capacity(images.len());
        for image in images {
            out.push(
                self.upload_image(image)
                    .await
                    .map_err(|e| e.with_platform(PLATFORM)),
            );
        }
        Ok(out)
    }
}

/// Whether `url` names a host a connection can be made to: an IP address, or a DNS name whose
/// labels are letters, digits and inner hyphens (RFC 1123), as COS bucket domains are. The URL
/// parser itself takes names such as `-1`, which no resolver finds: a storage domain like that
/// is the answer's fault (a `Protocol` error of the call that brought it), not a network fault
/// of every part after it (found by the decoders proptest).
fn names_a_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(_)) | Some(url::Host::Ipv6(_)) => true,
        Some(url::Host::Domain(name)) => {
            let name = name.strip_suffix('.').unwrap_or(name);
            !name.is_empty()
                && name.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        }
        None => false,
    }
}

#[cfg(test)]
mod tests;
