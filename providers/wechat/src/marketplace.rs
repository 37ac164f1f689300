//! WeChat Channels Store as a marketplace: its account settings, each declared once, and how
//! an account's settings become its identity and its uploader ([`Wechat`], registered by the
//! `marketmedia` crate's `wechat` feature).
//!
//! ```no_run
//! use marketmedia_wechat::WechatSettings;
//! # fn demo() -> marketmedia_core::Result<()> {
//! // MARKETMEDIA_WECHAT_APPID and _APPSECRET (or _ACCESS_TOKEN), _SCENE…
//! let wechat = WechatSettings::from_env()?.uploader()?;
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, CheckAccount, Client, ConnectOptions, Error, Marketplace, Origin,
    RedactedUrl, Result, Secret, Setting, Settings,
};
use serde::Deserialize;

use crate::config::{Credentials, WechatConfigBuilder};
use crate::{VideoScene, WechatConfig, WechatUploader, PLATFORM};

/// A WeChat Channels Store account's settings: the keys of `[accounts.NAME]` (with
/// `marketplace = "wechat"`) and of `[wechat]`, and the `MARKETMEDIA_WECHAT_*` variables.
pub static SETTINGS: &[Setting] = &[
    Setting::text(
        "appid",
        "the store's AppID (access tokens are fetched and renewed with it and the AppSecret)",
    )
    .required_unless("access_token")
    .example("wx1234567890abcdef"),
    Setting::secret("appsecret", "the store's AppSecret")
        .required_unless("access_token")
        .example("app-secret"),
    Setting::secret(
        "access_token",
        "a ready access token from elsewhere, instead of the AppID and AppSecret (not renewed)",
    )
    .example("ready-token"),
    Setting::choice(
        "scene",
        "the videos' scene: `product` (162, product videos) or `after_sale` (173)",
        &["product", "after_sale"],
    )
    .example("after_sale"),
    Setting::url(
        "base_url",
        "an API host overriding `https://api.weixin.qq.com`",
    )
    .example("http://127.0.0.1:8654"),
];

/// The settings of one WeChat account, as [`SETTINGS`] declares them: from the environment
/// ([`WechatSettings::from_env`]), a map ([`WechatSettings::from_map`]), or any serde
/// format (`#[serde(deny_unknown_fields)]`).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSettings {
    /// The store's AppID.
    pub appid: Option<String>,
    /// The store's AppSecret.
    pub appsecret: Option<Secret>,
    /// A ready access token.
    pub access_token: Option<Secret>,
    /// `product` (default) or `after_sale`.
    pub scene: Option<String>,
    /// An API host overriding the default one.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for WechatSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatSettings")
            .field("appid", &self.appid)
            .field("appsecret", &self.appsecret)
            .field("access_token", &self.access_token)
            .field("scene", &self.scene)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .finish()
    }
}

impl WechatSettings {
    /// The settings the `MARKETMEDIA_WECHAT_*` variables give.
    pub fn from_env() -> Result<WechatSettings> {
        Self::from_settings(&Settings::from_env(SETTINGS, &Wechat.env_prefix())?)
    }

    /// The settings of a map of keys to values (`[("appid", "wx…"), …]`).
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<WechatSettings> {
        Self::from_settings(&Settings::from_map(SETTINGS, pairs)?)
    }

    /// The settings of checked values.
    pub fn from_settings(settings: &Settings) -> Result<WechatSettings> {
        settings.deserialize()
    }

    /// The configuration builder these settings fill (carry on with its other methods).
    pub fn builder(&self) -> Result<WechatConfigBuilder> {
        let mut b = WechatConfig::builder();
        if let Some(appid) = &self.appid {
            b = b.appid(appid);
        }
        if let Some(secret) = &self.appsecret {
            b = b.appsecret(secret.clone());
        }
        if let Some(token) = &self.access_token {
            b = b.access_token(token.clone());
        }
        if let Some(scene) = &self.scene {
            b = b.scene(
                scene
                    .parse::<VideoScene>()
                    .map_err(|m| Error::invalid_input(m).with_platform(PLATFORM))?,
            );
        }
        if let Some(url) = &self.base_url {
            b = b.base_url(url);
        }
        Ok(b)
    }

    /// The provider configuration (a token, or the AppID and AppSecret, given).
    pub fn config(&self) -> Result<WechatConfig> {
        self.builder()?.build()
    }

    /// The uploader these settings configure.
    pub fn uploader(&self) -> Result<WechatUploader> {
        WechatUploader::new(self.config()?)
    }

    /// Who the account is: `wechat:<appid>` (`wechat:token` for a token without an AppID).
    pub fn identity(&self) -> Result<String> {
        self.config()?;
        Ok(format!(
            "wechat:{}",
            self.appid.as_deref().unwrap_or("token")
        ))
    }
}

/// WeChat Channels Store (微信小店), as a marketplace an application registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wechat;

impl Marketplace for Wechat {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn title(&self) -> &'static str {
        "WeChat Channels Store"
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn account(&self, settings: &Settings) -> Result<AccountInfo> {
        let s = WechatSettings::from_settings(settings)?;
        let c = s.config()?;
        let key = match &c.credentials {
            Credentials::App { appid, .. } => appid.clone(),
            Credentials::Token(_) => "token".into(),
        };
        Ok(AccountInfo::new(s.identity()?, c.effective_base_url()).with_pre_accounts_key(key))
    }

    fn connect(&self, settings: &Settings, options: &ConnectOptions) -> Result<Client> {
        let mut config = WechatSettings::from_settings(settings)?.config()?;
        config.options = options.client;
        Ok(Client::new(WechatUploader::new(config)?))
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let c = WechatSettings::from_settings(settings)?.config()?;
        let mut out = Settings::new(SETTINGS);
        match &c.credentials {
            Credentials::App { appid, appsecret } => {
                out.set("appid", appid, Origin::Code)?;
                out.set_secret("appsecret", appsecret.clone(), Origin::Code)?;
            }
            Credentials::Token(t) => out.set_secret("access_token", t.clone(), Origin::Code)?,
        }
        let scene = match c.scene {
            VideoScene::Product => "product",
            VideoScene::AfterSale => "after_sale",
        };
        out.set("scene", scene, Origin::Code)?;
        if let Some(url) = &c.base_url {
            out.set("base_url", url, Origin::Code)?;
        }
        Ok(out)
    }

    fn sandbox(&self, published: &serde_json::Value) -> Result<Settings> {
        let c = &published["credentials"];
        let mut s = Settings::new(SETTINGS);
        s.set(
            "appid",
            c["appid"].as_str().unwrap_or_default(),
            Origin::Sandbox,
        )?;
        s.set(
            "appsecret",
            c["appsecret"].as_str().unwrap_or_default(),
            Origin::Sandbox,
        )?;
        s.set(
            "base_url",
            published["base_url"].as_str().unwrap_or_default(),
            Origin::Sandbox,
        )?;
        Ok(s)
    }

    fn identity_hint(&self) -> &'static str {
        "an account is its appid; set appid on each"
    }

    fn identity_pattern(&self) -> &'static str {
        "wechat:<appid>"
    }
}

#[async_trait]
impl CheckAccount for WechatUploader {
    async fn check_account(&self) -> Result<AccountCheck> {
        WechatUploader::check_account(self).await
    }
}
