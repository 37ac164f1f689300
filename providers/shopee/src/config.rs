//! Shopee credentials, region and settings.

use std::fmt;

use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::raw::{Secret, TokenSource};

/// Which Shopee host to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShopeeRegion {
    /// `https://partner.shopeemobile.com` (global production).
    #[default]
    Production,
    /// `https://partner.test-stable.shopeemobile.com` (sandbox).
    Test,
    /// `https://openplatform.shopee.cn` (China).
    China,
    /// `https://openplatform.shopee.com.br` (Brazil).
    Brazil,
}

impl ShopeeRegion {
    /// The host's base URL, without a trailing slash.
    pub fn base_url(self) -> &'static str {
        match self {
            ShopeeRegion::Production => "https://partner.shopeemobile.com",
            ShopeeRegion::Test => "https://partner.test-stable.shopeemobile.com",
            ShopeeRegion::China => "https://openplatform.shopee.cn",
            ShopeeRegion::Brazil => "https://openplatform.shopee.com.br",
        }
    }
}

impl std::str::FromStr for ShopeeRegion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "production" | "prod" | "global" => Ok(ShopeeRegion::Production),
            "test" | "sandbox" => Ok(ShopeeRegion::Test),
            "china" | "cn" => Ok(ShopeeRegion::China),
            "brazil" | "br" => Ok(ShopeeRegion::Brazil),
            other => Err(format!(
                "unknown Shopee region {other:?} (production, test, china, brazil)"
            )),
        }
    }
}

/// How the two calls the spec marks as public-type (`upload_video_part`,
/// `complete_video_upload`) are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PublicCallSigning {
    /// As the spec says: `partner_id + path + timestamp`, with no token or shop in the query.
    #[default]
    Public,
    /// As the community SDK does: shop-level, with `access_token` and `shop_id` in the query.
    Shop,
}

/// Scene of uploaded images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageScene {
    /// Square-processed (item images). The platform's default.
    #[default]
    Normal,
    /// Left as is (description images).
    Desc,
}

impl ImageScene {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageScene::Normal => "normal",
            ImageScene::Desc => "desc",
        }
    }
}

/// Aspect ratio of uploaded images (3:4 only for whitelisted sellers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageRatio {
    /// 1:1, the default.
    #[default]
    Square,
    /// 3:4.
    ThreeByFour,
}

impl ImageRatio {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageRatio::Square => "1:1",
            ImageRatio::ThreeByFour => "3:4",
        }
    }
}

/// Which of Shopee's two media modules the provider speaks.
///
/// Both upload videos in 0-based parts and poll a result; they differ in paths, fields, limits
/// and answers (`docs/platforms/shopee.md`, "The two media modules").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShopeeModule {
    /// `v2.media_space.*` (`/api/v2/media_space/…`): product videos of 10–60 s up to 30 MiB,
    /// parts of exactly 4 MiB, product images. The default.
    #[default]
    MediaSpace,
    /// `v2.media.*` (`/api/v2/media/…`): uploads for a declared business and scene (Shopee
    /// Video up to 1 GiB and 1–180 s; return proof images), parts of the size the init answer
    /// gives (`part_size`).
    Media,
}

impl ShopeeModule {
    /// The name used in configuration: `media_space` or `media`.
    pub fn as_str(self) -> &'static str {
        match self {
            ShopeeModule::MediaSpace => "media_space",
            ShopeeModule::Media => "media",
        }
    }

    /// The largest video the module takes by default: 30 MiB for `media_space`, 1 GiB for
    /// `media` (business 3 / scene 1, "Maximum 1GB", read in binary units as "4MB" and "30MB"
    /// are).
    pub fn default_max_file_bytes(self) -> u64 {
        match self {
            ShopeeModule::MediaSpace => DEFAULT_MAX_FILE_BYTES,
            ShopeeModule::Media => DEFAULT_MEDIA_MAX_FILE_BYTES,
        }
    }
}

impl fmt::Display for ShopeeModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ShopeeModule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "media_space" | "v2.media_space" | "mediaspace" => Ok(ShopeeModule::MediaSpace),
            "media" | "v2.media" => Ok(ShopeeModule::Media),
            other => Err(format!(
                "unknown Shopee module {other:?} (media_space, media)"
            )),
        }
    }
}

/// What a `v2.media` video upload is for: its `business` and `scene` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaVideoUse {
    /// `business = 3` (Video), `scene = 1` (Shopee Video): the only pair Shopee documents;
    /// at most 1 GB and 1–180 s.
    #[default]
    ShopeeVideo,
    /// A pair Shopee has not documented yet, sent as is; the documented pair's limits apply.
    Other {
        /// The `business` code.
        business: u32,
        /// The `scene` code.
        scene: u32,
    },
}

impl MediaVideoUse {
    /// `(business, scene)` as sent.
    pub fn codes(self) -> (u32, u32) {
        match self {
            MediaVideoUse::ShopeeVideo => (3, 1),
            MediaVideoUse::Other { business, scene } => (business, scene),
        }
    }
}

/// What a `v2.media` image upload is for: its `business` and `scene` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaImageUse {
    /// `business = 2` (Returns), `scene = 1` (Return Seller Self Arrange Pickup Proof Image):
    /// the only pair Shopee documents; up to 3 JPG/PNG images of at most 10 MB.
    #[default]
    ReturnPickupProof,
    /// A pair Shopee has not documented yet, sent as is; the documented pair's limits apply.
    Other {
        /// The `business` code.
        business: u32,
        /// The `scene` code.
        scene: u32,
    },
}

impl MediaImageUse {
    /// `(business, scene)` as sent.
    pub fn codes(self) -> (u32, u32) {
        match self {
            MediaImageUse::ReturnPickupProof => (2, 1),
            MediaImageUse::Other { business, scene } => (business, scene),
        }
    }
}

/// 4 MiB: Shopee's "4MB" part size, as every SDK reads it.
pub const DEFAULT_PART_SIZE: u64 = 4 * 1024 * 1024;
/// 30 MiB: Shopee's "30MB" file limit, read in the same binary units as the part size.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 30 * 1024 * 1024;
/// 1 GiB: `v2.media`'s "Maximum 1GB" for Shopee Video, in the binary units the rest of
/// Shopee's limits are read in.
pub const DEFAULT_MEDIA_MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;
/// 10 MiB: the largest image.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// Everything the Shopee provider needs. Secrets never appear in `Debug`.
#[derive(Clone)]
pub struct ShopeeConfig {
    /// Partner (app) id.
    pub partner_id: u64,
    /// Partner key, the HMAC key.
    pub partner_key: Secret,
    /// The shop's access token (4-hour lifetime), used as is unless a token source is set
    /// ([`ShopeeConfig::with_token_source`]).
    pub access_token: Secret,
    /// Where each request's access token comes from, refreshed as needed (see
    /// [`crate::auth`]); `None`: the fixed `access_token`.
    pub token_source: Option<TokenSource>,
    /// The shop id.
    pub shop_id: u64,
    /// Region, deciding the host.
    pub region: ShopeeRegion,
    /// A host overriding the region's (e.g. a simulator), without a trailing slash.
    pub base_url: Option<String>,
    /// Which media module the calls go to (default `media_space`). Set it with
    /// [`ShopeeConfig::with_module`], which also sets the module's file limit.
    pub module: ShopeeModule,
    /// `v2.media` only: the video's business and scene (default Shopee Video).
    pub media_video_use: MediaVideoUse,
    /// `v2.media` only: the images' business and scene (default return pickup proof).
    pub media_image_use: MediaImageUse,
    /// Part size (default 4 MiB). Under `v2.media` the plan starts with it, and the
    /// `part_size` of the init answer replaces it.
    pub part_size: u64,
    /// Largest file (default 30 MiB; 1 GiB under `v2.media`).
    pub max_file_bytes: u64,
    /// Signing of public-type calls.
    pub public_call_signing: PublicCallSigning,
    /// Scene of uploaded images.
    pub image_scene: ImageScene,
    /// Ratio of uploaded images.
    pub image_ratio: ImageRatio,
    /// Timeouts for each attempt.
    pub timeouts: HttpTimeouts,
}

impl ShopeeConfig {
    /// A configuration with the defaults for everything but the credentials.
    pub fn new(
        partner_id: u64,
        partner_key: impl Into<Secret>,
        shop_id: u64,
        access_token: impl Into<Secret>,
    ) -> Self {
        ShopeeConfig {
            partner_id,
            partner_key: partner_key.into(),
            access_token: access_token.into(),
            token_source: None,
            shop_id,
            region: ShopeeRegion::default(),
            base_url: None,
            module: ShopeeModule::default(),
            media_video_use: MediaVideoUse::default(),
            media_image_use: MediaImageUse::default(),
            part_size: DEFAULT_PART_SIZE,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            public_call_signing: PublicCallSigning::default(),
            image_scene: ImageScene::default(),
            image_ratio: ImageRatio::default(),
            timeouts: HttpTimeouts::default(),
        }
    }

    /// Points the provider at another host (a simulator, a proxy).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Selects the media module, and its default file limit.
    pub fn with_module(mut self, module: ShopeeModule) -> Self {
        self.module = module;
        self.max_file_bytes = module.default_max_file_bytes();
        self
    }

    /// Takes each request's access token from `tokens` (a credential refreshed by
    /// [`crate::auth::ShopeeRefresher`], shared with the shop's other uploaders) instead of
    /// the fixed `access_token`.
    pub fn with_token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// Sets the region.
    pub fn with_region(mut self, region: ShopeeRegion) -> Self {
        self.region = region;
        self
    }

    /// The host requests go to.
    pub fn effective_base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or_else(|| self.region.base_url())
    }
}

impl fmt::Debug for ShopeeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopeeConfig")
            .field("partner_id", &self.partner_id)
            .field("partner_key", &self.partner_key)
            .field("access_token", &self.access_token)
            .field("token_source", &self.token_source)
            .field("shop_id", &self.shop_id)
            .field("region", &self.region)
            .field("base_url", &self.effective_base_url())
            .field("module", &self.module)
            .field("media_video_use", &self.media_video_use)
            .field("media_image_use", &self.media_image_use)
            .field("part_size", &self.part_size)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("public_call_signing", &self.public_call_signing)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let c = ShopeeConfig::new(1, "partner-secret-xyz", 2, "token-secret-abc");
        let d = format!("{c:?}");
        assert!(!d.contains("partner-secret-xyz") && !d.contains("token-secret-abc"));
        assert!(d.contains("***"));
    }

    #[test]
    fn regions_and_override() {
        let c = ShopeeConfig::new(1, "k", 2, "t").with_region("br".parse().unwrap());
        assert_eq!(c.effective_base_url(), "https://openplatform.shopee.com.br");
        let c = c.with_base_url("http://127.0.0.1:1/");
        assert_eq!(c.effective_base_url(), "http://127.0.0.1:1");
        assert!("mars".parse::<ShopeeRegion>().is_err());
    }

    #[test]
    fn module_names_and_limits() {
        assert_eq!("media".parse(), Ok(ShopeeModule::Media));
        assert_eq!("v2.media_space".parse(), Ok(ShopeeModule::MediaSpace));
        assert_eq!(" Media-Space ".parse(), Ok(ShopeeModule::MediaSpace));
        assert!("media_spaces".parse::<ShopeeModule>().is_err());
        let c = ShopeeConfig::new(1, "k", 2, "t");
        assert_eq!(c.module, ShopeeModule::MediaSpace);
        assert_eq!(c.max_file_bytes, 30 * 1024 * 1024);
        let c = c.with_module(ShopeeModule::Media);
        assert_eq!(c.max_file_bytes, 1 << 30);
        assert_eq!(c.media_video_use.codes(), (3, 1));
        assert_eq!(c.media_image_use.codes(), (2, 1));
    }
}
