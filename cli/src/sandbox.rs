//! The sandbox: the platform simulators started in-process on free ports, and
//! providers pointed at them with the simulators' test credentials.
//!
//! The command uses it for every marketplace with no credentials configured, and says so
//! ("sandbox (embedded simulator)"). Examples and tests use it to upload from code without
//! any account:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use marketmedia_cli::sandbox::Sandbox;
//! use marketmedia_core::{ChunkedVideoUploader, UploadDriver, UploadOptions};
//!
//! let sandbox = Sandbox::start().await?;
//! let shopee = sandbox.shopee()?;
//! let lazada = sandbox.lazada()?;
//! let smh = sandbox.smh()?;
//! let providers: [&dyn ChunkedVideoUploader; 3] = [&shopee, &lazada, &smh];
//! let report = UploadDriver::new(UploadOptions::default())
//!     .with_meta(sandbox.upload_meta("Blue kettle"))
//!     .upload_to_all(&providers, std::path::Path::new("kettle.mp4"))
//!     .await;
//! # Ok(()) }
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use marketmedia_core::{Asset, Result, UploadMeta};
use marketmedia_ebay::{EbayConfig, EbayUploader};
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region};
use marketmedia_shopee::{ShopeeConfig, ShopeeUploader};
use marketmedia_sim::ebay::{EbaySim, EbaySimConfig};
use marketmedia_sim::lazada::{self, LazadaRunning, LazadaSim, LazadaSimConfig};
use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};
use marketmedia_sim::smh::{SmhServers, SmhSim, SmhSimConfig};
use marketmedia_sim::wechat::{WechatSim, WechatSimConfig};
use marketmedia_sim::SimServer;
use marketmedia_smh::{SmhConfig, SmhUploader, StorageScheme};
use marketmedia_wechat::{WechatConfig, WechatUploader};

use crate::platform::Platform;

/// What the command prints for a marketplace served by the sandbox.
pub const SANDBOX_LABEL: &str = "sandbox (embedded simulator)";

/// The simulators' settings for a sandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    /// The Shopee simulator's.
    pub shopee: ShopeeSimConfig,
    /// The Lazada simulator's.
    pub lazada: LazadaSimConfig,
    /// The SMH simulator's.
    pub smh: SmhSimConfig,
    /// The eBay simulator's.
    pub ebay: EbaySimConfig,
    /// The WeChat simulator's.
    pub wechat: WechatSimConfig,
}

/// The simulators, running in this process until dropped.
#[derive(Debug)]
pub struct Sandbox {
    shopee_sim: ShopeeSim,
    shopee_server: SimServer,
    lazada: LazadaRunning,
    smh_sim: SmhSim,
    smh_servers: SmhServers,
    ebay_sim: EbaySim,
    ebay_server: SimServer,
    wechat_sim: WechatSim,
    wechat_server: SimServer,
}

fn any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl Sandbox {
    /// Starts the simulators with their default settings on free ports of 127.0.0.1.
    pub async fn start() -> std::io::Result<Sandbox> {
        Sandbox::start_with(SandboxConfig::default()).await
    }

    /// Starts the simulators with these settings on free ports of 127.0.0.1.
    pub async fn start_with(config: SandboxConfig) -> std::io::Result<Sandbox> {
        let shopee_sim = ShopeeSim::new(config.shopee);
        let shopee_server = shopee_sim.start(any_port()).await?;
        let lazada = lazada::launch(config.lazada, any_port()).await?;
        let smh_sim = SmhSim::new(config.smh);
        let smh_servers = smh_sim.start(any_port()).await?;
        let ebay_sim = EbaySim::new(config.ebay);
        let ebay_server = ebay_sim.start(any_port()).await?;
        let wechat_sim = WechatSim::new(config.wechat);
        let wechat_server = wechat_sim.start(any_port()).await?;
        Ok(Sandbox {
            shopee_sim,
            shopee_server,
            lazada,
            smh_sim,
            smh_servers,
            ebay_sim,
            ebay_server,
            wechat_sim,
            wechat_server,
        })
    }

    /// The Shopee simulator (its store and wire log).
    pub fn shopee_sim(&self) -> &ShopeeSim {
        &self.shopee_sim
    }

    /// The Lazada simulator.
    pub fn lazada_sim(&self) -> &LazadaSim {
        &self.lazada.sim
    }

    /// The SMH simulator.
    pub fn smh_sim(&self) -> &SmhSim {
        &self.smh_sim
    }

    /// The eBay simulator.
    pub fn ebay_sim(&self) -> &EbaySim {
        &self.ebay_sim
    }

    /// The WeChat simulator.
    pub fn wechat_sim(&self) -> &WechatSim {
        &self.wechat_sim
    }

    /// Where `platform`'s simulator answers (the API base URL a provider is given).
    pub fn base_url(&self, platform: Platform) -> String {
        match platform {
            Platform::Shopee => self.shopee_server.base_url(),
            Platform::Lazada => self.lazada.info.base_url.clone(),
            Platform::Smh => self.smh_servers.api_base_url(),
            Platform::Ebay => EbaySim::api_base_url(&self.ebay_server),
            Platform::Wechat => self.wechat_server.base_url(),
        }
    }

    /// The `MARKETMEDIA_*` environment variables that point `marketmedia` at this sandbox's
    /// simulators for `platforms`, with their test credentials: for running the command as a
    /// child process (tests, benchmarks, scripts) against a sandbox started in code. The
    /// values are the simulators' public test credentials, never an account's.
    pub fn env_vars(&self, platforms: &[Platform]) -> Vec<(String, String)> {
        let mut vars: Vec<(&str, String)> = Vec::new();
        for platform in platforms {
            match platform {
                Platform::Shopee => {
                    let c = self.shopee_sim.credentials();
                    vars.extend([
                        ("MARKETMEDIA_SHOPEE_PARTNER_ID", c.partner_id.to_string()),
                        ("MARKETMEDIA_SHOPEE_PARTNER_KEY", c.partner_key.to_string()),
                        ("MARKETMEDIA_SHOPEE_SHOP_ID", c.shop_id.to_string()),
                        (
                            "MARKETMEDIA_SHOPEE_ACCESS_TOKEN",
                            c.access_token.to_string(),
                        ),
                        (
                            "MARKETMEDIA_SHOPEE_BASE_URL",
                            self.base_url(Platform::Shopee),
                        ),
                    ]);
                }
                Platform::Lazada => {
                    let c = &self.lazada.info.credentials;
                    vars.extend([
                        ("MARKETMEDIA_LAZADA_APP_KEY", c.app_key.clone()),
                        ("MARKETMEDIA_LAZADA_APP_SECRET", c.app_secret.clone()),
                        ("MARKETMEDIA_LAZADA_ACCESS_TOKEN", c.access_token.clone()),
                        (
                            "MARKETMEDIA_LAZADA_BASE_URL",
                            self.base_url(Platform::Lazada),
                        ),
                    ]);
                }
                Platform::Smh => {
                    let c = self.smh_sim.credentials();
                    vars.extend([
                        ("MARKETMEDIA_SMH_LIBRARY_ID", c.library_id),
                        ("MARKETMEDIA_SMH_LIBRARY_SECRET", c.library_secret),
                        ("MARKETMEDIA_SMH_SPACE_ID", c.space_id),
                        ("MARKETMEDIA_SMH_BASE_URL", self.base_url(Platform::Smh)),
                        ("MARKETMEDIA_SMH_STORAGE_SCHEME", "http".into()),
                        ("MARKETMEDIA_SMH_ALLOW_PLAIN_HTTP", "true".into()),
                    ]);
                }
                Platform::Ebay => vars.extend([
                    (
                        "MARKETMEDIA_EBAY_ACCESS_TOKEN",
                        self.ebay_sim.config().access_token,
                    ),
                    ("MARKETMEDIA_EBAY_BASE_URL", self.base_url(Platform::Ebay)),
                ]),
                Platform::Wechat => {
                    let c = self.wechat_sim.credentials();
                    vars.extend([
                        ("MARKETMEDIA_WECHAT_APPID", c.appid),
                        ("MARKETMEDIA_WECHAT_APPSECRET", c.appsecret),
                        (
                            "MARKETMEDIA_WECHAT_BASE_URL",
                            self.base_url(Platform::Wechat),
                        ),
                    ]);
                }
            }
        }
        vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The bytes `platform`'s simulator holds for an uploaded video `asset` (Shopee's
    /// assembled upload, Lazada's video, SMH's file), to compare with the source.
    pub fn stored_video(&self, platform: Platform, asset: &Asset) -> Option<bytes::Bytes> {
        match platform {
            Platform::Shopee => self.shopee_sim.assembled_bytes(&asset.id),
            Platform::Lazada => self.lazada.sim.video_bytes(&asset.id),
            Platform::Smh => self
                .smh_sim
                .file(&asset.id)
                .or_else(|| self.smh_sim.file(asset.id.trim_start_matches('/'))),
            Platform::Ebay => self.ebay_sim.video_bytes(&asset.id),
            Platform::Wechat => self.wechat_sim.assembled_bytes(&asset.id),
        }
    }

    /// The base URL of the SMH simulator's storage (COS-like) server, where parts go.
    pub fn smh_storage_url(&self) -> String {
        self.smh_servers.storage_base_url()
    }

    /// A Shopee configuration for the simulator, with its test credentials.
    pub fn shopee_config(&self) -> Result<ShopeeConfig> {
        let c = self.shopee_sim.credentials();
        ShopeeConfig::builder()
            .partner_id(c.partner_id)
            .partner_key(c.partner_key)
            .shop_id(c.shop_id)
            .access_token(c.access_token)
            .base_url(self.shopee_server.base_url())
            .build()
    }

    /// A Shopee provider for the simulator.
    pub fn shopee(&self) -> Result<ShopeeUploader> {
        ShopeeUploader::new(self.shopee_config()?)
    }

    /// A Lazada configuration for the simulator, with its test credentials.
    pub fn lazada_config(&self) -> Result<LazadaConfig> {
        let c = &self.lazada.info.credentials;
        LazadaConfig::builder()
            .app_key(c.app_key.clone())
            .app_secret(c.app_secret.clone())
            .access_token(c.access_token.clone())
            .region(Region::Sg)
            .base_url(self.lazada.info.base_url.clone())
            .build()
    }

    /// Per-upload fields every simulator of the sandbox takes: `title` and a cover on the
    /// Lazada simulator's CDN (Lazada requires both for every video; the others ignore the
    /// cover).
    pub fn upload_meta(&self, title: impl Into<String>) -> UploadMeta {
        UploadMeta::default()
            .with_title(title)
            .with_cover_url(self.lazada_cover_url())
    }

    /// A cover image URL on the Lazada simulator's CDN.
    pub fn lazada_cover_url(&self) -> String {
        format!(
            "{}/sandbox-cover.jpg",
            self.lazada.sim.config().cdn_base_url.trim_end_matches('/')
        )
    }

    /// A Lazada provider for the simulator (each upload's title and cover travel with it:
    /// [`Sandbox::upload_meta`]).
    pub fn lazada(&self) -> Result<LazadaUploader> {
        LazadaUploader::new(self.lazada_config()?)
    }

    /// An SMH configuration for the simulator: its test library, its API host and plain-HTTP
    /// storage (the simulator hands out its storage server's `127.0.0.1:PORT` as `domain`).
    pub fn smh_config(&self) -> Result<SmhConfig> {
        let c = self.smh_sim.credentials();
        SmhConfig::builder()
            .library_id(c.library_id)
            .library_secret(c.library_secret)
            .space(c.space_id)
            .base_url(self.smh_servers.api_base_url())
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true)
            .build()
    }

    /// An SMH provider for the simulator.
    pub fn smh(&self) -> Result<SmhUploader> {
        SmhUploader::new(self.smh_config()?)
    }

    /// An eBay configuration for the simulator, with its test token.
    pub fn ebay_config(&self) -> Result<EbayConfig> {
        EbayConfig::builder()
            .access_token(self.ebay_sim.config().access_token)
            .base_url(EbaySim::api_base_url(&self.ebay_server))
            .build()
    }

    /// An eBay provider for the simulator.
    pub fn ebay(&self) -> Result<EbayUploader> {
        EbayUploader::new(self.ebay_config()?)
    }

    /// A WeChat configuration for the simulator, with its test AppID and AppSecret.
    pub fn wechat_config(&self) -> Result<WechatConfig> {
        let c = self.wechat_sim.credentials();
        WechatConfig::builder()
            .appid(c.appid)
            .appsecret(c.appsecret)
            .base_url(self.wechat_server.base_url())
            .build()
    }

    /// A WeChat provider for the simulator.
    pub fn wechat(&self) -> Result<WechatUploader> {
        WechatUploader::new(self.wechat_config()?)
    }
}
