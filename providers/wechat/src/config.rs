//! WeChat credentials and settings.

use std::fmt;

use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::raw::{Secret, TokenSource};

/// The API host.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";
/// "1M": the smallest part but the last, in its larger reading (1 MiB), so the platform's
/// `EntityTooSmall` cannot come whichever unit it means.
pub const MIN_PART_BYTES: u64 = 1024 * 1024;
/// "2MB": the largest part, in its smaller reading (2,000,000 bytes), for the same reason.
pub const MAX_PART_BYTES: u64 = 2_000_000;
/// Part size used unless configured: the largest allowed, fewest requests.
pub const DEFAULT_PART_SIZE: u64 = MAX_PART_BYTES;

/// `scene_type` of `video/initupload`, which decides the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoScene {
    /// 162, 商品视频: up to 500MB (read as 500,000,000 bytes) and 180 s.
    #[default]
    Product,
    /// 173, 售后相关的视频: up to 20MB (20,000,000 bytes), no duration limit.
    AfterSale,
}

impl VideoScene {
    /// The wire value.
    pub fn scene_type(self) -> u32 {
        match self {
            VideoScene::Product => 162,
            VideoScene::AfterSale => 173,
        }
    }

    /// The largest file.
    pub fn max_file_bytes(self) -> u64 {
        match self {
            VideoScene::Product => 500_000_000,
            VideoScene::AfterSale => 20_000_000,
        }
    }

    /// The longest video, in seconds, when limited.
    pub fn max_duration_secs(self) -> Option<u64> {
        match self {
            VideoScene::Product => Some(180),
            VideoScene::AfterSale => None,
        }
    }
}

impl std::str::FromStr for VideoScene {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "product" | "162" => Ok(VideoScene::Product),
            "after_sale" | "aftersale" | "173" => Ok(VideoScene::AfterSale),
            other => Err(format!(
                "unknown WeChat video scene {other:?} (product = 162, after_sale = 173)"
            )),
        }
    }
}

/// What `img/upload` answers (`resp_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageAnswer {
    /// 1: a permanent link, the one product data needs; images up to 10MB.
    #[default]
    Link,
    /// 0: `media_id` and `pay_media_id`; images up to 2MB.
    MediaId,
}

impl ImageAnswer {
    /// The wire value of `resp_type`.
    pub fn resp_type(self) -> u32 {
        match self {
            ImageAnswer::Link => 1,
            ImageAnswer::MediaId => 0,
        }
    }

    /// The largest image (the decimal reading of 10MB and 2MB).
    pub fn max_bytes(self) -> u64 {
        match self {
            ImageAnswer::Link => 10_000_000,
            ImageAnswer::MediaId => 2_000_000,
        }
    }
}

/// How the provider gets its `access_token`.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The store's AppID and AppSecret: the provider fetches the token from
    /// `/cgi-bin/stable_token` (normal mode), keeps it until shortly before `expires_in`, and
    /// fetches again when the platform says it expired or is invalid.
    App {
        /// AppID.
        appid: String,
        /// AppSecret.
        appsecret: Secret,
    },
    /// A token obtained elsewhere (a central token server, or a third-party platform's
    /// `authorizer_access_token`), used as is.
    Token(Secret),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::App { appid, appsecret } => f
                .debug_struct("App")
                .field("appid", appid)
                .field("appsecret", appsecret)
                .finish(),
            Credentials::Token(t) => f.debug_tuple("Token").field(t).finish(),
        }
    }
}

/// Everything the WeChat provider needs. Secrets never appear in `Debug`.
#[derive(Clone)]
pub struct WechatConfig {
    /// How the access token is obtained.
    pub credentials: Credentials,
    /// Where each request's access token comes from instead (a source shared by the app's
    /// uploaders: [`crate::auth`]); `None`: from `credentials`.
    pub token_source: Option<TokenSource>,
    /// A host other than [`DEFAULT_BASE_URL`] (a simulator, a proxy), without a trailing slash.
    pub base_url: Option<String>,
    /// `scene_type` of video uploads.
    pub scene: VideoScene,
    /// `file_type` of video uploads (the pages' example: `mp4`).
    pub file_type: String,
    /// Part size, in `MIN_PART_BYTES..=MAX_PART_BYTES` (default [`DEFAULT_PART_SIZE`]).
    pub part_size: u64,
    /// What image uploads answer.
    pub image_answer: ImageAnswer,
    /// Timeouts for each attempt.
    pub timeouts: HttpTimeouts,
}

impl WechatConfig {
    /// A configuration fetching tokens with the store's AppID and AppSecret.
    pub fn new(appid: impl Into<String>, appsecret: impl Into<Secret>) -> Self {
        Self::with_credentials(Credentials::App {
            appid: appid.into(),
            appsecret: appsecret.into(),
        })
    }

    /// A configuration using an access token obtained elsewhere.
    pub fn with_access_token(token: impl Into<Secret>) -> Self {
        Self::with_credentials(Credentials::Token(token.into()))
    }

    fn with_credentials(credentials: Credentials) -> Self {
        WechatConfig {
            credentials,
            token_source: None,
            base_url: None,
            scene: VideoScene::default(),
            file_type: "mp4".into(),
            part_size: DEFAULT_PART_SIZE,
            image_answer: ImageAnswer::default(),
            timeouts: HttpTimeouts::default(),
        }
    }

    /// Takes each request's access token from `tokens` (shared with the app's other
    /// uploaders, e.g. built with [`crate::auth::WechatRefresher`]).
    pub fn with_token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// Points the provider at another host (a simulator, a proxy).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The host requests go to.
    pub fn effective_base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL)
    }
}

impl fmt::Debug for WechatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatConfig")
            .field("credentials", &self.credentials)
            .field("token_source", &self.token_source)
            .field("base_url", &self.effective_base_url())
            .field("scene", &self.scene)
            .field("file_type", &self.file_type)
            .field("part_size", &self.part_size)
            .field("image_answer", &self.image_answer)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let app = WechatConfig::new("wx-app", "secret-xyz-123");
        let token = WechatConfig::with_access_token("token-abc-789");
        let d = format!("{app:?} {token:?}");
        assert!(
            !d.contains("secret-xyz-123") && !d.contains("token-abc-789"),
            "{d}"
        );
        assert!(d.contains("wx-app") && d.contains("***"), "{d}");
    }

    #[test]
    fn scenes_parse_and_override() {
        assert_eq!("162".parse::<VideoScene>(), Ok(VideoScene::Product));
        assert_eq!(
            "after_sale".parse::<VideoScene>(),
            Ok(VideoScene::AfterSale)
        );
        assert!("mars".parse::<VideoScene>().is_err());
        let c = WechatConfig::new("a", "b").with_base_url("http://127.0.0.1:1/");
        assert_eq!(c.effective_base_url(), "http://127.0.0.1:1");
    }
}
