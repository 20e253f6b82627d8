use super::*;

fn run(i: usize, figures: Figures) -> RunPoint {
    RunPoint {
        run_id: format!("run-{i}"),
        started_at: format!("2026-11-{:02}T00:00:00Z", i + 1),
        dir: String::new(),
        verdict: "pass".into(),
        exit_code: 0,
        figures,
        regressions: Vec::new(),
    }
}

fn recovery(ms: f64) -> Figures {
    Figures {
        recovery_ms: Some(ms),
        recovered: true,
        interval_ms: 20.0,
        ..Figures::default()
    }
}

fn judged(figures: Vec<Figures>) -> ExperimentTrend {
    let runs = figures
        .into_iter()
        .enumerate()
        .map(|(i, f)| run(i, f))
        .collect();
    // Every run after the first is judged: the history rules are tested on their own.
    let rule = Rule {
        min_history: 1,
        ..Rule::default()
    };
    judge_history("x".into(), runs, &rule)
}

#[test]
fn median_of_odd_and_even_counts() {
    assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    assert_eq!(median(&mut []), None);
}

#[test]
fn a_run_over_the_median_of_the_previous_five_by_more_than_20pct_regresses() {
    // The first run (5000) is outside the window of the last five before the newest.
    let e = judged(
        [5000.0, 1000.0, 1100.0, 900.0, 1000.0, 1050.0, 1300.0]
            .map(recovery)
            .to_vec(),
    );
    let newest = e.runs.last().expect("runs");
    assert_eq!(newest.regressions.len(), 1, "{newest:?}");
    let r = &newest.regressions[0];
    assert_eq!(r.figure, "recovery_time");
    assert_eq!(r.baseline, 1000.0);
    assert_eq!(r.baseline_of, 5);
    assert_eq!(r.worse_by_pct, Some(30.0));
    assert!(e.newest_regressed);
    // 1200 is exactly 20% over: not more than the threshold.
    let e = judged([1000.0, 1000.0, 1200.0].map(recovery).to_vec());
    assert!(!e.newest_regressed, "{e:?}");
}

#[test]
fn a_difference_within_one_probe_interval_is_noise() {
    // 30ms over a 10ms baseline is +200%, but only 20ms: one interval of 20ms more.
    let e = judged([10.0, 10.0, 30.0].map(recovery).to_vec());
    assert!(!e.newest_regressed, "{e:?}");
    let e = judged([10.0, 10.0, 31.0].map(recovery).to_vec());
    assert!(e.newest_regressed, "{e:?}");
}

#[test]
fn availability_compares_the_unavailability() {
    let avail = |pct: f64| Figures {
        availability_pct: Some(pct),
        recovered: true,
        sample_share_pct: 0.01,
        ..Figures::default()
    };
    // 99.90% → 99.85%: unavailability 0.10 → 0.15, +50%.
    let e = judged(vec![avail(99.9), avail(99.9), avail(99.85)]);
    let r = &e.runs[2].regressions[0];
    assert_eq!(r.figure, "availability");
    assert!((r.worse_by_pct.expect("pct") - 50.0).abs() < 1e-6, "{r:?}");
    // Better availability is never a regression.
    let e = judged(vec![avail(99.9), avail(99.95)]);
    assert!(!e.newest_regressed);
}

#[test]
fn never_recovering_regresses_and_a_lost_write_from_none_is_real() {
    let not_recovered = Figures {
        recovered: false,
        interval_ms: 20.0,
        ..Figures::default()
    };
    let e = judged(vec![recovery(900.0), recovery(1000.0), not_recovered]);
    let r = &e.runs[2].regressions[0];
    assert_eq!((r.value, r.worse_by_pct), (None, None));
    let lost = |n: u64| Figures {
        lost_writes: Some(n),
        recovered: true,
        ..Figures::default()
    };
    let e = judged(vec![lost(0), lost(0), lost(1)]);
    assert_eq!(e.runs[2].regressions[0].figure, "lost_writes");
    // Only the newest run decides the exit: an old regression does not.
    let e = judged(vec![lost(0), lost(3), lost(0)]);
    assert!(!e.runs[1].regressions.is_empty());
    assert!(!e.newest_regressed);
}

#[test]
fn a_run_with_less_history_than_the_minimum_is_not_judged() {
    let runs: Vec<RunPoint> = [100.0, 100.0, 900.0, 100.0, 100.0, 100.0, 900.0]
        .map(recovery)
        .into_iter()
        .enumerate()
        .map(|(i, f)| run(i, f))
        .collect();
    let e = judge_history("x".into(), runs, &Rule::default());
    // The third run has two runs before it: not judged, however much worse it is.
    assert!(e.runs[2].regressions.is_empty(), "{e:?}");
    // The newest has five before it, median 100ms.
    assert_eq!(e.runs[6].regressions[0].baseline, 100.0);
    assert_eq!(e.runs[6].regressions[0].baseline_of, 5);
}

#[test]
fn regression_threshold_parses_with_or_without_percent() {
    assert_eq!(parse_regression("20%"), Ok(20.0));
    assert_eq!(parse_regression(" 7.5 "), Ok(7.5));
    assert!(parse_regression("-1%").is_err());
    assert!(parse_regression("NaN").is_err());
    assert!(parse_regression("fast").is_err());
}
