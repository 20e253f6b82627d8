//! What the run looks like right now: per-probe counts for the progress line, active
//! faults, and the guardrails that can stop a run early.

use crate::plan::{Guardrail, Plan};
use crate::record::Sample;
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Live {
    start: Instant,
    probes: Mutex<Vec<ProbeLive>>,
    faults: Mutex<BTreeSet<String>>,
    guardrails: Vec<Guardrail>,
    steady: Option<super::steady::SteadyWindow>,
}

struct ProbeLive {
    name: String,
    interval_us: u64,
    total: u64,
    failed: u64,
    /// Latest successful sample's intended time.
    last_ok_us: Option<u64>,
    /// Intended time of the first failure after the latest success.
    outage_start_us: Option<u64>,
    tripped: bool,
}

impl Live {
    pub fn new(plan: &Plan, start: Instant) -> Live {
        Live {
            start,
            probes: Mutex::new(
                plan.probes
                    .iter()
                    .map(|p| ProbeLive {
                        name: p.name.clone(),
                        interval_us: p.interval.as_micros() as u64,
                        total: 0,
                        failed: 0,
                        last_ok_us: None,
                        outage_start_us: None,
                        tripped: false,
                    })
                    .collect(),
            ),
            faults: Mutex::new(BTreeSet::new()),
            guardrails: plan.guardrails.clone(),
            steady: plan.steady_state.as_ref().map(|s| {
                let names: Vec<String> = plan.probes.iter().map(|p| p.name.clone()).collect();
                super::steady::SteadyWindow::new(s, &names)
            }),
        }
    }

    /// The steady-state window, when the plan has one.
    pub fn steady_state(&self) -> Option<&super::steady::SteadyWindow> {
        self.steady.as_ref()
    }

    /// Count a sample; returns a reason when a guardrail trips.
    pub fn sample(&self, s: &Sample) -> Option<String> {
        if let Some(steady) = &self.steady {
            steady.record(s);
        }
        let mut probes = self.probes.lock().ok()?;
        let p = probes.iter_mut().find(|p| p.name == s.probe)?;
        p.total += 1;
        if s.ok {
            // Samples complete out of order; only a later success ends the current outage.
            if p.last_ok_us.is_none_or(|t| s.due_us > t) {
                p.last_ok_us = Some(s.due_us);
                if p.outage_start_us.is_some_and(|start| s.due_us > start) {
                    p.outage_start_us = None;
                }
            }
        } else {
            p.failed += 1;
            if p.last_ok_us.is_none_or(|t| s.due_us > t) {
                p.outage_start_us = Some(p.outage_start_us.map_or(s.due_us, |t| t.min(s.due_us)));
            }
        }
        if p.tripped {
            return None;
        }
        for g in &self.guardrails {
            if g.probe.as_deref().is_some_and(|name| name != p.name) {
                continue;
            }
            if let (Some(max), Some(start)) = (g.max_outage, p.outage_start_us) {
                let current = Duration::from_micros(s.due_us.saturating_sub(start) + p.interval_us);
                if !s.ok && current > max {
                    p.tripped = true;
                    return Some(format!(
                        "guardrail: probe `{}` has been failing for {} (max_outage {})",
                        p.name,
                        crate::spec::units::format_duration(current),
                        crate::spec::units::format_duration(max)
                    ));
                }
            }
            if let Some(max) = g.max_failures {
                if p.failed >= max {
                    p.tripped = true;
                    return Some(format!(
                        "guardrail: probe `{}` reached {} failed samples (max_failures {max})",
                        p.name, p.failed
                    ));
                }
            }
        }
        None
    }

    pub fn set_fault(&self, name: &str, active: bool) {
        if let Ok(mut f) = self.faults.lock() {
            if active {
                f.insert(name.to_string());
            } else {
                f.remove(name);
            }
        }
    }

    fn line(&self, total: Duration) -> String {
        let elapsed = self.start.elapsed().min(total);
        let mut out = format!(
            "[{:>6.1}s/{:.1}s]",
            elapsed.as_secs_f64(),
            total.as_secs_f64()
        );
        if let Ok(probes) = self.probes.lock() {
            for p in probes.iter() {
                let ok = if p.total == 0 {
                    100.0
                } else {
                    (p.total - p.failed) as f64 / p.total as f64 * 100.0
                };
                out.push_str(&format!(" {} {ok:.2}% ok ({} samples)", p.name, p.total));
            }
        }
        if let Ok(f) = self.faults.lock() {
            if f.is_empty() {
                out.push_str(" | no fault active");
            } else {
                out.push_str(&format!(
                    " | active: {}",
                    f.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        out
    }
}

/// Redraw the progress line on stderr four times a second.
pub async fn progress_line(live: std::sync::Arc<Live>, total: Duration) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{}", live.line(total));
        let _ = err.flush();
    }
}

pub fn clear_progress_line() {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}
