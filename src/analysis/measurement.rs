//! Whether the harness measured what it meant to: its own send lateness against the
//! probes' intervals and timeouts. A late harness inflates latency (measured from the
//! intended send time) and can turn its own stalls into failures.
//!
//! *Measurement degraded*: send lateness p99 exceeds 10% of the smallest probe
//! interval, or its max exceeds the smallest probe timeout.

use super::{percentiles, us_to_ms};
use crate::format::fmt_ms;
use crate::record::{ProbeInfo, Sample};
use serde::{Deserialize, Serialize};

/// Lateness p99 above this share of the smallest interval degrades the measurement.
const P99_SHARE_OF_INTERVAL: f64 = 0.10;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Send lateness (actual − intended send time) over every sample of every probe.
    pub lateness_p99_ms: Option<f64>,
    pub lateness_max_ms: Option<f64>,
    pub degraded: bool,
    /// Why the measurement is degraded, in words; absent when it is not.
    pub note: Option<String>,
}

/// Judge the harness's lateness over all samples against the probes' schedule.
pub fn measurement<'a>(
    samples: impl Iterator<Item = &'a Sample>,
    probes: &[ProbeInfo],
) -> Measurement {
    let late: Vec<u64> = samples.map(|s| s.late_us).collect();
    // Exact, not the histogram's bucket edge: it is compared with a timeout.
    let max = late.iter().copied().max().map(us_to_ms);
    // The histogram rounds up to its bucket's edge; a p99 above the max reads as a bug.
    let p99 = percentiles(late.iter().copied())
        .p99
        .zip(max)
        .map(|(p, m)| p.min(m));
    let interval = probes
        .iter()
        .map(|p| p.interval_us)
        .filter(|&i| i > 0)
        .min();
    let timeout = probes.iter().map(|p| p.timeout_us).filter(|&t| t > 0).min();
    let mut reasons = Vec::new();
    if let (Some(p99), Some(i)) = (p99, interval) {
        let limit = us_to_ms(i) * P99_SHARE_OF_INTERVAL;
        if p99 > limit {
            reasons.push(format!(
                "send lateness p99 {} is over 10% of the {} probe interval",
                fmt_ms(p99),
                fmt_ms(us_to_ms(i))
            ));
        }
    }
    if let (Some(max), Some(t)) = (max, timeout) {
        if max > us_to_ms(t) {
            reasons.push(format!(
                "send lateness max {} is over the {} probe timeout",
                fmt_ms(max),
                fmt_ms(us_to_ms(t))
            ));
        }
    }
    let degraded = !reasons.is_empty();
    Measurement {
        lateness_p99_ms: p99,
        lateness_max_ms: max,
        degraded,
        note: degraded.then(|| {
            format!(
                "the harness sent probes late ({}); latencies and outage times may include \
                 the harness's own stalls, not only the service's",
                reasons.join("; ")
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(interval_ms: u64, timeout_ms: u64) -> ProbeInfo {
        ProbeInfo {
            name: "p".into(),
            kind: "http".into(),
            target: "x".into(),
            interval_us: interval_ms * 1000,
            timeout_us: timeout_ms * 1000,
            insecure: false,
        }
    }

    /// 1000 samples, `late` µs late each, except the last `spikes` which are `spike` µs.
    fn late(late: u64, spikes: usize, spike: u64) -> Vec<Sample> {
        (0..1000)
            .map(|i| Sample {
                probe: "p".into(),
                seq: i,
                due_us: i * 1000,
                late_us: if i as usize >= 1000 - spikes {
                    spike
                } else {
                    late
                },
                latency_us: 1000,
                ok: true,
                error: None,
                write: None,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn on_schedule_is_not_degraded() {
        let m = measurement(late(100, 0, 0).iter(), &[probe(20, 500)]);
        assert!(!m.degraded);
        assert_eq!(m.note, None);
        assert_eq!(m.lateness_max_ms, Some(0.1));
    }

    #[test]
    fn p99_over_a_tenth_of_the_smallest_interval_is_degraded() {
        // 2% of samples 3 ms late: p99 3 ms > 10% of the 20 ms interval (the 1 s
        // probe's interval does not count: the smallest does).
        let probes = [probe(1000, 5000), probe(20, 500)];
        let m = measurement(late(100, 20, 3000).iter(), &probes);
        assert!(m.degraded);
        assert!(m
            .note
            .unwrap()
            .contains("over 10% of the 20.0ms probe interval"));
        // 0.5% of samples late: p99 stays low, max stays under the timeout.
        let m = measurement(late(100, 5, 3000).iter(), &probes);
        assert!(!m.degraded, "{m:?}");
    }

    #[test]
    fn one_stall_longer_than_a_timeout_is_degraded() {
        let m = measurement(late(100, 1, 600_000).iter(), &[probe(1000, 500)]);
        assert!(m.degraded);
        assert_eq!(m.lateness_max_ms, Some(600.0));
        let note = m.note.unwrap();
        assert!(note.contains("over the 500.0ms probe timeout"), "{note}");
        assert!(!note.contains("interval"), "p99 is fine: {note}");
    }

    #[test]
    fn p99_never_reads_above_the_max() {
        // The histogram's bucket edge for 600 ms is above 600 ms.
        let m = measurement(late(100, 20, 600_000).iter(), &[probe(1000, 500)]);
        assert_eq!(m.lateness_p99_ms, Some(600.0));
    }

    #[test]
    fn no_samples_is_not_degraded() {
        let m = measurement([].iter(), &[probe(20, 500)]);
        assert_eq!(m, Measurement::default());
    }
}
