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
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, CheckAccount, Client, ConnectOptions, Error, Marketplace, Origin,
    RedactedUrl, Result, Secret, Setting, Settings, UploadField, DESCRIPTION, TITLE,
};
use serde::Deserialize;

use crate::{EbayConfig, EbayConfigBuilder, EbayEnvironment, EbayUploader, PLATFORM};

/// An eBay account's settings: the keys of `[accounts.NAME]` (with `marketplace = "ebay"`)
/// and of `[ebay]`, and the `MARKETMEDIA_EBAY_*` variables.
pub static SETTINGS: &[Setting] = &[
    Setting::secret(
        "access_token",
        "the user's OAuth token, scope `sell.inventory` (refresh it outside marketmedia)",
    )
    .required()
    .example("user-access-token"),
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
        if let Some(token) = &self.access_token {
            b = b.access_token(token.clone());
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
        let mut config = s.config()?;
        config.options = options.client;
        Ok(Client::new(EbayUploader::new(config)?).with_upload_defaults(s.upload_defaults()))
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let s = EbaySettings::from_settings(settings)?;
        let c = s.config()?;
        let mut out = Settings::new(SETTINGS);
        out.set_secret("access_token", c.access_token.clone(), Origin::Code)?;
        let env = match c.environment {
            EbayEnvironment::Production => "production",
            EbayEnvironment::Sandbox => "sandbox",
        };
        out.set("environment", env, Origin::Code)?;
        if let Some(url) = &c.base_url {
            out.set("base_url", url, Origin::Code)?;
        }
        // The title and description reach the client as its uploads' defaults.
        let client = self.connect(settings, &ConnectOptions::default())?;
        let d = client.upload_defaults();
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
