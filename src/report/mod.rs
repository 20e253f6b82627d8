//! Reports for people and machines, rendered only from saved data (the event log),
//! so `shakeout report DIR` can re-render any past run.
//!
//! `report.json` is the machine contract; see [`Report`] and `SCHEMA_VERSION`.

use crate::analysis::{Abort, Analysis, ErrorBudget, FaultAnalysis, ProbeAnalysis};
use crate::verdict::{Check, Outcome};
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change to `report.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// The contents of `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: String,
    pub tool_version: String,
    pub experiment: String,
    pub description: Option<String>,
    pub run_id: String,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    /// The spec file the run came from.
    pub source: Option<String>,
    pub verdict: Outcome,
    /// The exit code `shakeout run` returned for this run.
    pub exit_code: i32,
    pub duration_ms: f64,
    pub measured_ms: f64,
    pub aborted: Option<Abort>,
    pub probes: Vec<ProbeAnalysis>,
    pub faults: Vec<FaultAnalysis>,
    pub sla: Vec<Check>,
    pub error_budget: Option<ErrorBudget>,
    /// Harness problems and revert failures, in words.
    pub errors: Vec<String>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        experiment: String,
        description: Option<String>,
        run_id: String,
        started_at: String,
        source: Option<String>,
        analysis: Analysis,
        sla: Vec<Check>,
        verdict: Outcome,
        exit_code: i32,
        errors: Vec<String>,
    ) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: "shakeout".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            experiment,
            description,
            run_id,
            started_at,
            source,
            verdict,
            exit_code,
            duration_ms: analysis.duration_ms,
            measured_ms: analysis.measured_ms,
            aborted: analysis.aborted,
            probes: analysis.probes,
            faults: analysis.faults,
            sla,
            error_budget: analysis.error_budget,
            errors,
        }
    }
}
