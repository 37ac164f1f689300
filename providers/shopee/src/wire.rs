//! Every field name Shopee's media calls use, in one place: `v2.media_space` at the top level,
//! `v2.media` in [`media`]. The envelope is shared.

use serde::{Deserialize, Serialize};

/// API paths (full, including `/api/v2`).
pub mod path {
    /// Opens a video upload session.
    pub const INIT_VIDEO_UPLOAD: &str = "/api/v2/media_space/init_video_upload";
    /// Uploads one part (multipart/form-data).
    pub const UPLOAD_VIDEO_PART: &str = "/api/v2/media_space/upload_video_part";
    /// Completes the upload and starts transcoding.
    pub const COMPLETE_VIDEO_UPLOAD: &str = "/api/v2/media_space/complete_video_upload";
    /// Polls the transcoding result.
    pub const GET_VIDEO_UPLOAD_RESULT: &str = "/api/v2/media_space/get_video_upload_result";
    /// Cancels a session.
    pub const CANCEL_VIDEO_UPLOAD: &str = "/api/v2/media_space/cancel_video_upload";
    /// Uploads 1–9 images (multipart/form-data).
    pub const UPLOAD_IMAGE: &str = "/api/v2/media_space/upload_image";
    /// The shop's name, region and status (shop-type GET): the account check.
    pub const GET_SHOP_INFO: &str = "/api/v2/shop/get_shop_info";
}

/// Answer of `v2.shop.get_shop_info`: its fields sit at the top level of the answer, beside
/// `error` and `message` (not under `response`). Only those the account check shows.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ShopInfo {
    /// The shop's name.
    #[serde(default)]
    pub shop_name: Option<String>,
    /// The shop's region (`SG`, `MY`…).
    #[serde(default)]
    pub region: Option<String>,
    /// `NORMAL`, `BANNED`, `FROZEN`…
    #[serde(default)]
    pub status: Option<String>,
}

/// Multipart field names of `upload_video_part`.
pub mod part_fields {
    /// The session id.
    pub const VIDEO_UPLOAD_ID: &str = "video_upload_id";
    /// 0-based part number.
    pub const PART_SEQ: &str = "part_seq";
    /// Lowercase hex MD5 of the part.
    pub const CONTENT_MD5: &str = "content_md5";
    /// The file field carrying the bytes.
    pub const PART_CONTENT: &str = "part_content";
}

/// Multipart field names of `upload_image`.
pub mod image_fields {
    /// The repeatable file field.
    pub const IMAGE: &str = "image";
    /// `normal` or `desc`.
    pub const SCENE: &str = "scene";
    /// `1:1` or `3:4`.
    pub const RATIO: &str = "ratio";
}

/// Every answer's envelope. A non-empty `error` is a failure, whatever the HTTP status.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    /// Error code; empty on success.
    #[serde(default)]
    pub error: Option<String>,
    /// Error details.
    #[serde(default)]
    pub message: Option<String>,
    /// A warning to log.
    #[serde(default)]
    pub warning: Option<String>,
    /// Request id for support.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The call's payload.
    #[serde(default = "Option::default")]
    pub response: Option<T>,
}

/// `init_video_upload` body.
#[derive(Debug, Serialize)]
pub struct InitVideoUploadRequest<'a> {
    /// Lowercase hex MD5 of the whole file.
    pub file_md5: &'a str,
    /// File size in bytes.
    pub file_size: u64,
}

/// `init_video_upload` response.
#[derive(Debug, Deserialize)]
pub struct InitVideoUploadResponse {
    /// The session id.
    pub video_upload_id: String,
}

/// `complete_video_upload` body.
#[derive(Debug, Serialize)]
pub struct CompleteVideoUploadRequest<'a> {
    /// The session id.
    pub video_upload_id: &'a str,
    /// Every part number (0-based), in order.
    pub part_seq_list: Vec<u32>,
    /// Upload performance report.
    pub report_data: ReportData,
}

/// `report_data` of `complete_video_upload`.
#[derive(Debug, Serialize)]
pub struct ReportData {
    /// Milliseconds the upload took.
    pub upload_cost: u64,
}

/// `cancel_video_upload` body.
#[derive(Debug, Serialize)]
pub struct CancelVideoUploadRequest<'a> {
    /// The session id.
    pub video_upload_id: &'a str,
}

/// `get_video_upload_result` response.
#[derive(Debug, Deserialize)]
pub struct GetVideoUploadResultResponse {
    /// INITIATED, TRANSCODING, SUCCEEDED, FAILED or CANCELLED.
    #[serde(default)]
    pub status: String,
    /// On SUCCEEDED.
    #[serde(default)]
    pub video_info: Option<VideoInfo>,
    /// On FAILED, the reason.
    #[serde(default)]
    pub message: Option<String>,
}

/// A transcoded video.
#[derive(Debug, Deserialize)]
pub struct VideoInfo {
    /// URLs per region.
    #[serde(default)]
    pub video_url_list: Vec<VideoUrl>,
    /// Thumbnails per region.
    #[serde(default)]
    pub thumbnail_url_list: Vec<ImageUrl>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration: Option<serde_json::Number>,
}

/// A video URL of one region.
#[derive(Debug, Deserialize)]
pub struct VideoUrl {
    /// Region.
    #[serde(default)]
    pub video_url_region: Option<String>,
    /// URL.
    pub video_url: String,
}

/// An image URL of one region.
#[derive(Debug, Deserialize)]
pub struct ImageUrl {
    /// Region.
    #[serde(default)]
    pub image_url_region: Option<String>,
    /// URL.
    pub image_url: String,
}

/// `upload_image` response.
#[derive(Debug, Deserialize)]
pub struct UploadImageResponse {
    /// One entry per image, with its own error.
    #[serde(default)]
    pub image_info_list: Option<Vec<ImageInfoEntry>>,
    /// Legacy single-image answer.
    #[serde(default)]
    pub image_info: Option<ImageInfo>,
}

/// One image's result.
#[derive(Debug, Deserialize)]
pub struct ImageInfoEntry {
    /// Index of the image in the request.
    #[serde(default)]
    pub id: Option<u32>,
    /// Error code for this image; empty on success.
    #[serde(default)]
    pub error: Option<String>,
    /// Error details.
    #[serde(default)]
    pub message: Option<String>,
    /// The uploaded image.
    #[serde(default)]
    pub image_info: Option<ImageInfo>,
}

/// An uploaded image.
#[derive(Debug, Deserialize)]
pub struct ImageInfo {
    /// Image id.
    pub image_id: String,
    /// URLs per region.
    #[serde(default)]
    pub image_url_list: Vec<ImageUrl>,
}

/// The `v2.media` module's paths, fields and shapes (Shopee API reference, module 130
/// "Media": `v2.media.init_video_upload` and siblings).
pub mod media {
    use serde::{Deserialize, Serialize};

    /// API paths (full, including `/api/v2`).
    pub mod path {
        /// Opens a video upload task; the answer gives the part size.
        pub const INIT_VIDEO_UPLOAD: &str = "/api/v2/media/init_video_upload";
        /// Uploads one part (multipart/form-data).
        pub const UPLOAD_VIDEO_PART: &str = "/api/v2/media/upload_video_part";
        /// Completes the upload; processing starts.
        pub const COMPLETE_VIDEO_UPLOAD: &str = "/api/v2/media/complete_video_upload";
        /// Polls the task.
        pub const GET_VIDEO_UPLOAD_RESULT: &str = "/api/v2/media/get_video_upload_result";
        /// Cancels a task.
        pub const CANCEL_VIDEO_UPLOAD: &str = "/api/v2/media/cancel_video_upload";
        /// Uploads images for a business and scene (multipart/form-data).
        pub const UPLOAD_IMAGE: &str = "/api/v2/media/upload_image";
    }

    /// Multipart field names of `upload_video_part`.
    pub mod part_fields {
        /// The task id.
        pub const VIDEO_UPLOAD_ID: &str = "video_upload_id";
        /// 0-based part number.
        pub const PART_SEQ: &str = "part_seq";
        /// Lowercase hex MD5 of the part (`content_md5` under `media_space`).
        pub const PART_MD5: &str = "part_md5";
        /// The file field carrying the bytes.
        pub const PART_CONTENT: &str = "part_content";
    }

    /// Multipart field names of `upload_image`.
    pub mod image_fields {
        /// The repeatable file field (`image` under `media_space`).
        pub const IMAGES: &str = "images";
        /// The business code.
        pub const BUSINESS: &str = "business";
        /// The scene code.
        pub const SCENE: &str = "scene";
    }

    /// `init_video_upload` body.
    #[derive(Debug, Serialize)]
    pub struct InitVideoUploadRequest<'a> {
        /// Business code (3 = Video).
        pub business: u32,
        /// Scene code (1 = Shopee Video).
        pub scene: u32,
        /// The original file name.
        pub file_name: &'a str,
        /// File size in bytes.
        pub file_size: u64,
        /// Duration in whole seconds.
        pub duration: u64,
    }

    /// `init_video_upload` response.
    #[derive(Debug, Deserialize)]
    pub struct InitVideoUploadResponse {
        /// The task id.
        pub video_upload_id: String,
        /// The size every part but the last must have; the file is split by it.
        #[serde(default)]
        pub part_size: Option<u64>,
    }

    /// `complete_video_upload` body: the task id only, as the reference lists it.
    #[derive(Debug, Serialize)]
    pub struct CompleteVideoUploadRequest<'a> {
        /// The task id.
        pub video_upload_id: &'a str,
    }

    /// `get_video_upload_result` response.
    #[derive(Debug, Deserialize)]
    pub struct GetVideoUploadResultResponse {
        /// INITIATED, UPLOADING, UPLOADED, PROCESSING, SUCCEEDED, FAILED or CANCELLED.
        #[serde(default)]
        pub status: String,
        /// On FAILED or CANCELLED, why.
        #[serde(default)]
        pub reason: Option<String>,
        /// When the status last changed (Unix seconds).
        #[serde(default)]
        pub update_time: Option<i64>,
        /// On SUCCEEDED.
        #[serde(default)]
        pub video_info: Option<VideoInfo>,
    }

    /// A processed video.
    #[derive(Debug, Deserialize)]
    pub struct VideoInfo {
        /// Playback URL.
        pub video_url: String,
        /// Thumbnail URL.
        #[serde(default)]
        pub video_thumbnail_url: Option<String>,
        /// Thumbnail width in pixels.
        #[serde(default)]
        pub thumbnail_width: Option<u64>,
        /// Thumbnail height in pixels.
        #[serde(default)]
        pub thumbnail_height: Option<u64>,
        /// Duration in seconds.
        #[serde(default)]
        pub duration: Option<serde_json::Number>,
        /// Resolution, e.g. `1280x1280`.
        #[serde(default)]
        pub resolution: Option<String>,
    }

    /// `upload_image` response.
    #[derive(Debug, Deserialize)]
    pub struct UploadImageResponse {
        /// The uploaded images, in the order sent.
        #[serde(default)]
        pub image_list: Option<Vec<Image>>,
    }

    /// One uploaded image.
    #[derive(Debug, Deserialize)]
    pub struct Image {
        /// Image id.
        pub image_id: String,
        /// Image URL.
        #[serde(default)]
        pub image_url: Option<String>,
    }
}
