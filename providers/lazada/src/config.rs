//! Configuration: credentials, region → gateway, block size and limits.

use std::fmt;
use std::str::FromStr;

use marketmedia_core::raw::http::{ClientOptions, HttpTimeouts};
use marketmedia_core::raw::{Error, RedactedUrl, Secret, TokenSource};

/// One mebibyte (the project reads a platform's "MB" as MiB, as platforms.md does for Shopee).
pub const MIB: u64 = 1 << 20;

/// Default block size: 3 MiB, as the documented example (8 MB cut into 3 + 3 + 2) and
/// third-party clients do.
pub const DEFAULT_BLOCK_SIZE: u64 = 3 * MIB;

/// Smallest block size the provider lets you configure (every block but the last).
pub const MIN_BLOCK_SIZE: u64 = 64 * 1024;

/// Default largest block the provider allows (a driver `part_size` above it is refused before
/// any request). Lazada publishes no limit; third-party clients stay at 2–3 MiB, so 5 MiB is a
/// conservative ceiling.
pub const DEFAULT_MAX_BLOCK_SIZE: u64 = 5 * MIB;

/// Largest video Media Center accepts, inclusive: 99,999,999 bytes. Lazada's API reference
/// (InitCreateVideo, `fileBytes`) says "should be less than 100M"; we read it as **less than
/// 100 MB = 100,000,000 bytes**, the smaller of the two readings (no Lazada source says MiB), so
/// the client never sends a file the platform may refuse (`docs/platforms/lazada.md`).
pub const DEFAULT_MAX_VIDEO_BYTES: u64 = 100_000_000 - 1;

/// Largest image `/image/upload` accepts: "3 MB", read as 3 MiB (3,145,728 bytes), inclusive.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 3 * MIB;

/// Largest image side `/image/upload` accepts, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 5000;

/// A Lazada venture, each with its own API gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// Singapore.
    Sg,
    /// Malaysia.
    My,
    /// Thailand.
    Th,
    /// Vietnam.
    Vn,
    /// Philippines.
    Ph,
    /// Indonesia.
    Id,
}

impl Region {
    /// Every region.
    pub const ALL: [Region; 6] = [
        Region::Sg,
        Region::My,
        Region::Th,
        Region::Vn,
        Region::Ph,
        Region::Id,
    ];

    /// The gateway base URL, `/rest` included (it belongs to the base URL, not to the signed
    /// API path).
    pub fn base_url(self) -> &'static str {
        match self {
            Region::Sg => "https://api.lazada.sg/rest",
            Region::My => "https://api.lazada.com.my/rest",
            Region::Th => "https://api.lazada.co.th/rest",
            Region::Vn => "https://api.lazada.vn/rest",
            Region::Ph => "https://api.lazada.com.ph/rest",
            Region::Id => "https://api.lazada.co.id/rest",
        }
    }

    /// The two-letter code (`sg`, `my`, …).
    pub fn code(self) -> &'static str {
        match self {
            Region::Sg => "sg",
            Region::My => "my",
            Region::Th => "th",
            Region::Vn => "vn",
            Region::Ph => "ph",
            Region::Id => "id",
        }
    }
}

impl FromStr for Region {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_lowercase();
        Region::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "unknown Lazada region {s:?}; expected one of sg, my, th, vn, ph, id"
                ))
                .with_platform(crate::PLATFORM)
            })
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Everything the provider needs to talk to Lazada. Secrets are [`Secret`]s; `Debug` shows
/// neither them nor a URL's credentials.
///
/// Built with [`LazadaConfig::builder`], which names each setting and checks the whole:
///
/// ```
/// use marketmedia_lazada::{LazadaConfig, Region};
/// let config = LazadaConfig::builder()
///     .app_key("100132")
///     .app_secret("app-secret")
///     .access_token("access-token")
///     .region(Region::Sg)
///     .build()?;
/// assert_eq!(config.effective_base_url(), "https://api.lazada.sg/rest");
/// # Ok::<(), marketmedia_core::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct LazadaConfig {
    /// The app key (public identifier of the app).
    pub app_key: String,
    /// The app secret: the HMAC key.
    pub app_secret: Secret,
    /// The seller's access token.
    pub access_token: Secret,
    /// Where each request's access token comes from, refreshed as needed (see
    /// [`crate::auth`]); `None`: the fixed `access_token`. One source serves every gateway of
    /// the seller.
    pub token_source: Option<TokenSource>,
    /// The venture whose gateway to use.
    pub region: Region,
    /// Overrides the region's gateway (a simulator, a proxy); include the `/rest` prefix if
    /// the server expects one.
    pub base_url: Option<String>,
    /// Block size for video uploads (every block but the last). Default 3 MiB.
    pub block_size: u64,
    /// Largest block allowed (the upper bound of the part size rule). Default 5 MiB.
    pub max_block_size: u64,
    /// Largest video accepted before any request. Default 99,999,999 bytes.
    pub max_video_bytes: u64,
    /// Largest image accepted before any request. Default 3 MiB.
    pub max_image_bytes: u64,
    /// Whether blocks may be sent concurrently (each block names its own `blockNo`, so the
    /// order of arrival does not matter). Default true.
    pub concurrent_blocks: bool,
    /// Whether the pre-flight asks `/media/video/quota/get` that the video fits the remaining
    /// quota. Default true.
    pub check_quota: bool,
    /// How its client talks HTTP: timeouts, deadlines, answer cap, requests in flight
    /// and request rate ([`ClientOptions`], today's values by default). Two clients keep
    /// their own.
    pub options: ClientOptions,
}

impl LazadaConfig {
    /// A builder with every default; `app_key`, `app_secret`, `access_token` and `region`
    /// are required.
    pub fn builder() -> LazadaConfigBuilder {
        LazadaConfigBuilder::default()
    }

    /// The base URL in use, without a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(self.region.base_url())
            .trim_end_matches('/')
    }

    /// Checks the configuration (no network).
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: String| Err(Error::invalid_input(m).with_platform(crate::PLATFORM));
        if self.app_key.trim().is_empty() {
            return fail("the Lazada app_key is empty".into());
        }
        if self.app_secret.is_empty() {
            return fail("the Lazada app_secret is empty".into());
        }
        if self.access_token.is_empty() && self.token_source.is_none() {
            return fail("the Lazada access_token is empty".into());
        }
        let base = self.effective_base_url();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return fail(format!(
                "the Lazada base_url must start with http:// or https:// (got {})",
                RedactedUrl::new(base)
            ));
        }
        if self.max_block_size < MIN_BLOCK_SIZE {
            return fail(format!(
                "the largest block size must be at least {MIN_BLOCK_SIZE} bytes"
            ));
        }
        if self.block_size < MIN_BLOCK_SIZE || self.block_size > self.max_block_size {
            return fail(format!(
                "the block size must be {MIN_BLOCK_SIZE} to {} bytes, not {}",
                self.max_block_size, self.block_size
            ));
        }
        if self.max_video_bytes == 0 || self.max_image_bytes == 0 {
            return fail("size limits must be positive".into());
        }
        Ok(())
    }
}

/// Builds a [`LazadaConfig`]: one method per setting, named after it, and
/// [`build`](LazadaConfigBuilder::build) checking the whole.
#[derive(Clone)]
pub struct LazadaConfigBuilder {
    app_key: Option<String>,
    app_secret: Option<Secret>,
    access_token: Option<Secret>,
    token_source: Option<TokenSource>,
    region: Option<Region>,
    base_url: Option<String>,
    block_size: u64,
    max_block_size: u64,
    max_video_bytes: u64,
    max_image_bytes: u64,
    concurrent_blocks: bool,
    check_quota: bool,
    options: ClientOptions,
}

impl Default for LazadaConfigBuilder {
    fn default() -> Self {
        LazadaConfigBuilder {
            app_key: None,
            app_secret: None,
            access_token: None,
            token_source: None,
            region: None,
            base_url: None,
            block_size: DEFAULT_BLOCK_SIZE,
            max_block_size: DEFAULT_MAX_BLOCK_SIZE,
            max_video_bytes: DEFAULT_MAX_VIDEO_BYTES,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            concurrent_blocks: true,
            check_quota: true,
            options: ClientOptions::default(),
        }
    }
}

impl LazadaConfigBuilder {
    /// The app key. Required.
    pub fn app_key(mut self, app_key: impl Into<String>) -> Self {
        self.app_key = Some(app_key.into());
        self
    }

    /// The app secret, the HMAC key. Required.
    pub fn app_secret(mut self, app_secret: impl Into<Secret>) -> Self {
        self.app_secret = Some(app_secret.into());
        self
    }

    /// The seller's access token. Required.
    pub fn access_token(mut self, access_token: impl Into<Secret>) -> Self {
        self.access_token = Some(access_token.into());
        self
    }

    /// Takes each request's access token from `tokens` (the seller's credential, refreshed by [`crate::auth::LazadaRefresher`]
    /// and shared by the seller's gateways) instead of a fixed
    /// `access_token`, which is then not needed.
    pub fn token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// The venture whose gateway to use. Required: a seller's token is valid in its own
    /// venture only, so there is no default.
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Another gateway than the region's (a simulator, a proxy), `/rest` included if the
    /// server expects it.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// The block size (within `MIN_BLOCK_SIZE..=max_block_size`; default 3 MiB).
    pub fn block_size(mut self, bytes: u64) -> Self {
        self.block_size = bytes;
        self
    }

    /// The largest block size (default 5 MiB).
    pub fn max_block_size(mut self, bytes: u64) -> Self {
        self.max_block_size = bytes;
        self
    }

    /// The largest video (default [`DEFAULT_MAX_VIDEO_BYTES`]).
    pub fn max_video_bytes(mut self, bytes: u64) -> Self {
        self.max_video_bytes = bytes;
        self
    }

    /// The largest image (default [`DEFAULT_MAX_IMAGE_BYTES`]).
    pub fn max_image_bytes(mut self, bytes: u64) -> Self {
        self.max_image_bytes = bytes;
        self
    }

    /// Whether blocks may be sent concurrently (default true).
    pub fn concurrent_blocks(mut self, concurrent: bool) -> Self {
        self.concurrent_blocks = concurrent;
        self
    }

    /// Whether the pre-flight checks the video quota (default true).
    pub fn check_quota(mut self, check: bool) -> Self {
        self.check_quota = check;
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
    pub fn build(self) -> Result<LazadaConfig, Error> {
        let missing = |name| Error::missing_setting(crate::PLATFORM, name);
        let config = LazadaConfig {
            app_key: self.app_key.ok_or_else(|| missing("app_key"))?,
            app_secret: self.app_secret.ok_or_else(|| missing("app_secret"))?,
            access_token: match (self.access_token, &self.token_source) {
                (Some(token), _) => token,
                (None, Some(_)) => Secret::default(),
                (None, None) => return Err(missing("access_token")),
            },
            token_source: self.token_source,
            region: self.region.ok_or_else(|| missing("region"))?,
            base_url: self.base_url,
            block_size: self.block_size,
            max_block_size: self.max_block_size,
            max_video_bytes: self.max_video_bytes,
            max_image_bytes: self.max_image_bytes,
            concurrent_blocks: self.concurrent_blocks,
            check_quota: self.check_quota,
            options: self.options,
        };
        config.validate()?;
        Ok(config)
    }
}

impl fmt::Debug for LazadaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazadaConfig")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("access_token", &self.access_token)
            .field("token_source", &self.token_source)
            .field("region", &self.region)
            .field("base_url", &RedactedUrl::new(self.effective_base_url()))
            .field("block_size", &self.block_size)
            .field("max_block_size", &self.max_block_size)
            .field("max_video_bytes", &self.max_video_bytes)
            .field("max_image_bytes", &self.max_image_bytes)
            .field("concurrent_blocks", &self.concurrent_blocks)
            .field("check_quota", &self.check_quota)
            .field("options", &self.options)
            .finish()
    }
}

impl fmt::Debug for LazadaConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazadaConfigBuilder")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("access_token", &self.access_token)
            .field("region", &self.region)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_gateways_with_rest() {
        for r in Region::ALL {
            assert!(r.base_url().ends_with("/rest"), "{r}");
            assert_eq!(r.code().parse::<Region>().unwrap(), r);
        }
        assert_eq!(Region::My.base_url(), "https://api.lazada.com.my/rest");
        assert_eq!("SG".parse::<Region>().unwrap(), Region::Sg);
        assert!("us".parse::<Region>().is_err());
    }

    fn builder() -> LazadaConfigBuilder {
        LazadaConfig::builder()
            .app_key("k")
            .app_secret("s")
            .access_token("t")
            .region(Region::Th)
    }

    #[test]
    fn debug_never_shows_secrets_or_token_bearing_urls() {
        let b = LazadaConfig::builder()
            .app_key("100132")
            .app_secret("s3cr3t-app")
            .access_token("t0k3n-value")
            .region(Region::Sg)
            .base_url("http://user:pw-xyz@127.0.0.1:9/rest/?access_token=t0k3n-in-url");
        let c = b.clone().build().unwrap();
        for text in [format!("{c:?}"), format!("{b:?}")] {
            for secret in ["s3cr3t-app", "t0k3n-value", "pw-xyz", "t0k3n-in-url"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(
                text.contains("100132") && text.contains("127.0.0.1:9"),
                "{text}"
            );
        }
    }

    #[test]
    fn build_names_the_missing_setting() {
        let full = builder();
        let cases = [
            (
                LazadaConfig::builder()
                    .app_secret("s")
                    .access_token("t")
                    .region(Region::Sg),
                "app_key",
            ),
            (
                LazadaConfig::builder()
                    .app_key("k")
                    .access_token("t")
                    .region(Region::Sg),
                "app_secret",
            ),
            (
                LazadaConfig::builder()
                    .app_key("k")
                    .app_secret("s")
                    .region(Region::Sg),
                "access_token",
            ),
            (
                LazadaConfig::builder()
                    .app_key("k")
                    .app_secret("s")
                    .access_token("t"),
                "region",
            ),
            (full.clone().app_secret(""), "app_secret"),
        ];
        for (b, name) in cases {
            let err = b.build().unwrap_err();
            assert_eq!(err.kind(), marketmedia_core::ErrorKind::InvalidInput);
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn base_url_override_and_validation() {
        let c = builder().build().unwrap();
        assert_eq!(c.effective_base_url(), "https://api.lazada.co.th/rest");
        let b = builder().base_url("http://127.0.0.1:8080/rest/");
        assert_eq!(
            b.clone().build().unwrap().effective_base_url(),
            "http://127.0.0.1:8080/rest"
        );
        assert!(b.clone().block_size(1).build().is_err());
        assert!(b.clone().block_size(6 * MIB).build().is_err());
        assert!(builder().base_url("ftp://x").build().is_err());
    }
}
