//! The integration tests of this crate, one module per area, compiled and linked as one
//! test binary (one per file made the link step of every test binary the slowest part of
//! the build: docs/decisions.md).

mod common;
mod credentials;
mod credentials_pg;
mod migration;
mod seal;
mod store;
