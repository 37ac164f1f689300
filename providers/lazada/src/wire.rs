//! Everything Lazada sees and says: API paths, parameter names, file fields, the envelope and
//! each call's answer. "What does Lazada send for block 3" is answered here and nowhere else.
//!
//! Answers are decoded leniently: every field is optional and numbers or strings are accepted
//! where the platform has been seen to send either, so a surprising answer becomes a
//! [`marketmedia_core::ErrorKind::Protocol`] error in the provider, never a panic.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// System parameters (every call)

/// `app_key` system parameter.
pub const APP_KEY: &str = "app_key";
/// `timestamp` system parameter: Unix milliseconds.
pub const TIMESTAMP: &str = "timestamp";
/// `sign_method` system parameter.
pub const SIGN_METHOD: &str = "sign_method";
/// The only signing method used: HMAC-SHA256.
pub const SIGN_METHOD_SHA256: &str = "sha256";
/// `access_token` system parameter.
pub const ACCESS_TOKEN: &str = "access_token";

/// Parameters of one call as `(name, value)` pairs, in no particular order. File fields are
/// never among them (they are not signed).
pub type Params = Vec<(&'static str, String)>;

/// The system parameters (before `sign`).
pub fn system_params(app_key: &str, access_token: &str, timestamp_ms: u64) -> Params {
    vec![
        (APP_KEY, app_key.to_owned()),
        (TIMESTAMP, timestamp_ms.to_string()),
        (SIGN_METHOD, SIGN_METHOD_SHA256.to_owned()),
        (ACCESS_TOKEN, access_token.to_owned()),
    ]
}

/// How an API call's parameters travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET, every parameter in the query string.
    Get,
    /// POST, every parameter (`sign` included) in a form-encoded body.
    PostForm,
    /// POST, every parameter as a text field of a multipart body, plus one file field.
    PostMultipart,
}

/// One API call: its name (for errors and traces), path (signed, without `/rest`) and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// Lazada's name for the call.
    pub name: &'static str,
    /// The API path, as signed.
    pub path: &'static str,
    /// How parameters travel.
    pub method: Method,
}

// ---------------------------------------------------------------------------------------------
// Video

/// `/media/video/block/create`: opens a block upload.
pub const INIT_CREATE_VIDEO: Call = Call {
    name: "InitCreateVideo",
    path: "/media/video/block/create",
    method: Method::PostForm,
};

/// Parameters of `InitCreateVideo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitCreateVideoRequest<'a> {
    /// `fileName`.
    pub file_name: &'a str,
    /// `fileBytes`: the whole file's size.
    pub file_bytes: u64,
}

impl InitCreateVideoRequest<'_> {
    /// As parameters.
    pub fn params(&self) -> Params {
        vec![
            ("fileName", self.file_name.to_owned()),
            ("fileBytes", self.file_bytes.to_string()),
        ]
    }
}

/// Answer of `InitCreateVideo`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InitCreateVideoResponse {
    /// `upload_id`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub upload_id: Option<String>,
}

/// `/media/video/block/upload`: one block, multipart.
pub const UPLOAD_VIDEO_BLOCK: Call = Call {
    name: "UploadVideoBlock",
    path: "/media/video/block/upload",
    method: Method::PostMultipart,
};

/// The block's file field (not signed).
pub const BLOCK_FILE_FIELD: &str = "file";

/// Parameters of `UploadVideoBlock` (the block itself goes in [`BLOCK_FILE_FIELD`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadVideoBlockRequest<'a> {
    /// `uploadId`.
    pub upload_id: &'a str,
    /// `blockNo`: **0-based**.
    pub block_no: u32,
    /// `blockCount`: number of blocks.
    pub block_count: u32,
}

impl UploadVideoBlockRequest<'_> {
    /// As parameters.
    pub fn params(&self) -> Params {
        vec![
            ("uploadId", self.upload_id.to_owned()),
            ("blockNo", self.block_no.to_string()),
            ("blockCount", self.block_count.to_string()),
        ]
    }
}

/// Answer of `UploadVideoBlock`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UploadVideoBlockResponse {
    /// `e_tag`: looks like the uppercase hex MD5 of the block.
    #[serde(default, deserialize_with = "lenient_string")]
    pub e_tag: Option<String>,
}

/// `/media/video/block/commit`: assembles the blocks into a video.
pub const COMPLETE_CREATE_VIDEO: Call = Call {
    name: "CompleteCreateVideo",
    path: "/media/video/block/commit",
    method: Method::PostForm,
};

/// One entry of the `parts` JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitPart {
    /// `partNumber`: **1-based** (= `blockNo` + 1).
    #[serde(rename = "partNumber")]
    pub part_number: u32,
    /// `eTag` as `UploadVideoBlock` returned it.
    #[serde(rename = "eTag")]
    pub e_tag: String,
}

/// Parameters of `CompleteCreateVideo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteCreateVideoRequest<'a> {
    /// `uploadId`.
    pub upload_id: &'a str,
    /// `parts`, in order.
    pub parts: Vec<CommitPart>,
    /// `title` (required).
    pub title: &'a str,
    /// `coverUrl` (required).
    pub cover_url: &'a str,
    /// `videoUsage`: `pro_main_video` or `im`.
    pub video_usage: &'a str,
}

impl CompleteCreateVideoRequest<'_> {
    /// As parameters (`parts` as a compact JSON string).
    pub fn params(&self) -> Params {
        // Serialising a Vec of plain structs with string and integer fields cannot fail.
        let parts = serde_json::to_string(&self.parts).unwrap_or_else(|_| "[]".to_owned());
        vec![
            ("uploadId", self.upload_id.to_owned()),
            ("parts", parts),
            ("title", self.title.to_owned()),
            ("coverUrl", self.cover_url.to_owned()),
            ("videoUsage", self.video_usage.to_owned()),
        ]
    }
}

/// Answer of `CompleteCreateVideo`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CompleteCreateVideoResponse {
    /// `video_id` (a string of digits; accepted as a number too).
    #[serde(default, deserialize_with = "lenient_string")]
    pub video_id: Option<String>,
}

/// `/media/video/get`: state of a video.
pub const GET_VIDEO: Call = Call {
    name: "GetVideo",
    path: "/media/video/get",
    method: Method::Get,
};

/// Parameter name of the video id in `GetVideo` and `RemoveVideo`.
pub const VIDEO_ID: &str = "videoId";

/// Answer of `GetVideo`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GetVideoResponse {
    /// `state`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub state: Option<String>,
    /// `video_url`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub video_url: Option<String>,
    /// `cover_url`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub cover_url: Option<String>,
    /// `title`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub title: Option<String>,
}

/// Video states of `GetVideo`.
pub mod state {
    /// Waiting for transcoding (pending).
    pub const READY_FOR_TRANSCODE: &str = "READY_FOR_TRANSCODE";
    /// Transcoding (pending).
    pub const TRANSCODING: &str = "TRANSCODING";
    /// Transcoding failed (terminal).
    pub const TRANSCODE_FAILED: &str = "TRANSCODE_FAILED";
    /// Waiting for audit (pending).
    pub const READY_FOR_AUDIT: &str = "READY_FOR_AUDIT";
    /// Audit refused (terminal).
    pub const AUDIT_FAILED: &str = "AUDIT_FAILED";
    /// Usable on products (ready).
    pub const AUDIT_SUCCESS: &str = "AUDIT_SUCCESS";
    /// Removed (terminal).
    pub const DELETED: &str = "DELETED";
}

/// `/seller/get` (GetSeller): the seller the token belongs to, in the gateway's country; the
/// account check of `marketmedia accounts check`.
pub const GET_SELLER: Call = Call {
    name: "GetSeller",
    path: "/seller/get",
    method: Method::Get,
};

/// Answer of `GetSeller`: the seller under `data` (a general API call, not a Media Center
/// one whose data sits beside the envelope's fields).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GetSellerResponse {
    /// The seller.
    #[serde(default)]
    pub data: Option<Seller>,
}

/// The seller `GetSeller` names (the fields the check shows; others ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Seller {
    /// The seller's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The seller's id in this country (a number on the wire, read either way).
    #[serde(default, deserialize_with = "string_or_number")]
    pub seller_id: Option<String>,
    /// The seller's location.
    #[serde(default)]
    pub location: Option<String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// `/media/video/quota/get`: Media Center space.
pub const GET_VIDEO_QUOTA: Call = Call {
    name: "GetVideoQuota",
    path: "/media/video/quota/get",
    method: Method::Get,
};

/// Answer of `GetVideoQuota` (bytes).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GetVideoQuotaResponse {
    /// `capacity_size`.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub capacity_size: Option<u64>,
    /// `used_size`.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub used_size: Option<u64>,
}

/// `/media/video/remove`: deletes a video.
pub const REMOVE_VIDEO: Call = Call {
    name: "RemoveVideo",
    path: "/media/video/remove",
    method: Method::PostForm,
};

/// An answer with no data of interest.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Empty {}

// ---------------------------------------------------------------------------------------------
// Images

/// `/image/upload`: one image, multipart.
pub const UPLOAD_IMAGE: Call = Call {
    name: "UploadImage",
    path: "/image/upload",
    method: Method::PostMultipart,
};

/// The image's file field (not signed).
pub const IMAGE_FILE_FIELD: &str = "image";

/// `/image/migrate`: fetches an image from a public URL.
pub const MIGRATE_IMAGE: Call = Call {
    name: "MigrateImage",
    path: "/image/migrate",
    method: Method::PostForm,
};

/// Parameters of `MigrateImage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateImageRequest<'a> {
    /// The public URL of the image.
    pub url: &'a str,
}

impl MigrateImageRequest<'_> {
    /// As parameters: `payload` = `<Request><Image><Url>…</Url></Image></Request>`.
    pub fn params(&self) -> Params {
        vec![(
            "payload",
            format!(
                "<Request><Image><Url>{}</Url></Image></Request>",
                xml_escape(self.url)
            ),
        )]
    }
}

/// Answer of `UploadImage` and `MigrateImage`: `data.image.{url, hash_code}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageResponse {
    /// `data`.
    #[serde(default)]
    pub data: Option<ImageData>,
}

/// `data` of an image answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageData {
    /// `image`.
    #[serde(default)]
    pub image: Option<ImageInfo>,
}

/// `data.image` of an image answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageInfo {
    /// `url`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub url: Option<String>,
    /// `hash_code`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub hash_code: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The envelope

/// Every answer: `code` (`"0"` on success), and on failure `type` (ISV, ISP, SYSTEM) and
/// `message`; Media Center calls add `success`, `result_code` and `result_message`. The call's
/// own data sits beside these fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Envelope<T> {
    /// `code`: `"0"` on success.
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    /// `type`: ISV, ISP or SYSTEM.
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// `message`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub message: Option<String>,
    /// `success` (Media Center).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub success: Option<bool>,
    /// `result_code` (Media Center).
    #[serde(default, deserialize_with = "lenient_string")]
    pub result_code: Option<String>,
    /// `result_message` (Media Center).
    #[serde(default, deserialize_with = "lenient_string")]
    pub result_message: Option<String>,
    /// `request_id`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub request_id: Option<String>,
    /// The call's data.
    #[serde(flatten)]
    pub data: T,
}

impl<T> Envelope<T> {
    /// Whether the answer is a failure: `code` other than `"0"`, or `success: false`.
    pub fn is_failure(&self) -> bool {
        let bad_code = matches!(self.code.as_deref(), Some(c) if c.trim() != "0");
        bad_code || self.success == Some(false)
    }

    /// Whether the answer carries neither `code` nor `success` (not a Lazada envelope).
    pub fn is_unrecognised(&self) -> bool {
        self.code.is_none() && self.success.is_none()
    }
}

// ---------------------------------------------------------------------------------------------
// Lenient field decoding

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// A string, or a number/bool written as a string; anything else (or empty) is `None`.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => non_empty(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// A non-negative integer, or one written as a string; anything else is `None`.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
                .map(|f| f as u64)
        }),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A bool, or `"true"`/`"false"`; anything else is `None`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) => match s.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// Escapes text for an XML element.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_parts_are_compact_json_with_documented_names() {
        let req = CompleteCreateVideoRequest {
            upload_id: "U",
            parts: vec![
                CommitPart {
                    part_number: 1,
                    e_tag: "AA".into(),
                },
                CommitPart {
                    part_number: 2,
                    e_tag: "BB".into(),
                },
            ],
            title: "t",
            cover_url: "https://c/x.png",
            video_usage: "pro_main_video",
        };
        let params = req.params();
        let parts = &params.iter().find(|(k, _)| *k == "parts").unwrap().1;
        assert_eq!(
            parts,
            r#"[{"partNumber":1,"eTag":"AA"},{"partNumber":2,"eTag":"BB"}]"#
        );
    }

    #[test]
    fn envelope_success_and_failures() {
        let ok: Envelope<InitCreateVideoResponse> = serde_json::from_str(
            r#"{"upload_id":"670A","result_message":"","success":true,"result_code":"","code":"0","request_id":"r1"}"#,
        )
        .unwrap();
        assert!(!ok.is_failure());
        assert_eq!(ok.data.upload_id.as_deref(), Some("670A"));
        assert_eq!(ok.result_code, None);

        let biz: Envelope<Empty> = serde_json::from_str(
            r#"{"success":false,"result_code":"FAIL_TO_UPLOAD_BLOCK","code":"0"}"#,
        )
        .unwrap();
        assert!(biz.is_failure());

        let gw: Envelope<Empty> = serde_json::from_str(
            r#"{"code":"IncompleteSignature","type":"ISV","message":"bad","request_id":"r"}"#,
        )
        .unwrap();
        assert!(gw.is_failure());
        assert_eq!(gw.kind.as_deref(), Some("ISV"));

        let numeric: Envelope<CompleteCreateVideoResponse> =
            serde_json::from_str(r#"{"code":0,"video_id":30073704787,"success":"true"}"#).unwrap();
        assert!(!numeric.is_failure());
        assert_eq!(numeric.data.video_id.as_deref(), Some("30073704787"));

        let odd: Envelope<GetVideoQuotaResponse> = serde_json::from_str(
            r#"{"code":"0","capacity_size":"100","used_size":{"x":1},"e_tag":[1]}"#,
        )
        .unwrap();
        assert_eq!(odd.data.capacity_size, Some(100));
        assert_eq!(odd.data.used_size, None);

        let foreign: Envelope<Empty> = serde_json::from_str(r#"{"hello":1}"#).unwrap();
        assert!(foreign.is_unrecognised());
    }

    #[test]
    fn migrate_payload_escapes_the_url() {
        let p = MigrateImageRequest {
            url: "https://x/a.jpg?a=1&b=<2>",
        }
        .params();
        assert_eq!(
            p[0].1,
            "<Request><Image><Url>https://x/a.jpg?a=1&amp;b=&lt;2&gt;</Url></Image></Request>"
        );
    }

    #[test]
    fn image_answer_shape() {
        let e: Envelope<ImageResponse> = serde_json::from_str(
            r#"{"code":"0","data":{"image":{"url":"https://i/x.jpg","hash_code":"h1"}},"request_id":"r"}"#,
        )
        .unwrap();
        let img = e.data.data.unwrap().image.unwrap();
        assert_eq!(img.url.as_deref(), Some("https://i/x.jpg"));
        assert_eq!(img.hash_code.as_deref(), Some("h1"));
    }
}
