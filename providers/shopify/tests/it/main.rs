//! The integration tests of this crate, one module per area, compiled and linked as one
//! test binary.

mod conformance;
mod decoders;
mod secrets;
mod sim;
mod tokens;
