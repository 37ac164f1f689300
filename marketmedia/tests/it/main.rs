//! The integration tests of the `marketmedia` crate, one module per area, in one test binary.

mod settings;
