//! What the run looks like right now: each probe's last second for the progress line,
//! active faults, and the guardrails that can stop a run early.

use crate::format::{fmt_ms, format_duration};
use crate::plan::{Guardrail, Plan};
use crate::record::Sample;
use std::collections::{BTreeSet, VecDeque};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The progress line shows this much of the recent past (by intended send time), so it
/// says how the service is doing now; a cumulative rate hides a fresh outage behind
/// minutes of successes. Slow probes get at least [`WINDOW_SAMPLES`] intervals.
const WINDOW: Duration = Duration::from_secs(1);
const WINDOW_SAMPLES: u64 = 5;

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
    /// Samples whose intended time is inside the current window, oldest first.
    recent: VecDeque<Recent>,
    window_us: u64,
    /// K: successes in a row that end a disruption (the recovery K).
    k: u32,
    /// Intended time of the failure that began the current disruption.
    disruption_start_us: Option<u64>,
    /// Successes in a row since the latest failure of the current disruption.
    streak: u32,
}

/// What the progress line needs of one recent sample.
struct Recent {
    due_us: u64,
    ok: bool,
    late_us: u64,
}

/// One probe's current window, as the progress line states it.
#[derive(Debug, Default, PartialEq)]
struct WindowState {
    ok: u64,
    failed: u64,
    max_late_us: u64,
}

impl ProbeLive {
    fn new(name: &str, interval: Duration, k: u32) -> ProbeLive {
        let interval_us = interval.as_micros() as u64;
        let window_us = (WINDOW.as_micros() as u64).max(interval_us.saturating_mul(WINDOW_SAMPLES));
        ProbeLive {
            name: name.to_string(),
            interval_us,
            total: 0,
            failed: 0,
            last_ok_us: None,
            outage_start_us: None,
            tripped: false,
            recent: VecDeque::new(),
            window_us,
            k: k.max(1),
            disruption_start_us: None,
            streak: 0,
        }
    }

    /// A disruption runs from a failure until K successes in a row (in completion
    /// order, which is close enough for a live line; the report uses intended times).
    fn track_disruption(&mut self, s: &Sample) {
        if !s.ok {
            self.streak = 0;
            let start = self
                .disruption_start_us
                .map_or(s.due_us, |t| t.min(s.due_us));
            self.disruption_start_us = Some(start);
        } else if self.disruption_start_us.is_some() {
            self.streak += 1;
            if self.streak >= self.k {
                self.disruption_start_us = None;
                self.streak = 0;
            }
        }
    }

    /// Keep `s` while it is inside the window that ends now (samples finish out of
    /// order, so it is inserted by intended time).
    fn remember(&mut self, s: &Sample, now_us: u64) {
        let recent = Recent {
            due_us: s.due_us,
            ok: s.ok,
            late_us: s.late_us,
        };
        let at = self.recent.partition_point(|r| r.due_us <= s.due_us);
        self.recent.insert(at, recent);
        self.forget_before(now_us);
    }

    fn forget_before(&mut self, now_us: u64) {
        let start = now_us.saturating_sub(self.window_us);
        while self.recent.front().is_some_and(|r| r.due_us < start) {
            self.recent.pop_front();
        }
    }

    fn window(&mut self, now_us: u64) -> WindowState {
        self.forget_before(now_us);
        let mut w = WindowState::default();
        for r in &self.recent {
            if r.ok {
                w.ok += 1;
            } else {
                w.failed += 1;
            }
            w.max_late_us = w.max_late_us.max(r.late_us);
        }
        w
    }

    /// `checkout last 1s: 48 ok, 2 failed, max lateness 0.4ms, failing for 1.2s, disrupted for 4.0s`.
    fn describe(&mut self, now_us: u64) -> String {
        let w = self.window(now_us);
        let mut out = format!(
            "{} last {}: {} ok, {} failed, max lateness {}",
            self.name,
            format_duration(Duration::from_micros(self.window_us)),
            w.ok,
            w.failed,
            fmt_ms(w.max_late_us as f64 / 1000.0)
        );
        if let Some(start) = self.outage_start_us {
            let failing = Duration::from_micros(now_us.saturating_sub(start));
            out.push_str(&format!(
                ", failing for {}",
                fmt_ms(failing.as_secs_f64() * 1000.0)
            ));
        }
        // A flapping service: failing on and off for longer than its current outage.
        if let Some(start) = self
            .disruption_start_us
            .filter(|d| self.outage_start_us.is_none_or(|o| *d < o))
        {
            let disrupted = Duration::from_micros(now_us.saturating_sub(start));
            out.push_str(&format!(
                ", disrupted for {}",
                fmt_ms(disrupted.as_secs_f64() * 1000.0)
            ));
        }
        out
    }
}

impl Live {
    pub fn new(plan: &Plan, start: Instant) -> Live {
        Live {
            start,
            probes: Mutex::new(
                plan.probes
                    .iter()
                    .map(|p| {
                        ProbeLive::new(&p.name, p.interval, plan.thresholds.recovery_successes)
                    })
                    .collect(),
            ),
            faults: Mutex::new(BTreeSet::new()),
            guardrails: plan.guardrails.clone(),
            steady: plan.steady_state.as_ref().map(|s| {
                let probes: Vec<_> = plan
                    .probes
                    .iter()
                    .map(|p| super::steady::WindowProbe {
                        name: p.name.clone(),
                        interval: p.interval,
                        timeout: p.timeout,
                    })
                    .collect();
                super::steady::SteadyWindow::new(s, &probes)
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
        p.remember(s, self.now_us());
        p.track_disruption(s);
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
                        format_duration(current),
                        format_duration(max)
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

    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn line(&self, total: Duration) -> String {
        self.line_at(self.start.elapsed(), total)
    }

    /// The progress line as of `elapsed` into the run: each probe's current window.
    fn line_at(&self, elapsed: Duration, total: Duration) -> String {
        let elapsed = elapsed.min(total);
        let mut out = format!(
            "[{:>6.1}s/{:.1}s]",
            elapsed.as_secs_f64(),
            total.as_secs_f64()
        );
        if let Ok(mut probes) = self.probes.lock() {
            let now_us = elapsed.as_micros() as u64;
            let described: Vec<String> = probes.iter_mut().map(|p| p.describe(now_us)).collect();
            out.push(' ');
            out.push_str(&described.join("; "));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(due_ms: u64, ok: bool, late_us: u64) -> Sample {
        Sample {
            probe: "api".into(),
            seq: due_ms / 10,
            due_us: due_ms * 1000,
            late_us,
            latency_us: 2000,
            ok,
            error: (!ok).then(|| "HTTP 502".into()),
            write: None,
            ..Default::default()
        }
    }

    /// 60 s of successes, then half a second of failures: the line says what is
    /// happening now (50 failed in the last second), where a cumulative rate said 99.2%.
    #[test]
    fn the_line_states_the_current_window_not_the_whole_run() {
        let mut p = ProbeLive::new("api", Duration::from_millis(10), 3);
        for due_ms in (0..60_000).step_by(10) {
            p.remember(&sample(due_ms, true, 100), due_ms * 1000);
        }
        // A late success that arrives now but was due before the window is left out.
        p.remember(&sample(59_000, true, 4_000), 60_000_000);
        for due_ms in (60_000..60_500).step_by(10) {
            p.remember(&sample(due_ms, false, 300), due_ms * 1000);
        }
        p.outage_start_us = Some(60_000_000);
        let line = p.describe(60_500_000);
        assert_eq!(
            line,
            "api last 1s: 50 ok, 50 failed, max lateness 0.3ms, failing for 500.0ms"
        );
    }

    #[test]
    fn a_stalled_probe_shows_an_empty_window_and_slow_probes_a_longer_one() {
        let mut p = ProbeLive::new("api", Duration::from_millis(10), 3);
        p.remember(&sample(100, true, 7_500), 100_000);
        assert_eq!(
            p.describe(200_000),
            "api last 1s: 1 ok, 0 failed, max lateness 7.5ms"
        );
        assert_eq!(
            p.describe(5_000_000),
            "api last 1s: 0 ok, 0 failed, max lateness 0.0ms"
        );
        let slow = ProbeLive::new("db", Duration::from_secs(1), 3);
        assert_eq!(slow.window_us, 5_000_000);
    }

    /// Failing one sample in three: each outage is short, the disruption is not.
    #[test]
    fn a_flapping_probe_reads_as_one_growing_disruption() {
        let mut p = ProbeLive::new("api", Duration::from_millis(10), 3);
        for due_ms in (1_000..2_000).step_by(10) {
            let s = sample(due_ms, due_ms % 30 != 0, 100);
            p.remember(&s, due_ms * 1000);
            p.track_disruption(&s);
        }
        let line = p.describe(2_000_000);
        assert!(line.ends_with(", disrupted for 980.0ms"), "{line}");
        for due_ms in (2_000..2_030).step_by(10) {
            let s = sample(due_ms, true, 100);
            p.remember(&s, due_ms * 1000);
            p.track_disruption(&s);
        }
        assert!(!p.describe(2_030_000).contains("disrupted"));
    }
}
