//! The safety net's holes (issue 8 items 6, 7, 8, 10), each against the real binary:
//! two runs on one directory, every fatal signal, reports that cannot be written, and
//! pid files that are not pid files.

mod util;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use util::experiment::{demo_head, PauseRun};
use util::*;

/// A run of `run_for` with one probe on the embedded demo and one pause fault on
/// `victim` from 300 ms until 200 ms before the end.
fn pause_spec(dir: &Path, file: &str, name: &str, victim: u32, run_for: &str) -> String {
    let port = free_port();
    let total = humantime::parse_duration(run_for).unwrap();
    let fault_for = format!("{}ms", total.as_millis() - 500);
    let text = PauseRun {
        name,
        run_for,
        fault_for: &fault_for,
        sla: "  availability: 50%",
        probe_interval: "20ms",
        more_faults: "",
    }
    .yaml(port, victim);
    write_spec(dir, file, &text).display().to_string()
}

/// A short run with nothing to revert: one probe, one named `probe`.
fn short_spec(dir: &Path, file: &str, name: &str, probe: &str) -> String {
    let port = free_port();
    let text = format!(
        r#"{head}probes:
  - name: {probe}
    tcp:
      address: 127.0.0.1:{port}
      interval: 50ms
"#,
        head = demo_head(name, "400ms", port)
    );
    write_spec(dir, file, &text).display().to_string()
}

// ---- item 6: one directory, one run ----

#[test]
fn a_second_run_on_a_live_directory_is_refused_without_touching_it() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec_a = pause_spec(dir.path(), "a.yaml", "run-a", victim.pid(), "30s");
    let spec_b = pause_spec(dir.path(), "b.yaml", "run-b", victim.pid(), "30s");
    let out_dir = dir.path().join("out");
    let out = out_dir.to_str().unwrap();
    let a = spawn_run(&spec_a, out);
    wait_until_paused(&victim);
    let saved_spec = std::fs::read_to_string(out_dir.join("experiment.yaml")).unwrap();
    let journal = std::fs::read(out_dir.join("journal.jsonl")).unwrap();

    let b = run_out(&spec_b, out);
    assert_eq!(code(&b), 2, "{}", text(&b));
    assert!(
        text(&b).contains("is in use by another shakeout process (pid "),
        "{}",
        text(&b)
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("experiment.yaml")).unwrap(),
        saved_spec,
        "the refused run overwrote the live run's experiment.yaml"
    );
    assert!(saved_spec.contains("run-a"));
    assert_eq!(
        std::fs::read(out_dir.join("journal.jsonl")).unwrap(),
        journal
    );

    // A rollback under the live run would undo what it still controls: refused too.
    let rb = shakeout(&["rollback", out]);
    assert_eq!(code(&rb), 2, "{}", text(&rb));
    assert!(text(&rb).contains("in use"), "{}", text(&rb));
    assert!(
        victim.is_stopped(),
        "the refused rollback resumed the victim"
    );

    signal(&a, libc::SIGTERM);
    let a_out = wait_output(a, Duration::from_secs(10));
    assert_eq!(code(&a_out), 1, "{}", text(&a_out));
    assert!(!victim.is_stopped());
    assert_eq!(read_report(&out_dir)["experiment"], "run-a");
    // Once the run is over the directory is free again.
    let rb = shakeout(&["rollback", out]);
    assert_eq!(code(&rb), 0, "{}", text(&rb));
}

#[test]
fn a_directory_with_unreverted_faults_is_refused_before_any_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let old_spec = "name: the-killed-run\n";
    std::fs::write(out_dir.join("experiment.yaml"), old_spec).unwrap();
    std::fs::write(out_dir.join("events.jsonl"), "{}\n").unwrap();
    let journal = r#"{"op":"applying","id":0,"fault":"freeze","undo":{"action":"resume","pid":4242,"start_time":1},"at":"x"}"#;
    std::fs::write(out_dir.join("journal.jsonl"), format!("{journal}\n")).unwrap();
    let spec = short_spec(dir.path(), "new.yaml", "new-run", "web");
    let out = run_out(&spec, out_dir.to_str().unwrap());
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("not all reverted (`freeze`)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("experiment.yaml")).unwrap(),
        old_spec
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("events.jsonl")).unwrap(),
        "{}\n"
    );
}

#[test]
fn two_runs_of_one_spec_at_once_get_distinct_run_ids() {
    let dir = tempfile::tempdir().unwrap();
    let spec_a = short_spec(dir.path(), "a.yaml", "twin", "web");
    let spec_b = short_spec(dir.path(), "b.yaml", "twin", "web");
    let start = |spec: &str| {
        Command::new(bin())
            .args(["run", spec, "--quiet"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start(&spec_a));
        let b = s.spawn(|| start(&spec_b));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert_eq!(code(&b), 0, "{}", text(&b));
    let mut ids: Vec<String> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 2, "{ids:?}");
    for id in &ids {
        // The readable prefix stays: timestamp, then the experiment name.
        assert!(id.contains("Z-twin-"), "{id}");
        let report = read_report(&dir.path().join("reports").join(id));
        assert_eq!(report["run_id"], id.as_str());
    }
}

#[test]
fn a_very_long_experiment_name_gives_a_run_directory_that_can_be_created() {
    let dir = tempfile::tempdir().unwrap();
    // The longest name `validate` accepts (longer ones are refused: tests/validate_names.rs);
    // still longer than the 64 characters a run id keeps of it.
    let name = "n".repeat(100);
    let spec = short_spec(dir.path(), "long.yaml", &name, "web");
    let out = Command::new(bin())
        .args(["run", &spec, "--quiet"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].join("report.html").is_file());
}

// ---- item 7: every fatal signal reverts ----

fn fatal_signal_reverts(sig: i32, reason: &str) {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(dir.path(), "s.yaml", "signals", victim.pid(), "30s");
    let out_dir = dir.path().join("out");
    let run = spawn_run_until_paused(&spec, &out_dir, &victim);
    assert_signal_aborts_and_resumes(run, sig, &victim, &out_dir, reason);
}

#[test]
fn sighup_reverts() {
    fatal_signal_reverts(libc::SIGHUP, "SIGHUP");
}

#[test]
fn sigquit_reverts() {
    fatal_signal_reverts(libc::SIGQUIT, "SIGQUIT");
}

#[test]
fn sigusr1_reverts() {
    fatal_signal_reverts(libc::SIGUSR1, "SIGUSR1");
}

#[test]
fn sigusr2_reverts() {
    fatal_signal_reverts(libc::SIGUSR2, "SIGUSR2");
}

#[test]
fn sigpipe_does_not_kill_the_run() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(dir.path(), "p.yaml", "pipe", victim.pid(), "30s");
    let out_dir = dir.path().join("out");
    let mut child = spawn_run_until_paused(&spec, &out_dir, &victim);
    signal(&child, libc::SIGPIPE);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGPIPE ended the run with its fault applied"
    );
    assert!(victim.is_stopped(), "the fault is still meant to be on");
    signal(&child, libc::SIGTERM);
    let out = wait_output(child, Duration::from_secs(10));
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!victim.is_stopped());
}

// ---- item 8: reports that were not written are not a pass ----

#[test]
fn a_report_that_cannot_be_written_is_exit_3_and_the_run_still_reverts() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(dir.path(), "w.yaml", "unwritable", victim.pid(), "1s");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // report.md cannot be written: a directory stands where the file goes.
    std::fs::create_dir(out_dir.join("report.md")).unwrap();
    let out = wait_output(
        spawn_run(&spec, out_dir.to_str().unwrap()),
        Duration::from_secs(20),
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(!victim.is_stopped(), "victim still paused");
    let all = text(&out);
    assert!(all.contains("cannot write"), "{all}");
    assert!(!all.contains("PASS"), "{all}");
    // Only files that exist are named.
    assert!(!all.contains("report: "), "{all}");
    let report = read_report(&out_dir);
    assert_eq!(report["verdict"], "error");
    assert_eq!(report["exit_code"], 3);
    assert!(
        report["errors"].to_string().contains("report.md"),
        "{report}"
    );
}

/// Runs `script` as root of a private mount namespace; `None` where that is not allowed.
fn in_mount_namespace(script: &str, envs: &[(&str, &str)]) -> Option<Output> {
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"])
        .output()
        .ok()?;
    if !probe.status.success() {
        eprintln!("skipped: cannot mount a tmpfs in a user namespace here");
        return None;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "sh", "-c", script]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Some(cmd.output().unwrap())
}

#[test]
fn a_full_disk_is_exit_3_names_no_missing_file_and_reverts() {
    let victim = Victim::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pause_spec(dir.path(), "full.yaml", "full-disk", victim.pid(), "1500ms");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // 256 KiB in all, 40 KiB free: the spec, journal and events fit, the reports do not all.
    let script = r#"mount -t tmpfs -o size=256k tmpfs "$MNT" || exit 99
head -c 221184 /dev/zero > "$MNT/fill"
"$BIN" run "$SPEC" --out "$MNT/out" --quiet
rc=$?
echo "FILES:"
for f in "$MNT"/out/*; do echo "$(basename "$f") $(wc -c < "$f")"; done
grep -h '"exit_code"' "$MNT/out/report.json"
exit $rc"#;
    let Some(out) = in_mount_namespace(
        script,
        &[
            ("MNT", mnt.to_str().unwrap()),
            ("BIN", bin().to_str().unwrap()),
            ("SPEC", &spec),
        ],
    ) else {
        return;
    };
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    assert!(!victim.is_stopped(), "victim still paused: {all}");
    assert!(!all.contains("PASS"), "{all}");
    let listing = all.split("FILES:").nth(1).unwrap_or("");
    // A report that is named exists; no report file is left empty.
    if let Some(line) = all.lines().find(|l| l.starts_with("report: ")) {
        assert!(
            listing.contains("report.md "),
            "named but missing: {line}\n{all}"
        );
    }
    for line in listing.lines().filter(|l| l.starts_with("report.")) {
        assert!(!line.ends_with(" 0"), "empty report file: {line}\n{all}");
    }
    // What was written says what the exit code says.
    if listing.contains("report.json ") {
        assert!(listing.contains("\"exit_code\": 3"), "{all}");
    }
    assert!(all.contains("No space left on device"), "{all}");
}

// ---- item 10: pid files are read safely ----

const SECRET: &str = "s3cr3t-token-4f9a1c";

fn pid_file_spec(dir: &Path, pid_file: &Path) -> String {
    let port = free_port();
    let text = format!(
        r#"{head}probes:
  - name: web
    tcp:
      address: 127.0.0.1:{port}
      interval: 50ms
faults:
  - name: freeze
    at: 100ms
    duration: 300ms
    process:
      pid_file: {}
      action: pause
"#,
        pid_file.display(),
        head = demo_head("pid-file", "1s", port),
    );
    write_spec(dir, "pid.yaml", &text).display().to_string()
}

/// Every file under `dir`, as text.
fn all_text_under(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn a_pid_file_in_proc_is_refused_and_never_copied_into_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let spec = pid_file_spec(dir.path(), Path::new("/proc/self/environ"));
    let out_dir = dir.path().join("out");
    let child = spawn(
        &["run", &spec, "--out", out_dir.to_str().unwrap()],
        &[("SHAKEOUT_TEST_SECRET", SECRET)],
    );
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));
    assert!(!text(&out).contains(SECRET), "{}", text(&out));
    // Refused at preflight, before t=0: said on the terminal, no run recorded.
    assert!(text(&out).contains("preflight failed"), "{}", text(&out));
    assert!(!out_dir.join("report.json").exists(), "no run was recorded");
    let files = all_text_under(&out_dir);
    assert!(
        !files.contains(SECRET),
        "the secret leaked into the reports"
    );
}

#[test]
fn a_fifo_pid_file_does_not_hang_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pid.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path in our own temp dir.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let spec = pid_file_spec(dir.path(), &fifo);
    let out_dir = dir.path().join("out");
    let out = wait_output(
        spawn_run(&spec, out_dir.to_str().unwrap()),
        Duration::from_secs(20),
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));
}

#[test]
fn a_regular_file_that_is_not_a_pid_is_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("creds");
    std::fs::write(&file, format!("TOKEN={SECRET}\n")).unwrap();
    let spec = pid_file_spec(dir.path(), &file);
    let out_dir = dir.path().join("out");
    let out = wait_output(
        spawn_run(&spec, out_dir.to_str().unwrap()),
        Duration::from_secs(20),
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("does not hold a pid"), "{}", text(&out));
    assert!(!text(&out).contains(SECRET), "{}", text(&out));
    assert!(!all_text_under(&out_dir).contains(SECRET));
}

#[test]
fn a_long_probe_name_still_gives_every_report_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    // The longest name `validate` accepts; longer than the 64 characters a chart file keeps.
    let probe = "p".repeat(100);
    let spec = short_spec(dir.path(), "long.yaml", "long-probe", &probe);
    let out_dir = dir.path().join("out");
    let out = run_out(&spec, out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(out_dir.join("report.html").is_file());
    let charts = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("latency-p")
        })
        .count();
    assert_eq!(charts, 1);
}
