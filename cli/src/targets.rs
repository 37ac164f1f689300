//! Where each chosen marketplace's upload goes: a provider built from the configuration, or
//! one pointed at the sandbox when the marketplace has no credentials.

use marketmedia_core::{ChunkedVideoUploader, Error, ImageUploader, MetaField, Result, UploadMeta};
use marketmedia_ebay::EbayUploader;
use marketmedia_lazada::LazadaUploader;
use marketmedia_shopee::ShopeeUploader;
use marketmedia_smh::SmhUploader;
use marketmedia_wechat::WechatUploader;

use crate::accounts::{Account, AccountSettings, Chosen};
use crate::config::Config;
use crate::platform::Platform;
use crate::sandbox::{Sandbox, SANDBOX_LABEL};

/// A provider of one of the marketplaces.
#[derive(Debug)]
pub enum Provider {
    /// Shopee.
    Shopee(Box<ShopeeUploader>),
    /// Lazada.
    Lazada(Box<LazadaUploader>),
    /// SMH.
    Smh(Box<SmhUploader>),
    /// eBay.
    Ebay(Box<EbayUploader>),
    /// WeChat Channels Store.
    Wechat(Box<WechatUploader>),
}

impl Provider {
    /// The provider as a video uploader.
    pub fn video(&self) -> &dyn ChunkedVideoUploader {
        match self {
            Provider::Shopee(p) => p.as_ref(),
            Provider::Lazada(p) => p.as_ref(),
            Provider::Smh(p) => p.as_ref(),
            Provider::Ebay(p) => p.as_ref(),
            Provider::Wechat(p) => p.as_ref(),
        }
    }

    /// The provider, shared, as a video uploader and as an image uploader (the batch's
    /// markets hold both).
    pub fn into_shared(
        self,
    ) -> (
        std::sync::Arc<dyn ChunkedVideoUploader>,
        std::sync::Arc<dyn ImageUploader>,
    ) {
        fn shared<P: ChunkedVideoUploader + ImageUploader + 'static>(
            p: Box<P>,
        ) -> (
            std::sync::Arc<dyn ChunkedVideoUploader>,
            std::sync::Arc<dyn ImageUploader>,
        ) {
            let p: std::sync::Arc<P> = std::sync::Arc::from(p);
            (p.clone(), p)
        }
        match self {
            Provider::Shopee(p) => shared(p),
            Provider::Lazada(p) => shared(p),
            Provider::Smh(p) => shared(p),
            Provider::Ebay(p) => shared(p),
            Provider::Wechat(p) => shared(p),
        }
    }

    /// The provider as an image uploader.
    pub fn images(&self) -> &dyn ImageUploader {
        match self {
            Provider::Shopee(p) => p.as_ref(),
            Provider::Lazada(p) => p.as_ref(),
            Provider::Smh(p) => p.as_ref(),
            Provider::Ebay(p) => p.as_ref(),
            Provider::Wechat(p) => p.as_ref(),
        }
    }
}

/// One account's destination.
#[derive(Debug)]
pub struct Target {
    /// The account's name (the marketplace's for its embedded simulator).
    pub account: String,
    /// The account's identity on the platform ([`crate::accounts::Account::identity`];
    /// `sandbox:<marketplace>` for the embedded simulator).
    pub identity: String,
    /// Whether this account resumes journal entries written before entries named their
    /// account: the legacy account (named after its marketplace), or the marketplace's only
    /// account.
    pub adopts_unkeyed: bool,
    /// The marketplace.
    pub platform: Platform,
    /// Whether it is the embedded simulator.
    pub sandbox: bool,
    /// The API base URL requests go to.
    pub endpoint: String,
    /// The provider.
    pub provider: Provider,
    /// The fields each upload here carries: the command's (`--title`, `--cover-url`), else
    /// the account's defaults, else the marketplace's configured ones (or the sandbox's).
    pub meta: UploadMeta,
}

impl Target {
    /// The account, as the core keys uploads by it.
    pub fn account_ref(&self) -> marketmedia_core::AccountRef {
        let account = marketmedia_core::AccountRef::new(&self.account, &self.identity);
        if self.adopts_unkeyed {
            account.adopting_unkeyed()
        } else {
            account
        }
    }

    /// `sandbox (embedded simulator)`, or the endpoint (without user info or query).
    pub fn label(&self) -> String {
        if self.sandbox {
            SANDBOX_LABEL.to_owned()
        } else {
            marketmedia_core::redact_url(&self.endpoint)
        }
    }

    /// Why this target cannot take a video as configured (a CLI-level check, with the flags
    /// and variables to fix it), if it cannot: a field the platform requires
    /// ([`marketmedia_core::raw::UploadRules::required_meta`]) that neither the command nor
    /// the configuration gives.
    pub fn video_problem(&self) -> Option<Error> {
        let missing = self.meta.missing(self.provider.video().rules());
        if missing.is_empty() {
            return None;
        }
        let prefix = self.platform.env_prefix();
        let what: Vec<String> = missing
            .iter()
            .map(|f| {
                let var = format!("{prefix}{}", f.name().to_ascii_uppercase());
                match f {
                    MetaField::Title => format!("a title (--title or {var})"),
                    MetaField::CoverUrl => format!("a cover image URL (--cover-url or {var})"),
                    other => format!("a {other} ({var})"),
                }
            })
            .collect();
        Some(
            Error::invalid_input(format!(
                "{} needs {} for every video",
                self.platform.title(),
                what.join(" and ")
            ))
            .with_platform(self.platform.name()),
        )
    }
}

/// The destinations of one command, and the sandbox that serves some of them (kept running
/// as long as the targets are used).
#[derive(Debug)]
pub struct Targets {
    /// One per destination, in the order chosen.
    pub targets: Vec<Target>,
    sandbox: Option<Sandbox>,
}

/// Lazada's per-video options from the command line.
#[derive(Debug, Clone, Default)]
pub struct VideoMeta {
    /// `--title`.
    pub title: Option<String>,
    /// `--cover-url`.
    pub cover_url: Option<String>,
    /// The title the sandbox uses when none is given (the file's stem).
    pub sandbox_title: String,
    /// How every provider built talks HTTP (the timeout flags: timeouts and deadlines).
    pub options: marketmedia_core::ClientOptions,
}

impl VideoMeta {
    /// The fields the command gives every upload (`--title`, `--cover-url`).
    pub fn flags(&self) -> UploadMeta {
        let mut fields = UploadMeta::default();
        fields.title = self.title.clone();
        fields.cover_url = self.cover_url.clone();
        fields
    }
}

impl Targets {
    /// Builds a provider for each destination: from the account's settings, or against the
    /// sandbox (started once, when the first destination needs it).
    pub async fn build(
        chosen: &[Chosen<'_>],
        config: &Config,
        meta: &VideoMeta,
    ) -> Result<Targets> {
        let mut sandbox = None;
        let mut targets = Vec::with_capacity(chosen.len());
        for choice in chosen {
            let target = match *choice {
                Chosen::Account(account) => account_target(account, config, meta)?,
                Chosen::Sandbox(platform) => {
                    if sandbox.is_none() {
                        sandbox = Some(Sandbox::start().await.map_err(|e| {
                            Error::new(
                                marketmedia_core::ErrorKind::Io,
                                format!("cannot start the embedded simulators: {e}"),
                            )
                        })?);
                    }
                    let Some(sb) = sandbox.as_ref() else {
                        return Err(Error::invalid_input("the sandbox did not start"));
                    };
                    sandbox_target(sb, platform, config, meta)?
                }
            };
            targets.push(target);
        }
        Ok(Targets { targets, sandbox })
    }

    /// [`Targets::build`] for the destinations `--to` names ([`crate::accounts::choose`]).
    pub async fn chosen(
        to: &[String],
        config: &Config,
        meta: &VideoMeta,
        force_sandbox: bool,
    ) -> Result<Targets> {
        let chosen = crate::accounts::choose(config, to, force_sandbox)?;
        Targets::build(&chosen, config, meta).await
    }

    /// The sandbox, when some target uses it.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }
}

fn sandbox_target(
    sb: &Sandbox,
    platform: Platform,
    config: &Config,
    meta: &VideoMeta,
) -> Result<Target> {
    let mut fields = meta.flags();
    let provider = match platform {
        Platform::Shopee => {
            let mut c = sb.shopee_config()?;
            c.module = config.shopee_module;
            c.max_file_bytes = config.shopee_module.default_max_file_bytes();
            c.options = meta.options;
            Provider::Shopee(Box::new(ShopeeUploader::new(c)?))
        }
        Platform::Lazada => {
            let mut c = sb.lazada_config()?;
            c.options = meta.options;
            // `--title` and `--cover-url`, else `[lazada]`'s, else the file's stem and a cover
            // on the simulator's CDN.
            fields = fields
                .or(&config.lazada_defaults())
                .or(&sb.upload_meta(meta.sandbox_title.clone()));
            Provider::Lazada(Box::new(LazadaUploader::new(c)?))
        }
        Platform::Smh => {
            let mut c = sb.smh_config()?;
            c.options = meta.options;
            Provider::Smh(Box::new(SmhUploader::new(c)?))
        }
        Platform::Ebay => {
            let mut c = sb.ebay_config()?;
            c.options = meta.options;
            // `--title` is every marketplace's; the Lazada defaults are Lazada's only.
            Provider::Ebay(Box::new(EbayUploader::new(c)?))
        }
        Platform::Wechat => {
            let mut c = sb.wechat_config()?;
            c.options = meta.options;
            Provider::Wechat(Box::new(WechatUploader::new(c)?))
        }
    };
    Ok(Target {
        account: platform.name().to_owned(),
        identity: format!("sandbox:{platform}"),
        adopts_unkeyed: false,
        platform,
        sandbox: true,
        endpoint: sb.base_url(platform),
        provider,
        meta: fields,
    })
}

fn account_target(account: &Account, config: &Config, meta: &VideoMeta) -> Result<Target> {
    let options = meta.options;
    // `--title` and `--cover-url`, else the account's own, else (Lazada's legacy table)
    // `[lazada]`'s.
    let mut upload_fields = meta.flags().or(&account.upload_defaults);
    if account.platform == Platform::Lazada {
        upload_fields = upload_fields.or(&config.lazada_defaults());
    }
    let (endpoint, provider) = match &account.settings {
        AccountSettings::Shopee(c) => {
            let mut c = c.clone();
            c.options = options;
            (
                c.effective_base_url().to_owned(),
                Provider::Shopee(Box::new(ShopeeUploader::new(c)?)),
            )
        }
        AccountSettings::Lazada(c) => {
            let mut c = c.clone();
            c.options = options;
            let endpoint = c.effective_base_url().to_owned();
            (
                endpoint,
                Provider::Lazada(Box::new(LazadaUploader::new(c)?)),
            )
        }
        AccountSettings::Smh(c) => {
            let mut c = c.clone();
            c.options = options;
            (
                c.base_url.clone(),
                Provider::Smh(Box::new(SmhUploader::new(c)?)),
            )
        }
        AccountSettings::Ebay(c) => {
            let mut c = c.clone();
            c.options = options;
            (
                c.effective_base_url(),
                Provider::Ebay(Box::new(EbayUploader::new(c)?)),
            )
        }
        AccountSettings::Wechat(c) => {
            let mut c = c.clone();
            c.options = options;
            (
                c.effective_base_url().to_owned(),
                Provider::Wechat(Box::new(WechatUploader::new(c)?)),
            )
        }
    };
    Ok(Target {
        account: account.name.clone(),
        identity: account.identity.clone(),
        adopts_unkeyed: account.legacy || config.accounts_of(account.platform).count() == 1,
        platform: account.platform,
        sandbox: false,
        endpoint,
        provider,
        meta: upload_fields,
    })
}
