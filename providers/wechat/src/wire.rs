//! Every path, parameter and field the WeChat Channels Store media calls use, in one place.

use serde::{Deserialize, Serialize};

/// API paths.
pub mod path {
    /// `POST` JSON [`super::StableTokenRequest`] → `{access_token, expires_in}`: the stable
    /// token, normal mode.
    pub const STABLE_TOKEN: &str = "/cgi-bin/stable_token";
    /// `POST ?access_token` JSON [`super::InitUploadRequest`] → `data.video_upload_key`.
    pub const VIDEO_INITUPLOAD: &str = "/shop/ec/basics/video/initupload";
    /// `POST ?access_token&video_upload_key&partnum`, the part in the form field `media` →
    /// `data.part_sha`.
    pub const VIDEO_UPLOADPART: &str = "/shop/ec/basics/video/uploadpart";
    /// `POST ?access_token` JSON [`super::FinishUploadRequest`] → the envelope only.
    pub const VIDEO_FINISHUPLOAD: &str = "/shop/ec/basics/video/finishupload";
    /// `GET ?access_token&video_upload_key` → `data.url`, polled after the finish.
    pub const VIDEO_GETPLAYINFO: &str = "/shop/ec/basics/video/getplayinfo";
    /// `POST ?access_token&upload_type=0&resp_type&height&width`, the image in `media` →
    /// `pic_file`.
    pub const IMG_UPLOAD: &str = "/shop/ec/basics/img/upload";
}

/// Query parameter and form field names.
pub mod field {
    /// The access token, on every store call.
    pub const ACCESS_TOKEN: &str = "access_token";
    /// The upload's key.
    pub const VIDEO_UPLOAD_KEY: &str = "video_upload_key";
    /// 1-based part number, at most 10,000.
    pub const PARTNUM: &str = "partnum";
    /// The form field carrying a part or an image.
    pub const MEDIA: &str = "media";
    /// `0`: the image is the body (`1` would be a URL).
    pub const UPLOAD_TYPE: &str = "upload_type";
    /// `0` media ids, `1` a link.
    pub const RESP_TYPE: &str = "resp_type";
    /// Image height in pixels (required with `upload_type=0`).
    pub const HEIGHT: &str = "height";
    /// Image width in pixels (required with `upload_type=0`).
    pub const WIDTH: &str = "width";
}

/// The envelope of every answer: `errcode` 0 (or absent, as in the token call's success) is
/// success. Some pages show `errcode` as a string (`"0"`), so both are read.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// The error code.
    #[serde(default)]
    pub errcode: Option<serde_json::Value>,
    /// The message; Tencent appends ` rid: …`, the request id.
    #[serde(default)]
    pub errmsg: Option<String>,
}

/// The stable token call's body. `force_refresh` is always `false` (normal mode): a forced
/// refresh would revoke the token every other process uses, and is limited to 20 a day.
#[derive(Serialize)]
pub struct StableTokenRequest<'a> {
    /// `client_credential`.
    pub grant_type: &'static str,
    /// AppID.
    pub appid: &'a str,
    /// AppSecret.
    pub secret: &'a str,
    /// `false`.
    pub force_refresh: bool,
}

/// The token call's answer.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    /// The token.
    pub access_token: String,
    /// Lifetime in seconds ("目前是7200秒之内的值").
    pub expires_in: u64,
}

/// `video/initupload` body.
#[derive(Debug, Serialize)]
pub struct InitUploadRequest<'a> {
    /// 162 product video, 173 after-sale video.
    pub scene_type: u32,
    /// e.g. `mp4`.
    pub file_type: &'a str,
    /// Bytes.
    pub file_size: u64,
}

/// `data` of a video call's answer.
#[derive(Debug, Deserialize)]
pub struct Data<T> {
    /// The payload; absent on refusals.
    #[serde(default = "Option::default")]
    pub data: Option<T>,
}

/// `video/initupload` `data`.
#[derive(Debug, Deserialize)]
pub struct InitUploadData {
    /// Ties the parts and the finish to this upload.
    pub video_upload_key: String,
}

/// `video/uploadpart` `data`.
#[derive(Debug, Deserialize)]
pub struct UploadPartData {
    /// The SHA-1 the server computed of the part, to send back at the finish.
    pub part_sha: String,
}

/// `video/finishupload` body.
#[derive(Debug, Serialize)]
pub struct FinishUploadRequest<'a> {
    /// The upload's key.
    pub video_upload_key: &'a str,
    /// Every part, sorted by `partnum`, without gaps.
    pub finish_parts: Vec<FinishPart<'a>>,
}

/// One entry of `finish_parts`.
#[derive(Debug, Serialize)]
pub struct FinishPart<'a> {
    /// 1-based.
    pub partnum: u32,
    /// As `uploadpart` answered it.
    pub part_sha: &'a str,
}

/// `video/getplayinfo` `data`.
#[derive(Debug, Deserialize)]
pub struct PlayInfoData {
    /// A temporary URL of the video, once it is ready.
    #[serde(default)]
    pub url: Option<String>,
}

/// `img/upload` answer.
#[derive(Debug, Deserialize)]
pub struct ImgUploadResponse {
    /// The image.
    #[serde(default)]
    pub pic_file: Option<PicFile>,
}

/// `pic_file` of `img/upload`.
#[derive(Debug, Deserialize)]
pub struct PicFile {
    /// With `resp_type=0`.
    #[serde(default)]
    pub media_id: Option<String>,
    /// With `resp_type=0`.
    #[serde(default)]
    pub pay_media_id: Option<String>,
    /// With `resp_type=1`.
    #[serde(default)]
    pub img_url: Option<String>,
}
