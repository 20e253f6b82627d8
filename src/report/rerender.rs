//! Re-render a past run from what it saved: `events.jsonl` (the measurements) and
//! `experiment.yaml` (the SLA it was judged against).

use super::{write_all, Report, RunFiles};
use crate::analysis::{self, AnalysisConfig};
use crate::record::{Event, FaultPhase, Recording};
use crate::verdict;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RerenderError {
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    #[error("{0}")]
    Spec(String),
    #[error("cannot write the reports: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the charts of the run in `dir` live: `charts/<run-id>/` beside `reports/<run-id>/`,
/// or `dir` itself for a run written with `--out`.
fn chart_dir(dir: &Path) -> PathBuf {
    let parent = dir.parent();
    match (
        parent.and_then(|p| p.file_name()),
        parent.and_then(|p| p.parent()),
        dir.file_name(),
    ) {
        (Some(name), Some(root), Some(id)) if name == "reports" => root.join("charts").join(id),
        _ => dir.to_path_buf(),
    }
}

pub fn rerender(dir: &Path) -> Result<Report, RerenderError> {
    let rec = Recording::read(&dir.join("events.jsonl"))?;
    let spec_path = dir.join("experiment.yaml");
    let (plan, _) = crate::plan::load(&spec_path).map_err(|errors| {
        RerenderError::Spec(
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let started = rec
        .started
        .clone()
        .ok_or_else(|| RerenderError::Spec("events.jsonl has no run_started event".into()))?;
    let cfg = AnalysisConfig {
        recovery_successes: plan.thresholds.recovery_successes,
        error_budget: plan.budget,
    };
    let a = analysis::analyse(&rec, &cfg);
    let checks = verdict::judge(&a, &plan.thresholds);
    // Harness errors are not in the event log as such; keep what the original report said.
    let previous: Option<Report> = std::fs::read(dir.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let revert_failed = rec.fault_events.iter().any(|e| {
        matches!(
            e,
            Event::FaultFailed {
                phase: FaultPhase::Revert,
                ..
            }
        )
    });
    let errors = previous.map(|p| p.errors).unwrap_or_default();
    let outcome = verdict::outcome(&a, &checks, !errors.is_empty() || revert_failed);
    let report = Report::new(
        started.experiment,
        started.description,
        started.run_id,
        started.started_at,
        started.source,
        a.clone(),
        checks,
        outcome,
        crate::engine::exit_code(outcome, revert_failed),
        errors,
    );
    write_all(
        &report,
        &rec,
        &a,
        &RunFiles {
            report_dir: dir.to_path_buf(),
            chart_dir: chart_dir(dir),
        },
    )?;
    Ok(report)
}

/// A few lines for the terminal: the verdict and each SLA check.
pub fn summary(r: &Report) -> String {
    let mut out = format!("{} {}", super::verdict_word(r.verdict), r.experiment);
    let passed = r.sla.iter().filter(|c| c.pass).count();
    out.push_str(&format!(": {passed}/{} SLA checks passed", r.sla.len()));
    if let Some(a) = &r.aborted {
        out.push_str(&format!(
            " (aborted at {:.1}s: {})",
            a.at_ms / 1000.0,
            a.reason
        ));
    }
    for c in &r.sla {
        out.push_str(&format!(
            "\n  {} {} [{}]: measured {}, threshold {}",
            if c.pass { "pass" } else { "FAIL" },
            c.name,
            super::check_subject(c),
            c.measured,
            c.threshold
        ));
    }
    for p in &r.probes {
        out.push_str(&format!(
            "\n  probe {}: {}/{} failed, availability {:.3}%, downtime {}, {} outage{}",
            p.name,
            p.failed,
            p.total,
            p.availability_pct,
            verdict::fmt_ms(p.downtime_ms),
            p.outages.len(),
            if p.outages.len() == 1 { "" } else { "s" }
        ));
    }
    for f in &r.faults {
        let rec = match (f.injected_at_ms, f.recovery_ms) {
            (None, _) => "not injected".to_string(),
            (Some(_), Some(ms)) => format!("recovered in {}", verdict::fmt_ms(ms)),
            (Some(_), None) => "NOT RECOVERED".to_string(),
        };
        out.push_str(&format!("\n  fault {}: {rec}", f.name));
    }
    out
}
