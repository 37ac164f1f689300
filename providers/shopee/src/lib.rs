//! # marketmedia-shopee
//!
//! The Shopee Open Platform v2 backend for marketmedia, for either media module:
//! - `v2.media_space` (the default): chunked video upload (0-based `part_seq`, parts of exactly
//!   4 MiB but the last, files up to 30 MiB lasting 10–60 s) and image upload (1–9 JPG/PNG
//!   images up to 10 MiB each, a result per image);
//! - `v2.media` ([`ShopeeConfigBuilder::module`]`(`[`ShopeeModule::Media`]`)`): uploads for a
//!   declared business and scene (Shopee Video: up to 1 GiB, 1–180 s), parts of the size the
//!   init answer gives (`part_size`, which the plan follows), and images for a business
//!   upload (return proof) answered with `image_list`.
//!
//! Both modules share the signing, the envelope, the error table and the part form; what
//! differs lives in `wire::media` and the `media` module.
//!
//! The provider only translates; the core [`UploadDriver`](marketmedia_core::UploadDriver)
//! streams the file, sends parts concurrently, retries, commits and polls.
//!
//! ```no_run
//! use marketmedia_core::{UploadDriver, UploadOptions};
//! use marketmedia_shopee::{ShopeeConfig, ShopeeUploader};
//!
//! # async fn demo() -> marketmedia_core::Result<()> {
//! let config = ShopeeConfig::builder()
//!     .partner_id(2001887)
//!     .partner_key("partner-key")
//!     .shop_id(12345)
//!     .access_token("access-token")
//!     .build()?;
//! let shopee = ShopeeUploader::new(config)?;
//! let outcome = UploadDriver::new(UploadOptions::default())
//!     .upload_file(&shopee, std::path::Path::new("product.mp4"))
//!     .await?;
//! println!("{:?}", outcome.asset());
//! # Ok(()) }
//! ```
//!
//! ## Signing decision
//! The spec marks `upload_video_part` and `complete_video_upload` as public-type calls and the
//! other video calls as shop-type. By default the provider follows the spec
//! ([`PublicCallSigning::Public`]); [`PublicCallSigning::Shop`] signs them as shop calls, as the
//! community SDK does. Both shapes are tested against the simulator. Every `v2.media` call is
//! signed as a shop call (`docs/platforms/shopee.md`).
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod errors;
pub mod marketplace;
mod media;
pub mod signing;
pub mod wire;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta, RawResponse};
use marketmedia_core::raw::{
    Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, DigestNeeds, DurationRange, Error,
    ErrorKind, ImageRules, ImageSource, ImageUploader, InitOutcome, MediaFormat, NumberingBase,
    Part, PartPlan, PartReceipt, PartSizeRule, ProcessingHandle, ProcessingStatus, Recovery,
    Result, SourceInfo, TokenSource, UploadRules, UploadSession, UploadedImage,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use config::{
    ImageRatio, ImageScene, MediaImageUse, MediaVideoUse, PublicCallSigning, ShopeeConfig,
    ShopeeConfigBuilder, ShopeeModule, ShopeeRegion, DEFAULT_PART_SIZE,
};
pub use marketplace::{Shopee, ShopeeSettings};
use signing::Signer;
use wire::path;

/// The platform name used in errors, logs and reports.
pub const PLATFORM: &str = "shopee";

/// The Shopee video and image uploader.
#[derive(Debug, Clone)]
pub struct ShopeeUploader {
    config: ShopeeConfig,
    client: http::HttpClient,
    /// The shop's access token for each request: the configured source, or the configured
    /// fixed token.
    tokens: TokenSource,
    rules: UploadRules,
    image_rules: ImageRules,
    /// When this process began its first part and ended its last, per `video_upload_id`:
    /// `report_data.upload_cost` is the time spent uploading parts, as Shopee's example
    /// measures it (from before the first part to after the last). Shared by clones.
    part_times: std::sync::Arc<std::sync::Mutex<HashMap<String, PartTimes>>>,
}

/// The span of the part uploads of one session, in Unix ms.
#[derive(Debug, Clone, Copy)]
struct PartTimes {
    first_start_ms: u64,
    last_end_ms: u64,
}

/// How a call is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallType {
    Public,
    Shop,
}

impl ShopeeUploader {
    /// Widens the session's part span to `at_ms`.
    fn note_part_time(&self, session: &UploadSession, at_ms: u64) {
        // A poisoned lock only means a panic elsewhere while it was held; the map of plain
        // numbers it guards is never left half-updated.
        let mut times = self
            .part_times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        times
            .entry(session.upload_id.clone())
            .and_modify(|t| {
                t.first_start_ms = t.first_start_ms.min(at_ms);
                t.last_end_ms = t.last_end_ms.max(at_ms);
            })
            .or_insert(PartTimes {
                first_start_ms: at_ms,
                last_end_ms: at_ms,
            });
    }

    /// Drops the session's part span (completed or cancelled).
    fn forget_part_times(&self, session: &UploadSession) {
        self.part_times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&session.upload_id);
    }

    /// `report_data.upload_cost`: from before the first part to after the last, in ms. A
    /// session whose parts were all sent by another process (resumed at commit) has no span
    /// here: the time since init is the best bound left.
    fn upload_cost(&self, session: &UploadSession) -> u64 {
        let times = self
            .part_times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match times.get(&session.upload_id) {
            Some(t) => t.last_end_ms.saturating_sub(t.first_start_ms),
            None => http::unix_millis().saturating_sub(session.started_at_ms),
        }
    }

    /// A provider for `config` (checked again: its fields are public), with its own HTTP
    /// client.
    pub fn new(config: ShopeeConfig) -> Result<Self> {
        config.validate()?;
        let client = http::HttpClient::new(config.options)?;
        Ok(Self::with_client(config, client))
    }

    /// A provider sharing an existing HTTP client (and its connection pool).
    pub fn with_client(config: ShopeeConfig, client: http::HttpClient) -> Self {
        let (rules, image_rules) = match config.module {
            ShopeeModule::MediaSpace => space_rules(&config),
            ShopeeModule::Media => media::rules(&config),
        };
        let tokens = config
            .token_source
            .clone()
            .unwrap_or_else(|| TokenSource::fixed(config.access_token.clone()));
        ShopeeUploader {
            config,
            client,
            tokens,
            rules,
            image_rules,
            part_times: Default::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ShopeeConfig {
        &self.config
    }

    fn signing_for(&self, api_path: &str) -> CallType {
        let public_type =
            api_path == path::UPLOAD_VIDEO_PART || api_path == path::COMPLETE_VIDEO_UPLOAD;
        match (public_type, self.config.public_call_signing) {
            (true, PublicCallSigning::Public) => CallType::Public,
            _ => CallType::Shop,
        }
    }

    /// The URL of a call with its signed common parameters, signed now (every attempt afresh)
    /// with `access_token` for a shop call.
    fn url(&self, api_path: &str, access_token: &str) -> Result<reqwest::Url> {
        let c = &self.config;
        let timestamp = http::unix_secs();
        let call_type = self.signing_for(api_path);
        let signer = match call_type {
            CallType::Public => Signer::Public,
            CallType::Shop => Signer::Shop {
                access_token,
                shop_id: c.shop_id,
            },
        };
        let sign = signing::sign(
            c.partner_key.expose(),
            c.partner_id,
            api_path,
            timestamp,
            signer,
        );
        let mut url = reqwest::Url::parse(&format!("{}{api_path}", c.effective_base_url()))
            .map_err(|e| {
                Error::invalid_input(format!(
                    "bad Shopee base URL {:?}: {e}",
                    c.effective_base_url()
                ))
                .with_platform(PLATFORM)
            })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("partner_id", &c.partner_id.to_string());
            q.append_pair("timestamp", &timestamp.to_string());
            q.append_pair("sign", &sign);
            if call_type == CallType::Shop {
                q.append_pair("access_token", access_token);
                q.append_pair("shop_id", &c.shop_id.to_string());
            }
        }
        Ok(url)
    }

    async fn post_json<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        api_path: &str,
        call: &str,
        body: &B,
    ) -> Result<T> {
        let meta = CallMeta {
            platform: PLATFORM,
            call,
            part: None,
        };
        self.tokens
            .call(|token| async move {
                let url = self.url(api_path, token.expose())?;
                let raw = self
                    .client
                    .send(self.client.post(url).json(body), meta)
                    .await?;
                decode(&raw, &meta)
            })
            .await
    }

    /// POSTs a multipart form (built afresh for each attempt) and decodes the answer.
    async fn post_form<T: DeserializeOwned>(
        &self,
        api_path: &str,
        meta: CallMeta<'_>,
        form: impl Fn() -> Result<reqwest::multipart::Form>,
    ) -> Result<T> {
        self.tokens
            .call(|token| {
                let form = form();
                async move {
                    let url = self.url(api_path, token.expose())?;
                    let raw = self
                        .client
                        .send(self.client.post(url).multipart(form?), meta)
                        .await?;
                    decode(&raw, &meta)
                }
            })
            .await
    }

    /// The shop's name, region and status (`v2.shop.get_shop_info`, a shop-type GET): one
    /// cheap, documented, authenticated call, for `marketmedia accounts check`.
    pub async fn check_account(&self) -> Result<marketmedia_core::AccountCheck> {
        let meta = CallMeta {
            platform: PLATFORM,
            call: "get_shop_info",
            part: None,
        };
        let info: wire::ShopInfo = self
            .tokens
            .call(|token| async move {
                let url = self.url(wire::path::GET_SHOP_INFO, token.expose())?;
                let raw = self.client.send(self.client.get(url), meta).await?;
                // The envelope's error first; the fields are at the top level.
                decode::<serde::de::IgnoredAny>(&raw, &meta)?;
                raw.json(&meta)
            })
            .await?;
        Ok(marketmedia_core::AccountCheck {
            call: "v2.shop.get_shop_info".into(),
            display_name: info.shop_name,
            id: Some(self.config.shop_id.to_string()),
            country: info.region,
            status: info.status,
        })
    }

    /// GETs a call with `video_upload_id` in the query and decodes the answer.
    async fn get_result<T: DeserializeOwned>(
        &self,
        api_path: &str,
        handle: &ProcessingHandle,
    ) -> Result<T> {
        let meta = CallMeta {
            platform: PLATFORM,
            call: "get_video_upload_result",
            part: None,
        };
        self.tokens
            .call(|token| async move {
                let request = self
                    .client
                    .get(self.url(api_path, token.expose())?)
                    .query(&[("video_upload_id", handle.id.as_str())]);
                let raw = self.client.send(request, meta).await?;
                decode(&raw, &meta)
            })
            .await
    }

    /// Sends one part: the same form in both modules but for the name of the MD5 field.
    async fn send_part(
        &self,
        session: &UploadSession,
        part: &Part,
        api_path: &str,
        md5_field: &'static str,
    ) -> Result<PartReceipt> {
        use wire::part_fields as f;
        let part_seq = NumberingBase::Zero.wire(part.index);
        let started_ms = http::unix_millis();
        self.note_part_time(session, started_ms);
        let content_md5 = part.md5_hex().await?;
        let form = || {
            Ok(reqwest::multipart::Form::new()
                .text(f::VIDEO_UPLOAD_ID, Self::session_id(session).to_owned())
                .text(f::PART_SEQ, part_seq.to_string())
                .text(md5_field, content_md5.clone())
                .part(
                    f::PART_CONTENT,
                    http::part_file_field(
                        part,
                        format!("part_{part_seq}"),
                        "application/octet-stream",
                    )?,
                ))
        };
        let meta = CallMeta {
            platform: PLATFORM,
            call: "upload_video_part",
            part: Some(part.index),
        };
        self.post_form::<serde::de::IgnoredAny>(api_path, meta, form)
            .await?;
        self.note_part_time(session, http::unix_millis());
        Ok(PartReceipt {
            index: part.index,
            wire_number: part_seq,
            size: part.len(),
            etag: None,
        })
    }

    /// Completes a session; an `error_already_completed` means an earlier attempt whose
    /// answer was lost completed it (the session is ours), and polling tells how it ended.
    async fn complete<B: Serialize + Sync>(
        &self,
        session: &UploadSession,
        api_path: &str,
        body: &B,
        handle_data: serde_json::Value,
    ) -> Result<CommitOutcome> {
        let done: Result<serde::de::IgnoredAny> = self
            .post_json(api_path, "complete_video_upload", body)
            .await;
        match done {
            Ok(_) => {}
            Err(e) if e.code() == Some("error_already_completed") => {
                tracing::debug!(
                    platform = PLATFORM,
                    "complete_video_upload: already completed (an earlier answer was lost)"
                );
            }
            Err(e) => return Err(e),
        }
        self.forget_part_times(session);
        Ok(CommitOutcome::Processing(ProcessingHandle {
            platform: PLATFORM.into(),
            id: session.upload_id.clone(),
            data: handle_data,
        }))
    }

    /// Cancels a session.
    async fn cancel_at(&self, session: &UploadSession, api_path: &str) -> Result<()> {
        self.forget_part_times(session);
        let done: Result<serde::de::IgnoredAny> = self
            .post_json(
                api_path,
                "cancel_video_upload",
                &wire::CancelVideoUploadRequest {
                    video_upload_id: Self::session_id(session),
                },
            )
            .await;
        done.map(|_| ())
    }

    /// The image form part of one image.
    fn image_part(img: &ImageSource) -> Result<reqwest::multipart::Part> {
        reqwest::multipart::Part::stream_with_length(
            reqwest::Body::from(img.data.clone()),
            img.data.len() as u64,
        )
        .file_name(img.file_name.clone())
        .mime_str(img.format.mime())
        .map_err(|e| Error::invalid_input("bad image MIME type").with_source(e))
    }

    fn session_id(session: &UploadSession) -> &str {
        &session.upload_id
    }
}

impl ShopeeUploader {
    /// The module a session or handle belongs to: the one it records (`"module": "media"`),
    /// else the configured one (a handle built from an id alone, as `status` does, records
    /// none; nor do sessions journaled before the `media` module existed). A resumed session
    /// goes on in its own module whatever the configuration says now.
    fn module_of(&self, data: &serde_json::Value) -> ShopeeModule {
        data.get("module")
            .and_then(|m| m.as_str())
            .and_then(|name| name.parse().ok())
            .unwrap_or(self.config.module)
    }
}

/// The rules both modules share: `platform`, parts of the configured size (a plan the
/// `media` init may replace), the configured file limit, 0-based parts, processing to poll;
/// the module gives its digests, durations in seconds and whether completion lists parts.
fn video_rules(
    config: &ShopeeConfig,
    digests: DigestNeeds,
    (min_secs, max_secs): (u64, u64),
    commit_numbering: Option<NumberingBase>,
) -> UploadRules {
    let part_size = config.part_size.max(1);
    let max_parts = config.max_file_bytes.div_ceil(part_size).max(1);
    UploadRules {
        commit_numbering,
        max_parts: u32::try_from(max_parts).unwrap_or(u32::MAX),
        digests,
        async_processing: true,
        video_duration: Some(DurationRange {
            min: Duration::from_secs(min_secs),
            max: Duration::from_secs(max_secs),
        }),
        ..UploadRules::new(
            PLATFORM,
            PartSizeRule::Exact(part_size),
            config.max_file_bytes,
        )
    }
}

/// The image rules both modules share (JPG/PNG up to 10 MiB), with the module's count.
fn image_rules(max_images: u32) -> ImageRules {
    ImageRules {
        platform: PLATFORM.into(),
        max_images: Some(max_images),
        max_bytes: config::DEFAULT_MAX_IMAGE_BYTES,
        formats: vec![MediaFormat::Jpeg, MediaFormat::Png],
    }
}

/// The rules and image rules of `v2.media_space`: file and part MD5s, 10–60 s, the part list
/// at completion, 1–9 images.
fn space_rules(config: &ShopeeConfig) -> (UploadRules, ImageRules) {
    let digests = DigestNeeds {
        file_md5: true,
        part_md5: true,
        ..DigestNeeds::default()
    };
    (
        video_rules(config, digests, (10, 60), Some(NumberingBase::Zero)),
        image_rules(9),
    )
}

/// Reads a result status the way both modules mean it: SUCCEEDED → `ready()`, FAILED or
/// CANCELLED → failed with the platform's words (`message` or `reason`), no status → a
/// protocol error, any other → pending under the platform's name.
fn read_status(
    status: String,
    reason: Option<String>,
    ready: impl FnOnce() -> Result<Asset>,
) -> Result<ProcessingStatus> {
    Ok(match status.as_str() {
        "SUCCEEDED" => ProcessingStatus::Ready(ready()?),
        "FAILED" | "CANCELLED" => ProcessingStatus::Failed {
            reason: reason
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| status.to_lowercase()),
            state: status,
        },
        "" => {
            return Err(Error::protocol("get_video_upload_result has no status")
                .with_platform(PLATFORM)
                .with_call("get_video_upload_result"))
        }
        other => ProcessingStatus::Pending {
            stage: other.to_owned(),
        },
    })
}

/// `SUCCEEDED` without `video_info`.
fn no_video_info() -> Error {
    Error::protocol("SUCCEEDED without video_info")
        .with_platform(PLATFORM)
        .with_call("get_video_upload_result")
}

/// Decodes Shopee's envelope: a non-empty `error` fails whatever the status; a non-2xx status
/// without a readable envelope fails by status. The envelope is read first and `response` typed
/// second, so an error answer with an odd `response` still reports its code.
fn decode<T: DeserializeOwned>(raw: &RawResponse, meta: &CallMeta<'_>) -> Result<T> {
    let with_context = |err: Error| {
        let err = err
            .with_platform(PLATFORM)
            .with_call(meta.call)
            .with_http_status(raw.status);
        match raw.retry_after() {
            Some(after) => err.with_retry_after(after),
            None => err,
        }
    };
    let envelope: wire::Envelope<serde_json::Value> = match serde_json::from_slice(&raw.body) {
        Ok(e) => e,
        Err(_) if !(200..300).contains(&raw.status) => {
            let kind = http::kind_for_status(raw.status).unwrap_or(ErrorKind::Protocol);
            return Err(with_context(Error::new(
                kind,
                "the server answered with an error and no Shopee envelope",
            )));
        }
        Err(_) => return raw.json::<T>(meta),
    };
    let request_id = envelope.request_id.clone().unwrap_or_default();
    let code = envelope.error.clone().unwrap_or_default();
    if !code.is_empty() {
        let message = envelope.message.clone().unwrap_or_default();
        let kind = errors::kind_for_code(&code, &message);
        let text = if errors::is_clock_skew(&code, &message) {
            format!(
                "Shopee refused the request's timestamp ({message}): this machine's clock is \
                 probably off; Shopee accepts a timestamp within 5 minutes of its own time"
            )
        } else if message.is_empty() {
            code.clone()
        } else {
            message
        };
        let err = with_context(Error::new(kind, text));
        let err = if errors::is_token_refused(&code) {
            err.with_token_refused()
        } else {
            err
        };
        return Err(err.with_code(code).with_request_id(request_id));
    }
    if !(200..300).contains(&raw.status) {
        let kind = http::kind_for_status(raw.status).unwrap_or(ErrorKind::Protocol);
        return Err(
            with_context(Error::new(kind, "the server answered with an error"))
                .with_request_id(request_id),
        );
    }
    if let Some(w) = envelope.warning.as_deref().filter(|w| !w.is_empty()) {
        tracing::warn!(
            platform = PLATFORM,
            call = meta.call,
            warning = w,
            "Shopee warning"
        );
    }
    let response = envelope.response.unwrap_or(serde_json::Value::Null);
    serde_json::from_value(response).map_err(|e| {
        with_context(Error::protocol(format!("unexpected `response`: {e}")))
            .with_request_id(request_id)
    })
}

fn urls_of(list: Vec<wire::ImageUrl>) -> Vec<AssetUrl> {
    list.into_iter()
        .map(|u| AssetUrl {
            region: u.image_url_region,
            url: u.image_url,
        })
        .collect()
}

#[async_trait]
impl ChunkedVideoUploader for ShopeeUploader {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }

    async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        if self.config.module == ShopeeModule::Media {
            return self.media_init(source, plan).await;
        }
        let md5 = source.digests.md5_hex().ok_or_else(|| {
            Error::invalid_input("Shopee needs the file's MD5; the digest pass did not compute it")
        })?;
        let started_at_ms = http::unix_millis();
        let response: wire::InitVideoUploadResponse = self
            .post_json(
                path::INIT_VIDEO_UPLOAD,
                "init_video_upload",
                &wire::InitVideoUploadRequest {
                    file_md5: &md5,
                    file_size: source.size,
                },
            )
            .await?;
        if response.video_upload_id.is_empty() {
            return Err(
                Error::protocol("init_video_upload returned an empty video_upload_id")
                    .with_platform(PLATFORM),
            );
        }
        Ok(InitOutcome::Session(UploadSession {
            platform: PLATFORM.into(),
            upload_id: response.video_upload_id,
            plan: *plan,
            expires_at: None,
            started_at_ms,
            data: serde_json::json!({
                "file_md5": md5,
                "module": ShopeeModule::MediaSpace.as_str(),
            }),
        }))
    }

    async fn put_part(&self, session: &UploadSession, part: &Part) -> Result<PartReceipt> {
        match self.module_of(&session.data) {
            ShopeeModule::MediaSpace => {
                self.send_part(
                    session,
                    part,
                    path::UPLOAD_VIDEO_PART,
                    wire::part_fields::CONTENT_MD5,
                )
                .await
            }
            ShopeeModule::Media => {
                self.send_part(
                    session,
                    part,
                    wire::media::path::UPLOAD_VIDEO_PART,
                    wire::media::part_fields::PART_MD5,
                )
                .await
            }
        }
    }

    async fn commit(
        &self,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<CommitOutcome> {
        if self.module_of(&session.data) == ShopeeModule::Media {
            return self
                .complete(
                    session,
                    wire::media::path::COMPLETE_VIDEO_UPLOAD,
                    &wire::media::CompleteVideoUploadRequest {
                        video_upload_id: Self::session_id(session),
                    },
                    media::handle_data(),
                )
                .await;
        }
        let upload_cost = self.upload_cost(session);
        let body = wire::CompleteVideoUploadRequest {
            video_upload_id: Self::session_id(session),
            part_seq_list: receipts.iter().map(|r| r.wire_number).collect(),
            report_data: wire::ReportData { upload_cost },
        };
        self.complete(
            session,
            path::COMPLETE_VIDEO_UPLOAD,
            &body,
            serde_json::Value::Null,
        )
        .await
    }

    async fn poll(&self, handle: &ProcessingHandle) -> Result<ProcessingStatus> {
        if self.module_of(&handle.data) == ShopeeModule::Media {
            let result = self
                .get_result(wire::media::path::GET_VIDEO_UPLOAD_RESULT, handle)
                .await?;
            return media::status_of(handle, result);
        }
        let result: wire::GetVideoUploadResultResponse = self
            .get_result(path::GET_VIDEO_UPLOAD_RESULT, handle)
            .await?;
        let info = result.video_info;
        read_status(result.status, result.message, || {
            let info = info.ok_or_else(no_video_info)?;
            let duration = info
                .duration
                .as_ref()
                .and_then(|d| d.as_f64())
                .and_then(|d| Duration::try_from_secs_f64(d).ok());
            Ok(Asset {
                platform: PLATFORM.into(),
                id: handle.id.clone(),
                urls: info
                    .video_url_list
                    .into_iter()
                    .map(|u| AssetUrl {
                        region: u.video_url_region,
                        url: u.video_url,
                    })
                    .collect(),
                thumbnails: urls_of(info.thumbnail_url_list),
                duration,
                size: None,
                details: serde_json::json!({ "status": "SUCCEEDED" }),
            })
        })
    }

    /// `get_video_upload_result` by the upload id: `INITIATED` (or an unknown or cancelled
    /// upload) means the completion did not take place; any other status means it did, and
    /// the driver polls the same handle as after a completion it saw answered.
    async fn recover(
        &self,
        session: &UploadSession,
        _receipts: &[PartReceipt],
        _commit_error: Option<ErrorKind>,
    ) -> Result<Recovery> {
        let handle = ProcessingHandle {
            platform: PLATFORM.into(),
            id: session.upload_id.clone(),
            data: serde_json::Value::Null,
        };
        match self.poll(&handle).await {
            Ok(ProcessingStatus::Pending { stage }) if stage == "INITIATED" => {
                Ok(Recovery::NotCommitted)
            }
            Ok(ProcessingStatus::Failed { state, .. }) if state == "CANCELLED" => {
                Ok(Recovery::NotCommitted)
            }
            Ok(ProcessingStatus::Ready(asset)) => {
                self.forget_part_times(session);
                Ok(Recovery::Committed(CommitOutcome::Ready(asset)))
            }
            Ok(_) => {
                self.forget_part_times(session);
                Ok(Recovery::Committed(CommitOutcome::Processing(handle)))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Recovery::NotCommitted),
            Err(e) => Err(e),
        }
    }

    async fn cancel(&self, session: &UploadSession) -> Result<()> {
        match self.module_of(&session.data) {
            ShopeeModule::MediaSpace => self.cancel_at(session, path::CANCEL_VIDEO_UPLOAD).await,
            ShopeeModule::Media => {
                self.cancel_at(session, wire::media::path::CANCEL_VIDEO_UPLOAD)
                    .await
            }
        }
    }
}

#[async_trait]
impl ImageUploader for ShopeeUploader {
    fn image_rules(&self) -> &ImageRules {
        &self.image_rules
    }

    async fn upload_images(&self, images: &[ImageSource]) -> Result<Vec<Result<UploadedImage>>> {
        use wire::image_fields as f;
        marketmedia_core::check_images(&self.image_rules, images)?;
        if self.config.module == ShopeeModule::Media {
            return self.media_upload_images(images).await;
        }
        let form = || {
            let mut form = reqwest::multipart::Form::new()
                .text(f::SCENE, self.config.image_scene.as_str())
                .text(f::RATIO, self.config.image_ratio.as_str());
            for img in images {
                form = form.part(f::IMAGE, Self::image_part(img)?);
            }
            Ok(form)
        };
        let meta = CallMeta {
            platform: PLATFORM,
            call: "upload_image",
            part: None,
        };
        let response: wire::UploadImageResponse =
            self.post_form(path::UPLOAD_IMAGE, meta, form).await?;
        let to_image = |info: wire::ImageInfo| UploadedImage {
            platform: PLATFORM.into(),
            id: info.image_id,
            urls: urls_of(info.image_url_list),
            details: serde_json::Value::Null,
        };
        let mut results: Vec<Option<Result<UploadedImage>>> = images.iter().map(|_| None).collect();
        if let Some(list) = response.image_info_list {
            for (pos, entry) in list.into_iter().enumerate() {
                let idx = entry.id.map(|i| i as usize).unwrap_or(pos);
                let Some(slot) = results.get_mut(idx) else {
                    continue;
                };
                let code = entry.error.unwrap_or_default();
                *slot = Some(if !code.is_empty() {
                    let message = entry.message.unwrap_or_default();
                    Err(Error::new(
                        errors::kind_for_code(&code, &message),
                        format!("{}: {}", images[idx].file_name, message),
                    )
                    .with_platform(PLATFORM)
                    .with_call("upload_image")
                    .with_code(code))
                } else {
                    match entry.image_info {
                        Some(info) => Ok(to_image(info)),
                        None => Err(Error::protocol("an image result without image_info")
                            .with_platform(PLATFORM)),
                    }
                });
            }
        } else if let (Some(info), 1) = (response.image_info, images.len()) {
            results[0] = Some(Ok(to_image(info)));
        }
        Ok(results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    Err(Error::protocol(format!(
                        "no result for image {i} ({})",
                        images[i].file_name
                    ))
                    .with_platform(PLATFORM))
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn answer(status: u16, retry_after: Option<&'static str>, body: &str) -> RawResponse {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(v));
        }
        RawResponse {
            status,
            headers,
            body: bytes::Bytes::from(body.to_owned()),
        }
    }

    const META: CallMeta<'static> = CallMeta {
        platform: PLATFORM,
        call: "upload_video_part",
        part: Some(0),
    };

    /// The platform's `Retry-After` reaches the driver on a rate-limit envelope and on a bare
    /// error status alike: without it the driver would retry at its own pace, too early.
    #[test]
    fn retry_after_is_kept_on_every_error_answer() {
        let limited = answer(
            429,
            Some("7"),
            r#"{"error":"error_rate_limit","message":"slow down","request_id":"r1"}"#,
        );
        let err = decode::<serde_json::Value>(&limited, &META).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        let bare = answer(503, Some("3"), "<html>busy</html>");
        let err = decode::<serde_json::Value>(&bare, &META).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transient);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        let none = answer(429, None, r#"{"error":"error_rate_limit","message":"x"}"#);
        let err = decode::<serde_json::Value>(&none, &META).unwrap_err();
        assert_eq!(err.retry_after(), None);
    }
}
