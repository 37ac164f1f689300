//! Shopee as a marketplace: its account settings, each declared once, and how an account's
//! settings become its identity and its uploader ([`Shopee`], registered by the `marketmedia`
//! crate's `shopee` feature).
//!
//! ```no_run
//! use marketmedia_shopee::ShopeeSettings;
//! # fn demo() -> marketmedia_core::Result<()> {
//! // MARKETMEDIA_SHOPEE_PARTNER_ID, _PARTNER_KEY, _SHOP_ID, _ACCESS_TOKEN…
//! let shopee = ShopeeSettings::from_env()?.uploader()?;
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, CheckAccount, Client, ConnectOptions, Error, Marketplace, Origin,
    RedactedUrl, Result, Secret, Setting, Settings,
};
use serde::Deserialize;

use crate::config::ShopeeConfigBuilder;
use crate::{ShopeeConfig, ShopeeModule, ShopeeRegion, ShopeeUploader, PLATFORM};

/// A Shopee account's settings: the keys of `[accounts.NAME]` (with `marketplace =
/// "shopee"`) and of `[shopee]`, and the `MARKETMEDIA_SHOPEE_*` variables.
pub static SETTINGS: &[Setting] = &[
    Setting::number("partner_id", "partner (app) id")
        .required()
        .example("2001887"),
    Setting::secret("partner_key", "partner key")
        .required()
        .example("partner-key"),
    Setting::number("shop_id", "shop id")
        .required()
        .example("600001"),
    Setting::secret(
        "access_token",
        "the shop's access token (refresh it outside marketmedia)",
    )
    .required()
    .example("shop-access-token"),
    Setting::choice(
        "region",
        "the API host: `production` is partner.shopeemobile.com",
        &["production", "test", "china", "brazil"],
    )
    .example("test"),
    Setting::text(
        "country",
        "the shop's country or site (`sg`, `my`, `br`…): shown by `accounts`, not sent",
    )
    .refining()
    .example("sg"),
    Setting::choice(
        "module",
        "which of Shopee's media modules videos and images go to (`docs/platforms/shopee.md`, \
         \"The two media modules\")",
        &["media_space", "media"],
    )
    .example("media")
    .shared()
    .on_command_line(),
    Setting::url(
        "base_url",
        "a host overriding the region's (a simulator, a proxy)",
    )
    .example("http://127.0.0.1:8650"),
];

/// The settings of one Shopee account, as [`SETTINGS`] declares them: from the environment
/// ([`ShopeeSettings::from_env`]), a map ([`ShopeeSettings::from_map`]), or any serde
/// format (`#[serde(deny_unknown_fields)]`: a misspelt key is an error).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopeeSettings {
    /// Partner (app) id.
    pub partner_id: Option<u64>,
    /// Partner key.
    pub partner_key: Option<Secret>,
    /// Shop id.
    pub shop_id: Option<u64>,
    /// The shop's access token.
    pub access_token: Option<Secret>,
    /// `production` (default), `test`, `china` or `brazil`.
    pub region: Option<String>,
    /// The shop's country or site, shown only.
    pub country: Option<String>,
    /// `media_space` (default) or `media`.
    pub module: Option<String>,
    /// A host overriding the region's.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for ShopeeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopeeSettings")
            .field("partner_id", &self.partner_id)
            .field("partner_key", &self.partner_key)
            .field("shop_id", &self.shop_id)
            .field("access_token", &self.access_token)
            .field("region", &self.region)
            .field("country", &self.country)
            .field("module", &self.module)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .finish()
    }
}

impl ShopeeSettings {
    /// The settings the `MARKETMEDIA_SHOPEE_*` variables give.
    pub fn from_env() -> Result<ShopeeSettings> {
        Self::from_settings(&Settings::from_env(SETTINGS, &Shopee.env_prefix())?)
    }

    /// The settings of a map of keys to values (`[("partner_id", "2001887"), …]`).
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ShopeeSettings> {
        Self::from_settings(&Settings::from_map(SETTINGS, pairs)?)
    }

    /// The settings of checked values.
    pub fn from_settings(settings: &Settings) -> Result<ShopeeSettings> {
        settings.deserialize()
    }

    /// The configuration builder these settings fill (carry on with its other methods).
    pub fn builder(&self) -> Result<ShopeeConfigBuilder> {
        let mut b = ShopeeConfig::builder();
        if let Some(id) = self.partner_id {
            b = b.partner_id(id);
        }
        if let Some(key) = &self.partner_key {
            b = b.partner_key(key.clone());
        }
        if let Some(id) = self.shop_id {
            b = b.shop_id(id);
        }
        if let Some(token) = &self.access_token {
            b = b.access_token(token.clone());
        }
        if let Some(region) = &self.region {
            let region: ShopeeRegion = region
                .parse()
                .map_err(|m: String| Error::invalid_input(m).with_platform(PLATFORM))?;
            b = b.region(region);
        }
        if let Some(url) = &self.base_url {
            b = b.base_url(url);
        }
        if let Some(module) = &self.module {
            let module: ShopeeModule = module
                .parse()
                .map_err(|m: String| Error::invalid_input(m).with_platform(PLATFORM))?;
            b = b.module(module);
        }
        Ok(b)
    }

    /// The provider configuration (every required setting given).
    pub fn config(&self) -> Result<ShopeeConfig> {
        self.builder()?.build()
    }

    /// The uploader these settings configure.
    pub fn uploader(&self) -> Result<ShopeeUploader> {
        ShopeeUploader::new(self.config()?)
    }

    /// Who the account is: `shopee:<partner_id>:<shop_id>`.
    pub fn identity(&self) -> Result<String> {
        let config = self.config()?;
        Ok(format!("shopee:{}:{}", config.partner_id, config.shop_id))
    }
}

fn region_name(region: ShopeeRegion) -> &'static str {
    match region {
        ShopeeRegion::Production => "production",
        ShopeeRegion::Test => "test",
        ShopeeRegion::China => "china",
        ShopeeRegion::Brazil => "brazil",
    }
}

/// Shopee Open Platform v2, as a marketplace an application registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shopee;

impl Marketplace for Shopee {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn title(&self) -> &'static str {
        "Shopee"
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn account(&self, settings: &Settings) -> Result<AccountInfo> {
        let s = ShopeeSettings::from_settings(settings)?;
        let config = s.config()?;
        Ok(AccountInfo::new(s.identity()?, config.effective_base_url())
            .with_country(s.country.map(|c| c.to_ascii_lowercase()))
            .with_pre_accounts_key(config.shop_id.to_string()))
    }

    fn connect(&self, settings: &Settings, options: &ConnectOptions) -> Result<Client> {
        let mut config = ShopeeSettings::from_settings(settings)?.config()?;
        config.options = options.client;
        Ok(Client::new(ShopeeUploader::new(config)?))
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let s = ShopeeSettings::from_settings(settings)?;
        let c = s.config()?;
        let mut out = Settings::new(SETTINGS);
        out.set("partner_id", &c.partner_id.to_string(), Origin::Code)?;
        out.set_secret("partner_key", c.partner_key.clone(), Origin::Code)?;
        out.set("shop_id", &c.shop_id.to_string(), Origin::Code)?;
        out.set_secret("access_token", c.access_token.clone(), Origin::Code)?;
        out.set("region", region_name(c.region), Origin::Code)?;
        out.set("module", c.module.as_str(), Origin::Code)?;
        if let Some(url) = &c.base_url {
            out.set("base_url", url, Origin::Code)?;
        }
        if let Some(country) = self.account(settings)?.country {
            out.set("country", &country, Origin::Code)?;
        }
        Ok(out)
    }

    fn sandbox(&self, published: &serde_json::Value) -> Result<Settings> {
        let c = &published["credentials"];
        let mut s = Settings::new(SETTINGS);
        s.set("partner_id", &c["partner_id"].to_string(), Origin::Sandbox)?;
        s.set("partner_key", text(&c["partner_key"]), Origin::Sandbox)?;
        s.set("shop_id", &c["shop_id"].to_string(), Origin::Sandbox)?;
        s.set("access_token", text(&c["access_token"]), Origin::Sandbox)?;
        s.set("base_url", text(&published["base_url"]), Origin::Sandbox)?;
        Ok(s)
    }

    fn identity_hint(&self) -> &'static str {
        "an account is its partner_id and shop_id; remove one"
    }

    fn identity_pattern(&self) -> &'static str {
        "shopee:<partner_id>:<shop_id>"
    }
}

fn text(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[async_trait]
impl CheckAccount for ShopeeUploader {
    async fn check_account(&self) -> Result<AccountCheck> {
        ShopeeUploader::check_account(self).await
    }
}
