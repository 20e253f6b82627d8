//! The one judging path of a run, shared by `shakeout run` and `shakeout report DIR`:
//! analyse → judge → outcome → exit code → report → write.

use super::{write_all, Report, RunFiles};
use crate::analysis::{self, AnalysisConfig};
use crate::record::{Recording, RunStarted};
use crate::sla::Sla;
use crate::verdict;
use std::path::PathBuf;

/// A run to judge: what it measured, what it is judged against, and what went wrong
/// around the measurements.
#[derive(Debug)]
pub struct Judging<'a> {
    /// The run's header (names, ids, start time) for the report.
    pub started: &'a RunStarted,
    pub recording: &'a Recording,
    pub sla: &'a Sla,
    /// Harness problems and revert failures, in words.
    pub errors: Vec<String>,
    /// A revert failed: something may still be broken (exit 4).
    pub revert_failed: bool,
}

/// What judging a run gave.
#[derive(Debug)]
pub struct Judged {
    pub report: Report,
    pub exit_code: i32,
    /// Every file written, or why writing stopped (`report.json` is written first).
    pub written: std::io::Result<Vec<PathBuf>>,
}

/// Judge a run and write all its reports and charts into `files`.
pub fn judge_and_write(run: Judging<'_>, files: &RunFiles) -> Judged {
    let cfg = AnalysisConfig {
        recovery_successes: run.sla.thresholds.recovery_successes,
        error_budget: run.sla.budget,
    };
    let analysis = analysis::analyse(run.recording, &cfg);
    let checks = verdict::judge(&analysis, &run.sla.thresholds);
    let harness_error = !run.errors.is_empty() || run.revert_failed;
    let outcome = verdict::outcome(&analysis, &checks, harness_error);
    let exit_code = verdict::exit_code(outcome, run.revert_failed);
    let report = Report::new(
        run.started,
        analysis.clone(),
        checks,
        outcome,
        exit_code,
        run.errors,
    );
    let written = write_all(&report, run.recording, &analysis, files);
    Judged {
        report,
        exit_code,
        written,
    }
}
