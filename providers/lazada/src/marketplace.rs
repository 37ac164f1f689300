//! Lazada as a marketplace: its account settings, each declared once, and how an account's
//! settings become its identity and its uploader ([`Lazada`], registered by the
//! `marketmedia` crate's `lazada` feature).
//!
//! ```no_run
//! use marketmedia_lazada::LazadaSettings;
//! # fn demo() -> marketmedia_core::Result<()> {
//! // MARKETMEDIA_LAZADA_APP_KEY, _APP_SECRET, _ACCESS_TOKEN, _COUNTRY…
//! let lazada = LazadaSettings::from_env()?.uploader()?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, Authorization, BoxFuture, CheckAccount, Client, ConnectOptions,
    CredentialKey, Error, Marketplace, Origin, RedactedUrl, Refresher, Result, Secret, Setting,
    Settings, TokenSource, Tokens, UploadField, UploadMeta, COVER_URL, TITLE,
};

use crate::auth::LazadaAuth;
use serde::Deserialize;

use crate::config::{LazadaConfigBuilder, MAX_IMAGE_SIDE};
use crate::{LazadaConfig, LazadaUploader, Region, PLATFORM};

/// A Lazada account's settings: the keys of `[accounts.NAME]` (with `marketplace =
/// "lazada"`) and of `[lazada]`, and the `MARKETMEDIA_LAZADA_*` variables.
pub static SETTINGS: &[Setting] = &[
    Setting::text("app_key", "app key")
        .required()
        .example("100132"),
    Setting::secret("app_secret", "app secret")
        .required()
        .example("app-secret"),
    Setting::secret(
        "access_token",
        "the seller's access token, used as given (not needed once `marketmedia accounts \
         authorize` stored the seller's tokens, or with `refresh_token`)",
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
        "the seller's name for its tokens, shared by its accounts on other gateways (one \
         token serves all of a seller's countries): the credential `lazada/APP_KEY/SELLER` \
         (default `seller`)",
    )
    .refining()
    .example("kettle-store"),
    Setting::url(
        "auth_url",
        "the token calls' host overriding auth.lazada.com's, `/rest` included",
    )
    .example("http://127.0.0.1:8651/auth/rest"),
    Setting::url(
        "redirect_url",
        "the app's callback URL Lazada sends the seller back to after authorizing \
         (`accounts authorize`)",
    )
    .refining()
    .example("https://seller.example.com/lazada/authorized"),
    Setting::choice(
        "country",
        "the seller's country, whose gateway is the default host",
        &["sg", "my", "th", "vn", "ph", "id"],
    )
    .example("th"),
    Setting::text(
        "region",
        "the former name of `country` (the two must agree when both are set)",
    )
    .example("th"),
    Setting::text(
        "seller_id",
        "the seller's id in that country (`accounts check` shows it): the account's identity",
    )
    .refining()
    .example("1000123456"),
    Setting::url(
        "base_url",
        "a gateway overriding the country's, `/rest` included",
    )
    .example("http://127.0.0.1:8651/rest"),
    Setting::text(
        "title",
        "the video title (`--title` and a manifest's `lazada.title` win)",
    )
    .shared()
    .example("Blue kettle"),
    Setting::url(
        "cover_url",
        "the video cover's public URL (`--cover-url` and a manifest's `lazada.cover_url` win)",
    )
    .shared()
    .example("https://img.example.com/cover.jpg"),
];

/// What Lazada needs with every video.
pub static UPLOAD_FIELDS: &[UploadField] = &[
    UploadField {
        name: TITLE,
        help: "a title",
        required: true,
    },
    UploadField {
        name: COVER_URL,
        help: "a cover image URL",
        required: true,
    },
];

/// The settings of one Lazada account, as [`SETTINGS`] declares them: from the environment
/// ([`LazadaSettings::from_env`]), a map ([`LazadaSettings::from_map`]), or any serde
/// format (`#[serde(deny_unknown_fields)]`).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LazadaSettings {
    /// App key.
    pub app_key: Option<String>,
    /// App secret.
    pub app_secret: Option<Secret>,
    /// The seller's access token.
    pub access_token: Option<Secret>,
    /// A refresh token to start from when no tokens are stored.
    pub refresh_token: Option<Secret>,
    /// The seller's name for its tokens (default `seller`).
    pub seller: Option<String>,
    /// The token calls' host.
    pub auth_url: Option<String>,
    /// The app's callback URL.
    pub redirect_url: Option<String>,
    /// The seller's country (`sg` when unset).
    pub country: Option<String>,
    /// The former name of `country`.
    pub region: Option<String>,
    /// The seller's id in that country.
    pub seller_id: Option<String>,
    /// A gateway overriding the country's.
    pub base_url: Option<String>,
    /// Default video title.
    pub title: Option<String>,
    /// Default video cover URL.
    pub cover_url: Option<String>,
}

impl std::fmt::Debug for LazadaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazadaSettings")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("seller", &self.seller)
            .field("auth_url", &self.auth_url.as_deref().map(RedactedUrl::new))
            .field(
                "redirect_url",
                &self.redirect_url.as_deref().map(RedactedUrl::new),
            )
            .field("country", &self.country)
            .field("region", &self.region)
            .field("seller_id", &self.seller_id)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .field("title", &self.title)
            .field(
                "cover_url",
                &self.cover_url.as_deref().map(RedactedUrl::new),
            )
            .finish()
    }
}

impl LazadaSettings {
    /// The settings the `MARKETMEDIA_LAZADA_*` variables give.
    pub fn from_env() -> Result<LazadaSettings> {
        Self::from_settings(&Settings::from_env(SETTINGS, &Lazada.env_prefix())?)
    }

    /// The settings of a map of keys to values (`[("app_key", "100132"), …]`).
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<LazadaSettings> {
        Self::from_settings(&Settings::from_map(SETTINGS, pairs)?)
    }

    /// The settings of checked values.
    pub fn from_settings(settings: &Settings) -> Result<LazadaSettings> {
        settings.deserialize()
    }

    /// The seller's country: `country`, or its former name `region` (the two must agree),
    /// `sg` when neither is set.
    pub fn country(&self) -> Result<Region> {
        match (&self.country, &self.region) {
            (Some(c), Some(r)) if !c.trim().eq_ignore_ascii_case(r.trim()) => {
                Err(Error::invalid_input(format!(
                    "country = {c:?} and region = {r:?} differ; region is the former name of \
                     country, keep one"
                ))
                .with_platform(PLATFORM))
            }
            (Some(c), _) | (None, Some(c)) => c.parse(),
            (None, None) => Ok(Region::Sg),
        }
    }

    /// The configuration builder these settings fill (carry on with its other methods).
    pub fn builder(&self) -> Result<LazadaConfigBuilder> {
        let mut b = LazadaConfig::builder().region(self.country()?);
        if let Some(key) = &self.app_key {
            b = b.app_key(key);
        }
        if let Some(secret) = &self.app_secret {
            b = b.app_secret(secret.clone());
        }
        match &self.access_token {
            Some(token) => b = b.access_token(token.clone()),
            // Who the account is needs no token: `connect` gives the managed source, or says
            // that none is stored.
            None => b = b.token_source(TokenSource::fixed(Secret::default())),
        }
        if let Some(url) = &self.base_url {
            b = b.base_url(url);
        }
        Ok(b)
    }

    /// The provider configuration (every required setting given).
    pub fn config(&self) -> Result<LazadaConfig> {
        self.builder()?.build()
    }

    /// The per-upload defaults these settings give (title and cover): give them with each
    /// upload ([`marketmedia_core::UploadDriver::with_meta`]), a product's own over them.
    pub fn upload_defaults(&self) -> UploadMeta {
        let mut meta = UploadMeta::default();
        meta.title = self.title.clone();
        meta.cover_url = self.cover_url.clone();
        meta
    }

    /// The uploader these settings configure (its videos' title and cover travel with each
    /// upload: [`LazadaSettings::upload_defaults`]).
    pub fn uploader(&self) -> Result<LazadaUploader> {
        LazadaUploader::new(self.config()?)
    }

    /// The token calls of the app ([`LazadaAuth`]), on `auth_url` when set.
    pub fn auth(&self, config: &LazadaConfig) -> Result<LazadaAuth> {
        let auth = LazadaAuth::from_config(config)?;
        Ok(match &self.auth_url {
            Some(url) => auth.with_base_url(url),
            None => auth,
        })
    }

    /// The subject of the seller's credential: the `seller` setting, or `seller` when unset.
    pub fn seller_subject(&self) -> &str {
        self.seller
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("seller")
    }

    /// Who the account is: `lazada:<country>:<seller_id>`, or `lazada:<country>:app:<app_key>`
    /// without a seller id.
    pub fn identity(&self) -> Result<String> {
        let country = self.country()?;
        Ok(match (&self.seller_id, &self.app_key) {
            (Some(seller), _) => format!("lazada:{country}:{seller}"),
            (None, Some(app)) => format!("lazada:{country}:app:{app}"),
            (None, None) => {
                return Err(Error::invalid_input("the Lazada settings have no app_key")
                    .with_platform(PLATFORM))
            }
        })
    }
}

/// Lazada Open Platform (Media Center), as a marketplace an application registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lazada;

impl Marketplace for Lazada {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn title(&self) -> &'static str {
        "Lazada"
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn upload_fields(&self) -> &'static [UploadField] {
        UPLOAD_FIELDS
    }

    fn account(&self, settings: &Settings) -> Result<AccountInfo> {
        let s = LazadaSettings::from_settings(settings)?;
        let config = s.config()?;
        Ok(AccountInfo::new(s.identity()?, config.effective_base_url())
            .with_country(Some(config.region.code().to_owned()))
            .with_pre_accounts_key(config.app_key.clone()))
    }

    fn connect(&self, settings: &Settings, options: &ConnectOptions) -> Result<Client> {
        let s = LazadaSettings::from_settings(settings)?;
        let mut b = s.builder()?;
        match options.token_source(self.credential_key(settings)?.as_ref()) {
            Some(source) => b = b.token_source(source),
            None if s.access_token.is_none() => {
                return Err(Error::invalid_input(
                    "no access_token is set and no tokens are stored for this seller: run \
                     `marketmedia accounts authorize NAME` (or set access_token or \
                     refresh_token)",
                )
                .with_platform(PLATFORM))
            }
            None => {}
        }
        let mut config = b.build()?;
        config.options = options.client;
        // One uploader for every product: each upload's title and cover travel with it, the
        // account's settings of the same keys as their defaults.
        let uploader = Arc::new(LazadaUploader::new(config)?);
        Ok(Client::from_arc(uploader).with_upload_defaults(s.upload_defaults()))
    }

    fn credential_key(&self, settings: &Settings) -> Result<Option<CredentialKey>> {
        let s = LazadaSettings::from_settings(settings)?;
        let auth = s.auth(&s.config()?)?;
        Ok(Some(auth.credential_key(s.seller_subject())?))
    }

    fn refresher(
        &self,
        settings: &Settings,
        options: &ConnectOptions,
    ) -> Result<Option<Arc<dyn Refresher>>> {
        let s = LazadaSettings::from_settings(settings)?;
        let mut config = s.config()?;
        config.options = options.client;
        Ok(Some(Arc::new(s.auth(&config)?.refresher())))
    }

    fn authorization_url(&self, settings: &Settings) -> Result<String> {
        let s = LazadaSettings::from_settings(settings)?;
        let redirect = s
            .redirect_url
            .as_deref()
            .ok_or_else(|| Error::missing_setting(PLATFORM, "redirect_url"))?;
        let config = s.config()?;
        s.auth(&config)?
            .authorization_url(redirect, Some(config.region.code()))
    }

    fn exchange_code<'a>(
        &'a self,
        settings: &'a Settings,
        authorization: &'a Authorization,
    ) -> BoxFuture<'a, Result<Vec<(CredentialKey, Tokens)>>> {
        Box::pin(async move {
            let s = LazadaSettings::from_settings(settings)?;
            let auth = s.auth(&s.config()?)?;
            let tokens = auth.exchange_code(authorization.code.expose()).await?;
            Ok(vec![(auth.credential_key(s.seller_subject())?, tokens)])
        })
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let s = LazadaSettings::from_settings(settings)?;
        let uploader = s.uploader()?;
        let c = uploader.config();
        let mut out = Settings::new(SETTINGS);
        out.set("app_key", &c.app_key, Origin::Code)?;
        out.set_secret("app_secret", c.app_secret.clone(), Origin::Code)?;
        if s.access_token.is_some() {
            out.set_secret("access_token", c.access_token.clone(), Origin::Code)?;
        }
        if let Some(v) = settings.secret("refresh_token") {
            out.set_secret("refresh_token", v.clone(), Origin::Code)?;
        }
        for key in ["seller", "auth_url", "redirect_url"] {
            if let Some(v) = settings.text(key) {
                out.set(key, v, Origin::Code)?;
            }
        }
        out.set("country", c.region.code(), Origin::Code)?;
        out.set("region", c.region.code(), Origin::Code)?;
        if let Some(url) = &c.base_url {
            out.set("base_url", url, Origin::Code)?;
        }
        // The title and cover are the client's uploads' defaults (`connect`).
        let o = s.upload_defaults();
        out.set("title", o.title.as_deref().unwrap_or(""), Origin::Code)?;
        out.set(
            "cover_url",
            o.cover_url.as_deref().unwrap_or(""),
            Origin::Code,
        )?;
        // The seller id only names the account: it reaches its identity.
        if let Some(seller) = &s.seller_id {
            let identity = s.identity()?;
            if identity == format!("lazada:{}:{seller}", c.region.code()) {
                out.set("seller_id", seller, Origin::Code)?;
            }
        }
        Ok(out)
    }

    fn sandbox(&self, published: &serde_json::Value) -> Result<Settings> {
        let c = &published["credentials"];
        let mut s = Settings::new(SETTINGS);
        s.set("app_key", text(&c["app_key"]), Origin::Sandbox)?;
        s.set("app_secret", text(&c["app_secret"]), Origin::Sandbox)?;
        s.set("access_token", text(&c["access_token"]), Origin::Sandbox)?;
        if !text(&c["refresh_token"]).is_empty() {
            s.set("refresh_token", text(&c["refresh_token"]), Origin::Sandbox)?;
        }
        if !text(&published["auth_base_url"]).is_empty() {
            s.set(
                "auth_url",
                text(&published["auth_base_url"]),
                Origin::Sandbox,
            )?;
        }
        s.set("base_url", text(&published["base_url"]), Origin::Sandbox)?;
        // A cover on the simulator's CDN: Lazada requires one with every video.
        if let Some(cdn) = published["cdn_base_url"].as_str() {
            let cover = format!("{}/sandbox-cover.jpg", cdn.trim_end_matches('/'));
            s.set("cover_url", &cover, Origin::Sandbox)?;
        }
        Ok(s)
    }

    fn identity_hint(&self) -> &'static str {
        "a Lazada account is a seller in a country; set seller_id (from `marketmedia accounts \
         check`) on each, or give them different countries"
    }

    fn identity_pattern(&self) -> &'static str {
        "lazada:<country>:<seller_id>"
    }

    fn max_image_dimensions(&self) -> Option<(u32, u32)> {
        Some((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    }
}

fn text(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[async_trait]
impl CheckAccount for LazadaUploader {
    async fn check_account(&self) -> Result<AccountCheck> {
        LazadaUploader::check_account(self).await
    }
}
