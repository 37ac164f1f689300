//! The integration tests of this crate, one module per area, compiled and linked as one
//! test binary (one per file made the link step of every test binary the slowest part of
//! the build: docs/decisions.md).

mod accounts;
mod batch;
mod batch_kill;
mod cli;
#[path = "../../../batch/tests/it/common/mod.rs"]
mod common;
mod config;
mod docs_tables;
mod drip;
mod fanout;
mod known_env;
mod marketplace_lists;
mod progress;
mod readme;
mod resume;
mod sandbox_env;
mod settings;
#[cfg(unix)]
mod shopee_child;
mod signals;
mod soak;
mod tokens;
#[cfg(unix)]
mod tokens_pg;
