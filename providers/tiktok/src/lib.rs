//! # marketmedia-tiktok
//!
//! The TikTok Shop Partner API backend of marketmedia: product videos
//! (`POST /product/202309/files/upload`, multipart `data` + `name`) and product images
//! (`POST /product/202309/images/upload`, multipart `data` + `use_case`), each file in **one
//! signed multipart request**, streamed from disk.
//!
//! The fit with core's chunked model is stated in the rules
//! ([`UploadRules::one_request`](marketmedia_core::raw::UploadRules::one_request)): one part
//! as large as the file, sent alone, no resume within a file (a failed request sends the
//! whole file again), no call to abandon an upload. `init` opens no session on the platform
//! (it names the upload: `<stem>-<8 hex>.<ext>`), `put_part` is the upload and its answer
//! is the asset, `commit` sends nothing and hands the asset back. Fan-out, batch, retries,
//! the journal and reports come from core as for every provider.
//!
//! Every call is signed with the app secret ([`signing`]); the seller's token travels in the
//! `x-tts-access-token` header, refreshed through core's token mechanism ([`auth`]).
//!
//! ```no_run
//! use marketmedia_core::{UploadDriver, UploadOptions};
//! use marketmedia_tiktok::{TiktokConfig, TiktokUploader};
//!
//! # async fn demo() -> marketmedia_core::Result<()> {
//! let tiktok = TiktokUploader::new(
//!     TiktokConfig::builder()
//!         .app_key("68xu9ks5p4i8")
//!         .app_secret(std::env::var("TIKTOK_APP_SECRET").unwrap_or_default())
//!         .access_token(std::env::var("TIKTOK_ACCESS_TOKEN").unwrap_or_default())
//!         .build()?,
//! )?;
//! let outcome = UploadDriver::new(UploadOptions::default())
//!     .upload_file(&tiktok, std::path::Path::new("kettle.mp4"))
//!     .await?;
//! if let Some(video) = outcome.asset() {
//!     println!("attach file {} to the product", video.id);
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod errors;
pub mod marketplace;
pub mod signing;
pub mod wire;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta, RawResponse};
use marketmedia_core::raw::{
    AccountCheck, Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, Error, ErrorKind,
    ImageRules, ImageSource, ImageUploader, InitOutcome, MediaFormat, Part, PartPlan, PartReceipt,
    ProcessingHandle, ProcessingStatus, Result, Secret, SourceInfo, TokenSource, UploadRules,
    UploadSession, UploadedImage,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use config::{TiktokConfig, TiktokConfigBuilder, MAX_IMAGE_BYTES, MAX_VIDEO_BYTES};
pub use marketplace::{Tiktok, TiktokSettings};
pub use wire::UseCase;
use wire::{field, path};

/// The platform name used in rules, errors and assets.
pub const PLATFORM: &str = "tiktok";

/// The smallest video sent: 12 bytes, the head of an MP4/MOV `ftyp` box (a shorter file can
/// be no format TikTok Shop lists).
pub const MIN_VIDEO_BYTES: u64 = 12;

/// Uploads this process committed, remembered so that a `cancel` after the commit is refused
/// (there is no call to delete a file): at most this many.
const COMMITTED_KEPT: usize = 4096;

/// The TikTok Shop video and image uploader.
#[derive(Debug)]
pub struct TiktokUploader {
    config: TiktokConfig,
    client: http::HttpClient,
    tokens: TokenSource,
    rules: UploadRules,
    image_rules: ImageRules,
    committed: Mutex<VecDeque<String>>,
}

/// What a session remembers: the name sent, so another process can resume it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SessionData {
    /// The `name` form field: the file's name made acceptable, with the upload's tag.
    name: String,
    /// The source's own file name.
    file_name: String,
    /// The MIME type of the `data` field.
    mime: String,
}

/// What the part's answer said, kept in the receipt's tag so that a journaled upload
/// commits in another process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileTag {
    id: String,
    url: String,
    format: String,
    name: String,
}

fn meta(call: &'static str, part: Option<u32>) -> CallMeta<'static> {
    CallMeta {
        platform: PLATFORM,
        call,
        part,
    }
}

fn bad<T>(m: impl Into<String>) -> Result<T> {
    Err(Error::invalid_input(m).with_platform(PLATFORM))
}

/// A process-unique upload tag: 16 hex digits from the clock and a counter.
fn upload_tag() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mixed = nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
        ^ n.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ u64::from(std::process::id());
    format!("{mixed:016x}")
}

/// The `name` sent for `file_name`: "Do not use additional periods, except the one preceding
/// the file extension. Do not begin the name with symbols. Do not include spaces." Anything
/// but ASCII letters, digits, `-` and `_` becomes `_`; the stem starts with a letter or digit
/// (`video` when none is left), and carries `-<first 8 hex of tag>`.
pub fn wire_name(file_name: &str, tag: &str, format: MediaFormat) -> String {
    let (stem, ext) = match file_name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && !e.is_empty() && e.len() <= 5 => (s, e),
        _ => (file_name, ""),
    };
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut stem = clean(stem)
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(80)
        .collect::<String>();
    if stem.is_empty() {
        stem = "video".into();
    }
    let ext = match clean(ext).to_ascii_lowercase().as_str() {
        "" => match format {
            MediaFormat::QuickTime => "mov".to_owned(),
            _ => "mp4".to_owned(),
        },
        e => e.to_owned(),
    };
    let short: String = tag.chars().take(8).collect();
    format!("{stem}-{short}.{ext}")
}

/// The envelope of `raw` checked: its `data` as `T`, or the failure typed (the code's kind;
/// `extra` may choose another kind for a code, e.g. the auth host's refusals). A body that
/// is no envelope fails by its HTTP status.
pub fn data_of<T: DeserializeOwned>(
    raw: &RawResponse,
    m: &CallMeta<'_>,
    extra: impl Fn(i64) -> Option<ErrorKind>,
) -> Result<T> {
    let envelope: wire::Envelope = match serde_json::from_slice(&raw.body) {
        Ok(e) => e,
        Err(_) if !(200..300).contains(&raw.status) => {
            let mut err = Error::new(
                http::kind_for_status(raw.status).unwrap_or(ErrorKind::Protocol),
                format!("TikTok Shop answered HTTP {}", raw.status),
            )
            .with_platform(PLATFORM)
            .with_call(m.call)
            .with_http_status(raw.status);
            if let Some(after) = raw.retry_after() {
                err = err.with_retry_after(after);
            }
            return Err(err);
        }
        Err(_) => return raw.json(m),
    };
    if envelope.code == errors::OK && !(200..300).contains(&raw.status) {
        // An error status is never a success, whatever the body says.
        let mut err = Error::new(
            http::kind_for_status(raw.status).unwrap_or(ErrorKind::Protocol),
            format!("TikTok Shop answered HTTP {} with code 0", raw.status),
        )
        .with_platform(PLATFORM)
        .with_call(m.call)
        .with_http_status(raw.status);
        if let Some(after) = raw.retry_after() {
            err = err.with_retry_after(after);
        }
        return Err(err);
    }
    if envelope.code != errors::OK {
        let kind =
            extra(envelope.code).unwrap_or_else(|| errors::kind_for(envelope.code, raw.status));
        let message = if envelope.message.is_empty() {
            format!("TikTok Shop answered code {}", envelope.code)
        } else {
            envelope.message.clone()
        };
        let mut err = Error::new(kind, message)
            .with_platform(PLATFORM)
            .with_call(m.call)
            .with_http_status(raw.status)
            .with_code(envelope.code.to_string());
        if errors::is_token_refused(envelope.code) {
            err = err.with_token_refused();
        }
        if let Some(after) = raw.retry_after() {
            err = err.with_retry_after(after);
        }
        return Err(err);
    }
    serde_json::from_value(envelope.data).map_err(|e| {
        Error::protocol(format!(
            "the answer's data is not what {} answers: {e}",
            m.call
        ))
        .with_platform(PLATFORM)
        .with_call(m.call)
    })
}

impl TiktokUploader {
    /// A provider for `config` (checked again: its fields are public), with its own client.
    pub fn new(config: TiktokConfig) -> Result<Self> {
        config.validate()?;
        let client = http::HttpClient::new(config.options)?;
        Ok(Self::with_client(config, client))
    }

    /// A provider sharing an existing HTTP client.
    pub fn with_client(config: TiktokConfig, client: http::HttpClient) -> Self {
        let rules = UploadRules {
            // A shorter file holds no container signature: no video TikTok takes.
            min_file_bytes: MIN_VIDEO_BYTES,
            ..UploadRules::one_request(PLATFORM, config.max_video_bytes)
        };
        let image_rules = ImageRules {
            platform: PLATFORM.into(),
            max_images: None,
            max_bytes: config.max_image_bytes,
            // JPG, JPEG, PNG, WEBP, HEIC, BMP: those core recognizes.
            formats: vec![MediaFormat::Jpeg, MediaFormat::Png, MediaFormat::Webp],
        };
        let tokens = config
            .token_source
            .clone()
            .unwrap_or_else(|| TokenSource::fixed(config.access_token.clone()));
        TiktokUploader {
            config,
            client,
            tokens,
            rules,
            image_rules,
            committed: Mutex::new(VecDeque::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TiktokConfig {
        &self.config
    }

    /// The URL of `p` with the common parameters and the signature (`body`: `None` for a
    /// multipart or empty body).
    fn signed_url(&self, p: &str, body: Option<&[u8]>) -> Result<reqwest::Url> {
        let base = self.config.effective_base_url();
        let timestamp = (http::unix_millis() / 1000).to_string();
        let query = [
            (field::APP_KEY, self.config.app_key.as_str()),
            (field::TIMESTAMP, timestamp.as_str()),
        ];
        let sign = signing::sign(self.config.app_secret.expose(), p, &query, body);
        let mut url = reqwest::Url::parse(&format!("{base}{p}")).map_err(|e| {
            Error::invalid_input(format!("bad TikTok Shop base URL: {e}")).with_platform(PLATFORM)
        })?;
        url.query_pairs_mut()
            .extend_pairs(query)
            .append_pair(field::SIGN, &sign);
        Ok(url)
    }

    /// Sends what `build` makes with the seller's token (signed afresh for each attempt), once
    /// more with a refreshed token when TikTok answers that the token is expired or invalid.
    async fn authorized<T, F>(&self, m: CallMeta<'static>, build: F) -> Result<T>
    where
        T: DeserializeOwned,
        F: Fn(&Secret) -> Result<reqwest::RequestBuilder>,
    {
        self.tokens
            .call(|token| {
                let request = build(&token);
                async move {
                    let raw = self.client.send(request?, m).await?;
                    data_of(&raw, &m, |_| None)
                }
            })
            .await
    }

    /// `accounts check`: Get Authorized Shops (the seller's shops, signed, no cipher); with a
    /// `shop_cipher` set, that shop must be among them.
    pub async fn check_account(&self) -> Result<AccountCheck> {
        let m = meta("authorization/shops", None);
        let shops: wire::AuthorizedShops = self
            .authorized(m, |token| {
                Ok(self
                    .client
                    .get(self.signed_url(path::AUTHORIZED_SHOPS, None)?)
                    .header(field::ACCESS_TOKEN_HEADER, token.expose()))
            })
            .await?;
        let shop = match &self.config.shop_cipher {
            Some(cipher) => Some(
                shops
                    .shops
                    .iter()
                    .find(|s| &s.cipher == cipher)
                    .ok_or_else(|| {
                        Error::invalid_input(format!(
                            "the shop_cipher set is not one of the {} shop(s) this token \
                             serves ({})",
                            shops.shops.len(),
                            shops
                                .shops
                                .iter()
                                .map(|s| format!("{} {}", s.name, s.region))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                        .with_platform(PLATFORM)
                        .with_call(m.call)
                    })?,
            ),
            None => shops.shops.first(),
        };
        Ok(AccountCheck {
            call: path::AUTHORIZED_SHOPS.into(),
            display_name: shop.map(|s| s.name.clone()),
            id: shop.map(|s| s.id.clone()),
            country: shop.map(|s| s.region.clone()).filter(|r| !r.is_empty()),
            status: None,
        })
    }

    fn remember_committed(&self, upload_id: &str) {
        let mut set = self.committed.lock().unwrap_or_else(|e| e.into_inner());
        if !set.iter().any(|id| id == upload_id) {
            if set.len() >= COMMITTED_KEPT {
                set.pop_front();
            }
            set.push_back(upload_id.to_owned());
        }
    }

    fn was_committed(&self, upload_id: &str) -> bool {
        self.committed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|id| id == upload_id)
    }
}

fn session_data(session: &UploadSession) -> Result<SessionData> {
    serde_json::from_value(session.data.clone()).map_err(|e| {
        Error::invalid_input(format!(
            "this session was not opened by the TikTok Shop provider ({e})"
        ))
        .with_platform(PLATFORM)
    })
}

#[async_trait]
impl ChunkedVideoUploader for TiktokUploader {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }

    /// Opens nothing on the platform: checks the video (format, size) and names the upload.
    async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        if !source.format.is_video() {
            return bad(format!(
                "TikTok Shop takes MP4, MOV, MKV, WMV, WEBM, AVI, 3GP, FLV and MPEG videos; this \
                 client recognizes MP4 and MOV (found {})",
                source.format.name()
            ));
        }
        if source.size < self.rules.min_file_bytes || source.size > self.rules.max_file_bytes {
            return bad(format!(
                "TikTok Shop takes videos of {} to {} bytes, not {}",
                self.rules.min_file_bytes, self.rules.max_file_bytes, source.size
            ));
        }
        if plan.file_size() != source.size || plan.count() != 1 {
            return bad("TikTok Shop takes a file in one request: the plan must be one part");
        }
        let tag = upload_tag();
        let data = SessionData {
            name: wire_name(&source.file_name, &tag, source.format),
            file_name: source.file_name.clone(),
            mime: source.format.mime().to_owned(),
        };
        Ok(InitOutcome::Session(UploadSession {
            platform: PLATFORM.into(),
            upload_id: tag,
            plan: *plan,
            expires_at: None,
            started_at_ms: http::unix_millis(),
            data: serde_json::to_value(&data).map_err(|e| {
                Error::protocol(format!("session data: {e}")).with_platform(PLATFORM)
            })?,
        }))
    }

    /// The upload: one multipart request, `name` then the file as `data`, streamed from disk.
    async fn put_part(&self, session: &UploadSession, part: &Part) -> Result<PartReceipt> {
        let data = session_data(session)?;
        let fits = part.index == 0
            && part.offset == 0
            && part.len() == session.plan.file_size()
            && session.plan.count() == 1;
        if !fits {
            return bad(format!(
                "part {} ({} bytes at {}) is not the whole file of the session's one-part plan",
                part.index,
                part.len(),
                part.offset
            ));
        }
        let m = meta("files/upload", Some(part.index));
        let answer: wire::UploadedFileData = self
            .authorized(m, |token| {
                let file = http::part_file_field(part, data.name.clone(), &data.mime)?;
                let form = reqwest::multipart::Form::new()
                    .text(field::NAME, data.name.clone())
                    .part(field::DATA, file);
                Ok(self
                    .client
                    .post(self.signed_url(path::FILES_UPLOAD, None)?)
                    .header(field::ACCESS_TOKEN_HEADER, token.expose())
                    .multipart(form))
            })
            .await?;
        if answer.id.is_empty() {
            return Err(Error::protocol("files/upload answered no file id")
                .with_platform(PLATFORM)
                .with_call(m.call));
        }
        let tag = FileTag {
            id: answer.id,
            url: answer.url,
            format: answer.format,
            name: answer.name,
        };
        Ok(PartReceipt {
            index: 0,
            wire_number: self.rules.part_numbering.wire(0),
            size: part.len(),
            etag: Some(
                serde_json::to_string(&tag).map_err(|e| {
                    Error::protocol(format!("receipt: {e}")).with_platform(PLATFORM)
                })?,
            ),
        })
    }

    /// Sends nothing: the one part's answer is the file.
    async fn commit(
        &self,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<CommitOutcome> {
        let receipt = match receipts {
            [r] if r.index == 0 && r.size == session.plan.file_size() => r,
            _ => {
                return bad(format!(
                    "refusing to commit: {} receipts for a one-part upload",
                    receipts.len()
                ))
            }
        };
        let tag: FileTag = receipt
            .etag
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .ok_or_else(|| {
                Error::invalid_input("the receipt carries no TikTok Shop file answer")
                    .with_platform(PLATFORM)
            })?;
        self.remember_committed(&session.upload_id);
        Ok(CommitOutcome::Ready(Asset {
            platform: PLATFORM.into(),
            id: tag.id,
            urls: (!tag.url.is_empty())
                .then_some(AssetUrl {
                    region: None,
                    url: tag.url,
                })
                .into_iter()
                .collect(),
            thumbnails: Vec::new(),
            duration: None,
            size: Some(session.plan.file_size()),
            details: serde_json::json!({ "format": tag.format, "name": tag.name }),
        }))
    }

    /// Nothing is processed after the upload (the file is ready at once): never called.
    async fn poll(&self, handle: &ProcessingHandle) -> Result<ProcessingStatus> {
        Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "TikTok Shop files are ready when uploaded: nothing to poll for {}",
                handle.id
            ),
        )
        .with_platform(PLATFORM))
    }

    /// No call abandons or deletes a file: nothing to do before the upload; after it, a
    /// typed refusal.
    async fn cancel(&self, session: &UploadSession) -> Result<()> {
        if self.was_committed(&session.upload_id) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "TikTok Shop has no call to delete a file; upload {} is done",
                    session.upload_id
                ),
            )
            .with_platform(PLATFORM)
            .with_call("cancel")
            .with_code("UPLOADED"));
        }
        Ok(())
    }
}

#[async_trait]
impl ImageUploader for TiktokUploader {
    fn image_rules(&self) -> &ImageRules {
        &self.image_rules
    }

    /// One images/upload request per image, in order.
    async fn upload_images(&self, images: &[ImageSource]) -> Result<Vec<Result<UploadedImage>>> {
        marketmedia_core::check_images(&self.image_rules, images)?;
        let mut results = Vec::with_capacity(images.len());
        for img in images {
            results.push(self.upload_image(img).await);
        }
        Ok(results)
    }
}

impl TiktokUploader {
    async fn upload_image(&self, img: &ImageSource) -> Result<UploadedImage> {
        let use_case = self.config.image_use_case;
        if let Some(dims) =
            marketmedia_core::decode_image(img).map_err(|e| e.with_platform(PLATFORM))?
        {
            marketmedia_core::check_dimensions(
                PLATFORM,
                &img.file_name,
                dims,
                use_case.max_dimensions(),
            )?;
        }
        let m = meta("images/upload", None);
        let answer: wire::UploadedImageData = self
            .authorized(m, |token| {
                let part = reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::from(img.data.clone()),
                    img.data.len() as u64,
                )
                .file_name(img.file_name.clone())
                .mime_str(img.format.mime())
                .map_err(|e| Error::invalid_input("bad image MIME type").with_source(e))?;
                let form = reqwest::multipart::Form::new()
                    .part(field::DATA, part)
                    .text(field::USE_CASE, use_case.as_str());
                Ok(self
                    .client
                    .post(self.signed_url(path::IMAGES_UPLOAD, None)?)
                    .header(field::ACCESS_TOKEN_HEADER, token.expose())
                    .multipart(form))
            })
            .await?;
        if answer.uri.is_empty() {
            return Err(Error::protocol("images/upload answered no uri")
                .with_platform(PLATFORM)
                .with_call(m.call));
        }
        Ok(UploadedImage {
            platform: PLATFORM.into(),
            id: answer.uri,
            urls: (!answer.url.is_empty())
                .then(|| AssetUrl {
                    region: None,
                    url: answer.url.trim().to_owned(),
                })
                .into_iter()
                .collect(),
            details: serde_json::json!({
                "width": answer.width,
                "height": answer.height,
                "use_case": answer.use_case.unwrap_or_else(|| use_case.as_str().to_owned()),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_follow_the_pages_rules() {
        let t = "0123456789abcdef";
        assert_eq!(
            wire_name("kettle.mp4", t, MediaFormat::Mp4),
            "kettle-01234567.mp4"
        );
        assert_eq!(
            wire_name(".blue kettle.v2.MOV", t, MediaFormat::QuickTime),
            "blue_kettle_v2-01234567.mov"
        );
        assert_eq!(wire_name("..", t, MediaFormat::Mp4), "video-01234567.mp4");
        assert_eq!(
            wire_name("clip", t, MediaFormat::QuickTime),
            "clip-01234567.mov"
        );
        for n in ["kettle.mp4", " x y .mp4", "#tag.mp4", "a.b.c.d.mp4"] {
            let w = wire_name(n, t, MediaFormat::Mp4);
            assert_eq!(w.matches('.').count(), 1, "{w}");
            assert!(
                !w.contains(' ') && w.chars().next().unwrap().is_ascii_alphanumeric(),
                "{w}"
            );
        }
    }

    #[test]
    fn upload_tags_differ() {
        let a = upload_tag();
        let b = upload_tag();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
    }
}
