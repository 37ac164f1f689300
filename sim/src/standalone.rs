//! The simulators served standalone, as the `marketmedia-sim` binary and `marketmedia sim`
//! run them.
//!
//! Each platform gets its own port: the first (Shopee) takes the listen address's port, the
//! next ones that port + 1, + 2, … (all free random ports when the port is 0). When every
//! simulator is listening, [`run`] prints ONE JSON line to stdout:
//!
//! ```text
//! {"shopee":{"base_url":"http://127.0.0.1:8650","credentials":{"partner_id":…},"accounts":[{"name":"shopee-sg","shop_id":600001,…},{"name":"shopee-my",…}]},"lazada":{…,"accounts":[{"name":"lazada-sg","base_url":"…/sg/rest",…},…]},"smh":{…},"ebay":{…},"wechat":{…}}
//! ```
//!
//! Where a platform has more than one account for one set of credentials (Shopee: the
//! partner's shops, each with its own id and token; Lazada: one seller on several country
//! gateways), `accounts` lists two. Each Shopee, Lazada and eBay account also carries a
//! `refresh_token` and an `authorization_code` (single-use, short-lived: more from
//! `POST /__sim/tokens/code`), so that any client runs the whole token flow
//! ([`crate::tokens`]).
//!
//! then the simulators serve until Ctrl-C.
//!
//! [`Args`] and [`run`] are the one code path of the `marketmedia-sim` binary and of
//! `marketmedia sim` (which flattens the same [`Args`]).

use std::any::Any;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::Future;
use serde_json::{Map, Value};

use crate::common::{Retention, DEFAULT_MAX_ASSEMBLED_BYTES, DEFAULT_MAX_WIRE_RECORDS};
use crate::control::SessionStanding;
use crate::ebay::{EbaySim, EbaySimConfig};
use crate::faults::{FaultArgs, FaultHandle, FaultProfile};
use crate::lazada::{self, LazadaRunning, LazadaSim, LazadaSimConfig};
use crate::shopee::{ShopeeSim, ShopeeSimConfig};
use crate::smh::{self, SmhSimConfig, SmhStandalone};
use crate::wechat::{WechatSim, WechatSimConfig};
use crate::{SimServer, Traffic, WireLog};

/// The default listen address of the first simulator.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8650";

/// The command line of the standalone simulators: `marketmedia-sim [--listen ADDR] [fault
/// flags]`, flattened as is into `marketmedia sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address of the first simulator; the others take the next ports (all random with port 0).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Fault injection and network shaping (all off by default).
    #[command(flatten)]
    pub faults: FaultArgs,
    /// What each simulator keeps, oldest evicted first.
    #[command(flatten)]
    pub retention: RetentionArgs,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8650)),
            faults: FaultArgs::default(),
            retention: RetentionArgs::default(),
        }
    }
}

/// The retention limits of a long-running sandbox ([`Retention`]), per simulator.
#[derive(Debug, Clone, clap::Args)]
pub struct RetentionArgs {
    /// Wire log records kept per simulator; the oldest are forgotten first.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_WIRE_RECORDS)]
    pub max_wire_records: usize,
    /// MiB of finished uploads' bytes kept per simulator; the oldest are evicted first (their
    /// metadata stays; the newest upload is always kept).
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_ASSEMBLED_BYTES / (1024 * 1024))]
    pub max_assembled_mib: u64,
}

impl Default for RetentionArgs {
    fn default() -> Self {
        RetentionArgs {
            max_wire_records: DEFAULT_MAX_WIRE_RECORDS,
            max_assembled_mib: DEFAULT_MAX_ASSEMBLED_BYTES / (1024 * 1024),
        }
    }
}

impl RetentionArgs {
    /// The limits these flags give.
    pub fn to_retention(&self) -> Retention {
        Retention {
            max_wire_records: self.max_wire_records,
            max_assembled_bytes: self.max_assembled_mib.saturating_mul(1024 * 1024),
        }
    }
}

/// A simulator running in this process, as the embedded sandbox, the soak and tests see it
/// whatever its platform: its faults, its wire log, the sessions it holds and the bytes of the
/// videos uploaded to it. [`Simulator::as_any`] gives the simulator itself
/// (`ShopeeSim`, `LazadaSim`…) for what only it knows.
pub trait Simulator: Send + Sync + 'static {
    /// The platform's name (its key in the JSON line).
    fn name(&self) -> &str;
    /// The fault and shaping layer's control; `None` for a simulator without one.
    fn faults(&self) -> Option<&FaultHandle>;
    /// What reached its routes: requests in flight now, their peak, each exchange's start
    /// and end (a timeline samples it); `None` for a simulator that does not count them.
    fn traffic(&self) -> Option<&Traffic> {
        None
    }
    /// The request rate the platform publishes and the simulator enforces (eBay: 50 POST
    /// per 5 s per user), answering 429 past it; `None` when it enforces none. A benchmark
    /// takes from it the least time the requests it saw needed.
    fn request_rate(&self) -> Option<PublishedRate> {
        None
    }
    /// Every request received.
    fn wire(&self) -> &WireLog;
    /// Every upload session held, with where it stands.
    fn sessions(&self) -> Vec<SessionStanding>;
    /// The bytes the platform holds for the uploaded video `asset_id` (the id the upload's
    /// asset carries), to compare with the source.
    fn stored_video(&self, asset_id: &str) -> Option<Bytes>;
    /// The simulator itself, to downcast (`as_any().downcast_ref::<ShopeeSim>()`).
    fn as_any(&self) -> &dyn Any;
}

/// A request rate a platform publishes: at most `requests` requests of `method` in any window
/// of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedRate {
    /// Requests allowed in one window.
    pub requests: usize,
    /// The window.
    pub per: Duration,
    /// The HTTP method counted (`"POST"`).
    pub method: &'static str,
}

/// The published rate `sim` enforces, for the simulators that enforce one.
fn published_rate(sim: &dyn Any) -> Option<PublishedRate> {
    let ebay = sim.downcast_ref::<EbaySim>()?;
    let (requests, per) = ebay.config().post_limit?;
    Some(PublishedRate {
        requests,
        per,
        method: "POST",
    })
}

/// A started simulator: the simulator (dropping it stops it) and its entry in the JSON line
/// (base URLs and test credentials).
pub struct Started {
    /// The simulator, serving until dropped.
    pub simulator: Box<dyn Simulator>,
    /// Its entry in the JSON line.
    pub entry: Value,
}

/// How the simulators of one run are started.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StartOptions {
    /// Faults every simulator injects (storage servers included).
    pub faults: FaultProfile,
    /// What each simulator keeps.
    pub retention: Retention,
    /// How long each simulated processing step (transcoding, audit) takes, when not the
    /// simulator's own default: tests and soaks shorten it.
    pub processing_delay: Option<Duration>,
}

impl StartOptions {
    /// With these faults.
    pub fn with_faults(mut self, faults: FaultProfile) -> Self {
        self.faults = faults;
        self
    }

    /// With this retention.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// With every processing step taking `delay`.
    pub fn with_processing_delay(mut self, delay: Duration) -> Self {
        self.processing_delay = Some(delay);
        self
    }
}

/// The future a [`Starter`] returns.
pub type StartFuture = Pin<Box<dyn Future<Output = std::io::Result<Started>> + Send>>;

/// Starts one platform's simulator on its addresses (one per port it needs).
pub type Starter = fn(Vec<SocketAddr>, StartOptions) -> StartFuture;

/// One simulated platform: its name in the JSON line, its name in sentences, the ports it
/// takes and how to start it. [`PLATFORMS`] lists the bundled ones; an application adds its
/// own simulator by passing one more to [`start_list`].
#[derive(Debug, Clone, Copy)]
pub struct SimulatorEntry {
    /// The platform's name, as the JSON line keys it.
    pub name: &'static str,
    /// The name in sentences.
    pub title: &'static str,
    /// Ports it listens on.
    pub ports: usize,
    /// How to start it.
    pub start: Starter,
}

/// The bundled simulators, in port order: the one list they are started from. Adding a
/// platform is one `start_*` function and one entry here; the help text ([`about`]) and
/// [`PLATFORM_NAMES`] follow.
pub const PLATFORMS: &[SimulatorEntry] = &[
    SimulatorEntry {
        name: "shopee",
        title: "Shopee",
        ports: 1,
        start: start_shopee,
    },
    SimulatorEntry {
        name: "lazada",
        title: "Lazada",
        ports: 1,
        start: start_lazada,
    },
    SimulatorEntry {
        name: "smh",
        title: "Tencent SMH",
        ports: 2,
        start: start_smh,
    },
    SimulatorEntry {
        name: "ebay",
        title: "eBay",
        ports: 1,
        start: start_ebay,
    },
    SimulatorEntry {
        name: "wechat",
        title: "WeChat Channels Store",
        ports: 1,
        start: start_wechat,
    },
    SimulatorEntry {
        name: "tiktok",
        title: "TikTok Shop",
        ports: 1,
        start: start_tiktok,
    },
    SimulatorEntry {
        name: "shopify",
        title: "Shopify",
        ports: 2,
        start: crate::shopify::start_standalone,
    },
];

/// The simulated platforms' names, as keys of the JSON line, in port order.
pub const PLATFORM_NAMES: [&str; PLATFORMS.len()] = {
    let mut names = [""; PLATFORMS.len()];
    let mut i = 0;
    while i < PLATFORMS.len() {
        names[i] = PLATFORMS[i].name;
        i += 1;
    }
    names
};

/// The help text's one line: `Serves simulators of the media upload APIs of Shopee, Lazada, …`,
/// every simulated platform named, from the one list the simulators are started from.
pub fn about() -> String {
    let titles: Vec<&str> = PLATFORMS.iter().map(|p| p.title).collect();
    let list = match titles.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => titles.concat(),
    };
    format!(
        "Serves simulators of the media upload APIs of {list}, with fault injection: a sandbox \
         for any client in any language."
    )
}

/// Implements [`Simulator`] for a running simulator kept in `self.sim`: its name, and how
/// its stored video's bytes are read (`sim` the simulator, `id` the asset id); the fault
/// handle, wire log and sessions are every simulator's own.
macro_rules! simulator_impl {
    ($ty:ty, $name:literal, |$sim:ident, $id:ident| $stored:block) => {
        impl Simulator for $ty {
            fn name(&self) -> &str {
                $name
            }
            fn faults(&self) -> Option<&FaultHandle> {
                Some(self.sim.faults())
            }
            fn traffic(&self) -> Option<&Traffic> {
                Some(self.sim.traffic())
            }
            fn request_rate(&self) -> Option<PublishedRate> {
                published_rate(&self.sim)
            }
            fn wire(&self) -> &WireLog {
                self.sim.wire()
            }
            fn sessions(&self) -> Vec<SessionStanding> {
                self.sim.sessions()
            }
            fn stored_video(&self, $id: &str) -> Option<Bytes> {
                let $sim = &self.sim;
                $stored
            }
            fn as_any(&self) -> &dyn Any {
                &self.sim
            }
        }
    };
}

/// The Shopee simulator, serving.
struct ShopeeRunning {
    sim: ShopeeSim,
    _server: SimServer,
}

simulator_impl!(ShopeeRunning, "shopee", |sim, id| {
    sim.assembled_bytes(id)
});

fn start_shopee(addrs: Vec<SocketAddr>, options: StartOptions) -> StartFuture {
    Box::pin(async move {
        let defaults = ShopeeSimConfig::default();
        let sim = ShopeeSim::new(ShopeeSimConfig {
            retention: options.retention,
            transcode_delay: options.processing_delay.unwrap_or(defaults.transcode_delay),
            ..defaults
        });
        sim.faults().set(options.faults);
        let server = sim.start(addrs[0]).await?;
        // Every shop of the partner, each an account of its own (its id and token).
        let regions: Vec<String> = std::iter::once(sim.config().region.to_ascii_lowercase())
            .chain(
                sim.config()
                    .more_shops
                    .iter()
                    .map(|s| s.region.to_ascii_lowercase()),
            )
            .collect();
        let accounts: Vec<Value> = sim
            .shops()
            .into_iter()
            .zip(regions)
            .map(|(shop, region)| {
                serde_json::json!({
                    "name": format!("shopee-{region}"),
                    "shop_id": shop.shop_id,
                    "access_token": shop.access_token,
                    "refresh_token": shop.refresh_token,
                    "authorization_code": shop.authorization_code,
                    "country": region,
                })
            })
            .collect();
        let entry = serde_json::json!({
            "base_url": server.base_url(),
            "credentials": sim.credentials(),
            "accounts": accounts,
        });
        Ok(Started {
            simulator: Box::new(ShopeeRunning {
                sim,
                _server: server,
            }),
            entry,
        })
    })
}

simulator_impl!(LazadaRunning, "lazada", |sim, id| { sim.video_bytes(id) });

fn start_lazada(addrs: Vec<SocketAddr>, options: StartOptions) -> StartFuture {
    Box::pin(async move {
        let defaults = LazadaSimConfig::default();
        let delay = options.processing_delay;
        let config = LazadaSimConfig {
            retention: options.retention,
            transcode_queue_delay: delay.unwrap_or(defaults.transcode_queue_delay),
            transcode_delay: delay.unwrap_or(defaults.transcode_delay),
            audit_delay: delay.unwrap_or(defaults.audit_delay),
            ..defaults
        };
        let running = lazada::launch(config, addrs[0]).await?;
        running.sim.faults().set(options.faults);
        let mut entry = serde_json::to_value(&running.info)?;
        // One seller's token on two country gateways: two accounts.
        let accounts: Vec<Value> = ["sg", "my"]
            .iter()
            .map(|country| {
                serde_json::json!({
                    "name": format!("lazada-{country}"),
                    "country": country,
                    "base_url": LazadaSim::gateway_base_url(&running.server, country),
                    "seller_id": lazada::seller_id_in(country).to_string(),
                    "refresh_token": running.info.credentials.refresh_token,
                    "authorization_code": running.info.credentials.authorization_code,
                })
            })
            .collect();
        if let Value::Object(map) = &mut entry {
            map.insert("accounts".into(), Value::Array(accounts));
            // Where the simulated CDN serves images (covers a video needs point there).
            map.insert(
                "cdn_base_url".into(),
                Value::String(running.sim.config().cdn_base_url),
            );
        }
        Ok(Started {
            simulator: Box::new(running),
            entry,
        })
    })
}

simulator_impl!(SmhStandalone, "smh", |sim, id| {
    // The asset id is the file's path in the library, with or without the leading `/`.
    sim.file(id)
        .or_else(|| sim.file(id.trim_start_matches('/')))
});

fn start_smh(addrs: Vec<SocketAddr>, options: StartOptions) -> StartFuture {
    Box::pin(async move {
        let config = SmhSimConfig {
            retention: options.retention,
            ..SmhSimConfig::default()
        };
        let running = smh::start_standalone(config, addrs[0], addrs[1]).await?;
        running.sim.faults().set(options.faults);
        let entry = serde_json::to_value(&running.endpoints)?;
        Ok(Started {
            simulator: Box::new(running),
            entry,
        })
    })
}

/// The eBay simulator, serving.
struct EbayRunning {
    sim: EbaySim,
    _server: SimServer,
}

simulator_impl!(EbayRunning, "ebay", |sim, id| { sim.video_bytes(id) });

fn start_ebay(addrs: Vec<SocketAddr>, options: StartOptions) -> StartFuture {
    Box::pin(async move {
        let defaults = EbaySimConfig::default();
        let sim = EbaySim::new(EbaySimConfig {
            retention: options.retention,
            processing_delay: options
                .processing_delay
                .unwrap_or(defaults.processing_delay),
            ..defaults
        });
        sim.faults().set(options.faults);
        let server = sim.start(addrs[0]).await?;
        let entry = serde_json::json!({
            "base_url": EbaySim::api_base_url(&server),
            "token_url": EbaySim::token_url(&server),
            "credentials": sim.credentials(),
            "accounts": sim.accounts(),
        });
        Ok(Started {
            simulator: Box::new(EbayRunning {
                sim,
                _server: server,
            }),
            entry,
        })
    })
}

/// The WeChat simulator, serving.
struct WechatRunning {
    sim: WechatSim,
    _server: SimServer,
}

simulator_impl!(crate::shopify::ShopifyRunning, "shopify", |sim, id| {
    sim.media_bytes(id)
});

simulator_impl!(WechatRunning, "wechat", |sim, id| {
    sim.assembled_bytes(id)
});

fn start_wechat(addrs: Vec<SocketAddr>, options: StartOptions) -> StartFuture {
    Box::pin(async move {
        let defaults = WechatSimConfig::default();
        let sim = WechatSim::new(WechatSimConfig {
            retention: options.retention,
            processing_delay: options
                .processing_delay
                .unwrap_or(defaults.processing_delay),
            ..defaults
        });
        sim.faults().set(options.faults);
        let server = sim.start(addrs[0]).await?;
        let entry = serde_json::json!({
            "base_url": server.base_url(),
            "credentials": sim.credentials(),
        });
        Ok(Started {
            simulator: Box::new(WechatRunning {
                sim,
                _server: server,
            }),
            entry,
        })
    })
}

/// The address of the `index`-th platform.
fn address_for(listen: SocketAddr, index: usize) -> std::io::Result<SocketAddr> {
    if listen.port() == 0 {
        return Ok(listen);
    }
    let port = u16::try_from(usize::from(listen.port()) + index).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the port range runs past 65535",
        )
    })?;
    Ok(SocketAddr::new(listen.ip(), port))
}

/// The simulators running standalone: keeps them serving until dropped.
pub struct Running {
    simulators: Vec<Box<dyn Simulator>>,
    line: Value,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.simulators.iter().map(|s| s.name()).collect();
        f.debug_struct("Running")
            .field("simulators", &names)
            .field("line", &self.line)
            .finish()
    }
}

impl Running {
    /// Each platform's base URL(s) and test credentials, keyed by platform name: the JSON
    /// line [`run`] prints.
    pub fn info(&self) -> &Value {
        &self.line
    }

    /// The simulator of the platform `name`.
    pub fn simulator(&self, name: &str) -> Option<&dyn Simulator> {
        self.simulators
            .iter()
            .find(|s| s.name() == name)
            .map(|s| s.as_ref())
    }

    /// Every simulator, in start order.
    pub fn simulators(&self) -> impl Iterator<Item = &dyn Simulator> {
        self.simulators.iter().map(|s| s.as_ref())
    }

    /// The first simulator of type `T` (`running.sim::<ShopeeSim>()`).
    pub fn sim<T: 'static>(&self) -> Option<&T> {
        self.simulators
            .iter()
            .find_map(|s| s.as_any().downcast_ref::<T>())
    }
}

/// Starts every simulator: the first (Shopee) on `listen`, the next ones on the following
/// ports (all on free random ports when `listen`'s port is 0). They serve until the returned
/// [`Running`] is dropped.
pub async fn start(listen: SocketAddr) -> std::io::Result<Running> {
    start_with_faults(listen, FaultProfile::default()).await
}

/// [`start`], with every simulator (SMH storage included) injecting `faults`.
pub async fn start_with_faults(
    listen: SocketAddr,
    faults: FaultProfile,
) -> std::io::Result<Running> {
    start_with(listen, faults, Retention::default()).await
}

/// [`start_with_faults`], with every simulator keeping what `retention` allows.
pub async fn start_with(
    listen: SocketAddr,
    faults: FaultProfile,
    retention: Retention,
) -> std::io::Result<Running> {
    let options = StartOptions::default()
        .with_faults(faults)
        .with_retention(retention);
    start_list(listen, PLATFORMS, options).await
}

/// Starts the simulators of `entries` (the bundled [`PLATFORMS`], and any of an
/// application's own) with `options`: the first on `listen`, the next ones on the following
/// ports (all on free random ports when `listen`'s port is 0).
pub async fn start_list(
    listen: SocketAddr,
    entries: &[SimulatorEntry],
    options: StartOptions,
) -> std::io::Result<Running> {
    let mut simulators = Vec::with_capacity(entries.len());
    let mut line = Map::new();
    let mut next_port = 0;
    for entry in entries {
        let addrs = (next_port..next_port + entry.ports)
            .map(|i| address_for(listen, i))
            .collect::<std::io::Result<Vec<_>>>()?;
        next_port += entry.ports;
        let started = (entry.start)(addrs.clone(), options.clone())
            .await
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("{} simulator on {addrs:?}: {e}", entry.name),
                )
            })?;
        line.insert(entry.name.to_string(), started.entry);
        simulators.push(started.simulator);
    }
    Ok(Running {
        simulators,
        line: Value::Object(line),
    })
}

/// What the `marketmedia-sim` binary and `marketmedia sim` do: starts every simulator on
/// `args.listen` with the fault profile of `args.faults` and the limits of `args.retention`
/// (see [`start_with`]), prints
/// ONE JSON line with each platform's base URLs and test credentials to stdout once all are
/// listening, then serves until Ctrl-C.
pub async fn run(args: &Args) -> std::io::Result<()> {
    let profile = args
        .faults
        .to_profile()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let running = start_with(args.listen, profile, args.retention.to_retention()).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", running.info())?;
        stdout.flush()?;
    }
    tokio::signal::ctrl_c().await?;
    drop(running);
    Ok(())
}

/// The TikTok Shop simulator, serving.
struct TiktokRunning {
    sim: crate::tiktok::TiktokSim,
    _server: SimServer,
}

simulator_impl!(TiktokRunning, "tiktok", |sim, id| { sim.file_bytes(id) });

fn start_tiktok(addrs: Vec<SocketAddr>, options: StartOptions) -> StartFuture {
    Box::pin(async move {
        let (sim, server, entry) = crate::tiktok::launch(addrs[0], options).await?;
        let simulator = Box::new(TiktokRunning {
            sim,
            _server: server,
        });
        Ok(Started { simulator, entry })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The help text and the crate's description name every simulator started, and
    /// [`PLATFORM_NAMES`] is the list they are started from.
    #[test]
    fn every_list_of_simulators_names_them_all() {
        let about = about();
        let description = env!("CARGO_PKG_DESCRIPTION");
        for (i, entry) in PLATFORMS.iter().enumerate() {
            let title = entry.title;
            assert!(about.contains(title), "{title} missing from {about}");
            assert!(
                description.contains(title),
                "{title} missing from {description}"
            );
            assert_eq!(PLATFORM_NAMES[i], entry.name);
        }
        assert_eq!(PLATFORM_NAMES.len(), PLATFORMS.len());
    }
}
