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

use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;

use futures::Future;
use serde_json::{Map, Value};

use crate::common::{Retention, DEFAULT_MAX_ASSEMBLED_BYTES, DEFAULT_MAX_WIRE_RECORDS};
use crate::ebay::{EbaySim, EbaySimConfig};
use crate::faults::{FaultArgs, FaultProfile};
use crate::lazada::{self, LazadaSim, LazadaSimConfig};
use crate::shopee::{ShopeeSim, ShopeeSimConfig};
use crate::smh::{self, SmhSimConfig};
use crate::wechat::{WechatSim, WechatSimConfig};

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

/// A started simulator: what keeps it serving (dropping it stops it) and its entry in the
/// JSON line (base URLs and test credentials).
struct Started {
    keep_alive: Box<dyn std::any::Any + Send>,
    entry: Value,
}

type StartFuture = Pin<Box<dyn Future<Output = std::io::Result<Started>> + Send>>;

/// Starts one platform's simulator on its addresses (one per port it needs).
type Starter = fn(Vec<SocketAddr>, FaultProfile, Retention) -> StartFuture;

/// The platforms, in port order: (name in the JSON line, name in sentences, ports it takes,
/// how to start it). Adding a platform is one `start_*` function and one entry here; the help
/// text ([`about`]) and [`PLATFORM_NAMES`] follow.
const PLATFORMS: &[(&str, &str, usize, Starter)] = &[
    ("shopee", "Shopee", 1, start_shopee),
    ("lazada", "Lazada", 1, start_lazada),
    ("smh", "Tencent SMH", 2, start_smh),
    ("ebay", "eBay", 1, start_ebay),
    ("wechat", "WeChat Channels Store", 1, start_wechat),
];

/// The simulated platforms' names, as keys of the JSON line, in port order.
pub const PLATFORM_NAMES: [&str; PLATFORMS.len()] = {
    let mut names = [""; PLATFORMS.len()];
    let mut i = 0;
    while i < PLATFORMS.len() {
        names[i] = PLATFORMS[i].0;
        i += 1;
    }
    names
};

/// The help text's one line: `Serves simulators of the media upload APIs of Shopee, Lazada, …`,
/// every simulated platform named, from the one list the simulators are started from.
pub fn about() -> String {
    let titles: Vec<&str> = PLATFORMS.iter().map(|p| p.1).collect();
    let list = match titles.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => titles.concat(),
    };
    format!(
        "Serves simulators of the media upload APIs of {list}, with fault injection: a sandbox \
         for any client in any language."
    )
}

fn start_shopee(addrs: Vec<SocketAddr>, faults: FaultProfile, retention: Retention) -> StartFuture {
    Box::pin(async move {
        let sim = ShopeeSim::new(ShopeeSimConfig {
            retention,
            ..ShopeeSimConfig::default()
        });
        sim.faults().set(faults);
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
            keep_alive: Box::new(server),
            entry,
        })
    })
}

fn start_lazada(addrs: Vec<SocketAddr>, faults: FaultProfile, retention: Retention) -> StartFuture {
    Box::pin(async move {
        let config = LazadaSimConfig {
            retention,
            ..LazadaSimConfig::default()
        };
        let running = lazada::launch(config, addrs[0]).await?;
        running.sim.faults().set(faults);
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
        }
        Ok(Started {
            keep_alive: Box::new(running),
            entry,
        })
    })
}

fn start_smh(addrs: Vec<SocketAddr>, faults: FaultProfile, retention: Retention) -> StartFuture {
    Box::pin(async move {
        let config = SmhSimConfig {
            retention,
            ..SmhSimConfig::default()
        };
        let running = smh::start_standalone(config, addrs[0], addrs[1]).await?;
        running.sim.faults().set(faults);
        let entry = serde_json::to_value(&running.endpoints)?;
        Ok(Started {
            keep_alive: Box::new(running),
            entry,
        })
    })
}

fn start_ebay(addrs: Vec<SocketAddr>, faults: FaultProfile, retention: Retention) -> StartFuture {
    Box::pin(async move {
        let sim = EbaySim::new(EbaySimConfig {
            retention,
            ..EbaySimConfig::default()
        });
        sim.faults().set(faults);
        let server = sim.start(addrs[0]).await?;
        let entry = serde_json::json!({
            "base_url": EbaySim::api_base_url(&server),
            "token_url": EbaySim::token_url(&server),
            "credentials": sim.credentials(),
            "accounts": sim.accounts(),
        });
        Ok(Started {
            keep_alive: Box::new((sim, server)),
            entry,
        })
    })
}

fn start_wechat(addrs: Vec<SocketAddr>, faults: FaultProfile, retention: Retention) -> StartFuture {
    Box::pin(async move {
        let sim = WechatSim::new(WechatSimConfig {
            retention,
            ..WechatSimConfig::default()
        });
        sim.faults().set(faults);
        let server = sim.start(addrs[0]).await?;
        let entry = serde_json::json!({
            "base_url": server.base_url(),
            "credentials": sim.credentials(),
        });
        Ok(Started {
            keep_alive: Box::new(server),
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
    servers: Vec<Box<dyn std::any::Any + Send>>,
    line: Value,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("servers", &self.servers.len())
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
    let mut servers = Vec::with_capacity(PLATFORMS.len());
    let mut line = Map::new();
    let mut next_port = 0;
    for (name, _, ports, start) in PLATFORMS {
        let addrs = (next_port..next_port + ports)
            .map(|i| address_for(listen, i))
            .collect::<std::io::Result<Vec<_>>>()?;
        next_port += ports;
        let started = start(addrs.clone(), faults.clone(), retention)
            .await
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("{name} simulator on {addrs:?}: {e}"))
            })?;
        line.insert((*name).to_string(), started.entry);
        servers.push(started.keep_alive);
    }
    Ok(Running {
        servers,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The help text and the crate's description name every simulator started, and
    /// [`PLATFORM_NAMES`] is the list they are started from.
    #[test]
    fn every_list_of_simulators_names_them_all() {
        let about = about();
        let description = env!("CARGO_PKG_DESCRIPTION");
        for (i, (name, title, _, _)) in PLATFORMS.iter().enumerate() {
            assert!(about.contains(title), "{title} missing from {about}");
            assert!(
                description.contains(title),
                "{title} missing from {description}"
            );
            assert_eq!(PLATFORM_NAMES[i], *name);
        }
        assert_eq!(PLATFORM_NAMES.len(), PLATFORMS.len());
    }
}
