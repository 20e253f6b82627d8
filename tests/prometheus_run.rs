//! The real binary against a real Prometheus (tests/util/prometheus.rs): a
//! `prometheus` probe whose value is recorded and charted, and the metric and alert
//! guardrails stopping a run with a paused process, which must be thawed.

mod util;

use std::time::{Duration, Instant};
use util::prometheus::{Prometheus, ALERT, METRIC};
use util::Victim;

fn spec(prometheus: &Prometheus, victim: &Victim, guardrail: &str) -> String {
    format!(
        "name: metric-guardrail\nduration: 40s\nprobes:\n  - name: metric\n    prometheus:\n      url: {url}\n      \
         query: {METRIC}\n      expect: \"< 5\"\n      interval: 100ms\n  - name: true-cmd\n    exec:\n      command: [\"true\"]\n      \
         interval: 200ms\nfaults:\n  - name: freeze\n    at: 300ms\n    duration: 39s\n    process:\n      pid: {pid}\n      \
         action: pause\nguardrails:\n{guardrail}",
        url = prometheus.url(),
        pid = victim.pid(),
    )
}

/// Starts the run, waits for the pause, raises the metric, and returns the run's
/// output and the time from the alert firing (as Prometheus reports it, polled
/// every 5 ms) to the process being thawed (polled in the same loop).
fn run_until_tripped(
    prometheus: &Prometheus,
    victim: &Victim,
    guardrail: &str,
) -> (std::process::Output, tempfile::TempDir, Option<Duration>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = util::write_spec(dir.path(), "m.yaml", &spec(prometheus, victim, guardrail));
    let out = dir.path().join("out");
    let child = util::spawn_run(spec.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    util::wait_for("the pause", Duration::from_secs(10), || victim.is_stopped());
    prometheus.exporter.set(10.0);
    let addr = format!("127.0.0.1:{}", prometheus.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut fired_at = None;
    while victim.is_stopped() && Instant::now() < deadline {
        if fired_at.is_none()
            && util::http_get(&addr, "/api/v1/alerts")
                .is_some_and(|(_, body)| body.contains("\"state\":\"firing\""))
        {
            fired_at = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let thawed_at = Instant::now();
    assert!(!victim.is_stopped(), "the process was thawed");
    let output = util::wait_output(child, Duration::from_secs(20));
    (output, dir, fired_at.map(|f| thawed_at - f))
}

#[test]
fn an_alert_stops_the_run_and_every_fault_is_reverted() {
    let Some(prometheus) = Prometheus::start(1.0) else {
        return;
    };
    let victim = Victim::start();
    let guardrail = format!(
        "  - alert: {{url: {}, name: {ALERT}, interval: 100ms}}\n",
        prometheus.url()
    );
    let (output, dir, fire_to_revert) = run_until_tripped(&prometheus, &victim, &guardrail);
    assert_eq!(util::code(&output), 1, "{}", util::text(&output));
    let out = dir.path().join("out");
    let report = util::read_report(&out);
    assert_eq!(report["verdict"], "aborted");
    let reason = report["aborted"]["reason"].as_str().expect("reason");
    assert!(
        reason.contains(&format!("alert `{ALERT}` is firing")),
        "{reason}"
    );
    assert!(report["aborted"]["at_ms"].as_f64().expect("when") > 300.0);
    let metric = &report["probes"][0];
    assert_eq!(metric["values"]["min"], 1.0, "{metric:#}");
    assert_eq!(metric["values"]["max"], 10.0, "{metric:#}");
    assert!(metric["failure_classes"]["expect"].as_u64().unwrap_or(0) >= 1);
    let chart = std::fs::read_to_string(out.join("value-metric.svg")).expect("value chart");
    assert!(chart.contains("class=\"value\""));
    // The figure in the README: from the alert firing to every fault reverted.
    if let Some(d) = fire_to_revert {
        eprintln!("alert firing -> fault reverted: {} ms", d.as_millis());
        assert!(d < Duration::from_secs(2), "{d:?}");
    }
}

#[test]
fn a_metric_guardrail_stops_the_run_with_the_value_it_saw() {
    let Some(prometheus) = Prometheus::start(1.0) else {
        return;
    };
    let victim = Victim::start();
    let guardrail = format!(
        "  - prometheus: {{url: {}, query: {METRIC}, expect: \"< 5\", for: 300ms, interval: 100ms}}\n",
        prometheus.url()
    );
    let (output, dir, _) = run_until_tripped(&prometheus, &victim, &guardrail);
    assert_eq!(util::code(&output), 1, "{}", util::text(&output));
    let report = util::read_report(&dir.path().join("out"));
    let reason = report["aborted"]["reason"].as_str().expect("reason");
    assert_eq!(
        reason,
        format!("guardrail: prometheus `{METRIC}` = 10, not < 5 for 300ms")
    );
    let markdown = std::fs::read_to_string(dir.path().join("out/report.md")).expect("md");
    assert!(markdown.contains("not < 5 for 300ms"), "{markdown}");
}
