//! WeChat credentials and settings.

use std::fmt;

use marketmedia_core::raw::http::{ClientOptions, HttpTimeouts};
use marketmedia_core::raw::{Error, RedactedUrl, Secret, TokenSource};

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
    /// `/cgi-bin/stable_token` (normal mode),
    /// caches it until shortly before `expires_in`, and fetches again when the platform says
    /// it expired or is not the latest.
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

/// Everything the WeChat provider needs. Neither secrets nor a URL's credentials appear in
/// `Debug`.
///
/// Built with [`WechatConfig::builder`], from the store's AppID and AppSecret or from a
/// token obtained elsewhere:
///
/// ```
/// use marketmedia_wechat::WechatConfig;
/// let config = WechatConfig::builder()
///     .appid("wx1234567890abcdef")
///     .appsecret("app-secret")
///     .build()?;
/// assert_eq!(config.effective_base_url(), "https://api.weixin.qq.com");
/// # Ok::<(), marketmedia_core::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
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
    /// How its client talks HTTP: timeouts, deadlines, answer cap, requests in flight
    /// and request rate ([`ClientOptions`], today's values by default). Two clients keep
    /// their own.
    pub options: ClientOptions,
}

impl WechatConfig {
    /// A builder with every default; `appid` and `appsecret`, or `access_token`, are
    /// required.
    pub fn builder() -> WechatConfigBuilder {
        WechatConfigBuilder::default()
    }

    /// The host requests go to.
    pub fn effective_base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL)
    }

    /// Checks the configuration (no network): credentials present, a part size WeChat takes,
    /// an http(s) host.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: String| Err(Error::invalid_input(m).with_platform(crate::PLATFORM));
        match &self.credentials {
            Credentials::App { appid, .. } if appid.trim().is_empty() => {
                return fail("the WeChat appid is empty".into())
            }
            Credentials::App { appsecret, .. } if appsecret.is_empty() => {
                return fail("the WeChat appsecret is empty".into())
            }
            Credentials::Token(t) if t.is_empty() => {
                return fail("the WeChat access_token is empty".into())
            }
            _ => {}
        }
        if !(MIN_PART_BYTES..=MAX_PART_BYTES).contains(&self.part_size) {
            return fail(format!(
                "WeChat parts are {MIN_PART_BYTES}..={MAX_PART_BYTES} bytes; {} was configured",
                self.part_size
            ));
        }
        let base = self.effective_base_url();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return fail(format!(
                "the WeChat base_url must start with http:// or https:// (got {})",
                RedactedUrl::new(base)
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for WechatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatConfig")
            .field("credentials", &self.credentials)
            .field("token_source", &self.token_source)
            .field("base_url", &RedactedUrl::new(self.effective_base_url()))
            .field("scene", &self.scene)
            .field("file_type", &self.file_type)
            .field("part_size", &self.part_size)
            .field("image_answer", &self.image_answer)
            .field("options", &self.options)
            .finish()
    }
}

/// Builds a [`WechatConfig`]: one method per setting, named after it, and
/// [`build`](WechatConfigBuilder::build) checking the whole.
#[derive(Clone)]
pub struct WechatConfigBuilder {
    appid: Option<String>,
    appsecret: Option<Secret>,
    access_token: Option<Secret>,
    token_source: Option<TokenSource>,
    base_url: Option<String>,
    scene: VideoScene,
    file_type: String,
    part_size: u64,
    image_answer: ImageAnswer,
    options: ClientOptions,
}

impl Default for WechatConfigBuilder {
    fn default() -> Self {
        WechatConfigBuilder {
            appid: None,
            appsecret: None,
            access_token: None,
            token_source: None,
            base_url: None,
            scene: VideoScene::default(),
            file_type: "mp4".into(),
            part_size: DEFAULT_PART_SIZE,
            image_answer: ImageAnswer::default(),
            options: ClientOptions::default(),
        }
    }
}

impl WechatConfigBuilder {
    /// The store's AppID (with [`appsecret`](Self::appsecret): the provider fetches its own
    /// tokens).
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.appid = Some(appid.into());
        self
    }

    /// The store's AppSecret.
    pub fn appsecret(mut self, appsecret: impl Into<Secret>) -> Self {
        self.appsecret = Some(appsecret.into());
        self
    }

    /// A token obtained elsewhere (a central token server, a third-party platform's
    /// `authorizer_access_token`), used as is; wins over AppID and AppSecret when both are
    /// given.
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// Takes each request's access token from `tokens` (shared with the app's other
    /// uploaders, e.g. built with [`crate::auth::WechatRefresher`]) instead of a source of
    /// the uploader's own.
    pub fn token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// Another host than [`DEFAULT_BASE_URL`] (a simulator, a proxy); a trailing slash is
    /// dropped.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The `scene_type` of video uploads (default product).
    pub fn scene(mut self, scene: VideoScene) -> Self {
        self.scene = scene;
        self
    }

    /// The `file_type` of video uploads (default `mp4`).
    pub fn file_type(mut self, file_type: impl Into<String>) -> Self {
        self.file_type = file_type.into();
        self
    }

    /// The part size (default [`DEFAULT_PART_SIZE`]).
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// What image uploads answer (default a link).
    pub fn image_answer(mut self, answer: ImageAnswer) -> Self {
        self.image_answer = answer;
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
    pub fn build(self) -> Result<WechatConfig, Error> {
        let missing = |name| Error::missing_setting(crate::PLATFORM, name);
        let credentials = match (self.access_token, self.appid, self.appsecret) {
            (Some(token), _, _) => Credentials::Token(token),
            (None, Some(appid), Some(appsecret)) => Credentials::App { appid, appsecret },
            (None, Some(_), None) => return Err(missing("appsecret")),
            (None, None, _) => return Err(missing("appid")),
        };
        let config = WechatConfig {
            credentials,
            token_source: self.token_source,
            base_url: self.base_url,
            scene: self.scene,
            file_type: self.file_type,
            part_size: self.part_size,
            image_answer: self.image_answer,
            options: self.options,
        };
        config.validate()?;
        Ok(config)
    }
}

impl fmt::Debug for WechatConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatConfigBuilder")
            .field("appid", &self.appid)
            .field("appsecret", &self.appsecret)
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
    fn debug_hides_secrets_and_token_bearing_urls() {
        let url = "http://user:pw-xyz@127.0.0.1:9/?access_token=t-in-url";
        let app = WechatConfig::builder()
            .appid("wx-app")
            .appsecret("secret-xyz-123")
            .base_url(url);
        let token = WechatConfig::builder()
            .access_token("token-abc-789")
            .base_url(url);
        let d = format!(
            "{app:?} {token:?} {:?} {:?}",
            app.clone().build().unwrap(),
            token.clone().build().unwrap()
        );
        for leak in ["secret-xyz-123", "token-abc-789", "pw-xyz", "t-in-url"] {
            assert!(!d.contains(leak), "{leak} in {d}");
        }
        assert!(
            d.contains("wx-app") && d.contains("***") && d.contains("127.0.0.1:9"),
            "{d}"
        );
    }

    #[test]
    fn build_names_the_missing_setting() {
        let cases = [
            (WechatConfig::builder().appsecret("s"), "appid"),
            (WechatConfig::builder().appid("wx"), "appsecret"),
            (
                WechatConfig::builder().appid("wx").appsecret(""),
                "appsecret",
            ),
            (WechatConfig::builder().access_token(""), "access_token"),
        ];
        for (b, name) in cases {
            let err = b.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn scenes_parse_and_override() {
        assert_eq!("162".parse::<VideoScene>(), Ok(VideoScene::Product));
        assert_eq!(
            "after_sale".parse::<VideoScene>(),
            Ok(VideoScene::AfterSale)
        );
        assert!("mars".parse::<VideoScene>().is_err());
        let c = WechatConfig::builder()
            .appid("a")
            .appsecret("b")
            .base_url("http://127.0.0.1:1/")
            .build()
            .unwrap();
        assert_eq!(c.effective_base_url(), "http://127.0.0.1:1");
    }
}
