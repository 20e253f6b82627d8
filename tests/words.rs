//! Issue 8 item 5: the words of a report say what happened. The real binary runs real
//! experiments against the embedded demo on loopback, stopped by real signals.

mod util;
use std::path::Path;
use std::time::Duration;
use util::experiment::{demo_head, ZoneLoss};
use util::*;

/// One zone, lost for most of a 3 s run: every sample fails while it is lost.
fn zone_loss(port: u16) -> String {
    ZoneLoss {
        name: "words",
        duration: "3s",
        zones: "[a]",
        replicas_per_zone: 1,
        health_check: false,
        sla: "  availability: 10%\n  recovery_time: 1s\n",
        fault_at: "200ms",
        fault_for: "2s",
    }
    .yaml(port)
}

/// Start a run of `spec` into `out`, and send `sig` once its fault has been injected.
fn run_and_signal(spec: &Path, out: &Path, sig: i32) -> std::process::Output {
    let child = spawn_run(spec.to_str().unwrap(), out.to_str().unwrap());
    wait_for_event(out, "fault_injected", Duration::from_secs(10));
    // A few failed samples after the injection, so there is something to recover from.
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, sig);
    wait_output(child, Duration::from_secs(15))
}

/// SIGTERM mid-fault: the run reverts the fault and stops before probes recover. It
/// said `NOT RECOVERED`, as if the fault had been left in place.
#[test]
fn an_aborted_run_says_its_fault_was_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "w.yaml", &zone_loss(free_port()));
    let out_dir = dir.path().join("run");
    let out = run_and_signal(&spec, &out_dir, libc::SIGTERM);
    assert_eq!(code(&out), 1, "{}", text(&out));

    let words = "reverted; probes had not recovered when the run stopped";
    assert!(
        text(&out).contains(&format!("fault lose-zone-a: {words}")),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("NOT RECOVERED"), "{}", text(&out));
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains(words), "{md}");
    let report = read_report(&out_dir);
    assert_eq!(report["verdict"], "aborted");
}

/// SIGKILL mid-run: events.jsonl ends early. `shakeout report` judged it `fail` with
/// `aborted: null`; it is aborted where its events end.
#[test]
fn a_killed_run_re_renders_as_aborted_where_its_events_end() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "w.yaml", &zone_loss(free_port()));
    let out_dir = dir.path().join("run");
    let out = run_and_signal(&spec, &out_dir, libc::SIGKILL);
    assert_eq!(out.status.code(), None, "killed by a signal");
    // The fault was left in place with the killed run's in-process demo; nothing to undo.
    let _ = shakeout(&["rollback", out_dir.to_str().unwrap()]);

    let out = shakeout(&["report", out_dir.to_str().unwrap()]);
    // `report` exits 0 when it re-rendered; the verdict is in its words and files.
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).starts_with("ABORTED "), "{}", text(&out));
    let report = read_report(&out_dir);
    assert_eq!(report["verdict"], "aborted", "{report}");
    let reason = report["aborted"]["reason"].as_str().unwrap_or_default();
    let measured_s = report["measured_ms"].as_f64().unwrap() / 1000.0;
    assert!(measured_s > 0.2 && measured_s < 3.0, "{measured_s}");
    assert_eq!(
        reason,
        format!(
            "events end at {} s of 3 s",
            shakeout::format::fmt_num(measured_s)
        )
    );
    assert_eq!(report["aborted"]["at_ms"], report["measured_ms"]);
    assert!(
        text(&out).contains("not reverted by the run"),
        "{}",
        text(&out)
    );
}

/// A latency fault that failed no sample said `recovered in 0.0ms`; recovery is about
/// failures, so it says there were none.
#[test]
fn a_fault_without_failures_says_so() {
    let (port, proxy) = (free_port(), free_port());
    let spec = format!(
        r#"{head}proxies:
  - name: api
    listen: 127.0.0.1:{proxy}
    upstream: 127.0.0.1:{port}
sla:
  recovery_time: 1s
probes:
  - name: checkout
    http:
      url: http://127.0.0.1:{proxy}/checkout
      interval: 20ms
      timeout: 2s
faults:
  - name: slow-api
    at: 300ms
    duration: 800ms
    latency:
      proxy: api
      latency: 5ms
"#,
        head = demo_head("slow", "1500ms", port)
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "slow.yaml", &spec);
    let out_dir = dir.path().join("run");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));

    assert!(
        text(&out).contains("fault slow-api: no failed samples"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("recovered in"), "{}", text(&out));
    let report = read_report(&out_dir);
    assert_eq!(report["sla"][0]["measured"], "no failed samples");
    assert_eq!(report["sla"][0]["pass"], true);
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("| no failed samples |"), "{md}");
}
