//! eBay credentials, environment and settings.

use std::fmt;

use marketmedia_core::raw::http::{ClientOptions, HttpTimeouts};
use marketmedia_core::raw::{Error, RedactedUrl, Secret, TokenSource};

/// Which eBay environment to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EbayEnvironment {
    /// `https://apim.ebay.com` (the Media API's production root URI).
    #[default]
    Production,
    /// `https://apim.sandbox.ebay.com`.
    Sandbox,
}

impl EbayEnvironment {
    /// The root URI, without a trailing slash.
    pub fn root(self) -> &'static str {
        match self {
            EbayEnvironment::Production => "https://apim.ebay.com",
            EbayEnvironment::Sandbox => "https://apim.sandbox.ebay.com",
        }
    }
}

impl std::str::FromStr for EbayEnvironment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "production" | "prod" => Ok(EbayEnvironment::Production),
            "sandbox" => Ok(EbayEnvironment::Sandbox),
            other => Err(format!(
                "unknown eBay environment {other:?} (production, sandbox)"
            )),
        }
    }
}

/// The Media API's base path.
pub const BASE_PATH: &str = "/commerce/media/v1_beta";
/// "150MB, or 157,286,400 bytes": the largest video.
pub const MAX_VIDEO_BYTES: u64 = 157_286_400;
/// 10 MiB: the chunk size (eBay publishes none; each chunk is one POST, of 50 per 5 s).
pub const DEFAULT_PART_SIZE: u64 = 10 << 20;
/// 12 MiB: the largest image sent (eBay's Media API pages state none; its picture policy is
/// referred to).
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 12 << 20;

/// Everything the eBay provider needs. Neither the token nor a URL's credentials appear in
/// `Debug`. A video's title and description are the upload's, not the client's
/// ([`UploadMeta`](marketmedia_core::UploadMeta)).
///
/// Built with [`EbayConfig::builder`]:
///
/// ```
/// use marketmedia_ebay::{EbayConfig, EbayEnvironment};
/// let config = EbayConfig::builder()
///     .access_token("v^1.1#i^1#…")
///     .environment(EbayEnvironment::Sandbox)
///     .build()?;
/// assert_eq!(config.effective_base_url(), "https://apim.sandbox.ebay.com/commerce/media/v1_beta");
/// # Ok::<(), marketmedia_core::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct EbayConfig {
    /// The user's OAuth access token (authorization code grant, scope `sell.inventory`),
    /// used as is unless a token source is set; empty when one is.
    pub access_token: Secret,
    /// Where each request's access token comes from, refreshed as needed (see
    /// [`crate::auth`]); `None`: the fixed `access_token`.
    pub token_source: Option<TokenSource>,
    /// Environment, deciding the root URI.
    pub environment: EbayEnvironment,
    /// A base URL overriding the environment's root + base path (e.g. a simulator's
    /// `http://127.0.0.1:PORT/commerce/media/v1_beta`), without a trailing slash.
    pub base_url: Option<String>,
    /// Bytes per `Content-Range` chunk (default [`DEFAULT_PART_SIZE`]).
    pub part_size: u64,
    /// Largest video (default [`MAX_VIDEO_BYTES`]).
    pub max_file_bytes: u64,
    /// Largest image (default [`DEFAULT_MAX_IMAGE_BYTES`]).
    pub max_image_bytes: u64,
    /// How its client talks HTTP: timeouts, deadlines, answer cap, requests in flight
    /// and request rate ([`ClientOptions`], today's values by default; without a rate of
    /// its own the client holds to eBay's published one, [`crate::PUBLISHED_RATE`]). Two
    /// clients keep their own.
    pub options: ClientOptions,
}

impl EbayConfig {
    /// A builder with every default; `access_token` is required.
    pub fn builder() -> EbayConfigBuilder {
        EbayConfigBuilder::default()
    }

    /// The base URL calls are relative to.
    pub fn effective_base_url(&self) -> String {
        match &self.base_url {
            Some(b) => b.clone(),
            None => format!("{}{BASE_PATH}", self.environment.root()),
        }
    }

    /// Checks the configuration (no network): a token, an http(s) base URL, positive sizes.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: String| Err(Error::invalid_input(m).with_platform(crate::PLATFORM));
        if self.access_token.is_empty() && self.token_source.is_none() {
            return fail("the eBay access_token is empty".into());
        }
        let base = self.effective_base_url();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return fail(format!(
                "the eBay base_url must start with http:// or https:// (got {})",
                RedactedUrl::new(&base)
            ));
        }
        if self.part_size == 0 || self.max_file_bytes == 0 || self.max_image_bytes == 0 {
            return fail("the eBay part and size limits must be positive".into());
        }
        Ok(())
    }
}

/// Builds an [`EbayConfig`]: one method per setting, named after it, and
/// [`build`](EbayConfigBuilder::build) checking the whole.
#[derive(Clone)]
pub struct EbayConfigBuilder {
    access_token: Option<Secret>,
    token_source: Option<TokenSource>,
    environment: EbayEnvironment,
    base_url: Option<String>,
    part_size: u64,
    max_file_bytes: u64,
    max_image_bytes: u64,
    options: ClientOptions,
}

impl Default for EbayConfigBuilder {
    fn default() -> Self {
        EbayConfigBuilder {
            access_token: None,
            token_source: None,
            environment: EbayEnvironment::default(),
            base_url: None,
            part_size: DEFAULT_PART_SIZE,
            max_file_bytes: MAX_VIDEO_BYTES,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            options: ClientOptions::default(),
        }
    }
}

impl EbayConfigBuilder {
    /// The user's OAuth access token. Required.
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// Takes each request's access token from `tokens` (the user's credential, refreshed by [`crate::auth::EbayRefresher`]) instead of a fixed
    /// `access_token`, which is then not needed.
    pub fn token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// The environment, deciding the root URI (default production).
    pub fn environment(mut self, environment: EbayEnvironment) -> Self {
        self.environment = environment;
        self
    }

    /// Another base URL than the environment's (a simulator, a proxy); a trailing slash is
    /// dropped.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Bytes per `Content-Range` chunk (default [`DEFAULT_PART_SIZE`]).
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// The largest video (default [`MAX_VIDEO_BYTES`]).
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// The largest image (default [`DEFAULT_MAX_IMAGE_BYTES`]).
    pub fn max_image_bytes(mut self, bytes: u64) -> Self {
        self.max_image_bytes = bytes;
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
    pub fn build(self) -> Result<EbayConfig, Error> {
        let config = EbayConfig {
            access_token: match (self.access_token, &self.token_source) {
                (Some(token), _) => token,
                (None, Some(_)) => Secret::default(),
                (None, None) => {
                    return Err(Error::missing_setting(crate::PLATFORM, "access_token"))
                }
            },
            token_source: self.token_source,
            environment: self.environment,
            base_url: self.base_url,
            part_size: self.part_size,
            max_file_bytes: self.max_file_bytes,
            max_image_bytes: self.max_image_bytes,
            options: self.options,
        };
        config.validate()?;
        Ok(config)
    }
}

impl fmt::Debug for EbayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EbayConfig")
            .field("access_token", &self.access_token)
            .field("token_source", &self.token_source)
            .field("environment", &self.environment)
            .field("base_url", &RedactedUrl::new(&self.effective_base_url()))
            .field("part_size", &self.part_size)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("max_image_bytes", &self.max_image_bytes)
            .field("options", &self.options)
            .finish()
    }
}

impl fmt::Debug for EbayConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EbayConfigBuilder")
            .field("access_token", &self.access_token)
            .field("environment", &self.environment)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketmedia_core::ErrorKind;

    #[test]
    fn debug_never_shows_the_token_or_a_token_bearing_url() {
        let b = EbayConfig::builder()
            .access_token("v^1.1#secret-token")
            .base_url("http://user:pw-xyz@127.0.0.1:9/commerce/media/v1_beta?token=t-in-url");
        let c = b.clone().build().unwrap();
        for text in [format!("{c:?}"), format!("{b:?}")] {
            for leak in ["secret-token", "pw-xyz", "t-in-url"] {
                assert!(!text.contains(leak), "{leak} in {text}");
            }
            assert!(text.contains("127.0.0.1:9/commerce"), "{text}");
        }
    }

    #[test]
    fn build_names_the_missing_setting() {
        let err = EbayConfig::builder().build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("access_token"), "{err}");
        let err = EbayConfig::builder()
            .access_token("t")
            .base_url("ftp://x")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let c = EbayConfig::builder()
            .access_token("t")
            .base_url("http://127.0.0.1:1/x/")
            .build()
            .unwrap();
        assert_eq!(c.effective_base_url(), "http://127.0.0.1:1/x");
    }
}
