//! Preflight through the real binary: a missing fault target or a probe target that
//! does not answer stops `run` before t=0 (exit 3, nothing journaled, no fault
//! injected), and `plan --preflight` prints each read-only check's result.

mod util;

use std::path::Path;
use util::{code, run_out, shakeout, text, write_spec, Victim};

/// A pid file naming a process that has exited (and been reaped).
fn dead_pid_file(dir: &Path) -> std::path::PathBuf {
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let pid = child.id();
    child.wait().expect("wait");
    let path = dir.join("dead.pid");
    std::fs::write(&path, format!("{pid}\n")).expect("pid file");
    path
}

/// Two pause faults (one on `live`, one on the pid file) and a TCP probe of `probe`.
fn spec(live: u32, pid_file: &Path, probe: std::net::SocketAddr) -> String {
    format!(
        "name: preflight\nduration: 2s\nprobes:\n  - name: api\n    tcp: {{address: \"{probe}\", interval: 50ms}}\n\
         faults:\n  - name: freeze-live\n    at: 0s\n    duration: 1s\n    process: {{pid: {live}, action: pause}}\n  \
         - name: freeze-file\n    at: 0s\n    duration: 1s\n    process: {{pid_file: \"{}\", action: pause}}\n",
        pid_file.display()
    )
}

fn assert_nothing_touched(out: &Path, victim: &Victim) {
    assert!(!victim.is_stopped(), "a process was paused");
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap_or_default();
    assert!(journal.trim().is_empty(), "journaled: {journal}");
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap_or_default();
    assert!(!events.contains("fault_injecting"), "{events}");
}

#[test]
fn a_dead_pid_file_stops_the_run_before_anything_is_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = Victim::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = dead_pid_file(dir.path());
    let spec = spec(victim.pid(), &dead, listener.local_addr().expect("addr"));
    let path = write_spec(dir.path(), "dead.yaml", &spec);
    let out = dir.path().join("out");
    let output = run_out(path.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    assert_eq!(code(&output), 3, "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("preflight failed"), "{said}");
    assert!(said.contains("fault `freeze-file`"), "{said}");
    assert!(said.contains("is not running"), "{said}");
    assert!(
        !said.contains("freeze-live"),
        "only what is missing: {said}"
    );
    assert_nothing_touched(&out, &victim);
}

#[test]
fn a_closed_probe_port_stops_the_run_and_names_the_probe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = Victim::start();
    let pid_file = dir.path().join("live.pid");
    std::fs::write(&pid_file, victim.pid().to_string()).expect("pid file");
    let closed = format!("127.0.0.1:{}", util::free_port())
        .parse()
        .expect("addr");
    let path = write_spec(
        dir.path(),
        "closed.yaml",
        &spec(victim.pid(), &pid_file, closed),
    );
    let out = dir.path().join("out");
    let output = run_out(path.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    assert_eq!(code(&output), 3, "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("probe `api`: did not answer"), "{said}");
    assert!(said.contains("refused"), "{said}");
    assert_nothing_touched(&out, &victim);
}

#[test]
fn plan_preflight_prints_each_check_on_a_healthy_and_an_unhealthy_spec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = Victim::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = listener.local_addr().expect("addr");
    let live_file = dir.path().join("live.pid");
    std::fs::write(&live_file, victim.pid().to_string()).expect("pid file");

    let healthy = write_spec(dir.path(), "ok.yaml", &spec(victim.pid(), &live_file, open));
    let output = shakeout(&["plan", "--preflight", healthy.to_str().expect("utf-8")]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let said = text(&output);
    let live = victim.pid();
    assert!(
        said.contains(&format!(
            "  ok    fault `freeze-live` (process): process {live} is running"
        )),
        "{said}"
    );
    assert!(
        said.contains("  ok    fault `freeze-file` (process): process"),
        "{said}"
    );
    assert!(said.contains("  ok    probe `api`: answered"), "{said}");

    let dead = dead_pid_file(dir.path());
    let closed = format!("127.0.0.1:{}", util::free_port())
        .parse()
        .expect("addr");
    let unhealthy = write_spec(dir.path(), "bad.yaml", &spec(victim.pid(), &dead, closed));
    let output = shakeout(&["plan", "--preflight", unhealthy.to_str().expect("utf-8")]);
    assert_eq!(code(&output), 3, "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("  ok    fault `freeze-live`"), "{said}");
    assert!(
        said.contains("  FAIL  fault `freeze-file` (process): process"),
        "{said}"
    );
    assert!(
        said.contains("  FAIL  probe `api`: did not answer"),
        "{said}"
    );
    assert!(!victim.is_stopped());
    drop(listener);
}
