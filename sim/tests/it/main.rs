//! The integration tests of this crate, one module per area, compiled and linked as one
//! test binary (one per file made the link step of every test binary the slowest part of
//! the build: docs/decisions.md).

mod control;
mod faults_layer;
mod sim_ebay;
mod sim_lazada;
mod sim_shopee;
mod sim_shopify;
mod sim_smh;
mod sim_tiktok;
mod sim_wechat;
mod tokens;
mod traffic;
mod under_load;
