//! # marketmedia-lazada
//!
//! The Lazada Open Platform **Media Center** backend of marketmedia: chunked video upload
//! (`/media/video/block/create` → `/media/video/block/upload` × N → `/media/video/block/commit`
//! → `/media/video/get` until `AUDIT_SUCCESS`), image upload (`/image/upload`) and image
//! migration from a public URL (`/image/migrate`).
//!
//! [`LazadaUploader`] implements [`ChunkedVideoUploader`] and [`ImageUploader`]; the core
//! [`marketmedia_core::UploadDriver`] does the reading, concurrency, retries and polling.
//!
//! ## What is particular to Lazada
//! - Blocks are numbered **from 0** when uploaded (`blockNo`) and **from 1** when listed at
//!   commit (`partNumber` = `blockNo + 1`); the rules say so
//!   ([`UploadRules::part_numbering`], [`UploadRules::commit_numbering`]).
//! - Every block answer carries an `e_tag`; when it looks like an MD5 it is compared with the
//!   block's own MD5 and a mismatch is a [`ErrorKind::Corrupted`] error, which the driver
//!   retries.
//! - The commit needs a **title** and a **cover URL**, which travel with each upload
//!   ([`UploadMeta`](marketmedia_core::UploadMeta), `usage` too: `pro_main_video` or `im`),
//!   so one provider serves a whole catalog. The rules declare both required
//!   (`required_meta`): the driver refuses an upload without them before any request; the
//!   pre-flight checks the cover is an http(s) URL, then that the video fits the remaining
//!   Media Center quota.
//! - Only `AUDIT_SUCCESS` videos can be attached to products, so polling goes through
//!   transcoding and audit.
//! - There is no way to abandon a block upload on Lazada: [`ChunkedVideoUploader::cancel`]
//!   before commit does nothing remotely; after commit (e.g. audit failed) it removes the video.
//!
//! ```no_run
//! use std::path::Path;
//! use marketmedia_core::{UploadDriver, UploadOptions};
//! use marketmedia_core::UploadMeta;
//! use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region};
//!
//! # async fn demo() -> marketmedia_core::Result<()> {
//! let config = LazadaConfig::builder()
//!     .app_key("100132")
//!     .app_secret(std::env::var("LAZADA_APP_SECRET").unwrap_or_default())
//!     .access_token(std::env::var("LAZADA_ACCESS_TOKEN").unwrap_or_default())
//!     .region(Region::My)
//!     .build()?;
//! let lazada = LazadaUploader::new(config)?;
//! let kettle = UploadMeta::default()
//!     .with_title("Blue enamel kettle")
//!     .with_cover_url("https://my-live.slatic.net/p/kettle-cover.png");
//! let driver = UploadDriver::new(UploadOptions::default());
//! let outcome = driver
//!     .with_meta(kettle)
//!     .upload_file(&lazada, Path::new("kettle.mp4"))
//!     .await?;
//! if let Some(video) = outcome.asset() {
//!     println!("attach video {} to the product", video.id);
//! }
//!
//! let image = lazada.migrate_image("https://example.com/kettle.jpg").await?;
//! println!("image at {}", image.urls[0].url);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod dimensions;
pub mod errors;
pub mod marketplace;
pub mod signing;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use marketmedia_core::raw::check_images;
use marketmedia_core::raw::http::{
    kind_for_status, part_file_field, unix_millis, CallMeta, HttpClient, RawResponse,
};
use marketmedia_core::raw::{
    Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, DigestNeeds, Error, ErrorKind,
    ImageRules, ImageSource, ImageUploader, InitOutcome, MediaFormat, MetaField, NumberingBase,
    Part, PartPlan, PartReceipt, PartSizeRule, ProcessingHandle, ProcessingStatus, Recovery,
    Result, Secret, SourceInfo, TokenSource, UploadRules, UploadSession, UploadedImage,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use config::{LazadaConfig, LazadaConfigBuilder, Region};
pub use marketplace::{Lazada, LazadaSettings};
use wire::{Call, Envelope, Method, Params};

/// The platform name used in rules, errors and assets.
pub const PLATFORM: &str = "lazada";

/// Most blocks in one upload. Lazada publishes no limit; at the 3 MiB default a 100 MiB video
/// has 34 blocks.
pub const MAX_BLOCKS: u32 = 1000;

/// What the video is for (`videoUsage` at commit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VideoUsage {
    /// `pro_main_video`: a product's main video (default).
    #[default]
    #[serde(rename = "pro_main_video")]
    ProMainVideo,
    /// `im`: a video for instant messaging.
    #[serde(rename = "im")]
    Im,
}

impl VideoUsage {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoUsage::ProMainVideo => "pro_main_video",
            VideoUsage::Im => "im",
        }
    }
}

impl std::str::FromStr for VideoUsage {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pro_main_video" => Ok(VideoUsage::ProMainVideo),
            "im" => Ok(VideoUsage::Im),
            other => Err(Error::invalid_input(format!(
                "{other:?} is not a Lazada video usage (pro_main_video, im)"
            ))
            .with_platform(PLATFORM)),
        }
    }
}

/// What Lazada needs of each video at commit, from the upload's fields
/// ([`SourceInfo::meta`]): `title` and `cover_url` (required, declared in the rules'
/// `required_meta`), `usage` (default `pro_main_video`). Checked without any request: the
/// cover must be a public http(s) URL.
fn video_fields(source: &SourceInfo) -> Result<(String, String, VideoUsage)> {
    let meta = &source.meta;
    let fail = |m: &str| Err(Error::invalid_input(m).with_platform(PLATFORM));
    let (title, cover) =
        match (meta.get(MetaField::Title), meta.get(MetaField::CoverUrl)) {
            (Some(t), Some(c)) => (t, c),
            (None, None) => return fail(
                "Lazada needs a title and a cover_url for every video; give them with the upload",
            ),
            (None, Some(_)) => {
                return fail("Lazada needs a title for every video; give it with the upload")
            }
            (Some(_), None) => {
                return fail("Lazada needs a cover_url for every video; give it with the upload")
            }
        };
    if !(cover.starts_with("https://") || cover.starts_with("http://"))
        || cover.chars().any(char::is_whitespace)
    {
        return fail("the cover must be a public http(s) URL of an image");
    }
    let usage = match meta.get(MetaField::Usage) {
        Some(u) => u.parse()?,
        None => VideoUsage::default(),
    };
    Ok((title.to_owned(), cover.to_owned(), usage))
}

/// Media Center space, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoQuota {
    /// `capacity_size`.
    pub capacity_bytes: u64,
    /// `used_size`.
    pub used_bytes: u64,
}

impl VideoQuota {
    /// Bytes still free.
    pub fn remaining(&self) -> u64 {
        self.capacity_bytes.saturating_sub(self.used_bytes)
    }
}

/// What a session remembers, so another process can resume and commit it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SessionData {
    file_name: String,
    title: String,
    cover_url: String,
    video_usage: VideoUsage,
}

impl SessionData {
    fn of(session: &UploadSession) -> Result<Self> {
        serde_json::from_value(session.data.clone()).map_err(|e| {
            Error::invalid_input(format!(
                "this session was not opened by the Lazada provider ({e})"
            ))
            .with_platform(PLATFORM)
        })
    }
}

struct Shared {
    config: LazadaConfig,
    client: HttpClient,
    /// The seller's access token for each request: the configured source, or the fixed
    /// token.
    tokens: TokenSource,
    rules: UploadRules,
    image_rules: ImageRules,
    /// upload id → video id, for sessions committed by this uploader (so `cancel` after a
    /// failed audit removes the video).
    committed: Mutex<HashMap<String, String>>,
}

/// The Lazada Media Center provider. Cheap to clone (clones share the HTTP client). One
/// provider serves every video of a catalog: each upload's title, cover and usage travel with
/// it ([`SourceInfo::meta`]).
#[derive(Clone)]
pub struct LazadaUploader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LazadaUploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazadaUploader")
            .field("config", &self.shared.config)
            .finish()
    }
}

fn missing(call: &str, field: &str, request_id: Option<&str>) -> Error {
    let mut err = Error::protocol(format!("the answer has no {field}"))
        .with_platform(PLATFORM)
        .with_call(call);
    if let Some(id) = request_id {
        err = err.with_request_id(id);
    }
    err
}

/// A multipart file field: its name, and how to build its part (again for a retry).
type FileField<'a> = (
    &'static str,
    &'a (dyn Fn() -> Result<reqwest::multipart::Part> + Send + Sync),
);

/// What signs and sends a call: the app's key and secret and the host (a country gateway,
/// or the auth host for the token calls).
struct App<'a> {
    client: &'a HttpClient,
    app_key: &'a str,
    app_secret: &'a Secret,
    base_url: &'a str,
}

impl App<'_> {
    /// Signs and sends one call, and decodes its envelope. Parameters with an empty value are
    /// neither signed nor sent (so no `access_token` when `access_token` is `None`, as for
    /// the token calls).
    async fn send<T: DeserializeOwned + Default>(
        &self,
        call: Call,
        params: Params,
        access_token: Option<&Secret>,
        file: Option<(&'static str, reqwest::multipart::Part)>,
        part: Option<u32>,
    ) -> Result<Envelope<T>> {
        let token = access_token.map(Secret::expose).unwrap_or_default();
        let mut all = wire::system_params(self.app_key, token, unix_millis());
        all.extend(params);
        all.retain(|(k, v)| !k.is_empty() && !v.is_empty());
        let sign = signing::sign(self.app_secret.expose(), call.path, &all);
        all.push((signing::SIGN_PARAM, sign));
        let url = format!("{}{}", self.base_url, call.path);
        let client = self.client;
        let request = match (call.method, file) {
            (Method::Get, None) => client.get(&url).query(&all),
            (Method::PostForm, None) => client.post(&url).form(&all),
            (Method::PostMultipart, Some((field, file))) => {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in all {
                    form = form.text(k, v);
                }
                client.post(&url).multipart(form.part(field, file))
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "a file travels only with a multipart call",
                )
                .with_platform(PLATFORM)
                .with_call(call.name))
            }
        };
        let meta = CallMeta {
            platform: PLATFORM,
            call: call.name,
            part,
        };
        let raw = self.client.send(request, meta).await?;
        decode(call.name, &raw, &meta)
    }
}

fn looks_like_md5(tag: &str) -> bool {
    tag.len() == 32 && tag.bytes().all(|b| b.is_ascii_hexdigit())
}

impl LazadaUploader {
    /// A provider for `config` (checked; no request).
    pub fn new(config: LazadaConfig) -> Result<Self> {
        config.validate()?;
        let client = HttpClient::new(config.options)?;
        let rules = UploadRules {
            commit_numbering: Some(NumberingBase::One),
            max_parts: MAX_BLOCKS,
            digests: DigestNeeds {
                part_md5: true,
                ..DigestNeeds::default()
            },
            concurrent_parts: config.concurrent_blocks,
            async_processing: true,
            // No call abandons a block upload: `cancel` asks nothing, so a failed session
            // stays resumable in the journal until the platform forgets it (the documents give
            // no lifetime; the simulator's is 24 hours).
            remote_cancel: false,
            // Every video's commit names its title and cover.
            required_meta: vec![MetaField::Title, MetaField::CoverUrl],
            ..UploadRules::new(
                PLATFORM,
                PartSizeRule::Range {
                    min: config::MIN_BLOCK_SIZE,
                    max: config.max_block_size,
                    preferred: config.block_size,
                },
                config.max_video_bytes,
            )
        };
        let image_rules = ImageRules {
            platform: PLATFORM.to_owned(),
            max_images: None,
            max_bytes: config.max_image_bytes,
            formats: vec![MediaFormat::Jpeg, MediaFormat::Png],
        };
        let tokens = config
            .token_source
            .clone()
            .unwrap_or_else(|| TokenSource::fixed(config.access_token.clone()));
        Ok(LazadaUploader {
            shared: Arc::new(Shared {
                config,
                client,
                tokens,
                rules,
                image_rules,
                committed: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LazadaConfig {
        &self.shared.config
    }

    /// Signs and sends one call with the seller's access token, and decodes its envelope; once
    /// more with a refreshed token when Lazada refuses it (`IllegalAccessToken`). `file`
    /// builds the multipart file field afresh for each attempt.
    async fn call<T: DeserializeOwned + Default>(
        &self,
        call: Call,
        params: Params,
        file: Option<FileField<'_>>,
        part: Option<u32>,
    ) -> Result<Envelope<T>> {
        let shared = &self.shared;
        let cfg = &shared.config;
        shared
            .tokens
            .call(|token| {
                let params = params.clone();
                let file = file.map(|(field, build)| build().map(|f| (field, f)));
                async move {
                    let app = App {
                        client: &shared.client,
                        app_key: &cfg.app_key,
                        app_secret: &cfg.app_secret,
                        base_url: cfg.effective_base_url(),
                    };
                    app.send(call, params, Some(&token), file.transpose()?, part)
                        .await
                }
            })
            .await
    }

    /// The seller the token belongs to on this gateway (`/seller/get`): one cheap, documented,
    /// authenticated call, for `marketmedia accounts check`.
    pub async fn check_account(&self) -> Result<marketmedia_core::AccountCheck> {
        let call = wire::GET_SELLER;
        let env: Envelope<wire::GetSellerResponse> =
            self.call(call, Vec::new(), None, None).await?;
        let seller = env.data.data.unwrap_or_default();
        Ok(marketmedia_core::AccountCheck {
            call: call.path.to_owned(),
            display_name: seller.name,
            id: seller.seller_id,
            country: Some(self.shared.config.region.code().to_owned()),
            status: None,
        })
    }

    /// Media Center space (`/media/video/quota/get`).
    pub async fn quota(&self) -> Result<VideoQuota> {
        let call = wire::GET_VIDEO_QUOTA;
        let env: Envelope<wire::GetVideoQuotaResponse> =
            self.call(call, Vec::new(), None, None).await?;
        let rid = env.request_id.as_deref();
        Ok(VideoQuota {
            capacity_bytes: env
                .data
                .capacity_size
                .ok_or_else(|| missing(call.name, "capacity_size", rid))?,
            used_bytes: env
                .data
                .used_size
                .ok_or_else(|| missing(call.name, "used_size", rid))?,
        })
    }

    /// Deletes a video from Media Center (`/media/video/remove`).
    pub async fn remove_video(&self, video_id: &str) -> Result<()> {
        if video_id.trim().is_empty() {
            return Err(Error::invalid_input("no video id given").with_platform(PLATFORM));
        }
        let params = vec![(wire::VIDEO_ID, video_id.to_owned())];
        let _: Envelope<wire::Empty> = self.call(wire::REMOVE_VIDEO, params, None, None).await?;
        self.committed().retain(|_, v| v != video_id);
        Ok(())
    }

    /// The state of a video (`/media/video/get`), as the driver's poll sees it.
    pub async fn video_status(&self, video_id: &str) -> Result<ProcessingStatus> {
        let call = wire::GET_VIDEO;
        let params = vec![(wire::VIDEO_ID, video_id.to_owned())];
        let env: Envelope<wire::GetVideoResponse> = self.call(call, params, None, None).await?;
        let rid = env.request_id.clone();
        let Some(state) = env.data.state.clone() else {
            return Err(missing(call.name, "state", rid.as_deref()));
        };
        use wire::state::*;
        match state.as_str() {
            READY_FOR_TRANSCODE | TRANSCODING | READY_FOR_AUDIT => {
                Ok(ProcessingStatus::Pending { stage: state })
            }
            AUDIT_SUCCESS => {
                let d = env.data;
                let url = |u: Option<String>| {
                    u.map(|url| AssetUrl { region: None, url })
                        .into_iter()
                        .collect::<Vec<_>>()
                };
                Ok(ProcessingStatus::Ready(Asset {
                    platform: PLATFORM.to_owned(),
                    id: video_id.to_owned(),
                    urls: url(d.video_url),
                    thumbnails: url(d.cover_url),
                    duration: None,
                    size: None,
                    details: serde_json::json!({ "state": state, "title": d.title }),
                }))
            }
            TRANSCODE_FAILED | AUDIT_FAILED | DELETED => {
                let said = env
                    .result_message
                    .clone()
                    .or_else(|| env.message.clone())
                    .filter(|m| !m.trim().is_empty());
                let reason = said.unwrap_or_else(|| {
                    match state.as_str() {
                        TRANSCODE_FAILED => "Lazada could not transcode the video",
                        AUDIT_FAILED => "the video did not pass Lazada's audit",
                        _ => "the video was deleted from Media Center",
                    }
                    .to_owned()
                });
                Ok(ProcessingStatus::Failed { state, reason })
            }
            other => {
                let mut err = Error::protocol(format!("unknown video state {other:?}"))
                    .with_platform(PLATFORM)
                    .with_call(call.name);
                if let Some(id) = rid {
                    err = err.with_request_id(id);
                }
                Err(err)
            }
        }
    }

    /// Uploads one image (`/image/upload`) after checking it (size, JPG/PNG, ≤ 5000 × 5000 px).
    pub async fn upload_image(&self, image: &ImageSource) -> Result<UploadedImage> {
        self.check_image_batch(std::slice::from_ref(image))?;
        self.send_image(image).await
    }

    /// Has Lazada fetch an image from a public URL (`/image/migrate`).
    pub async fn migrate_image(&self, url: &str) -> Result<UploadedImage> {
        let url = url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(char::is_whitespace)
        {
            return Err(
                Error::invalid_input("the image to migrate must be a public http(s) URL")
                    .with_platform(PLATFORM),
            );
        }
        let params = wire::MigrateImageRequest { url }.params();
        let env: Envelope<wire::ImageResponse> =
            self.call(wire::MIGRATE_IMAGE, params, None, None).await?;
        image_result(wire::MIGRATE_IMAGE.name, env)
    }

    fn check_image_batch(&self, images: &[ImageSource]) -> Result<()> {
        check_images(&self.shared.image_rules, images)?;
        for img in images {
            if let Some((w, h)) = dimensions::dimensions(img.format, &img.data) {
                let max = config::MAX_IMAGE_SIDE;
                if w > max || h > max {
                    return Err(Error::invalid_input(format!(
                        "{} is {w} × {h} px; Lazada accepts images up to {max} × {max} px",
                        img.file_name
                    ))
                    .with_platform(PLATFORM));
                }
            }
        }
        Ok(())
    }

    async fn send_image(&self, image: &ImageSource) -> Result<UploadedImage> {
        let call = wire::UPLOAD_IMAGE;
        let file = || {
            let body = reqwest::Body::from(image.data.clone());
            reqwest::multipart::Part::stream_with_length(body, image.data.len() as u64)
                .file_name(image.file_name.clone())
                .mime_str(image.format.mime())
                .map_err(|e| {
                    Error::invalid_input("bad image MIME type")
                        .with_platform(PLATFORM)
                        .with_source(e)
                })
        };
        let env: Envelope<wire::ImageResponse> = self
            .call(
                call,
                Vec::new(),
                Some((wire::IMAGE_FILE_FIELD, &file)),
                None,
            )
            .await?;
        image_result(call.name, env)
    }

    fn committed(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // The map holds plain strings: a panic elsewhere cannot leave it inconsistent.
        self.shared
            .committed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn image_result(call: &str, env: Envelope<wire::ImageResponse>) -> Result<UploadedImage> {
    let rid = env.request_id.as_deref();
    let info = env.data.data.as_ref().and_then(|d| d.image.as_ref());
    let url = info
        .and_then(|i| i.url.clone())
        .ok_or_else(|| missing(call, "data.image.url", rid))?;
    let hash_code = info.and_then(|i| i.hash_code.clone());
    Ok(UploadedImage {
        platform: PLATFORM.to_owned(),
        id: hash_code.clone().unwrap_or_else(|| url.clone()),
        urls: vec![AssetUrl { region: None, url }],
        details: serde_json::json!({ "hash_code": hash_code }),
    })
}

/// Turns an answer into the call's data or a typed error: a failed envelope, an error status,
/// or something that is not a Lazada envelope at all.
fn decode<T: DeserializeOwned + Default>(
    call: &str,
    raw: &RawResponse,
    meta: &CallMeta<'_>,
) -> Result<Envelope<T>> {
    let status = raw.status;
    let with_retry_after = |err: Error| match raw.retry_after() {
        Some(after) => err.with_retry_after(after),
        None => err,
    };
    let ok_status = (200..300).contains(&status);
    match raw.json::<Envelope<T>>(meta) {
        Ok(env) if env.is_failure() => {
            Err(with_retry_after(errors::envelope_error(call, status, &env)))
        }
        Ok(env) if ok_status && !env.is_unrecognised() => Ok(env),
        Ok(env) if ok_status => {
            let mut err = Error::protocol("the answer is not a Lazada envelope (no code)")
                .with_platform(PLATFORM)
                .with_call(call)
                .with_http_status(status);
            if let Some(id) = env.request_id {
                err = err.with_request_id(id);
            }
            Err(err)
        }
        Ok(_) | Err(_) if !ok_status => {
            let kind = kind_for_status(status).unwrap_or(ErrorKind::Rejected);
            Err(with_retry_after(
                Error::new(kind, format!("the gateway answered HTTP {status}"))
                    .with_platform(PLATFORM)
                    .with_call(call)
                    .with_http_status(status),
            ))
        }
        Ok(env) => Ok(env),
        Err(err) => Err(err),
    }
}

#[async_trait]
impl ChunkedVideoUploader for LazadaUploader {
    fn rules(&self) -> &UploadRules {
        &self.shared.rules
    }

    /// The upload's title and cover present and well formed (no request), the size within
    /// the limit, then — unless disabled — the video fits the remaining Media Center quota.
    async fn preflight(&self, source: &SourceInfo) -> Result<()> {
        video_fields(source)?;
        let max = self.shared.rules.max_file_bytes;
        if source.size > max {
            return Err(Error::invalid_input(format!(
                "{} is {} bytes; Lazada accepts videos of less than 100 MB (up to {max} bytes)",
                source.file_name, source.size
            ))
            .with_platform(PLATFORM));
        }
        if self.shared.config.check_quota {
            let quota = self.quota().await?;
            if source.size > quota.remaining() {
                return Err(Error::new(
                    ErrorKind::Rejected,
                    format!(
                        "{} needs {} bytes but only {} of {} bytes are free in Lazada Media Center",
                        source.file_name,
                        source.size,
                        quota.remaining(),
                        quota.capacity_bytes
                    ),
                )
                .with_platform(PLATFORM)
                .with_call(wire::GET_VIDEO_QUOTA.name)
                .with_code("QUOTA_EXCEEDED"));
            }
        }
        Ok(())
    }

    async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        let (title, cover_url, video_usage) = video_fields(source)?;
        let call = wire::INIT_CREATE_VIDEO;
        let params = wire::InitCreateVideoRequest {
            file_name: &source.file_name,
            file_bytes: source.size,
        }
        .params();
        let env: Envelope<wire::InitCreateVideoResponse> =
            self.call(call, params, None, None).await?;
        let upload_id = env
            .data
            .upload_id
            .ok_or_else(|| missing(call.name, "upload_id", env.request_id.as_deref()))?;
        let data = SessionData {
            file_name: source.file_name.clone(),
            title,
            cover_url,
            video_usage,
        };
        let data = serde_json::to_value(&data).map_err(|e| {
            Error::protocol(format!("could not record the session: {e}")).with_platform(PLATFORM)
        })?;
        Ok(InitOutcome::Session(UploadSession {
            platform: PLATFORM.to_owned(),
            upload_id,
            plan: *plan,
            expires_at: None,
            started_at_ms: unix_millis(),
            data,
        }))
    }

    async fn put_part(&self, session: &UploadSession, part: &Part) -> Result<PartReceipt> {
        let data = SessionData::of(session)?;
        let block_count = session.plan.count();
        if part.index >= block_count {
            return Err(Error::invalid_input(format!(
                "block {} is past the last of {block_count} blocks",
                part.index
            ))
            .with_platform(PLATFORM));
        }
        let call = wire::UPLOAD_VIDEO_BLOCK;
        let block_no = self.shared.rules.part_numbering.wire(part.index);
        let params = wire::UploadVideoBlockRequest {
            upload_id: &session.upload_id,
            block_no,
            block_count,
        }
        .params();
        let file = || part_file_field(part, data.file_name.clone(), "application/octet-stream");
        let env: Envelope<wire::UploadVideoBlockResponse> = self
            .call(
                call,
                params,
                Some((wire::BLOCK_FILE_FIELD, &file)),
                Some(part.index),
            )
            .await?;
        let rid = env.request_id.clone();
        let e_tag = env
            .data
            .e_tag
            .ok_or_else(|| missing(call.name, "e_tag", rid.as_deref()))?;
        if looks_like_md5(&e_tag) {
            let ours = part.md5_hex().await?;
            if !e_tag.eq_ignore_ascii_case(&ours) {
                let mut err = Error::new(
                    ErrorKind::Corrupted,
                    format!(
                        "block {block_no}: Lazada's eTag {e_tag} differs from the block's MD5 {}",
                        ours.to_ascii_uppercase()
                    ),
                )
                .with_platform(PLATFORM)
                .with_call(call.name);
                if let Some(id) = rid {
                    err = err.with_request_id(id);
                }
                return Err(err);
            }
        }
        Ok(PartReceipt {
            index: part.index,
            wire_number: block_no,
            size: part.len(),
            etag: Some(e_tag),
        })
    }

    async fn commit(
        &self,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<CommitOutcome> {
        let data = SessionData::of(session)?;
        let count = session.plan.count() as usize;
        if receipts.len() != count {
            return Err(Error::invalid_input(format!(
                "{} block receipts given for {count} blocks",
                receipts.len()
            ))
            .with_platform(PLATFORM));
        }
        let numbering = self
            .shared
            .rules
            .commit_numbering
            .unwrap_or(NumberingBase::One);
        let mut parts = Vec::with_capacity(count);
        for (i, r) in receipts.iter().enumerate() {
            let tag = r.etag.as_deref().filter(|t| !t.is_empty());
            match tag {
                Some(tag) if r.index as usize == i => parts.push(wire::CommitPart {
                    part_number: numbering.wire(r.index),
                    e_tag: tag.to_owned(),
                }),
                _ => {
                    return Err(Error::invalid_input(format!(
                        "receipt {i} is not block {i} with an eTag; blocks must be listed in order"
                    ))
                    .with_platform(PLATFORM))
                }
            }
        }
        let call = wire::COMPLETE_CREATE_VIDEO;
        let params = wire::CompleteCreateVideoRequest {
            upload_id: &session.upload_id,
            parts,
            title: &data.title,
            cover_url: &data.cover_url,
            video_usage: data.video_usage.as_str(),
        }
        .params();
        let env: Envelope<wire::CompleteCreateVideoResponse> =
            self.call(call, params, None, None).await?;
        let video_id = env
            .data
            .video_id
            .ok_or_else(|| missing(call.name, "video_id", env.request_id.as_deref()))?;
        self.committed()
            .insert(session.upload_id.clone(), video_id.clone());
        Ok(CommitOutcome::Processing(ProcessingHandle {
            platform: PLATFORM.to_owned(),
            id: video_id,
            data: serde_json::json!({
                "upload_id": session.upload_id,
                "title": data.title,
                "cover_url": data.cover_url,
                "video_usage": data.video_usage,
            }),
        }))
    }

    async fn poll(&self, handle: &ProcessingHandle) -> Result<ProcessingStatus> {
        self.video_status(&handle.id).await
    }

    /// Lazada documents no call that finds a video by its upload id (GetVideo takes the
    /// `videoId` only the completion's answer carries; see `docs/platforms/lazada.md`). A
    /// completion refused as "already committed" ([`ErrorKind::Conflict`]) proves an earlier
    /// attempt completed the upload: the outcome is [`Recovery::CommittedIdUnknown`], unless
    /// this uploader saw that earlier answer and remembers the video id. Anything else cannot
    /// tell, and the completion's error stands.
    async fn recover(
        &self,
        session: &UploadSession,
        _receipts: &[PartReceipt],
        commit_error: Option<ErrorKind>,
    ) -> Result<Recovery> {
        if let Some(id) = self.committed().get(&session.upload_id).cloned() {
            let data = SessionData::of(session)?;
            return Ok(Recovery::Committed(CommitOutcome::Processing(
                ProcessingHandle {
                    platform: PLATFORM.to_owned(),
                    id,
                    data: serde_json::json!({
                        "upload_id": session.upload_id,
                        "title": data.title,
                        "cover_url": data.cover_url,
                        "video_usage": data.video_usage,
                    }),
                },
            )));
        }
        match commit_error {
            Some(ErrorKind::Conflict) => Ok(Recovery::CommittedIdUnknown),
            _ => Ok(Recovery::NotCommitted),
        }
    }

    /// Lazada has no call to abandon a block upload: before commit nothing is held that can be
    /// deleted, so this returns `Ok` without a request. After this uploader committed the
    /// session (the driver cancels when processing fails), the video is removed.
    /// Lazada has no call to abandon a block upload: before commit there is nothing remote to
    /// cancel (the blocks expire on the platform). After commit the session is finished and
    /// cancelling it is refused with [`ErrorKind::Conflict`] naming the video — deleting a
    /// committed video is a deliberate act, through [`LazadaUploader::remove_video`].
    async fn cancel(&self, session: &UploadSession) -> Result<()> {
        let video_id = self.committed().get(&session.upload_id).cloned();
        match video_id {
            None => Ok(()),
            Some(id) => {
                // The platform's answer about the video decides the code: its state now.
                let state = match self.video_status(&id).await? {
                    ProcessingStatus::Pending { stage } => stage,
                    ProcessingStatus::Ready(_) => wire::state::AUDIT_SUCCESS.to_owned(),
                    ProcessingStatus::Failed { state, .. } => state,
                };
                Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "the upload is already committed as video {id} ({state}); remove the video to delete it"
                    ),
                )
                .with_platform(PLATFORM)
                .with_call("cancel")
                .with_code(state))
            }
        }
    }
}

#[async_trait]
impl ImageUploader for LazadaUploader {
    fn image_rules(&self) -> &ImageRules {
        &self.shared.image_rules
    }

    /// Checks every image first (no request for a batch that breaks the rules), then uploads
    /// them one call each, in order; each has its own result.
    async fn upload_images(&self, images: &[ImageSource]) -> Result<Vec<Result<UploadedImage>>> {
        self.check_image_batch(images)?;
        let mut out = Vec::with_capacity(images.len());
        for img in images {
            out.push(self.send_image(img).await);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
