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
    let late = percentiles(samples.map(|s| s.late_us));
    let (p99, max) = (late.p99, late.max);
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
