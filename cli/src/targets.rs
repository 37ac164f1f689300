//! Where each chosen marketplace's upload goes: a provider built from the configuration, or
//! one pointed at the sandbox when the marketplace has no credentials.

use marketmedia_core::{ChunkedVideoUploader, Error, ImageUploader, Result};
use marketmedia_ebay::EbayUploader;
use marketmedia_lazada::{LazadaUploader, VideoOptions};
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
    /// and variables to fix it), if it cannot.
    pub fn video_problem(&self) -> Option<Error> {
        let Provider::Lazada(p) = &self.provider else {
            return None;
        };
        let o = p.video_options();
        let missing: Vec<&str> = [
            (
                o.title.as_deref(),
                "a title (--title or MARKETMEDIA_LAZADA_TITLE)",
            ),
            (
                o.cover_url.as_deref(),
                "a cover image URL (--cover-url or MARKETMEDIA_LAZADA_COVER_URL)",
            ),
        ]
        .into_iter()
        .filter(|(v, _)| v.map(str::trim).unwrap_or("").is_empty())
        .map(|(_, what)| what)
        .collect();
        if missing.is_empty() {
            return o.check().err();
        }
        Some(
            Error::invalid_input(format!(
                "Lazada needs {} for every video",
                missing.join(" and ")
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
    /// HTTP timeouts of every provider built.
    pub timeouts: marketmedia_core::raw::http::HttpTimeouts,
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
    let title = meta.title.clone().or_else(|| config.lazada_title.clone());
    let cover = meta
        .cover_url
        .clone()
        .or_else(|| config.lazada_cover_url.clone());
    let provider = match platform {
        Platform::Shopee => {
            let mut c = sb.shopee_config()?;
            c.module = config.shopee_module;
            c.max_file_bytes = config.shopee_module.default_max_file_bytes();
            c.timeouts = meta.timeouts;
            Provider::Shopee(Box::new(ShopeeUploader::new(c)?))
        }
        Platform::Lazada => {
            let mut c = sb.lazada_config()?;
            c.timeouts = meta.timeouts;
            let options = VideoOptions {
                title: Some(title.unwrap_or_else(|| meta.sandbox_title.clone())),
                cover_url: Some(cover.unwrap_or_else(|| sb.lazada_cover_url())),
                ..VideoOptions::default()
            };
            Provider::Lazada(Box::new(
                LazadaUploader::new(c)?.with_video_options(options),
            ))
        }
        Platform::Smh => {
            let mut c = sb.smh_config()?;
            c.timeouts = meta.timeouts;
            Provider::Smh(Box::new(SmhUploader::new(c)?))
        }
        Platform::Ebay => {
            let mut c = sb.ebay_config()?;
            c.timeouts = meta.timeouts;
            // `--title` is every marketplace's; the Lazada defaults are Lazada's only.
            c.title = meta.title.clone();
            Provider::Ebay(Box::new(EbayUploader::new(c)?))
        }
        Platform::Wechat => {
            let mut c = sb.wechat_config()?;
            c.timeouts = meta.timeouts;
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
    })
}

fn account_target(account: &Account, config: &Config, meta: &VideoMeta) -> Result<Target> {
    let timeouts = meta.timeouts;
    let (endpoint, provider) = match &account.settings {
        AccountSettings::Shopee(c) => {
            let mut c = c.clone();
            c.timeouts = timeouts;
            (
                c.effective_base_url().to_owned(),
                Provider::Shopee(Box::new(ShopeeUploader::new(c)?)),
            )
        }
        AccountSettings::Lazada(c) => {
            let mut c = c.clone();
            c.timeouts = timeouts;
            let endpoint = c.effective_base_url().to_owned();
            // `--title` and `--cover-url`, else the account's own, else `[lazada]`'s.
            let options = VideoOptions {
                title: meta
                    .title
                    .clone()
                    .or_else(|| account.title.clone())
                    .or_else(|| config.lazada_title.clone()),
                cover_url: meta
                    .cover_url
                    .clone()
                    .or_else(|| account.cover_url.clone())
                    .or_else(|| config.lazada_cover_url.clone()),
                ..VideoOptions::default()
            };
            (
                endpoint,
                Provider::Lazada(Box::new(
                    LazadaUploader::new(c)?.with_video_options(options),
                )),
            )
        }
        AccountSettings::Smh(c) => {
            let mut c = c.clone();
            c.timeouts = timeouts;
            (
                c.base_url.clone(),
                Provider::Smh(Box::new(SmhUploader::new(c)?)),
            )
        }
        AccountSettings::Ebay(c) => {
            let mut c = c.clone();
            c.timeouts = timeouts;
            c.title = meta.title.clone().or_else(|| c.title.take());
            (
                c.effective_base_url(),
                Provider::Ebay(Box::new(EbayUploader::new(c)?)),
            )
        }
        AccountSettings::Wechat(c) => {
            let mut c = c.clone();
            c.timeouts = timeouts;
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
    })
}
