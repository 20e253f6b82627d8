//! Backend-agnostic spec support, the lowest layer: units (`250ms`, `99.95%`), the
//! YAML loader that keeps positions ([`yaml`]), the error collector and shared checks
//! ([`check`]), and the sections that belong to no backend (`sla:`, `steady_state:`).
//!
//! Every struct denies unknown keys, so a typo is an error with its position and the
//! nearest valid name. Backends keep their own spec structs (`fault/<backend>/spec.rs`,
//! `probe/<kind>/spec.rs`); the whole file's mirror is `plan::Experiment`.
//!
//! Backends are written as one key per kind (`http:`, `az_loss:`, ...) and are
//! mirrored as optional fields rather than a serde enum: serde ignores
//! `deny_unknown_fields` inside flattened/tagged enums, and optional fields keep
//! "did you mean" suggestions working for misspelt backend keys too. The plan
//! checks that exactly one is set.

pub mod check;
pub mod env;
pub mod units;
pub mod yaml;

use serde::{Deserialize, Serialize};
pub use units::{Dur, Percent};

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
    /// Longest single disruption allowed, per probe: outages separated by fewer than
    /// `recovery_successes` successes count as one.
    #[serde(default)]
    pub max_disruption: Option<Dur>,
    /// Largest send lateness of the harness allowed: a run the harness could not
    /// measure on schedule fails this check instead of passing on inflated figures.
    #[serde(default)]
    pub max_lateness: Option<Dur>,
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
    /// Per write probe: acknowledged writes lost may span at most this (`0s`: none lost).
    #[serde(default)]
    pub rpo: Option<Dur>,
    /// Per write probe: at most this many acknowledged writes lost.
    #[serde(default)]
    pub max_lost_writes: Option<u64>,
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

/// `steady_state:` — probe for `for` before the first fault and judge the samples;
/// not met means no fault is injected and the run is aborted.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SteadyStateSpec {
    #[serde(rename = "for")]
    pub for_: Dur,
    /// Minimum share of successful samples per probe (default: the SLA's, else 100%).
    #[serde(default)]
    pub availability: Option<Percent>,
    /// Highest p99 latency of successful samples per probe (default: the SLA's).
    #[serde(default)]
    pub latency_p99: Option<Dur>,
}
