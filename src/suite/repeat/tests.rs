use super::*;

fn check(value: Option<f64>, limit: f64, higher_better: bool) -> Check {
    let pass = value.is_some_and(|v| {
        if higher_better {
            v >= limit
        } else {
            v <= limit
        }
    });
    Check {
        name: if higher_better {
            "availability"
        } else {
            "recovery_time"
        }
        .into(),
        probe: None,
        fault: None,
        threshold: format!("{} {limit}", if higher_better { ">=" } else { "<=" }),
        measured: format!("{value:?}"),
        limit,
        value,
        unit: if higher_better { "percent" } else { "ms" }.into(),
        pass,
    }
}

fn judged(values: &[Option<f64>], limit: f64, higher_better: bool, judge: Judge) -> JudgedCheck {
    let checks: Vec<Check> = values
        .iter()
        .map(|v| check(*v, limit, higher_better))
        .collect();
    let runs = checks.iter().enumerate().map(|(i, c)| (i + 1, c)).collect();
    judge_one(runs, judge).unwrap()
}

#[test]
fn worst_judges_the_slowest_recovery_and_median_and_p90_the_nearest_rank() {
    // Recovery times of ten runs, limit 500 ms: one outlier at 900 ms.
    let v: Vec<Option<f64>> = [
        100.0, 120.0, 900.0, 110.0, 130.0, 105.0, 115.0, 125.0, 140.0, 135.0,
    ]
    .into_iter()
    .map(Some)
    .collect();
    let worst = judged(&v, 500.0, false, Judge::Worst);
    assert_eq!(
        (worst.judged_run, worst.value, worst.pass),
        (3, Some(900.0), false)
    );
    assert_eq!(worst.passed_runs, 9);
    // Sorted: 100 105 110 115 120 125 130 135 140 900; median rank 5, p90 rank 9.
    let median = judged(&v, 500.0, false, Judge::Median);
    assert_eq!((median.value, median.pass), (Some(120.0), true));
    let p90 = judged(&v, 500.0, false, Judge::P90);
    assert_eq!((p90.value, p90.pass), (Some(140.0), true));
}

#[test]
fn for_availability_the_worst_run_is_the_lowest_and_a_missing_figure_is_worst_of_all() {
    let v = [Some(99.9), Some(97.0), Some(99.5)];
    let worst = judged(&v, 99.0, true, Judge::Worst);
    assert_eq!((worst.judged_run, worst.pass), (2, false));
    assert!(judged(&v, 99.0, true, Judge::Median).pass);
    let not_recovered = [Some(100.0), None, Some(120.0)];
    let worst = judged(&not_recovered, 500.0, false, Judge::Worst);
    assert_eq!(
        (worst.judged_run, worst.value, worst.pass),
        (2, None, false)
    );
    let median = judged(&not_recovered, 500.0, false, Judge::Median);
    assert_eq!(median.value, Some(120.0));
}

#[test]
fn nearest_rank_of_one_run_is_that_run() {
    for q in [0.5, 0.9, 1.0] {
        assert_eq!(rank_index(q, 1), 0);
    }
    assert_eq!(rank_index(0.5, 4), 1);
    assert_eq!(rank_index(0.9, 4), 3);
    assert_eq!(rank_index(0.5, 0), 0);
}
