//! Shopify as a marketplace: a store's settings, each declared once, and how they become its
//! identity, its token calls and its uploader ([`Shopify`], registered by the `marketmedia`
//! crate's `shopify` feature).
//!
//! ```no_run
//! use marketmedia_shopify::ShopifySettings;
//! # fn demo() -> marketmedia_core::Result<()> {
//! // MARKETMEDIA_SHOPIFY_SHOP, _ACCESS_TOKEN, _API_VERSION…
//! let shopify = ShopifySettings::from_env()?.uploader()?;
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use std::sync::Arc;

use marketmedia_core::raw::http::{self, ClientOptions};
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, Authorization, BoxFuture, CheckAccount, Client, ConnectOptions,
    CredentialKey, Error, Marketplace, Origin, RedactedUrl, Refresher, Result, Secret, Setting,
    Settings, TokenSource, Tokens, UploadField, DESCRIPTION,
};
use serde::Deserialize;

use crate::auth::ShopifyAuth;
use crate::{ShopifyConfig, ShopifyConfigBuilder, ShopifyUploader, StagedMethod, PLATFORM};

/// A store's settings: the keys of `[accounts.NAME]` (with `marketplace = "shopify"`) and of
/// `[shopify]`, and the `MARKETMEDIA_SHOPIFY_*` variables.
pub static SETTINGS: &[Setting] = &[
    Setting::text(
        "shop",
        "the store's domain, `NAME.myshopify.com` (the account's identity)",
    )
    .required()
    .example("my-store.myshopify.com"),
    Setting::secret(
        "access_token",
        "the store's offline access token (`X-Shopify-Access-Token`): a non-expiring one used \
         as given, or an expiring one (60 minutes) refreshed with `refresh_token`; not needed \
         once `marketmedia accounts authorize` stored the store's tokens",
    )
    .example("shpat_0123456789abcdef"),
    Setting::text(
        "client_id",
        "the app's client id (API key): token refresh and `accounts authorize`",
    )
    .refining()
    .example("0a1b2c3d4e5f67890a1b2c3d4e5f6789"),
    Setting::secret(
        "client_secret",
        "the app's client secret: token refresh and `accounts authorize`",
    )
    .refining()
    .example("shpss_0123456789abcdef"),
    Setting::secret(
        "refresh_token",
        "an expiring offline token's refresh token, to start from when no tokens are stored \
         (replaced on every refresh)",
    )
    .refining()
    .example("shprt_0123456789abcdef"),
    Setting::url(
        "redirect_uri",
        "the app's redirect URL the consent sends the code to: `accounts authorize`",
    )
    .refining()
    .example("https://example.com/shopify/callback"),
    Setting::text(
        "api_version",
        "the Admin API version in the path (`/admin/api/VERSION/graphql.json`)",
    )
    .default(crate::DEFAULT_API_VERSION)
    .example("2026-10"),
    Setting::url(
        "base_url",
        "a base URL replacing `https://SHOP` (the GraphQL and token paths are appended)",
    )
    .example("http://127.0.0.1:8655"),
    Setting::choice(
        "staged_method",
        "how the file goes to the staged target: a multipart `post` or a `put`",
        &["post", "put"],
    )
    .example("post"),
    Setting::text(
        "usage",
        "where uploads go: `product:<product id>` (productCreateMedia) or `files` (fileCreate, \
         the default)",
    )
    .refining()
    .example("product:8001"),
    Setting::text("description", "the media's alt text")
        .refining()
        .example("A kettle, in blue"),
];

/// What Shopify takes with a video (both optional).
pub static UPLOAD_FIELDS: &[UploadField] = &[
    UploadField {
        name: "usage",
        help: "a destination, `product:<product id>` or `files`",
        required: false,
    },
    UploadField {
        name: DESCRIPTION,
        help: "alt text",
        required: false,
    },
];

/// The settings of one store, as [`SETTINGS`] declares them.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifySettings {
    /// The store's domain.
    pub shop: Option<String>,
    /// The offline access token.
    pub access_token: Option<Secret>,
    /// The app's client id.
    pub client_id: Option<String>,
    /// The app's client secret.
    pub client_secret: Option<Secret>,
    /// A refresh token to start from.
    pub refresh_token: Option<Secret>,
    /// The app's redirect URL.
    pub redirect_uri: Option<String>,
    /// The Admin API version.
    pub api_version: Option<String>,
    /// A base URL replacing `https://SHOP`.
    pub base_url: Option<String>,
    /// `POST` or `PUT`.
    pub staged_method: Option<String>,
    /// Default destination.
    pub usage: Option<String>,
    /// Default alt text.
    pub description: Option<String>,
}

impl std::fmt::Debug for ShopifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifySettings")
            .field("shop", &self.shop)
            .field("access_token", &self.access_token)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("refresh_token", &self.refresh_token)
            .field(
                "redirect_uri",
                &self.redirect_uri.as_deref().map(RedactedUrl::new),
            )
            .field("api_version", &self.api_version)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .field("staged_method", &self.staged_method)
            .field("usage", &self.usage)
            .field("description", &self.description)
            .finish()
    }
}

impl ShopifySettings {
    /// The settings the `MARKETMEDIA_SHOPIFY_*` variables give.
    pub fn from_env() -> Result<ShopifySettings> {
        Self::from_settings(&Settings::from_env(SETTINGS, &Shopify.env_prefix())?)
    }

    /// The settings of a map of keys to values.
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ShopifySettings> {
        Self::from_settings(&Settings::from_map(SETTINGS, pairs)?)
    }

    /// The settings of checked values.
    pub fn from_settings(settings: &Settings) -> Result<ShopifySettings> {
        settings.deserialize()
    }

    fn staged_method(&self) -> Result<StagedMethod> {
        match &self.staged_method {
            Some(m) => m
                .parse()
                .map_err(|m: String| Error::invalid_input(m).with_platform(PLATFORM)),
            None => Ok(StagedMethod::default()),
        }
    }

    /// The configuration builder these settings fill.
    pub fn builder(&self) -> Result<ShopifyConfigBuilder> {
        let shop = self
            .shop
            .clone()
            .ok_or_else(|| Error::missing_setting(PLATFORM, "shop"))?;
        let mut b = ShopifyConfig::builder()
            .shop(shop)
            .staged_method(self.staged_method()?);
        match &self.access_token {
            Some(token) => b = b.access_token(token.clone()),
            None => b = b.token_source(TokenSource::fixed(Secret::default())),
        }
        if let Some(v) = &self.api_version {
            b = b.api_version(v);
        }
        if let Some(url) = &self.base_url {
            b = b.base_url(url);
        }
        Ok(b)
    }

    /// The provider configuration.
    pub fn config(&self) -> Result<ShopifyConfig> {
        self.builder()?.build()
    }

    /// The per-upload defaults these settings give (destination and alt text).
    pub fn upload_defaults(&self) -> marketmedia_core::UploadMeta {
        let mut meta = marketmedia_core::UploadMeta::default();
        meta.usage = self.usage.clone();
        meta.description = self.description.clone();
        meta
    }

    /// The uploader these settings configure.
    pub fn uploader(&self) -> Result<ShopifyUploader> {
        ShopifyUploader::new(self.config()?)
    }

    /// The app's token calls on this store: `None` without `client_id` and `client_secret`
    /// (the access token is then used as given: a non-expiring offline token).
    pub fn auth(&self, options: Option<ClientOptions>) -> Result<Option<ShopifyAuth>> {
        let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            return Ok(None);
        };
        let config = self.config()?;
        let mut auth = ShopifyAuth::new(id, secret.clone(), &config.shop)?
            .with_base_url(&config.effective_base_url());
        if let Some(uri) = &self.redirect_uri {
            auth = auth.with_redirect_uri(uri);
        }
        if let Some(options) = options {
            auth = auth.with_client(http::HttpClient::new(options)?);
        }
        Ok(Some(auth))
    }

    fn authorizing(&self) -> Result<ShopifyAuth> {
        if self.redirect_uri.is_none() {
            return Err(Error::missing_setting(PLATFORM, "redirect_uri"));
        }
        self.auth(None)?.ok_or_else(|| {
            Error::invalid_input("set client_id and client_secret (the app's keys)")
                .with_platform(PLATFORM)
        })
    }

    /// Who the account is: `shopify:<shop>`.
    pub fn identity(&self) -> Result<String> {
        Ok(format!("shopify:{}", self.config()?.shop))
    }
}

/// Shopify's Admin GraphQL API, as a marketplace an application registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shopify;

impl Marketplace for Shopify {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn title(&self) -> &'static str {
        "Shopify"
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn upload_fields(&self) -> &'static [UploadField] {
        UPLOAD_FIELDS
    }

    fn account(&self, settings: &Settings) -> Result<AccountInfo> {
        let s = ShopifySettings::from_settings(settings)?;
        let c = s.config()?;
        Ok(AccountInfo::new(s.identity()?, c.graphql_url()))
    }

    fn connect(&self, settings: &Settings, options: &ConnectOptions) -> Result<Client> {
        let s = ShopifySettings::from_settings(settings)?;
        let mut b = s.builder()?;
        match options.token_source(self.credential_key(settings)?.as_ref()) {
            Some(source) => b = b.token_source(source),
            None if s.access_token.is_none() => {
                return Err(Error::invalid_input(
                    "no access_token is set and no tokens are stored for this store: run \
                     `marketmedia accounts authorize NAME` (or set access_token, or \
                     refresh_token with client_id and client_secret)",
                )
                .with_platform(PLATFORM))
            }
            None => {}
        }
        let mut config = b.build()?;
        config.options = options.client;
        Ok(Client::new(ShopifyUploader::new(config)?).with_upload_defaults(s.upload_defaults()))
    }

    fn credential_key(&self, settings: &Settings) -> Result<Option<CredentialKey>> {
        let s = ShopifySettings::from_settings(settings)?;
        match s.auth(None)? {
            Some(auth) => Ok(Some(auth.credential_key()?)),
            None => Ok(None),
        }
    }

    fn refresher(
        &self,
        settings: &Settings,
        options: &ConnectOptions,
    ) -> Result<Option<Arc<dyn Refresher>>> {
        let s = ShopifySettings::from_settings(settings)?;
        Ok(s.auth(Some(options.client))?
            .map(|auth| Arc::new(auth.refresher()) as Arc<dyn Refresher>))
    }

    fn authorization_url(&self, settings: &Settings) -> Result<String> {
        ShopifySettings::from_settings(settings)?
            .authorizing()?
            .authorization_url(None)
    }

    fn exchange_code<'a>(
        &'a self,
        settings: &'a Settings,
        authorization: &'a Authorization,
    ) -> BoxFuture<'a, Result<Vec<(CredentialKey, Tokens)>>> {
        Box::pin(async move {
            let s = ShopifySettings::from_settings(settings)?;
            let auth = s.authorizing()?;
            let tokens = auth.exchange_code(authorization.code.expose()).await?;
            Ok(vec![(auth.credential_key()?, tokens)])
        })
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let s = ShopifySettings::from_settings(settings)?;
        let c = s.config()?;
        let mut out = Settings::new(SETTINGS);
        out.set("shop", &c.shop, Origin::Code)?;
        if s.access_token.is_some() {
            out.set_secret("access_token", c.access_token.clone(), Origin::Code)?;
        }
        for key in ["client_secret", "refresh_token"] {
            if let Some(v) = settings.secret(key) {
                out.set_secret(key, v.clone(), Origin::Code)?;
            }
        }
        for key in ["client_id", "redirect_uri"] {
            if let Some(v) = settings.text(key) {
                out.set(key, v, Origin::Code)?;
            }
        }
        out.set("api_version", &c.api_version, Origin::Code)?;
        if let Some(url) = &c.base_url {
            out.set("base_url", url, Origin::Code)?;
        }
        out.set(
            "staged_method",
            &c.staged_method.as_str().to_ascii_lowercase(),
            Origin::Code,
        )?;
        let d = s.upload_defaults();
        out.set("usage", d.usage.as_deref().unwrap_or(""), Origin::Code)?;
        out.set(
            "description",
            d.description.as_deref().unwrap_or(""),
            Origin::Code,
        )?;
        Ok(out)
    }

    fn sandbox(&self, published: &serde_json::Value) -> Result<Settings> {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let c = &published["credentials"];
        let mut s = Settings::new(SETTINGS);
        s.set("shop", &text(&published["shop"]), Origin::Sandbox)?;
        s.set("access_token", &text(&c["access_token"]), Origin::Sandbox)?;
        s.set("base_url", &text(&published["base_url"]), Origin::Sandbox)?;
        let refresh = text(&published["accounts"][0]["refresh_token"]);
        if !text(&c["client_id"]).is_empty() && !refresh.is_empty() {
            s.set("client_id", &text(&c["client_id"]), Origin::Sandbox)?;
            s.set("client_secret", &text(&c["client_secret"]), Origin::Sandbox)?;
            s.set("redirect_uri", &text(&c["redirect_uri"]), Origin::Sandbox)?;
            s.set("refresh_token", &refresh, Origin::Sandbox)?;
        }
        Ok(s)
    }

    fn identity_hint(&self) -> &'static str {
        "set shop (each store's NAME.myshopify.com) on each"
    }

    fn identity_pattern(&self) -> &'static str {
        "shopify:<shop>"
    }

    fn no_url_note(&self) -> Option<&'static str> {
        Some("Shopify answers an image's URL once it is READY: `status` shows it")
    }
}

#[async_trait]
impl CheckAccount for ShopifyUploader {
    async fn check_account(&self) -> Result<AccountCheck> {
        ShopifyUploader::check_account(self).await
    }
}
