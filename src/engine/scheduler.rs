//! Open-loop probe scheduling on a dedicated thread.
//!
//! Sample n of a probe is due at `start + n·interval` whether or not sample n-1 has
//! returned. A plain OS thread sleeping with `nanosleep` wakes within tens of
//! microseconds, where tokio's timer wheel has 1 ms granularity; so this thread keeps
//! the clock and hands each due sample to the tokio runtime, which runs it with a
//! deadline of `due + timeout`. Latency is measured from the due time, so a stalled
//! target (or scheduler) cannot hide an outage (no coordinated omission).

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
            let sent = Instant::now();
            let deadline = tokio::time::Instant::from_std(due + timeout);
            let result = match tokio::time::timeout_at(deadline, probe.check(seq)).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "timeout after {}",
                    crate::spec::units::format_duration(timeout)
                )),
            };
            let done = Instant::now();
            let ok = result.is_ok();
            let sample = Sample {
                probe: name.to_string(),
                seq,
                due_us: offset.as_micros() as u64,
                late_us: sent.saturating_duration_since(due).as_micros() as u64,
                // A timed-out sample is charged exactly its deadline.
                latency_us: done
                    .saturating_duration_since(due)
                    .min(if ok { Duration::MAX } else { timeout })
                    .as_micros() as u64,
                ok,
                error: result.err(),
            };
            // The recorder outlives every sample task; a send error means the run is being torn down.
            let _ = tx.send(Event::Sample(sample));
        });
        started += 1;
        heap.push(Reverse((offset + p.interval, idx, seq + 1)));
    }
    started
}
