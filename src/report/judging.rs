//! The one judging path of a run, shared by `shakeout run` and `shakeout report DIR`:
//! analyse → judge → outcome → exit code → report → write.

use super::{write_all, Report, RunFiles, Written};
use crate::analysis::{self, AnalysisConfig};
use crate::record::{Recording, RunStarted};
use crate::sla::Sla;
use crate::verdict;

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
    /// The files that exist, and the ones that could not be written (each also one of
    /// the report's errors: a report that was not written is not a pass).
    pub written: Written,
}

/// Judge a run and write all its reports and charts into `files`. If a file cannot be
/// written, the run is judged again with that failure as a harness error (exit 3, or
/// 4 if a revert failed) and everything is written again, so the files that exist say
/// what the exit code says.
pub fn judge_and_write(run: Judging<'_>, files: &RunFiles) -> Judged {
    let cfg = AnalysisConfig {
        recovery_successes: run.sla.thresholds.recovery_successes,
        error_budget: run.sla.budget,
    };
    let analysis = analysis::analyse(run.recording, &cfg);
    let (started, recording, sla, revert_failed) =
        (run.started, run.recording, run.sla, run.revert_failed);
    let judge = |errors: Vec<String>| {
        let checks = verdict::judge(&analysis, sla);
        let harness_error = !errors.is_empty() || revert_failed;
        let outcome = verdict::outcome(&analysis, &checks, harness_error);
        let exit_code = verdict::exit_code(outcome, revert_failed);
        let report = Report::new(
            started,
            analysis.clone(),
            checks,
            outcome,
            exit_code,
            errors,
        );
        (report, exit_code)
    };
    let (report, exit_code) = judge(run.errors.clone());
    let written = write_all(&report, recording, &analysis, files);
    if written.failures.is_empty() {
        return Judged {
            report,
            exit_code,
            written,
        };
    }
    let mut errors = run.errors;
    errors.extend(written.failures);
    let (report, exit_code) = judge(errors);
    let written = write_all(&report, recording, &analysis, files);
    Judged {
        report,
        exit_code,
        written,
    }
}
