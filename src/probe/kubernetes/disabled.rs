//! The stand-in for `check.rs` without the `kubernetes` feature: the probe validates and
//! plans, and building it for a run fails with one sentence.

use super::compile::KubernetesProbePlan;
use crate::probe::failure::Failure;
use std::time::Duration;

pub const NOT_BUILT: &str = "this shakeout was built without the `kubernetes` feature \
     (rebuild with `cargo build --features kubernetes`)";

/// No cluster can be reached in this build: the type has no values.
pub enum KubernetesProbe {}

impl KubernetesProbe {
    pub fn new(_plan: &KubernetesProbePlan, _timeout: Duration) -> Result<KubernetesProbe, String> {
        Err(NOT_BUILT.into())
    }

    pub async fn check(&self) -> (Option<f64>, Result<(), Failure>) {
        match *self {}
    }
}
