//! The gateway's answer envelopes and error codes.

use serde_json::{json, Map, Value};

/// The API paths the simulator serves (the path a client signs; the URL adds the `/rest` base).
/// They are also the `call` names in the [`crate::WireLog`].
pub mod calls {
    /// InitCreateVideo.
    pub const BLOCK_CREATE: &str = "/media/video/block/create";
    /// UploadVideoBlock.
    pub const BLOCK_UPLOAD: &str = "/media/video/block/upload";
    /// CompleteCreateVideo.
    pub const BLOCK_COMMIT: &str = "/media/video/block/commit";
    /// GetVideo.
    pub const VIDEO_GET: &str = "/media/video/get";
    /// GetVideoQuota.
    pub const QUOTA_GET: &str = "/media/video/quota/get";
    /// RemoveVideo.
    pub const VIDEO_REMOVE: &str = "/media/video/remove";
    /// UploadImage.
    pub const IMAGE_UPLOAD: &str = "/image/upload";
    /// MigrateImage.
    pub const IMAGE_MIGRATE: &str = "/image/migrate";
}

/// The error codes the simulator answers with.
pub mod codes {
    /// Gateway: a mandatory parameter (system or business) is absent.
    pub const MISSING_PARAMETER: &str = "MissingParameter";
    /// Gateway: `app_key` is not a known application.
    pub const INVALID_APP_KEY: &str = "InvalidAppKey";
    /// Gateway: the signature is wrong, or `sign_method` is not `sha256`.
    pub const INCOMPLETE_SIGNATURE: &str = "IncompleteSignature";
    /// Gateway: `timestamp` unreadable or more than the tolerance away from the server clock.
    pub const INVALID_TIMESTAMP: &str = "InvalidTimestamp";
    /// Gateway: `access_token` unknown or expired.
    pub const ILLEGAL_ACCESS_TOKEN: &str = "IllegalAccessToken";
    /// Gateway: no API at this path.
    pub const INVALID_API_PATH: &str = "InvalidApiPath";
    /// Gateway: the body is not the form or multipart encoding it declares.
    pub const INVALID_PARAMETER: &str = "InvalidParameter";
    /// Media / image: a business parameter is malformed or out of range.
    pub const ILLEGAL_PARAMETER: &str = "ILLEGAL_PARAMETER";
    /// Media: block/create refused (file too large).
    pub const FAIL_TO_BLOCK_INIT: &str = "FAIL_TO_BLOCK_INIT";
    /// Media: block/upload refused (unknown / expired / committed upload, block too large).
    pub const FAIL_TO_UPLOAD_BLOCK: &str = "FAIL_TO_UPLOAD_BLOCK";
    /// Media: block/commit refused (unknown upload, missing block, size mismatch).
    pub const FAIL_TO_BLOCK_COMPLETE: &str = "FAIL_TO_BLOCK_COMPLETE";
    /// Media: block/commit refused (the parts list or an eTag does not match).
    pub const FAIL_TO_VALIDATE: &str = "FAIL_TO_VALIDATE";
    /// Media: block/commit refused (video space quota exhausted).
    pub const FAIL_TO_ADD_VIDEO: &str = "FAIL_TO_ADD_VIDEO";
    /// Media: unknown video id.
    pub const FAIL_TO_GET_VIDEO: &str = "FAIL_TO_GET_VIDEO";
}

/// The `type` of an error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Caused by the caller's request (gateway checks and business rules).
    Isv,
    /// A backend service failed.
    Isp,
    /// The API platform itself.
    System,
}

impl ErrorType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Isv => "ISV",
            ErrorType::Isp => "ISP",
            ErrorType::System => "SYSTEM",
        }
    }
}

/// Which envelope an error answer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFamily {
    /// Gateway errors and product (image) API errors: `code`, `type`, `message`, `request_id`.
    Gateway,
    /// Media Center business errors: the gateway fields plus `success:false`, `result_code`,
    /// `result_message` (or, when configured, `code:"0"` with `success:false`).
    Media,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The platform code.
    pub code: &'static str,
    /// The `type` field.
    pub kind: ErrorType,
    /// The envelope family.
    pub family: ErrorFamily,
    /// The human message.
    pub message: String,
}

impl ApiError {
    /// A gateway (or product API) error of type ISV.
    pub fn gateway(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            kind: ErrorType::Isv,
            family: ErrorFamily::Gateway,
            message: message.into(),
        }
    }

    /// A Media Center business error of type ISV.
    pub fn media(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            kind: ErrorType::Isv,
            family: ErrorFamily::Media,
            message: message.into(),
        }
    }

    /// `MissingParameter` for `name`, worded as the gateway words it.
    pub fn missing(name: &str) -> Self {
        Self::gateway(
            codes::MISSING_PARAMETER,
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied"
            ),
        )
    }

    /// Renders the answer. `code_zero_business_failures` selects the `code:"0"`,
    /// `success:false` shape for Media Center business errors.
    pub fn to_json(&self, request_id: &str, code_zero_business_failures: bool) -> Value {
        let mut body = Map::new();
        if self.family == ErrorFamily::Media && code_zero_business_failures {
            body.insert("code".into(), json!("0"));
        } else {
            body.insert("code".into(), json!(self.code));
            body.insert("type".into(), json!(self.kind.as_str()));
            body.insert("message".into(), json!(self.message));
        }
        if self.family == ErrorFamily::Media {
            body.insert("success".into(), json!(false));
            body.insert("result_code".into(), json!(self.code));
            body.insert("result_message".into(), json!(self.message));
        }
        body.insert("request_id".into(), json!(request_id));
        Value::Object(body)
    }
}

/// A Media Center success: `code:"0"`, `success:true`, empty `result_code`/`result_message`,
/// then the call's fields.
pub fn media_success(request_id: &str, data: Map<String, Value>) -> Value {
    let mut body = Map::new();
    body.insert("code".into(), json!("0"));
    body.insert("success".into(), json!(true));
    body.insert("result_code".into(), json!(""));
    body.insert("result_message".into(), json!(""));
    body.extend(data);
    body.insert("request_id".into(), json!(request_id));
    Value::Object(body)
}

/// A product API (image) success: `code:"0"`, `data`, `request_id`.
pub fn data_success(request_id: &str, data: Value) -> Value {
    json!({ "code": "0", "data": data, "request_id": request_id })
}
