//! # marketmedia-conformance
//!
//! Faithful local simulators of the marketplaces' media upload APIs, written from the
//! platforms' published protocols (not from the providers' code, so that a provider bug and a
//! simulator bug cannot cancel each other out), and the shared conformance suite that every
//! `marketmedia` provider runs.
//!
//! Each simulator is an axum application on `127.0.0.1` that tests and examples start
//! in-process, and that the `marketmedia-sim` binary serves standalone. Every simulator keeps:
//! - a [`sim::WireLog`] of every request it received (call, parameters as sent, file field sizes,
//!   the answer's status and error code), so tests assert on what crossed the wire;
//! - the assembled bytes of every upload, so tests compare them with the source;
//! - a [`sim::SimClock`] that tests can move forward, to exercise expiry without sleeping.
//!
//! The [`suite`] runs the same cases on every provider against its simulator, selected from
//! the provider's declared rules: see `docs/providers.md` for how a new marketplace plugs in.
#![warn(missing_docs)]

pub mod fixtures;
pub mod junk;
pub mod leaks;
pub mod sim;
pub mod suite;
