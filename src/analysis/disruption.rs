//! *Disruptions*: a failure and everything up to the K consecutive successes that end
//! it. Outages separated by fewer than K successes belong to one disruption, so a
//! flapping service reads as one long disruption, not hundreds of short outages.

use super::us_to_ms;
use crate::record::Sample;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disruption {
    /// Intended send time of the first failed sample.
    pub start_ms: f64,
    /// Intended send time of the first of the K successes that ended it, or the end
    /// of the measured span when the run ended first.
    pub end_ms: f64,
    pub duration_ms: f64,
    /// Failed samples inside it.
    pub failed: u64,
    /// All samples inside it (failed and successful).
    pub total: u64,
}

/// The disruption being built while walking the samples.
struct Open {
    start_us: u64,
    failed: u64,
    total: u64,
    /// Successes since the last failure, and the intended time of the first of them.
    streak: u64,
    streak_start_us: u64,
}

/// Disruptions of one probe's samples, sorted by intended time; `k` successes in a
/// row end one (at least 1).
pub fn disruptions(samples: &[&Sample], end_us: u64, k: u32) -> Vec<Disruption> {
    let k = u64::from(k.max(1));
    let mut out = Vec::new();
    let mut open: Option<Open> = None;
    for s in samples {
        match (&mut open, s.ok) {
            (None, true) => {}
            (None, false) => {
                open = Some(Open {
                    start_us: s.due_us,
                    failed: 1,
                    total: 1,
                    streak: 0,
                    streak_start_us: 0,
                })
            }
            (Some(d), false) => {
                // Successes short of K are part of the disruption.
                d.total += d.streak + 1;
                d.failed += 1;
                d.streak = 0;
            }
            (Some(d), true) => {
                if d.streak == 0 {
                    d.streak_start_us = s.due_us;
                }
                d.streak += 1;
                if d.streak >= k {
                    out.push(close(d, d.streak_start_us));
                    open = None;
                }
            }
        }
    }
    if let Some(mut d) = open {
        d.total += d.streak;
        out.push(close(&d, end_us.max(d.start_us)));
    }
    out
}

fn close(d: &Open, end_us: u64) -> Disruption {
    Disruption {
        start_ms: us_to_ms(d.start_us),
        end_ms: us_to_ms(end_us),
        duration_ms: us_to_ms(end_us.saturating_sub(d.start_us)),
        failed: d.failed,
        total: d.total,
    }
}
