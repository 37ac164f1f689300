//! The platform simulators and what they share.

mod common;
pub mod shopee;

pub use common::{serve, SimClock, SimServer, WireLog, WireRecord};
