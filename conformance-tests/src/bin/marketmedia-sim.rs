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
use marketmedia_conformance::sim::shopee::{ShopeeSim, ShopeeSimConfig};
use marketmedia_conformance::sim::SimServer;
use serde_json::{Map, Value};

/// Serves the marketmedia platform simulators.
#[derive(Debug, Parser)]
#[command(name = "marketmedia-sim", version, about)]
struct Args {
    /// Address of the first simulator; the others take the next ports (all random with port 0).
    #[arg(long, default_value = "127.0.0.1:8650")]
    listen: SocketAddr,
}

/// A started simulator: its server (dropping it stops it) and its test credentials.
struct Started {
    server: SimServer,
    credentials: Value,
}

type StartFuture = Pin<Box<dyn Future<Output = std::io::Result<Started>> + Send>>;

/// Starts one platform's simulator on an address.
type Starter = fn(SocketAddr) -> StartFuture;

/// The platforms, in port order: (name in the JSON line, how to start it on an address).
/// Adding a platform is one `start_*` function and one entry here.
const PLATFORMS: &[(&str, Starter)] = &[("shopee", start_shopee)];

fn start_shopee(addr: SocketAddr) -> StartFuture {
    Box::pin(async move {
        let sim = ShopeeSim::new(ShopeeSimConfig::default());
        let server = sim.start(addr).await?;
        let credentials = serde_json::to_value(sim.credentials())?;
        Ok(Started {
            server,
            credentials,
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
    for (index, (name, start)) in PLATFORMS.iter().enumerate() {
        let addr = address_for(args.listen, index)?;
        let started = start(addr).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("{name} simulator on {addr}: {e}"))
        })?;
        let mut entry = Map::new();
        entry.insert("base_url".into(), Value::String(started.server.base_url()));
        entry.insert("credentials".into(), started.credentials);
        line.insert((*name).to_string(), Value::Object(entry));
        servers.push(started.server);
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
