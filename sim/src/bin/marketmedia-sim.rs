//! `marketmedia-sim`: serves the platform simulators standalone.
//!
//! ```text
//! marketmedia-sim [--listen 127.0.0.1:8650] [fault flags]
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
//! then the simulators serve until Ctrl-C. The arguments and the logic live in
//! [`marketmedia_sim::standalone`], shared with `marketmedia sim`.

use clap::Parser;
use marketmedia_sim::standalone;

/// Serves the marketmedia platform simulators (the help text names them:
/// `standalone::about`).
#[derive(Debug, Parser)]
#[command(name = "marketmedia-sim", version, about = standalone::about())]
struct Cli {
    #[command(flatten)]
    args: standalone::Args,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(err) = standalone::run(&cli.args).await {
        eprintln!("marketmedia-sim: {err}");
        std::process::exit(1);
    }
}
