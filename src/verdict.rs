//! Hold each measured figure against its SLA threshold. Pure.

use crate::analysis::{ms_to_us, Analysis, FaultAnalysis, ProbeAnalysis};
use crate::format::{fmt_dur, fmt_ms, fmt_pct, fmt_share, fmt_span, format_duration};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub use crate::sla::{Sla, Thresholds};

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
    /// `availability`, `latency_p99`, `recovery_time`, `max_outage`, `max_disruption`,
    /// `error_budget`, `max_lateness` (run-wide).
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

/// One check per threshold per probe (or per fault, for recovery time). Each probe is
/// held to its own thresholds when it has them; run-wide checks to the top-level ones.
pub fn judge(a: &Analysis, sla: &Sla) -> Vec<Check> {
    let mut checks = Vec::new();
    for p in &a.probes {
        let t = sla.for_probe(&p.name);
        if let Some(min) = t.availability_pct {
            let measured = (p.total > 0).then_some(p.availability_pct);
            let ok = p.total.saturating_sub(p.failed);
            checks.push(Check {
                name: "availability".into(),
                probe: Some(p.name.clone()),
                fault: None,
                threshold: format!(">= {min}"),
                measured: if p.total > 0 {
                    fmt_share(ok, p.total)
                } else {
                    "no samples".into()
                },
                limit: min.as_f64(),
                value: measured,
                unit: "percent".into(),
                // Decided on the counts: 619 of 625 is 99.04% exactly, which f64 misses.
                pass: min.is_met_by(ok, p.total),
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
        if let Some(limit) = t.max_disruption {
            checks.push(disruption_check(p, limit));
        }
    }
    let t = &sla.thresholds;
    if let Some(limit) = t.max_lateness {
        checks.push(lateness_check(a, limit));
    }
    if let Some(limit) = t.recovery_time {
        let limit_ms = limit.as_secs_f64() * 1000.0;
        for f in &a.faults {
            let measured = Recovery::of(f, a.aborted.is_some()).words();
            let value = f.injected_at_ms.and(f.recovery_ms);
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
        let (spent_us, allowed_us) = (ms_to_us(b.spent_ms), ms_to_us(b.allowed_ms));
        checks.push(Check {
            name: "error_budget".into(),
            probe: b.probe.clone(),
            fault: None,
            threshold: format!("<= {max} of {}", fmt_span(b.allowed_ms)),
            measured: format!("{} ({})", fmt_pct(b.spent_pct), fmt_span(b.spent_ms)),
            limit: max.as_f64(),
            value: Some(b.spent_pct),
            unit: "percent".into(),
            pass: max.is_not_exceeded_by(spent_us, allowed_us),
        });
    }
    checks.extend(writes::checks(a, sla));
    checks
}

/// The probe's longest disruption against `max_disruption`.
fn disruption_check(p: &ProbeAnalysis, limit: Duration) -> Check {
    let limit_ms = limit.as_secs_f64() * 1000.0;
    Check {
        name: "max_disruption".into(),
        probe: Some(p.name.clone()),
        fault: None,
        threshold: format!("<= {}", format_duration(limit)),
        measured: fmt_ms(p.longest_disruption_ms),
        limit: limit_ms,
        value: Some(p.longest_disruption_ms),
        unit: "ms".into(),
        pass: p.longest_disruption_ms <= limit_ms,
    }
}

/// The harness's largest send lateness against `max_lateness`: a run-wide check.
fn lateness_check(a: &Analysis, limit: Duration) -> Check {
    let limit_ms = limit.as_secs_f64() * 1000.0;
    let measured = a.measurement.lateness_max_ms;
    Check {
        name: "max_lateness".into(),
        probe: None,
        fault: None,
        threshold: format!("<= {}", format_duration(limit)),
        measured: measured.map_or("no samples".into(), fmt_ms),
        limit: limit_ms,
        value: measured,
        unit: "ms".into(),
        // No samples means nothing was sent late.
        pass: measured.is_none_or(|v| v <= limit_ms),
    }
}

/// What became of a fault, as every rendering says it. Recovery is about failures, so
/// a fault without any failed sample has no recovery time to speak of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Recovery {
    NotInjected,
    /// Injected, and no probe's sample failed while it could have effect.
    NoFailedSamples,
    /// Milliseconds from injection to K consecutive successes.
    Recovered(f64),
    /// The run stopped early before probes recovered; `reverted` says whether the run
    /// reverted the fault first (a killed run could not).
    StoppedBeforeRecovery {
        reverted: bool,
    },
    NotRecovered,
}

impl Recovery {
    /// `run_stopped_early`: the run was aborted or its events end before its end.
    pub fn of(f: &FaultAnalysis, run_stopped_early: bool) -> Recovery {
        if f.injected_at_ms.is_none() {
            return Recovery::NotInjected;
        }
        if f.per_probe.iter().all(|p| p.failed == 0) {
            return Recovery::NoFailedSamples;
        }
        match f.recovery_ms {
            Some(ms) => Recovery::Recovered(ms),
            None if run_stopped_early => Recovery::StoppedBeforeRecovery {
                reverted: f.reverted_at_ms.is_some(),
            },
            None => Recovery::NotRecovered,
        }
    }

    /// `212.3ms`, `no failed samples`, `not recovered`, …
    pub fn words(self) -> String {
        match self {
            Recovery::NotInjected => "not injected".into(),
            Recovery::NoFailedSamples => "no failed samples".into(),
            Recovery::Recovered(ms) => fmt_dur(ms),
            Recovery::StoppedBeforeRecovery { reverted: true } => {
                "reverted; probes had not recovered when the run stopped".into()
            }
            Recovery::StoppedBeforeRecovery { reverted: false } => {
                "not reverted by the run; probes had not recovered when it stopped".into()
            }
            Recovery::NotRecovered => "not recovered".into(),
        }
    }
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
