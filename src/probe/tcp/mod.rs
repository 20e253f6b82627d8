//! TCP probe: a sample succeeds when a connection is established. Files as in every
//! probe kind: `spec.rs`, `compile.rs`, `check.rs`.

mod check;
mod compile;
mod spec;

pub use check::TcpProbe;
pub use compile::{compile, TcpProbePlan};
pub use spec::TcpProbeSpec;
