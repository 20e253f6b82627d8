//! The SLA as the plan resolved it: what a run is judged against. Types only, so the
//! event log can record it and the verdict can read it without knowing the spec.

use crate::percent::Percent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Every threshold that will be judged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Minimum availability per probe (recorded as a number of percent).
    pub availability_pct: Option<Percent>,
    /// Maximum recovery time per fault.
    pub recovery_time: Option<Duration>,
    /// K in the recovery definition.
    pub recovery_successes: u32,
    /// Longest single outage per probe.
    pub max_outage: Option<Duration>,
    /// (statistic, limit): `("p99", 250ms)`.
    pub latency: Vec<(String, Duration)>,
    /// Maximum share of the error budget this run may spend.
    pub budget_max_spent_pct: Option<Percent>,
    /// Longest single disruption per probe (outages merged until K successes).
    #[serde(default)]
    pub max_disruption: Option<Duration>,
    /// Largest send lateness of the harness itself, over the whole run.
    #[serde(default)]
    pub max_lateness: Option<Duration>,
    /// Per write probe: the longest span of acknowledged writes that may be lost
    /// (`0s`: none may be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo: Option<Duration>,
    /// Per write probe: how many acknowledged writes may be lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lost_writes: Option<u64>,
}

/// The error budget's objective and period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetConfig {
    pub objective_pct: Percent,
    pub period_us: u64,
}

impl BudgetConfig {
    /// `(1 − objective) × period`, exactly, in whole microseconds (rounded down).
    pub fn allowed_us(&self) -> u64 {
        self.objective_pct.complement().of(self.period_us)
    }
}

/// Everything judging a run needs from its spec, recorded at run start so a past run
/// can be judged again from its events alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sla {
    pub thresholds: Thresholds,
    #[serde(default)]
    pub budget: Option<BudgetConfig>,
    /// Probes with their own `sla:` block, by name: the top-level thresholds with that
    /// block's keys laid over them, fully resolved. A probe absent here is judged
    /// against `thresholds`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_probe: BTreeMap<String, Thresholds>,
}

impl Sla {
    /// The thresholds the probe `name` is judged against.
    pub fn for_probe(&self, name: &str) -> &Thresholds {
        self.per_probe.get(name).unwrap_or(&self.thresholds)
    }
}
