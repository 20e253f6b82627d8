//! A reader that went away (EPIPE on stderr and stdout) changes nothing: the run
//! reverts and exits with its own code, never a panic (101).

mod util;
use std::process::{Command, Stdio};
use std::time::Duration;
use util::*;

/// Run shakeout with stdout and stderr pipes whose read ends are closed at once.
fn run_with_closed_output(args: &[&str]) -> i32 {
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "shakeout did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn validate_with_a_closed_stderr_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "bad.yaml", "name: x\nduration: 30\n");
    assert_eq!(
        run_with_closed_output(&["validate", spec.to_str().unwrap()]),
        2
    );
    let plan = run_with_closed_output(&["plan", "experiments/steady-state.yaml"]);
    assert_eq!(plan, 0);
}

#[test]
fn a_run_with_a_closed_stderr_reverts_and_exits_with_its_verdict() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let spec = write_spec(
        dir.path(),
        "pause.yaml",
        &format!(
            "name: closed\nduration: 1s\ntarget:\n  demo:\n    listen: 127.0.0.1:{port}\n    zones: [a]\n    replicas_per_zone: 1\n\
             sla:\n  availability: 50%\nprobes:\n  - name: web\n    http:\n      url: http://127.0.0.1:{port}/\n      interval: 50ms\n\
             faults:\n  - name: freeze\n    at: 200ms\n    duration: 500ms\n    process:\n      pid: {}\n      action: pause\n",
            victim.pid()
        ),
    );
    let out = dir.path().join("out");
    let code = run_with_closed_output(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(!victim.is_stopped(), "victim still paused");
}
