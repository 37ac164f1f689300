//! Shopee credentials, region and settings.

use std::fmt;

use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::raw::Secret;

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

/// 4 MiB: Shopee's "4MB" part size, as every SDK reads it.
pub const DEFAULT_PART_SIZE: u64 = 4 * 1024 * 1024;
/// 30 MiB: Shopee's "30MB" file limit, read in the same binary units as the part size.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 30 * 1024 * 1024;
/// 10 MiB: the largest image.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// Everything the Shopee provider needs. Secrets never appear in `Debug`.
#[derive(Clone)]
pub struct ShopeeConfig {
    /// Partner (app) id.
    pub partner_id: u64,
    /// Partner key, the HMAC key.
    pub partner_key: Secret,
    /// The shop's access token (4-hour lifetime; refresh it outside this library).
    pub access_token: Secret,
    /// The shop id.
    pub shop_id: u64,
    /// Region, deciding the host.
    pub region: ShopeeRegion,
    /// A host overriding the region's (e.g. a simulator), without a trailing slash.
    pub base_url: Option<String>,
    /// Part size (default 4 MiB).
    pub part_size: u64,
    /// Largest file (default 30 MiB).
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
            shop_id,
            region: ShopeeRegion::default(),
            base_url: None,
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
            .field("shop_id", &self.shop_id)
            .field("region", &self.region)
            .field("base_url", &self.effective_base_url())
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
}
