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

use std::sync::Arc;

use async_trait::async_trait;
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, Authorization, BoxFuture, CheckAccount, Client, ConnectOptions,
    CredentialKey, Error, Marketplace, Origin, RedactedUrl, Refresher, Result, Secret, Setting,
    Settings, TokenSource, Tokens,
};
use serde::Deserialize;

use crate::auth::{Grantee, ShopeeAuth, Subject};

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
        "the shop's access token, used as given (not needed once `marketmedia accounts \
         authorize` stored the shop's tokens, or with `refresh_token`)",
    )
    .example("shop-access-token"),
    Setting::secret(
        "refresh_token",
        "a refresh token to start from when no tokens are stored (each refresh spends it and \
         the store keeps the new one)",
    )
    .refining()
    .example("shop-refresh-token"),
    Setting::url(
        "redirect_url",
        "where Shopee sends the seller back after authorizing the app (`accounts authorize`)",
    )
    .refining()
    .example("https://seller.example.com/shopee/authorized"),
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
    /// A refresh token to start from when no tokens are stored.
    pub refresh_token: Option<Secret>,
    /// Where Shopee sends the seller back after authorizing.
    pub redirect_url: Option<String>,
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
            .field("refresh_token", &self.refresh_token)
            .field(
                "redirect_url",
                &self.redirect_url.as_deref().map(RedactedUrl::new),
            )
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
        match &self.access_token {
            Some(token) => b = b.access_token(token.clone()),
            // Who the account is needs no token: `connect` gives the managed source, or says
            // that none is stored.
            None => b = b.token_source(TokenSource::fixed(Secret::default())),
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
        let s = ShopeeSettings::from_settings(settings)?;
        let mut b = s.builder()?;
        match options.token_source(self.credential_key(settings)?.as_ref()) {
            Some(source) => b = b.token_source(source),
            None if s.access_token.is_none() => return Err(no_tokens(PLATFORM, settings)),
            None => {}
        }
        let mut config = b.build()?;
        config.options = options.client;
        Ok(Client::new(ShopeeUploader::new(config)?))
    }

    fn credential_key(&self, settings: &Settings) -> Result<Option<CredentialKey>> {
        let config = ShopeeSettings::from_settings(settings)?.config()?;
        let auth = ShopeeAuth::from_config(&config)?;
        Ok(Some(auth.credential_key(Subject::Shop(config.shop_id))?))
    }

    fn refresher(
        &self,
        settings: &Settings,
        options: &ConnectOptions,
    ) -> Result<Option<Arc<dyn Refresher>>> {
        let mut config = ShopeeSettings::from_settings(settings)?.config()?;
        config.options = options.client;
        let auth = ShopeeAuth::from_config(&config)?;
        Ok(Some(Arc::new(
            auth.refresher(Subject::Shop(config.shop_id)),
        )))
    }

    fn authorization_url(&self, settings: &Settings) -> Result<String> {
        let s = ShopeeSettings::from_settings(settings)?;
        let redirect = s
            .redirect_url
            .as_deref()
            .ok_or_else(|| Error::missing_setting(PLATFORM, "redirect_url"))?;
        ShopeeAuth::from_config(&s.config()?)?.authorization_url(redirect)
    }

    fn exchange_code<'a>(
        &'a self,
        settings: &'a Settings,
        authorization: &'a Authorization,
    ) -> BoxFuture<'a, Result<Vec<(CredentialKey, Tokens)>>> {
        Box::pin(async move {
            let config = ShopeeSettings::from_settings(settings)?.config()?;
            let auth = ShopeeAuth::from_config(&config)?;
            let grantee = match (authorization.shop_id, authorization.main_account_id) {
                (Some(_), Some(_)) => {
                    return Err(
                        Error::invalid_input("give shop_id or main_account_id, not both")
                            .with_platform(PLATFORM),
                    )
                }
                (Some(id), None) => Grantee::Shop(id),
                (None, Some(id)) => Grantee::MainAccount(id),
                // The account's own shop, as a shop's authorization redirects with it.
                (None, None) => Grantee::Shop(config.shop_id),
            };
            let tokens = auth
                .exchange_code(authorization.code.expose(), grantee)
                .await?;
            let mut subjects = Subject::listed_in(&tokens);
            if subjects.is_empty() {
                subjects.push(Subject::Shop(config.shop_id));
            }
            if !subjects.contains(&Subject::Shop(config.shop_id)) {
                return Err(Error::invalid_input(format!(
                    "the authorization is for {}, not this account's shop {}",
                    subjects
                        .iter()
                        .map(|s| s.key_part())
                        .collect::<Vec<_>>()
                        .join(", "),
                    config.shop_id
                ))
                .with_platform(PLATFORM));
            }
            subjects
                .into_iter()
                .map(|subject| Ok((auth.credential_key(subject)?, tokens.clone())))
                .collect()
        })
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let s = ShopeeSettings::from_settings(settings)?;
        let c = s.config()?;
        let mut out = Settings::new(SETTINGS);
        out.set("partner_id", &c.partner_id.to_string(), Origin::Code)?;
        out.set_secret("partner_key", c.partner_key.clone(), Origin::Code)?;
        out.set("shop_id", &c.shop_id.to_string(), Origin::Code)?;
        if s.access_token.is_some() {
            out.set_secret("access_token", c.access_token.clone(), Origin::Code)?;
        }
        if let Some(token) = &s.refresh_token {
            out.set_secret("refresh_token", token.clone(), Origin::Code)?;
        }
        if let Some(url) = &s.redirect_url {
            out.set("redirect_url", url, Origin::Code)?;
        }
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
        // The shop's refresh token, for the sandbox's own credential store.
        let shop = published["accounts"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["shop_id"] == c["shop_id"]));
        if let Some(refresh) = shop
            .map(|a| text(&a["refresh_token"]))
            .filter(|t| !t.is_empty())
        {
            s.set("refresh_token", refresh, Origin::Sandbox)?;
        }
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

/// The error of an account with neither an access token nor stored tokens.
fn no_tokens(platform: &str, _settings: &Settings) -> Error {
    Error::invalid_input(
        "no access_token is set and no tokens are stored for this shop: run `marketmedia \
         accounts authorize NAME` (or set access_token or refresh_token)",
    )
    .with_platform(platform)
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
