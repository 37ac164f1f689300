//! Tencent Smart Media Hosting as a marketplace: its account settings, each declared once,
//! and how an account's settings become its identity and its uploader ([`Smh`], registered
//! by the `marketmedia` crate's `smh` feature).
//!
//! ```no_run
//! use marketmedia_smh::SmhSettings;
//! # fn demo() -> marketmedia_core::Result<()> {
//! // MARKETMEDIA_SMH_LIBRARY_ID, _LIBRARY_SECRET (or _ACCESS_TOKEN), _SPACE_ID…
//! let smh = SmhSettings::from_env()?.uploader()?;
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use marketmedia_core::raw::{
    AccountCheck, AccountInfo, CheckAccount, Client, ConnectOptions, Error, Marketplace, Origin,
    RedactedUrl, Result, Secret, Setting, Settings,
};
use serde::Deserialize;

use crate::config::{Credentials, SmhConfigBuilder};
use crate::{SmhConfig, SmhUploader, StorageScheme, PLATFORM};

/// An SMH account's settings: the keys of `[accounts.NAME]` (with `marketplace = "smh"`) and
/// of `[smh]`, and the `MARKETMEDIA_SMH_*` variables.
pub static SETTINGS: &[Setting] = &[
    Setting::text("library_id", "media library id")
        .required()
        .example("smhlib"),
    Setting::secret(
        "library_secret",
        "library secret (tokens are fetched and renewed with it)",
    )
    .required_unless("access_token")
    .example("library-secret"),
    Setting::secret(
        "access_token",
        "a ready access token, instead of the library secret",
    )
    .example("ready-token"),
    Setting::text("space_id", "tenant space (`-`: a single-tenant library)")
        .default("-")
        .example("space-7"),
    Setting::text(
        "directory",
        "target directory, which must exist (default the space's root)",
    )
    .example("products/2024"),
    Setting::url(
        "base_url",
        "an API host overriding the library's own domain, `https://{library_id}.api.tencentsmh.cn`",
    )
    .example("https://smh-proxy.example.com"),
    Setting::choice(
        "storage_scheme",
        "the storage URLs' scheme: `http` for a local simulator",
        &["https", "http"],
    )
    // `http` needs `allow_plain_http` beside it: the example stands alone.
    .example("https"),
    Setting::boolean(
        "allow_plain_http",
        "allow `http://` (a local simulator only: SMH refuses plain HTTP)",
    )
    .default("false")
    .example("true"),
    Setting::list(
        "grants",
        "the token's permissions (add `create_directory` to create directories)",
    )
    .default("upload_file")
    .example("upload_file,create_directory"),
];

/// The settings of one SMH account, as [`SETTINGS`] declares them: from the environment
/// ([`SmhSettings::from_env`]), a map ([`SmhSettings::from_map`]), or any serde format
/// (`#[serde(deny_unknown_fields)]`).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmhSettings {
    /// Media library id.
    pub library_id: Option<String>,
    /// Library secret.
    pub library_secret: Option<Secret>,
    /// A ready access token.
    pub access_token: Option<Secret>,
    /// Tenant space.
    pub space_id: Option<String>,
    /// Target directory.
    pub directory: Option<String>,
    /// API host.
    pub base_url: Option<String>,
    /// `https` or `http`.
    pub storage_scheme: Option<String>,
    /// Whether plain HTTP is allowed.
    pub allow_plain_http: Option<bool>,
    /// Token permissions.
    pub grants: Option<Vec<String>>,
}

impl std::fmt::Debug for SmhSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmhSettings")
            .field("library_id", &self.library_id)
            .field("library_secret", &self.library_secret)
            .field("access_token", &self.access_token)
            .field("space_id", &self.space_id)
            .field("directory", &self.directory)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .field("storage_scheme", &self.storage_scheme)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("grants", &self.grants)
            .finish()
    }
}

impl SmhSettings {
    /// The settings the `MARKETMEDIA_SMH_*` variables give.
    pub fn from_env() -> Result<SmhSettings> {
        Self::from_settings(&Settings::from_env(SETTINGS, &Smh.env_prefix())?)
    }

    /// The settings of a map of keys to values (`[("library_id", "smhlib"), …]`).
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<SmhSettings> {
        Self::from_settings(&Settings::from_map(SETTINGS, pairs)?)
    }

    /// The settings of checked values.
    pub fn from_settings(settings: &Settings) -> Result<SmhSettings> {
        settings.deserialize()
    }

    /// The configuration builder these settings fill (carry on with its other methods). The
    /// library secret wins over a ready token when both are set: it renews tokens.
    pub fn builder(&self) -> Result<SmhConfigBuilder> {
        let mut b = SmhConfig::builder();
        if let Some(id) = &self.library_id {
            b = b.library_id(id);
        }
        match (&self.library_secret, &self.access_token) {
            (Some(secret), _) => b = b.library_secret(secret.clone()),
            (None, Some(token)) => b = b.access_token(token.clone()),
            (None, None) => {}
        }
        if let Some(space) = &self.space_id {
            b = b.space(space);
        }
        if let Some(dir) = &self.directory {
            b = b.directory(dir);
        }
        if let Some(url) = &self.base_url {
            b = b.base_url(url);
        }
        if let Some(scheme) = &self.storage_scheme {
            b = b.storage_scheme(match scheme.to_ascii_lowercase().as_str() {
                "https" => StorageScheme::Https,
                "http" => StorageScheme::Http,
                other => {
                    return Err(Error::invalid_input(format!(
                        "the SMH storage scheme must be http or https, not {other:?}"
                    ))
                    .with_platform(PLATFORM))
                }
            });
        }
        if let Some(allow) = self.allow_plain_http {
            b = b.allow_plain_http(allow);
        }
        if let Some(grants) = &self.grants {
            b = b.grants(grants.iter().cloned());
        }
        Ok(b)
    }

    /// The provider configuration (the library id and a secret or a token given).
    pub fn config(&self) -> Result<SmhConfig> {
        self.builder()?.build()
    }

    /// The uploader these settings configure.
    pub fn uploader(&self) -> Result<SmhUploader> {
        SmhUploader::new(self.config()?)
    }

    /// Who the account is: `smh:<library_id>:<space_id>`.
    pub fn identity(&self) -> Result<String> {
        let c = self.config()?;
        Ok(format!("smh:{}:{}", c.library_id, c.space_id))
    }
}

/// Tencent Smart Media Hosting, as a marketplace an application registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smh;

impl Marketplace for Smh {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn title(&self) -> &'static str {
        "Tencent SMH"
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn account(&self, settings: &Settings) -> Result<AccountInfo> {
        let s = SmhSettings::from_settings(settings)?;
        let c = s.config()?;
        Ok(AccountInfo::new(s.identity()?, c.base_url.clone())
            .with_pre_accounts_key(c.library_id.clone()))
    }

    fn connect(&self, settings: &Settings, options: &ConnectOptions) -> Result<Client> {
        let mut config = SmhSettings::from_settings(settings)?.config()?;
        config.options = options.client;
        config.instant_upload = config.instant_upload && options.instant_upload;
        Ok(Client::new(SmhUploader::new(config)?))
    }

    fn read_back(&self, settings: &Settings) -> Result<Settings> {
        let c = SmhSettings::from_settings(settings)?.config()?;
        let mut out = Settings::new(SETTINGS);
        out.set("library_id", &c.library_id, Origin::Code)?;
        match &c.credentials {
            Credentials::LibrarySecret(s) => {
                out.set_secret("library_secret", s.clone(), Origin::Code)?
            }
            Credentials::AccessToken(t) => {
                out.set_secret("access_token", t.clone(), Origin::Code)?
            }
        }
        out.set("space_id", &c.space_id, Origin::Code)?;
        out.set("directory", &c.directory, Origin::Code)?;
        out.set("base_url", &c.base_url, Origin::Code)?;
        out.set("storage_scheme", c.storage_scheme.as_str(), Origin::Code)?;
        out.set(
            "allow_plain_http",
            &c.allow_plain_http.to_string(),
            Origin::Code,
        )?;
        out.set("grants", &c.grants.join(","), Origin::Code)?;
        Ok(out)
    }

    fn sandbox(&self, published: &serde_json::Value) -> Result<Settings> {
        let c = &published["credentials"];
        let mut s = Settings::new(SETTINGS);
        s.set("library_id", text(&c["library_id"]), Origin::Sandbox)?;
        s.set(
            "library_secret",
            text(&c["library_secret"]),
            Origin::Sandbox,
        )?;
        s.set("space_id", text(&c["space_id"]), Origin::Sandbox)?;
        s.set(
            "base_url",
            text(&published["api_base_url"]),
            Origin::Sandbox,
        )?;
        // The simulator hands out its storage server's 127.0.0.1:PORT as `domain`.
        s.set(
            "storage_scheme",
            text(&published["storage_scheme"]),
            Origin::Sandbox,
        )?;
        s.set("allow_plain_http", "true", Origin::Sandbox)?;
        Ok(s)
    }

    fn identity_hint(&self) -> &'static str {
        "an account is its library_id and space_id; remove one"
    }

    fn identity_pattern(&self) -> &'static str {
        "smh:<library_id>:<space_id>"
    }

    fn display_asset_id(&self, id: &str) -> String {
        // The id is the file's path in the library: shown from the library's root.
        format!("/{}", id.trim_start_matches('/'))
    }

    fn no_url_note(&self) -> Option<&'static str> {
        Some("none: SMH serves files by signed links; ask SMH for one by this path")
    }
}

fn text(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[async_trait]
impl CheckAccount for SmhUploader {
    async fn check_account(&self) -> Result<AccountCheck> {
        SmhUploader::check_account(self).await
    }
}
