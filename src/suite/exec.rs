//! One experiment run, whatever happens to it: the engine runs in its own task so a
//! panic anywhere in it is caught and the journal reverts what it had applied. Shared
//! by a single `run`, each experiment of a suite, and each run of a repeat.

use crate::engine::{self, exit, journal, EngineError, RunOptions, RunOutcome};
use crate::plan::Plan;
use crate::report::RunFiles;

/// How one run ended: its outcome when it got as far as a report, its exit code, and
/// what to tell the person (each line ready for stderr).
#[derive(Debug)]
pub struct Ran {
    pub outcome: Option<RunOutcome>,
    pub exit_code: i32,
    pub messages: Vec<String>,
}

/// Runs `plan` with `opts`; never panics, never returns without a verdict.
pub async fn run_experiment(plan: &Plan, opts: RunOptions) -> Ran {
    let files = opts.files.clone();
    let plan = plan.clone();
    let handle = tokio::spawn(async move { engine::run(&plan, opts).await });
    match handle.await {
        Ok(Ok(outcome)) => Ran {
            exit_code: outcome.exit_code,
            outcome: Some(outcome),
            messages: Vec::new(),
        },
        // Refused before anything was changed: the directory is not this run's to use.
        Ok(Err(e @ (EngineError::Unreverted { .. } | EngineError::Busy(_)))) => {
            refused(exit::INVALID, &e)
        }
        Ok(Err(e)) => refused(exit::HARNESS, &e),
        Err(join) => after_panic(&files, &join.to_string()).await,
    }
}

fn refused(exit_code: i32, e: &EngineError) -> Ran {
    Ran {
        outcome: None,
        exit_code,
        messages: vec![format!("error: {e}")],
    }
}

/// The engine panicked: revert what its journal says is applied.
async fn after_panic(files: &RunFiles, panic: &str) -> Ran {
    let mut messages = vec![format!(
        "error: internal error (panic) during the run: {panic}"
    )];
    let exit_code = match journal::rollback(&files.report_dir).await {
        Ok(r) => {
            for (fault, note) in &r.reverted {
                messages.push(format!("reverted `{fault}`: {note}"));
            }
            messages.extend(rollback_problems(&r));
            if r.may_remain() {
                exit::REVERT_FAILED
            } else {
                exit::HARNESS
            }
        }
        Err(e) => {
            messages.push(format!(
                "error: {e}; run `shakeout rollback {}`",
                files.report_dir.display()
            ));
            exit::REVERT_FAILED
        }
    };
    Ran {
        outcome: None,
        exit_code,
        messages,
    }
}

/// What a rollback could not revert, skipped, or could not record, one line each.
pub fn rollback_problems(r: &journal::Rollback) -> Vec<String> {
    let mut lines = Vec::new();
    for (fault, err, fix) in &r.failed {
        lines.push(format!(
            "error: could not revert `{fault}`: {err}\n  still broken: {fix}"
        ));
    }
    for skipped in &r.skipped {
        lines.push(format!("error: {skipped}"));
    }
    for note in &r.notes {
        lines.push(format!("warning: {note}"));
    }
    lines
}
