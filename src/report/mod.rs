//! Reports for people and machines, rendered only from saved data (the event log),
//! so `shakeout report DIR` can re-render any past run.
//!
//! `report.json` is the machine contract; see [`Report`] and `SCHEMA_VERSION`.

mod judging;
mod rerender;
use crate::analysis::{Abort, Analysis, ErrorBudget, FaultAnalysis, Measurement, ProbeAnalysis};
use crate::format::{fmt_num, fmt_pct, fmt_span};
use crate::record::{Recording, RunStarted};
use crate::verdict::{Check, Outcome};
pub use judging::{judge_and_write, Judged, Judging};
pub use rerender::{rerender, summary, JudgeAgainst, RerenderError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub mod document;
pub mod html;
pub mod junit;
pub mod markdown;

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
    /// Whether the harness kept to its schedule: when `degraded`, figures may include
    /// the harness's own stalls. Absent in reports written before it was added.
    #[serde(default)]
    pub measurement: Measurement,
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
    pub fn new(
        started: &RunStarted,
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
            experiment: started.experiment.clone(),
            description: started.description.clone(),
            run_id: started.run_id.clone(),
            started_at: started.started_at.clone(),
            source: started.source.clone(),
            verdict,
            exit_code,
            measurement: analysis.measurement,
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

/// Where [`write_all`] puts a run's renderings. The two may be the same directory.
#[derive(Debug, Clone)]
pub struct RunFiles {
    pub report_dir: PathBuf,
    pub chart_dir: PathBuf,
}

/// What writing a run's renderings gave: the files that exist now, and each file that
/// could not be written (not left behind half-written or stale).
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// `cannot write PATH: REASON`, one per file.
    pub failures: Vec<String>,
}

impl Written {
    fn put(&mut self, path: PathBuf, text: &str) {
        // Secrets from the environment never reach a file, whatever rendered them.
        match std::fs::write(&path, crate::spec::env::redact_output(text).as_bytes()) {
            Ok(()) => self.files.push(path),
            Err(e) => {
                // A truncated file, or the last run's file under the same name, must not
                // be read as this run's report.
                let _ = std::fs::remove_file(&path);
                self.failures
                    .push(format!("cannot write {}: {e}", path.display()));
            }
        }
    }
}

/// Render every report and chart of a run and write them out. A file that cannot be
/// written does not stop the others: each is attempted and each failure listed.
///
/// `report.json` is written first: it is the machine contract.
pub fn write_all(r: &Report, rec: &Recording, a: &Analysis, files: &RunFiles) -> Written {
    let mut out = Written::default();
    for dir in [&files.report_dir, &files.chart_dir] {
        if let Err(e) = std::fs::create_dir_all(dir) {
            out.failures
                .push(format!("cannot create {}: {e}", dir.display()));
        }
    }
    match serde_json::to_string_pretty(r) {
        Ok(json) => out.put(files.report_dir.join("report.json"), &(json + "\n")),
        Err(e) => out.failures.push(format!("cannot render report.json: {e}")),
    }
    out.put(files.report_dir.join("report.md"), &markdown::render(r));
    out.put(files.report_dir.join("junit.xml"), &junit::render(r));

    // Charts are rendered once and used twice: as files and inlined into the HTML page.
    let charts = render_charts(r, rec, a);
    for (_, file, svg) in &charts {
        out.put(files.chart_dir.join(file), svg);
    }
    let inline: Vec<(String, String)> = charts.into_iter().map(|(t, _, svg)| (t, svg)).collect();
    out.put(
        files.report_dir.join("report.html"),
        &html::render(r, &inline),
    );
    out
}

/// Every chart of a run: (title, file name, SVG).
fn render_charts(r: &Report, rec: &Recording, a: &Analysis) -> Vec<(String, String, String)> {
    let mut charts = vec![(
        "Timeline".to_string(),
        "timeline.svg".to_string(),
        crate::chart::timeline(rec, a),
    )];
    let mut used = std::collections::BTreeSet::new();
    for p in &a.probes {
        let mut stem = sanitize_file_stem(&p.name);
        // Distinct probe names can sanitise to the same stem (`a/b`, `a:b`): keep both files.
        let mut n = 2;
        while !used.insert(stem.clone()) {
            stem = format!("{}-{n}", sanitize_file_stem(&p.name));
            n += 1;
        }
        charts.push((
            format!("Latency: {}", p.name),
            format!("latency-{stem}.svg"),
            crate::chart::latency_with_limits(rec, a, &p.name, &latency_limits(r, &p.name)),
        ));
        if let Some(svg) = crate::chart::values(rec, a, &p.name) {
            charts.push((
                format!("Value: {}", p.name),
                format!("value-{stem}.svg"),
                svg,
            ));
        }
    }
    charts
}

/// The SLA latency limits judged on `probe`, as (statistic, ms): `("p99", 250.0)`.
fn latency_limits(r: &Report, probe: &str) -> Vec<(String, f64)> {
    r.sla
        .iter()
        .filter(|c| c.probe.as_deref() == Some(probe) && c.unit == "ms")
        .filter_map(|c| Some((c.name.strip_prefix("latency_")?.to_string(), c.limit)))
        .collect()
}

/// A probe name made safe as part of a file name on any OS, and short enough for one.
pub fn sanitize_file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A leading dot would hide the file; an empty stem would collide with nothing useful.
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "probe".into()
    } else {
        crate::util::bounded_file_stem(&s)
    }
}

/// The verdict as a word, shared by every rendering.
pub fn verdict_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Aborted => "ABORTED",
        Outcome::Error => "ERROR",
    }
}

/// What a check is about: its probe, its fault, or nothing for run-wide checks.
pub fn check_subject(c: &Check) -> String {
    match (&c.probe, &c.fault) {
        (Some(p), Some(f)) => format!("{p} / {f}"),
        (Some(p), None) => p.clone(),
        (None, Some(f)) => f.clone(),
        (None, None) => String::new(),
    }
}

/// Recovery of a fault in words, for a run that stopped early or not.
pub fn fmt_recovery(f: &FaultAnalysis, run_stopped_early: bool) -> String {
    crate::verdict::Recovery::of(f, run_stopped_early).words()
}

/// The error-budget sentence: `spent 0.012% of the 21m36s budget (99.95% over 30d)`.
pub fn budget_sentence(b: &ErrorBudget) -> String {
    let spent_pct = if b.spent_pct.is_finite() {
        fmt_pct(b.spent_pct)
    } else {
        "all".into()
    };
    // The probe name is left to the caller, which knows how to escape it.
    format!(
        "spent {spent_pct} of the {} budget ({}% over {})",
        fmt_span(b.allowed_ms),
        objective_number(b.objective_pct),
        fmt_span(b.period_ms)
    )
}

/// The objective as it was written (`99.9999`), recovered exactly from its recorded
/// number; three decimals would round `99.9999` up to `100`.
fn objective_number(pct: f64) -> String {
    crate::percent::Percent::from_f64(pct).map_or_else(|_| fmt_num(pct), |p| p.number())
}

/// One-line definitions shown under every human report, so numbers are not misread.
pub const DEFINITIONS: &[(&str, &str)] = &[
    (
        "Outage",
        "a maximal run of failed samples by intended send time, from the first failed sample \
         to the next successful one (or the end of the measured span).",
    ),
    (
        "Recovery time",
        "injection to the first success that begins K consecutive successes (default 3) with \
         no failure after it while the fault can still have effect; 0 when no sample failed.",
    ),
    (
        "Time to detect",
        "injection to the intended send time of the first failed sample after it.",
    ),
    (
        "Latency",
        "over successful samples, measured from the intended send time.",
    ),
    (
        "Disruption",
        "from a failed sample until K consecutive successes (the recovery K); outages \
         separated by fewer than K successes are one disruption.",
    ),
];

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;
