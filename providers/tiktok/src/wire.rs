//! What goes on the wire: paths, query and form field names, the envelope and the answers
//! (`docs/platforms/tiktok.md` cites each).
//!
//! Every call of the open API host answers `{code, message, request_id, data}`; `code` 0 is
//! success, anything else a failure whatever the HTTP status.

use serde::Deserialize;

/// The open API host.
pub const API_HOST: &str = "https://open-api.tiktokglobalshop.com";
/// The auth host of the token calls.
pub const AUTH_HOST: &str = "https://auth.tiktok-shops.com";
/// The page a seller opens to authorize an app (`service_id`, `state`).
pub const AUTHORIZE_URL: &str = "https://services.tiktokshop.com/open/authorize";

/// Paths of the calls.
pub mod path {
    /// `POST`, multipart `data` + `use_case`: Upload Product Image.
    pub const IMAGES_UPLOAD: &str = "/product/202309/images/upload";
    /// `POST`, multipart `data` + `name`: Upload Product File (videos, PDFs).
    pub const FILES_UPLOAD: &str = "/product/202309/files/upload";
    /// `GET`: Get Authorized Shops (names, regions, ciphers).
    pub const AUTHORIZED_SHOPS: &str = "/authorization/202309/shops";
    /// `GET` on the auth host: the code exchange (`grant_type=authorized_code`).
    pub const TOKEN_GET: &str = "/api/v2/token/get";
    /// `GET` on the auth host: a refresh (`grant_type=refresh_token`).
    pub const TOKEN_REFRESH: &str = "/api/v2/token/refresh";
}

/// Query and header names.
pub mod field {
    /// The app key, on every call.
    pub const APP_KEY: &str = "app_key";
    /// Seconds since the epoch, on every call (signed).
    pub const TIMESTAMP: &str = "timestamp";
    /// The signature.
    pub const SIGN: &str = "sign";
    /// The shop's cipher, on shop-scoped calls (not the uploads: they refuse it).
    pub const SHOP_CIPHER: &str = "shop_cipher";
    /// The seller's access token header.
    pub const ACCESS_TOKEN_HEADER: &str = "x-tts-access-token";
    /// The multipart file field of both uploads.
    pub const DATA: &str = "data";
    /// The image upload's usage field.
    pub const USE_CASE: &str = "use_case";
    /// The file upload's name field.
    pub const NAME: &str = "name";
}

/// The common envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// 0 on success.
    #[serde(default = "unknown_code")]
    pub code: i64,
    /// The platform's words.
    #[serde(default)]
    pub message: String,
    /// The request's log id.
    #[serde(default)]
    pub request_id: String,
    /// The call's answer.
    #[serde(default)]
    pub data: serde_json::Value,
}

fn unknown_code() -> i64 {
    -1
}

/// Upload Product Image's `data`.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadedImageData {
    /// The image's URI (what a product names).
    pub uri: String,
    /// Where it is served.
    #[serde(default)]
    pub url: String,
    /// Width after TikTok's aspect adjustment.
    #[serde(default)]
    pub width: Option<u64>,
    /// Height after TikTok's aspect adjustment.
    #[serde(default)]
    pub height: Option<u64>,
    /// The usage given.
    #[serde(default)]
    pub use_case: Option<String>,
}

/// Upload Product File's `data`.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadedFileData {
    /// The file id a product names.
    pub id: String,
    /// Where it is served.
    #[serde(default)]
    pub url: String,
    /// The name given.
    #[serde(default)]
    pub name: String,
    /// `MP4`, `MOV`, `PDF`…
    #[serde(default)]
    pub format: String,
}

/// One shop of Get Authorized Shops.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthorizedShop {
    /// The shop id.
    #[serde(default)]
    pub id: String,
    /// The shop's name.
    #[serde(default)]
    pub name: String,
    /// Its region (`GB`, `MY`…).
    #[serde(default)]
    pub region: String,
    /// Its cipher.
    #[serde(default)]
    pub cipher: String,
    /// `LOCAL` or `CROSS_BORDER`.
    #[serde(default)]
    pub seller_type: String,
    /// Its short code.
    #[serde(default)]
    pub code: String,
}

/// Get Authorized Shops' `data`.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthorizedShops {
    /// The shops the token serves.
    #[serde(default)]
    pub shops: Vec<AuthorizedShop>,
}

/// The token calls' `data` (both).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenData {
    /// The access token.
    #[serde(default)]
    pub access_token: String,
    /// When it expires: **seconds since the epoch**, not a duration.
    #[serde(default)]
    pub access_token_expire_in: Option<i64>,
    /// The refresh token.
    #[serde(default)]
    pub refresh_token: String,
    /// When it expires: seconds since the epoch.
    #[serde(default)]
    pub refresh_token_expire_in: Option<i64>,
    /// The seller's id for the app.
    #[serde(default)]
    pub open_id: String,
    /// The seller's name.
    #[serde(default)]
    pub seller_name: String,
    /// The seller's base region.
    #[serde(default)]
    pub seller_base_region: String,
    /// 0 a seller.
    #[serde(default)]
    pub user_type: Option<i64>,
    /// The scopes granted.
    #[serde(default)]
    pub granted_scopes: Vec<String>,
}

/// What an image is for (`use_case`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum UseCase {
    /// A product gallery image (300 × 300 to 4000 × 4000 px).
    #[default]
    MainImage,
    /// A variant's image.
    AttributeImage,
    /// An image of the description.
    DescriptionImage,
    /// A certification document's image.
    CertificationImage,
    /// A size chart (shorter side at least 1024 px).
    SizeChartImage,
}

impl UseCase {
    /// Every value, in the pages' order.
    pub const ALL: [UseCase; 5] = [
        UseCase::MainImage,
        UseCase::AttributeImage,
        UseCase::DescriptionImage,
        UseCase::CertificationImage,
        UseCase::SizeChartImage,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            UseCase::MainImage => "MAIN_IMAGE",
            UseCase::AttributeImage => "ATTRIBUTE_IMAGE",
            UseCase::DescriptionImage => "DESCRIPTION_IMAGE",
            UseCase::CertificationImage => "CERTIFICATION_IMAGE",
            UseCase::SizeChartImage => "SIZE_CHART_IMAGE",
        }
    }

    /// The largest width and height the pages allow for this use.
    pub fn max_dimensions(self) -> (u32, u32) {
        match self {
            UseCase::MainImage => (4000, 4000),
            _ => (20_000, 20_000),
        }
    }
}

impl std::str::FromStr for UseCase {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UseCase::ALL
            .into_iter()
            .find(|u| u.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a TikTok Shop image use case ({})",
                    UseCase::ALL.map(|u| u.as_str()).join(", ")
                )
            })
    }
}
