//! TikTok Shop credentials, host and limits.

use std::fmt;

use marketmedia_core::raw::http::{ClientOptions, HttpTimeouts};
use marketmedia_core::raw::{Error, RedactedUrl, Secret, TokenSource};

use crate::wire::{UseCase, API_HOST};
use crate::PLATFORM;

/// "Max video size: 100 MB" (Upload Product File): read as 100,000,000 bytes, the smaller of
/// the two readings, so that nothing refused by the platform passes the local check.
pub const MAX_VIDEO_BYTES: u64 = 100_000_000;
/// "Max size: 10MB" (Upload Product Image), read the same way.
pub const MAX_IMAGE_BYTES: u64 = 10_000_000;

/// Everything the TikTok Shop provider needs. Neither secret nor a URL's credentials appear
/// in `Debug`.
///
/// ```
/// use marketmedia_tiktok::TiktokConfig;
/// let config = TiktokConfig::builder()
///     .app_key("68xu9ks5p4i8")
///     .app_secret("app-secret")
///     .access_token("seller-access-token")
///     .build()?;
/// assert_eq!(config.effective_base_url(), "https://open-api.tiktokglobalshop.com");
/// # Ok::<(), marketmedia_core::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct TiktokConfig {
    /// The app's key (`app_key` on every call).
    pub app_key: String,
    /// The app's secret: the signing key.
    pub app_secret: Secret,
    /// The seller's access token, used as is unless a token source is set; empty when one is.
    pub access_token: Secret,
    /// Where each request's access token comes from, refreshed as needed ([`crate::auth`]).
    pub token_source: Option<TokenSource>,
    /// The shop this account uploads for: checked by `accounts check` against the shops the
    /// token serves. Not sent with the uploads (the upload calls refuse `shop_cipher`).
    pub shop_cipher: Option<String>,
    /// Another open API host (a simulator), without a trailing slash.
    pub base_url: Option<String>,
    /// What images are for (`use_case`), default `MAIN_IMAGE`.
    pub image_use_case: UseCase,
    /// Largest video (default [`MAX_VIDEO_BYTES`]; lower it, never above the platform's).
    pub max_video_bytes: u64,
    /// Largest image (default [`MAX_IMAGE_BYTES`]).
    pub max_image_bytes: u64,
    /// How its client talks HTTP ([`ClientOptions`]).
    pub options: ClientOptions,
}

impl TiktokConfig {
    /// A builder with every default; `app_key`, `app_secret` and a token are required.
    pub fn builder() -> TiktokConfigBuilder {
        TiktokConfigBuilder::default()
    }

    /// The open API host calls go to.
    pub fn effective_base_url(&self) -> String {
        self.base_url.clone().unwrap_or_else(|| API_HOST.to_owned())
    }

    /// Checks the configuration (no network).
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: String| Err(Error::invalid_input(m).with_platform(PLATFORM));
        if self.app_key.trim().is_empty() {
            return Err(Error::missing_setting(PLATFORM, "app_key"));
        }
        if self.app_secret.is_empty() {
            return Err(Error::missing_setting(PLATFORM, "app_secret"));
        }
        if self.access_token.is_empty() && self.token_source.is_none() {
            return Err(Error::missing_setting(PLATFORM, "access_token"));
        }
        let base = self.effective_base_url();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return fail(format!(
                "the TikTok Shop base_url must start with http:// or https:// (got {})",
                RedactedUrl::new(&base)
            ));
        }
        if self.max_video_bytes == 0 || self.max_image_bytes == 0 {
            return fail("the TikTok Shop size limits must be positive".into());
        }
        if self.max_video_bytes > MAX_VIDEO_BYTES || self.max_image_bytes > MAX_IMAGE_BYTES {
            return fail(format!(
                "TikTok Shop takes videos up to {MAX_VIDEO_BYTES} bytes and images up to \
                 {MAX_IMAGE_BYTES}: the limits can be lowered, not raised"
            ));
        }
        if self
            .shop_cipher
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return fail("the TikTok Shop shop_cipher is empty".into());
        }
        Ok(())
    }
}

/// Builds a [`TiktokConfig`]: one method per setting, named after it, and
/// [`build`](TiktokConfigBuilder::build) checking the whole.
#[derive(Clone)]
pub struct TiktokConfigBuilder {
    app_key: Option<String>,
    app_secret: Option<Secret>,
    access_token: Option<Secret>,
    token_source: Option<TokenSource>,
    shop_cipher: Option<String>,
    base_url: Option<String>,
    image_use_case: UseCase,
    max_video_bytes: u64,
    max_image_bytes: u64,
    options: ClientOptions,
}

impl Default for TiktokConfigBuilder {
    fn default() -> Self {
        TiktokConfigBuilder {
            app_key: None,
            app_secret: None,
            access_token: None,
            token_source: None,
            shop_cipher: None,
            base_url: None,
            image_use_case: UseCase::default(),
            max_video_bytes: MAX_VIDEO_BYTES,
            max_image_bytes: MAX_IMAGE_BYTES,
            options: ClientOptions::default(),
        }
    }
}

impl TiktokConfigBuilder {
    /// The app's key. Required.
    pub fn app_key(mut self, key: impl Into<String>) -> Self {
        self.app_key = Some(key.into());
        self
    }

    /// The app's secret (signing key). Required.
    pub fn app_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.app_secret = Some(secret.into());
        self
    }

    /// The seller's access token. Required unless a token source is given.
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// Takes each request's access token from `tokens` (refreshed by
    /// [`crate::auth::TiktokRefresher`]) instead of a fixed `access_token`.
    pub fn token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// The shop's cipher (checked by `accounts check`, never sent with uploads).
    pub fn shop_cipher(mut self, cipher: impl Into<String>) -> Self {
        self.shop_cipher = Some(cipher.into());
        self
    }

    /// Another open API host (a simulator, a proxy); a trailing slash is dropped.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// What images are for (default `MAIN_IMAGE`).
    pub fn image_use_case(mut self, use_case: UseCase) -> Self {
        self.image_use_case = use_case;
        self
    }

    /// The largest video (default and most [`MAX_VIDEO_BYTES`]).
    pub fn max_video_bytes(mut self, bytes: u64) -> Self {
        self.max_video_bytes = bytes;
        self
    }

    /// The largest image (default and most [`MAX_IMAGE_BYTES`]).
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

    /// The configuration, or [`ErrorKind::InvalidInput`](marketmedia_core::ErrorKind) naming
    /// the missing or wrong setting.
    pub fn build(self) -> Result<TiktokConfig, Error> {
        let config = TiktokConfig {
            app_key: self
                .app_key
                .ok_or_else(|| Error::missing_setting(PLATFORM, "app_key"))?,
            app_secret: self
                .app_secret
                .ok_or_else(|| Error::missing_setting(PLATFORM, "app_secret"))?,
            access_token: match (self.access_token, &self.token_source) {
                (Some(token), _) => token,
                (None, Some(_)) => Secret::default(),
                (None, None) => return Err(Error::missing_setting(PLATFORM, "access_token")),
            },
            token_source: self.token_source,
            shop_cipher: self.shop_cipher,
            base_url: self.base_url,
            image_use_case: self.image_use_case,
            max_video_bytes: self.max_video_bytes,
            max_image_bytes: self.max_image_bytes,
            options: self.options,
        };
        config.validate()?;
        Ok(config)
    }
}

impl fmt::Debug for TiktokConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TiktokConfig")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("access_token", &self.access_token)
            .field("token_source", &self.token_source)
            .field("shop_cipher", &self.shop_cipher)
            .field("base_url", &RedactedUrl::new(&self.effective_base_url()))
            .field("image_use_case", &self.image_use_case)
            .field("max_video_bytes", &self.max_video_bytes)
            .field("max_image_bytes", &self.max_image_bytes)
            .field("options", &self.options)
            .finish()
    }
}

impl fmt::Debug for TiktokConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TiktokConfigBuilder")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("access_token", &self.access_token)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketmedia_core::ErrorKind;

    #[test]
    fn debug_never_shows_a_secret_or_a_token_bearing_url() {
        let b = TiktokConfig::builder()
            .app_key("k")
            .app_secret("app-secret-xyz")
            .access_token("seller-token-abc")
            .base_url("http://user:pw-xyz@127.0.0.1:9/?token=t-in-url");
        let c = b.clone().build().unwrap();
        for text in [format!("{c:?}"), format!("{b:?}")] {
            for leak in ["app-secret-xyz", "seller-token-abc", "pw-xyz", "t-in-url"] {
                assert!(!text.contains(leak), "{leak} in {text}");
            }
            assert!(text.contains("127.0.0.1:9"), "{text}");
        }
    }

    #[test]
    fn build_names_the_missing_setting() {
        for (b, missing) in [
            (TiktokConfig::builder(), "app_key"),
            (TiktokConfig::builder().app_key("k"), "app_secret"),
            (
                TiktokConfig::builder().app_key("k").app_secret("s"),
                "access_token",
            ),
        ] {
            let err = b.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(missing), "{err}");
        }
        let ok = || {
            TiktokConfig::builder()
                .app_key("k")
                .app_secret("s")
                .access_token("t")
        };
        assert!(ok().base_url("ftp://x").build().is_err());
        assert!(ok().max_video_bytes(MAX_VIDEO_BYTES + 1).build().is_err());
        assert!(ok().shop_cipher(" ").build().is_err());
        assert_eq!(
            ok().base_url("http://127.0.0.1:1/")
                .build()
                .unwrap()
                .effective_base_url(),
            "http://127.0.0.1:1"
        );
    }
}
