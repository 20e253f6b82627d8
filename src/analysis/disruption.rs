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

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples every 10 ms from a pattern: `x` failed, `.` ok.
    fn samples(pattern: &str) -> Vec<Sample> {
        pattern
            .chars()
            .enumerate()
            .map(|(i, c)| Sample {
                probe: "p".into(),
                seq: i as u64,
                due_us: i as u64 * 10_000,
                late_us: 0,
                latency_us: 1_000,
                ok: c == '.',
                error: None,
                write: None,
                ..Default::default()
            })
            .collect()
    }

    fn of(pattern: &str, k: u32) -> Vec<Disruption> {
        let owned = samples(pattern);
        let refs: Vec<&Sample> = owned.iter().collect();
        disruptions(&refs, pattern.len() as u64 * 10_000, k)
    }

    #[test]
    fn outages_closer_than_k_successes_are_one_disruption() {
        let d = of("..x.x..xx...x...", 3);
        assert_eq!(d.len(), 2, "{d:?}");
        // 20 ms (first failure) to 90 ms (first of the three successes that end it).
        assert_eq!(
            (d[0].start_ms, d[0].end_ms, d[0].duration_ms),
            (20.0, 90.0, 70.0)
        );
        assert_eq!((d[0].failed, d[0].total), (4, 7));
        assert_eq!(
            (d[1].start_ms, d[1].end_ms, d[1].failed, d[1].total),
            (120.0, 130.0, 1, 1)
        );
    }

    #[test]
    fn k_of_one_gives_back_the_outages() {
        let d = of("..x.xx..x", 1);
        let spans: Vec<(f64, f64)> = d.iter().map(|d| (d.start_ms, d.end_ms)).collect();
        assert_eq!(spans, [(20.0, 30.0), (40.0, 60.0), (80.0, 90.0)]);
    }

    #[test]
    fn an_unfinished_disruption_runs_to_the_end_of_the_span() {
        let d = of("...x.x..", 3);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].start_ms, d[0].end_ms), (30.0, 80.0));
        assert_eq!((d[0].failed, d[0].total), (2, 5));
    }

    #[test]
    fn no_failure_no_disruption() {
        assert!(of("......", 3).is_empty());
        assert!(of("", 3).is_empty());
    }
}
