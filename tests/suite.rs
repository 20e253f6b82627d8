//! Game days end to end: `shakeout run SUITE.yaml` and `shakeout run DIR` on real
//! (short) demo experiments, the suite report, the stop rules, and the spec errors of
//! a suite file; `--repeat N` and its judged distribution.

mod util;
use std::path::Path;
use std::time::Duration;
use util::*;

/// `availability: 50%` passes and `100%` fails, every time.
fn short_run(name: &str, availability: &str) -> String {
    util::gameday::one_zone_loss(
        name,
        &format!("  availability: {availability}\n  recovery_time: 5s\n"),
    )
}

fn run(args: &[&str]) -> std::process::Output {
    wait_output(spawn(args, &[]), Duration::from_secs(90))
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_suite_runs_in_order_and_writes_one_report_over_the_day() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), "pass.yaml", &short_run("holds", "50%"));
    write_spec(dir.path(), "fail.yaml", &short_run("breaks", "100%"));
    let suite = write_spec(
        dir.path(),
        "day.yaml",
        "suite:\n  name: day\n  experiments: [pass.yaml, fail.yaml, pass.yaml]\n  pause: 300ms\n",
    );
    let out_dir = dir.path().join("out");
    let out = run(&[
        "run",
        suite.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "-q",
    ]);
    let said = text(&out);
    // Worst of 0, 1, 0.
    assert_eq!(code(&out), 1, "{said}");
    assert!(
        said.contains("suite `day`: FAIL (exit 1), 2 of 3 runs passed"),
        "{said}"
    );
    assert!(said.contains("[2/3] breaks: fail (exit 1)"), "{said}");

    let report = read_json(&out_dir.join("suite.json"));
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["kind"], "suite");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["exit_code"], 1);
    let runs = report["runs"].as_array().unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["experiment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["holds", "breaks", "holds"]);
    let verdicts: Vec<&str> = runs
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["pass", "fail", "pass"]);
    // Each run has its own directory and report; the pause separates them in time.
    for (i, r) in runs.iter().enumerate() {
        let run_dir = out_dir.join(r["dir"].as_str().unwrap());
        assert_eq!(
            read_json(&run_dir.join("report.json"))["experiment"],
            names[i]
        );
        assert!(out_dir.join(r["report_html"].as_str().unwrap()).is_file());
    }
    let end_of_first =
        runs[0]["offset_ms"].as_f64().unwrap() + runs[0]["wall_ms"].as_f64().unwrap();
    assert!(runs[1]["offset_ms"].as_f64().unwrap() >= end_of_first + 300.0);
    let failing = &runs[1]["failing_checks"][0];
    assert_eq!(failing["check"], "availability");
    assert_eq!(runs[1]["figures"]["checks_failed"], 1);
    assert!(runs[1]["faults"][0]["injected_at_ms"].as_f64().unwrap() >= 500.0);

    let md = std::fs::read_to_string(out_dir.join("suite.md")).unwrap();
    assert!(
        md.contains("| 2 | [breaks](02-breaks/report.md) | fail"),
        "{md}"
    );
    let html = std::fs::read_to_string(out_dir.join("suite.html")).unwrap();
    assert!(html.contains("<a href=\"02-breaks/report.html\">breaks</a>"));
    assert!(html.contains("<svg"));
    // One testsuite per experiment, the failed check a <failure>.
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 3);
    assert_eq!(suites[1].attribute("failures"), Some("1"));
    assert_eq!(suites[0].attribute("failures"), Some("0"));
    // The day's timeline: one lane per run, a fault bar in each.
    let svg = std::fs::read_to_string(out_dir.join("timeline.svg")).unwrap();
    let svg = roxmltree::Document::parse(&svg).unwrap();
    let faults = svg
        .descendants()
        .filter(|n| n.has_tag_name("title") && n.text().is_some_and(|t| t.starts_with("fault ")))
        .count();
    assert_eq!(faults, 3);
}

#[test]
fn stop_on_failure_skips_the_rest_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), "fail.yaml", &short_run("breaks", "100%"));
    write_spec(dir.path(), "pass.yaml", &short_run("holds", "50%"));
    let suite = write_spec(
        dir.path(),
        "day.yaml",
        "suite:\n  name: strict\n  experiments: [fail.yaml, pass.yaml]\n  stop_on_failure: true\n",
    );
    let out_dir = dir.path().join("out");
    let out = run(&[
        "run",
        suite.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("stopped early: `breaks` did not pass (exit 1)"),
        "{}",
        text(&out)
    );
    let report = read_json(&out_dir.join("suite.json"));
    assert_eq!(report["runs"][1]["status"], "skipped");
    assert!(report["runs"][1]["verdict"].is_null());
    assert!(!out_dir.join("02-holds").exists());
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<skipped message="), "{junit}");
}

#[test]
fn a_directory_runs_its_experiments_in_name_order_and_skips_suite_files() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("gameday");
    std::fs::create_dir(&day).unwrap();
    write_spec(&day, "b-second.yaml", &short_run("second", "50%"));
    write_spec(&day, "a-first.yml", &short_run("first", "50%"));
    write_spec(&day, "notes.txt", "not an experiment");
    write_spec(
        &day,
        "suite.yaml",
        "suite:\n  name: other\n  experiments: [a-first.yml]\n",
    );
    let out_dir = dir.path().join("out");
    let out = run(&[
        "run",
        day.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = read_json(&out_dir.join("suite.json"));
    assert_eq!(report["name"], "gameday");
    let names: Vec<&str> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["experiment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "second"]);
}

#[test]
fn suite_errors_are_all_reported_with_position_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), "ok.yaml", &short_run("fine", "50%"));
    write_spec(
        dir.path(),
        "bad.yaml",
        &short_run("bad", "50%").replace("interval:", "intervall:"),
    );
    let suite = write_spec(
        dir.path(),
        "day.yaml",
        "suite:\n  name: day\n  experimnets: []\n  experiments:\n    - ok.yaml\n    - missing.yaml\n    - bad.yaml\n  pause: 3 parsecs\n",
    );
    let out_dir = dir.path().join("out");
    let out = run(&[
        "run",
        suite.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let said = text(&out);
    assert_eq!(code(&out), 2, "{said}");
    let file = suite.display().to_string();
    assert!(
        said.contains(&format!("{file}:3:3: suite.experimnets: unknown field"))
            && said.contains("did you mean `experiments`"),
        "{said}"
    );
    assert!(
        said.contains(&format!("{file}:8:10: suite.pause:")),
        "{said}"
    );
    assert!(!out_dir.exists(), "nothing may run");
    // With the value fixed, the missing file and the bad experiment are both named.
    std::fs::write(
        &suite,
        "suite:\n  name: day\n  experiments:\n    - ok.yaml\n    - missing.yaml\n    - bad.yaml\n",
    )
    .unwrap();
    let out = run(&["validate", suite.to_str().unwrap()]);
    let said = text(&out);
    assert_eq!(code(&out), 2, "{said}");
    assert!(
        said.contains(&format!(
            "{file}:5:7: suite.experiments[1]: `missing.yaml`: no such file"
        )),
        "{said}"
    );
    assert!(
        said.contains("bad.yaml:") && said.contains("did you mean `interval`"),
        "{said}"
    );
    // A misspelt top-level key reads as a misspelt suite.
    let typo = write_spec(
        dir.path(),
        "typo.yaml",
        "suites:\n  name: day\n  experiments: [ok.yaml]\n",
    );
    let out = run(&["validate", typo.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out).contains("typo.yaml:1:1: suites: unknown field")
            && text(&out).contains("did you mean `suite`"),
        "{}",
        text(&out)
    );
}

#[test]
fn repeat_reports_each_figures_distribution_and_judges_the_worst_run() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "r.yaml", &short_run("again", "50%"));
    let out_dir = dir.path().join("out");
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "--repeat",
        "3",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = read_json(&out_dir.join("suite.json"));
    assert_eq!(report["kind"], "repeat");
    assert_eq!(report["runs"].as_array().unwrap().len(), 3);
    for i in 1..=3 {
        assert!(out_dir.join(format!("run-0{i}/report.json")).is_file());
    }
    let rep = &report["repeat"];
    assert_eq!(rep["judge"], "worst");
    let figure = |name: &str| {
        rep["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["figure"] == name)
            .unwrap_or_else(|| panic!("no {name} in {rep}"))
            .clone()
    };
    let recovery = figure("recovery_time");
    let values: Vec<f64> = recovery["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(values.len(), 3);
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(recovery["max"].as_f64().unwrap(), max);
    assert_eq!(recovery["limit"].as_f64().unwrap(), 5000.0);
    for f in ["detect_time", "availability", "longest_disruption"] {
        assert_eq!(figure(f)["values"].as_array().unwrap().len(), 3);
    }
    // The worst run's recovery is the one judged.
    let judged = rep["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "recovery_time")
        .unwrap()
        .clone();
    assert_eq!(judged["value"].as_f64().unwrap(), max);
    assert_eq!(judged["passed_runs"], 3);
    let svg = std::fs::read_to_string(out_dir.join("repeat.svg")).unwrap();
    assert!(roxmltree::Document::parse(&svg).is_ok());
    let md = std::fs::read_to_string(out_dir.join("suite.md")).unwrap();
    assert!(md.contains("## Checks, judged on the worst run"), "{md}");
}

#[test]
fn repeat_fails_when_the_judged_run_fails_and_refuses_a_suite() {
    let dir = tempfile::tempdir().unwrap();
    let spec = short_run("strict", "100%").replace("sla:\n", "sla:\n  judge: median\n");
    let spec = write_spec(dir.path(), "r.yaml", &spec);
    let out_dir = dir.path().join("out");
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "--repeat",
        "2",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let report = read_json(&out_dir.join("suite.json"));
    assert_eq!(report["repeat"]["judge"], "median");
    assert_eq!(report["verdict"], "fail");

    let suite = write_spec(
        dir.path(),
        "day.yaml",
        "suite:\n  name: d\n  experiments: [r.yaml]\n",
    );
    let out = run(&["run", suite.to_str().unwrap(), "--repeat", "2"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out).contains("--repeat runs one experiment file"),
        "{}",
        text(&out)
    );
}

#[test]
fn sigterm_during_a_pause_stops_the_suite_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), "a.yaml", &short_run("first", "50%"));
    write_spec(dir.path(), "b.yaml", &short_run("second", "50%"));
    let suite = write_spec(
        dir.path(),
        "day.yaml",
        "suite:\n  name: long-pause\n  experiments: [a.yaml, b.yaml]\n  pause: 60s\n",
    );
    let out_dir = dir.path().join("out");
    let child = spawn(
        &[
            "run",
            suite.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    let first_report = out_dir.join("01-first/report.json");
    wait_for("the first run's report", Duration::from_secs(30), || {
        first_report.is_file()
    });
    // Inside the 60 s pause now (the run's report is written before the pause starts).
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGTERM);
    let out = wait_output(child, Duration::from_secs(10));
    let said = text(&out);
    assert_eq!(code(&out), 1, "{said}");
    assert!(
        said.contains("stopped early: terminated (SIGTERM) during the pause before `second`"),
        "{said}"
    );
    let report = read_json(&out_dir.join("suite.json"));
    assert_eq!(report["verdict"], "aborted");
    assert_eq!(report["runs"][0]["verdict"], "pass");
    assert_eq!(report["runs"][1]["status"], "skipped");
}
