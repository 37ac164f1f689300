//! The sandbox: the platform simulators started in-process on free ports, and each
//! marketplace's account pointed at its simulator with the simulator's test credentials.
//!
//! The simulators are the ones the sim crate lists ([`marketmedia_sim::standalone::PLATFORMS`])
//! and any an application adds ([`crate::Setup`]); each marketplace reads its account's
//! settings from its simulator's entry in the published JSON line
//! ([`Marketplace::sandbox`]), so nothing here names a marketplace.
//!
//! The command uses it for every marketplace with no account configured, and says so
//! ("sandbox (embedded simulator)"). Examples and tests use it to upload from code without
//! any account:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use marketmedia_cli::sandbox::Sandbox;
//! use marketmedia_core::{ChunkedVideoUploader, UploadDriver, UploadMeta, UploadOptions};
//!
//! let sandbox = Sandbox::start().await?;
//! let clients = sandbox.clients()?;
//! let providers: Vec<&dyn ChunkedVideoUploader> =
//!     clients.iter().map(|(_, c)| c.video().as_ref()).collect();
//! // Each marketplace's per-upload defaults (a Lazada title and cover) go with the upload.
//! let meta = clients
//!     .iter()
//!     .fold(UploadMeta::default(), |m, (_, c)| m.or(c.upload_defaults()));
//! let report = UploadDriver::new(UploadOptions::default())
//!     .with_meta(meta)
//!     .upload_to_all(&providers, std::path::Path::new("kettle.mp4"))
//!     .await;
//! # Ok(()) }
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use marketmedia_core::raw::Origin;
use marketmedia_core::{Client, ConnectOptions, Error, Marketplace, Result, Settings};
use marketmedia_sim::standalone::{self, Running, Simulator, StartOptions};

use crate::config::Config;
use crate::Setup;

/// What the command prints for a marketplace served by the sandbox.
pub const SANDBOX_LABEL: &str = "sandbox (embedded simulator)";

/// The simulators, running in this process until dropped.
#[derive(Debug)]
pub struct Sandbox {
    setup: Setup,
    running: Running,
    credentials: Arc<marketmedia_core::CredentialSources>,
}

fn any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl Sandbox {
    /// Starts the bundled simulators with their default settings on free ports of
    /// 127.0.0.1.
    pub async fn start() -> std::io::Result<Sandbox> {
        Sandbox::start_with(&Setup::default(), StartOptions::default()).await
    }

    /// Starts the simulators of `setup` with `options` on free ports of 127.0.0.1.
    pub async fn start_with(setup: &Setup, options: StartOptions) -> std::io::Result<Sandbox> {
        let running = standalone::start_list(any_port(), &setup.simulators, options).await?;
        Ok(Sandbox {
            setup: setup.clone(),
            running,
            credentials: crate::tokens::sources(marketmedia_core::MemoryStore::shared()),
        })
    }

    /// The token sources of the sandbox's accounts, over a store of its own in memory: its
    /// simulators live only in this process, so their tokens never mix with a real
    /// credential's (nor with another sandbox's). Seeded from each simulator's refresh
    /// token in the published JSON line.
    pub fn credentials(&self) -> &Arc<marketmedia_core::CredentialSources> {
        &self.credentials
    }

    /// The simulators (their JSON line, each one's faults, wire log and sessions).
    pub fn running(&self) -> &Running {
        &self.running
    }

    /// The simulator of `marketplace`.
    pub fn simulator(&self, marketplace: &str) -> Option<&dyn Simulator> {
        self.running.simulator(marketplace)
    }

    /// A simulator by its type (`sandbox.sim::<T>()`, `T` a simulator of the sim crate), for
    /// tests.
    pub fn sim<T: 'static>(&self) -> Option<&T> {
        self.running.sim::<T>()
    }

    /// `marketplace`'s entry in the published JSON line (base URLs and test credentials).
    pub fn published(&self, marketplace: &str) -> Option<&serde_json::Value> {
        self.running.info().get(marketplace)
    }

    /// The marketplaces with a simulator here, in the registry's order.
    pub fn marketplaces(&self) -> Vec<Arc<dyn Marketplace>> {
        self.setup
            .registry
            .iter()
            .filter(|m| self.simulator(m.name()).is_some())
            .cloned()
            .collect()
    }

    /// The settings of an account on `market`'s simulator: its test credentials and
    /// endpoints, then what the configuration shares with every account of the marketplace
    /// (its own table's shared settings, the command line's flags).
    pub fn settings(&self, market: &dyn Marketplace, config: &Config) -> Result<Settings> {
        let mut settings = self.settings_of(market)?;
        settings.override_with(&config.shared_of(market), Origin::Shared);
        Ok(settings)
    }

    /// The settings of an account on `market`'s simulator, as its published entry gives
    /// them.
    pub fn settings_of(&self, market: &dyn Marketplace) -> Result<Settings> {
        let entry = self.published(market.name()).ok_or_else(|| {
            Error::invalid_input(format!(
                "the sandbox has no simulator of {}: register one with the marketplace",
                market.name()
            ))
            .with_platform(market.name())
        })?;
        market.sandbox(entry)
    }

    /// A client of every marketplace with a simulator, pointed at it.
    pub fn clients(&self) -> Result<Vec<(Arc<dyn Marketplace>, Client)>> {
        self.marketplaces()
            .into_iter()
            .map(|m| {
                let client =
                    m.connect(&self.settings_of(m.as_ref())?, &ConnectOptions::default())?;
                Ok((m, client))
            })
            .collect()
    }

    /// A client of `marketplace`, pointed at its simulator.
    pub fn client(&self, marketplace: &str) -> Result<Client> {
        self.client_with(marketplace, std::iter::empty::<(&str, &str)>())
    }

    /// A client of `marketplace`, pointed at its simulator, with these settings too (keys
    /// it declares: `[("title", "Blue kettle")]`).
    pub fn client_with<K: AsRef<str>, V: AsRef<str>>(
        &self,
        marketplace: &str,
        settings: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Client> {
        let m = self.setup.registry.find(marketplace)?.clone();
        let mut s = self.settings_of(m.as_ref())?;
        for (k, v) in settings {
            s.set(k.as_ref(), v.as_ref(), Origin::Code)?;
        }
        m.connect(&s, &ConnectOptions::default())
    }

    /// Where `marketplace`'s simulator answers (the API base URL its account is given).
    pub fn base_url(&self, marketplace: &str) -> String {
        self.setup
            .registry
            .get(marketplace)
            .and_then(|m| m.account(&self.settings_of(m.as_ref()).ok()?).ok())
            .map(|info| info.endpoint)
            .unwrap_or_default()
    }

    /// The `MARKETMEDIA_*` environment variables that point `marketmedia` at this sandbox's
    /// simulators of `marketplaces`, with their test credentials: for running the command as
    /// a child process (tests, benchmarks, scripts) against a sandbox started in code. The
    /// values are the simulators' public test credentials, never an account's. The
    /// simulators' refresh tokens are left out: with one, the child would store this
    /// sandbox's tokens in the machine's credential store, where another sandbox's
    /// simulators (the same test credential names, other tokens) would meet them; the child
    /// uses the access tokens as given.
    pub fn env_vars(&self, marketplaces: &[&str]) -> Vec<(String, String)> {
        let mut vars = Vec::new();
        for name in marketplaces {
            let Some(m) = self.setup.registry.get(name) else {
                continue;
            };
            let Ok(settings) = self.settings_of(m.as_ref()) else {
                continue;
            };
            let prefix = m.env_prefix();
            for key in settings.keys().filter(|k| *k != "refresh_token") {
                if let (Some(decl), Some(value)) = (settings.setting(key), settings.expose(key)) {
                    vars.push((format!("{prefix}{}", decl.env_key()), value.to_owned()));
                }
            }
        }
        vars
    }

    /// The bytes `marketplace`'s simulator holds for an uploaded video `asset`, to compare
    /// with the source.
    pub fn stored_video(
        &self,
        marketplace: &str,
        asset: &marketmedia_core::Asset,
    ) -> Option<bytes::Bytes> {
        self.simulator(marketplace)?.stored_video(&asset.id)
    }
}
