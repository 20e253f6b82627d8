//! The write outage of a database failover, cut into phases at the milestones the
//! fault noted (any backend notes the same ones, `record::Milestone`):
//!
//! - *detection*: primary lost → promotion started (how long until someone acted);
//! - *promotion*: promotion started → a new primary answers as writable;
//! - *first write*: new primary → the first write a write probe got acknowledged
//!   through its own route (reconnecting, a proxy noticing, DNS...).
//!
//! When a write is acknowledged after the loss but before the fault noticed the new
//! primary, the promotion ends at that acknowledgement and the first-write phase is 0.
//!
//! The outage itself is what the client saw: from the last acknowledged write before
//! the loss to the first acknowledged one after it. A write counts at its
//! acknowledgement (intended send time + latency); the first one after the loss is the
//! first acknowledged write *sent* after it.

use super::{us_to_ms, FaultEffect};
use crate::record::{Event, Milestone, ProbeInfo, Recording, Sample, WriteOutcome};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MilestoneAt {
    pub milestone: Milestone,
    pub at_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteOutage {
    /// The write probe whose acknowledgements bound it; `None` without write probes.
    pub probe: Option<String>,
    pub last_acked_before_ms: Option<f64>,
    pub first_acked_after_ms: Option<f64>,
    /// First acknowledgement after the loss minus the last one before it.
    pub outage_ms: Option<f64>,
    pub phases: Vec<OutagePhase>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutagePhase {
    /// `detection`, `promotion` or `first_write`.
    pub name: String,
    pub start_ms: f64,
    pub end_ms: f64,
    pub duration_ms: f64,
}

/// The milestones `fault` noted, in time order (the first of each kind).
pub fn milestones(rec: &Recording, fault: &str) -> Vec<MilestoneAt> {
    let mut first: BTreeMap<Milestone, u64> = BTreeMap::new();
    for ev in &rec.fault_events {
        if let Event::FaultMilestone {
            fault: f,
            t_us,
            milestone,
        } = ev
        {
            if f == fault {
                first.entry(*milestone).or_insert(*t_us);
            }
        }
    }
    let mut out: Vec<MilestoneAt> = first
        .into_iter()
        .map(|(milestone, t)| MilestoneAt {
            milestone,
            at_ms: us_to_ms(t),
        })
        .collect();
    out.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    out
}

fn at(ms: &[MilestoneAt], m: Milestone) -> Option<f64> {
    ms.iter().find(|x| x.milestone == m).map(|x| x.at_ms)
}

/// When writes stopped being possible: the loss, or (a promotion drill that kills
/// nothing) the promotion's start.
fn loss_ms(ms: &[MilestoneAt]) -> Option<f64> {
    at(ms, Milestone::PrimaryLost).or_else(|| at(ms, Milestone::PromotionStarted))
}

/// One outage per write probe (one without a probe when there is none), or none
/// when the fault noted no milestones.
pub fn write_outages(
    ms: &[MilestoneAt],
    probes: &[ProbeInfo],
    by_probe: &BTreeMap<&str, Vec<&Sample>>,
) -> Vec<WriteOutage> {
    let Some(loss) = loss_ms(ms) else {
        return Vec::new();
    };
    let writers: Vec<(&str, Vec<(f64, f64)>)> = probes
        .iter()
        .filter_map(|p| {
            let samples = by_probe.get(p.name.as_str())?;
            samples.iter().any(|s| s.write.is_some()).then(|| {
                let mut acks: Vec<(f64, f64)> = samples
                    .iter()
                    .filter(|s| s.write == Some(WriteOutcome::Acked))
                    .map(|s| (us_to_ms(s.due_us), us_to_ms(s.due_us + s.latency_us)))
                    .collect();
                acks.sort_by(|a, b| a.1.total_cmp(&b.1));
                (p.name.as_str(), acks)
            })
        })
        .collect();
    if writers.is_empty() {
        return vec![outage(ms, None, None, None)];
    }
    writers
        .into_iter()
        .map(|(name, acks)| {
            let before = acks.iter().map(|a| a.1).rfind(|&t| t <= loss);
            // Sent after the loss: the old primary cannot have acknowledged it (one sent
            // before may be seen acknowledged a moment after the kill).
            let after = acks.iter().find(|a| a.0 >= loss).map(|a| a.1);
            outage(ms, Some(name), before, after)
        })
        .collect()
}

fn outage(
    ms: &[MilestoneAt],
    probe: Option<&str>,
    before: Option<f64>,
    after: Option<f64>,
) -> WriteOutage {
    let lost = at(ms, Milestone::PrimaryLost);
    let started = at(ms, Milestone::PromotionStarted);
    // After a loss, an acknowledged write proves a new primary already existed (the
    // fault only noticed it a poll later): the promotion ended by then.
    let new_primary = match (lost, at(ms, Milestone::NewPrimary), after) {
        (Some(_), Some(n), Some(a)) if a < n => Some(a),
        (_, n, _) => n,
    };
    let phases = [
        ("detection", lost, started),
        ("promotion", started, new_primary),
        ("first_write", new_primary, after),
    ]
    .into_iter()
    .filter_map(|(name, from, to)| {
        let (from, to) = (from?, to?);
        (to >= from).then(|| OutagePhase {
            name: name.into(),
            start_ms: from,
            end_ms: to,
            duration_ms: to - from,
        })
    })
    .collect();
    WriteOutage {
        probe: probe.map(str::to_string),
        last_acked_before_ms: before,
        first_acked_after_ms: after,
        outage_ms: before.zip(after).map(|(b, a)| a - b),
        phases,
    }
}

/// Achieved (nothing asked): from the loss to the first write each probe got
/// acknowledged after it.
pub fn first_write_checks(ms: &[MilestoneAt], outages: &[WriteOutage]) -> Vec<FaultEffect> {
    let Some(loss) = loss_ms(ms) else {
        return Vec::new();
    };
    outages
        .iter()
        .filter_map(|o| {
            Some(FaultEffect {
                metric: "first_acked_write_ms".into(),
                asked: None,
                achieved: o.first_acked_after_ms? - loss,
                probe: o.probe.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(seq: u64, ok: bool) -> Sample {
        Sample {
            probe: "w".into(),
            seq,
            due_us: seq * 10_000,
            latency_us: 2_000,
            ok,
            write: Some(if ok {
                WriteOutcome::Acked
            } else {
                WriteOutcome::Failed
            }),
            ..Default::default()
        }
    }

    fn info() -> ProbeInfo {
        ProbeInfo {
            name: "w".into(),
            kind: "postgres".into(),
            target: "db".into(),
            interval_us: 10_000,
            timeout_us: 500_000,
            insecure: false,
        }
    }

    fn noted(rec: &mut Recording, m: Milestone, t_ms: u64) {
        rec.push(Event::FaultMilestone {
            fault: "kill".into(),
            t_us: t_ms * 1000,
            milestone: m,
        });
    }

    #[test]
    fn phases_are_cut_at_the_milestones_and_end_at_the_first_acked_write() {
        // Writes every 10ms acked 2ms later; 105ms..195ms fail.
        let samples: Vec<Sample> = (0..30).map(|i| write(i, !(11..20).contains(&i))).collect();
        let mut rec = Recording::default();
        noted(&mut rec, Milestone::PrimaryLost, 105);
        noted(&mut rec, Milestone::PromotionStarted, 130);
        noted(&mut rec, Milestone::NewPrimary, 170);
        noted(&mut rec, Milestone::NewPrimary, 900);
        let ms = milestones(&rec, "kill");
        assert_eq!(ms.len(), 3, "the first of each kind: {ms:?}");
        let refs: Vec<&Sample> = samples.iter().collect();
        let by_probe = BTreeMap::from([("w", refs)]);
        let o = write_outages(&ms, &[info()], &by_probe);
        assert_eq!(o.len(), 1);
        let o = &o[0];
        assert_eq!(o.last_acked_before_ms, Some(102.0));
        assert_eq!(o.first_acked_after_ms, Some(202.0));
        assert_eq!(o.outage_ms, Some(100.0));
        let phases: Vec<(&str, f64)> = o
            .phases
            .iter()
            .map(|p| (p.name.as_str(), p.duration_ms))
            .collect();
        assert_eq!(
            phases,
            vec![
                ("detection", 25.0),
                ("promotion", 40.0),
                ("first_write", 32.0)
            ]
        );
        let checks = first_write_checks(&ms, std::slice::from_ref(o));
        assert_eq!(checks[0].achieved, 97.0);
        assert_eq!(checks[0].asked, None);
    }

    #[test]
    fn a_write_acked_before_the_new_primary_was_noticed_ends_the_promotion() {
        let samples: Vec<Sample> = (0..30).map(|i| write(i, !(11..15).contains(&i))).collect();
        let mut rec = Recording::default();
        noted(&mut rec, Milestone::PrimaryLost, 105);
        noted(&mut rec, Milestone::PromotionStarted, 110);
        noted(&mut rec, Milestone::NewPrimary, 160);
        let refs: Vec<&Sample> = samples.iter().collect();
        let by_probe = BTreeMap::from([("w", refs)]);
        let o = &write_outages(&milestones(&rec, "kill"), &[info()], &by_probe)[0];
        let promotion = &o.phases[1];
        assert_eq!(
            (promotion.name.as_str(), promotion.end_ms),
            ("promotion", 152.0)
        );
        assert_eq!(o.phases[2].duration_ms, 0.0);
    }

    #[test]
    fn no_milestones_no_outage_and_no_write_probe_keeps_the_fault_phases() {
        assert!(write_outages(&[], &[info()], &BTreeMap::new()).is_empty());
        let ms = vec![
            MilestoneAt {
                milestone: Milestone::PromotionStarted,
                at_ms: 10.0,
            },
            MilestoneAt {
                milestone: Milestone::NewPrimary,
                at_ms: 25.0,
            },
        ];
        let o = write_outages(&ms, &[], &BTreeMap::new());
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].probe, None);
        assert_eq!(o[0].phases.len(), 1);
        assert_eq!(o[0].phases[0].duration_ms, 15.0);
    }
}
