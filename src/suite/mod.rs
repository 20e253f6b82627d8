//! Game days and repeats: several runs in order, one report over them.
//!
//! - `shakeout run DIR` or `shakeout run SUITE.yaml`: each experiment in turn, each in
//!   its own directory under the suite's (`NN-<name>/`), with `suite.json`, `suite.md`,
//!   `suite.html`, `junit.xml` and `timeline.svg` over the whole day.
//! - `shakeout run EXPERIMENT.yaml --repeat N`: the same experiment N times
//!   (`run-NN/`), each figure's distribution and the checks judged as `sla.judge` says.
//! - Notifications for a single run, a suite and a repeat are sent from here, after
//!   the verdict, which they never change.
//!
//! Above the engine and the reports; nothing below depends on it.

mod exec;
mod render;
pub mod repeat;
mod report;
mod runner;
pub mod spec;
mod svg;

pub use exec::{rollback_problems, run_experiment, Ran};
pub use report::{RunEntry, SuiteReport, SCHEMA_VERSION};
pub use spec::{load, Entry, Loaded, Suite};

use crate::engine::{self, exit};
use crate::notify::{self, Delivery, Message, Retry, SuiteLine, Target};
use crate::verdict::Outcome;
use runner::{run_sequence, Sequence, Sequenced};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a suite or repeat runs, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The suite's directory (default `reports/<suite-id>/`).
    pub out: Option<PathBuf>,
    /// Show each run's live progress line.
    pub progress: bool,
    /// `--notify URL`s, beside the spec's own `notify:`.
    pub notify: Vec<Target>,
    /// `--report-url PREFIX`: reports are linked as PREFIX/<dir>/... in messages.
    pub report_url: Option<String>,
    pub retry: Retry,
}

/// A finished suite or repeat: its report and the files written.
#[derive(Debug)]
pub struct Finished {
    pub report: SuiteReport,
    pub dir: PathBuf,
    pub written: Vec<PathBuf>,
    /// `cannot write PATH: REASON`, one per file not written.
    pub failures: Vec<String>,
}

/// `pass`, `fail`, `aborted`, `error`.
pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Aborted => "aborted",
        Outcome::Error => "error",
    }
}

fn suite_dir(name: &str, settings: &Settings) -> PathBuf {
    settings
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(engine::run_id(name)))
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Runs every experiment of `suite` in order; `say` gets a line per finished run.
pub async fn run_suite(
    suite: &Suite,
    settings: &Settings,
    say: &(dyn Fn(String) + Sync),
) -> Finished {
    let dir = suite_dir(&suite.name, settings);
    let seq = Sequence {
        runs: suite
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (run_dir_name(i, &e.plan.name), e))
            .collect(),
        pause: suite.pause,
        stop_on_failure: suite.stop_on_failure,
    };
    let done = run_sequence(&seq, &dir, settings.progress, say).await;
    let (verdict, exit_code) = suite_verdict(&done);
    let head = Head {
        kind: "suite",
        name: &suite.name,
        description: suite.description.clone(),
        source: &suite.source,
        pause: suite.pause,
        stop_on_failure: suite.stop_on_failure,
    };
    let report = assemble(head, &dir, &done, (verdict, exit_code), None);
    let targets: Vec<Target> = suite
        .notify
        .iter()
        .chain(&settings.notify)
        .cloned()
        .collect();
    finish(report, &dir, &done, &targets, settings).await
}

/// Runs `entry` `times` times in a row.
pub async fn run_repeat(
    entry: &Entry,
    times: usize,
    settings: &Settings,
    say: &(dyn Fn(String) + Sync),
) -> Finished {
    let dir = suite_dir(&entry.plan.name, settings);
    let seq = Sequence {
        runs: (0..times)
            .map(|i| (format!("run-{:02}", i + 1), entry))
            .collect(),
        pause: Duration::ZERO,
        stop_on_failure: false,
    };
    let done = run_sequence(&seq, &dir, settings.progress, say).await;
    let summary = repeat::summarize(&done.reports, entry.plan.judge);
    let (verdict, exit_code) = repeat_verdict(&done, &summary);
    let head = Head {
        kind: "repeat",
        name: &entry.plan.name,
        description: entry.plan.description.clone(),
        source: &entry.path.display().to_string(),
        pause: Duration::ZERO,
        stop_on_failure: false,
    };
    let report = assemble(head, &dir, &done, (verdict, exit_code), Some(summary));
    let targets: Vec<Target> = entry
        .plan
        .notify
        .iter()
        .chain(&settings.notify)
        .cloned()
        .collect();
    finish(report, &dir, &done, &targets, settings).await
}

/// `01-steady-state`: ordered, and a safe file name whatever the experiment is called.
fn run_dir_name(i: usize, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    crate::util::bounded_file_stem(&format!("{:02}-{safe}", i + 1))
}

/// The worst verdict and the largest exit code of the runs; a signal makes the suite
/// at least aborted.
fn suite_verdict(done: &Sequenced) -> (Outcome, i32) {
    let ran = done.entries.iter().filter_map(|e| e.verdict);
    let mut verdict = report::worst(ran);
    let mut code = done
        .entries
        .iter()
        .filter_map(|e| e.exit_code)
        .max()
        .unwrap_or(exit::HARNESS);
    if done.interrupted {
        verdict = report::worst([verdict, Outcome::Aborted].into_iter());
        code = code.max(exit::FAIL);
    }
    (verdict, code)
}

/// A repeat passes when every judged check passes and no run aborted or errored; its
/// exit code is the judgement's, or a worse run's (3 harness, 4 revert failed).
fn repeat_verdict(done: &Sequenced, summary: &repeat::RepeatSummary) -> (Outcome, i32) {
    let (runs_verdict, runs_code) = suite_verdict(done);
    let judged = if summary.checks.iter().all(|c| c.pass) {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    let verdict = match runs_verdict {
        Outcome::Error | Outcome::Aborted => runs_verdict,
        Outcome::Pass | Outcome::Fail => judged,
    };
    let code = match verdict {
        Outcome::Pass => exit::PASS,
        _ => exit::FAIL,
    };
    let code = if runs_code >= exit::INVALID {
        runs_code
    } else {
        code
    };
    (verdict, code)
}

/// What the report says of the suite itself.
struct Head<'a> {
    kind: &'a str,
    name: &'a str,
    description: Option<String>,
    source: &'a str,
    pause: Duration,
    stop_on_failure: bool,
}

fn assemble(
    head: Head<'_>,
    dir: &Path,
    done: &Sequenced,
    (verdict, exit_code): (Outcome, i32),
    repeat: Option<repeat::RepeatSummary>,
) -> SuiteReport {
    SuiteReport {
        schema_version: SCHEMA_VERSION,
        tool: "shakeout".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        kind: head.kind.into(),
        name: head.name.into(),
        description: head.description,
        source: head.source.into(),
        suite_id: dir_name(dir),
        started_at: humantime::format_rfc3339_millis(done.started).to_string(),
        finished_at: humantime::format_rfc3339_millis(done.finished).to_string(),
        duration_ms: done
            .finished
            .duration_since(done.started)
            .map_or(0.0, runner::millis),
        pause_ms: head.pause.as_secs_f64() * 1000.0,
        stop_on_failure: head.stop_on_failure,
        verdict,
        exit_code,
        stopped: done.stopped.clone(),
        runs: done.entries.clone(),
        repeat,
        notifications: Vec::new(),
    }
}

/// Notify (the message links to the suite report about to be written), then write it
/// with the notifications' outcome in it.
async fn finish(
    mut report: SuiteReport,
    dir: &Path,
    done: &Sequenced,
    targets: &[Target],
    settings: &Settings,
) -> Finished {
    let link = link(dir, "suite.html", "suite.md", settings);
    let message = suite_message(&report, link);
    report.notifications = notify::notify_all(targets, &message, settings.retry).await;
    let (written, failures) = write_all(&report, dir, &done.reports);
    Finished {
        report,
        dir: dir.to_path_buf(),
        written,
        failures,
    }
}

/// PREFIX/<dir>/<html> under `--report-url`, the local path of `md` otherwise.
fn link(dir: &Path, html: &str, md: &str, settings: &Settings) -> String {
    match &settings.report_url {
        Some(prefix) => format!("{}/{}/{html}", prefix.trim_end_matches('/'), dir_name(dir)),
        None => dir.join(md).display().to_string(),
    }
}

fn suite_message(r: &SuiteReport, report_link: String) -> Message {
    let on = notify::on_for(r.verdict, r.exit_code);
    let failing_checks = match &r.repeat {
        Some(rep) => rep
            .checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| notify::FailingCheck {
                experiment: None,
                check: c.name.clone(),
                scope: c.probe.clone().or(c.fault.clone()),
                measured: format!(
                    "{} (run {}, judged {})",
                    c.measured,
                    c.judged_run,
                    rep.judge.as_str()
                ),
                threshold: c.threshold.clone(),
            })
            .collect(),
        None => r
            .runs
            .iter()
            .flat_map(|e| {
                e.failing_checks.iter().map(|c| notify::FailingCheck {
                    experiment: Some(e.experiment.clone()),
                    check: c.check.clone(),
                    scope: c.scope.clone(),
                    measured: c.measured.clone(),
                    threshold: c.threshold.clone(),
                })
            })
            .collect(),
    };
    let runs = r
        .runs
        .iter()
        .filter_map(|e| {
            Some(SuiteLine {
                name: format!("{}. {}", e.index, e.experiment),
                verdict: notify::on_for(e.verdict?, e.exit_code?),
                exit_code: e.exit_code?,
            })
        })
        .collect();
    Message {
        schema_version: 1,
        kind: r.kind.clone(),
        name: r.name.clone(),
        verdict: on,
        exit_code: r.exit_code,
        failing_checks,
        runs,
        report: report_link,
        errors: r.stopped.iter().cloned().collect(),
        on,
    }
}

/// Sends a single run's notifications (its spec's `notify:` and `--notify`) and
/// records them in `notifications.json` beside its report.
pub async fn notify_run(
    plan: &crate::plan::Plan,
    report: &crate::report::Report,
    report_dir: &Path,
    settings: &Settings,
) -> Vec<Delivery> {
    let message = Message::of_run(
        report,
        link(report_dir, "report.html", "report.md", settings),
    );
    send_for_run(plan, &message, report_dir, settings).await
}

/// Notifications of a run that ended without a report (it could not start, or the
/// harness failed): an `error` with what went wrong.
pub async fn notify_unreported_run(
    plan: &crate::plan::Plan,
    ran: &Ran,
    report_dir: &Path,
    settings: &Settings,
) -> Vec<Delivery> {
    let message = Message {
        schema_version: 1,
        kind: "run".into(),
        name: plan.name.clone(),
        verdict: notify::On::Error,
        exit_code: ran.exit_code,
        failing_checks: Vec::new(),
        runs: Vec::new(),
        report: report_dir.display().to_string(),
        errors: ran.messages.clone(),
        on: notify::On::Error,
    };
    send_for_run(plan, &message, report_dir, settings).await
}

async fn send_for_run(
    plan: &crate::plan::Plan,
    message: &Message,
    report_dir: &Path,
    settings: &Settings,
) -> Vec<Delivery> {
    let targets: Vec<Target> = plan
        .notify
        .iter()
        .chain(&settings.notify)
        .cloned()
        .collect();
    let deliveries = notify::notify_all(&targets, message, settings.retry).await;
    if !deliveries.is_empty() && report_dir.is_dir() {
        let path = report_dir.join("notifications.json");
        if let Ok(text) = serde_json::to_string_pretty(&deliveries) {
            if let Err(e) = std::fs::write(&path, text + "\n") {
                tracing::warn!("cannot write {}: {e}", path.display());
            }
        }
    }
    deliveries
}

/// One line per delivery for stderr: `notified slack https://hooks.slack.com/… (1 attempt)`.
pub fn delivery_line(d: &Delivery) -> String {
    match &d.error {
        None => format!(
            "notified {} {} ({} attempt{})",
            d.format,
            d.target,
            d.attempts,
            if d.attempts == 1 { "" } else { "s" }
        ),
        Some(e) => format!(
            "warning: notification ({}) to {} failed after {} attempt{}: {e}; the verdict stands",
            d.format,
            d.target,
            d.attempts,
            if d.attempts == 1 { "" } else { "s" }
        ),
    }
}

fn write_all(
    r: &SuiteReport,
    dir: &Path,
    reports: &[Option<crate::report::Report>],
) -> (Vec<PathBuf>, Vec<String>) {
    let mut files: Vec<(&str, String)> = Vec::new();
    let timeline = svg::timeline(r);
    let mut charts = vec![("timeline.svg".to_string(), timeline.clone())];
    if let Some(rep) = &r.repeat {
        charts.push(("repeat.svg".to_string(), svg::distributions(rep, &r.name)));
    }
    let chart_names: Vec<&str> = charts.iter().map(|(n, _)| n.as_str()).collect();
    let json = serde_json::to_string_pretty(r).unwrap_or_default() + "\n";
    files.push(("suite.json", json));
    files.push(("suite.md", render::markdown(r, &chart_names)));
    files.push(("suite.html", render::html(r, &charts)));
    files.push(("junit.xml", render::junit(r, reports)));
    for (name, svg) in &charts {
        files.push((name.as_str(), svg.clone()));
    }
    let (mut written, mut failures) = (Vec::new(), Vec::new());
    if let Err(e) = std::fs::create_dir_all(dir) {
        failures.push(format!("cannot create {}: {e}", dir.display()));
        return (written, failures);
    }
    for (name, text) in files {
        let path = dir.join(name);
        // Secrets from the environment never reach a file, whatever rendered them.
        match std::fs::write(&path, crate::spec::env::redact_output(&text).as_bytes()) {
            Ok(()) => written.push(path),
            Err(e) => failures.push(format!("cannot write {}: {e}", path.display())),
        }
    }
    (written, failures)
}
