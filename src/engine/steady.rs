//! The steady-state window: the probes run for `steady_state.for` before the first
//! fault, and the fault controller injects nothing unless every probe held its
//! availability and p99 latency over that window.

use crate::format::fmt_pct;
use crate::plan::SteadyState;
use crate::record::Sample;
use crate::spec::units::format_duration;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// The samples due inside the window, per probe: (ok, latency).
pub(super) struct SteadyWindow {
    spec: SteadyState,
    samples: Mutex<BTreeMap<String, Vec<(bool, u64)>>>,
}

impl SteadyWindow {
    pub fn new(spec: &SteadyState, probes: &[String]) -> SteadyWindow {
        let samples = probes.iter().map(|p| (p.clone(), Vec::new())).collect();
        SteadyWindow {
            spec: spec.clone(),
            samples: Mutex::new(samples),
        }
    }

    pub fn window(&self) -> Duration {
        self.spec.window
    }

    pub fn record(&self, s: &Sample) {
        if s.due_us >= self.spec.window.as_micros() as u64 {
            return;
        }
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = samples.get_mut(&s.probe) {
            v.push((s.ok, s.latency_us));
        }
    }

    /// Whether every probe held over the window; `Err` says which did not and why.
    pub fn judge(&self) -> Result<(), String> {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let problems: Vec<String> = samples
            .iter()
            .filter_map(|(probe, v)| judge_probe(&self.spec, probe, v))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("steady state not met: {}", problems.join("; ")))
        }
    }
}

fn judge_probe(spec: &SteadyState, probe: &str, samples: &[(bool, u64)]) -> Option<String> {
    if samples.is_empty() {
        return Some(format!(
            "probe `{probe}` took no sample in {}",
            format_duration(spec.window)
        ));
    }
    let ok = samples.iter().filter(|(ok, _)| *ok).count();
    let availability = ok as f64 * 100.0 / samples.len() as f64;
    if availability < spec.availability_pct {
        return Some(format!(
            "probe `{probe}` availability {} < {} ({ok} of {} samples succeeded)",
            fmt_pct(availability),
            fmt_pct(spec.availability_pct),
            samples.len()
        ));
    }
    let limit = spec.latency_p99?;
    let p99 = p99_us(samples)?;
    (Duration::from_micros(p99) > limit).then(|| {
        format!(
            "probe `{probe}` latency p99 {} > {}",
            format_duration(Duration::from_micros(p99)),
            format_duration(limit)
        )
    })
}

/// Nearest-rank p99 of the successful samples' latencies.
fn p99_us(samples: &[(bool, u64)]) -> Option<u64> {
    let mut ok: Vec<u64> = samples
        .iter()
        .filter(|(o, _)| *o)
        .map(|(_, l)| *l)
        .collect();
    ok.sort_unstable();
    let rank = (ok.len() as f64 * 0.99).ceil() as usize;
    ok.get(rank.checked_sub(1)?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(availability_pct: f64, p99_ms: Option<u64>) -> SteadyWindow {
        let spec = SteadyState {
            window: Duration::from_secs(1),
            availability_pct,
            latency_p99: p99_ms.map(Duration::from_millis),
        };
        SteadyWindow::new(&spec, &["api".to_string()])
    }

    fn sample(due_ms: u64, ok: bool, latency_ms: u64) -> Sample {
        Sample {
            probe: "api".into(),
            due_us: due_ms * 1000,
            latency_us: latency_ms * 1000,
            ok,
            ..Default::default()
        }
    }

    #[test]
    fn availability_and_p99_are_judged_over_the_window_only() {
        let w = window(90.0, Some(50));
        for i in 0..10 {
            w.record(&sample(i * 100, i != 3, 10));
        }
        // Due after the window: ignored.
        w.record(&sample(1500, false, 10));
        assert_eq!(w.judge(), Ok(()));
        w.record(&sample(950, false, 10));
        let err = w.judge().expect_err("9 of 11");
        assert!(
            err.starts_with("steady state not met: probe `api` availability"),
            "{err}"
        );

        let slow = window(0.0, Some(50));
        slow.record(&sample(0, true, 80));
        let err = slow.judge().expect_err("too slow");
        assert!(err.contains("latency p99 80ms > 50ms"), "{err}");

        let empty = window(100.0, None);
        assert!(empty
            .judge()
            .expect_err("nothing")
            .contains("took no sample"));
    }
}
