//! Serde mirror of the experiment YAML. Strict: every struct denies unknown keys,
//! so a typo is an error with its position and the nearest valid name. No logic
//! lives here; `plan::compile` turns an [`Experiment`] into a runnable plan.
//!
//! Backends are written as one key per kind (`http:`, `az_loss:`, ...) and are
//! mirrored as optional fields rather than a serde enum: serde ignores
//! `deny_unknown_fields` inside flattened/tagged enums, and optional fields keep
//! "did you mean" suggestions working for misspelt backend keys too. The plan
//! checks that exactly one is set.

pub mod env;
pub mod units;
pub mod yaml;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
pub use units::{Dur, Percent};

/// One experiment file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Short identifier, used in run ids and report titles.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Total run time; probes run for all of it, faults happen inside it.
    #[serde(deserialize_with = "yaml::or_default")]
    pub duration: Dur,
    /// What the run starts or acts on. Optional: a probe-only experiment is a steady-state check.
    #[serde(default, deserialize_with = "yaml::or_default")]
    pub target: Option<Target>,
    #[serde(default, deserialize_with = "yaml::or_default")]
    pub sla: Sla,
    #[serde(default, deserialize_with = "yaml::each")]
    pub probes: Vec<ProbeSpec>,
    #[serde(default, deserialize_with = "yaml::each")]
    pub faults: Vec<FaultSpec>,
    /// Run-wide TCP fault proxies, started before probes so the path exists before faults.
    #[serde(default, deserialize_with = "yaml::each")]
    pub proxies: Vec<ProxySpec>,
    /// Conditions that stop the run early (and revert every fault).
    #[serde(default, deserialize_with = "yaml::each")]
    pub guardrails: Vec<GuardrailSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default)]
    pub demo: Option<DemoTarget>,
}

/// The embedded demo deployment: zones × replicas behind a health-checking load balancer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DemoTarget {
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
}

fn default_zones() -> Vec<String> {
    vec!["a".into(), "b".into(), "c".into()]
}
fn default_replicas() -> u32 {
    2
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

/// Service-level thresholds. Every threshold given becomes one check per probe (or per fault).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Minimum share of successful samples, per probe, over the whole run.
    #[serde(default)]
    pub availability: Option<Percent>,
    /// Per fault: injection until K consecutive successes with no failure after them.
    #[serde(default)]
    pub recovery_time: Option<Dur>,
    /// K in the recovery-time definition (default 3).
    #[serde(default)]
    pub recovery_successes: Option<u32>,
    /// Longest single outage allowed, per probe.
    #[serde(default)]
    pub max_outage: Option<Dur>,
    #[serde(default)]
    pub latency_p50: Option<Dur>,
    #[serde(default)]
    pub latency_p90: Option<Dur>,
    #[serde(default)]
    pub latency_p95: Option<Dur>,
    #[serde(default)]
    pub latency_p99: Option<Dur>,
    #[serde(default)]
    pub latency_p999: Option<Dur>,
    #[serde(default)]
    pub latency_max: Option<Dur>,
    #[serde(default, deserialize_with = "yaml::or_default")]
    pub error_budget: Option<ErrorBudgetSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBudgetSpec {
    /// The SLO, e.g. `99.95%`.
    pub objective: Percent,
    /// The SLO period, e.g. `30d`.
    pub period: Dur,
    /// Optional check: fail when this run spent more than this share of the period's budget.
    #[serde(default)]
    pub max_spent: Option<Percent>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    pub name: String,
    #[serde(default)]
    pub http: Option<HttpProbeSpec>,
    #[serde(default)]
    pub tcp: Option<TcpProbeSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeSpec {
    pub url: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Status codes that count as success: `200`, `[200, 204]`, `"2xx"`. Default: any 2xx.
    #[serde(default)]
    pub expect_status: Option<StatusList>,
    #[serde(default)]
    pub interval: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbeSpec {
    pub address: String,
    #[serde(default)]
    pub interval: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// One status code (`200`) or class (`"2xx"`), or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusList(pub Vec<String>);

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status code like 200, a class like \"2xx\", or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusList, E> {
                Ok(StatusList(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusList, E> {
                Ok(StatusList(vec![v.to_string()]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusList, E> {
                Ok(StatusList(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<StatusList>()? {
                    out.extend(item.0);
                }
                Ok(StatusList(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub name: String,
    /// Offset from run start.
    pub at: Dur,
    /// How long the fault stays applied before it is reverted.
    pub duration: Dur,
    #[serde(default)]
    pub az_loss: Option<AzLossSpec>,
    #[serde(default)]
    pub process: Option<ProcessFaultSpec>,
    #[serde(default)]
    pub latency: Option<LatencyFaultSpec>,
    #[serde(default)]
    pub network: Option<NetworkFaultSpec>,
}

/// Which direction of a proxied connection a toxic applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamSpec {
    /// Client → server.
    Upstream,
    /// Server → client (Toxiproxy's default).
    #[default]
    Downstream,
    /// Both directions (two toxics).
    Both,
}

/// Add latency to every chunk through a proxy (Toxiproxy's `latency` toxic).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyFaultSpec {
    /// A name from `proxies:`.
    pub proxy: String,
    pub latency: Dur,
    #[serde(default)]
    pub jitter: Option<Dur>,
    #[serde(default)]
    pub stream: StreamSpec,
    /// Probability (0..1) that a connection is affected; default 1.
    #[serde(default)]
    pub toxicity: Option<f64>,
}

/// Other network faults through a proxy: exactly one of the toxic keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFaultSpec {
    /// A name from `proxies:`.
    pub proxy: String,
    #[serde(default)]
    pub stream: StreamSpec,
    #[serde(default)]
    pub toxicity: Option<f64>,
    /// Limit throughput, KB/s (1 KB = 1000 bytes).
    #[serde(default)]
    pub bandwidth: Option<BandwidthSpec>,
    /// Delay the close of each connection.
    #[serde(default)]
    pub slow_close: Option<SlowCloseSpec>,
    /// Swallow all data; close after `timeout` (0s = hold until the fault ends).
    #[serde(default)]
    pub timeout: Option<TimeoutSpec>,
    /// Reset connections (TCP RST) `timeout` after their first data.
    #[serde(default)]
    pub reset_peer: Option<TimeoutSpec>,
    /// Cut data into small pieces with a delay between them.
    #[serde(default)]
    pub slicer: Option<SlicerSpec>,
    /// Close each connection after this many bytes.
    #[serde(default)]
    pub limit_data: Option<LimitDataSpec>,
    /// `down: true`: the proxy stops accepting and drops its connections.
    #[serde(default)]
    pub down: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BandwidthSpec {
    pub rate: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlowCloseSpec {
    pub delay: Dur,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSpec {
    pub timeout: Dur,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlicerSpec {
    pub average_size: u64,
    #[serde(default)]
    pub size_variation: u64,
    pub delay: Dur,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitDataSpec {
    pub bytes: u64,
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AzLossSpec {
    pub zone: String,
    #[serde(default)]
    pub mode: AzLossMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessAction {
    /// SIGSTOP; reverted with SIGCONT.
    Pause,
    /// SIGKILL (or `signal`); reverted by running `restart`.
    Kill,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessFaultSpec {
    #[serde(default)]
    pub pid: Option<i32>,
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    pub action: ProcessAction,
    /// For `kill`: the command that brings the process back (argv, no shell).
    #[serde(default)]
    pub restart: Option<Vec<String>>,
    /// For `kill`: the signal to send, `KILL` (default), `TERM` or `INT`.
    #[serde(default)]
    pub signal: Option<String>,
}

/// A TCP fault proxy on the path to the target. Without `api` it is built in: started
/// with the run on `listen`, forwarding to `upstream`. With `api` it lives in an existing
/// Toxiproxy (or `shakeout proxy serve`) server: created there when `listen` and
/// `upstream` are given and it does not exist (and deleted after the run), else used as is.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySpec {
    pub name: String,
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub upstream: Option<String>,
    /// Base URL of a Toxiproxy API, e.g. `http://127.0.0.1:8474`.
    #[serde(default)]
    pub api: Option<String>,
}

/// Stop the run early when a probe's current outage grows longer than `max_outage`
/// (or its failures reach `max_failures`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSpec {
    /// Probe name; absent = every probe.
    #[serde(default)]
    pub probe: Option<String>,
    #[serde(default)]
    pub max_outage: Option<Dur>,
    #[serde(default)]
    pub max_failures: Option<u64>,
}
