//! # marketmedia-wechat
//!
//! The WeChat Channels Store (微信小店) backend for marketmedia: chunked video upload
//! (`video/initupload` → `video/uploadpart` with 1-based `partnum` and parts of 1M–2MB, each
//! answered with its SHA-1 → `video/finishupload` listing `{partnum, part_sha}` → the play URL
//! polled from `video/getplayinfo`) and image upload (`img/upload`, one image per call).
//!
//! The provider only translates; the core [`UploadDriver`](marketmedia_core::UploadDriver)
//! streams the file, sends parts concurrently, retries, finishes and polls. Every part's
//! `part_sha` is compared with the provider's own SHA-1 of the bytes it sent (a mismatch is
//! [`ErrorKind::Corrupted`], so the driver sends the part again, which overwrites it).
//!
//! ```no_run
//! use marketmedia_core::{UploadDriver, UploadOptions};
//! use marketmedia_wechat::{WechatConfig, WechatUploader};
//!
//! # async fn demo() -> marketmedia_core::Result<()> {
//! let config = WechatConfig::builder()
//!     .appid("wx-appid")
//!     .appsecret("app-secret")
//!     .build()?;
//! let wechat = WechatUploader::new(config)?;
//! let outcome = UploadDriver::new(UploadOptions::default())
//!     .upload_file(&wechat, std::path::Path::new("product.mp4"))
//!     .await?;
//! println!("{:?}", outcome.asset());
//! # Ok(()) }
//! ```
//!
//! ## Access tokens
//! With [`Credentials::App`] the token comes from the stable token call, `POST
//! /cgi-bin/stable_token` in normal mode (never `force_refresh`), through core's token
//! mechanism ([`auth`]): kept until four minutes before `expires_in` (inside the last five
//! minutes, when the platform answers a new token while the old one stays valid), and fetched
//! again once per call when a store call says it is invalid or expired (40001, 40014, 41001,
//! 42001). Normal mode answers every caller the same token, so processes sharing an app no
//! longer knock each other's token out as `/cgi-bin/token` did.
//!
//! ## No cancel
//! The store has no call that abandons an upload: [`ChunkedVideoUploader::cancel`] sends
//! nothing (the key is left to expire) and refuses an upload this process finished with
//! [`ErrorKind::Conflict`].
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod errors;
pub mod marketplace;
pub mod wire;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use marketmedia_core::raw::http::{self, CallMeta, RawResponse};
use marketmedia_core::raw::{
    Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, DurationRange, Error, ErrorKind,
    ImageRules, ImageSource, ImageUploader, InitOutcome, MediaFormat, NumberingBase, Part,
    PartPlan, PartReceipt, PartSizeRule, ProcessingHandle, ProcessingStatus, Result, SourceInfo,
    TokenSource, UploadRules, UploadSession, UploadedImage,
};
use serde::de::DeserializeOwned;
use sha1::{Digest, Sha1};

pub use config::{
    Credentials, ImageAnswer, VideoScene, WechatConfig, WechatConfigBuilder, DEFAULT_PART_SIZE,
    MAX_PART_BYTES, MIN_PART_BYTES,
};
pub use marketplace::{Wechat, WechatSettings};
use wire::{field, path};

/// The platform name used in errors, logs and reports.
pub const PLATFORM: &str = "wechat";
/// Highest `partnum` ("块编号最大10000").
pub const MAX_PARTS: u32 = 10_000;
/// Finished upload keys remembered for `cancel` (bounded: a long-running process forgets the
/// oldest).
const REMEMBERED_FINISHES: usize = 1024;

/// The WeChat Channels Store video and image uploader. Clones share the token source.
#[derive(Debug, Clone)]
pub struct WechatUploader {
    config: WechatConfig,
    client: http::HttpClient,
    rules: UploadRules,
    image_rules: ImageRules,
    /// The access token of each request (core's mechanism; see [`auth`]).
    tokens: TokenSource,
    finished: Arc<Mutex<VecDeque<String>>>,
}

fn meta(call: &'static str, part: Option<u32>) -> CallMeta<'static> {
    CallMeta {
        platform: PLATFORM,
        call,
        part,
    }
}

impl WechatUploader {
    /// A provider for `config`, with its own HTTP client; a part size outside
    /// `MIN_PART_BYTES..=MAX_PART_BYTES` is refused.
    pub fn new(config: WechatConfig) -> Result<Self> {
        let client = http::HttpClient::new(config.options)?;
        Self::with_client(config, client)
    }

    /// A provider sharing an existing HTTP client (and its connection pool).
    pub fn with_client(config: WechatConfig, client: http::HttpClient) -> Result<Self> {
        config.validate()?;
        let scene = config.scene;
        let rules = UploadRules {
            part_numbering: NumberingBase::One,
            commit_numbering: Some(NumberingBase::One),
            max_parts: MAX_PARTS,
            async_processing: true,
            video_duration: scene.max_duration_secs().map(|max| DurationRange {
                min: Duration::ZERO,
                max: Duration::from_secs(max),
            }),
            ..UploadRules::new(
                PLATFORM,
                PartSizeRule::Range {
                    min: MIN_PART_BYTES,
                    max: MAX_PART_BYTES,
                    preferred: config.part_size,
                },
                scene.max_file_bytes(),
            )
        };
        let image_rules = ImageRules {
            platform: PLATFORM.into(),
            max_images: None,
            max_bytes: config.image_answer.max_bytes(),
            formats: vec![MediaFormat::Jpeg, MediaFormat::Png],
        };
        let tokens = auth::token_source(&config, &client)?;
        Ok(WechatUploader {
            config,
            client,
            rules,
            image_rules,
            tokens,
            finished: Default::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WechatConfig {
        &self.config
    }

    fn url(&self, api_path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url> {
        let base = self.config.effective_base_url();
        let mut url = reqwest::Url::parse(&format!("{base}{api_path}")).map_err(|e| {
            Error::invalid_input(format!("bad WeChat base URL {base:?}: {e}"))
                .with_platform(PLATFORM)
        })?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// Fetches an access token with the AppID and AppSecret (`/cgi-bin/stable_token`, normal
    /// mode: it changes no token): the one documented call that proves the app's credentials
    /// without touching the store, for `marketmedia accounts check`. A ready token from
    /// elsewhere cannot be checked this way: [`ErrorKind::Unsupported`].
    pub async fn check_account(&self) -> Result<marketmedia_core::AccountCheck> {
        let Credentials::App { appid, appsecret } = &self.config.credentials else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "configured with a ready access token: WeChat documents no call that only \
                 checks one (configure appid and appsecret to check the app)",
            )
            .with_platform(PLATFORM));
        };
        // A fetch, not the kept token: the check is of the credentials.
        auth::WechatRefresher::new(
            self.client.clone(),
            self.config.effective_base_url(),
            appid.clone(),
            appsecret.clone(),
        )
        .fetch()
        .await?;
        Ok(marketmedia_core::AccountCheck {
            call: path::STABLE_TOKEN.into(),
            display_name: None,
            id: Some(appid.clone()),
            country: None,
            status: None,
        })
    }

    /// One store call with the access token, sent again once with a refreshed token when the
    /// platform refuses it (core's `TokenSource::call`). `build` makes the request from the
    /// token (every attempt afresh, so a part's body streams again).
    async fn call<T, F>(&self, m: CallMeta<'static>, build: F) -> Result<T>
    where
        T: DeserializeOwned,
        F: Fn(&str) -> Result<reqwest::RequestBuilder>,
    {
        self.tokens
            .call(|token| {
                let request = build(token.expose());
                async move {
                    let raw = self.client.send(request?, m).await?;
                    decode::<T>(&raw, &m)
                }
            })
            .await
    }

    fn remember_finished(&self, key: &str) {
        let mut keys = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        if !keys.iter().any(|k| k == key) {
            if keys.len() == REMEMBERED_FINISHES {
                keys.pop_front();
            }
            keys.push_back(key.to_owned());
        }
    }

    fn was_finished(&self, key: &str) -> bool {
        let keys = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        keys.iter().any(|k| k == key)
    }
}

/// The request id Tencent appends to `errmsg` (`… rid: 63db345f-673f0671-5d101a9f`).
/// Older answers carry ` hint: [...]` instead.
fn split_rid(errmsg: &str) -> (&str, Option<&str>) {
    let rid = errmsg.rsplit_once(" rid: ").or_else(|| {
        errmsg
            .rsplit_once(" hint: [")
            .map(|(m, h)| (m, h.trim_end_matches(']')))
    });
    match rid {
        Some((msg, rid)) if !rid.trim().is_empty() => (msg.trim_end(), Some(rid.trim())),
        _ => (errmsg, None),
    }
}

/// Decodes the `errcode`/`errmsg` envelope first (a non-zero code fails whatever the HTTP
/// status, and an odd payload does not hide it), then the payload.
fn decode<T: DeserializeOwned>(raw: &RawResponse, m: &CallMeta<'_>) -> Result<T> {
    let context = |err: Error| {
        let err = err
            .with_platform(PLATFORM)
            .with_call(m.call)
            .with_http_status(raw.status);
        match raw.retry_after() {
            Some(after) => err.with_retry_after(after),
            None => err,
        }
    };
    let envelope: wire::Envelope = match serde_json::from_slice(&raw.body) {
        Ok(e) => e,
        Err(_) if !(200..300).contains(&raw.status) => {
            let kind = http::kind_for_status(raw.status).unwrap_or(ErrorKind::Protocol);
            return Err(context(Error::new(
                kind,
                "the server answered with an error and no WeChat envelope",
            )));
        }
        Err(_) => return raw.json::<T>(m),
    };
    let code = match &envelope.errcode {
        None => Some(0),
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    }
    .ok_or_else(|| context(Error::protocol("errcode is not an integer")))?;
    if code != 0 {
        let errmsg = envelope.errmsg.unwrap_or_default();
        let (message, rid) = split_rid(&errmsg);
        let text = if message.is_empty() {
            format!("errcode {code}")
        } else {
            message.to_owned()
        };
        let err =
            context(Error::new(errors::kind_for_code(code), text)).with_code(code.to_string());
        let err = if errors::TOKEN_CODES.contains(&code) {
            err.with_token_refused()
        } else {
            err
        };
        return Err(match rid {
            Some(rid) => err.with_request_id(rid),
            None => err,
        });
    }
    if !(200..300).contains(&raw.status) {
        let kind = http::kind_for_status(raw.status).unwrap_or(ErrorKind::Protocol);
        return Err(context(Error::new(
            kind,
            "the server answered with an error",
        )));
    }
    raw.json::<T>(m)
}

/// The `data` of a video call's answer, which must be there.
fn data<T>(answer: wire::Data<T>, call: &'static str) -> Result<T> {
    answer.data.ok_or_else(|| {
        Error::protocol("the answer has no data")
            .with_platform(PLATFORM)
            .with_call(call)
    })
}

/// Lowercase hex SHA-1 of a part's bytes, streamed (a part read from the file is read again).
async fn sha1_hex(part: &Part) -> Result<String> {
    let mut hasher = Sha1::new();
    let mut chunks = part.chunks();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            Error::new(ErrorKind::Io, "cannot read the part to hash it")
                .with_source(e)
                .with_platform(PLATFORM)
        })?;
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[async_trait]
impl ChunkedVideoUploader for WechatUploader {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }

    async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        let started_at_ms = http::unix_millis();
        let body = wire::InitUploadRequest {
            scene_type: self.config.scene.scene_type(),
            file_type: &self.config.file_type,
            file_size: source.size,
        };
        let answer: wire::Data<wire::InitUploadData> = self
            .call(meta("video_initupload", None), |token| {
                Ok(self
                    .client
                    .post(self.url(path::VIDEO_INITUPLOAD, &[(field::ACCESS_TOKEN, token)])?)
                    .json(&body))
            })
            .await?;
        let key = data(answer, "video_initupload")?.video_upload_key;
        if key.is_empty() {
            return Err(
                Error::protocol("initupload returned an empty video_upload_key")
                    .with_platform(PLATFORM),
            );
        }
        Ok(InitOutcome::Session(UploadSession {
            platform: PLATFORM.into(),
            upload_id: key,
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
            .filter(|s| s.len == part.len() && s.offset == part.offset);
        let last = part.index + 1 == plan.count();
        if spec.is_none() || part.len() > MAX_PART_BYTES || (!last && part.len() < MIN_PART_BYTES) {
            return Err(Error::invalid_input(format!(
                "part {} ({} bytes at {}) is not part of this upload's plan of {} parts of 1M–2MB",
                part.index,
                part.len(),
                part.offset,
                plan.count()
            ))
            .with_platform(PLATFORM));
        }
        let partnum = NumberingBase::One.wire(part.index);
        let ours = sha1_hex(part).await?;
        let number = partnum.to_string();
        let answer: wire::Data<wire::UploadPartData> = self
            .call(meta("video_uploadpart", Some(part.index)), |token| {
                let query = [
                    (field::ACCESS_TOKEN, token),
                    (field::VIDEO_UPLOAD_KEY, session.upload_id.as_str()),
                    (field::PARTNUM, number.as_str()),
                ];
                let media = http::part_file_field(
                    part,
                    format!("part{partnum}"),
                    "application/octet-stream",
                )?;
                Ok(self
                    .client
                    .post(self.url(path::VIDEO_UPLOADPART, &query)?)
                    .multipart(reqwest::multipart::Form::new().part(field::MEDIA, media)))
            })
            .await?;
        let theirs = data(answer, "video_uploadpart")?.part_sha;
        if !theirs.eq_ignore_ascii_case(&ours) {
            return Err(Error::new(
                ErrorKind::Corrupted,
                format!("part {partnum}: the platform's part_sha {theirs} is not the SHA-1 {ours} of the bytes sent"),
            )
            .with_platform(PLATFORM)
            .with_call("video_uploadpart")
            .with_code("part_sha"));
        }
        Ok(PartReceipt {
            index: part.index,
            wire_number: partnum,
            size: part.len(),
            etag: Some(theirs.to_ascii_lowercase()),
        })
    }

    async fn commit(
        &self,
        session: &UploadSession,
        receipts: &[PartReceipt],
    ) -> Result<CommitOutcome> {
        let count = session.plan.count() as usize;
        let complete = receipts.len() == count
            && receipts
                .iter()
                .enumerate()
                .all(|(i, r)| r.index as usize == i && r.etag.is_some());
        if !complete {
            return Err(Error::invalid_input(format!(
                "finishupload needs the part_sha of all {count} parts in order; {} receipts given",
                receipts.len()
            ))
            .with_platform(PLATFORM));
        }
        let body = wire::FinishUploadRequest {
            video_upload_key: &session.upload_id,
            finish_parts: receipts
                .iter()
                .map(|r| wire::FinishPart {
                    partnum: NumberingBase::One.wire(r.index),
                    part_sha: r.etag.as_deref().unwrap_or_default(),
                })
                .collect(),
        };
        let _: serde::de::IgnoredAny = self
            .call(meta("video_finishupload", None), |token| {
                Ok(self
                    .client
                    .post(self.url(path::VIDEO_FINISHUPLOAD, &[(field::ACCESS_TOKEN, token)])?)
                    .json(&body))
            })
            .await?;
        self.remember_finished(&session.upload_id);
        Ok(CommitOutcome::Processing(ProcessingHandle {
            platform: PLATFORM.into(),
            id: session.upload_id.clone(),
            data: serde_json::Value::Null,
        }))
    }

    async fn poll(&self, handle: &ProcessingHandle) -> Result<ProcessingStatus> {
        let answer: wire::Data<wire::PlayInfoData> = self
            .call(meta("video_getplayinfo", None), |token| {
                let query = [
                    (field::ACCESS_TOKEN, token),
                    (field::VIDEO_UPLOAD_KEY, handle.id.as_str()),
                ];
                Ok(self.client.get(self.url(path::VIDEO_GETPLAYINFO, &query)?))
            })
            .await?;
        Ok(
            match answer.data.and_then(|d| d.url).filter(|u| !u.is_empty()) {
                Some(url) => ProcessingStatus::Ready(Asset {
                    platform: PLATFORM.into(),
                    id: handle.id.clone(),
                    urls: vec![AssetUrl { region: None, url }],
                    thumbnails: Vec::new(),
                    duration: None,
                    size: None,
                    details: serde_json::json!({ "video_upload_key": handle.id, "url_is_temporary": true }),
                }),
                None => ProcessingStatus::Pending {
                    stage: "processing".into(),
                },
            },
        )
    }

    async fn cancel(&self, session: &UploadSession) -> Result<()> {
        if self.was_finished(&session.upload_id) {
            return Err(Error::new(
                ErrorKind::Conflict,
                "the upload is already finished; the store has no call to delete it",
            )
            .with_platform(PLATFORM)
            .with_call("cancel")
            .with_code("finished"));
        }
        Ok(())
    }
}

/// Width and height from the image's header.
fn dimensions(img: &ImageSource) -> Result<(u32, u32)> {
    let format = match img.format {
        MediaFormat::Png => image::ImageFormat::Png,
        _ => image::ImageFormat::Jpeg,
    };
    image::io::Reader::with_format(std::io::Cursor::new(img.data.as_ref()), format)
        .into_dimensions()
        .map_err(|e| {
            Error::invalid_input(format!(
                "{}: cannot read its width and height: {e}",
                img.file_name
            ))
            .with_platform(PLATFORM)
        })
}

#[async_trait]
impl ImageUploader for WechatUploader {
    fn image_rules(&self) -> &ImageRules {
        &self.image_rules
    }

    /// One `img/upload` per image, in order; each image has its own result.
    async fn upload_images(&self, images: &[ImageSource]) -> Result<Vec<Result<UploadedImage>>> {
        marketmedia_core::check_images(&self.image_rules, images)?;
        let sizes = images.iter().map(dimensions).collect::<Result<Vec<_>>>()?;
        // A refused token fails the whole call, before any image.
        self.tokens.access_token().await?;
        let resp_type = self.config.image_answer.resp_type().to_string();
        let mut results = Vec::with_capacity(images.len());
        for (img, (width, height)) in images.iter().zip(sizes) {
            let (w, h) = (width.to_string(), height.to_string());
            let answer: Result<wire::ImgUploadResponse> = self
                .call(meta("img_upload", None), |token| {
                    let query = [
                        (field::ACCESS_TOKEN, token),
                        (field::UPLOAD_TYPE, "0"),
                        (field::RESP_TYPE, resp_type.as_str()),
                        (field::HEIGHT, h.as_str()),
                        (field::WIDTH, w.as_str()),
                    ];
                    let media = reqwest::multipart::Part::stream_with_length(
                        reqwest::Body::from(img.data.clone()),
                        img.data.len() as u64,
                    )
                    .file_name(img.file_name.clone())
                    .mime_str(img.format.mime())
                    .map_err(|e| Error::invalid_input("bad image MIME type").with_source(e))?;
                    Ok(self
                        .client
                        .post(self.url(path::IMG_UPLOAD, &query)?)
                        .multipart(reqwest::multipart::Form::new().part(field::MEDIA, media)))
                })
                .await;
            results.push(answer.and_then(|a| {
                let pic = a.pic_file.ok_or_else(|| {
                    Error::protocol("img/upload answered no pic_file").with_platform(PLATFORM)
                })?;
                let id = pic
                    .media_id
                    .clone()
                    .or_else(|| pic.img_url.clone())
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| {
                        Error::protocol("img/upload answered neither media_id nor img_url")
                            .with_platform(PLATFORM)
                    })?;
                Ok(UploadedImage {
                    platform: PLATFORM.into(),
                    id,
                    urls: pic
                        .img_url
                        .iter()
                        .map(|url| AssetUrl {
                            region: None,
                            url: url.clone(),
                        })
                        .collect(),
                    details: serde_json::json!({
                        "media_id": pic.media_id,
                        "pay_media_id": pic.pay_media_id,
                        "width": width,
                        "height": height,
                    }),
                })
            }));
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_split_from_errmsg() {
        assert_eq!(
            split_rid("参数有误 rid: 63db345f-673f0671-5d101a9f"),
            ("参数有误", Some("63db345f-673f0671-5d101a9f"))
        );
        assert_eq!(split_rid("invalid appid"), ("invalid appid", None));
    }

    #[test]
    fn a_part_size_outside_1m_2mb_is_refused() {
        let builder = WechatConfig::builder().appid("a").appsecret("b");
        for size in [MIN_PART_BYTES - 1, MAX_PART_BYTES + 1] {
            let err = builder.clone().part_size(size).build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            // The fields are public: the uploader checks again.
            let mut config = builder.clone().build().unwrap();
            config.part_size = size;
            let err = WechatUploader::new(config).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
    }
}
