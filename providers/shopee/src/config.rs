//! Shopee credentials, region and settings.

use std::fmt;

use marketmedia_core::raw::http::{ClientOptions, HttpTimeouts};
use marketmedia_core::raw::{Error, RedactedUrl, Secret, TokenSource};

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

/// Everything the Shopee provider needs. Secrets and the host's URL never appear in `Debug`.
///
/// Built with [`ShopeeConfig::builder`], which names each id (two `u64`s, the partner and
/// the shop, are easy to swap in a positional call) and checks the whole before anything is
/// sent:
///
/// ```
/// use marketmedia_shopee::{ShopeeConfig, ShopeeModule};
/// let config = ShopeeConfig::builder()
///     .partner_id(2001887)
///     .partner_key("partner-key")
///     .shop_id(12345)
///     .access_token("access-token")
///     .module(ShopeeModule::MediaSpace)
///     .build()?;
/// assert_eq!(config.shop_id, 12345);
/// # Ok::<(), marketmedia_core::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ShopeeConfig {
    /// Partner (app) id.
    pub partner_id: u64,
    /// Partner key, the HMAC key.
    pub partner_key: Secret,
    /// The shop's access token (4-hour lifetime), used as is unless a token source is set;
    /// empty when one is.
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
    /// Which media module the calls go to (default `media_space`).
    pub module: ShopeeModule,
    /// `v2.media` only: the video's business and scene (default Shopee Video).
    pub media_video_use: MediaVideoUse,
    /// `v2.media` only: the images' business and scene (default return pickup proof).
    pub media_image_use: MediaImageUse,
    /// Part size (default 4 MiB). Under `v2.media` the plan starts with it, and the
    /// `part_size` of the init answer replaces it.
    pub part_size: u64,
    /// Largest file (default: the module's, 30 MiB or 1 GiB under `v2.media`).
    pub max_file_bytes: u64,
    /// Signing of public-type calls.
    pub public_call_signing: PublicCallSigning,
    /// Scene of uploaded images.
    pub image_scene: ImageScene,
    /// Ratio of uploaded images.
    pub image_ratio: ImageRatio,
    /// How its client talks HTTP: timeouts, deadlines, answer cap, requests in flight
    /// and request rate ([`ClientOptions`], today's values by default). Two clients keep
    /// their own.
    pub options: ClientOptions,
}

impl ShopeeConfig {
    /// A builder with every default; `partner_id`, `partner_key`, `shop_id` and
    /// `access_token` are required.
    pub fn builder() -> ShopeeConfigBuilder {
        ShopeeConfigBuilder::default()
    }

    /// The host requests go to.
    pub fn effective_base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or_else(|| self.region.base_url())
    }

    /// Checks the configuration (no network): credentials present, an http(s) host, sizes
    /// positive.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: String| Err(Error::invalid_input(m).with_platform(crate::PLATFORM));
        if self.partner_key.is_empty() {
            return fail("the Shopee partner_key is empty".into());
        }
        if self.access_token.is_empty() && self.token_source.is_none() {
            return fail("the Shopee access_token is empty".into());
        }
        let base = self.effective_base_url();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return fail(format!(
                "the Shopee base_url must start with http:// or https:// (got {})",
                RedactedUrl::new(base)
            ));
        }
        if self.part_size == 0 || self.max_file_bytes == 0 {
            return fail("the Shopee part_size and max_file_bytes must be positive".into());
        }
        Ok(())
    }
}

/// Builds a [`ShopeeConfig`]: one method per setting, named after it, and
/// [`build`](ShopeeConfigBuilder::build) checking the whole.
#[derive(Clone, Default)]
pub struct ShopeeConfigBuilder {
    partner_id: Option<u64>,
    partner_key: Option<Secret>,
    shop_id: Option<u64>,
    access_token: Option<Secret>,
    token_source: Option<TokenSource>,
    region: ShopeeRegion,
    base_url: Option<String>,
    module: ShopeeModule,
    media_video_use: MediaVideoUse,
    media_image_use: MediaImageUse,
    part_size: Option<u64>,
    max_file_bytes: Option<u64>,
    public_call_signing: PublicCallSigning,
    image_scene: ImageScene,
    image_ratio: ImageRatio,
    options: ClientOptions,
}

impl ShopeeConfigBuilder {
    /// The partner (app) id. Required.
    pub fn partner_id(mut self, partner_id: u64) -> Self {
        self.partner_id = Some(partner_id);
        self
    }

    /// The partner key, the HMAC key. Required.
    pub fn partner_key(mut self, partner_key: impl Into<Secret>) -> Self {
        self.partner_key = Some(partner_key.into());
        self
    }

    /// The shop id. Required.
    pub fn shop_id(mut self, shop_id: u64) -> Self {
        self.shop_id = Some(shop_id);
        self
    }

    /// The shop's access token. Required, unless a [`token_source`](Self::token_source) is
    /// given.
    pub fn access_token(mut self, access_token: impl Into<Secret>) -> Self {
        self.access_token = Some(access_token.into());
        self
    }

    /// Takes each request's access token from `tokens` (a credential refreshed by [`crate::auth::ShopeeRefresher`], shared with
    /// the shop's other uploaders) instead of a fixed
    /// `access_token`, which is then not needed.
    pub fn token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// The region, deciding the host (default production).
    pub fn region(mut self, region: ShopeeRegion) -> Self {
        self.region = region;
        self
    }

    /// Another host than the region's (a simulator, a proxy); a trailing slash is dropped.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The media module (default `media_space`); the file limit follows it unless
    /// [`max_file_bytes`](Self::max_file_bytes) is set.
    pub fn module(mut self, module: ShopeeModule) -> Self {
        self.module = module;
        self
    }

    /// `v2.media` only: the video's business and scene.
    pub fn media_video_use(mut self, usage: MediaVideoUse) -> Self {
        self.media_video_use = usage;
        self
    }

    /// `v2.media` only: the images' business and scene.
    pub fn media_image_use(mut self, usage: MediaImageUse) -> Self {
        self.media_image_use = usage;
        self
    }

    /// The part size (default [`DEFAULT_PART_SIZE`]).
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = Some(bytes);
        self
    }

    /// The largest file (default: the module's).
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = Some(bytes);
        self
    }

    /// How public-type calls are signed.
    pub fn public_call_signing(mut self, signing: PublicCallSigning) -> Self {
        self.public_call_signing = signing;
        self
    }

    /// The scene of uploaded images.
    pub fn image_scene(mut self, scene: ImageScene) -> Self {
        self.image_scene = scene;
        self
    }

    /// The ratio of uploaded images.
    pub fn image_ratio(mut self, ratio: ImageRatio) -> Self {
        self.image_ratio = ratio;
        self
    }

    /// Timeouts for each attempt (the same as setting `options.timeouts`).
    pub fn timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.options.timeouts = timeouts;
        self
    }

    /// How the client talks HTTP ([`ClientOptions`]: timeouts, deadlines, answer cap,
    /// requests in flight, request rate; default today's values).
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The configuration, or [`ErrorKind::InvalidInput`](marketmedia_core::ErrorKind) naming
    /// the missing or wrong setting.
    pub fn build(self) -> Result<ShopeeConfig, Error> {
        let missing = |name| Error::missing_setting(crate::PLATFORM, name);
        let config = ShopeeConfig {
            partner_id: self.partner_id.ok_or_else(|| missing("partner_id"))?,
            partner_key: self.partner_key.ok_or_else(|| missing("partner_key"))?,
            shop_id: self.shop_id.ok_or_else(|| missing("shop_id"))?,
            access_token: match (self.access_token, &self.token_source) {
                (Some(token), _) => token,
                (None, Some(_)) => Secret::default(),
                (None, None) => return Err(missing("access_token")),
            },
            token_source: self.token_source,
            region: self.region,
            base_url: self.base_url,
            module: self.module,
            media_video_use: self.media_video_use,
            media_image_use: self.media_image_use,
            part_size: self.part_size.unwrap_or(DEFAULT_PART_SIZE),
            max_file_bytes: self
                .max_file_bytes
                .unwrap_or_else(|| self.module.default_max_file_bytes()),
            public_call_signing: self.public_call_signing,
            image_scene: self.image_scene,
            image_ratio: self.image_ratio,
            options: self.options,
        };
        config.validate()?;
        Ok(config)
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
            .field("base_url", &RedactedUrl::new(self.effective_base_url()))
            .field("module", &self.module)
            .field("media_video_use", &self.media_video_use)
            .field("media_image_use", &self.media_image_use)
            .field("part_size", &self.part_size)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("public_call_signing", &self.public_call_signing)
            .field("image_scene", &self.image_scene)
            .field("image_ratio", &self.image_ratio)
            .field("options", &self.options)
            .finish()
    }
}

impl fmt::Debug for ShopeeConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopeeConfigBuilder")
            .field("partner_id", &self.partner_id)
            .field("partner_key", &self.partner_key)
            .field("access_token", &self.access_token)
            .field("shop_id", &self.shop_id)
            .field("region", &self.region)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .field("module", &self.module)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketmedia_core::ErrorKind;

    fn builder() -> ShopeeConfigBuilder {
        ShopeeConfig::builder()
            .partner_id(1)
            .partner_key("k")
            .shop_id(2)
            .access_token("t")
    }

    #[test]
    fn debug_hides_secrets_and_token_bearing_urls() {
        let b = ShopeeConfig::builder()
            .partner_id(1)
            .partner_key("partner-secret-xyz")
            .shop_id(2)
            .access_token("token-secret-abc")
            .base_url("http://user:pw-abc@127.0.0.1:9/?access_token=token-in-url");
        let c = b.clone().build().unwrap();
        for d in [format!("{c:?}"), format!("{b:?}")] {
            for secret in [
                "partner-secret-xyz",
                "token-secret-abc",
                "pw-abc",
                "token-in-url",
            ] {
                assert!(!d.contains(secret), "{secret} in {d}");
            }
            assert!(d.contains("***") && d.contains("127.0.0.1:9"), "{d}");
        }
    }

    #[test]
    fn build_names_the_missing_setting() {
        let cases: [(ShopeeConfigBuilder, &str); 4] = [
            (
                ShopeeConfig::builder()
                    .partner_key("k")
                    .shop_id(2)
                    .access_token("t"),
                "partner_id",
            ),
            (
                ShopeeConfig::builder()
                    .partner_id(1)
                    .shop_id(2)
                    .access_token("t"),
                "partner_key",
            ),
            (
                ShopeeConfig::builder()
                    .partner_id(1)
                    .partner_key("k")
                    .access_token("t"),
                "shop_id",
            ),
            (
                ShopeeConfig::builder()
                    .partner_id(1)
                    .partner_key("k")
                    .shop_id(2),
                "access_token",
            ),
        ];
        for (b, name) in cases {
            let err = b.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = builder().access_token("").build().unwrap_err();
        assert!(err.to_string().contains("access_token"), "{err}");
        let err = builder().base_url("ftp://x").build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        // The two ids land where their names say.
        let c = builder().partner_id(7).shop_id(8).build().unwrap();
        assert_eq!((c.partner_id, c.shop_id), (7, 8));
    }

    #[test]
    fn regions_and_override() {
        let c = builder().region("br".parse().unwrap()).build().unwrap();
        assert_eq!(c.effective_base_url(), "https://openplatform.shopee.com.br");
        let c = builder().base_url("http://127.0.0.1:1/").build().unwrap();
        assert_eq!(c.effective_base_url(), "http://127.0.0.1:1");
        assert!("mars".parse::<ShopeeRegion>().is_err());
    }

    #[test]
    fn module_names_and_limits() {
        assert_eq!("media".parse(), Ok(ShopeeModule::Media));
        assert_eq!("v2.media_space".parse(), Ok(ShopeeModule::MediaSpace));
        assert_eq!(" Media-Space ".parse(), Ok(ShopeeModule::MediaSpace));
        assert!("media_spaces".parse::<ShopeeModule>().is_err());
        let c = builder().build().unwrap();
        assert_eq!(c.module, ShopeeModule::MediaSpace);
        assert_eq!(c.max_file_bytes, 30 * 1024 * 1024);
        let c = builder().module(ShopeeModule::Media).build().unwrap();
        assert_eq!(c.max_file_bytes, 1 << 30);
        assert_eq!(c.media_video_use.codes(), (3, 1));
        assert_eq!(c.media_image_use.codes(), (2, 1));
        // A limit set explicitly wins over the module's, in either order.
        let c = builder()
            .max_file_bytes(5)
            .module(ShopeeModule::Media)
            .build()
            .unwrap();
        assert_eq!(c.max_file_bytes, 5);
    }
}
