//! `marketmedia-sim`: serves the platform simulators standalone.
//!
//! ```text
//! marketmedia-sim [--listen 127.0.0.1:8650]
//! ```
//!
//! Each platform gets its own port: the first (Shopee) takes ADDR's port, the next ones
//! ADDR's port + 1, + 2, … (all free random ports when ADDR's port is 0). When every simulator
//! is listening, ONE JSON line goes to stdout:
//!
//! ```text
//! {"shopee":{"base_url":"http://127.0.0.1:8650","credentials":{"partner_id":…}}}
//! ```
//!
//! then the simulators serve until Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;

use clap::Parser;
use futures::Future;
use marketmedia_conformance::sim::lazada::{self, LazadaSimConfig};
use marketmedia_conformance::sim::shopee::{ShopeeSim, ShopeeSimConfig};
use marketmedia_conformance::sim::smh::{self, SmhSimConfig};
use serde_json::{Map, Value};

/// Serves the marketmedia platform simulators.
#[derive(Debug, Parser)]
#[command(name = "marketmedia-sim", version, about)]
struct Args {
    /// Address of the first simulator; the others take the next ports (all random with port 0).
    #[arg(long, default_value = "127.0.0.1:8650")]
    listen: SocketAddr,
}

/// A started simulator: what keeps it serving (dropping it stops it) and its entry in the
/// JSON line (base URLs and test credentials).
struct Started {
    keep_alive: Box<dyn std::any::Any + Send>,
    entry: Value,
}

type StartFuture = Pin<Box<dyn Future<Output = std::io::Result<Started>> + Send>>;

/// Starts one platform's simulator on its addresses (one per port it needs).
type Starter = fn(Vec<SocketAddr>) -> StartFuture;

/// The platforms, in port order: (name in the JSON line, ports it takes, how to start it).
/// Adding a platform is one `start_*` function and one entry here.
const PLATFORMS: &[(&str, usize, Starter)] = &[
    ("shopee", 1, start_shopee),
    ("lazada", 1, start_lazada),
    ("smh", 2, start_smh),
];

fn start_shopee(addrs: Vec<SocketAddr>) -> StartFuture {
    Box::pin(async move {
        let sim = ShopeeSim::new(ShopeeSimConfig::default());
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

fn start_lazada(addrs: Vec<SocketAddr>) -> StartFuture {
    Box::pin(async move {
        let running = lazada::launch(LazadaSimConfig::default(), addrs[0]).await?;
        let entry = serde_json::to_value(&running.info)?;
        Ok(Started {
            keep_alive: Box::new(running),
            entry,
        })
    })
}

fn start_smh(addrs: Vec<SocketAddr>) -> StartFuture {
    Box::pin(async move {
        let running = smh::start_standalone(SmhSimConfig::default(), addrs[0], addrs[1]).await?;
        let entry = serde_json::to_value(&running.endpoints)?;
        Ok(Started {
            keep_alive: Box::new(running),
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

async fn run(args: Args) -> std::io::Result<()> {
    let mut servers = Vec::with_capacity(PLATFORMS.len());
    let mut line = Map::new();
    let mut next_port = 0;
    for (name, ports, start) in PLATFORMS {
        let addrs = (next_port..next_port + ports)
            .map(|i| address_for(args.listen, i))
            .collect::<std::io::Result<Vec<_>>>()?;
        next_port += ports;
        let started = start(addrs.clone()).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("{name} simulator on {addrs:?}: {e}"))
        })?;
        line.insert((*name).to_string(), started.entry);
        servers.push(started.keep_alive);
    }
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", Value::Object(line))?;
        stdout.flush()?;
    }
    tokio::signal::ctrl_c().await?;
    drop(servers);
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(err) = run(args).await {
        eprintln!("marketmedia-sim: {err}");
        std::process::exit(1);
    }
}
