//! eBay Media API shapes: paths, the `createVideo` request, the `getVideo` and image answers,
//! and the `errors[]` envelope.

use serde::{Deserialize, Serialize};

/// Paths relative to the base URL.
pub mod path {
    /// createVideo.
    pub const VIDEO: &str = "/video";
    /// getVideo: `/video/{video_id}`; uploadVideo adds `/upload`.
    pub fn video(id: &str) -> String {
        format!("/video/{id}")
    }
    /// uploadVideo.
    pub fn upload(id: &str) -> String {
        format!("/video/{id}/upload")
    }
    /// createImageFromFile.
    pub const CREATE_IMAGE_FROM_FILE: &str = "/image/create_image_from_file";
    /// The multipart field of createImageFromFile.
    pub const IMAGE_FIELD: &str = "image";
}

/// The only classification eBay takes.
pub const CLASSIFICATION_ITEM: &str = "ITEM";

/// `POST /video`. Answered 201 with the id in `Location`.
#[derive(Debug, Serialize)]
pub struct CreateVideoRequest<'a> {
    /// Text only.
    pub title: &'a str,
    /// The exact size in bytes.
    pub size: u64,
    /// `["ITEM"]`.
    pub classification: [&'a str; 1],
    /// Optional, text only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
}

/// `GET /video/{video_id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    /// `PENDING_UPLOAD`, `PROCESSING`, `LIVE`, `PROCESSING_FAILED`, `BLOCKED`.
    #[serde(default)]
    pub status: String,
    /// Why processing failed or the video was blocked.
    pub status_message: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// When the video expires.
    pub expiration_date: Option<String>,
    /// Streaming URLs, once `LIVE`.
    #[serde(default)]
    pub play_lists: Vec<Play>,
    /// The generated thumbnail.
    pub thumbnail: Option<ImageUrl>,
    /// Moderation details, when `BLOCKED`.
    pub moderation: Option<Moderation>,
}

/// One playlist.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Play {
    /// The URL.
    #[serde(default)]
    pub play_url: String,
    /// `DASH` or `HLS`.
    pub protocol: Option<String>,
}

/// `{ "imageUrl": … }`, also the createImageFromFile answer with `expirationDate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUrl {
    /// The URL.
    #[serde(default)]
    pub image_url: String,
    /// When an image expires.
    pub expiration_date: Option<String>,
}

/// Why a video was blocked.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Moderation {
    /// The reasons.
    #[serde(default)]
    pub reject_reasons: Vec<String>,
}

/// eBay's REST error answer.
#[derive(Debug, Deserialize)]
pub struct ErrorResponse {
    /// The errors, first the one reported.
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

/// One error (`ErrorDetailV3`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// The error id.
    pub error_id: Option<u64>,
    /// e.g. `OAuth`, `ACCESS`, `API_MEDIA`.
    pub domain: Option<String>,
    /// `REQUEST`, `APPLICATION` or `BUSINESS`.
    pub category: Option<String>,
    /// A short message.
    pub message: Option<String>,
    /// A longer one.
    pub long_message: Option<String>,
}
