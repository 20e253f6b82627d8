//! HTTP probe: one request per sample over a keep-alive pool; success = an expected
//! status and a fully read body. With `write:`, each sample creates one record and
//! the write ledger (shared with the postgres probe) is read back after the run.
//! Files as in every probe kind: `spec.rs`, `compile.rs`, `check.rs`, plus
//! `write.rs` (the ledgered write and its read-back).

mod check;
mod compile;
mod spec;
mod write;

pub use check::HttpProbe;
pub use compile::{compile, HttpProbePlan, HttpWritePlan, StatusPattern};
pub use spec::{HttpProbeSpec, HttpWriteSpec, StatusList};
