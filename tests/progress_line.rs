//! Issue 8 item 5, last part: the live progress line states each probe's current
//! window (ok, failed, lateness, how long it has been failing), not a cumulative rate.
//! The line is drawn only on a terminal, so the real binary runs under `script(1)`'s pty.

mod util;
use std::process::Command;
use util::experiment::ZoneLoss;
use util::*;

#[test]
fn the_progress_line_shows_the_current_window() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: script(1) is needed for a pseudo-terminal");
        return;
    }
    let port = free_port();
    let spec = ZoneLoss {
        name: "progress",
        duration: "2500ms",
        zones: "[a]",
        replicas_per_zone: 1,
        health_check: false,
        sla: "",
        fault_at: "500ms",
        fault_for: "2s",
    }
    .yaml(port);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "p.yaml", &spec);
    let run = format!(
        "{} run {} --out {}",
        bin().display(),
        spec.display(),
        dir.path().join("run").display()
    );
    let out = Command::new("timeout")
        .args(["30", "script", "-qec", &run, "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));

    let screen = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    let lines: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains(" last 1s: "))
        .collect();
    assert!(!lines.is_empty(), "no progress line:\n{screen}");
    // Before the fault the window is all successes; once the zone has been gone for over
    // a second it is all failures. A cumulative rate never reads "0 ok".
    assert!(
        lines.iter().any(|l| l.contains(" 0 failed, max lateness ")),
        "{screen}"
    );
    let gone = lines
        .iter()
        .find(|l| l.contains("checkout last 1s: 0 ok, ") && l.contains(", failing for "))
        .unwrap_or_else(|| panic!("no window of failures only:\n{screen}"));
    assert!(gone.contains("| active: lose-zone-a"), "{gone}");
    assert!(
        !screen.contains("% ok ("),
        "the old cumulative rate:\n{screen}"
    );
}
