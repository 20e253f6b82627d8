//! Pure functions from a [`Recording`] to the figures users gate releases on.
//!
//! Terms, defined once (the README repeats them):
//! - *outage*: a maximal run of failed samples ordered by intended send time. It starts
//!   at the first failed sample's intended time and ends at the intended time of the
//!   first successful sample after it (or at the end of the measured span).
//! - *downtime*: the sum of a probe's outages.
//! - *time to detect*: injection → intended time of the first failed sample after it.
//! - *recovery time*: injection → intended time of the first success that begins a
//!   run of K successes (default 3) with no failure after it during the fault's
//!   effect window; 0 when no sample failed. The effect window runs from injection to
//!   the next injection that starts after this fault was reverted, or the run's end.
//! - *latency* percentiles are over successful samples, measured from the intended
//!   send time (so scheduler or target stalls cannot hide).
//! - *error budget*: `(1 − objective) × period` of downtime; the run spends its
//!   worst probe's downtime.
//! - *disruption*: from a failed sample until K consecutive successes (the recovery
//!   K); outages separated by fewer than K successes are one disruption.
//! - *measurement degraded*: send lateness p99 over 10% of the smallest probe
//!   interval, or its max over the smallest probe timeout.

mod disruption;
mod measurement;
pub use disruption::{disruptions, Disruption};
pub use measurement::{measurement, Measurement};

pub mod failover;
pub mod writes;

use crate::record::{Event, Recording, Sample};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Inputs the analysis needs beyond the recording.
#[derive(Debug, Clone)]
pub struct AnalysisConfig {
    pub recovery_successes: u32,
    pub error_budget: Option<BudgetConfig>,
}

pub use crate::sla::BudgetConfig;

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            recovery_successes: 3,
            error_budget: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Planned run length.
    pub duration_ms: f64,
    /// End of the measured span (shorter than planned when aborted).
    pub measured_ms: f64,
    pub aborted: Option<Abort>,
    /// Whether the harness kept to its schedule well enough to trust the figures.
    pub measurement: Measurement,
    pub probes: Vec<ProbeAnalysis>,
    pub faults: Vec<FaultAnalysis>,
    pub error_budget: Option<ErrorBudget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Abort {
    pub at_ms: f64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeAnalysis {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub interval_ms: f64,
    pub total: u64,
    pub failed: u64,
    pub availability_pct: f64,
    pub downtime_ms: f64,
    pub longest_outage_ms: f64,
    pub outages: Vec<Outage>,
    /// Outages merged until K consecutive successes (see the module docs).
    #[serde(default)]
    pub disruptions: Vec<Disruption>,
    #[serde(default)]
    pub longest_disruption_ms: f64,
    pub latency_ms: Percentiles,
    pub phases: Vec<Phase>,
    /// Failure reasons and how often each happened.
    pub errors: BTreeMap<String, u64>,
    /// Scheduler lateness (actual send − intended send) over all samples.
    pub send_lateness_ms: Percentiles,
    /// Write probes only: the ledger held against what the store holds after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<writes::Writes>,
    /// Failed samples per failure class (`refused`, `timeout`, `tls`, `status`,
    /// `body`, `query`, `expect`, `exit`); empty for runs recorded without classes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failure_classes: BTreeMap<String, u64>,
    /// `tls: {insecure: true}`: this probe did not verify certificates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_insecure: bool,
    /// The values a metric probe read: min, last and max (absent for other kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<ValueRange>,
}

/// The range of values a metric probe read over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueRange {
    pub min: f64,
    pub max: f64,
    pub last: f64,
    pub count: u64,
}

/// Failed samples per class, and the values read, for one probe.
fn classes_and_values(samples: &[&Sample]) -> (BTreeMap<String, u64>, Option<ValueRange>) {
    let mut classes = BTreeMap::new();
    for s in samples.iter().filter(|s| !s.ok) {
        if let Some(class) = &s.class {
            *classes.entry(class.clone()).or_insert(0) += 1;
        }
    }
    let mut values: Option<ValueRange> = None;
    let mut by_time: Vec<(u64, f64)> = samples
        .iter()
        .filter_map(|s| s.value.map(|v| (s.due_us, v)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    by_time.sort_by_key(|(t, _)| *t);
    for (_, v) in by_time {
        values = Some(match values {
            None => ValueRange {
                min: v,
                max: v,
                last: v,
                count: 1,
            },
            Some(r) => ValueRange {
                min: r.min.min(v),
                max: r.max.max(v),
                last: v,
                count: r.count + 1,
            },
        });
    }
    (classes, values)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    pub start_ms: f64,
    pub end_ms: f64,
    pub duration_ms: f64,
    pub failed_samples: u64,
    pub first_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

impl Percentiles {
    /// The named statistic: `p50`, `p90`, `p95`, `p99`, `p999` or `max`.
    pub fn get(&self, stat: &str) -> Option<f64> {
        match stat {
            "p50" => self.p50,
            "p90" => self.p90,
            "p95" => self.p95,
            "p99" => self.p99,
            "p999" => self.p999,
            "max" => self.max,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// `before`, `during <fault>`, `after`, or `whole run` when there were no faults.
    pub name: String,
    pub start_ms: f64,
    pub end_ms: f64,
    pub total: u64,
    pub failed: u64,
    pub availability_pct: f64,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultAnalysis {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub planned_at_ms: f64,
    pub planned_duration_ms: f64,
    pub injected_at_ms: Option<f64>,
    pub reverted_at_ms: Option<f64>,
    /// First failure after injection, over all probes.
    pub detect_ms: Option<f64>,
    /// Worst recovery over all probes; `None` with `recovered == false` = not recovered.
    pub recovery_ms: Option<f64>,
    pub recovered: bool,
    pub per_probe: Vec<FaultProbe>,
    pub errors: Vec<String>,
    /// Asked-vs-achieved measurements taken while the fault was active.
    pub checks: Vec<FaultEffect>,
    /// The failover milestones the fault noted (database faults), in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<failover::MilestoneAt>,
    /// What the revert left for a person on purpose, with the steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_behind: Vec<String>,
    /// The write outage of a failover in phases, per write probe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_outages: Vec<failover::WriteOutage>,
    /// What the fault did, when it chose its targets itself (the pods it removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultProbe {
    pub probe: String,
    pub failed: u64,
    pub detect_ms: Option<f64>,
    pub recovery_ms: Option<f64>,
    pub recovered: bool,
    /// For a probe that counts capacity (`kubernetes`: ready pods), how it fell and
    /// came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// A capacity probe's count around a fault: the last count before its injection
/// began, the lowest while it was in effect, and how long after the injection began
/// the count was back to where it started (0 when it never fell; `None` when it was
/// not back before the fault's effect ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub before: f64,
    pub lowest: f64,
    pub back_ms: Option<f64>,
}

/// The probe kinds whose value is a capacity (a count that should come back).
const CAPACITY_PROBES: &[&str] = &["kubernetes"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEffect {
    pub metric: String,
    /// Absent when the fault only measured the figure (nothing was asked of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<f64>,
    pub achieved: f64,
    /// The probe whose samples measured it.
    #[serde(default)]
    pub probe: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBudget {
    pub objective_pct: f64,
    pub period_ms: f64,
    pub allowed_ms: f64,
    pub spent_ms: f64,
    pub spent_pct: f64,
    /// The probe whose downtime was charged (the worst one).
    pub probe: Option<String>,
}

pub fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The whole microseconds behind a figure [`us_to_ms`] produced (or a sum of them):
/// exact, since every millisecond figure here is a whole number of microseconds.
pub fn ms_to_us(ms: f64) -> u64 {
    (ms * 1000.0).round().max(0.0) as u64
}

/// Analyse a whole recording.
pub fn analyse(rec: &Recording, cfg: &AnalysisConfig) -> Analysis {
    let started = rec.started.clone();
    let duration_us = started.as_ref().map_or(0, |s| s.duration_us);
    let probe_infos = started
        .as_ref()
        .map(|s| s.probes.clone())
        .unwrap_or_default();
    let fault_infos = started
        .as_ref()
        .map(|s| s.faults.clone())
        .unwrap_or_default();

    let mut by_probe: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in &rec.samples {
        by_probe.entry(s.probe.as_str()).or_default().push(s);
    }
    for samples in by_probe.values_mut() {
        samples.sort_by_key(|s| (s.due_us, s.seq));
    }

    let measured_end_us = measured_end(rec, duration_us, &probe_infos);
    let windows = fault_windows(rec, &fault_infos, measured_end_us);
    let first_injection = windows
        .iter()
        .filter_map(|w| w.injected_us)
        .min()
        .unwrap_or(measured_end_us);

    let probes: Vec<ProbeAnalysis> = probe_infos
        .iter()
        .map(|info| {
            let samples = by_probe
                .get(info.name.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let steady = rec.started.as_ref().and_then(|s| s.steady_state_us);
            let mut p = analyse_probe(
                info,
                samples,
                measured_end_us,
                &windows,
                cfg.recovery_successes,
                steady,
            );
            p.writes = writes::analyse(rec, &info.name, samples);
            p
        })
        .collect();

    let faults = fault_infos
        .iter()
        .zip(&windows)
        .map(|(info, w)| {
            analyse_fault(
                info,
                w,
                first_injection,
                &probe_infos,
                &by_probe,
                rec,
                cfg.recovery_successes,
            )
        })
        .collect();

    let error_budget = cfg.error_budget.map(|b| error_budget(&b, &probes));

    Analysis {
        duration_ms: us_to_ms(duration_us),
        measured_ms: us_to_ms(measured_end_us),
        aborted: rec
            .aborted
            .as_ref()
            .map(|(t, reason)| Abort {
                at_ms: us_to_ms(*t),
                reason: reason.clone(),
            })
            .or_else(|| events_ended_early(rec, measured_end_us, duration_us)),
        measurement: measurement(rec.samples.iter(), &probe_infos),
        probes,
        faults,
        error_budget,
    }
}

/// A run that recorded neither its end nor an abort was killed (SIGKILL, power loss):
/// its events stop early, and it is judged as aborted there, not as a finished run.
fn events_ended_early(rec: &Recording, measured_end_us: u64, duration_us: u64) -> Option<Abort> {
    if rec.finished_us.is_some() || rec.started.is_none() {
        return None;
    }
    let seconds = |us: u64| crate::format::fmt_num(us as f64 / 1_000_000.0);
    Some(Abort {
        at_ms: us_to_ms(measured_end_us),
        reason: format!(
            "events end at {} s of {} s",
            seconds(measured_end_us),
            seconds(duration_us)
        ),
    })
}

/// The budget `b` allows, in exact microseconds, and the worst probe's downtime charged
/// to it. Only the share spent is a ratio (a float); the verdict compares exactly.
fn error_budget(b: &BudgetConfig, probes: &[ProbeAnalysis]) -> ErrorBudget {
    let allowed_us = b.allowed_us();
    let worst = probes
        .iter()
        .max_by(|a, b| a.downtime_ms.total_cmp(&b.downtime_ms));
    let spent_us = worst.map_or(0, |p| ms_to_us(p.downtime_ms));
    ErrorBudget {
        objective_pct: b.objective_pct.as_f64(),
        period_ms: us_to_ms(b.period_us),
        allowed_ms: us_to_ms(allowed_us),
        spent_ms: us_to_ms(spent_us),
        spent_pct: if allowed_us > 0 {
            spent_us as f64 / allowed_us as f64 * 100.0
        } else if spent_us > 0 {
            f64::INFINITY
        } else {
            0.0
        },
        probe: worst.map(|p| p.name.clone()),
    }
}

/// End of the span the samples cover: the planned duration, or — for an aborted or
/// killed run — just past the last sample that was due.
fn measured_end(rec: &Recording, duration_us: u64, probes: &[crate::record::ProbeInfo]) -> u64 {
    if rec.aborted.is_none() && rec.finished_us.is_some() {
        return duration_us;
    }
    let last = rec
        .samples
        .iter()
        .map(|s| {
            let interval = probes
                .iter()
                .find(|p| p.name == s.probe)
                .map_or(0, |p| p.interval_us);
            s.due_us + interval
        })
        .max()
        .unwrap_or(0);
    let abort_us = rec.aborted.as_ref().map_or(0, |(t, _)| *t);
    last.max(abort_us).min(duration_us)
}

#[derive(Debug, Clone, Default)]
struct FaultWindow {
    name: String,
    injected_us: Option<u64>,
    reverted_us: Option<u64>,
    /// End of the window in which failures are charged to this fault.
    effect_end_us: u64,
}

fn fault_windows(
    rec: &Recording,
    faults: &[crate::record::FaultInfo],
    end_us: u64,
) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = faults
        .iter()
        .map(|f| FaultWindow {
            name: f.name.clone(),
            ..FaultWindow::default()
        })
        .collect();
    for ev in &rec.fault_events {
        let (name, t, injected) = match ev {
            Event::FaultInjected { fault, t_us, .. } => (fault, *t_us, true),
            Event::FaultReverted { fault, t_us } => (fault, *t_us, false),
            _ => continue,
        };
        if let Some(i) = faults.iter().position(|f| &f.name == name) {
            if injected {
                windows[i].injected_us.get_or_insert(t);
            } else {
                windows[i].reverted_us = Some(t);
            }
        }
    }
    let injections: Vec<u64> = windows.iter().filter_map(|w| w.injected_us).collect();
    for w in &mut windows {
        let reverted = w.reverted_us.unwrap_or(end_us);
        w.effect_end_us = injections
            .iter()
            .copied()
            .filter(|&t| t >= reverted && Some(t) != w.injected_us)
            .min()
            .unwrap_or(end_us)
            .max(w.injected_us.unwrap_or(0));
    }
    windows
}

/// The steady-state window becomes the first phase; the phase it overlapped
/// ("before" or "whole run") starts after it.
fn steady_state_phase(phases: &mut Vec<Phase>, samples: &[&Sample], window_us: u64) {
    let inside: Vec<&Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.due_us < window_us)
        .collect();
    let total = inside.len() as u64;
    let failed = inside.iter().filter(|s| !s.ok).count() as u64;
    let steady = Phase {
        name: "steady state".into(),
        start_ms: 0.0,
        end_ms: us_to_ms(window_us),
        total,
        failed,
        availability_pct: availability(total, failed),
        latency_ms: latency_percentiles(inside.into_iter()),
    };
    if let Some(first) = phases.first_mut() {
        let rest: Vec<&Sample> = samples
            .iter()
            .copied()
            .filter(|s| s.due_us >= window_us && (s.due_us as f64) < first.end_ms * 1000.0)
            .collect();
        let total = rest.len() as u64;
        let failed = rest.iter().filter(|s| !s.ok).count() as u64;
        first.start_ms = us_to_ms(window_us).min(first.end_ms);
        first.total = total;
        first.failed = failed;
        first.availability_pct = availability(total, failed);
        first.latency_ms = latency_percentiles(rest.into_iter());
    }
    phases.insert(0, steady);
}

fn analyse_probe(
    info: &crate::record::ProbeInfo,
    samples: &[&Sample],
    end_us: u64,
    windows: &[FaultWindow],
    k: u32,
    steady_window_us: Option<u64>,
) -> ProbeAnalysis {
    let total = samples.len() as u64;
    let failed = samples.iter().filter(|s| !s.ok).count() as u64;
    let outages = outages(samples, end_us);
    // Summed in whole microseconds: a sum of f64 milliseconds drifts (0.1 + 0.2).
    let downtime_ms = us_to_ms(outages.iter().map(|o| ms_to_us(o.duration_ms)).sum());
    let longest_outage_ms = outages.iter().map(|o| o.duration_ms).fold(0.0, f64::max);
    let disruptions = disruptions(samples, end_us, k);
    let longest_disruption_ms = disruptions
        .iter()
        .map(|d| d.duration_ms)
        .fold(0.0, f64::max);
    let mut errors = BTreeMap::new();
    for s in samples.iter().filter(|s| !s.ok) {
        *errors
            .entry(s.error.clone().unwrap_or_else(|| "failed".into()))
            .or_insert(0) += 1;
    }
    let (failure_classes, values) = classes_and_values(samples);
    let mut phases = phases(samples, end_us, windows);
    if let Some(window_us) = steady_window_us {
        steady_state_phase(&mut phases, samples, window_us.min(end_us));
    }
    ProbeAnalysis {
        name: info.name.clone(),
        kind: info.kind.clone(),
        target: info.target.clone(),
        interval_ms: us_to_ms(info.interval_us),
        total,
        failed,
        availability_pct: availability(total, failed),
        downtime_ms,
        longest_outage_ms,
        outages,
        disruptions,
        longest_disruption_ms,
        latency_ms: latency_percentiles(samples.iter().copied()),
        phases,
        errors,
        send_lateness_ms: percentiles(samples.iter().map(|s| s.late_us)),
        writes: None,
        failure_classes,
        tls_insecure: info.insecure,
        values,
    }
}

pub fn availability(total: u64, failed: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (total - failed) as f64 / total as f64 * 100.0
}

/// Maximal runs of failed samples. `samples` must be sorted by intended time.
pub fn outages(samples: &[&Sample], end_us: u64) -> Vec<Outage> {
    let mut out = Vec::new();
    let mut current: Option<(u64, u64, Option<String>)> = None; // start, count, first error
    for s in samples {
        match (&mut current, s.ok) {
            (None, false) => current = Some((s.due_us, 1, s.error.clone())),
            (Some((_, n, _)), false) => *n += 1,
            (Some((start, n, err)), true) => {
                out.push(make_outage(*start, s.due_us, *n, err.take()));
                current = None;
            }
            (None, true) => {}
        }
    }
    if let Some((start, n, err)) = current {
        out.push(make_outage(start, end_us.max(start), n, err));
    }
    out
}

fn make_outage(start_us: u64, end_us: u64, n: u64, first_error: Option<String>) -> Outage {
    Outage {
        start_ms: us_to_ms(start_us),
        end_ms: us_to_ms(end_us),
        duration_ms: us_to_ms(end_us - start_us),
        failed_samples: n,
        first_error,
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant figures; values above are clamped, never dropped.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

/// Percentiles of a stream of microsecond values, reported in milliseconds.
pub fn percentiles(values: impl Iterator<Item = u64>) -> Percentiles {
    let mut h = new_histogram();
    for v in values {
        h.saturating_record(v.max(1));
    }
    from_histogram(&h)
}

fn latency_percentiles<'a>(samples: impl Iterator<Item = &'a Sample>) -> Percentiles {
    percentiles(samples.filter(|s| s.ok).map(|s| s.latency_us))
}

fn from_histogram(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let q = |q: f64| Some(us_to_ms(h.value_at_quantile(q)));
    Percentiles {
        count: h.len(),
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        p999: q(0.999),
        max: Some(us_to_ms(h.max())),
        mean: Some(h.mean() / 1000.0),
    }
}

fn phases(samples: &[&Sample], end_us: u64, windows: &[FaultWindow]) -> Vec<Phase> {
    let injected: Vec<(&str, u64, u64)> = windows
        .iter()
        .filter_map(|w| {
            w.injected_us
                .map(|t| (w.name.as_str(), t, w.reverted_us.unwrap_or(end_us)))
        })
        .collect();
    let phase = |name: String, from: u64, to: u64| {
        let inside: Vec<&Sample> = samples
            .iter()
            .copied()
            .filter(|s| s.due_us >= from && s.due_us < to)
            .collect();
        let total = inside.len() as u64;
        let failed = inside.iter().filter(|s| !s.ok).count() as u64;
        Phase {
            name,
            start_ms: us_to_ms(from),
            end_ms: us_to_ms(to),
            total,
            failed,
            availability_pct: availability(total, failed),
            latency_ms: latency_percentiles(inside.into_iter()),
        }
    };
    if injected.is_empty() {
        return vec![phase("whole run".into(), 0, end_us)];
    }
    let first = injected.iter().map(|x| x.1).min().unwrap_or(0);
    let last = injected.iter().map(|x| x.2).max().unwrap_or(end_us);
    let mut out = vec![phase("before".into(), 0, first)];
    for &(name, from, to) in &injected {
        out.push(phase(format!("during {name}"), from, to));
    }
    out.push(phase("after".into(), last, end_us.max(last)));
    out
}

/// Detection and recovery of one fault as seen by one probe's samples (sorted by time).
pub fn detect_and_recover(
    samples: &[&Sample],
    injected_us: u64,
    effect_end_us: u64,
    k: u32,
) -> (u64, Option<u64>, Option<u64>) {
    let window: Vec<&Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.due_us >= injected_us && s.due_us < effect_end_us)
        .collect();
    let failed = window.iter().filter(|s| !s.ok).count() as u64;
    let detect = window
        .iter()
        .find(|s| !s.ok)
        .map(|s| s.due_us - injected_us);
    let recovery = match window.iter().rposition(|s| !s.ok) {
        None => Some(0),
        Some(last_failure) => {
            let after = &window[last_failure + 1..];
            if after.len() >= k.max(1) as usize {
                Some(after[0].due_us - injected_us)
            } else {
                None
            }
        }
    };
    (failed, detect, recovery)
}

/// Median latency of successful samples while a fault was applied, minus the median
/// before any fault: the round trip the fault added, as the probes saw it.
pub fn added_latency(
    samples: &[&Sample],
    from_us: u64,
    to_us: u64,
    baseline_end_us: u64,
) -> Option<f64> {
    let median = |lo: u64, hi: u64| {
        let p = percentiles(
            samples
                .iter()
                .filter(|s| s.ok && s.due_us >= lo && s.due_us < hi)
                .map(|s| s.latency_us),
        );
        p.p50
    };
    Some(median(from_us, to_us)? - median(0, baseline_end_us)?)
}

fn analyse_fault(
    info: &crate::record::FaultInfo,
    w: &FaultWindow,
    first_injection: u64,
    probes: &[crate::record::ProbeInfo],
    by_probe: &BTreeMap<&str, Vec<&Sample>>,
    rec: &Recording,
    k: u32,
) -> FaultAnalysis {
    let mut per_probe = Vec::new();
    // Capacity starts falling with the first change, before the injection returns.
    let injecting = rec.fault_events.iter().find_map(|ev| match ev {
        Event::FaultInjecting { fault, t_us } if fault == &info.name => Some(*t_us),
        _ => None,
    });
    if let Some(injected) = w.injected_us {
        for p in probes {
            let samples = by_probe
                .get(p.name.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let (failed, detect, recovery) =
                detect_and_recover(samples, injected, w.effect_end_us, k);
            per_probe.push(FaultProbe {
                probe: p.name.clone(),
                failed,
                detect_ms: detect.map(us_to_ms),
                recovery_ms: recovery.map(us_to_ms),
                recovered: recovery.is_some(),
                capacity: CAPACITY_PROBES
                    .contains(&p.kind.as_str())
                    .then(|| capacity(samples, injecting.unwrap_or(injected), w.effect_end_us))
                    .flatten(),
            });
        }
    }
    let recovered = w.injected_us.is_some() && per_probe.iter().all(|p| p.recovered);
    let recovery_ms = if recovered {
        Some(
            per_probe
                .iter()
                .filter_map(|p| p.recovery_ms)
                .fold(0.0, f64::max),
        )
    } else {
        None
    };
    let mut errors = Vec::new();
    let mut checks = Vec::new();
    let mut left_behind = Vec::new();
    for ev in &rec.fault_events {
        match ev {
            Event::FaultLeftBehind { fault, note, .. } if fault == &info.name => {
                left_behind.push(note.clone());
            }
            Event::FaultFailed {
                fault,
                phase,
                error,
                ..
            } if fault == &info.name => {
                let phase = match phase {
                    crate::record::FaultPhase::Inject => "inject",
                    crate::record::FaultPhase::Revert => "revert",
                };
                errors.push(format!("{phase} failed: {error}"));
            }
            Event::FaultCheck {
                fault,
                metric,
                asked,
                achieved,
                ..
            } if fault == &info.name => {
                checks.push(FaultEffect {
                    metric: metric.clone(),
                    asked: *asked,
                    achieved: *achieved,
                    probe: None,
                });
            }
            _ => {}
        }
    }
    if let (Some(effect), Some(injected)) = (&info.effect, w.injected_us) {
        let reverted = w.reverted_us.unwrap_or(u64::MAX);
        for probe in &effect.probes {
            let samples = by_probe
                .get(probe.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if let Some(achieved) = added_latency(samples, injected, reverted, first_injection) {
                checks.push(FaultEffect {
                    metric: effect.metric.clone(),
                    asked: Some(effect.asked),
                    achieved,
                    probe: Some(probe.clone()),
                });
            }
        }
    }
    let milestones = failover::milestones(rec, &info.name);
    let write_outages = failover::write_outages(&milestones, probes, by_probe);
    checks.extend(failover::first_write_checks(&milestones, &write_outages));
    FaultAnalysis {
        left_behind,
        milestones,
        write_outages,
        name: info.name.clone(),
        kind: info.kind.clone(),
        description: info.description.clone(),
        planned_at_ms: us_to_ms(info.at_us),
        planned_duration_ms: us_to_ms(info.duration_us),
        injected_at_ms: w.injected_us.map(us_to_ms),
        reverted_at_ms: w.reverted_us.map(us_to_ms),
        detect_ms: per_probe
            .iter()
            .filter_map(|p| p.detect_ms)
            .reduce(f64::min),
        recovery_ms,
        recovered,
        per_probe,
        errors,
        checks,
        detail: rec.fault_events.iter().find_map(|ev| match ev {
            Event::FaultInjected { fault, detail, .. } if fault == &info.name => detail.clone(),
            _ => None,
        }),
    }
}

/// How a capacity probe's count fell and came back around a fault whose injection
/// began at `injected_us`, in effect until `end_us`; `None` without a count before it.
pub fn capacity(samples: &[&Sample], injected_us: u64, end_us: u64) -> Option<Capacity> {
    let before = samples
        .iter()
        .rev()
        .filter(|s| s.due_us < injected_us)
        .find_map(|s| s.value)?;
    let during: Vec<(u64, f64)> = samples
        .iter()
        .filter(|s| s.due_us >= injected_us && s.due_us < end_us)
        .filter_map(|s| s.value.map(|v| (s.due_us, v)))
        .collect();
    let lowest = during.iter().map(|(_, v)| *v).fold(before, f64::min);
    let back_ms = match during.iter().position(|(_, v)| *v < before) {
        None => Some(0.0),
        Some(fell) => during[fell..]
            .iter()
            .find(|(_, v)| *v >= before)
            .map(|(t, _)| us_to_ms(t - injected_us)),
    };
    Some(Capacity {
        before,
        lowest,
        back_ms,
    })
}

#[cfg(test)]
mod tests;
