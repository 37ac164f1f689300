//! Where each chosen marketplace's upload goes: a provider built from the configuration, or
//! one pointed at the sandbox when the marketplace has no credentials.

use marketmedia_core::{ChunkedVideoUploader, Error, ImageUploader, Result};
use marketmedia_ebay::EbayUploader;
use marketmedia_lazada::{LazadaUploader, VideoOptions};
use marketmedia_shopee::ShopeeUploader;
use marketmedia_smh::SmhUploader;
use marketmedia_wechat::WechatUploader;

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

/// One marketplace's destination.
#[derive(Debug)]
pub struct Target {
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
    /// `sandbox (embedded simulator)`, or the endpoint (without user info or query).
    pub fn label(&self) -> String {
        if self.sandbox {
            SANDBOX_LABEL.to_owned()
        } else {
            redact_url(&self.endpoint)
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
    /// One per chosen marketplace, in [`Platform::ALL`] order.
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
    /// Builds a provider for each of `platforms`: from `config` when the marketplace is
    /// configured (and `force_sandbox` is off), otherwise against the sandbox, started once
    /// when the first marketplace needs it.
    pub async fn build(
        platforms: &[Platform],
        config: &Config,
        meta: &VideoMeta,
        force_sandbox: bool,
    ) -> Result<Targets> {
        let mut sandbox = None;
        let mut targets = Vec::with_capacity(platforms.len());
        for &platform in platforms {
            let configured = !force_sandbox && config.is_configured(platform);
            if !configured && sandbox.is_none() {
                sandbox = Some(Sandbox::start().await.map_err(|e| {
                    Error::new(
                        marketmedia_core::ErrorKind::Io,
                        format!("cannot start the embedded simulators: {e}"),
                    )
                })?);
            }
            let title = meta.title.clone().or_else(|| config.lazada_title.clone());
            let cover = meta
                .cover_url
                .clone()
                .or_else(|| config.lazada_cover_url.clone());
            // `--title` is every marketplace's; the Lazada defaults are Lazada's only.
            let title = match platform {
                Platform::Ebay => meta.title.clone(),
                _ => title,
            };
            let target = match (configured, sandbox.as_ref()) {
                (true, _) => configured_target(platform, config, title, cover, meta.timeouts)?,
                (false, Some(sb)) => {
                    let provider = match platform {
                        Platform::Shopee => {
                            let mut c = sb.shopee_config().with_module(config.shopee_module);
                            c.timeouts = meta.timeouts;
                            Provider::Shopee(Box::new(ShopeeUploader::new(c)?))
                        }
                        Platform::Lazada => {
                            let mut c = sb.lazada_config();
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
                            let mut c = sb.smh_config();
                            c.timeouts = meta.timeouts;
                            Provider::Smh(Box::new(SmhUploader::new(c)?))
                        }
                        Platform::Ebay => {
                            let mut c = sb.ebay_config();
                            c.timeouts = meta.timeouts;
                            c.title = title.clone();
                            Provider::Ebay(Box::new(EbayUploader::new(c)?))
                        }
                        Platform::Wechat => {
                            let mut c = sb.wechat_config();
                            c.timeouts = meta.timeouts;
                            Provider::Wechat(Box::new(WechatUploader::new(c)?))
                        }
                    };
                    Target {
                        platform,
                        sandbox: true,
                        endpoint: sb.base_url(platform),
                        provider,
                    }
                }
                (false, None) => {
                    return Err(Error::invalid_input("the sandbox did not start"));
                }
            };
            targets.push(target);
        }
        Ok(Targets { targets, sandbox })
    }

    /// The sandbox, when some target uses it.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }
}

fn configured_target(
    platform: Platform,
    config: &Config,
    title: Option<String>,
    cover_url: Option<String>,
    timeouts: marketmedia_core::raw::http::HttpTimeouts,
) -> Result<Target> {
    let missing = || Error::invalid_input("not configured").with_platform(platform.name());
    let (endpoint, provider) = match platform {
        Platform::Shopee => {
            let mut c = config.shopee.clone().ok_or_else(missing)?;
            c.timeouts = timeouts;
            (
                c.effective_base_url().to_owned(),
                Provider::Shopee(Box::new(ShopeeUploader::new(c)?)),
            )
        }
        Platform::Lazada => {
            let mut c = config.lazada.clone().ok_or_else(missing)?;
            c.timeouts = timeouts;
            let endpoint = c.effective_base_url().to_owned();
            let options = VideoOptions {
                title,
                cover_url,
                ..VideoOptions::default()
            };
            (
                endpoint,
                Provider::Lazada(Box::new(
                    LazadaUploader::new(c)?.with_video_options(options),
                )),
            )
        }
        Platform::Smh => {
            let mut c = config.smh.clone().ok_or_else(missing)?;
            c.timeouts = timeouts;
            (
                c.base_url.clone(),
                Provider::Smh(Box::new(SmhUploader::new(c)?)),
            )
        }
        Platform::Ebay => {
            let mut c = config.ebay.clone().ok_or_else(missing)?;
            c.timeouts = timeouts;
            c.title = title.or_else(|| c.title.take());
            (
                c.effective_base_url(),
                Provider::Ebay(Box::new(EbayUploader::new(c)?)),
            )
        }
        Platform::Wechat => {
            let mut c = config.wechat.clone().ok_or_else(missing)?;
            c.timeouts = timeouts;
            (
                c.effective_base_url().to_owned(),
                Provider::Wechat(Box::new(WechatUploader::new(c)?)),
            )
        }
    };
    Ok(Target {
        platform,
        sandbox: false,
        endpoint,
        provider,
    })
}

/// The scheme, host and path of a URL, without user info, query or fragment (a base URL may
/// carry credentials; they are never printed).
pub fn redact_url(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority
                .rsplit_once('@')
                .map(|(_, h)| h)
                .unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => String::from("(invalid URL)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_and_query() {
        assert_eq!(
            redact_url("https://user:pw@api.example.invalid/rest?token=x#f"),
            "https://api.example.invalid/rest"
        );
        assert_eq!(redact_url("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }
}
