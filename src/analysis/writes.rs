//! The write ledger of a write probe, held against what the data store holds after the
//! run (DESIGN.md): an acknowledged write that is absent is **lost**; an unknown write
//! that is present is **recovered**; a failed or unknown write that is absent was **not
//! written**; a present id that was never acknowledged nor sent without an answer is a
//! **phantom** (the store invented or resurrected it: a correctness bug).
//!
//! RPO is the time from the acknowledgement of the oldest lost write to the injection
//! of the fault that lost it (the first fault injected after that acknowledgement).

use crate::record::{Event, Recording, Sample, WriteOutcome, WritesVerified};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Writes {
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    pub lost: u64,
    pub recovered: u64,
    pub not_written: u64,
    pub phantom: u64,
    /// Lost ids as inclusive ranges `[first_id, last_id]`.
    pub lost_ranges: Vec<[i64; 2]>,
    /// 0 when nothing is lost; absent when the ledger could not be read back.
    pub rpo_ms: Option<f64>,
    /// Why the ledger could not be read back (then nothing is classified as lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_error: Option<String>,
}

/// The ledger analysis of `probe`, or `None` when it is not a write probe.
pub fn analyse(rec: &Recording, probe: &str, samples: &[&Sample]) -> Option<Writes> {
    let written: Vec<(&Sample, WriteOutcome)> = samples
        .iter()
        .filter_map(|s| s.write.map(|w| (*s, w)))
        .collect();
    let verified = rec.writes_verified.iter().rfind(|v| v.probe == probe);
    if written.is_empty() && verified.is_none() {
        return None;
    }
    let count = |o: WriteOutcome| written.iter().filter(|(_, w)| *w == o).count() as u64;
    let mut out = Writes {
        acked: count(WriteOutcome::Acked),
        failed: count(WriteOutcome::Failed),
        unknown: count(WriteOutcome::Unknown),
        lost: 0,
        recovered: 0,
        not_written: 0,
        phantom: 0,
        lost_ranges: Vec::new(),
        rpo_ms: None,
        verify_error: None,
    };
    match verified {
        Some(v) if v.error.is_none() => classify(&mut out, &written, v, rec),
        Some(v) => out.verify_error = v.error.clone(),
        None => out.verify_error = Some("the run ended before the ledger was read back".into()),
    }
    Some(out)
}

fn classify(
    out: &mut Writes,
    written: &[(&Sample, WriteOutcome)],
    v: &WritesVerified,
    rec: &Recording,
) {
    let present = |seq: u64| {
        v.present
            .binary_search_by(|r| {
                if r[1] < seq {
                    std::cmp::Ordering::Less
                } else if r[0] > seq {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    };
    let mut lost: Vec<&Sample> = Vec::new();
    let mut claimed = 0u64;
    for (s, w) in written {
        match (w, present(s.seq)) {
            (WriteOutcome::Acked, true) => claimed += 1,
            (WriteOutcome::Acked, false) => lost.push(s),
            (WriteOutcome::Unknown, true) => {
                out.recovered += 1;
                claimed += 1;
            }
            (WriteOutcome::Failed | WriteOutcome::Unknown, false) => out.not_written += 1,
            (WriteOutcome::Failed, true) => {}
        }
    }
    let present_total: u64 = v.present.iter().map(|r| r[1] - r[0] + 1).sum();
    out.phantom = present_total - claimed.min(present_total);
    lost.sort_by_key(|s| s.seq);
    out.lost = lost.len() as u64;
    out.lost_ranges = crate::record::seq_ranges(lost.iter().map(|s| s.seq))
        .into_iter()
        .map(|[a, b]| [v.base_id + a as i64, v.base_id + b as i64])
        .collect();
    out.rpo_ms = Some(rpo_ms(&lost, rec));
}

/// From the acknowledgement of the oldest lost write to the injection of the first
/// fault that started after it (when no fault did, to the newest lost acknowledgement).
fn rpo_ms(lost: &[&Sample], rec: &Recording) -> f64 {
    let acked_at = |s: &Sample| s.due_us + s.latency_us;
    let Some(oldest) = lost.iter().map(|s| acked_at(s)).min() else {
        return 0.0;
    };
    let injection = rec
        .fault_events
        .iter()
        .filter_map(|e| match e {
            Event::FaultInjecting { t_us, .. } => Some(*t_us),
            _ => None,
        })
        .filter(|&t| t >= oldest)
        .min();
    let newest = lost.iter().map(|s| acked_at(s)).max().unwrap_or(oldest);
    super::us_to_ms(injection.unwrap_or(newest) - oldest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64, ok: bool, write: WriteOutcome) -> Sample {
        Sample {
            probe: "w".into(),
            seq,
            due_us: seq * 10_000,
            late_us: 0,
            latency_us: 1_000,
            ok,
            error: None,
            write: Some(write),
            ..Default::default()
        }
    }

    #[test]
    fn lost_recovered_not_written_phantom_and_rpo() {
        use WriteOutcome::*;
        let outcomes = [
            Acked, Acked, Acked, Acked, Unknown, Unknown, Failed, Failed, Acked,
        ];
        let samples: Vec<Sample> = outcomes
            .iter()
            .enumerate()
            .map(|(i, w)| sample(i as u64, *w == Acked, *w))
            .collect();
        let mut rec = Recording::default();
        // Fault injected at 45ms: seqs 2 and 3 (acked at 21ms and 31ms) are lost.
        rec.push(Event::FaultInjecting {
            fault: "kill".into(),
            t_us: 45_000,
        });
        rec.push(Event::WritesVerified(WritesVerified {
            probe: "w".into(),
            t_us: 0,
            base_id: 100,
            // 0, 1 acked; 4 unknown present; 7 failed but present (phantom); 8 acked;
            // 20 never issued (phantom).
            present: vec![[0, 1], [4, 4], [7, 8], [20, 20]],
            error: None,
        }));
        let refs: Vec<&Sample> = samples.iter().collect();
        let w = analyse(&rec, "w", &refs).expect("a write probe");
        assert_eq!((w.acked, w.failed, w.unknown), (5, 2, 2));
        assert_eq!(w.lost, 2);
        assert_eq!(w.lost_ranges, vec![[102, 103]]);
        assert_eq!(w.recovered, 1);
        assert_eq!(w.not_written, 2);
        assert_eq!(w.phantom, 2);
        // Oldest lost ack at 21ms, lost by the fault at 45ms.
        assert_eq!(w.rpo_ms, Some(24.0));
    }

    #[test]
    fn a_ledger_never_read_back_classifies_nothing_as_lost() {
        let s = sample(0, true, WriteOutcome::Acked);
        let w = analyse(&Recording::default(), "w", &[&s]).expect("a write probe");
        assert_eq!(w.lost, 0);
        assert_eq!(w.rpo_ms, None);
        assert!(w.verify_error.is_some());
    }

    #[test]
    fn a_probe_without_writes_has_no_ledger() {
        let mut s = sample(0, true, WriteOutcome::Acked);
        s.write = None;
        assert_eq!(analyse(&Recording::default(), "w", &[&s]), None);
    }
}
