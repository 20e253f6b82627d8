//! `run --repeat N`: one experiment N times. Each figure's distribution over the runs
//! (min, median, p90, max), and each SLA check judged on one run's figure chosen by
//! `sla.judge`: the worst run's (default), the median run's, or the p90 run's.
//!
//! Runs are ranked best to worst on the check's own figure (a missing figure, such
//! as "not recovered", is the worst), and the judged run is the one at nearest rank
//! `ceil(q × N)` with q = 1, 0.5 or 0.9. The check passes when that run's check
//! passed, so the comparison is the exact one a single run makes.

use crate::report::Report;
use crate::spec::Judge;
use crate::verdict::Check;
use serde::Serialize;

/// The `repeat` section of `suite.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RepeatSummary {
    /// Runs asked for, and runs that produced a report.
    pub runs: usize,
    pub reported: usize,
    pub judge: Judge,
    pub figures: Vec<Distribution>,
    pub checks: Vec<JudgedCheck>,
}

/// One figure over the runs.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    /// `recovery_time`, `detect_time`, `availability`, `longest_disruption`, `lost_writes`.
    pub figure: String,
    /// The fault or probe it is of.
    pub scope: String,
    /// `ms`, `percent` or `writes`.
    pub unit: String,
    /// One per reported run, in run order; null where the run had no such figure
    /// (a fault not recovered, not injected).
    pub values: Vec<Option<f64>>,
    pub min: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub max: Option<f64>,
    /// The SLA's threshold on this figure, when it has one (same unit).
    pub limit: Option<f64>,
}

/// One SLA check, judged over the runs.
#[derive(Debug, Clone, Serialize)]
pub struct JudgedCheck {
    pub name: String,
    pub probe: Option<String>,
    pub fault: Option<String>,
    pub threshold: String,
    /// 1-based run whose figure was judged.
    pub judged_run: usize,
    pub measured: String,
    pub value: Option<f64>,
    pub unit: String,
    pub pass: bool,
    /// Runs whose own check passed, of the runs that had it.
    pub passed_runs: usize,
    pub runs: usize,
}

/// The summary of `reports` (one per run, `None` for a run without a report).
pub fn summarize(reports: &[Option<Report>], judge: Judge) -> RepeatSummary {
    let ran: Vec<(usize, &Report)> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().map(|r| (i + 1, r)))
        .collect();
    RepeatSummary {
        runs: reports.len(),
        reported: ran.len(),
        judge,
        figures: distributions(&ran),
        checks: judged_checks(&ran, judge),
    }
}

/// Nearest-rank index (0-based) of quantile `q` among `n` ranked items.
fn rank_index(q: f64, n: usize) -> usize {
    ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1
}

fn quantile(q: Judge) -> f64 {
    match q {
        Judge::Worst => 1.0,
        Judge::Median => 0.5,
        Judge::P90 => 0.9,
    }
}

type CheckKey = (String, Option<String>, Option<String>);

fn key(c: &Check) -> CheckKey {
    (c.name.clone(), c.probe.clone(), c.fault.clone())
}

fn judged_checks(ran: &[(usize, &Report)], judge: Judge) -> Vec<JudgedCheck> {
    let mut keys: Vec<CheckKey> = Vec::new();
    for (_, r) in ran {
        for c in &r.sla {
            if !keys.contains(&key(c)) {
                keys.push(key(c));
            }
        }
    }
    keys.iter()
        .filter_map(|k| {
            let runs: Vec<(usize, &Check)> = ran
                .iter()
                .filter_map(|(i, r)| r.sla.iter().find(|c| key(c) == *k).map(|c| (*i, c)))
                .collect();
            judge_one(runs, judge)
        })
        .collect()
}

/// Best first: a higher figure is better under `>=`, a lower one otherwise; a missing
/// figure is worst; on equal figures a passing check ranks before a failing one.
fn rank_best_first(runs: &mut [(usize, &Check)]) {
    runs.sort_by(|(_, a), (_, b)| {
        let higher_better = a.threshold.starts_with(">=");
        let by_value = match (a.value, b.value) {
            (Some(x), Some(y)) if higher_better => y.total_cmp(&x),
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_value.then(b.pass.cmp(&a.pass))
    });
}

fn judge_one(mut runs: Vec<(usize, &Check)>, judge: Judge) -> Option<JudgedCheck> {
    let passed_runs = runs.iter().filter(|(_, c)| c.pass).count();
    let count = runs.len();
    rank_best_first(&mut runs);
    let (run, c) = *runs.get(rank_index(quantile(judge), count))?;
    Some(JudgedCheck {
        name: c.name.clone(),
        probe: c.probe.clone(),
        fault: c.fault.clone(),
        threshold: c.threshold.clone(),
        judged_run: run,
        measured: c.measured.clone(),
        value: c.value,
        unit: c.unit.clone(),
        pass: c.pass,
        passed_runs,
        runs: count,
    })
}

/// (figure, scope, unit, check name holding its limit) and how to read it from a report.
type Reader = fn(&Report, &str) -> Option<f64>;

fn distributions(ran: &[(usize, &Report)]) -> Vec<Distribution> {
    let Some((_, first)) = ran.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in &first.faults {
        out.push(figure(
            ran,
            ("recovery_time", &f.name, "ms"),
            recovery,
            "recovery_time",
        ));
        out.push(figure(ran, ("detect_time", &f.name, "ms"), detect, ""));
    }
    for p in &first.probes {
        out.push(figure(
            ran,
            ("availability", &p.name, "percent"),
            availability,
            "availability",
        ));
        out.push(figure(
            ran,
            ("longest_disruption", &p.name, "ms"),
            disruption,
            "max_disruption",
        ));
        if p.writes.is_some() {
            out.push(figure(
                ran,
                ("lost_writes", &p.name, "writes"),
                lost,
                "max_lost_writes",
            ));
        }
    }
    out
}

fn recovery(r: &Report, fault: &str) -> Option<f64> {
    r.faults
        .iter()
        .find(|f| f.name == fault)
        .and_then(|f| f.injected_at_ms.and(f.recovery_ms))
}

fn detect(r: &Report, fault: &str) -> Option<f64> {
    r.faults
        .iter()
        .find(|f| f.name == fault)
        .and_then(|f| f.detect_ms)
}

fn availability(r: &Report, probe: &str) -> Option<f64> {
    r.probes
        .iter()
        .find(|p| p.name == probe && p.total > 0)
        .map(|p| p.availability_pct)
}

fn disruption(r: &Report, probe: &str) -> Option<f64> {
    r.probes
        .iter()
        .find(|p| p.name == probe)
        .map(|p| p.longest_disruption_ms)
}

fn lost(r: &Report, probe: &str) -> Option<f64> {
    r.probes
        .iter()
        .find(|p| p.name == probe)
        .and_then(|p| p.writes.as_ref())
        .filter(|w| w.verify_error.is_none())
        .map(|w| w.lost as f64)
}

fn figure(
    ran: &[(usize, &Report)],
    (name, scope, unit): (&str, &str, &str),
    read: Reader,
    limit_check: &str,
) -> Distribution {
    let values: Vec<Option<f64>> = ran.iter().map(|(_, r)| read(r, scope)).collect();
    let mut sorted: Vec<f64> = values.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| (!sorted.is_empty()).then(|| sorted[rank_index(q, sorted.len())]);
    let limit = ran.iter().find_map(|(_, r)| {
        r.sla
            .iter()
            .find(|c| {
                c.name == limit_check
                    && (c.probe.as_deref() == Some(scope) || c.fault.as_deref() == Some(scope))
            })
            .map(|c| c.limit)
    });
    Distribution {
        figure: name.into(),
        scope: scope.into(),
        unit: unit.into(),
        min: sorted.first().copied(),
        median: at(0.5),
        p90: at(0.9),
        max: sorted.last().copied(),
        values,
        limit,
    }
}

#[cfg(test)]
mod tests;
