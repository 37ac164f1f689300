//! The platform simulators and what they share.

mod common;

pub use common::{serve, SimClock, SimServer, WireLog, WireRecord};
pub mod smh;
