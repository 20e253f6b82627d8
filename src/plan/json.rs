//! `--format json` for `validate` and `plan`: the same content as the words, for tools.
//! Shapes are fixed by `schemas/validate.schema.json` and `schemas/plan.schema.json`;
//! `schema_version` is bumped on any incompatible change.

use super::{FaultPlan, Plan};
use crate::sla::Thresholds;
use crate::spec::units::format_duration;
use crate::spec::yaml::SpecError;
use serde::Serialize;
use std::time::Duration;

/// Version of the `validate --format json` and `plan --format json` documents.
pub const SCHEMA_VERSION: u32 = 1;

/// `shakeout validate --format json`.
#[derive(Debug, Serialize)]
pub struct ValidateOutput {
    pub schema_version: u32,
    /// True when every file is valid (exit 0).
    pub valid: bool,
    pub files: Vec<FileResult>,
    pub errors: Vec<ErrorOut>,
}

#[derive(Debug, Serialize)]
pub struct FileResult {
    pub file: String,
    pub valid: bool,
    pub errors: usize,
}

/// One spec error; `line` and `column` are 1-based, absent when the error has no place
/// in the file (an unreadable file).
#[derive(Debug, Serialize)]
pub struct ErrorOut {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Field path such as `probes[0].http.timeout`; empty for the whole document.
    pub path: String,
    pub message: String,
    /// The closest valid name, when the message says "did you mean".
    pub suggestion: Option<String>,
}

impl From<&SpecError> for ErrorOut {
    fn from(e: &SpecError) -> ErrorOut {
        ErrorOut {
            file: e.file.clone(),
            line: e.pos.map(|p| p.line),
            column: e.pos.map(|p| p.col),
            path: e.path.clone(),
            message: e.message.clone(),
            suggestion: e.suggestion().map(str::to_string),
        }
    }
}

/// The outcome of validating each file, in the order given: (file, its errors).
pub fn validate_output(results: &[(String, Vec<SpecError>)]) -> ValidateOutput {
    let files: Vec<FileResult> = results
        .iter()
        .map(|(file, errors)| FileResult {
            file: file.clone(),
            valid: errors.is_empty(),
            errors: errors.len(),
        })
        .collect();
    let errors: Vec<ErrorOut> = results
        .iter()
        .flat_map(|(_, errors)| errors.iter().map(ErrorOut::from))
        .collect();
    ValidateOutput {
        schema_version: SCHEMA_VERSION,
        valid: errors.is_empty(),
        files,
        errors,
    }
}

/// `shakeout plan --format json`.
#[derive(Debug, Serialize)]
pub struct PlanOutput {
    pub schema_version: u32,
    pub experiment: String,
    pub description: Option<String>,
    pub source: Option<String>,
    pub duration_ms: f64,
    /// The deployment under test in words; absent for a probe-only experiment.
    pub target: Option<String>,
    pub steady_state: Option<SteadyStateOut>,
    pub probes: Vec<ProbeOut>,
    pub faults: Vec<FaultOut>,
    /// Every injection and revert in time order (reverts first at equal times).
    pub timeline: Vec<TimelineEvent>,
    /// Every SLA check that will be judged after the run.
    pub checks: Vec<PlannedCheck>,
}

#[derive(Debug, Serialize)]
pub struct SteadyStateOut {
    pub window_ms: f64,
    pub availability_pct: f64,
    pub latency_p99_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ProbeOut {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub interval_ms: f64,
    pub timeout_ms: f64,
    /// What counts as a successful sample, in words.
    pub success: String,
    /// Samples the probe sends over the run (open loop: duration / interval).
    pub samples: u64,
    pub writes: bool,
}

#[derive(Debug, Serialize)]
pub struct FaultOut {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub at_ms: f64,
    pub duration_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct TimelineEvent {
    pub at_ms: f64,
    /// `inject` or `revert`.
    pub action: &'static str,
    pub fault: String,
}

/// A check as planned: like a report's check without the measurement.
#[derive(Debug, Serialize)]
pub struct PlannedCheck {
    /// The name the report's check will have: `availability`, `latency_p99`, ...
    pub name: String,
    pub probe: Option<String>,
    pub fault: Option<String>,
    /// Human form of the limit: `>= 99%`, `<= 250ms`.
    pub threshold: String,
    /// Numeric limit in `unit`.
    pub limit: f64,
    /// `percent`, `ms` or `writes`.
    pub unit: &'static str,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn plan_output(plan: &Plan) -> PlanOutput {
    PlanOutput {
        schema_version: SCHEMA_VERSION,
        experiment: plan.name.clone(),
        description: plan.description.clone(),
        source: plan.source.clone(),
        duration_ms: ms(plan.duration),
        target: plan.target.as_ref().map(|t| t.describe()),
        steady_state: plan.steady_state.as_ref().map(|s| SteadyStateOut {
            window_ms: ms(s.window),
            availability_pct: s.availability_pct,
            latency_p99_ms: s.latency_p99.map(ms),
        }),
        probes: plan.probes.iter().map(|p| probe_out(plan, p)).collect(),
        faults: plan.faults.iter().map(fault_out).collect(),
        timeline: timeline(&plan.faults),
        checks: planned_checks(plan),
    }
}

fn probe_out(plan: &Plan, p: &super::ProbePlan) -> ProbeOut {
    let samples = plan.duration.as_micros() / p.interval.as_micros().max(1);
    ProbeOut {
        name: p.name.clone(),
        kind: p.kind.kind_name().into(),
        target: p.kind.target(),
        interval_ms: ms(p.interval),
        timeout_ms: ms(p.timeout),
        success: p.kind.success(),
        samples: u64::try_from(samples).unwrap_or(u64::MAX),
        writes: p.kind.is_write(),
    }
}

fn fault_out(f: &FaultPlan) -> FaultOut {
    FaultOut {
        name: f.name.clone(),
        kind: f.kind.kind_name().into(),
        description: f.kind.describe(),
        at_ms: ms(f.at),
        duration_ms: ms(f.duration),
    }
}

fn timeline(faults: &[FaultPlan]) -> Vec<TimelineEvent> {
    // (time, reverts before injections at the same time, event)
    let mut events: Vec<(Duration, u8, TimelineEvent)> = Vec::new();
    for f in faults {
        let event = |at: Duration, action| TimelineEvent {
            at_ms: ms(at),
            action,
            fault: f.name.clone(),
        };
        events.push((f.at, 1, event(f.at, "inject")));
        let end = f.at + f.duration;
        events.push((end, 0, event(end, "revert")));
    }
    events.sort_by(|a, b| (a.0, a.1, &a.2.fault).cmp(&(b.0, b.1, &b.2.fault)));
    events.into_iter().map(|(_, _, e)| e).collect()
}

/// Every check `verdict::judge` will make, named as it will name them.
fn planned_checks(plan: &Plan) -> Vec<PlannedCheck> {
    let mut checks = Vec::new();
    for p in &plan.probes {
        let t = plan
            .probe_thresholds
            .get(&p.name)
            .unwrap_or(&plan.thresholds);
        probe_checks(&mut checks, &p.name, t, p.kind.is_write());
    }
    let t = &plan.thresholds;
    if let Some(limit) = t.max_lateness {
        checks.push(duration_check("max_lateness", None, None, limit));
    }
    if let Some(limit) = t.recovery_time {
        for f in &plan.faults {
            checks.push(duration_check("recovery_time", None, Some(&f.name), limit));
        }
    }
    if let (Some(max), Some(b)) = (t.budget_max_spent_pct, &plan.budget) {
        let allowed_ms = b.allowed_us() as f64 / 1000.0;
        checks.push(PlannedCheck {
            name: "error_budget".into(),
            probe: None,
            fault: None,
            threshold: format!("<= {max} of {}", crate::format::fmt_span(allowed_ms)),
            limit: max.as_f64(),
            unit: "percent",
        });
    }
    checks
}

fn probe_checks(checks: &mut Vec<PlannedCheck>, probe: &str, t: &Thresholds, writes: bool) {
    if let Some(min) = t.availability_pct {
        checks.push(PlannedCheck {
            name: "availability".into(),
            probe: Some(probe.into()),
            fault: None,
            threshold: format!(">= {min}"),
            limit: min.as_f64(),
            unit: "percent",
        });
    }
    for (stat, limit) in &t.latency {
        let name = format!("latency_{stat}");
        checks.push(duration_check(&name, Some(probe), None, *limit));
    }
    if let Some(limit) = t.max_outage {
        checks.push(duration_check("max_outage", Some(probe), None, limit));
    }
    if let Some(limit) = t.max_disruption {
        checks.push(duration_check("max_disruption", Some(probe), None, limit));
    }
    if !writes {
        return;
    }
    if let Some(limit) = t.rpo {
        checks.push(duration_check("rpo", Some(probe), None, limit));
    }
    if let Some(max) = t.max_lost_writes {
        checks.push(PlannedCheck {
            name: "max_lost_writes".into(),
            probe: Some(probe.into()),
            fault: None,
            threshold: format!("<= {max} writes"),
            limit: max as f64,
            unit: "writes",
        });
    }
}

fn duration_check(
    name: &str,
    probe: Option<&str>,
    fault: Option<&str>,
    limit: Duration,
) -> PlannedCheck {
    PlannedCheck {
        name: name.into(),
        probe: probe.map(str::to_string),
        fault: fault.map(str::to_string),
        threshold: format!("<= {}", format_duration(limit)),
        limit: ms(limit),
        unit: "ms",
    }
}
