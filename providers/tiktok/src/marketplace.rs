//! TikTok Shop as a marketplace: its account settings, each declared once, and how an
//! account's settings become its identity, its uploader and its token calls ([`Tiktok`],
//! registered by the `marketmedia` crate's `tiktok` feature).
//!
//! ```no_run
//! use marketmedia_tiktok::TiktokSettings;
//! # fn demo() -> marketmedia_core::Result<()> {
//! // MARKETMEDIA_TIKTOK_APP_KEY, _APP_SECRET, _ACCESS_TOKEN…
//! let tiktok = TiktokSettings::from_env()?.uploader()?;
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use std::sync::Arc;

use marketmedia_core::raw::http::{self, ClientOptions};
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, Authorization, BoxFuture, CheckAccount, Client, ConnectOptions,
    CredentialKey, Error, Marketplace, Origin, RedactedUrl, Refresher, Result, Secret, Setting,
    Settings, TokenSource, Tokens,
};
use serde::Deserialize;

use crate::auth::TiktokAuth;
use crate::wire::{UseCase, AUTH_HOST};
use crate::{TiktokConfig, TiktokConfigBuilder, TiktokUploader, PLATFORM};

/// A TikTok Shop account's settings: the keys of `[accounts.NAME]` (with `marketplace =
/// "tiktok"`) and of `[tiktok]`, and the `MARKETMEDIA_TIKTOK_*` variables.
pub static SETTINGS: &[Setting] = &[
    Setting::text("app_key", "the app's key (Partner Center)")
        .required()
        .example("68xu9ks5p4i8"),
    Setting::secret(
        "app_secret",
        "the app's secret: every request is signed with it",
    )
    .required()
    .example("app-secret"),
    Setting::secret(
        "access_token",
        "the seller's access token (`x-tts-access-token`), used as given (not needed once \
         `marketmedia accounts authorize` stored the seller's tokens, or with `refresh_token`)",
    )
    .example("seller-access-token"),
    Setting::secret(
        "refresh_token",
        "a refresh token to start from when no tokens are stored",
    )
    .refining()
    .example("seller-refresh-token"),
    Setting::text(
        "seller",
        "the seller's name for its tokens (its `open_id`, or any stable name), shared by the \
         accounts of its shops: the credential `tiktok/APP_KEY/SELLER` (default `seller`)",
    )
    .refining()
    .example("kettle-store"),
    Setting::text(
        "shop_cipher",
        "the shop this account is for (Get Authorized Shops' `cipher`): checked by \
         `accounts check`, part of the identity; not sent with uploads (they refuse it)",
    )
    .refining()
    .example("ROW_xkMbgAAAeVAQra0eZWebFQq5aIK"),
    Setting::text(
        "service_id",
        "the app's service id, which the authorization page takes (`accounts authorize`)",
    )
    .refining()
    .example("7310000000000000001"),
    Setting::url(
        "auth_url",
        "the token calls' host overriding auth.tiktok-shops.com",
    )
    .example("http://127.0.0.1:8655"),
    Setting::url(
        "base_url",
        "the open API host overriding open-api.tiktokglobalshop.com",
    )
    .example("http://127.0.0.1:8655"),
    Setting::choice(
        "image_use_case",
        "what images are for (`use_case`, sent in capitals: `MAIN_IMAGE`…)",
        &[
            "main_image",
            "attribute_image",
            "description_image",
            "certification_image",
            "size_chart_image",
        ],
    )
    .refining()
    .example("description_image"),
];

/// The settings of one TikTok Shop account, as [`SETTINGS`] declares them.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiktokSettings {
    /// The app's key.
    pub app_key: Option<String>,
    /// The app's secret.
    pub app_secret: Option<Secret>,
    /// The seller's access token.
    pub access_token: Option<Secret>,
    /// A refresh token to start from.
    pub refresh_token: Option<Secret>,
    /// The seller's name for its tokens.
    pub seller: Option<String>,
    /// The shop's cipher.
    pub shop_cipher: Option<String>,
    /// The app's service id.
    pub service_id: Option<String>,
    /// The auth host.
    pub auth_url: Option<String>,
    /// The open API host.
    pub base_url: Option<String>,
    /// What images are for.
    pub image_use_case: Option<String>,
}

impl std::fmt::Debug for TiktokSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiktokSettings")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("seller", &self.seller)
            .field("shop_cipher", &self.shop_cipher)
            .field("service_id", &self.service_id)
            .field("auth_url", &self.auth_url.as_deref().map(RedactedUrl::new))
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .field("image_use_case", &self.image_use_case)
            .finish()
    }
}

impl TiktokSettings {
    /// The settings the `MARKETMEDIA_TIKTOK_*` variables give.
    pub fn from_env() -> Result<TiktokSettings> {
        Self::from_settings(&Settings::from_env(SETTINGS, &Tiktok.env_prefix())?)
    }

    /// The settings of a map of keys to values.
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<TiktokSettings> {
        Self::from_settings(&Settings::from_map(SETTINGS, pairs)?)
    }

    /// The settings of checked values.
    pub fn from_settings(settings: &Settings) -> Result<TiktokSettings> {
        settings.deserialize()
    }

    /// What images are for (`MAIN_IMAGE` when unset).
    pub fn use_case(&self) -> Result<UseCase> {
        match &self.image_use_case {
            Some(u) => u
                .parse()
                .map_err(|m: String| Error::invalid_input(m).with_platform(PLATFORM)),
            None => Ok(UseCase::default()),
        }
    }

    /// The configuration builder these settings fill.
    pub fn builder(&self) -> Result<TiktokConfigBuilder> {
        let mut b = TiktokConfig::builder().image_use_case(self.use_case()?);
        if let Some(k) = &self.app_key {
            b = b.app_key(k);
        }
        if let Some(s) = &self.app_secret {
            b = b.app_secret(s.clone());
        }
        match &self.access_token {
            Some(token) => b = b.access_token(token.clone()),
            // Who the account is needs no token: `connect` gives the managed source, or says
            // that none is stored.
            None => b = b.token_source(TokenSource::fixed(Secret::default())),
        }
        if let Some(c) = &self.shop_cipher {
            b = b.shop_cipher(c);
        }
        if let Some(url) = &self.base_url {
            b = b.base_url(url);
        }
        Ok(b)
    }

    /// The provider configuration.
    pub fn config(&self) -> Result<TiktokConfig> {
        self.builder()?.build()
    }

    /// The uploader these settings configure.
    pub fn uploader(&self) -> Result<TiktokUploader> {
        TiktokUploader::new(self.config()?)
    }

    /// The token calls of the app, on the account's auth host.
    pub fn auth(&self, options: Option<ClientOptions>) -> Result<TiktokAuth> {
        let c = self.config()?;
        let mut auth = TiktokAuth::new(&c.app_key, c.app_secret.clone())?;
        if let Some(url) = &self.auth_url {
            auth = auth.with_auth_host(url);
        }
        if let Some(id) = &self.service_id {
            auth = auth.with_service_id(id);
        }
        if let Some(options) = options {
            auth = auth.with_client(http::HttpClient::new(options)?);
        }
        Ok(auth)
    }

    /// The subject of the seller's credential: `seller`, or `seller` when unset.
    pub fn seller_subject(&self) -> &str {
        self.seller.as_deref().unwrap_or("seller")
    }

    /// Who the account is: `tiktok:<app_key>:<seller>`, `:<shop_cipher>` after it when set.
    pub fn identity(&self) -> Result<String> {
        let c = self.config()?;
        let mut id = format!("tiktok:{}:{}", c.app_key, self.seller_subject());
        if let Some(cipher) = &c.shop_cipher {
            id.push(':');
            id.push_str(cipher);
        }
        Ok(id)
    }
}

/// TikTok Shop's Partner API, as a marketplace an application registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tiktok;

impl Marketplace for Tiktok {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn title(&self) -> &'static str {
        "TikTok Shop"
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn account(&self, settings: &Settings) -> Result<AccountInfo> {
        let s = TiktokSettings::from_settings(settings)?;
        let c = s.config()?;
        Ok(AccountInfo::new(s.identity()?, c.effective_base_url()))
    }

    fn connect(&self, settings: &Settings, options: &ConnectOptions) -> Result<Client> {
        let s = TiktokSettings::from_settings(settings)?;
        let mut b = s.builder()?;
        match options.token_source(self.credential_key(settings)?.as_ref()) {
            Some(source) => b = b.token_source(source),
            None if s.access_token.is_none() => {
                return Err(Error::invalid_input(
                    "no access_token is set and no tokens are stored for this seller: run \
                     `marketmedia accounts authorize NAME` (or set access_token, or \
                     refresh_token)",
                )
                .with_platform(PLATFORM))
            }
            None => {}
        }
        let mut config = b.build()?;
        config.options = options.client;
        Ok(Client::new(TiktokUploader::new(config)?))
    }

    fn credential_key(&self, settings: &Settings) -> Result<Option<CredentialKey>> {
        let s = TiktokSettings::from_settings(settings)?;
        Ok(Some(s.auth(None)?.credential_key(s.seller_subject())?))
    }

    fn refresher(
        &self,
        settings: &Settings,
        options: &ConnectOptions,
    ) -> Result<Option<Arc<dyn Refresher>>> {
        let s = TiktokSettings::from_settings(settings)?;
        Ok(Some(Arc::new(s.auth(Some(options.client))?.refresher())))
    }

    fn authorization_url(&self, settings: &Settings) -> Result<String> {
        TiktokSettings::from_settings(settings)?
            .auth(None)?
            .authorization_url(None)
    }

    fn exchange_code<'a>(
        &'a self,
        settings: &'a Settings,
        authorization: &'a Authorization,
    ) -> BoxFuture<'a, Result<Vec<(CredentialKey, Tokens)>>> {
        Box::pin(async move {
            let s = TiktokSettings::from_settings(settings)?;
            let auth = s.auth(None)?;
            let tokens = auth.exchange_code(authorization.code.expose()).await?;
            Ok(vec![(auth.credential_key(s.seller_subject())?, tokens)])
        })
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let s = TiktokSettings::from_settings(settings)?;
        let c = s.config()?;
        let mut out = Settings::new(SETTINGS);
        out.set("app_key", &c.app_key, Origin::Code)?;
        out.set_secret("app_secret", c.app_secret.clone(), Origin::Code)?;
        if s.access_token.is_some() {
            out.set_secret("access_token", c.access_token.clone(), Origin::Code)?;
        }
        if let Some(v) = settings.secret("refresh_token") {
            out.set_secret("refresh_token", v.clone(), Origin::Code)?;
        }
        for key in ["seller", "service_id", "auth_url"] {
            if let Some(v) = settings.text(key) {
                out.set(key, v, Origin::Code)?;
            }
        }
        if let Some(cipher) = &c.shop_cipher {
            out.set("shop_cipher", cipher, Origin::Code)?;
        }
        if let Some(url) = &c.base_url {
            out.set("base_url", url, Origin::Code)?;
        }
        let use_case = c.image_use_case.as_str().to_ascii_lowercase();
        out.set("image_use_case", &use_case, Origin::Code)?;
        Ok(out)
    }

    fn sandbox(&self, published: &serde_json::Value) -> Result<Settings> {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let c = &published["credentials"];
        let account = &published["accounts"][0];
        let mut s = Settings::new(SETTINGS);
        s.set("app_key", &text(&c["app_key"]), Origin::Sandbox)?;
        s.set("app_secret", &text(&c["app_secret"]), Origin::Sandbox)?;
        s.set(
            "access_token",
            &text(&account["access_token"]),
            Origin::Sandbox,
        )?;
        s.set("base_url", &text(&published["base_url"]), Origin::Sandbox)?;
        let refresh = text(&account["refresh_token"]);
        if !refresh.is_empty() {
            s.set("refresh_token", &refresh, Origin::Sandbox)?;
            s.set("auth_url", &text(&published["auth_url"]), Origin::Sandbox)?;
            s.set("seller", &text(&account["open_id"]), Origin::Sandbox)?;
        }
        let cipher = text(&account["shop_cipher"]);
        if !cipher.is_empty() {
            s.set("shop_cipher", &cipher, Origin::Sandbox)?;
        }
        Ok(s)
    }

    fn identity_hint(&self) -> &'static str {
        "set seller (the seller's open_id, or a name of your own) or shop_cipher on each"
    }

    fn identity_pattern(&self) -> &'static str {
        "tiktok:<app_key>:<seller>[:<shop_cipher>]"
    }

    fn max_image_dimensions(&self) -> Option<(u32, u32)> {
        Some(UseCase::MainImage.max_dimensions())
    }
}

/// The production auth host, for the docs.
pub const DEFAULT_AUTH_URL: &str = AUTH_HOST;

#[async_trait]
impl CheckAccount for TiktokUploader {
    async fn check_account(&self) -> Result<AccountCheck> {
        TiktokUploader::check_account(self).await
    }
}
