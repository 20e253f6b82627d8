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
    /// With `run --repeat N`: which of the N figures is held against each threshold
    /// (default `worst`). One run judges its only figure whatever this says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Judge>,
}

/// Which of several runs' figures a threshold is held against (`sla.judge`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judge {
    /// The worst run's figure: every run must meet the threshold.
    #[default]
    Worst,
    /// The median run's figure (nearest rank).
    Median,
    /// The figure 90% of runs meet or beat (nearest rank, counted from the best).
    P90,
}

impl Judge {
    pub fn as_str(self) -> &'static str {
        match self {
            Judge::Worst => "worst",
            Judge::Median => "median",
            Judge::P90 => "p90",
        }
    }
}

impl Sla {
    /// Keys that apply to the whole run or to each fault, so a probe's own `sla:`
    /// block cannot set them.
    pub const RUN_WIDE: &'static [&'static str] = &[
        "recovery_time",
        "recovery_successes",
        "max_lateness",
        "error_budget",
        "judge",
    ];

    /// The run-wide keys this block sets.
    pub fn run_wide_keys(&self) -> Vec<&'static str> {
        let set = [
            self.recovery_time.is_some(),
            self.recovery_successes.is_some(),
            self.max_lateness.is_some(),
            self.error_budget.is_some(),
            self.judge.is_some(),
        ];
        Self::RUN_WIDE
            .iter()
            .zip(set)
            .filter_map(|(k, s)| s.then_some(*k))
            .collect()
    }

    /// This block with every key `over` sets replaced by `over`'s value.
    pub fn overridden_by(&self, over: &Sla) -> Sla {
        Sla {
            availability: over.availability.or(self.availability),
            recovery_time: over.recovery_time.or(self.recovery_time),
            recovery_successes: over.recovery_successes.or(self.recovery_successes),
            max_outage: over.max_outage.or(self.max_outage),
            max_disruption: over.max_disruption.or(self.max_disruption),
            max_lateness: over.max_lateness.or(self.max_lateness),
            latency_p50: over.latency_p50.or(self.latency_p50),
            latency_p90: over.latency_p90.or(self.latency_p90),
            latency_p95: over.latency_p95.or(self.latency_p95),
            latency_p99: over.latency_p99.or(self.latency_p99),
            latency_p999: over.latency_p999.or(self.latency_p999),
            latency_max: over.latency_max.or(self.latency_max),
            error_budget: over
                .error_budget
                .clone()
                .or_else(|| self.error_budget.clone()),
            rpo: over.rpo.or(self.rpo),
            max_lost_writes: over.max_lost_writes.or(self.max_lost_writes),
            judge: over.judge.or(self.judge),
        }
    }
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
