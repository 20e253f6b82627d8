//! `steady_state:` through the real binary: a probe whose every sample fails during the
//! window (a command that exits 1; a closed port would stop the run at preflight) means
//! no fault is injected (a real process is never paused), verdict
//! aborted, exit 1, and the window is its own phase in the report.

mod util;

use std::time::Duration;
use util::Victim;

#[test]
fn steady_state_not_met_injects_nothing_and_aborts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = Victim::start();
    let spec = format!(
        "name: steady\nduration: 3s\nsteady_state: {{for: 500ms}}\nprobes:\n  - name: api\n    exec:\n      \
         command: [\"false\"]\n      interval: 50ms\nfaults:\n  - name: freeze\n    at: 0s\n    duration: 2s\n    \
         process:\n      pid: {pid}\n      action: pause\n",
        pid = victim.pid()
    );
    let path = util::write_spec(dir.path(), "steady.yaml", &spec);
    let out = dir.path().join("out");
    let child = util::spawn_run(path.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    // Watch the process the whole time: it must never be paused.
    let mut paused = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut child = child;
    while child.try_wait().expect("wait").is_none() && std::time::Instant::now() < deadline {
        paused |= victim.is_stopped();
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = util::wait_output(child, Duration::from_secs(5));
    assert!(!paused, "the process was paused");
    assert_eq!(util::code(&output), 1, "{}", util::text(&output));
    let report = util::read_report(&out);
    assert_eq!(report["verdict"], "aborted");
    let reason = report["aborted"]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("steady state not met: probe `api` availability 0"),
        "{reason}"
    );
    let events = std::fs::read_to_string(out.join("events.jsonl")).expect("events");
    assert!(!events.contains("fault_injecting"), "no fault was touched");
    let phases = &report["probes"][0]["phases"];
    assert_eq!(phases[0]["name"], "steady state", "{phases:#}");
    assert_eq!(phases[0]["end_ms"], 500.0);
    let markdown = std::fs::read_to_string(out.join("report.md")).expect("md");
    assert!(markdown.contains("steady state"), "{markdown}");
}

#[test]
fn steady_state_met_lets_the_faults_run_after_the_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = Victim::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let spec = format!(
        "name: steady-ok\nduration: 1s\nsteady_state: {{for: 400ms, availability: 99%}}\nprobes:\n  - name: api\n    tcp:\n      \
         address: {addr}\n      interval: 50ms\nfaults:\n  - name: freeze\n    at: 100ms\n    duration: 300ms\n    \
         process:\n      pid: {pid}\n      action: pause\n",
        pid = victim.pid()
    );
    let path = util::write_spec(dir.path(), "ok.yaml", &spec);
    let out = dir.path().join("out");
    let output = util::run_out(path.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    assert_eq!(util::code(&output), 0, "{}", util::text(&output));
    let report = util::read_report(&out);
    let fault = &report["faults"][0];
    let injected = fault["injected_at_ms"].as_f64().unwrap_or(0.0);
    assert!(injected >= 500.0, "after the window: {fault:#}");
    assert!(!victim.is_stopped());
    drop(listener);
}
