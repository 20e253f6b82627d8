//! YAML mirror of the demo target and of its zone loss.

use crate::spec::{yaml, Dur};
use serde::{Deserialize, Serialize};

/// `target: demo:` — the embedded demo deployment: zones × replicas behind a
/// health-checking load balancer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DemoTargetSpec {
    /// The load balancer's address (loopback).
    pub listen: String,
    #[serde(default = "default_zones")]
    pub zones: Vec<String>,
    #[serde(default = "default_replicas")]
    pub replicas_per_zone: u32,
    #[serde(default, deserialize_with = "yaml::or_default")]
    pub health_check: Option<HealthCheckSpec>,
    /// How long the balancer waits for a replica before answering 504.
    #[serde(default)]
    pub backend_timeout: Option<Dur>,
    /// `true`: the demo is already running (`shakeout demo serve`); the run only drives
    /// its admin API instead of starting one.
    #[serde(default)]
    pub external: bool,
    /// `true`: `listen` may be a non-loopback address, reachable from other hosts
    /// (the admin API has no authentication).
    #[serde(default)]
    pub expose: bool,
    /// A replicated key-value store behind `POST /orders` / `GET /orders/{id}`.
    #[serde(default, deserialize_with = "yaml::or_default")]
    pub store: Option<DemoStoreSpec>,
}

/// `store: {replication: async, replication_delay: 200ms}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DemoStoreSpec {
    /// `async` (default): acknowledged once the primary has it; `sync`: once every
    /// replica has it too.
    #[serde(default)]
    pub replication: Option<crate::demo::store::Replication>,
    /// How long a write takes to reach the replicas (default 200ms).
    #[serde(default)]
    pub replication_delay: Option<Dur>,
}

/// `db_failover: {to: b}`: promote a replica of the demo's store.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DbFailoverSpec {
    /// The zone whose replica is promoted (default: the first replica in zone order).
    #[serde(default)]
    pub to: Option<String>,
}

fn default_zones() -> Vec<String> {
    vec!["a".into(), "b".into(), "c".into()]
}
fn default_replicas() -> u32 {
    2
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    #[serde(default)]
    pub interval: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
    #[serde(default)]
    pub unhealthy_threshold: Option<u32>,
    #[serde(default)]
    pub healthy_threshold: Option<u32>,
}

/// `az_loss: {zone: a, demo: {mode: crash}}`: how the demo's replicas in the zone fail.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DemoZoneLossSpec {
    #[serde(default)]
    pub mode: AzLossMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AzLossMode {
    /// Replicas refuse connections (a dead host).
    #[default]
    Crash,
    /// Replicas accept and never answer (a partitioned host).
    Blackhole,
}
