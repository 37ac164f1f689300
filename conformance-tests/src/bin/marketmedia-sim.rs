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
//! then the simulators serve until Ctrl-C. The logic lives in
//! [`marketmedia_conformance::sim::standalone`], shared with `marketmedia sim`.

use std::net::SocketAddr;

use clap::Parser;
use marketmedia_conformance::sim::faults::FaultArgs;
use marketmedia_conformance::sim::standalone;

/// Serves the marketmedia platform simulators.
#[derive(Debug, Parser)]
#[command(name = "marketmedia-sim", version, about)]
struct Args {
    /// Address of the first simulator; the others take the next ports (all random with port 0).
    #[arg(long, default_value = standalone::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Fault injection and network shaping (all off by default).
    #[command(flatten)]
    faults: FaultArgs,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(err) = standalone::run_with_faults(args.listen, &args.faults).await {
        eprintln!("marketmedia-sim: {err}");
        std::process::exit(1);
    }
}
