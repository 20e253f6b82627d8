//! YAML mirror of `kubernetes:` probes.

use crate::spec::Dur;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `kubernetes: {namespace, selector, min_ready}`: each sample counts the ready pods
/// matching `selector`; success when at least `min_ready` are ready.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesProbeSpec {
    pub namespace: String,
    /// Label selector of the pods to count (`app=web`).
    pub selector: String,
    pub min_ready: u32,
    /// The kubeconfig context (the current one, or in-cluster, when absent).
    #[serde(default)]
    pub context: Option<String>,
    /// Default 1s: each sample is an API call or three, not a request to the service.
    #[serde(default = "default_interval")]
    pub interval: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

fn default_interval() -> Option<Dur> {
    Some(Dur(Duration::from_secs(1)))
}
