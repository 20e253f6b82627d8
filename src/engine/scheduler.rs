//! Open-loop probe scheduling on a dedicated thread.
//!
//! Sample n of a probe is due at `start + n·interval` whether or not sample n-1 has
//! returned. A plain OS thread sleeping with `nanosleep` wakes within tens of
//! microseconds, where tokio's timer wheel has 1 ms granularity; so this thread keeps
//! the clock and hands each due sample to the tokio runtime, which runs it with a
//! deadline of `due + timeout`. Latency is measured from the due time, so a stalled
//! target (or scheduler) cannot hide an outage (no coordinated omission).

use crate::probe::failure::{Failure, FailureClass};
use crate::probe::Probe;
use crate::record::{Event, Sample};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

pub struct ScheduledProbe {
    pub name: Arc<str>,
    pub probe: Arc<Probe>,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Longest single sleep, so a stop request is noticed promptly.
const MAX_NAP: Duration = Duration::from_millis(20);
/// Wake this long before a due time and yield until it, instead of trusting a sleep's
/// wake-up to be exact.
const SPIN: Duration = Duration::from_micros(30);

/// Runs until every probe has scheduled its last sample due before `duration`, or
/// `stop` is set. Returns the number of samples started.
pub fn run(
    start: Instant,
    duration: Duration,
    probes: Vec<ScheduledProbe>,
    rt: tokio::runtime::Handle,
    events: UnboundedSender<Event>,
    stop: Arc<AtomicBool>,
) -> u64 {
    let mut heap: BinaryHeap<Reverse<(Duration, usize, u64)>> = (0..probes.len())
        .map(|i| Reverse((Duration::ZERO, i, 0)))
        .collect();
    let mut started = 0u64;
    // Linux adds up to 50 µs of "timer slack" to every sleep of a normal thread; this
    // thread's whole job is waking on time.
    // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
    while let Some(Reverse((offset, idx, seq))) = heap.pop() {
        if offset >= duration {
            continue;
        }
        let due = start + offset;
        loop {
            if stop.load(Ordering::Relaxed) {
                return started;
            }
            let now = Instant::now();
            if now >= due {
                break;
            }
            let left = due - now;
            if left > SPIN {
                std::thread::sleep((left - SPIN).min(MAX_NAP));
            } else {
                // The last few microseconds: a sleep could overshoot them, a yield cannot.
                std::thread::yield_now();
            }
        }
        let p = &probes[idx];
        let probe = Arc::clone(&p.probe);
        let name = Arc::clone(&p.name);
        let timeout = p.timeout;
        let tx = events.clone();
        rt.spawn(async move {
            let sample = measure(&probe, &name, seq, offset, due, timeout).await;
            // The recorder outlives every sample task; a send error means the run is being torn down.
            let _ = tx.send(Event::Sample(sample));
        });
        started += 1;
        heap.push(Reverse((offset + p.interval, idx, seq + 1)));
    }
    started
}

/// Take one sample due at `due` (`offset` after the run's start), with a deadline of
/// `due + timeout`.
async fn measure(
    probe: &Probe,
    name: &str,
    seq: u64,
    offset: Duration,
    due: Instant,
    timeout: Duration,
) -> Sample {
    let sent = Instant::now();
    let deadline = tokio::time::Instant::from_std(due + timeout);
    // Biased, deadline first: a task polled late (busy runtime) finds both the answer
    // and the deadline ready, and the deadline must win.
    let answer = tokio::select! {
        biased;
        _ = tokio::time::sleep_until(deadline) => None,
        r = probe.check(seq) => Some(r),
    };
    let value = answer.as_ref().and_then(|a| a.value);
    let output = answer.as_ref().and_then(|a| a.output.clone());
    let (ok, latency, failure) = classify(
        answer.map(|a| a.failure),
        Instant::now().saturating_duration_since(due),
        timeout,
    );
    Sample {
        probe: name.to_string(),
        seq,
        due_us: offset.as_micros() as u64,
        late_us: sent.saturating_duration_since(due).as_micros() as u64,
        latency_us: latency.as_micros() as u64,
        ok,
        class: failure.as_ref().map(|f| f.class.as_str().to_string()),
        error: failure.map(|f| f.detail),
        value,
        output: if ok { None } else { output },
        write: probe.write_outcome(seq, ok),
    }
}

/// `(ok, latency, error)` of a sample from its answer (None: the deadline fired first)
/// and the time from its due time to the answer. An answer measured after the deadline
/// is a timeout even when it came first (the clock is read after the task resumes),
/// and a timed-out sample is charged exactly its timeout.
fn classify(
    answer: Option<Option<Failure>>,
    elapsed: Duration,
    timeout: Duration,
) -> (bool, Duration, Option<Failure>) {
    let timed_out = || {
        Some(Failure::new(
            FailureClass::Timeout,
            format!(
                "timeout after {}",
                crate::spec::units::format_duration(timeout)
            ),
        ))
    };
    match answer {
        Some(None) if elapsed <= timeout => (true, elapsed, None),
        Some(None) | None => (false, timeout, timed_out()),
        Some(Some(failure)) => (false, elapsed.min(timeout), Some(failure)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(100);

    #[test]
    fn a_success_after_the_deadline_is_a_timeout_charged_its_timeout() {
        let (ok, latency, error) = classify(Some(None), Duration::from_millis(104), TIMEOUT);
        assert!(!ok);
        assert_eq!(latency, TIMEOUT);
        let error = error.expect("a timeout");
        assert_eq!(error.detail, "timeout after 100ms");
        assert_eq!(error.class, FailureClass::Timeout);
    }

    #[test]
    fn a_success_within_the_deadline_keeps_its_latency() {
        let (ok, latency, error) = classify(Some(None), Duration::from_millis(100), TIMEOUT);
        assert!(ok);
        assert_eq!(latency, TIMEOUT);
        assert_eq!(error, None);
    }

    #[test]
    fn a_failure_keeps_its_reason_and_is_capped_at_the_timeout() {
        let (ok, latency, error) = classify(
            Some(Some(Failure::new(
                FailureClass::Refused,
                "connection refused",
            ))),
            Duration::from_millis(150),
            TIMEOUT,
        );
        assert!(!ok);
        assert_eq!(latency, TIMEOUT);
        let error = error.expect("a failure");
        assert_eq!(error.detail, "connection refused");
        assert_eq!(error.class, FailureClass::Refused);
    }
}
