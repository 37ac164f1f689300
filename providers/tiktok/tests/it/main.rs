//! The integration tests of this crate, one module per area, compiled and linked as one
//! test binary (docs/decisions.md).

mod conformance;
