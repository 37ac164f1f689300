//! Configuration: credentials, region → gateway, block size and limits.

use std::fmt;
use std::str::FromStr;

use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::raw::{Error, Secret, TokenSource};

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

/// Everything the provider needs to talk to Lazada. Secrets are [`Secret`]s; `Debug` never
/// shows them.
#[derive(Clone)]
pub struct LazadaConfig {
    /// The app key (public identifier of the app).
    pub app_key: String,
    /// The app secret: the HMAC key.
    pub app_secret: Secret,
    /// The seller's access token, used as is unless a token source is set
    /// ([`LazadaConfig::with_token_source`]).
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
    /// Largest video accepted before any request. Default 100 MiB.
    pub max_video_bytes: u64,
    /// Largest image accepted before any request. Default 3 MiB.
    pub max_image_bytes: u64,
    /// Whether blocks may be sent concurrently (each block names its own `blockNo`, so the
    /// order of arrival does not matter). Default true.
    pub concurrent_blocks: bool,
    /// Whether the pre-flight asks `/media/video/quota/get` that the video fits the remaining
    /// quota. Default true.
    pub check_quota: bool,
    /// Timeouts of each attempt.
    pub timeouts: HttpTimeouts,
}

impl LazadaConfig {
    /// A configuration with the defaults.
    pub fn new(
        app_key: impl Into<String>,
        app_secret: impl Into<Secret>,
        access_token: impl Into<Secret>,
        region: Region,
    ) -> Self {
        LazadaConfig {
            app_key: app_key.into(),
            app_secret: app_secret.into(),
            access_token: access_token.into(),
            token_source: None,
            region,
            base_url: None,
            block_size: DEFAULT_BLOCK_SIZE,
            max_block_size: DEFAULT_MAX_BLOCK_SIZE,
            max_video_bytes: DEFAULT_MAX_VIDEO_BYTES,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            concurrent_blocks: true,
            check_quota: true,
            timeouts: HttpTimeouts::default(),
        }
    }

    /// Uses another gateway (a simulator, a proxy).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Takes each request's access token from `tokens` (the seller's credential, refreshed
    /// by [`crate::auth::LazadaRefresher`] and shared by the seller's gateways) instead of the
    /// fixed `access_token`.
    pub fn with_token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// Uses another block size (within `MIN_BLOCK_SIZE..=max_block_size`).
    pub fn with_block_size(mut self, block_size: u64) -> Self {
        self.block_size = block_size;
        self
    }

    /// Uses another largest block size.
    pub fn with_max_block_size(mut self, max_block_size: u64) -> Self {
        self.max_block_size = max_block_size;
        self
    }

    /// Turns the quota pre-flight on or off.
    pub fn with_quota_check(mut self, check: bool) -> Self {
        self.check_quota = check;
        self
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
            return fail("the Lazada app key is empty".into());
        }
        if self.app_secret.is_empty() {
            return fail("the Lazada app secret is empty".into());
        }
        if self.access_token.is_empty() && self.token_source.is_none() {
            return fail("the Lazada access token is empty".into());
        }
        let base = self.effective_base_url();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return fail(format!(
                "the Lazada base URL must start with http:// or https:// (got {:?})",
                redact_url(base)
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

/// The scheme, host and path of a URL, without user info or query.
fn redact_url(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
            format!("{scheme}://{rest}")
        }
        None => no_query
            .rsplit_once('@')
            .map(|(_, r)| r)
            .unwrap_or(no_query)
            .to_owned(),
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
            .field("base_url", &self.base_url.as_deref().map(redact_url))
            .field("block_size", &self.block_size)
            .field("max_block_size", &self.max_block_size)
            .field("max_video_bytes", &self.max_video_bytes)
            .field("max_image_bytes", &self.max_image_bytes)
            .field("concurrent_blocks", &self.concurrent_blocks)
            .field("check_quota", &self.check_quota)
            .finish()
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

    #[test]
    fn debug_never_shows_secrets() {
        let c = LazadaConfig::new("100132", "s3cr3t-app", "t0k3n-value", Region::Sg)
            .with_base_url("http://user:pw@127.0.0.1:9/rest/?x=1");
        let text = format!("{c:?}");
        assert!(!text.contains("s3cr3t-app"), "{text}");
        assert!(!text.contains("t0k3n-value"), "{text}");
        assert!(!text.contains("pw"), "{text}");
        assert!(text.contains("100132"));
    }

    #[test]
    fn base_url_override_and_validation() {
        let c = LazadaConfig::new("k", "s", "t", Region::Th);
        assert_eq!(c.effective_base_url(), "https://api.lazada.co.th/rest");
        c.validate().unwrap();
        let c = c.with_base_url("http://127.0.0.1:8080/rest/");
        assert_eq!(c.effective_base_url(), "http://127.0.0.1:8080/rest");
        assert!(c.clone().with_block_size(1).validate().is_err());
        assert!(c.clone().with_block_size(6 * MIB).validate().is_err());
        assert!(LazadaConfig::new("k", "", "t", Region::Sg)
            .validate()
            .is_err());
        assert!(LazadaConfig::new("k", "s", "t", Region::Sg)
            .with_base_url("ftp://x")
            .validate()
            .is_err());
    }
}
