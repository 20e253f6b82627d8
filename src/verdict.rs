//! Hold each measured figure against its SLA threshold. Pure.

use crate::analysis::Analysis;
use crate::format::{fmt_ms, format_duration, trim_float};
use serde::{Deserialize, Serialize};

pub use crate::sla::Thresholds;

mod writes;

/// Exit codes, one table for the CLI and the reports (and the README).
pub mod exit {
    pub const PASS: i32 = 0;
    pub const FAIL: i32 = 1;
    pub const INVALID: i32 = 2;
    pub const HARNESS: i32 = 3;
    pub const REVERT_FAILED: i32 = 4;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    Aborted,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `availability`, `latency_p99`, `recovery_time`, `max_outage`, `error_budget`.
    pub name: String,
    pub probe: Option<String>,
    pub fault: Option<String>,
    /// Human form of the limit: `>= 99.0%`, `<= 250ms`.
    pub threshold: String,
    /// Human form of the measurement: `99.41%`, `212.3ms`, `not recovered`.
    pub measured: String,
    /// Numeric limit in `unit`.
    pub limit: f64,
    /// Numeric measurement in `unit`; absent when nothing could be measured.
    pub value: Option<f64>,
    /// `percent` or `ms`.
    pub unit: String,
    pub pass: bool,
}

/// One check per threshold per probe (or per fault, for recovery time).
pub fn judge(a: &Analysis, t: &Thresholds) -> Vec<Check> {
    let mut checks = Vec::new();
    for p in &a.probes {
        if let Some(min) = t.availability_pct {
            let measured = (p.total > 0).then_some(p.availability_pct);
            checks.push(Check {
                name: "availability".into(),
                probe: Some(p.name.clone()),
                fault: None,
                threshold: format!(">= {}%", trim_float(min)),
                measured: measured.map_or("no samples".into(), |v| format!("{v:.3}%")),
                limit: min,
                value: measured,
                unit: "percent".into(),
                pass: measured.is_some_and(|v| v >= min),
            });
        }
        for (stat, limit) in &t.latency {
            let limit_ms = limit.as_secs_f64() * 1000.0;
            let measured = p.latency_ms.get(stat);
            checks.push(Check {
                name: format!("latency_{stat}"),
                probe: Some(p.name.clone()),
                fault: None,
                threshold: format!("<= {}", format_duration(*limit)),
                measured: measured.map_or("no successful samples".into(), fmt_ms),
                limit: limit_ms,
                value: measured,
                unit: "ms".into(),
                pass: measured.is_some_and(|v| v <= limit_ms),
            });
        }
        if let Some(limit) = t.max_outage {
            let limit_ms = limit.as_secs_f64() * 1000.0;
            checks.push(Check {
                name: "max_outage".into(),
                probe: Some(p.name.clone()),
                fault: None,
                threshold: format!("<= {}", format_duration(limit)),
                measured: fmt_ms(p.longest_outage_ms),
                limit: limit_ms,
                value: Some(p.longest_outage_ms),
                unit: "ms".into(),
                pass: p.longest_outage_ms <= limit_ms,
            });
        }
    }
    if let Some(limit) = t.recovery_time {
        let limit_ms = limit.as_secs_f64() * 1000.0;
        for f in &a.faults {
            let (measured, value) = match (f.injected_at_ms, f.recovery_ms) {
                (None, _) => ("not injected".to_string(), None),
                (Some(_), Some(v)) => (fmt_ms(v), Some(v)),
                (Some(_), None) => ("not recovered".to_string(), None),
            };
            checks.push(Check {
                name: "recovery_time".into(),
                probe: None,
                fault: Some(f.name.clone()),
                threshold: format!("<= {}", format_duration(limit)),
                measured,
                limit: limit_ms,
                value,
                unit: "ms".into(),
                pass: value.is_some_and(|v| v <= limit_ms),
            });
        }
    }
    if let (Some(max), Some(b)) = (t.budget_max_spent_pct, &a.error_budget) {
        checks.push(Check {
            name: "error_budget".into(),
            probe: b.probe.clone(),
            fault: None,
            threshold: format!("<= {}% of {}", trim_float(max), fmt_ms(b.allowed_ms)),
            measured: format!("{:.3}% ({})", b.spent_pct, fmt_ms(b.spent_ms)),
            limit: max,
            value: Some(b.spent_pct),
            unit: "percent".into(),
            pass: b.spent_pct <= max,
        });
    }
    checks.extend(writes::checks(a, t));
    checks
}

/// The run's overall outcome: aborted beats everything, then any failed check.
pub fn outcome(a: &Analysis, checks: &[Check], harness_error: bool) -> Outcome {
    if harness_error {
        Outcome::Error
    } else if a.aborted.is_some() {
        Outcome::Aborted
    } else if checks.iter().all(|c| c.pass) {
        Outcome::Pass
    } else {
        Outcome::Fail
    }
}

/// The exit code of a run with this outcome. A failed revert outranks everything:
/// something may still be broken.
pub fn exit_code(outcome: Outcome, revert_failed: bool) -> i32 {
    if revert_failed {
        return exit::REVERT_FAILED;
    }
    match outcome {
        Outcome::Pass => exit::PASS,
        Outcome::Fail | Outcome::Aborted => exit::FAIL,
        Outcome::Error => exit::HARNESS,
    }
}
