//! Re-render a past run from what it saved: `events.jsonl` holds the measurements and
//! the SLA the run was judged against. Runs recorded before the SLA was are judged
//! against their saved `experiment.yaml`, which the caller compiles (reports do not
//! know the spec compiler).

use super::{judge_and_write, Judging, Report, RunFiles};
use crate::record::{Event, FaultPhase, Recording};
use crate::sla::Sla;
use crate::verdict::Recovery;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RerenderError {
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    #[error("{0}")]
    Spec(String),
    #[error("{}", .0.join("; "))]
    Write(Vec<String>),
}

/// Which SLA a past run is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JudgeAgainst {
    /// The SLA recorded in its events, or its saved `experiment.yaml` if it recorded none.
    Recorded,
    /// Its saved `experiment.yaml` as it is now (edited thresholds judged again).
    SavedSpec,
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

/// Judge the run in `dir` again and rewrite its reports and charts. `compile_spec`
/// turns the saved `experiment.yaml` into its SLA; it is called only when needed.
pub fn rerender(
    dir: &Path,
    against: JudgeAgainst,
    compile_spec: impl FnOnce(&Path) -> Result<Sla, String>,
) -> Result<Report, RerenderError> {
    let rec = Recording::read(&dir.join("events.jsonl"))?;
    let started = rec
        .started
        .clone()
        .ok_or_else(|| RerenderError::Spec("events.jsonl has no run_started event".into()))?;
    let sla = match (against, &started.sla) {
        (JudgeAgainst::Recorded, Some(sla)) => Sla::clone(sla),
        _ => compile_spec(&dir.join("experiment.yaml")).map_err(RerenderError::Spec)?,
    };
    let judged = judge_and_write(
        Judging {
            started: &started,
            recording: &rec,
            sla: &sla,
            errors: previous_errors(dir),
            revert_failed: revert_failed(&rec),
        },
        &RunFiles {
            report_dir: dir.to_path_buf(),
            chart_dir: chart_dir(dir),
        },
    );
    if !judged.written.failures.is_empty() {
        return Err(RerenderError::Write(judged.written.failures));
    }
    Ok(judged.report)
}

/// Harness errors are not in the event log as such; keep what the original report said.
fn previous_errors(dir: &Path) -> Vec<String> {
    std::fs::read(dir.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Report>(&b).ok())
        .map(|p| p.errors)
        .unwrap_or_default()
}

fn revert_failed(rec: &Recording) -> bool {
    rec.fault_events.iter().any(|e| {
        matches!(
            e,
            Event::FaultFailed {
                phase: FaultPhase::Revert,
                ..
            }
        )
    })
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
    if let Some(note) = r
        .measurement
        .note
        .as_ref()
        .filter(|_| r.measurement.degraded)
    {
        out.push_str(&format!("\n  MEASUREMENT DEGRADED: {note}"));
    }
    for c in &r.sla {
        // Run-wide checks (max_lateness) have no subject to bracket.
        let subject = super::check_subject(c);
        let subject = if subject.is_empty() {
            subject
        } else {
            format!(" [{subject}]")
        };
        out.push_str(&format!(
            "\n  {} {}{subject}: measured {}, threshold {}",
            if c.pass { "pass" } else { "FAIL" },
            c.name,
            c.measured,
            c.threshold
        ));
    }
    for p in &r.probes {
        out.push_str(&format!(
            "\n  probe {}: {}/{} failed, availability {}, downtime {}, {} outage{}",
            p.name,
            p.failed,
            p.total,
            crate::format::fmt_share(p.total.saturating_sub(p.failed), p.total),
            crate::format::fmt_ms(p.downtime_ms),
            p.outages.len(),
            if p.outages.len() == 1 { "" } else { "s" }
        ));
        let d = p.disruptions.len();
        if d != p.outages.len() {
            out.push_str(&format!(
                " in {d} disruption{}",
                if d == 1 { "" } else { "s" }
            ));
        }
    }
    for f in &r.faults {
        let rec = match Recovery::of(f, r.aborted.is_some()) {
            Recovery::Recovered(ms) => format!("recovered in {}", crate::format::fmt_dur(ms)),
            Recovery::NotRecovered => "NOT RECOVERED".to_string(),
            other => other.words(),
        };
        out.push_str(&format!("\n  fault {}: {rec}", f.name));
    }
    out
}
