//! eBay credentials, environment and settings.

use std::fmt;

use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::raw::{Secret, TokenSource};

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

/// Everything the eBay provider needs. The token never appears in `Debug`.
#[derive(Clone)]
pub struct EbayConfig {
    /// The user's OAuth access token (authorization code grant, scope `sell.inventory`),
    /// used as is unless a token source is set ([`EbayConfig::with_token_source`]).
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
    /// The video's `title`; the file name when `None`.
    pub title: Option<String>,
    /// The video's optional `description`.
    pub description: Option<String>,
    /// Timeouts for each attempt.
    pub timeouts: HttpTimeouts,
}

impl EbayConfig {
    /// A configuration with the defaults for everything but the token.
    pub fn new(access_token: impl Into<Secret>) -> Self {
        EbayConfig {
            access_token: access_token.into(),
            token_source: None,
            environment: EbayEnvironment::default(),
            base_url: None,
            part_size: DEFAULT_PART_SIZE,
            max_file_bytes: MAX_VIDEO_BYTES,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            title: None,
            description: None,
            timeouts: HttpTimeouts::default(),
        }
    }

    /// Points the provider at another base URL (a simulator, a proxy).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Takes each request's access token from `tokens` (the user's credential, refreshed by
    /// [`crate::auth::EbayRefresher`]) instead of the fixed `access_token`.
    pub fn with_token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// Sets the environment.
    pub fn with_environment(mut self, environment: EbayEnvironment) -> Self {
        self.environment = environment;
        self
    }

    /// The base URL calls are relative to.
    pub fn effective_base_url(&self) -> String {
        match &self.base_url {
            Some(b) => b.clone(),
            None => format!("{}{BASE_PATH}", self.environment.root()),
        }
    }
}

impl fmt::Debug for EbayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EbayConfig")
            .field("access_token", &self.access_token)
            .field("token_source", &self.token_source)
            .field("base_url", &self.effective_base_url())
            .field("part_size", &self.part_size)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}
