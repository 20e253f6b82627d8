//! Compile a parsed spec into a runnable [`Plan`]. Pure: no network, files or clock.
//! Every problem is collected, each with its field path and source position.
//!
//! The sections that belong to a backend are compiled by it (`fault::compile`,
//! `probe::compile`, ...); this module runs the steps in order and checks what spans
//! several sections (names, timing, overlaps, guardrails).

mod compile;
mod describe;
mod experiment;

pub use compile::compile;
pub use describe::describe;
pub use experiment::Experiment;

pub use crate::fault::demo::DemoPlan;
pub use crate::fault::proxy::ProxyPlan;
pub use crate::fault::{FaultKind, TargetPlan};
pub use crate::probe::{ProbeKind, ProbePlan, DEFAULT_INTERVAL, DEFAULT_TIMEOUT};

use crate::sla::BudgetConfig;
use crate::sla::Thresholds;
use crate::spec::yaml::SpecError;
use serde::Serialize;
use std::time::Duration;

/// A resolved experiment: everything the engine needs, nothing left to interpret.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    /// The spec file, for reports.
    pub source: Option<String>,
    pub duration: Duration,
    pub target: Option<TargetPlan>,
    pub thresholds: Thresholds,
    /// Probes with their own `sla:` block: the resolved thresholds they are judged
    /// against instead of `thresholds`.
    pub probe_thresholds: std::collections::BTreeMap<String, Thresholds>,
    pub budget: Option<BudgetConfig>,
    pub probes: Vec<ProbePlan>,
    pub faults: Vec<FaultPlan>,
    pub proxies: Vec<ProxyPlan>,
    pub guardrails: Vec<Guardrail>,
    /// The window before the first fault in which the probes must hold. Fault times
    /// and the duration above already include it.
    pub steady_state: Option<SteadyState>,
}

impl Plan {
    /// The faults that act on shared infrastructure, each with what it does; `run`
    /// refuses them without `--allow-destructive`.
    pub fn destructive_faults(&self) -> Vec<(&str, String)> {
        self.faults
            .iter()
            .filter_map(|f| f.kind.destructive().map(|why| (f.name.as_str(), why)))
            .collect()
    }
}

/// A resolved `steady_state:`: the run's first `window`, judged before any fault.
#[derive(Debug, Clone, Serialize)]
pub struct SteadyState {
    pub window: Duration,
    pub availability_pct: f64,
    pub latency_p99: Option<Duration>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultPlan {
    pub name: String,
    pub at: Duration,
    pub duration: Duration,
    pub kind: FaultKind,
    /// What the fault should measurably do, checked after the run (asked vs achieved).
    pub effect: Option<Effect>,
}

pub use crate::record::Effect;

#[derive(Debug, Clone, Serialize)]
pub struct Guardrail {
    /// `None` = every probe.
    pub probe: Option<String>,
    pub max_outage: Option<Duration>,
    pub max_failures: Option<u64>,
    /// A Prometheus query or alert that stops the run.
    pub metric: Option<crate::probe::prometheus::MetricGuardrail>,
}

/// Read, parse and compile one experiment file. Returns the plan and the file's text.
pub fn load(path: &std::path::Path) -> Result<(Plan, String), Vec<SpecError>> {
    let file = path.display().to_string();
    let text = crate::spec::yaml::read_spec_file(path).map_err(|e| vec![e])?;
    let plan = from_text(&file, &text)?;
    Ok((plan, text))
}

/// Parse and compile experiment text; `file` names it in messages.
pub fn from_text(file: &str, text: &str) -> Result<Plan, Vec<SpecError>> {
    match crate::spec::yaml::from_str_partial::<Experiment>(file, text) {
        Ok((exp, map)) => compile(&exp, file, &map),
        Err(p) => {
            let mut errors = p.errors;
            // Only unknown keys went wrong: the plan's own checks still run, except in the
            // mappings that held an unknown key (their errors would only echo it).
            if let Some((exp, map)) = p.value {
                let noisy: Vec<String> = errors.iter().map(|e| noisy_path(e).to_string()).collect();
                if let Err(more) = compile(&exp, file, &map) {
                    errors.extend(
                        more.into_iter()
                            .filter(|m| !noisy.iter().any(|n| m.path.starts_with(n.as_str()))),
                    );
                }
                errors.sort_by_key(|e| (e.pos.is_none(), e.pos));
            }
            Err(errors)
        }
    }
}

/// Where a parse error makes the plan's own checks noisy: the mapping that held an
/// unknown key, or the bad value itself (read as a placeholder).
fn noisy_path(e: &SpecError) -> &str {
    if e.message.starts_with("unknown field") {
        parent_path(&e.path)
    } else {
        &e.path
    }
}

fn parent_path(path: &str) -> &str {
    path.rfind(['.', '[']).map_or("", |i| &path[..i])
}
