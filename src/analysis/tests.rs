use super::*;
use crate::record::{FaultInfo, ProbeInfo, RunStarted};

const MS: u64 = 1000;

/// A recording of one probe at `interval_ms`, with `ok(t_ms)` deciding each sample,
/// and faults given as (name, inject_ms, revert_ms).
fn synthetic(
    duration_ms: u64,
    interval_ms: u64,
    ok: impl Fn(u64) -> bool,
    faults: &[(&str, u64, u64)],
) -> Recording {
    let mut rec = Recording::default();
    rec.push(Event::RunStarted(RunStarted {
        experiment: "t".into(),
        run_id: "r".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        duration_us: duration_ms * MS,
        probes: vec![ProbeInfo {
            name: "p".into(),
            kind: "http".into(),
            target: "http://x".into(),
            interval_us: interval_ms * MS,
            timeout_us: 500 * MS,
            insecure: false,
        }],
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
        description: None,
        source: None,
        sla: None,
        steady_state_us: None,
    }));
    for seq in 0..duration_ms / interval_ms {
        let t = seq * interval_ms;
        let good = ok(t);
        rec.push(Event::Sample(Sample {
            probe: "p".into(),
            seq,
            due_us: t * MS,
            late_us: 10,
            latency_us: if good { 2 * MS } else { 500 * MS },
            ok: good,
            error: (!good).then(|| "connection refused".into()),
            ..Default::default()
        }));
    }
    for (n, at, until) in faults {
        rec.push(Event::FaultInjected {
            fault: n.to_string(),
            t_us: at * MS,
            detail: None,
        });
        rec.push(Event::FaultReverted {
            fault: n.to_string(),
            t_us: until * MS,
        });
    }
    rec.push(Event::RunFinished {
        t_us: duration_ms * MS,
    });
    rec
}

#[test]
fn one_outage_has_exact_bounds_and_downtime() {
    // Down from 1000 ms (inclusive) to 1500 ms (exclusive), 100 ms interval.
    let rec = synthetic(
        3000,
        100,
        |t| !(1000..1500).contains(&t),
        &[("f", 950, 2000)],
    );
    let a = analyse(&rec, &AnalysisConfig::default());
    let p = &a.probes[0];
    assert_eq!(p.total, 30);
    assert_eq!(p.failed, 5);
    assert_eq!(p.outages.len(), 1);
    assert_eq!(p.outages[0].start_ms, 1000.0);
    assert_eq!(p.outages[0].end_ms, 1500.0);
    assert_eq!(p.downtime_ms, 500.0);
    assert!((p.availability_pct - 25.0 / 30.0 * 100.0).abs() < 1e-9);
    let f = &a.faults[0];
    assert_eq!(f.detect_ms, Some(50.0));
    assert_eq!(f.recovery_ms, Some(550.0));
    assert!(f.recovered);
}

#[test]
fn flapping_recovery_counts_from_after_the_last_failure() {
    // Fails at 1000, 1200, 1400 (successes between) then steady.
    let bad = [1000, 1200, 1400];
    let rec = synthetic(3000, 100, |t| !bad.contains(&t), &[("f", 1000, 2000)]);
    let a = analyse(&rec, &AnalysisConfig::default());
    assert_eq!(a.probes[0].outages.len(), 3);
    assert_eq!(a.probes[0].downtime_ms, 300.0);
    assert_eq!(a.faults[0].detect_ms, Some(0.0));
    assert_eq!(a.faults[0].recovery_ms, Some(500.0));
}

#[test]
fn recovery_needs_k_successes_before_the_window_ends() {
    // Failing until 2800; only 2 successes (2800, 2900) before the end: with K=3 not recovered.
    let rec = synthetic(
        3000,
        100,
        |t| !(1000..2800).contains(&t),
        &[("f", 1000, 2000)],
    );
    let a = analyse(&rec, &AnalysisConfig::default());
    assert!(!a.faults[0].recovered);
    assert_eq!(a.faults[0].recovery_ms, None);
    let k2 = AnalysisConfig {
        recovery_successes: 2,
        error_budget: None,
    };
    let a2 = analyse(&rec, &k2);
    assert_eq!(a2.faults[0].recovery_ms, Some(1800.0));
}

#[test]
fn no_failures_means_zero_recovery_and_no_detection() {
    let rec = synthetic(2000, 100, |_| true, &[("f", 500, 1500)]);
    let a = analyse(&rec, &AnalysisConfig::default());
    assert_eq!(a.faults[0].recovery_ms, Some(0.0));
    assert_eq!(a.faults[0].detect_ms, None);
    assert_eq!(a.probes[0].availability_pct, 100.0);
    assert!(a.probes[0].outages.is_empty());
}

#[test]
fn outage_still_open_at_the_end_runs_to_the_end() {
    let rec = synthetic(2000, 100, |t| t < 1500, &[]);
    let a = analyse(&rec, &AnalysisConfig::default());
    let o = &a.probes[0].outages;
    assert_eq!(o.len(), 1);
    assert_eq!((o[0].start_ms, o[0].end_ms), (1500.0, 2000.0));
    assert_eq!(o[0].failed_samples, 5);
}

#[test]
fn phases_split_before_during_after() {
    let rec = synthetic(
        3000,
        100,
        |t| !(1000..1500).contains(&t),
        &[("lose-a", 1000, 2000)],
    );
    let a = analyse(&rec, &AnalysisConfig::default());
    let names: Vec<&str> = a.probes[0].phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["before", "during lose-a", "after"]);
    let during = &a.probes[0].phases[1];
    assert_eq!((during.total, during.failed), (10, 5));
    assert_eq!(a.probes[0].phases[0].failed, 0);
    assert_eq!(a.probes[0].phases[2].total, 10);
}

#[test]
fn latency_percentiles_ignore_failures() {
    let rec = synthetic(1000, 10, |t| t % 100 != 0, &[]);
    let a = analyse(&rec, &AnalysisConfig::default());
    let l = &a.probes[0].latency_ms;
    assert_eq!(l.count, 90);
    assert!((l.p99.unwrap() - 2.0).abs() < 0.01, "{l:?}");
    assert!((l.max.unwrap() - 2.0).abs() < 0.01);
}

#[test]
fn error_budget_share_of_period() {
    // 500 ms down against 99.95% over 30 days (allowed 1,296,000 ms).
    let rec = synthetic(3000, 100, |t| !(1000..1500).contains(&t), &[]);
    let cfg = AnalysisConfig {
        recovery_successes: 3,
        error_budget: Some(BudgetConfig {
            objective_pct: crate::percent::Percent::parse("99.95%").unwrap(),
            period_us: 30 * 86_400 * 1_000_000,
        }),
    };
    let b = analyse(&rec, &cfg).error_budget.unwrap();
    // Exactly: f64 arithmetic on 0.9995 gave 1295999.9999998573 (issue 8 item 4).
    assert_eq!(b.allowed_ms, 1_296_000.0);
    assert_eq!(b.spent_ms, 500.0);
    assert!((b.spent_pct - 500.0 / 1_296_000.0 * 100.0).abs() < 1e-9);
}

#[test]
fn later_fault_cuts_the_earlier_effect_window() {
    // f1 1000..1500, f2 2000..2500; failures 2000..2300 belong to f2 only.
    let rec = synthetic(
        4000,
        100,
        |t| !(2000..2300).contains(&t),
        &[("f1", 1000, 1500), ("f2", 2000, 2500)],
    );
    let a = analyse(&rec, &AnalysisConfig::default());
    assert_eq!(a.faults[0].recovery_ms, Some(0.0));
    assert_eq!(a.faults[1].recovery_ms, Some(300.0));
    assert_eq!(a.faults[1].detect_ms, Some(0.0));
}

#[test]
fn aborted_run_measures_until_the_last_sample() {
    let mut rec = synthetic(1000, 100, |_| true, &[]);
    rec.finished_us = None;
    rec.aborted = Some((1000 * MS, "Ctrl-C".into()));
    rec.started.as_mut().unwrap().duration_us = 10_000 * MS;
    let a = analyse(&rec, &AnalysisConfig::default());
    assert_eq!(a.measured_ms, 1000.0);
    assert_eq!(a.aborted.unwrap().reason, "Ctrl-C");
}

#[test]
fn added_latency_is_median_during_minus_median_before() {
    // 2 ms before the fault, 52 ms during it (1000..2000), 2 ms after.
    let mut rec = synthetic(3000, 10, |_| true, &[("slow", 1000, 2000)]);
    for s in &mut rec.samples {
        if (1000 * MS..2000 * MS).contains(&s.due_us) {
            s.latency_us = 52 * MS;
        }
    }
    rec.started.as_mut().unwrap().faults[0].effect = Some(crate::record::Effect {
        metric: "added_latency_ms".into(),
        asked: 50.0,
        probes: vec!["p".into()],
    });
    let a = analyse(&rec, &AnalysisConfig::default());
    let c = &a.faults[0].checks;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].asked, Some(50.0));
    assert!((c[0].achieved - 50.0).abs() < 0.1, "{c:?}");
    assert_eq!(c[0].probe.as_deref(), Some("p"));
}

/// Ready counts every 100 ms: 6 before the fault at 1s, down to 3, back to 6 at 2.5s.
fn ready_counts(counts: &[(u64, f64)]) -> Vec<Sample> {
    counts
        .iter()
        .map(|(t_ms, v)| Sample {
            probe: "cap".into(),
            due_us: t_ms * MS,
            ok: *v >= 6.0,
            value: Some(*v),
            ..Sample::default()
        })
        .collect()
}

#[test]
fn capacity_is_measured_from_the_injection_until_the_count_is_back() {
    let samples = ready_counts(&[
        (800, 6.0),
        (900, 6.0),
        (1000, 6.0),
        (1100, 4.0),
        (1500, 3.0),
        (2000, 5.0),
        (2500, 6.0),
        (2600, 6.0),
    ]);
    let refs: Vec<&Sample> = samples.iter().collect();
    let c = capacity(&refs, 1000 * MS, 4000 * MS).expect("a count before the fault");
    assert_eq!((c.before, c.lowest), (6.0, 3.0));
    assert_eq!(c.back_ms, Some(1500.0));

    // Never back within the fault's effect.
    let c = capacity(&refs[..6], 1000 * MS, 4000 * MS).unwrap();
    assert_eq!(c.back_ms, None);
    // Never fell: back at once.
    let c = capacity(&refs[..3], 950 * MS, 4000 * MS).unwrap();
    assert_eq!((c.lowest, c.back_ms), (6.0, Some(0.0)));
    // No count before the fault: nothing to compare with.
    assert!(capacity(&refs[3..], 1000 * MS, 4000 * MS).is_none());
}
