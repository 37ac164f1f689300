//! # marketmedia-sim
//!
//! Faithful local simulators of the marketplaces' media upload APIs — Shopee Open Platform v2
//! `media_space` ([`shopee`]), the Lazada Open Platform media calls ([`lazada`]), Tencent
//! Cloud SMH ([`smh`]), eBay's Media API ([`ebay`]) and the WeChat Channels Store media calls ([`wechat`]) — with a fault injection and network shaping layer ([`faults`]).
//!
//! This crate is a **sandbox**, a product of its own: any client, in any language, can upload
//! against it. It is written from the platforms' published protocols and depends on no other
//! marketmedia crate — not on the providers, not on `marketmedia-core` — so that a provider
//! bug and a simulator bug cannot cancel each other out.
//!
//! Each simulator is an axum application on `127.0.0.1` that tests and examples start
//! in-process, and that the `marketmedia-sim` binary (and `marketmedia sim`) serves standalone
//! ([`standalone`]). Every simulator keeps:
//! - a [`WireLog`] of every request it received (call, parameters as sent, file field sizes,
//!   the answer's status and error code), so tests assert on what crossed the wire;
//! - the assembled bytes of every upload, so tests compare them with the source;
//! - a [`SimClock`] that tests can move forward, to exercise expiry without sleeping.
//!
//! ## Layout
//! - [`SimCore`]: the skeleton every simulator is built on (state behind a mutex, config,
//!   wire log, clock, fault handle, router and start).
//! - `request` (internal): the one request reader (query string, urlencoded and multipart bodies, JSON).
//! - each platform module: `mod.rs` (the simulator, its config and snapshots), `calls.rs`
//!   (its call table, error codes and envelopes), `auth.rs` (signing, tokens), and one file per
//!   group of calls (`video.rs`, `image.rs`; SMH also `storage.rs`).
//! - [`fixtures`]: generated test media (MP4, JPEG, PNG, GIF).
//! - [`tokens`]: the token ledger Shopee, Lazada, eBay and WeChat share (lifetimes on the sim
//!   clock, refresh, revocation, per-credential counts, the `/__sim/tokens` routes).
#![warn(missing_docs)]

#[macro_use]
mod skeleton;
mod common;
pub mod control;
pub mod ebay;
pub mod faults;
pub mod fixtures;
pub mod lazada;
mod request;
pub mod shopee;
pub mod shopify;
pub mod smh;
pub mod standalone;
pub mod tiktok;
pub mod tokens;
mod util;
pub mod wechat;

pub use common::{
    serve, Retention, SimClock, SimServer, WireLog, WireRecord, DEFAULT_MAX_ASSEMBLED_BYTES,
    DEFAULT_MAX_WIRE_RECORDS, RAW_SINK_PATH,
};
pub use faults::{FaultCounters, FaultHandle, FaultKind, FaultProfile};
pub use skeleton::{
    BodyLimit, Exchange, SimCore, Traffic, TrafficCounters, TrafficLayer, TrafficService,
};
