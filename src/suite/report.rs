//! `suite.json`: the machine contract of a suite or a repeat (schema:
//! `schemas/suite.schema.json`). Each run keeps its own directory and `report.json`;
//! this file says how they went together.

use crate::notify::Delivery;
use crate::report::Report;
use crate::verdict::Outcome;
use serde::Serialize;

/// Bumped on any incompatible change to `suite.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// The contents of `suite.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub schema_version: u32,
    pub tool: String,
    pub tool_version: String,
    /// `suite` (a game day: several experiments) or `repeat` (one experiment N times).
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    /// The suite file, directory or experiment file run.
    pub source: String,
    /// The suite's directory name (UTC timestamp + name + random suffix).
    pub suite_id: String,
    /// Wall clock, RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: f64,
    pub pause_ms: f64,
    pub stop_on_failure: bool,
    /// The worst verdict of the runs (error, then aborted, then fail); for a repeat,
    /// the judged checks decide between pass and fail.
    pub verdict: Outcome,
    /// The worst (largest) exit code of the runs; see the README's exit-code table.
    pub exit_code: i32,
    /// Why the suite stopped before its last experiment, if it did.
    pub stopped: Option<String>,
    pub runs: Vec<RunEntry>,
    /// `--repeat N` only: each figure's distribution and the judged checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat: Option<super::repeat::RepeatSummary>,
    /// Notifications sent after the suite (the URL shown as `scheme://host/…`).
    pub notifications: Vec<Delivery>,
}

/// One experiment run of the suite (or one repetition).
#[derive(Debug, Clone, Serialize)]
pub struct RunEntry {
    /// 1-based position in the suite.
    pub index: usize,
    pub experiment: String,
    /// The experiment file.
    pub source: String,
    /// The run's directory, relative to the suite's.
    pub dir: String,
    pub run_id: String,
    /// `skipped` when the suite stopped before it; otherwise `ran`.
    pub status: String,
    pub verdict: Option<Outcome>,
    pub exit_code: Option<i32>,
    /// The run's report.html / report.md, relative to the suite's directory, when written.
    pub report_html: Option<String>,
    pub report_md: Option<String>,
    /// Wall-clock start, RFC 3339 UTC, and milliseconds from the suite's start.
    pub started_at: Option<String>,
    pub offset_ms: f64,
    /// Wall time the run took, setup and teardown included.
    pub wall_ms: f64,
    /// Milliseconds from the run's start to its t=0 (when probing began).
    pub t0_offset_ms: Option<f64>,
    pub figures: Option<Figures>,
    pub failing_checks: Vec<FailedCheck>,
    /// Faults as injected, in run time (ms from the run's t=0), for the day's timeline.
    pub faults: Vec<FaultSpan>,
    /// Harness errors, revert failures, notes on why it could not run.
    pub errors: Vec<String>,
}

/// The key figures of one run, over all its probes and faults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Lowest availability of any probe, in percent.
    pub availability_pct: Option<f64>,
    pub longest_outage_ms: f64,
    pub longest_disruption_ms: f64,
    /// Slowest recovery of any fault; absent when no fault caused a failure.
    pub recovery_ms: Option<f64>,
    /// A fault whose probes had not recovered when it was judged.
    pub unrecovered: bool,
    /// Slowest first failure after an injection.
    pub detect_ms: Option<f64>,
    /// Acknowledged writes lost, over every write probe; absent without write probes.
    pub lost_writes: Option<u64>,
    pub checks: usize,
    pub checks_failed: usize,
    /// The harness could not keep to its schedule in this run: its figures may include
    /// the harness's own stalls (see the run's report).
    pub measurement_degraded: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedCheck {
    pub check: String,
    pub scope: Option<String>,
    pub measured: String,
    pub threshold: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultSpan {
    pub name: String,
    pub injected_at_ms: f64,
    pub reverted_at_ms: Option<f64>,
}

impl Figures {
    pub fn of(r: &Report) -> Figures {
        let probes = r.probes.iter().filter(|p| p.total > 0);
        let injected: Vec<_> = r
            .faults
            .iter()
            .filter(|f| f.injected_at_ms.is_some())
            .collect();
        let hurt = |f: &&&crate::analysis::FaultAnalysis| f.per_probe.iter().any(|p| p.failed > 0);
        let writes: Vec<u64> = r
            .probes
            .iter()
            .filter_map(|p| p.writes.as_ref().map(|w| w.lost))
            .collect();
        Figures {
            availability_pct: probes.map(|p| p.availability_pct).reduce(f64::min),
            longest_outage_ms: max_of(r.probes.iter().map(|p| p.longest_outage_ms)),
            longest_disruption_ms: max_of(r.probes.iter().map(|p| p.longest_disruption_ms)),
            recovery_ms: injected
                .iter()
                .filter(hurt)
                .filter_map(|f| f.recovery_ms)
                .reduce(f64::max),
            unrecovered: injected
                .iter()
                .filter(hurt)
                .any(|f| f.recovery_ms.is_none()),
            detect_ms: injected.iter().filter_map(|f| f.detect_ms).reduce(f64::max),
            lost_writes: (!writes.is_empty()).then(|| writes.iter().sum()),
            checks: r.sla.len(),
            checks_failed: r.sla.iter().filter(|c| !c.pass).count(),
            measurement_degraded: r.measurement.degraded,
        }
    }
}

fn max_of(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, f64::max)
}

impl FailedCheck {
    pub fn of(r: &Report) -> Vec<FailedCheck> {
        r.sla
            .iter()
            .filter(|c| !c.pass)
            .map(|c| FailedCheck {
                check: c.name.clone(),
                scope: c.probe.clone().or_else(|| c.fault.clone()),
                measured: c.measured.clone(),
                threshold: c.threshold.clone(),
            })
            .collect()
    }
}

impl FaultSpan {
    pub fn of(r: &Report) -> Vec<FaultSpan> {
        r.faults
            .iter()
            .filter_map(|f| {
                f.injected_at_ms.map(|at| FaultSpan {
                    name: f.name.clone(),
                    injected_at_ms: at,
                    reverted_at_ms: f.reverted_at_ms,
                })
            })
            .collect()
    }
}

/// Outcomes from worst to best, for the suite's verdict.
fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Error => 3,
        Outcome::Aborted => 2,
        Outcome::Fail => 1,
        Outcome::Pass => 0,
    }
}

/// The worst of `outcomes`; a suite in which nothing ran is an error.
pub fn worst(outcomes: impl Iterator<Item = Outcome>) -> Outcome {
    outcomes.max_by_key(|o| rank(*o)).unwrap_or(Outcome::Error)
}
