//! Issue 8 item 4: percentages and budgets in exact arithmetic. 99.95% of 30d is
//! 21m36s exactly, in `plan`, in report.json (`allowed_ms: 1296000`) and in the reports.

mod util;
use util::experiment::demo_head;
use util::*;

fn budget_spec(port: u16, objective: &str) -> String {
    format!(
        r#"{head}sla:
  availability: 99.04%
  error_budget:
    objective: {objective}
    period: 30d
    max_spent: 50%
probes:
  - name: checkout
    http:
      url: http://127.0.0.1:{port}/checkout
      interval: 20ms
      timeout: 500ms
"#,
        head = demo_head("budget", "1s", port)
    )
}

/// `plan` printed 21m35s (the f64 budget truncated to whole seconds).
#[test]
fn plan_states_the_budget_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // Written as a string and as a bare YAML number: both are the same exact 99.95%.
    for objective in ["99.95%", "99.95"] {
        let spec = write_spec(dir.path(), "b.yaml", &budget_spec(free_port(), objective));
        let out = shakeout(&["plan", spec.to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert!(
            text(&out).contains("error budget: 99.95% over 30days allows 21m36s of downtime"),
            "{}",
            text(&out)
        );
    }
    // A fraction of a second is kept rather than dropped: 0.05% of 7d is 5m2.4s.
    let spec = budget_spec(free_port(), "99.95%").replace("period: 30d", "period: 7d");
    let spec = write_spec(dir.path(), "week.yaml", &spec);
    let out = shakeout(&["plan", spec.to_str().unwrap()]);
    assert!(
        text(&out).contains("allows 5m2.4s of downtime"),
        "{}",
        text(&out)
    );
}

/// report.json said `allowed_ms: 1295999.9999998573`; it is a number still, and exact.
#[test]
fn a_run_reports_the_budget_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "b.yaml", &budget_spec(free_port(), "99.95%"));
    let out_dir = dir.path().join("run");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));

    let report = read_report(&out_dir);
    let budget = &report["error_budget"];
    assert_eq!(budget["allowed_ms"].as_f64(), Some(1_296_000.0), "{budget}");
    assert_eq!(budget["objective_pct"].as_f64(), Some(99.95), "{budget}");
    let json = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    assert!(json.contains("\"allowed_ms\": 1296000.0"), "{json}");

    let check = report["sla"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "error_budget")
        .expect("an error_budget check");
    assert_eq!(check["threshold"], "<= 50% of 21m36s");
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(
        md.contains("of the 21m36s budget (99.95% over 30d)"),
        "{md}"
    );
    assert!(md.contains("| >= 99.04% |"), "{md}");

    // The SLA recorded in events.jsonl (numbers) reads back as the same exact figures.
    let out = shakeout(&["report", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let again = read_report(&out_dir);
    assert_eq!(again["error_budget"], report["error_budget"]);
    assert_eq!(again["sla"], report["sla"]);
}
