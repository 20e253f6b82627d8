//! Runs a suite's experiments (or one experiment N times) in order, each in its own
//! directory under the suite's, with the pause between them and the stop rules:
//! a failed revert always stops, `stop_on_failure` stops at the first run that did
//! not pass, and a signal (Ctrl-C, SIGTERM, ...) stops after reverting the current run.

use super::exec::{run_experiment, Ran};
use super::report::{FailedCheck, FaultSpan, Figures, RunEntry};
use super::spec::Entry;
use crate::engine::{self, exit, RunOptions, SignalWatch};
use crate::report::RunFiles;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What to run, in order, and how.
pub struct Sequence<'a> {
    /// (directory name under the suite's, experiment) per run.
    pub runs: Vec<(String, &'a Entry)>,
    pub pause: Duration,
    pub stop_on_failure: bool,
}

/// How the runs went.
pub struct Sequenced {
    pub entries: Vec<RunEntry>,
    /// The runs' reports, by index into `entries` (absent for runs without one).
    pub reports: Vec<Option<crate::report::Report>>,
    pub stopped: Option<String>,
    pub interrupted: bool,
    pub started: SystemTime,
    pub finished: SystemTime,
}

/// Runs `seq` under `dir`; `say` gets one line per finished run for the person.
pub async fn run_sequence(
    seq: &Sequence<'_>,
    dir: &Path,
    progress: bool,
    say: &(dyn Fn(String) + Sync),
) -> Sequenced {
    let mut signals = SignalWatch::install();
    let started = SystemTime::now();
    let mut out = Sequenced {
        entries: Vec::new(),
        reports: Vec::new(),
        stopped: None,
        interrupted: false,
        started,
        finished: started,
    };
    let total = seq.runs.len();
    for (i, (name, entry)) in seq.runs.iter().enumerate() {
        if out.stopped.is_some() {
            out.entries.push(skipped(i, name, entry));
            out.reports.push(None);
            continue;
        }
        if i > 0 && !seq.pause.is_zero() {
            if let Some(reason) = pause(seq.pause, &mut signals).await {
                out.interrupted = true;
                out.stopped = Some(format!(
                    "{reason} during the pause before `{}`",
                    entry.plan.name
                ));
                out.entries.push(skipped(i, name, entry));
                out.reports.push(None);
                continue;
            }
        }
        let run_started = SystemTime::now();
        let ran = run_one(entry, &dir.join(name), progress).await;
        let run_entry = record(i, name, entry, &ran, started, run_started);
        for m in &ran.messages {
            say(m.clone());
        }
        say(progress_line(i + 1, total, &run_entry, dir));
        out.stopped = stop_reason(&run_entry, &ran, seq.stop_on_failure);
        if let Some(reason) = signals.received().await {
            out.interrupted = true;
            out.stopped = Some(format!("{reason} during `{}`", entry.plan.name));
        }
        out.entries.push(run_entry);
        out.reports.push(ran.outcome.map(|o| o.report));
    }
    out.finished = SystemTime::now();
    out
}

/// Waits `pause`, or until a fatal signal: its reason.
async fn pause(pause: Duration, signals: &mut SignalWatch) -> Option<&'static str> {
    tokio::select! {
        () = tokio::time::sleep(pause) => None,
        reason = signals.first() => Some(reason),
    }
}

async fn run_one(entry: &Entry, dir: &Path, progress: bool) -> Ran {
    let opts = RunOptions {
        run_id: engine::run_id(&entry.plan.name),
        files: RunFiles {
            report_dir: dir.to_path_buf(),
            chart_dir: dir.to_path_buf(),
        },
        progress,
        spec_text: Some(entry.text.clone()),
    };
    run_experiment(&entry.plan, opts).await
}

/// Why nothing more runs after this run, if so.
fn stop_reason(e: &RunEntry, ran: &Ran, stop_on_failure: bool) -> Option<String> {
    let name = &e.experiment;
    if ran.exit_code == exit::REVERT_FAILED {
        return Some(format!(
            "a fault of `{name}` may not be reverted (exit 4): nothing more runs until it is fixed"
        ));
    }
    let signalled = ran
        .outcome
        .as_ref()
        .and_then(|o| o.report.aborted.as_ref())
        .filter(|a| engine::is_signal_abort(&a.reason));
    if let Some(abort) = signalled {
        return Some(format!("`{name}` was stopped: {}", abort.reason));
    }
    (stop_on_failure && ran.exit_code != exit::PASS).then(|| {
        format!(
            "`{name}` did not pass (exit {}) and stop_on_failure is set",
            ran.exit_code
        )
    })
}

/// `[2/3] zone-loss: fail (exit 1), 1 of 4 checks failed — DIR/02-zone-loss/report.md`
fn progress_line(n: usize, total: usize, e: &RunEntry, dir: &Path) -> String {
    let verdict = e.verdict.map_or("did not run".to_string(), |v| {
        super::outcome_word(v).to_string()
    });
    let checks = e.figures.as_ref().map_or(String::new(), |f| {
        format!(", {} of {} checks failed", f.checks_failed, f.checks)
    });
    let report = e
        .report_md
        .as_ref()
        .map_or(String::new(), |r| format!(" — {}", dir.join(r).display()));
    format!(
        "[{n}/{total}] {}: {verdict} (exit {}){checks}{report}",
        e.experiment,
        e.exit_code.unwrap_or(exit::HARNESS)
    )
}

/// Milliseconds to the microsecond: the clock says no more, and the JSON stays readable.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn since(later: SystemTime, earlier: SystemTime) -> f64 {
    later.duration_since(earlier).map_or(0.0, millis)
}

fn record(
    i: usize,
    dir_name: &str,
    entry: &Entry,
    ran: &Ran,
    suite_start: SystemTime,
    run_start: SystemTime,
) -> RunEntry {
    let report = ran.outcome.as_ref().map(|o| &o.report);
    let written = ran.outcome.as_ref().map_or(&[][..], |o| &o.written[..]);
    let rel = |file: &str| {
        let path: PathBuf = Path::new(dir_name).join(file);
        written
            .iter()
            .any(|w| w.ends_with(&path))
            .then(|| format!("{dir_name}/{file}"))
    };
    let t0 = report
        .and_then(|r| humantime::parse_rfc3339(&r.started_at).ok())
        .map(|t| since(t, run_start));
    let wall_ms = since(SystemTime::now(), run_start);
    let mut errors: Vec<String> = report.map(|r| r.errors.clone()).unwrap_or_default();
    if report.is_none() {
        errors.extend(ran.messages.iter().cloned());
    }
    RunEntry {
        index: i + 1,
        experiment: entry.plan.name.clone(),
        source: entry.path.display().to_string(),
        dir: dir_name.to_string(),
        run_id: report.map(|r| r.run_id.clone()).unwrap_or_default(),
        status: "ran".into(),
        verdict: Some(report.map_or(crate::verdict::Outcome::Error, |r| r.verdict)),
        exit_code: Some(ran.exit_code),
        report_html: rel("report.html"),
        report_md: rel("report.md"),
        started_at: Some(humantime::format_rfc3339_millis(run_start).to_string()),
        offset_ms: since(run_start, suite_start),
        wall_ms,
        t0_offset_ms: t0,
        figures: report.map(Figures::of),
        failing_checks: report.map(FailedCheck::of).unwrap_or_default(),
        faults: report.map(FaultSpan::of).unwrap_or_default(),
        errors,
    }
}

fn skipped(i: usize, dir_name: &str, entry: &Entry) -> RunEntry {
    RunEntry {
        index: i + 1,
        experiment: entry.plan.name.clone(),
        source: entry.path.display().to_string(),
        dir: dir_name.to_string(),
        run_id: String::new(),
        status: "skipped".into(),
        verdict: None,
        exit_code: None,
        report_html: None,
        report_md: None,
        started_at: None,
        offset_ms: 0.0,
        wall_ms: 0.0,
        t0_offset_ms: None,
        figures: None,
        failing_checks: Vec::new(),
        faults: Vec::new(),
        errors: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_named(name: &str) -> RunEntry {
        let mut e = RunEntry {
            experiment: name.into(),
            ..blank()
        };
        e.status = "ran".into();
        e
    }

    fn blank() -> RunEntry {
        RunEntry {
            index: 1,
            experiment: String::new(),
            source: String::new(),
            dir: String::new(),
            run_id: String::new(),
            status: String::new(),
            verdict: None,
            exit_code: None,
            report_html: None,
            report_md: None,
            started_at: None,
            offset_ms: 0.0,
            wall_ms: 0.0,
            t0_offset_ms: None,
            figures: None,
            failing_checks: Vec::new(),
            faults: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn ran(exit_code: i32) -> Ran {
        Ran {
            outcome: None,
            exit_code,
            messages: Vec::new(),
        }
    }

    #[test]
    fn a_failed_revert_stops_the_suite_even_without_stop_on_failure() {
        let e = entry_named("zone-loss");
        let reason = stop_reason(&e, &ran(exit::REVERT_FAILED), false).unwrap();
        assert!(
            reason.contains("`zone-loss` may not be reverted (exit 4)"),
            "{reason}"
        );
    }

    #[test]
    fn a_failure_stops_only_with_stop_on_failure_and_a_pass_never() {
        let e = entry_named("x");
        assert!(stop_reason(&e, &ran(exit::FAIL), false).is_none());
        assert!(stop_reason(&e, &ran(exit::HARNESS), false).is_none());
        assert!(stop_reason(&e, &ran(exit::FAIL), true).is_some());
        assert!(stop_reason(&e, &ran(exit::PASS), true).is_none());
    }
}
