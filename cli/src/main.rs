//! `marketmedia`: upload product videos and images to every marketplace at once (the
//! marketplaces of `marketmedia::registry()`; `marketmedia --help` names them).
//! See `docs/cli.md`, or `marketmedia --help`.

fn main() {
    std::process::exit(marketmedia_cli::main_with(marketmedia_cli::Setup::default()));
}
