//! The steady-state window: the probes run for `steady_state.for` before the first
//! fault, and the fault controller injects nothing unless every probe held its
//! availability and p99 latency over that window. The window judges every sample due
//! before its end, including those still in flight when it ends: the judge waits for
//! them, up to their timeout (a hung target must not pass by not answering yet).

use crate::format::fmt_pct;
use crate::plan::SteadyState;
use crate::record::Sample;
use crate::spec::units::format_duration;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long past `window end + timeout` a sample may take to be recorded: the
/// recorder's own hand-off, not the target's time.
const RECORD_GRACE: Duration = Duration::from_millis(250);

/// The samples due inside the window, per probe: (ok, latency).
pub(super) struct SteadyWindow {
    spec: SteadyState,
    samples: Mutex<BTreeMap<String, Vec<(bool, u64)>>>,
    /// Per probe, how many of its samples are due inside the window.
    due: BTreeMap<String, usize>,
    /// The longest probe timeout: every sample due inside the window has its answer
    /// (or its timeout) by the window's end plus this.
    longest_timeout: Duration,
    recorded: tokio::sync::Notify,
}

/// A probe as the window sees it: name, interval, timeout.
pub(super) struct WindowProbe {
    pub name: String,
    pub interval: Duration,
    pub timeout: Duration,
}

impl SteadyWindow {
    pub fn new(spec: &SteadyState, probes: &[WindowProbe]) -> SteadyWindow {
        let samples = probes
            .iter()
            .map(|p| (p.name.clone(), Vec::new()))
            .collect();
        let due = probes
            .iter()
            .map(|p| (p.name.clone(), due_in(spec.window, p.interval)))
            .collect();
        SteadyWindow {
            spec: spec.clone(),
            samples: Mutex::new(samples),
            due,
            longest_timeout: probes.iter().map(|p| p.timeout).max().unwrap_or_default(),
            recorded: tokio::sync::Notify::new(),
        }
    }

    /// Wait, after the window's `end`, until every sample due inside it is recorded,
    /// and at most until `end` + the longest probe timeout (+ a grace for the
    /// recorder): by then each such sample has answered or timed out.
    pub async fn wait_for_in_flight(&self, end: tokio::time::Instant) {
        let deadline = end + self.longest_timeout + RECORD_GRACE;
        loop {
            let notified = self.recorded.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.all_recorded() {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    fn all_recorded(&self) -> bool {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples
            .iter()
            .all(|(p, v)| v.len() >= self.due.get(p).copied().unwrap_or(0))
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
        drop(samples);
        self.recorded.notify_waiters();
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

/// Samples due at 0, `interval`, 2·`interval`, ... before `window` ends.
fn due_in(window: Duration, interval: Duration) -> usize {
    let (w, i) = (window.as_micros(), interval.as_micros().max(1));
    w.div_ceil(i) as usize
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
        windowed(Duration::from_secs(1), availability_pct, p99_ms, 100)
    }

    fn windowed(
        window: Duration,
        availability_pct: f64,
        p99_ms: Option<u64>,
        timeout_ms: u64,
    ) -> SteadyWindow {
        let spec = SteadyState {
            window,
            availability_pct,
            latency_p99: p99_ms.map(Duration::from_millis),
        };
        let probe = WindowProbe {
            name: "api".into(),
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(timeout_ms),
        };
        SteadyWindow::new(&spec, &[probe])
    }

    #[tokio::test]
    async fn a_sample_in_flight_at_the_end_of_the_window_is_waited_for_and_judged() {
        // 100ms window, 50ms interval: samples due at 0 and 50ms. The second is still
        // in flight when the window ends and fails 60ms later (within its timeout).
        let w = std::sync::Arc::new(windowed(Duration::from_millis(100), 100.0, None, 500));
        w.record(&sample(0, true, 1));
        let end = tokio::time::Instant::now();
        let late = std::sync::Arc::clone(&w);
        let answer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            late.record(&sample(50, false, 70));
        });
        assert_eq!(w.judge(), Ok(()), "without waiting it would pass");
        w.wait_for_in_flight(end).await;
        let waited = end.elapsed();
        let err = w.judge().expect_err("the in-flight sample failed");
        assert!(err.contains("1 of 2 samples"), "{err}");
        assert!(waited >= Duration::from_millis(55), "{waited:?}");
        assert!(
            waited < Duration::from_millis(500),
            "not the whole timeout: {waited:?}"
        );
        answer.await.expect("task");
    }

    #[tokio::test]
    async fn waiting_for_a_sample_that_never_comes_ends_at_its_timeout() {
        let w = windowed(Duration::from_millis(100), 100.0, None, 50);
        w.record(&sample(0, true, 1));
        let end = tokio::time::Instant::now();
        w.wait_for_in_flight(end).await;
        let waited = end.elapsed();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
        assert!(
            waited < Duration::from_millis(50) + RECORD_GRACE * 4,
            "{waited:?}"
        );
    }

    #[test]
    fn samples_due_in_the_window_are_counted_from_zero() {
        let ms = Duration::from_millis;
        assert_eq!(due_in(ms(100), ms(50)), 2);
        assert_eq!(due_in(ms(101), ms(50)), 3);
        assert_eq!(due_in(ms(500), ms(50)), 10);
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
