//! `marketmedia-sim`: serves the platform simulators standalone.
fn main() {}
