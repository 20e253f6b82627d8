//! A synthetic run shared by the report and chart tests: two probes, two faults,
//! one real outage and one probe over its latency threshold.

use super::Report;
use crate::analysis::{analyse, Analysis, AnalysisConfig};
use crate::record::{Event, FaultInfo, ProbeInfo, Recording, RunStarted, Sample};
use crate::sla::{BudgetConfig, Sla, Thresholds};
use crate::verdict::{judge, outcome};
use std::time::Duration;

const MS: u64 = 1000;

pub struct Fixture {
    pub rec: Recording,
    pub analysis: Analysis,
    pub report: Report,
}

/// `api` is down from 1000 ms to 1500 ms (during `kill-primary`, 950..2000 ms);
/// `db` never fails but answers in 300 ms during `slow-disk` (2500..3500 ms), so its
/// p99 breaks the 250 ms limit. Both probes sample every 100 ms for 4 s.
pub fn fixture() -> Fixture {
    fixture_named("api", "db")
}

pub fn fixture_named(api: &str, db: &str) -> Fixture {
    let mut rec = Recording::default();
    let probe = |name: &str| ProbeInfo {
        name: name.into(),
        kind: "http".into(),
        target: "http://x".into(),
        interval_us: 100 * MS,
        timeout_us: 500 * MS,
        insecure: false,
    };
    let faults = [("kill-primary", 950u64, 2000u64), ("slow-disk", 2500, 3500)];
    rec.push(Event::RunStarted(RunStarted {
        experiment: "failover".into(),
        run_id: "run-1".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        duration_us: 4000 * MS,
        probes: vec![probe(api), probe(db)],
        faults: faults
            .iter()
            .map(|(n, at, until)| FaultInfo {
                name: n.to_string(),
                kind: "az_loss".into(),
                description: String::new(),
                at_us: at * MS,
                duration_us: (until - at) * MS,
                effect: None,
            })
            .collect(),
        description: Some("primary dies, replica takes over".into()),
        source: Some("failover.yaml".into()),
        sla: Some(Box::new(fixture_sla())),
        steady_state_us: None,
    }));
    for seq in 0..40u64 {
        let t = seq * 100;
        let api_ok = !(1000..1500).contains(&t);
        rec.push(Event::Sample(Sample {
            probe: api.into(),
            seq,
            due_us: t * MS,
            late_us: 10,
            latency_us: if api_ok { 2 * MS } else { 500 * MS },
            ok: api_ok,
            error: (!api_ok).then(|| "connection refused".into()),
            ..Default::default()
        }));
        let slow = (2500..3500).contains(&t);
        rec.push(Event::Sample(Sample {
            probe: db.into(),
            seq,
            due_us: t * MS,
            late_us: 10,
            latency_us: if slow { 300 * MS } else { 5 * MS },
            ok: true,
            error: None,
            ..Default::default()
        }));
    }
    for (n, at, until) in faults {
        rec.push(Event::FaultInjected {
            fault: n.to_string(),
            t_us: at * MS,
            detail: None,
        });
        if n == "slow-disk" {
            rec.push(Event::FaultCheck {
                fault: n.into(),
                t_us: (at + 100) * MS,
                metric: "added_latency_ms".into(),
                asked: Some(300.0),
                achieved: 295.5,
            });
        }
        rec.push(Event::FaultReverted {
            fault: n.to_string(),
            t_us: until * MS,
        });
    }
    rec.push(Event::RunFinished { t_us: 4000 * MS });

    let sla = fixture_sla();
    let cfg = AnalysisConfig {
        recovery_successes: sla.thresholds.recovery_successes,
        error_budget: sla.budget,
    };
    let analysis = analyse(&rec, &cfg);
    let checks = judge(&analysis, &sla);
    let verdict = outcome(&analysis, &checks, false);
    let started = rec.started.clone().expect("pushed above");
    let report = Report::new(&started, analysis.clone(), checks, verdict, 1, vec![]);
    Fixture {
        rec,
        analysis,
        report,
    }
}

/// The SLA the fixture run is judged against.
pub fn fixture_sla() -> Sla {
    Sla {
        thresholds: Thresholds {
            availability_pct: Some(crate::percent::Percent::whole(80).unwrap()),
            recovery_time: Some(Duration::from_secs(2)),
            recovery_successes: 3,
            max_outage: Some(Duration::from_secs(1)),
            latency: vec![("p99".into(), Duration::from_millis(250))],
            budget_max_spent_pct: None,
            ..Thresholds::default()
        },
        budget: Some(BudgetConfig {
            objective_pct: crate::percent::Percent::parse("99.95%").unwrap(),
            period_us: 30 * 86_400 * 1_000_000,
        }),
        per_probe: Default::default(),
    }
}
