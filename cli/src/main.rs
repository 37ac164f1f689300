//! `marketmedia`: upload product videos and images to every marketplace at once (the list is
//! `Platform::ALL`; `marketmedia --help` names them).
//! See `docs/cli.md`, or `marketmedia --help`.

use clap::Parser;
use marketmedia_cli::{exit, Cli};

fn main() {
    // Usage errors exit with clap's status 2 (help and version with 0).
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("marketmedia: cannot start the async runtime: {e}");
            std::process::exit(exit::FAILURE);
        }
    };
    let code = match runtime.block_on(marketmedia_cli::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            // One readable line: the error's Display, never its Debug.
            eprintln!(
                "marketmedia: {}",
                err.to_string().replace(['\n', '\r'], " ")
            );
            exit::FAILURE
        }
    };
    // A task still on the blocking pool (a digest pass a stop abandoned stops at its next
    // chunk) is not waited for long: a stopped command exits within its promise.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code);
}
