//! Real commands: true, false, sh, sleep.

use super::*;
use crate::probe::failure::FailureClass;
use std::time::{Duration, Instant};

fn probe(argv: &[&str], timeout: Duration) -> ExecProbe {
    let command: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
    ExecProbe::new(&command, &BTreeMap::new(), timeout).expect("probe builds")
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn exit_status_zero_is_success_anything_else_a_failure() {
    assert_eq!(probe(&["true"], 5 * SECOND).check().await, Ok(()));
    let failed = probe(&["false"], 5 * SECOND).check().await.unwrap_err();
    assert_eq!(failed.failure.class, FailureClass::Exit);
    assert_eq!(failed.failure.detail, "exit status 1");
    let signalled = probe(&["sh", "-c", "kill -TERM $$"], 5 * SECOND)
        .check()
        .await;
    assert_eq!(signalled.unwrap_err().failure.detail, "killed by signal 15");
    let missing = probe(&["/nonexistent/check"], 5 * SECOND)
        .check()
        .await
        .unwrap_err();
    assert_eq!(missing.failure.class, FailureClass::Exit);
    assert!(
        missing
            .failure
            .detail
            .starts_with("cannot start `/nonexistent/check`"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_failure_carries_the_tails_of_its_output() {
    let script = "echo starting; echo 'db: connection refused' >&2; exit 3";
    let failed = probe(&["sh", "-c", script], 5 * SECOND)
        .check()
        .await
        .unwrap_err();
    assert_eq!(failed.failure.detail, "exit status 3");
    assert_eq!(failed.stdout_tail, "starting\n");
    assert_eq!(failed.stderr_tail, "db: connection refused\n");

    let chatty = probe(&["sh", "-c", "seq 1 5000; exit 1"], 5 * SECOND)
        .check()
        .await
        .unwrap_err();
    assert_eq!(chatty.stdout_tail.len(), TAIL_BYTES);
    assert!(
        chatty.stdout_tail.ends_with("4999\n5000\n"),
        "{}",
        chatty.stdout_tail
    );
}

#[tokio::test]
async fn env_is_added_to_the_command_environment() {
    let check = ["sh", "-c", "test \"$SHAKEOUT_EXEC_TEST\" = yes"];
    let command: Vec<String> = check.iter().map(|a| a.to_string()).collect();
    let env = BTreeMap::from([("SHAKEOUT_EXEC_TEST".to_string(), "yes".to_string())]);
    let with = ExecProbe::new(&command, &env, 5 * SECOND).unwrap();
    assert_eq!(with.check().await, Ok(()));
    let without = probe(&check, 5 * SECOND).check().await;
    assert_eq!(without.unwrap_err().failure.detail, "exit status 1");
}

#[tokio::test]
async fn at_the_timeout_the_whole_process_group_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    // The shell starts a grandchild and waits for it: killing only the shell would
    // leave `sleep` running (and holding the output pipes).
    let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
    let started = Instant::now();
    let timed_out = probe(&["sh", "-c", &script], Duration::from_millis(300))
        .check()
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < 5 * SECOND,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(timed_out.failure.class, FailureClass::Timeout);
    let grandchild: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + 5 * SECOND;
    while alive(grandchild) {
        assert!(
            Instant::now() < deadline,
            "grandchild {grandchild} survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn background_children_do_not_outlive_a_successful_sample() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("leftover.pid");
    let script = format!(
        "sleep 30 > /dev/null 2>&1 & echo $! > {}",
        pid_file.display()
    );
    assert_eq!(
        probe(&["sh", "-c", &script], 5 * SECOND).check().await,
        Ok(())
    );
    let leftover: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + 5 * SECOND;
    while alive(leftover) {
        assert!(
            Instant::now() < deadline,
            "background child {leftover} left running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn an_empty_command_and_unknown_keys_are_refused() {
    let empty = ExecProbe::new(&[], &BTreeMap::new(), SECOND);
    assert!(matches!(empty, Err(ExecSetupError::EmptyCommand)));
    let spec: ExecProbeSpec =
        serde_yaml::from_str("command: [pg_isready, -h, db]\ntimeout: 2s\nenv: {PGUSER: probe}")
            .expect("spec parses");
    assert_eq!(spec.command, ["pg_isready", "-h", "db"]);
    assert_eq!(spec.env.get("PGUSER").map(String::as_str), Some("probe"));
    assert!(serde_yaml::from_str::<ExecProbeSpec>("command: [true]\nshell: yes").is_err());
}

/// Alive and not a zombie waiting for its reaper.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
    }
}
