//! The `kubernetes` probe: ready pods matching a selector, against `min_ready`. The
//! ready count is each sample's value, so the report charts it and says how long the
//! count took to come back after a fault (see `analysis::Capacity`).

#[cfg(feature = "kubernetes")]
mod check;
#[cfg(not(feature = "kubernetes"))]
#[path = "disabled.rs"]
mod check;
mod compile;
mod spec;

pub use check::KubernetesProbe;
pub use compile::{compile, KubernetesProbePlan};
pub use spec::KubernetesProbeSpec;
