//! Every exit path reverts: a real process is paused by the run and must be running
//! again afterwards — normal end, SLA failure, failed injection, Ctrl-C, SIGTERM,
//! panic, and `shakeout rollback` after SIGKILL.

mod util;
use std::path::Path;
use std::time::Duration;
use util::experiment::{demo_head, PauseRun};
use util::*;

fn pause_spec(
    dir: &Path,
    victim: u32,
    run: &str,
    fault_for: &str,
    extra_fault: &str,
    sla: &str,
) -> String {
    let text = PauseRun {
        name: "safety",
        run_for: run,
        fault_for,
        sla,
        probe_interval: "50ms",
        more_faults: extra_fault,
    }
    .yaml(free_port(), victim);
    write_spec(dir, "safety.yaml", &text).display().to_string()
}

const PASSING_SLA: &str = "  availability: 50%";

#[test]
fn normal_end_resumes_the_process() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(dir.path(), victim.pid(), "2s", "1s", "", PASSING_SLA);
    let out_dir = dir.path().join("out");
    let child = spawn(
        &["run", &spec, "--out", out_dir.to_str().unwrap(), "--quiet"],
        &[],
    );
    wait_until_paused(&victim);
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!victim.is_stopped(), "victim still paused after the run");
    let report = read_report(&out_dir);
    assert_eq!(report["verdict"], "pass");
    let fault = &report["faults"][0];
    let injected = fault["injected_at_ms"].as_f64().unwrap();
    let reverted = fault["reverted_at_ms"].as_f64().unwrap();
    assert!((injected - 300.0).abs() < 50.0, "injected at {injected}");
    assert!((reverted - 1300.0).abs() < 50.0, "reverted at {reverted}");
}

#[test]
fn sla_failure_still_resumes_the_process_and_exits_1() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(
        dir.path(),
        victim.pid(),
        "1500ms",
        "500ms",
        "",
        "  latency_p50: 1us",
    );
    let out_dir = dir.path().join("out");
    let out = wait_output(
        spawn_run(&spec, out_dir.to_str().unwrap()),
        Duration::from_secs(20),
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!victim.is_stopped());
    let report = read_report(&out_dir);
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["sla"][0]["pass"], false);
}

#[test]
fn failed_injection_reverts_what_was_applied_and_exits_3() {
    let victim = Victim::start();
    // The second fault's process is alive at preflight and gone by its injection.
    let ghost = Victim::start();
    let ghost_pid = ghost.pid();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("  - name: ghost\n    at: 800ms\n    duration: 1s\n    process:\n      pid: {ghost_pid}\n      action: pause\n");
    let spec = pause_spec(dir.path(), victim.pid(), "5s", "3s", &extra, PASSING_SLA);
    let out_dir = dir.path().join("out");
    let child = spawn_run_until_paused(&spec, &out_dir, &victim);
    drop(ghost);
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        !victim.is_stopped(),
        "victim still paused after a failed injection"
    );
    assert!(
        text(&out).contains(&format!("process {ghost_pid} is not running")),
        "{}",
        text(&out)
    );
    let report = read_report(&out_dir);
    assert_eq!(report["verdict"], "error");
    // Stopped early, well before the planned 5 s.
    assert!(report["measured_ms"].as_f64().unwrap() < 2000.0, "{report}");
}

fn interrupted_by(sig: i32, reason: &str) {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(dir.path(), victim.pid(), "30s", "20s", "", PASSING_SLA);
    let out_dir = dir.path().join("out");
    let run = spawn_run_until_paused(&spec, &out_dir, &victim);
    assert_signal_aborts_and_resumes(run, sig, &victim, &out_dir, reason);
}

#[test]
fn ctrl_c_resumes_the_process_and_exits_1() {
    interrupted_by(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_resumes_the_process_and_exits_1() {
    interrupted_by(libc::SIGTERM, "SIGTERM");
}

#[test]
fn panic_in_the_engine_resumes_the_process() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(dir.path(), victim.pid(), "10s", "8s", "", PASSING_SLA);
    let out_dir = dir.path().join("out");
    let child = spawn(
        &["run", &spec, "--out", out_dir.to_str().unwrap()],
        &[("SHAKEOUT_FAILPOINT", "panic-after-inject")],
    );
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        text(&out).contains("failpoint panic-after-inject"),
        "{}",
        text(&out)
    );
    assert!(!victim.is_stopped(), "victim still paused after a panic");
}

#[test]
fn rollback_after_sigkill_resumes_the_process_and_is_idempotent() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(dir.path(), victim.pid(), "30s", "20s", "", PASSING_SLA);
    let out_dir = dir.path().join("out");
    let child = spawn_run_until_paused(&spec, &out_dir, &victim);
    // The event is written just after the signal: wait for it, or the kill can beat it.
    wait_for_event(&out_dir, "fault_injected", Duration::from_secs(5));
    signal(&child, libc::SIGKILL);
    let _ = wait_output(child, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        victim.is_stopped(),
        "SIGKILL cannot revert anything: the victim must still be paused"
    );
    // What it measured before dying is on disk.
    let events = std::fs::read_to_string(out_dir.join("events.jsonl")).unwrap();
    assert!(events.contains("\"type\":\"fault_injected\""), "{events}");

    // A new run into the same directory must not bury the unreverted fault.
    let reuse = run_out(&spec, out_dir.to_str().unwrap());
    assert_eq!(code(&reuse), 2, "{}", text(&reuse));
    assert!(
        text(&reuse).contains("not all reverted (`freeze`)"),
        "{}",
        text(&reuse)
    );
    assert!(victim.is_stopped());

    let out = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "reverted `freeze`: resumed process {}",
            victim.pid()
        )),
        "{}",
        text(&out)
    );
    assert!(!victim.is_stopped());

    let again = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert_eq!(code(&again), 0);
    assert!(
        text(&again).contains("nothing to revert"),
        "{}",
        text(&again)
    );
}

#[test]
fn kill_fault_restarts_the_process_and_rollback_does_not_double_start() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("svc.pid");
    // A "service" that records its pid and sleeps.
    let start = format!("echo $$ > {} && exec sleep 120", pid_file.display());
    let first = std::process::Command::new("sh")
        .args(["-c", &start])
        .spawn()
        .unwrap();
    wait_for("the pid file", Duration::from_secs(5), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.trim().parse::<u32>().is_ok())
    });
    let port = free_port();
    let spec = write_spec(
        dir.path(),
        "kill.yaml",
        &format!(
            r#"{head}probes:
  - name: web
    tcp:
      address: 127.0.0.1:{port}
      interval: 100ms
faults:
  - name: kill-svc
    at: 200ms
    duration: 500ms
    process:
      pid_file: {pid}
      action: kill
      restart: [sh, -c, "{restart}"]
"#,
            head = demo_head("kill", "1500ms", port),
            pid = pid_file.display(),
            // `$$` is a literal `$` in a spec (`${VAR}` expands).
            restart = start.replace('$', "$$"),
        ),
    );
    let out_dir = dir.path().join("out");
    let mut first = first;
    let out = wait_output(
        spawn_run(spec.to_str().unwrap(), out_dir.to_str().unwrap()),
        Duration::from_secs(20),
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    // The original was killed (reap it), a new one runs under a new pid.
    let status = first.wait().unwrap();
    assert!(!status.success());
    let new_pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(new_pid, first.id());
    assert!(
        proc_state(new_pid).is_some_and(|s| s != 'Z'),
        "restarted service is not running"
    );
    // The journal says reverted: rollback must not start a second copy.
    let again = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert!(
        text(&again).contains("nothing to revert"),
        "{}",
        text(&again)
    );
    assert_eq!(
        std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse::<u32>()
            .unwrap(),
        new_pid
    );
    // SAFETY: cleaning up the process the test caused to be started.
    unsafe { libc::kill(new_pid as i32, libc::SIGKILL) };
}

#[test]
fn guardrail_aborts_the_run_and_resumes_the_process() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    // The demo itself goes down (zone a is its only zone) while the victim is paused;
    // the guardrail stops the run after 500 ms of outage instead of waiting 20 s.
    let port = free_port();
    let spec = write_spec(
        dir.path(),
        "guard.yaml",
        &format!(
            r#"{head}probes:
  - name: web
    http:
      url: http://127.0.0.1:{port}/
      interval: 20ms
      timeout: 200ms
guardrails:
  - probe: web
    max_outage: 500ms
faults:
  - name: freeze
    at: 200ms
    duration: 20s
    process:
      pid: {pid}
      action: pause
  - name: lose-a
    at: 500ms
    duration: 20s
    az_loss:
      zone: a
"#,
            head = demo_head("guard", "30s", port),
            pid = victim.pid()
        ),
    );
    let out_dir = dir.path().join("out");
    let out = wait_output(
        spawn_run(spec.to_str().unwrap(), out_dir.to_str().unwrap()),
        Duration::from_secs(20),
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        !victim.is_stopped(),
        "victim still paused after a guardrail abort"
    );
    let r = read_report(&out_dir);
    assert_eq!(r["verdict"], "aborted");
    let reason = r["aborted"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("guardrail: probe `web` has been failing for"),
        "{reason}"
    );
    let at = r["aborted"]["at_ms"].as_f64().unwrap();
    assert!((1000.0..3000.0).contains(&at), "aborted at {at}");
    for f in r["faults"].as_array().unwrap() {
        assert!(f["reverted_at_ms"].as_f64().unwrap() < 3000.0, "{f}");
    }
}
