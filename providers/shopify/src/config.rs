//! A Shopify store's credentials, API version and limits.

use std::fmt;
use std::time::Duration;

use marketmedia_core::raw::http::{ClientOptions, HttpTimeouts};
use marketmedia_core::raw::{Error, RedactedUrl, Secret, TokenSource};

/// The Admin API version in the path (`/admin/api/{version}/graphql.json`): the newest
/// stable version when this crate was written (shopify.dev lists `2026-10` as `latest`).
pub const DEFAULT_API_VERSION: &str = "2026-10";
/// "up to 1 GB": the largest video the Shopify admin takes (help.shopify.com, "Product
/// media types"). The API pages state no size of their own; read as 10^9 bytes.
pub const MAX_VIDEO_BYTES: u64 = 1_000_000_000;
/// "up to 10 minutes": the longest video (the same page).
pub const MAX_VIDEO_DURATION: Duration = Duration::from_secs(600);
/// "smaller than 20 MB": the largest image (the same page), read as 20 × 10^6 bytes.
pub const MAX_IMAGE_BYTES: u64 = 20_000_000;

/// How the file goes to the staged target: the `httpMethod` asked of `stagedUploadsCreate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StagedMethod {
    /// A multipart form POST: the target's parameters as form fields, in order, the file
    /// last (the method shopify.dev's examples use).
    #[default]
    Post,
    /// A PUT of the bytes, the target's parameters as headers (the input's default).
    Put,
}

impl StagedMethod {
    /// `POST` or `PUT`, as `StagedUploadHttpMethodType` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            StagedMethod::Post => "POST",
            StagedMethod::Put => "PUT",
        }
    }
}

impl std::str::FromStr for StagedMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "POST" => Ok(StagedMethod::Post),
            "PUT" => Ok(StagedMethod::Put),
            other => Err(format!(
                "unknown staged upload method {other:?} (POST, PUT)"
            )),
        }
    }
}

/// Everything the Shopify provider needs. Neither the token nor a URL's credentials appear
/// in `Debug`. Where a video goes (a product or the file library) and its alt text are the
/// upload's ([`UploadMeta`](marketmedia_core::UploadMeta): `usage`, `description`).
///
/// ```
/// use marketmedia_shopify::ShopifyConfig;
/// let config = ShopifyConfig::builder()
///     .shop("my-store.myshopify.com")
///     .access_token("shpat_…")
///     .build()?;
/// assert_eq!(
///     config.graphql_url(),
///     "https://my-store.myshopify.com/admin/api/2026-10/graphql.json"
/// );
/// # Ok::<(), marketmedia_core::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ShopifyConfig {
    /// The store's domain, `NAME.myshopify.com`.
    pub shop: String,
    /// The offline access token (`X-Shopify-Access-Token`), used as is unless a token source
    /// is set; empty when one is.
    pub access_token: Secret,
    /// Where each request's access token comes from, refreshed as needed (expiring offline
    /// tokens, [`crate::auth`]); `None`: the fixed `access_token`.
    pub token_source: Option<TokenSource>,
    /// The Admin API version (default [`DEFAULT_API_VERSION`]).
    pub api_version: String,
    /// A base URL replacing `https://{shop}` (a simulator, a proxy), without a trailing
    /// slash; the paths are appended as on Shopify.
    pub base_url: Option<String>,
    /// How the file goes to the staged target (default POST).
    pub staged_method: StagedMethod,
    /// Largest video (default [`MAX_VIDEO_BYTES`]).
    pub max_file_bytes: u64,
    /// Longest video (default [`MAX_VIDEO_DURATION`]).
    pub max_duration: Duration,
    /// Largest image (default [`MAX_IMAGE_BYTES`]).
    pub max_image_bytes: u64,
    /// How its client talks HTTP ([`ClientOptions`]).
    pub options: ClientOptions,
}

impl ShopifyConfig {
    /// A builder with every default; `shop` and `access_token` (or a token source) are
    /// required.
    pub fn builder() -> ShopifyConfigBuilder {
        ShopifyConfigBuilder::default()
    }

    /// `https://{shop}`, or the configured base URL.
    pub fn effective_base_url(&self) -> String {
        match &self.base_url {
            Some(b) => b.clone(),
            None => format!("https://{}", self.shop),
        }
    }

    /// The GraphQL Admin endpoint: `{base}/admin/api/{version}/graphql.json`.
    pub fn graphql_url(&self) -> String {
        format!(
            "{}/admin/api/{}/graphql.json",
            self.effective_base_url(),
            self.api_version
        )
    }

    /// Checks the configuration (no network).
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: String| Err(Error::invalid_input(m).with_platform(crate::PLATFORM));
        if self.shop.trim().is_empty() {
            return Err(Error::missing_setting(crate::PLATFORM, "shop"));
        }
        if self
            .shop
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        {
            return fail(format!(
                "the Shopify shop must be a domain such as my-store.myshopify.com (got {:?})",
                self.shop
            ));
        }
        if self.access_token.is_empty() && self.token_source.is_none() {
            return fail("the Shopify access_token is empty".into());
        }
        let v = &self.api_version;
        let version_ok = v == "unstable"
            || (v.len() == 7
                && v.as_bytes()[4] == b'-'
                && v[..4].bytes().all(|b| b.is_ascii_digit())
                && v[5..].bytes().all(|b| b.is_ascii_digit()));
        if !version_ok {
            return fail(format!(
                "the Shopify api_version must read YYYY-MM (or `unstable`), not {v:?}"
            ));
        }
        let base = self.effective_base_url();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return fail(format!(
                "the Shopify base_url must start with http:// or https:// (got {})",
                RedactedUrl::new(&base)
            ));
        }
        if self.max_file_bytes == 0 || self.max_image_bytes == 0 || self.max_duration.is_zero() {
            return fail("the Shopify size and duration limits must be positive".into());
        }
        Ok(())
    }
}

/// Builds a [`ShopifyConfig`]: one method per setting, named after it.
#[derive(Clone)]
pub struct ShopifyConfigBuilder {
    shop: Option<String>,
    access_token: Option<Secret>,
    token_source: Option<TokenSource>,
    api_version: String,
    base_url: Option<String>,
    staged_method: StagedMethod,
    max_file_bytes: u64,
    max_duration: Duration,
    max_image_bytes: u64,
    options: ClientOptions,
}

impl Default for ShopifyConfigBuilder {
    fn default() -> Self {
        ShopifyConfigBuilder {
            shop: None,
            access_token: None,
            token_source: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            base_url: None,
            staged_method: StagedMethod::default(),
            max_file_bytes: MAX_VIDEO_BYTES,
            max_duration: MAX_VIDEO_DURATION,
            max_image_bytes: MAX_IMAGE_BYTES,
            options: ClientOptions::default(),
        }
    }
}

impl ShopifyConfigBuilder {
    /// The store, `NAME.myshopify.com` (a bare `NAME` gets the suffix). Required.
    pub fn shop(mut self, shop: impl Into<String>) -> Self {
        let shop = shop.into();
        let shop = shop
            .trim()
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_ascii_lowercase();
        self.shop = Some(if shop.is_empty() || shop.contains('.') {
            shop
        } else {
            format!("{shop}.myshopify.com")
        });
        self
    }

    /// The offline access token. Required unless a token source is given.
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// Takes each request's access token from `tokens` (expiring offline tokens refreshed by
    /// [`crate::auth::ShopifyRefresher`]) instead of a fixed `access_token`.
    pub fn token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// The Admin API version (default [`DEFAULT_API_VERSION`]).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into().trim().to_owned();
        self
    }

    /// Another base URL than `https://{shop}` (a simulator); a trailing slash is dropped.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// How the file goes to the staged target (default POST).
    pub fn staged_method(mut self, method: StagedMethod) -> Self {
        self.staged_method = method;
        self
    }

    /// The largest video (default [`MAX_VIDEO_BYTES`]).
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// The longest video (default [`MAX_VIDEO_DURATION`]).
    pub fn max_duration(mut self, duration: Duration) -> Self {
        self.max_duration = duration;
        self
    }

    /// The largest image (default [`MAX_IMAGE_BYTES`]).
    pub fn max_image_bytes(mut self, bytes: u64) -> Self {
        self.max_image_bytes = bytes;
        self
    }

    /// Timeouts for each attempt.
    pub fn timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.options.timeouts = timeouts;
        self
    }

    /// How the client talks HTTP.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The configuration, or `InvalidInput` naming the missing or wrong setting.
    pub fn build(self) -> Result<ShopifyConfig, Error> {
        let shop = self
            .shop
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::missing_setting(crate::PLATFORM, "shop"))?;
        let config = ShopifyConfig {
            shop,
            access_token: match (self.access_token, &self.token_source) {
                (Some(token), _) => token,
                (None, Some(_)) => Secret::default(),
                (None, None) => {
                    return Err(Error::missing_setting(crate::PLATFORM, "access_token"))
                }
            },
            token_source: self.token_source,
            api_version: self.api_version,
            base_url: self.base_url,
            staged_method: self.staged_method,
            max_file_bytes: self.max_file_bytes,
            max_duration: self.max_duration,
            max_image_bytes: self.max_image_bytes,
            options: self.options,
        };
        config.validate()?;
        Ok(config)
    }
}

impl fmt::Debug for ShopifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyConfig")
            .field("shop", &self.shop)
            .field("access_token", &self.access_token)
            .field("token_source", &self.token_source)
            .field("api_version", &self.api_version)
            .field("base_url", &RedactedUrl::new(&self.effective_base_url()))
            .field("staged_method", &self.staged_method)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("max_duration", &self.max_duration)
            .field("max_image_bytes", &self.max_image_bytes)
            .field("options", &self.options)
            .finish()
    }
}

impl fmt::Debug for ShopifyConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyConfigBuilder")
            .field("shop", &self.shop)
            .field("access_token", &self.access_token)
            .field("api_version", &self.api_version)
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
        let b = ShopifyConfig::builder()
            .shop("kettles")
            .access_token("shpat_secret-token")
            .base_url("http://user:pw-xyz@127.0.0.1:9?token=t-in-url");
        let c = b.clone().build().unwrap();
        for text in [format!("{c:?}"), format!("{b:?}")] {
            for leak in ["secret-token", "pw-xyz", "t-in-url"] {
                assert!(!text.contains(leak), "{leak} in {text}");
            }
            assert!(text.contains("127.0.0.1:9"), "{text}");
        }
    }

    #[test]
    fn build_names_the_missing_setting_and_checks_the_version() {
        let err = ShopifyConfig::builder()
            .access_token("t")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("shop"), "{err}");
        let err = ShopifyConfig::builder().shop("s").build().unwrap_err();
        assert!(err.to_string().contains("access_token"), "{err}");
        let err = ShopifyConfig::builder()
            .shop("s")
            .access_token("t")
            .api_version("2026-1")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("api_version"), "{err}");
        let c = ShopifyConfig::builder()
            .shop("https://Kettles.myshopify.com/")
            .access_token("t")
            .api_version("unstable")
            .build()
            .unwrap();
        assert_eq!(
            c.graphql_url(),
            "https://kettles.myshopify.com/admin/api/unstable/graphql.json"
        );
    }
}
