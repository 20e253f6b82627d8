//! The whole experiment file's YAML mirror. It lives here, above the backends, because
//! it names their spec types; `spec` (below them) holds what every section shares.

use crate::fault::proxy::ProxySpec;
use crate::fault::{FaultSpec, TargetSpec};
use crate::probe::ProbeSpec;
use crate::spec::{yaml, Dur, Sla};
use serde::{Deserialize, Serialize};

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
    pub target: Option<TargetSpec>,
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
    /// Probe this long before the first fault, and inject nothing unless it holds.
    #[serde(default)]
    pub steady_state: Option<crate::spec::SteadyStateSpec>,
    /// Where to say how the run went (Slack or a JSON webhook), and on which verdicts.
    #[serde(default, deserialize_with = "yaml::or_default")]
    pub notify: Option<crate::notify::NotifySpec>,
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
    /// Stop when a Prometheus query violates `expect` (for `for`).
    #[serde(default)]
    pub prometheus: Option<crate::probe::prometheus::PrometheusGuardrailSpec>,
    /// Stop when a Prometheus alert fires.
    #[serde(default)]
    pub alert: Option<crate::probe::prometheus::AlertGuardrailSpec>,
}
