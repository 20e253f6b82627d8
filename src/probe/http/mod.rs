//! HTTP probe: one request per sample over a keep-alive pool; success = an expected
//! status and a fully read body. Files as in every probe kind: `spec.rs`,
//! `compile.rs`, `check.rs`.

mod check;
mod compile;
mod spec;

pub use check::HttpProbe;
pub use compile::{compile, HttpProbePlan, StatusPattern};
pub use spec::{HttpProbeSpec, StatusList};
