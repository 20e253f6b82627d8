//! `shakeout trend DIR...`: every run found under the given directories (each
//! `report.json`), grouped by experiment and ordered by start time, with four figures
//! per run and a regression mark where a run is worse than the runs before it.
//!
//! The figures, and what "worse" means for each (a larger *badness*):
//! - recovery time: the slowest recovery of any fault of the run; a fault that never
//!   recovered is worse than any time.
//! - availability: the worst probe's; compared as its *unavailability* (100% − it),
//!   so 99.9% → 99.8% is twice as bad, not 0.1% worse.
//! - longest disruption: the longest of any probe.
//! - lost writes: acknowledged writes lost, summed over write probes.
//!
//! A run regressed on a figure when its badness exceeds the median badness of the
//! previous `baseline` runs that have the figure (5 by default; fewer at the start of
//! the history, but at least `min_history`, 3 by default) by more than `regression`
//! percent, *and* by more than the
//! figure's resolution, so sampling noise is no regression: one probe interval for the
//! two times (they are measured in whole samples), one sample's share for availability,
//! nothing for lost writes (one lost write is real).

mod chart;
mod collect;
mod render;

pub use collect::{collect, CollectError, Collected};
pub use render::{html, markdown, summary};

use crate::report::Report;
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change to `trend.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// How runs are judged against their history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Percent by which a run's badness must exceed the baseline to regress.
    pub regression_pct: f64,
    /// How many previous runs the baseline median is taken over.
    pub baseline_runs: usize,
    /// How many previous runs (with the figure) a run needs to be judged at all: the
    /// median of one or two runs is one noisy run, not a baseline.
    pub min_history: usize,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            regression_pct: 20.0,
            baseline_runs: 5,
            min_history: 3,
        }
    }
}

/// The contents of `trend.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub schema_version: u32,
    pub tool: String,
    pub tool_version: String,
    pub regression_pct: f64,
    pub baseline_runs: usize,
    pub min_history: usize,
    /// True when the newest run of any experiment regressed (`shakeout trend` exits 1).
    pub regressed: bool,
    pub experiments: Vec<ExperimentTrend>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentTrend {
    pub experiment: String,
    /// Oldest first.
    pub runs: Vec<RunPoint>,
    /// The newest run regressed on at least one figure.
    pub newest_regressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPoint {
    pub run_id: String,
    pub started_at: String,
    /// The directory the run's report.json was found in.
    pub dir: String,
    pub verdict: String,
    pub exit_code: i32,
    pub figures: Figures,
    pub regressions: Vec<Regression>,
}

/// One run's four figures; absent when the run has nothing to measure it by (no
/// injected fault, no probe, no write probe).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub recovery_ms: Option<f64>,
    /// False when an injected fault never recovered (then `recovery_ms` is absent).
    pub recovered: bool,
    pub availability_pct: Option<f64>,
    pub longest_disruption_ms: Option<f64>,
    pub lost_writes: Option<u64>,
    /// The resolution of each figure in this run (see the module docs).
    pub interval_ms: f64,
    pub sample_share_pct: f64,
}

/// A figure on which a run was worse than its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    /// `recovery_time`, `availability`, `longest_disruption` or `lost_writes`.
    pub figure: String,
    /// The run's badness and the baseline median, in the figure's compared unit.
    pub value: Option<f64>,
    pub baseline: f64,
    /// Over the baseline, in percent; absent when the baseline is 0 or the value is
    /// "not recovered".
    pub worse_by_pct: Option<f64>,
    /// `ms`, `percent unavailable` or `writes`.
    pub unit: String,
    /// How many previous runs the baseline is the median of.
    pub baseline_of: usize,
}

/// The figures trended, in table and chart order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Recovery,
    Availability,
    Disruption,
    LostWrites,
}

impl Figure {
    pub const ALL: [Figure; 4] = [
        Figure::Recovery,
        Figure::Availability,
        Figure::Disruption,
        Figure::LostWrites,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Figure::Recovery => "recovery_time",
            Figure::Availability => "availability",
            Figure::Disruption => "longest_disruption",
            Figure::LostWrites => "lost_writes",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Figure::Recovery => "Recovery time",
            Figure::Availability => "Availability",
            Figure::Disruption => "Longest disruption",
            Figure::LostWrites => "Lost writes",
        }
    }

    /// The unit badness is compared in.
    pub fn unit(self) -> &'static str {
        match self {
            Figure::Recovery | Figure::Disruption => "ms",
            Figure::Availability => "percent unavailable",
            Figure::LostWrites => "writes",
        }
    }

    /// Larger is worse; infinite for a fault that never recovered; None when the run
    /// does not have the figure.
    pub fn badness(self, f: &Figures) -> Option<f64> {
        match self {
            Figure::Recovery if !f.recovered => Some(f64::INFINITY),
            Figure::Recovery => f.recovery_ms,
            Figure::Availability => f.availability_pct.map(|a| 100.0 - a),
            Figure::Disruption => f.longest_disruption_ms,
            Figure::LostWrites => f.lost_writes.map(|n| n as f64),
        }
    }

    /// The smallest difference this run can measure in the figure.
    fn resolution(self, f: &Figures) -> f64 {
        match self {
            Figure::Recovery | Figure::Disruption => f.interval_ms,
            Figure::Availability => f.sample_share_pct,
            Figure::LostWrites => 0.0,
        }
    }
}

impl Figures {
    pub fn of(r: &Report) -> Figures {
        let injected: Vec<_> = r
            .faults
            .iter()
            .filter(|f| f.injected_at_ms.is_some())
            .collect();
        let recovered = injected.iter().all(|f| f.recovered);
        let recovery_ms = if recovered {
            injected
                .iter()
                .filter_map(|f| f.recovery_ms)
                .reduce(f64::max)
        } else {
            None
        };
        let worst_probe = r
            .probes
            .iter()
            .filter(|p| p.total > 0)
            .min_by(|a, b| a.availability_pct.total_cmp(&b.availability_pct));
        let writes: Vec<_> = r.probes.iter().filter_map(|p| p.writes.as_ref()).collect();
        let verified = !writes.is_empty() && writes.iter().all(|w| w.verify_error.is_none());
        Figures {
            recovery_ms,
            recovered,
            availability_pct: worst_probe.map(|p| p.availability_pct),
            longest_disruption_ms: r
                .probes
                .iter()
                .map(|p| p.longest_disruption_ms)
                .reduce(f64::max),
            lost_writes: verified.then(|| writes.iter().map(|w| w.lost).sum()),
            interval_ms: r.probes.iter().map(|p| p.interval_ms).fold(0.0, f64::max),
            sample_share_pct: worst_probe.map_or(0.0, |p| 100.0 / p.total as f64),
        }
    }
}

/// The median of a non-empty list (the mean of the middle two for an even count).
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Whether `runs[i]` regressed on `figure` against the runs before it.
fn regression(runs: &[RunPoint], i: usize, figure: Figure, rule: &Rule) -> Option<Regression> {
    let now = &runs[i].figures;
    let value = figure.badness(now)?;
    let mut previous: Vec<f64> = runs[..i]
        .iter()
        .rev()
        .filter_map(|r| figure.badness(&r.figures))
        .take(rule.baseline_runs)
        .collect();
    let baseline_of = previous.len();
    if baseline_of < rule.min_history {
        return None;
    }
    let baseline = median(&mut previous)?;
    if baseline.is_infinite() {
        // The history never recovered: nothing can be worse than that.
        return None;
    }
    let limit = baseline * (1.0 + rule.regression_pct / 100.0);
    let worse = value > limit && value - baseline > figure.resolution(now);
    worse.then(|| Regression {
        figure: figure.key().into(),
        value: value.is_finite().then_some(value),
        baseline,
        worse_by_pct: (value.is_finite() && baseline > 0.0)
            .then(|| (value - baseline) / baseline * 100.0),
        unit: figure.unit().into(),
        baseline_of,
    })
}

/// Group the reports by experiment (sorted by name), order each group's runs by start
/// time, and mark every run's regressions.
pub fn build(reports: Vec<(String, Report)>, rule: Rule) -> Trend {
    let mut groups: std::collections::BTreeMap<String, Vec<RunPoint>> = Default::default();
    for (dir, r) in reports {
        groups
            .entry(r.experiment.clone())
            .or_default()
            .push(RunPoint {
                run_id: r.run_id.clone(),
                started_at: r.started_at.clone(),
                dir,
                verdict: crate::report::verdict_word(r.verdict).to_lowercase(),
                exit_code: r.exit_code,
                figures: Figures::of(&r),
                regressions: Vec::new(),
            });
    }
    let experiments: Vec<ExperimentTrend> = groups
        .into_iter()
        .map(|(experiment, runs)| judge_history(experiment, runs, &rule))
        .collect();
    Trend {
        schema_version: SCHEMA_VERSION,
        tool: "shakeout".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        regression_pct: rule.regression_pct,
        baseline_runs: rule.baseline_runs,
        min_history: rule.min_history,
        regressed: experiments.iter().any(|e| e.newest_regressed),
        experiments,
    }
}

fn judge_history(experiment: String, mut runs: Vec<RunPoint>, rule: &Rule) -> ExperimentTrend {
    // RFC 3339 UTC timestamps of one format sort as text; the run id breaks ties.
    runs.sort_by(|a, b| (&a.started_at, &a.run_id).cmp(&(&b.started_at, &b.run_id)));
    for i in 0..runs.len() {
        let found: Vec<Regression> = Figure::ALL
            .iter()
            .filter_map(|f| regression(&runs, i, *f, rule))
            .collect();
        runs[i].regressions = found;
    }
    let newest_regressed = runs.last().is_some_and(|r| !r.regressions.is_empty());
    ExperimentTrend {
        experiment,
        runs,
        newest_regressed,
    }
}

/// Parse `--regression`: `20%` or `20`, a finite percentage of at least 0.
pub fn parse_regression(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let number = t.strip_suffix('%').unwrap_or(t).trim();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{t}` is not a percentage like 20%")),
    }
}

/// What `shakeout trend` wrote.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<std::path::PathBuf>,
}

/// Write trend.md, trend.html, trend.json and one chart per experiment into `out`.
pub fn write(trend: &Trend, out: &std::path::Path) -> Result<Written, std::io::Error> {
    std::fs::create_dir_all(out)?;
    let mut written = Written::default();
    let mut put = |name: &str, text: &str| -> Result<(), std::io::Error> {
        let path = out.join(name);
        // Reports are redacted when written; a trend repeats their text, so it is too.
        std::fs::write(&path, crate::spec::env::redact_output(text).as_bytes())?;
        written.files.push(path);
        Ok(())
    };
    let charts = chart::all(trend);
    for (file, svg) in &charts {
        put(file, svg)?;
    }
    let json = serde_json::to_string_pretty(trend).map_err(std::io::Error::other)?;
    put("trend.json", &(json + "\n"))?;
    put("trend.md", &markdown(trend, true))?;
    put("trend.html", &html(trend, &charts))?;
    Ok(written)
}

#[cfg(test)]
mod tests;
