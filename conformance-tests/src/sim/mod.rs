//! The platform simulators and what they share.

mod common;
pub mod faults;
pub mod lazada;
pub mod shopee;
pub mod smh;
pub mod standalone;

pub use common::{serve, SimClock, SimServer, WireLog, WireRecord, RAW_SINK_PATH};
pub use faults::{FaultCounters, FaultHandle, FaultKind, FaultProfile};
