//! eBay as a marketplace: its account settings, each declared once, and how an account's
//! settings become its identity and its uploader ([`Ebay`], registered by the `marketmedia`
//! crate's `ebay` feature).
//!
//! ```no_run
//! use marketmedia_ebay::EbaySettings;
//! # fn demo() -> marketmedia_core::Result<()> {
//! // MARKETMEDIA_EBAY_ACCESS_TOKEN, _ENVIRONMENT, _USER_ID…
//! let ebay = EbaySettings::from_env()?.uploader()?;
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use std::sync::Arc;

use marketmedia_core::raw::http::{self, ClientOptions};
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, Authorization, BoxFuture, CheckAccount, Client, ConnectOptions,
    CredentialKey, Error, Marketplace, Origin, RedactedUrl, Refresher, Result, Secret, Setting,
    Settings, TokenSource, Tokens, UploadField, DESCRIPTION, TITLE,
};

use crate::auth::{EbayAuth, TOKEN_PATH};
use serde::Deserialize;

use crate::{EbayConfig, EbayConfigBuilder, EbayEnvironment, EbayUploader, PLATFORM};

/// An eBay account's settings: the keys of `[accounts.NAME]` (with `marketplace = "ebay"`)
/// and of `[ebay]`, and the `MARKETMEDIA_EBAY_*` variables.
pub static SETTINGS: &[Setting] = &[
    Setting::secret(
        "access_token",
        "the user's OAuth token, scope `sell.inventory`, used as given (not needed once \
         `marketmedia accounts authorize` stored the user's tokens, or with `refresh_token`)",
    )
    .example("user-access-token"),
    Setting::text(
        "client_id",
        "the application's App ID (client id): token refresh and `accounts authorize`",
    )
    .refining()
    .example("MyApp-PRD-1234"),
    Setting::secret(
        "client_secret",
        "the application's Cert ID (client secret): token refresh and `accounts authorize`",
    )
    .refining()
    .example("PRD-cert-id"),
    Setting::text(
        "ru_name",
        "the application's RuName (eBay redirect URL name): `accounts authorize`",
    )
    .refining()
    .example("My_App-MyApp-PRD-abcdef"),
    Setting::secret(
        "refresh_token",
        "a refresh token to start from when no tokens are stored",
    )
    .refining()
    .example("user-refresh-token"),
    Setting::url(
        "token_url",
        "the token endpoint overriding the environment's (`/identity/v1/oauth2/token` included)",
    )
    .example("http://127.0.0.1:8653/identity/v1/oauth2/token"),
    Setting::choice(
        "environment",
        "the API host: `production` is apim.ebay.com, `sandbox` apim.sandbox.ebay.com",
        &["production", "sandbox"],
    )
    .example("sandbox"),
    Setting::text(
        "site",
        "the seller's site (`EBAY_US`, `EBAY_DE`…): shown by `accounts`, not sent (the Media \
         API is not per site)",
    )
    .refining()
    .example("EBAY_DE"),
    Setting::text(
        "user_id",
        "the eBay user's id, or any stable id: the account's identity (`user` when unset, so \
         two eBay accounts need one each)",
    )
    .refining()
    .example("seller-1"),
    Setting::url(
        "base_url",
        "a base URL overriding the environment's, `/commerce/media/v1_beta` included",
    )
    .example("http://127.0.0.1:8653/commerce/media/v1_beta"),
    Setting::text(
        "title",
        "the video title (`--title` wins; else the file name)",
    )
    .refining()
    .example("Blue kettle"),
    Setting::text("description", "the video description")
        .refining()
        .example("A kettle, in blue"),
];

/// What eBay takes with a video (both optional).
pub static UPLOAD_FIELDS: &[UploadField] = &[
    UploadField {
        name: TITLE,
        help: "a title",
        required: false,
    },
    UploadField {
        name: DESCRIPTION,
        help: "a description",
        required: false,
    },
];

/// The settings of one eBay account, as [`SETTINGS`] declares them: from the environment
/// ([`EbaySettings::from_env`]), a map ([`EbaySettings::from_map`]), or any serde format
/// (`#[serde(deny_unknown_fields)]`).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbaySettings {
    /// The user's OAuth access token.
    pub access_token: Option<Secret>,
    /// The application's App ID.
    pub client_id: Option<String>,
    /// The application's Cert ID.
    pub client_secret: Option<Secret>,
    /// The application's RuName.
    pub ru_name: Option<String>,
    /// A refresh token to start from when no tokens are stored.
    pub refresh_token: Option<Secret>,
    /// The token endpoint.
    pub token_url: Option<String>,
    /// `production` (default) or `sandbox`.
    pub environment: Option<String>,
    /// The seller's site, shown only.
    pub site: Option<String>,
    /// The user's id (the account's identity).
    pub user_id: Option<String>,
    /// A base URL overriding the environment's.
    pub base_url: Option<String>,
    /// Default video title.
    pub title: Option<String>,
    /// Default video description.
    pub description: Option<String>,
}

impl std::fmt::Debug for EbaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbaySettings")
            .field("access_token", &self.access_token)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("ru_name", &self.ru_name)
            .field("refresh_token", &self.refresh_token)
            .field(
                "token_url",
                &self.token_url.as_deref().map(RedactedUrl::new),
            )
            .field("environment", &self.environment)
            .field("site", &self.site)
            .field("user_id", &self.user_id)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .field("title", &self.title)
            .field("description", &self.description)
            .finish()
    }
}

impl EbaySettings {
    /// The settings the `MARKETMEDIA_EBAY_*` variables give.
    pub fn from_env() -> Result<EbaySettings> {
        Self::from_settings(&Settings::from_env(SETTINGS, &Ebay.env_prefix())?)
    }

    /// The settings of a map of keys to values (`[("access_token", "…"), …]`).
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<EbaySettings> {
        Self::from_settings(&Settings::from_map(SETTINGS, pairs)?)
    }

    /// The settings of checked values.
    pub fn from_settings(settings: &Settings) -> Result<EbaySettings> {
        settings.deserialize()
    }

    /// The environment (`production` when unset).
    pub fn environment(&self) -> Result<EbayEnvironment> {
        match &self.environment {
            Some(e) => e
                .parse()
                .map_err(|m: String| Error::invalid_input(m).with_platform(PLATFORM)),
            None => Ok(EbayEnvironment::default()),
        }
    }

    /// The configuration builder these settings fill (carry on with its other methods).
    pub fn builder(&self) -> Result<EbayConfigBuilder> {
        let mut b = EbayConfig::builder().environment(self.environment()?);
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

    /// The provider configuration (the token given).
    pub fn config(&self) -> Result<EbayConfig> {
        self.builder()?.build()
    }

    /// The per-upload defaults these settings give (title and description): give them with
    /// each upload ([`marketmedia_core::UploadDriver::with_meta`]), a product's own over them.
    pub fn upload_defaults(&self) -> marketmedia_core::UploadMeta {
        let mut meta = marketmedia_core::UploadMeta::default();
        meta.title = self.title.clone();
        meta.description = self.description.clone();
        meta
    }

    /// The uploader these settings configure (its videos' title and description travel
    /// with each upload: [`EbaySettings::upload_defaults`]).
    pub fn uploader(&self) -> Result<EbayUploader> {
        EbayUploader::new(self.config()?)
    }

    /// The token calls of the application ([`EbayAuth`]): `None` without `client_id` and
    /// `client_secret` (the access token is then used as given). Without `ru_name`, only
    /// the refresh works (the code exchange needs it).
    pub fn auth(&self, options: Option<ClientOptions>) -> Result<Option<EbayAuth>> {
        let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            return Ok(None);
        };
        let ru_name = self.ru_name.as_deref().unwrap_or("-");
        let mut auth = EbayAuth::new(id, secret.clone(), ru_name, self.environment()?)?;
        if let Some(url) = &self.token_url {
            auth = auth.with_token_host(url.strip_suffix(TOKEN_PATH).unwrap_or(url));
        }
        if let Some(options) = options {
            auth = auth.with_client(http::HttpClient::new(options)?);
        }
        Ok(Some(auth))
    }

    /// The subject of the user's credential: `user_id`, or `user`.
    pub fn user_subject(&self) -> &str {
        self.user_id.as_deref().unwrap_or("user")
    }

    /// The token calls, or the error naming what `accounts authorize` needs.
    fn authorizing(&self) -> Result<EbayAuth> {
        if self.ru_name.is_none() {
            return Err(Error::missing_setting(PLATFORM, "ru_name"));
        }
        self.auth(None)?.ok_or_else(|| {
            Error::invalid_input("set client_id and client_secret (the application's keys)")
                .with_platform(PLATFORM)
        })
    }

    /// Who the account is: `ebay:<environment>:<user_id>` (`user` when no id is set: the
    /// token names no user up front).
    pub fn identity(&self) -> Result<String> {
        let env = match self.environment()? {
            EbayEnvironment::Production => "production",
            EbayEnvironment::Sandbox => "sandbox",
        };
        Ok(format!(
            "ebay:{env}:{}",
            self.user_id.as_deref().unwrap_or("user")
        ))
    }
}

/// eBay's Media API, as a marketplace an application registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ebay;

impl Marketplace for Ebay {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn title(&self) -> &'static str {
        "eBay"
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn upload_fields(&self) -> &'static [UploadField] {
        UPLOAD_FIELDS
    }

    fn account(&self, settings: &Settings) -> Result<AccountInfo> {
        let s = EbaySettings::from_settings(settings)?;
        let c = s.config()?;
        Ok(AccountInfo::new(s.identity()?, c.effective_base_url())
            .with_country(s.site.map(|site| site.to_ascii_uppercase()))
            .with_pre_accounts_key("user"))
    }

    fn connect(&self, settings: &Settings, options: &ConnectOptions) -> Result<Client> {
        let s = EbaySettings::from_settings(settings)?;
        let mut b = s.builder()?;
        match options.token_source(self.credential_key(settings)?.as_ref()) {
            Some(source) => b = b.token_source(source),
            None if s.access_token.is_none() => {
                return Err(Error::invalid_input(
                    "no access_token is set and no tokens are stored for this user: run \
                     `marketmedia accounts authorize NAME` (or set access_token, or \
                     refresh_token with client_id and client_secret)",
                )
                .with_platform(PLATFORM))
            }
            None => {}
        }
        let mut config = b.build()?;
        config.options = options.client;
        Ok(Client::new(EbayUploader::new(config)?).with_upload_defaults(s.upload_defaults()))
    }

    fn credential_key(&self, settings: &Settings) -> Result<Option<CredentialKey>> {
        let s = EbaySettings::from_settings(settings)?;
        match s.auth(None)? {
            Some(auth) => Ok(Some(auth.credential_key(s.user_subject())?)),
            None => Ok(None),
        }
    }

    fn refresher(
        &self,
        settings: &Settings,
        options: &ConnectOptions,
    ) -> Result<Option<Arc<dyn Refresher>>> {
        let s = EbaySettings::from_settings(settings)?;
        Ok(s.auth(Some(options.client))?
            .map(|auth| Arc::new(auth.refresher()) as Arc<dyn Refresher>))
    }

    fn authorization_url(&self, settings: &Settings) -> Result<String> {
        EbaySettings::from_settings(settings)?
            .authorizing()?
            .authorization_url(None)
    }

    fn exchange_code<'a>(
        &'a self,
        settings: &'a Settings,
        authorization: &'a Authorization,
    ) -> BoxFuture<'a, Result<Vec<(CredentialKey, Tokens)>>> {
        Box::pin(async move {
            let s = EbaySettings::from_settings(settings)?;
            let auth = s.authorizing()?;
            let tokens = auth.exchange_code(authorization.code.expose()).await?;
            Ok(vec![(auth.credential_key(s.user_subject())?, tokens)])
        })
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let s = EbaySettings::from_settings(settings)?;
        let c = s.config()?;
        let mut out = Settings::new(SETTINGS);
        if s.access_token.is_some() {
            out.set_secret("access_token", c.access_token.clone(), Origin::Code)?;
        }
        for key in ["client_secret", "refresh_token"] {
            if let Some(v) = settings.secret(key) {
                out.set_secret(key, v.clone(), Origin::Code)?;
            }
        }
        for key in ["client_id", "ru_name", "token_url"] {
            if let Some(v) = settings.text(key) {
                out.set(key, v, Origin::Code)?;
            }
        }
        let env = match c.environment {
            EbayEnvironment::Production => "production",
            EbayEnvironment::Sandbox => "sandbox",
        };
        out.set("environment", env, Origin::Code)?;
        if let Some(url) = &c.base_url {
            out.set("base_url", url, Origin::Code)?;
        }
        // The title and description are the client's uploads' defaults (`connect`).
        let d = s.upload_defaults();
        out.set("title", d.title.as_deref().unwrap_or(""), Origin::Code)?;
        out.set(
            "description",
            d.description.as_deref().unwrap_or(""),
            Origin::Code,
        )?;
        let account = self.account(settings)?;
        out.set(
            "site",
            account.country.as_deref().unwrap_or(""),
            Origin::Code,
        )?;
        if let Some(user) = account.identity.strip_prefix(&format!("ebay:{env}:")) {
            if s.user_id.is_some() {
                out.set("user_id", user, Origin::Code)?;
            }
        }
        Ok(out)
    }

    fn sandbox(&self, published: &serde_json::Value) -> Result<Settings> {
        let mut s = Settings::new(SETTINGS);
        s.set(
            "access_token",
            published["credentials"]["access_token"]
                .as_str()
                .unwrap_or_default(),
            Origin::Sandbox,
        )?;
        s.set(
            "base_url",
            published["base_url"].as_str().unwrap_or_default(),
            Origin::Sandbox,
        )?;
        // The application's keys and the user's refresh token, for the sandbox's own
        // credential store.
        let c = &published["credentials"];
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let refresh = text(&published["accounts"][0]["refresh_token"]);
        if !text(&c["client_id"]).is_empty() && !refresh.is_empty() {
            s.set("client_id", &text(&c["client_id"]), Origin::Sandbox)?;
            s.set("client_secret", &text(&c["client_secret"]), Origin::Sandbox)?;
            s.set("ru_name", &text(&c["ru_name"]), Origin::Sandbox)?;
            s.set("refresh_token", &refresh, Origin::Sandbox)?;
            s.set("token_url", &text(&published["token_url"]), Origin::Sandbox)?;
        }
        Ok(s)
    }

    fn identity_hint(&self) -> &'static str {
        "set user_id (the eBay user's id, or any stable id you choose) on each"
    }

    fn identity_pattern(&self) -> &'static str {
        "ebay:<environment>:<user_id>"
    }
}

#[async_trait]
impl CheckAccount for EbayUploader {
    async fn check_account(&self) -> Result<AccountCheck> {
        EbayUploader::check_account(self).await
    }
}
