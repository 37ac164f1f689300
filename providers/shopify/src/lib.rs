//! # marketmedia-shopify
//!
//! The Shopify Admin GraphQL backend for marketmedia: a video (or an image) is staged with
//! `stagedUploadsCreate`, sent in **one** request to the staged target exactly as the
//! target's parameters say (a multipart POST: the parameters as form fields in their order,
//! the file last; or a PUT), attached with `productCreateMedia` (to a product) or
//! `fileCreate` (the file library), and its status polled (`UPLOADED`, `PROCESSING`, `READY`,
//! `FAILED`).
//!
//! The fit with core's chunked model, stated in the rules: a one-part plan (the staged
//! target takes the whole file in one request: `max_parts = 1`, the part as large as the
//! file), no part numbers on the wire, the attach mutation as the completion, and
//! processing to poll. No call abandons a staged upload (the target simply expires), so
//! `cancel` sends nothing before the commit and says `Conflict` after it.
//!
//! Where a video goes travels with the upload ([`UploadMeta`](marketmedia_core::UploadMeta)):
//! `usage` = `product:<id>` (a product id, numeric or `gid://shopify/Product/…`) attaches it
//! to that product, `files` (or nothing) puts it in the file library; `description` (else
//! `title`) is its alt text.
//!
//! ```no_run
//! use marketmedia_core::{UploadDriver, UploadMeta, UploadOptions};
//! use marketmedia_shopify::{ShopifyConfig, ShopifyUploader};
//!
//! # async fn demo() -> marketmedia_core::Result<()> {
//! let shopify = ShopifyUploader::new(
//!     ShopifyConfig::builder()
//!         .shop("my-store.myshopify.com")
//!         .access_token("shpat_…")
//!         .build()?,
//! )?;
//! let outcome = UploadDriver::new(UploadOptions::default())
//!     .with_meta(UploadMeta::default().with_usage("product:8001").with_description("Blue kettle"))
//!     .upload_file(&shopify, std::path::Path::new("kettle.mp4"))
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

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta, RawResponse};
use marketmedia_core::raw::{
    Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, DurationRange, Error, ErrorKind,
    ImageRules, ImageSource, ImageUploader, InitOutcome, MediaFormat, MetaField, Part, PartPlan,
    PartReceipt, ProcessingHandle, ProcessingStatus, Result, Secret, SourceInfo, TokenSource,
    UploadRules, UploadSession, UploadedImage,
};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use config::{
    ShopifyConfig, ShopifyConfigBuilder, StagedMethod, DEFAULT_API_VERSION, MAX_IMAGE_BYTES,
    MAX_VIDEO_BYTES, MAX_VIDEO_DURATION,
};
pub use marketplace::{Shopify, ShopifySettings};

/// The platform name used in errors, logs and reports.
pub const PLATFORM: &str = "shopify";

/// How many committed uploads this process remembers (for `commit` twice and `cancel`).
const COMMITTED_KEPT: usize = 1024;

/// Where an upload goes once staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Destination {
    /// `productCreateMedia` on this product (`gid://shopify/Product/…`).
    Product(String),
    /// `fileCreate`: the file library.
    Files,
}

impl Destination {
    /// The destination an upload's `usage` names: `product:<id>` (numeric or a global id),
    /// or `files` / nothing for the file library; anything else is refused.
    pub fn from_usage(usage: Option<&str>) -> Result<Destination> {
        let usage = usage.map(str::trim).unwrap_or("");
        if usage.is_empty() || usage.eq_ignore_ascii_case("files") || usage == "file" {
            return Ok(Destination::Files);
        }
        let Some(id) = usage.strip_prefix("product:").map(str::trim) else {
            return Err(Error::invalid_input(format!(
                "Shopify's usage is `product:<product id>` or `files`, not {usage:?}"
            ))
            .with_platform(PLATFORM));
        };
        if id.starts_with("gid://shopify/Product/") && id.len() > "gid://shopify/Product/".len() {
            return Ok(Destination::Product(id.to_owned()));
        }
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Destination::Product(format!("gid://shopify/Product/{id}")));
        }
        Err(
            Error::invalid_input(format!("{id:?} is not a Shopify product id"))
                .with_platform(PLATFORM),
        )
    }
}

/// What a session keeps between the calls (serde, for the journal).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagedSession {
    /// The staged target.
    pub target: wire::StagedTarget,
    /// `POST` or `PUT`.
    pub method: String,
    /// The file name sent.
    pub file_name: String,
    /// Its MIME type.
    pub mime: String,
    /// Where it goes.
    pub destination: Destination,
    /// Alt text.
    pub alt: Option<String>,
}

/// The Shopify video and image uploader.
#[derive(Debug, Clone)]
pub struct ShopifyUploader {
    config: ShopifyConfig,
    client: http::HttpClient,
    tokens: TokenSource,
    rules: UploadRules,
    image_rules: ImageRules,
    /// Uploads this process committed (upload id, handle), newest last, bounded.
    committed: Arc<Mutex<VecDeque<(String, ProcessingHandle)>>>,
}

fn meta(call: &'static str, part: Option<u32>) -> CallMeta<'static> {
    CallMeta {
        platform: PLATFORM,
        call,
        part,
    }
}

impl ShopifyUploader {
    /// A provider for `config` (checked again), with its own HTTP client.
    pub fn new(config: ShopifyConfig) -> Result<Self> {
        config.validate()?;
        let client = http::HttpClient::new(config.options)?;
        Ok(Self::with_client(config, client))
    }

    /// A provider sharing an existing HTTP client.
    pub fn with_client(config: ShopifyConfig, client: http::HttpClient) -> Self {
        let max = config.max_file_bytes.max(1);
        let rules = UploadRules {
            // The attach mutation answers UPLOADED/PROCESSING; the status is polled.
            async_processing: true,
            video_duration: Some(DurationRange {
                min: Duration::ZERO,
                max: config.max_duration,
            }),
            // The staged target takes the whole file in one request: one part, no concurrent
            // parts, and no call abandons a staged upload.
            ..UploadRules::one_request(PLATFORM, max)
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
        ShopifyUploader {
            config,
            client,
            tokens,
            rules,
            image_rules,
            committed: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ShopifyConfig {
        &self.config
    }

    /// One GraphQL operation with the store's token (afresh for each attempt, refreshed once
    /// when Shopify answers 401), decoded: the HTTP status, the request-level `errors` (a
    /// throttle: `RateLimited` with the wait the cost's bucket gives), then `data`.
    pub async fn graphql<V: Serialize + Sync, T: DeserializeOwned>(
        &self,
        call: &'static str,
        query: &str,
        variables: &V,
    ) -> Result<T> {
        let m = meta(call, None);
        let url = reqwest::Url::parse(&self.config.graphql_url()).map_err(|e| {
            Error::invalid_input(format!("bad Shopify URL: {e}")).with_platform(PLATFORM)
        })?;
        let body = wire::GraphqlRequest { query, variables };
        let raw = self
            .tokens
            .call(|token: Secret| {
                let request = self
                    .client
                    .post(url.clone())
                    .header(wire::ACCESS_TOKEN_HEADER, token.expose())
                    .json(&body);
                async move {
                    let raw = self.client.send(request, m).await?;
                    http_ok(&raw, &m)?;
                    Ok(raw)
                }
            })
            .await?;
        decode_graphql(&raw, &m)
    }

    /// `query { shop { name myshopifyDomain } }`: the cheapest call a token answers.
    pub async fn check_account(&self) -> Result<marketmedia_core::AccountCheck> {
        let data: wire::ShopData = self
            .graphql("shop", wire::SHOP, &serde_json::json!({}))
            .await?;
        let shop = data.shop.ok_or_else(|| {
            Error::protocol("the shop query answered no shop")
                .with_platform(PLATFORM)
                .with_call("shop")
        })?;
        Ok(marketmedia_core::AccountCheck {
            call: "shop".into(),
            display_name: Some(shop.name),
            id: Some(shop.myshopify_domain),
            country: None,
            status: None,
        })
    }

    async fn stage(
        &self,
        resource: &str,
        file_name: &str,
        mime: &str,
        size: u64,
    ) -> Result<wire::StagedTarget> {
        let input = [wire::StagedUploadInput {
            resource,
            filename: file_name,
            mime_type: mime,
            file_size: size.to_string(),
            http_method: self.config.staged_method.as_str(),
        }];
        let data: wire::StagedUploadsData = self
            .graphql(
                "stagedUploadsCreate",
                wire::STAGED_UPLOADS_CREATE,
                &serde_json::json!({ "input": input }),
            )
            .await?;
        let payload = data
            .staged_uploads_create
            .ok_or_else(|| missing("stagedUploadsCreate", "stagedUploadsCreate"))?;
        user_errors(&payload.user_errors, "stagedUploadsCreate")?;
        let target = payload
            .staged_targets
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or_else(|| missing("stagedUploadsCreate", "stagedTargets"))?;
        if target.url.as_deref().unwrap_or("").is_empty()
            || target.resource_url.as_deref().unwrap_or("").is_empty()
        {
            return Err(missing("stagedUploadsCreate", "url and resourceUrl"));
        }
        Ok(target)
    }

    /// Sends `body` (the file) to the staged target, as its parameters say.
    async fn send_staged(
        &self,
        s: &StagedSession,
        m: CallMeta<'static>,
        body: StagedBody<'_>,
    ) -> Result<Option<String>> {
        let url_text = s.target.url.as_deref().unwrap_or_default();
        let url = reqwest::Url::parse(url_text).map_err(|e| {
            Error::protocol(format!("the staged target's url is not a URL: {e}"))
                .with_platform(PLATFORM)
                .with_call(m.call)
        })?;
        let request = if s.method == "PUT" {
            let mut r = self.client.request(reqwest::Method::PUT, url);
            let mut typed = false;
            for p in &s.target.parameters {
                if p.name.eq_ignore_ascii_case("content_type")
                    || p.name.eq_ignore_ascii_case("content-type")
                {
                    r = r.header(CONTENT_TYPE, p.value.as_str());
                    typed = true;
                } else {
                    let name = reqwest::header::HeaderName::from_bytes(p.name.as_bytes()).map_err(
                        |e| {
                            Error::protocol(format!(
                                "staged parameter {:?} cannot be a header: {e}",
                                p.name
                            ))
                            .with_platform(PLATFORM)
                        },
                    )?;
                    r = r.header(name, p.value.as_str());
                }
            }
            if !typed {
                r = r.header(CONTENT_TYPE, s.mime.as_str());
            }
            match body {
                StagedBody::Part(part) => r
                    .header(CONTENT_LENGTH, part.len())
                    .body(http::part_body(part)),
                StagedBody::Image(img) => r
                    .header(CONTENT_LENGTH, img.data.len())
                    .body(img.data.clone()),
            }
        } else {
            let mut form = reqwest::multipart::Form::new();
            for p in &s.target.parameters {
                form = form.text(p.name.clone(), p.value.clone());
            }
            let file = match body {
                StagedBody::Part(part) => http::part_file_field(part, &s.file_name, &s.mime)?,
                StagedBody::Image(img) => reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::from(img.data.clone()),
                    img.data.len() as u64,
                )
                .file_name(s.file_name.clone())
                .mime_str(&s.mime)
                .map_err(|e| Error::invalid_input("bad MIME type").with_source(e))?,
            };
            self.client
                .request(reqwest::Method::POST, url)
                .multipart(form.part("file", file))
        };
        let raw = self.client.send(request, m).await?;
        if !(200..300).contains(&raw.status) {
            let text = String::from_utf8_lossy(&raw.body);
            let code = wire::xml_error_code(&text);
            let message = wire::xml_error_message(&text)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the staged host answered HTTP {}", raw.status));
            let mut err = Error::new(errors::kind_for_staged(raw.status, code), message)
                .with_platform(PLATFORM)
                .with_call(m.call)
                .with_http_status(raw.status);
            if let Some(code) = code {
                err = err.with_code(code);
            }
            if let Some(after) = raw.retry_after() {
                err = err.with_retry_after(after);
            }
            return Err(err);
        }
        Ok(raw
            .headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches('"').to_owned()))
    }

    async fn attach(
        &self,
        resource_url: &str,
        content_type: &str,
        destination: &Destination,
        alt: Option<&str>,
        file_name: &str,
    ) -> Result<(wire::MediaNode, &'static str)> {
        match destination {
            Destination::Product(product) => {
                let media = [wire::CreateMediaInput {
                    original_source: resource_url,
                    media_content_type: content_type,
                    alt,
                }];
                let data: wire::ProductCreateMediaData = self
                    .graphql(
                        "productCreateMedia",
                        wire::PRODUCT_CREATE_MEDIA,
                        &serde_json::json!({ "productId": product, "media": media }),
                    )
                    .await?;
                let p = data
                    .product_create_media
                    .ok_or_else(|| missing("productCreateMedia", "productCreateMedia"))?;
                user_errors(&p.media_user_errors, "productCreateMedia")?;
                let node = p
                    .media
                    .unwrap_or_default()
                    .into_iter()
                    .next()
                    .filter(|n| !n.id.is_empty())
                    .ok_or_else(|| missing("productCreateMedia", "media"))?;
                Ok((node, "product"))
            }
            Destination::Files => {
                let files = [wire::FileCreateInput {
                    original_source: resource_url,
                    content_type,
                    alt,
                    filename: Some(file_name),
                }];
                let data: wire::FileCreateData = self
                    .graphql(
                        "fileCreate",
                        wire::FILE_CREATE,
                        &serde_json::json!({ "files": files }),
                    )
                    .await?;
                let p = data
                    .file_create
                    .ok_or_else(|| missing("fileCreate", "fileCreate"))?;
                user_errors(&p.user_errors, "fileCreate")?;
                let node = p
                    .files
                    .unwrap_or_default()
                    .into_iter()
                    .next()
                    .filter(|n| !n.id.is_empty())
                    .ok_or_else(|| missing("fileCreate", "files"))?;
                Ok((node, "files"))
            }
        }
    }

    fn committed_handle(&self, upload_id: &str) -> Option<ProcessingHandle> {
        let kept = self.committed.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .find(|(id, _)| id == upload_id)
            .map(|(_, h)| h.clone())
    }

    fn remember(&self, upload_id: &str, handle: &ProcessingHandle) {
        let mut kept = self.committed.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= COMMITTED_KEPT {
            kept.pop_front();
        }
        kept.push_back((upload_id.to_owned(), handle.clone()));
    }
}

/// The file sent to a staged target.
enum StagedBody<'a> {
    /// A part of a source file, streamed.
    Part(&'a Part),
    /// An image in memory.
    Image(&'a ImageSource),
}

fn missing(call: &'static str, what: &str) -> Error {
    Error::protocol(format!("the {call} answer has no {what}"))
        .with_platform(PLATFORM)
        .with_call(call)
}

/// `Ok` for a 2xx answer; otherwise the status as a typed error (401: the token refused).
pub fn http_ok(raw: &RawResponse, meta: &CallMeta<'_>) -> Result<()> {
    if (200..300).contains(&raw.status) {
        return Ok(());
    }
    let message = serde_json::from_slice::<wire::Envelope<serde_json::Value>>(&raw.body)
        .ok()
        .and_then(|e| e.errors)
        .map(|e| e.first().0)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("Shopify answered HTTP {}", raw.status));
    let mut err = Error::new(errors::kind_for_http(raw.status), message)
        .with_platform(PLATFORM)
        .with_call(meta.call)
        .with_http_status(raw.status)
        .with_code(raw.status.to_string());
    if errors::is_token_refused(raw.status) {
        err = err.with_token_refused();
    }
    if let Some(after) = raw.retry_after() {
        err = err.with_retry_after(after);
    }
    Err(err)
}

/// A 2xx GraphQL answer decoded: its request-level errors first (a throttle is
/// `RateLimited`, waiting what the bucket needs to hold the request's cost), then `data`.
pub fn decode_graphql<T: DeserializeOwned>(raw: &RawResponse, meta: &CallMeta<'_>) -> Result<T> {
    let envelope: wire::Envelope<serde_json::Value> = raw.json(meta)?;
    if let Some(errors) = envelope.errors.as_ref().filter(|e| !e.is_empty()) {
        let (message, code) = errors.first();
        let kind = errors::kind_for_graphql_code(code.as_deref(), &message);
        let mut err = Error::new(kind, message)
            .with_platform(PLATFORM)
            .with_call(meta.call)
            .with_http_status(raw.status);
        if let Some(code) = code {
            err = err.with_code(code);
        }
        if kind == ErrorKind::RateLimited {
            if let Some(wait) = throttle_wait(envelope.extensions.as_ref()) {
                err = err.with_retry_after(wait);
            }
        }
        return Err(err);
    }
    let data = envelope.data.filter(|d| !d.is_null()).ok_or_else(|| {
        Error::protocol("the answer has neither data nor errors")
            .with_platform(PLATFORM)
            .with_call(meta.call)
    })?;
    serde_json::from_value(data).map_err(|e| {
        Error::protocol(format!("could not decode the answer's data ({e})"))
            .with_platform(PLATFORM)
            .with_call(meta.call)
            .with_source(e)
    })
}

/// How long until the bucket holds the throttled request's cost: `(requested − available)
/// / restoreRate` seconds, rounded up, at most a minute.
pub fn throttle_wait(extensions: Option<&wire::Extensions>) -> Option<Duration> {
    let cost = extensions?.cost.as_ref()?;
    let status = cost.throttle_status.as_ref()?;
    let requested = cost.requested_query_cost?;
    if status.restore_rate <= 0.0 {
        return None;
    }
    let secs = ((requested - status.currently_available) / status.restore_rate).max(0.0);
    Some(Duration::from_millis(
        ((secs * 1000.0).ceil() as u64).min(60_000),
    ))
}

fn user_errors(list: &[wire::UserError], call: &'static str) -> Result<()> {
    let Some(first) = list.first() else {
        return Ok(());
    };
    let field = first
        .field
        .as_ref()
        .map(|f| format!(" ({})", f.join(".")))
        .unwrap_or_default();
    let mut err = Error::new(
        errors::kind_for_user_error(first.code.as_deref()),
        format!("{}{field}", first.message),
    )
    .with_platform(PLATFORM)
    .with_call(call);
    if let Some(code) = &first.code {
        err = err.with_code(code.clone());
    }
    Err(err)
}

/// A media or file node's status as core's processing status: `READY` → ready (its
/// sources, preview, duration), `FAILED` → failed (the media or file errors as the reason),
/// anything else → pending with Shopify's word.
pub fn status_of(node: wire::MediaNode, destination: &str) -> ProcessingStatus {
    let (state, errors) = if destination == "product" {
        (node.status.clone(), &node.media_errors)
    } else {
        (
            node.file_status.clone().or_else(|| node.status.clone()),
            &node.file_errors,
        )
    };
    let state = state.unwrap_or_default();
    match state.as_str() {
        "READY" => {
            let mut urls: Vec<AssetUrl> = node
                .sources
                .iter()
                .map(|s| AssetUrl {
                    region: s.mime_type.clone(),
                    url: s.url.clone(),
                })
                .collect();
            if let Some(img) = &node.image {
                urls.push(AssetUrl {
                    region: None,
                    url: img.url.clone(),
                });
            }
            ProcessingStatus::Ready(Asset {
                platform: PLATFORM.into(),
                id: node.id.clone(),
                urls,
                thumbnails: node
                    .preview
                    .as_ref()
                    .and_then(|p| p.image.as_ref())
                    .map(|i| AssetUrl {
                        region: None,
                        url: i.url.clone(),
                    })
                    .into_iter()
                    .collect(),
                duration: node.duration.map(Duration::from_millis),
                size: None,
                details: serde_json::json!({ "status": "READY", "destination": destination }),
            })
        }
        "FAILED" => {
            let reason = errors
                .iter()
                .map(|e| match &e.details {
                    Some(d) if !d.is_empty() => format!("{}: {} ({d})", e.code, e.message),
                    _ => format!("{}: {}", e.code, e.message),
                })
                .collect::<Vec<_>>()
                .join("; ");
            ProcessingStatus::Failed {
                state,
                reason: if reason.is_empty() {
                    "processing failed".into()
                } else {
                    reason
                },
            }
        }
        "" => ProcessingStatus::Pending {
            stage: "UNKNOWN".into(),
        },
        _ => ProcessingStatus::Pending { stage: state },
    }
}

fn session_data(session: &UploadSession) -> Result<StagedSession> {
    serde_json::from_value(session.data.clone()).map_err(|e| {
        Error::invalid_input(format!("not a Shopify session ({e})")).with_platform(PLATFORM)
    })
}

#[async_trait]
impl ChunkedVideoUploader for ShopifyUploader {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }

    async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        let bad = |m: String| Err(Error::invalid_input(m).with_platform(PLATFORM));
        if !matches!(source.format, MediaFormat::Mp4 | MediaFormat::QuickTime) {
            return bad("Shopify takes MP4 and MOV videos".into());
        }
        if source.size == 0 || source.size > self.rules.max_file_bytes {
            return bad(format!(
                "Shopify takes videos of 1 to {} bytes, not {}",
                self.rules.max_file_bytes, source.size
            ));
        }
        if plan.file_size() != source.size || plan.count() != 1 {
            return bad("a Shopify upload is one part of the whole file".into());
        }
        let destination = Destination::from_usage(source.meta.get(MetaField::Usage))?;
        let alt = source
            .meta
            .get(MetaField::Description)
            .or_else(|| source.meta.get(MetaField::Title))
            .map(str::to_owned);
        let mime = source.format.mime();
        let started_at_ms = http::unix_millis();
        let target = self
            .stage("VIDEO", &source.file_name, mime, source.size)
            .await?;
        let upload_id = target.resource_url.clone().unwrap_or_default();
        let data = StagedSession {
            target,
            method: self.config.staged_method.as_str().to_owned(),
            file_name: source.file_name.clone(),
            mime: mime.to_owned(),
            destination,
            alt,
        };
        Ok(InitOutcome::Session(UploadSession {
            platform: PLATFORM.into(),
            upload_id,
            plan: *plan,
            expires_at: None,
            started_at_ms,
            data: serde_json::to_value(&data).map_err(|e| {
                Error::protocol(format!("session not serializable: {e}")).with_platform(PLATFORM)
            })?,
        }))
    }

    async fn put_part(&self, session: &UploadSession, part: &Part) -> Result<PartReceipt> {
        let whole = session
            .plan
            .part(part.index)
            .filter(|s| {
                part.index == 0
                    && s.offset == 0
                    && s.len == part.len()
                    && s.len == session.plan.file_size()
            })
            .is_some();
        if !whole {
            return Err(Error::invalid_input(format!(
                "part {} ({} bytes at {}) is not the whole file: a staged target takes one request",
                part.index,
                part.len(),
                part.offset
            ))
            .with_platform(PLATFORM));
        }
        let s = session_data(session)?;
        let etag = self
            .send_staged(&s, meta("stagedUpload", Some(0)), StagedBody::Part(part))
            .await?;
        Ok(PartReceipt {
            index: 0,
            wire_number: self.rules.part_numbering.wire(0),
            size: part.len(),
            etag,
        })
    }

    async fn commit(
        &self,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<CommitOutcome> {
        let complete = receipts.len() == 1
            && receipts[0].index == 0
            && receipts[0].size == session.plan.file_size();
        if !complete {
            return Err(Error::invalid_input(format!(
                "refusing to commit: {} receipts for a one-part upload",
                receipts.len()
            ))
            .with_platform(PLATFORM));
        }
        if let Some(handle) = self.committed_handle(&session.upload_id) {
            return Ok(CommitOutcome::Processing(handle));
        }
        let s = session_data(session)?;
        let resource_url = s.target.resource_url.clone().unwrap_or_default();
        let (node, destination) = self
            .attach(
                &resource_url,
                "VIDEO",
                &s.destination,
                s.alt.as_deref(),
                &s.file_name,
            )
            .await?;
        let handle = ProcessingHandle {
            platform: PLATFORM.into(),
            id: node.id,
            data: serde_json::json!({ "destination": destination }),
        };
        self.remember(&session.upload_id, &handle);
        Ok(CommitOutcome::Processing(handle))
    }

    async fn poll(&self, handle: &ProcessingHandle) -> Result<ProcessingStatus> {
        let data: wire::NodeData = self
            .graphql(
                "mediaStatus",
                wire::NODE_STATUS,
                &serde_json::json!({ "id": handle.id }),
            )
            .await?;
        let node = data.node.ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("no media {}", handle.id))
                .with_platform(PLATFORM)
                .with_call("mediaStatus")
        })?;
        let destination = handle.data["destination"].as_str().unwrap_or("files");
        Ok(status_of(node, destination))
    }

    /// No call abandons a staged upload (its target expires): nothing is sent before the
    /// commit; after it, `Conflict` (the media exists; `fileDelete` would remove it, which
    /// a cancel does not do).
    async fn cancel(&self, session: &UploadSession) -> Result<()> {
        match self.committed_handle(&session.upload_id) {
            Some(handle) => Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "the upload was attached as {}; Shopify has no call to abandon it",
                    handle.id
                ),
            )
            .with_platform(PLATFORM)
            .with_call("cancel")
            .with_code("COMMITTED")),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl ImageUploader for ShopifyUploader {
    fn image_rules(&self) -> &ImageRules {
        &self.image_rules
    }

    /// Per image: `stagedUploadsCreate` (`IMAGE`), the staged request, `fileCreate`.
    async fn upload_images(&self, images: &[ImageSource]) -> Result<Vec<Result<UploadedImage>>> {
        marketmedia_core::check_images(&self.image_rules, images)?;
        let mut results = Vec::with_capacity(images.len());
        for img in images {
            results.push(self.upload_image(img).await);
        }
        Ok(results)
    }
}

impl ShopifyUploader {
    async fn upload_image(&self, img: &ImageSource) -> Result<UploadedImage> {
        let mime = img.format.mime();
        let target = self
            .stage("IMAGE", &img.file_name, mime, img.data.len() as u64)
            .await?;
        let s = StagedSession {
            target,
            method: self.config.staged_method.as_str().to_owned(),
            file_name: img.file_name.clone(),
            mime: mime.to_owned(),
            destination: Destination::Files,
            alt: None,
        };
        self.send_staged(&s, meta("stagedUpload", None), StagedBody::Image(img))
            .await?;
        let resource_url = s.target.resource_url.clone().unwrap_or_default();
        let (node, _) = self
            .attach(
                &resource_url,
                "IMAGE",
                &Destination::Files,
                None,
                &img.file_name,
            )
            .await?;
        Ok(UploadedImage {
            platform: PLATFORM.into(),
            id: node.id,
            urls: node
                .image
                .map(|i| AssetUrl {
                    region: None,
                    url: i.url,
                })
                .into_iter()
                .filter(|u| !u.url.is_empty())
                .collect(),
            details: serde_json::json!({ "fileStatus": node.file_status }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_names_the_destination() {
        assert_eq!(Destination::from_usage(None).unwrap(), Destination::Files);
        assert_eq!(
            Destination::from_usage(Some("files")).unwrap(),
            Destination::Files
        );
        assert_eq!(
            Destination::from_usage(Some("product:8001")).unwrap(),
            Destination::Product("gid://shopify/Product/8001".into())
        );
        assert_eq!(
            Destination::from_usage(Some("product:gid://shopify/Product/9")).unwrap(),
            Destination::Product("gid://shopify/Product/9".into())
        );
        for bad in ["product:", "product:abc", "pro_main_video"] {
            assert_eq!(
                Destination::from_usage(Some(bad)).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_throttle_wait_is_the_missing_cost_over_the_restore_rate() {
        let ext: wire::Extensions = serde_json::from_value(serde_json::json!({"cost": {
            "requestedQueryCost": 202, "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 118, "restoreRate": 50.0}
        }}))
        .unwrap();
        assert_eq!(throttle_wait(Some(&ext)), Some(Duration::from_millis(1680)));
        assert_eq!(throttle_wait(None), None);
    }
}
