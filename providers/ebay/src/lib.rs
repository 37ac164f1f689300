//! # marketmedia-ebay
//!
//! The eBay Media API backend for marketmedia: videos (`createVideo` with the exact size,
//! then `uploadVideo` as one stream of ordered `Content-Range` chunks, then `getVideo` until
//! `LIVE`) and images (`createImageFromFile`, one per request).
//!
//! The fit with core's chunked model, stated in the rules: parts are byte ranges of one
//! upload, sent one at a time in order (`concurrent_parts = false`); there is no completion
//! call, so [`commit`](ChunkedVideoUploader::commit) checks with `getVideo` that every byte
//! arrived and hands back a processing handle, and [`poll`](ChunkedVideoUploader::poll) is
//! `getVideo`. eBay has no call to delete a video, so `cancel` can only say so.
//!
//! ```no_run
//! use marketmedia_core::{UploadDriver, UploadOptions};
//! use marketmedia_ebay::{EbayConfig, EbayUploader};
//!
//! # async fn demo() -> marketmedia_core::Result<()> {
//! let ebay = EbayUploader::new(EbayConfig::builder().access_token("user-access-token").build()?)?;
//! let outcome = UploadDriver::new(UploadOptions::default())
//!     .upload_file(&ebay, std::path::Path::new("product.mp4"))
//!     .await?;
//! println!("{:?}", outcome.asset());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod errors;
pub mod marketplace;
pub mod wire;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta, RawResponse};
use marketmedia_core::raw::{
    Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, Error, ErrorKind, ImageRules,
    ImageSource, ImageUploader, InitOutcome, MediaFormat, MetaField, Part, PartPlan, PartReceipt,
    PartSizeRule, ProcessingHandle, ProcessingStatus, Result, Secret, SourceInfo, TokenSource,
    UploadRules, UploadSession, UploadedImage,
};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};

pub use config::{
    EbayConfig, EbayConfigBuilder, EbayEnvironment, DEFAULT_PART_SIZE, MAX_VIDEO_BYTES,
};
pub use marketplace::{Ebay, EbaySettings};
use wire::path;

/// The platform name used in errors, logs and reports.
pub const PLATFORM: &str = "ebay";

/// The eBay video and image uploader.
#[derive(Debug, Clone)]
pub struct EbayUploader {
    config: EbayConfig,
    client: http::HttpClient,
    /// The user's access token for each request: the configured source, or the fixed token.
    tokens: TokenSource,
    rules: UploadRules,
    image_rules: ImageRules,
}

/// eBay's published rate for the Media API: "All POST methods in the Media API … 50 requests
/// per 5 seconds", per user (`docs/platforms/ebay.md`). The client's window is kept per
/// account, so each eBay account holds to its own.
pub const PUBLISHED_RATE: marketmedia_core::RequestRate = marketmedia_core::RequestRate {
    requests: 50,
    per: std::time::Duration::from_secs(5),
    method: Some("POST"),
};

fn meta(call: &'static str, part: Option<u32>) -> CallMeta<'static> {
    CallMeta {
        platform: PLATFORM,
        call,
        part,
    }
}

impl EbayUploader {
    /// A provider for `config` (checked again: its fields are public), with its own HTTP
    /// client. Its client holds to eBay's published rate, [`PUBLISHED_RATE`], unless the
    /// options set one of their own (an application granted more sets it higher): a 429
    /// costs the upload a `Retry-After` pause in which the link stays idle.
    pub fn new(config: EbayConfig) -> Result<Self> {
        config.validate()?;
        let mut options = config.options;
        options.request_rate.get_or_insert(PUBLISHED_RATE);
        let client = http::HttpClient::new(options)?;
        Ok(Self::with_client(config, client))
    }

    /// A provider sharing an existing HTTP client.
    pub fn with_client(config: EbayConfig, client: http::HttpClient) -> Self {
        let max = config.max_file_bytes.max(1);
        let part_size = config.part_size.clamp(1, max);
        let rules = UploadRules {
            // One stream: byte ranges sent one after the other, in order.
            concurrent_parts: false,
            // No completion call; getVideo tells when processing ends.
            async_processing: true,
            max_parts: u32::try_from(max.div_ceil(part_size)).unwrap_or(u32::MAX),
            ..UploadRules::new(
                PLATFORM,
                // eBay sets no chunk size: any range, the preferred one from the config.
                PartSizeRule::Range {
                    min: 1,
                    max,
                    preferred: part_size,
                },
                max,
            )
        };
        let image_rules = ImageRules {
            platform: PLATFORM.into(),
            max_images: None,
            max_bytes: config.max_image_bytes,
            formats: vec![
                MediaFormat::Jpeg,
                MediaFormat::Png,
                MediaFormat::Gif,
                MediaFormat::Webp,
            ],
        };
        let tokens = config
            .token_source
            .clone()
            .unwrap_or_else(|| TokenSource::fixed(config.access_token.clone()));
        EbayUploader {
            config,
            client,
            tokens,
            rules,
            image_rules,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EbayConfig {
        &self.config
    }

    fn request(
        &self,
        method: reqwest::Method,
        p: &str,
        token: &Secret,
    ) -> Result<reqwest::RequestBuilder> {
        let base = self.config.effective_base_url();
        let url = reqwest::Url::parse(&format!("{base}{p}")).map_err(|e| {
            Error::invalid_input(format!("bad eBay base URL {base:?}: {e}")).with_platform(PLATFORM)
        })?;
        Ok(self.client.request(method, url).bearer_auth(token.expose()))
    }

    /// Sends the request `build` makes with the user's token (afresh for each attempt), and
    /// once more with a refreshed token when eBay answers that the token is invalid (401,
    /// error 1001); a non-2xx answer is an error.
    async fn authorized<F>(&self, m: CallMeta<'static>, build: F) -> Result<RawResponse>
    where
        F: Fn(&Secret) -> Result<reqwest::RequestBuilder>,
    {
        self.tokens
            .call(|token| {
                let request = build(&token);
                async move {
                    let raw = self.client.send(request?, m).await?;
                    ok_or_error(&raw, &m)?;
                    Ok(raw)
                }
            })
            .await
    }

    /// eBay's Media API documents no call that only checks a token, and the token's scope
    /// (`sell.inventory`) does not cover the Identity API's `getUser`: so there is no check
    /// call to make, and this says so ([`ErrorKind::Unsupported`]) without any request.
    pub async fn check_account(&self) -> Result<marketmedia_core::AccountCheck> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "eBay's Media API documents no call that only checks a token (and sell.inventory \
             does not cover the Identity API's getUser): not checked; an upload will tell",
        )
        .with_platform(PLATFORM))
    }

    async fn get_video(&self, id: &str, call: &'static str) -> Result<wire::Video> {
        let m = meta(call, None);
        let raw = self
            .authorized(m, |token| {
                self.request(reqwest::Method::GET, &path::video(id), token)
            })
            .await?;
        raw.json(&m)
    }
}

/// `Ok` for a 2xx answer; otherwise eBay's first `errors[]` entry as a typed error (or the
/// status alone when the body is no eBay error).
pub fn ok_or_error(raw: &RawResponse, meta: &CallMeta<'_>) -> Result<()> {
    if (200..300).contains(&raw.status) {
        return Ok(());
    }
    let first = serde_json::from_slice::<wire::ErrorResponse>(&raw.body)
        .ok()
        .and_then(|r| r.errors.into_iter().next());
    let (id, category, message) = match &first {
        Some(e) => (
            e.error_id,
            e.category.as_deref(),
            e.long_message
                .clone()
                .or_else(|| e.message.clone())
                .unwrap_or_default(),
        ),
        None => (None, None, String::new()),
    };
    let message = if message.is_empty() {
        format!("eBay answered HTTP {}", raw.status)
    } else {
        message
    };
    let refused = errors::is_token_refused(
        raw.status,
        id,
        first.as_ref().and_then(|e| e.message.as_deref()),
    );
    let mut err = Error::new(errors::kind_for(raw.status, id, category), message)
        .with_platform(PLATFORM)
        .with_call(meta.call)
        .with_http_status(raw.status);
    if refused {
        err = err.with_token_refused();
    }
    if let Some(id) = id {
        err = err.with_code(id.to_string());
    }
    if let Some(after) = raw.retry_after() {
        err = err.with_retry_after(after);
    }
    Err(err)
}

/// The id at the end of a `Location` header (`…/video/{video_id}`).
pub fn id_from_location(location: &str) -> Option<&str> {
    let path = location.split(['?', '#']).next()?.trim_end_matches('/');
    path.rsplit('/').next().filter(|id| !id.is_empty())
}

fn location_id(raw: &RawResponse, m: &CallMeta<'_>) -> Result<String> {
    raw.headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(id_from_location)
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::protocol("the answer has no Location header with an id")
                .with_platform(PLATFORM)
                .with_call(m.call)
        })
}

/// getVideo's status as core's processing status.
pub fn status_of(id: &str, v: wire::Video) -> ProcessingStatus {
    match v.status.as_str() {
        "LIVE" => ProcessingStatus::Ready(Asset {
            platform: PLATFORM.into(),
            id: id.to_owned(),
            urls: v
                .play_lists
                .into_iter()
                .map(|p| AssetUrl {
                    region: p.protocol,
                    url: p.play_url,
                })
                .collect(),
            thumbnails: v
                .thumbnail
                .into_iter()
                .map(|t| AssetUrl {
                    region: None,
                    url: t.image_url,
                })
                .collect(),
            duration: None,
            size: v.size,
            details: serde_json::json!({ "status": "LIVE", "expirationDate": v.expiration_date }),
        }),
        state @ ("PROCESSING_FAILED" | "BLOCKED") => {
            let reasons = v.moderation.map(|m| m.reject_reasons).unwrap_or_default();
            let reason = v
                .status_message
                .filter(|m| !m.is_empty())
                .or_else(|| (!reasons.is_empty()).then(|| reasons.join("; ")))
                .unwrap_or_else(|| state.to_lowercase());
            ProcessingStatus::Failed {
                state: state.to_owned(),
                reason,
            }
        }
        other => ProcessingStatus::Pending {
            stage: if other.is_empty() { "UNKNOWN" } else { other }.to_owned(),
        },
    }
}

#[async_trait]
impl ChunkedVideoUploader for EbayUploader {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }

    async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        let bad = |m: String| Err(Error::invalid_input(m).with_platform(PLATFORM));
        if source.format != MediaFormat::Mp4 {
            return bad("eBay takes .mp4 videos (MPEG-4 Part 10 / AVC) only".into());
        }
        if source.size == 0 || source.size > self.rules.max_file_bytes {
            return bad(format!(
                "eBay takes videos of 1 to {} bytes, not {}",
                self.rules.max_file_bytes, source.size
            ));
        }
        if plan.file_size() != source.size {
            return bad("the part plan's size differs from the source's".into());
        }
        // The upload's own title (the file name without one) and description.
        let title = source
            .meta
            .get(MetaField::Title)
            .unwrap_or(&source.file_name);
        if title.trim().is_empty() {
            return bad("the video needs a title".into());
        }
        let body = wire::CreateVideoRequest {
            title,
            size: source.size,
            classification: [wire::CLASSIFICATION_ITEM],
            description: source.meta.get(MetaField::Description),
        };
        let m = meta("createVideo", None);
        let started_at_ms = http::unix_millis();
        let raw = self
            .authorized(m, |token| {
                Ok(self
                    .request(reqwest::Method::POST, path::VIDEO, token)?
                    .json(&body))
            })
            .await?;
        let id = location_id(&raw, &m)?;
        Ok(InitOutcome::Session(UploadSession {
            platform: PLATFORM.into(),
            upload_id: id,
            plan: *plan,
            expires_at: None,
            started_at_ms,
            data: serde_json::Value::Null,
        }))
    }

    async fn put_part(&self, session: &UploadSession, part: &Part) -> Result<PartReceipt> {
        let plan = &session.plan;
        let spec = plan
            .part(part.index)
            .filter(|s| s.len == part.len() && s.offset == part.offset && s.len > 0)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "part {} ({} bytes at {}) is not in the session's plan",
                    part.index,
                    part.len(),
                    part.offset
                ))
                .with_platform(PLATFORM)
            })?;
        let range = format!(
            "bytes {}-{}/{}",
            spec.offset,
            spec.offset + spec.len - 1,
            plan.file_size()
        );
        let m = meta("uploadVideo", Some(part.index));
        self.authorized(m, |token| {
            Ok(self
                .request(
                    reqwest::Method::POST,
                    &path::upload(&session.upload_id),
                    token,
                )?
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, part.len())
                .header(CONTENT_RANGE, range.as_str())
                .body(http::part_body(part)))
        })
        .await?;
        Ok(PartReceipt {
            index: part.index,
            wire_number: self.rules.part_numbering.wire(part.index),
            size: part.len(),
            etag: None,
        })
    }

    async fn commit(
        &self,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<CommitOutcome> {
        let plan = &session.plan;
        let complete = receipts.len() == plan.count() as usize
            && receipts.iter().enumerate().all(|(i, r)| {
                r.index as usize == i && plan.part(r.index).map(|s| s.len) == Some(r.size)
            });
        if !complete {
            return Err(Error::invalid_input(format!(
                "refusing to commit: {} receipts for a plan of {} parts",
                receipts.len(),
                plan.count()
            ))
            .with_platform(PLATFORM));
        }
        // No completion call: the last range ends the upload. getVideo confirms it.
        let video = self.get_video(&session.upload_id, "getVideo").await?;
        if video.status == "PENDING_UPLOAD" {
            return Err(Error::protocol(
                "every range was acknowledged but eBay still waits for bytes (PENDING_UPLOAD)",
            )
            .with_platform(PLATFORM)
            .with_code("PENDING_UPLOAD"));
        }
        Ok(CommitOutcome::Processing(ProcessingHandle {
            platform: PLATFORM.into(),
            id: session.upload_id.clone(),
            data: serde_json::Value::Null,
        }))
    }

    async fn poll(&self, handle: &ProcessingHandle) -> Result<ProcessingStatus> {
        let video = self.get_video(&handle.id, "getVideo").await?;
        Ok(status_of(&handle.id, video))
    }

    /// eBay has no call to delete or abandon a video: an error says so, with the video's
    /// status as its code (`Conflict` once every byte arrived).
    async fn cancel(&self, session: &UploadSession) -> Result<()> {
        let video = self.get_video(&session.upload_id, "getVideo").await?;
        let kind = if video.status == "PENDING_UPLOAD" {
            ErrorKind::Unsupported
        } else {
            ErrorKind::Conflict
        };
        Err(Error::new(
            kind,
            format!(
                "eBay has no call to delete a video; video {} is {}",
                session.upload_id, video.status
            ),
        )
        .with_platform(PLATFORM)
        .with_call("cancel")
        .with_code(video.status))
    }
}

#[async_trait]
impl ImageUploader for EbayUploader {
    fn image_rules(&self) -> &ImageRules {
        &self.image_rules
    }

    /// One createImageFromFile request per image, in order.
    async fn upload_images(&self, images: &[ImageSource]) -> Result<Vec<Result<UploadedImage>>> {
        marketmedia_core::check_images(&self.image_rules, images)?;
        let mut results = Vec::with_capacity(images.len());
        for img in images {
            results.push(self.upload_image(img).await);
        }
        Ok(results)
    }
}

impl EbayUploader {
    async fn upload_image(&self, img: &ImageSource) -> Result<UploadedImage> {
        let m = meta("createImageFromFile", None);
        let raw = self
            .authorized(m, |token| {
                let part = reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::from(img.data.clone()),
                    img.data.len() as u64,
                )
                .file_name(img.file_name.clone())
                .mime_str(img.format.mime())
                .map_err(|e| Error::invalid_input("bad image MIME type").with_source(e))?;
                let form = reqwest::multipart::Form::new().part(path::IMAGE_FIELD, part);
                Ok(self
                    .request(reqwest::Method::POST, path::CREATE_IMAGE_FROM_FILE, token)?
                    .multipart(form))
            })
            .await?;
        let id = location_id(&raw, &m)?;
        let body: wire::ImageUrl = raw.json(&m)?;
        Ok(UploadedImage {
            platform: PLATFORM.into(),
            id,
            urls: vec![AssetUrl {
                region: None,
                url: body.image_url,
            }],
            details: serde_json::json!({ "expirationDate": body.expiration_date }),
        })
    }
}
