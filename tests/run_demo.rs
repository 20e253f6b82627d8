//! `shakeout run` end to end on the embedded demo and on the example experiments.

mod util;
use std::time::Duration;
use util::experiment::ZoneLoss;
use util::*;

fn zone_loss_spec(port: u16) -> String {
    ZoneLoss {
        name: "short-zone-loss",
        duration: "6s",
        zones: "[a, b, c]",
        replicas_per_zone: 2,
        health_check: true,
        sla: "  availability: 90%\n  recovery_time: 2s\n  latency_p99: 250ms\n  error_budget:\n    objective: 99.95%\n    period: 30d\n",
        fault_at: "2s",
        fault_for: "2s",
    }
    .yaml(port)
}

#[test]
fn zone_loss_run_writes_reports_and_charts_under_run_id() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "z.yaml", &zone_loss_spec(free_port()));
    let out = std::process::Command::new(bin())
        .args(["run", spec.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));

    let runs: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    let run_dir = &runs[0];
    let run_id = run_dir.file_name().unwrap().to_str().unwrap().to_string();
    // Timestamp, experiment name, then a short random suffix that keeps ids unique.
    let (prefix, suffix) = run_id.rsplit_once('-').unwrap();
    assert!(prefix.ends_with("Z-short-zone-loss"), "{run_id}");
    assert!(
        suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_hexdigit()),
        "{run_id}"
    );
    for f in [
        "report.json",
        "report.md",
        "report.html",
        "junit.xml",
        "events.jsonl",
        "journal.jsonl",
        "experiment.yaml",
    ] {
        assert!(run_dir.join(f).is_file(), "missing {f}");
    }
    let charts = dir.path().join("charts").join(&run_id);
    assert!(charts.join("timeline.svg").is_file());
    assert!(charts.join("latency-checkout.svg").is_file());

    let r = read_report(run_dir);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["verdict"], "pass");
    let p = &r["probes"][0];
    assert_eq!(p["name"], "checkout");
    assert_eq!(p["total"], 600);
    let failed = p["failed"].as_u64().unwrap();
    // Zone a serves a third of the requests until the balancer ejects it (2 checks × 100 ms).
    assert!((1..=100).contains(&failed), "failed {failed}");
    for o in p["outages"].as_array().unwrap() {
        let start = o["start_ms"].as_f64().unwrap();
        assert!(
            (2000.0..2600.0).contains(&start),
            "outage outside the fault: {o}"
        );
        assert!(o["end_ms"].as_f64().unwrap() >= start);
    }
    for key in ["p50", "p99", "max"] {
        assert!(p["latency_ms"][key].as_f64().unwrap() > 0.0);
    }
    let f = &r["faults"][0];
    assert!((f["injected_at_ms"].as_f64().unwrap() - 2000.0).abs() < 50.0);
    assert!((f["reverted_at_ms"].as_f64().unwrap() - 4000.0).abs() < 50.0);
    let detect = f["detect_ms"].as_f64().unwrap();
    let recovery = f["recovery_ms"].as_f64().unwrap();
    assert!(detect < 100.0, "detect {detect}");
    assert!(
        recovery > detect && recovery < 1000.0,
        "recovery {recovery}"
    );
    let checks = r["sla"].as_array().unwrap();
    assert_eq!(checks.len(), 3);
    for c in checks {
        for key in ["name", "threshold", "measured", "pass"] {
            assert!(!c[key].is_null(), "{c}");
        }
    }
    let budget = &r["error_budget"];
    assert!((budget["allowed_ms"].as_f64().unwrap() - 1_296_000.0).abs() < 1e-3);
    assert!(
        (budget["spent_ms"].as_f64().unwrap() - p["downtime_ms"].as_f64().unwrap()).abs() < 1e-9
    );

    // Re-rendering from the saved events gives the same figures.
    let before = std::fs::read_to_string(run_dir.join("report.json")).unwrap();
    let out = shakeout(&["report", run_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(run_dir.join("report.json")).unwrap(),
        before
    );

    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
}

#[test]
fn impossible_sla_fails_with_exit_1_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let spec = zone_loss_spec(port)
        .replace("availability: 90%", "availability: 100%")
        .replace("duration: 6s", "duration: 3s")
        .replace("at: 2s\n    duration: 2s", "at: 1s\n    duration: 1s");
    let spec = write_spec(dir.path(), "z.yaml", &spec);
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("FAIL availability [checkout]"),
        "{}",
        text(&out)
    );
    let r = read_report(&out_dir);
    assert_eq!(r["verdict"], "fail");
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn port_in_use_is_a_harness_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let spec = write_spec(dir.path(), "z.yaml", &zone_loss_spec(port));
    let out = run_out(
        spec.to_str().unwrap(),
        dir.path().join("o").to_str().unwrap(),
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        text(&out).contains(&format!("127.0.0.1:{port} is already in use")),
        "{}",
        text(&out)
    );
}

#[test]
fn steady_state_example_passes_against_demo_serve() {
    let demo = Server::demo();
    let dir = tempfile::tempdir().unwrap();
    let text_ = std::fs::read_to_string("experiments/steady-state.yaml")
        .unwrap()
        .replace("18080", &demo.port.to_string())
        .replace("duration: 10s", "duration: 3s");
    let spec = write_spec(dir.path(), "s.yaml", &text_);
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));
    let r = read_report(&out_dir);
    assert_eq!(r["probes"][0]["failed"], 0);
    assert_eq!(r["probes"][1]["name"], "port");
    assert!(r["faults"].as_array().unwrap().is_empty());
}

#[test]
fn process_pause_example_freezes_demo_serve_and_thaws_it() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("demo.pid");
    let demo = Server::demo_with_pid_file(&pid_file);
    let text_ = std::fs::read_to_string("experiments/process-pause.yaml")
        .unwrap()
        .replace("18080", &demo.port.to_string())
        .replace("/tmp/shakeout-demo.pid", pid_file.to_str().unwrap());
    let spec = write_spec(dir.path(), "p.yaml", &text_);
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_ne!(proc_state(demo.child.id()), Some('T'), "demo still frozen");
    let r = read_report(&out_dir);
    let outages = r["probes"][0]["outages"].as_array().unwrap();
    assert_eq!(outages.len(), 1, "{outages:?}");
    let (start, end) = (
        outages[0]["start_ms"].as_f64().unwrap(),
        outages[0]["end_ms"].as_f64().unwrap(),
    );
    // Frozen 5 s..10 s. Requests sent in the last 250 ms (the timeout) before the thaw are
    // answered after it, so they succeed: the outage ends up to one timeout early.
    assert!((start - 5000.0).abs() <= 45.0, "start {start}");
    assert!(
        (10000.0 - 250.0 - 45.0..=10000.0 + 45.0).contains(&end),
        "end {end}"
    );
}

fn zone_mode(port: u16, zone: &str) -> String {
    let (_, body) =
        http_get(&format!("127.0.0.1:{port}"), "/_shakeout/zones").expect("admin API answers");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let z = v["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["name"] == zone)
        .cloned()
        .unwrap();
    z["mode"].as_str().unwrap().to_string()
}

#[test]
fn external_demo_zone_is_restored_after_the_run_and_by_rollback_after_sigkill() {
    let demo = Server::demo();
    let dir = tempfile::tempdir().unwrap();
    let spec = |run: &str, fault: &str| {
        format!(
            "name: ext\nduration: {run}\ntarget:\n  demo:\n    listen: 127.0.0.1:{port}\n    external: true\nprobes:\n  - name: web\n    http:\n      url: http://127.0.0.1:{port}/\n      interval: 20ms\nfaults:\n  - name: lose-b\n    at: 300ms\n    duration: {fault}\n    az_loss:\n      zone: b\n      mode: blackhole\n",
            port = demo.port
        )
    };
    let short = write_spec(dir.path(), "short.yaml", &spec("2s", "1s"));
    let out = run_out(
        short.to_str().unwrap(),
        dir.path().join("a").to_str().unwrap(),
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(zone_mode(demo.port, "b"), "up");

    let long = write_spec(dir.path(), "long.yaml", &spec("60s", "50s"));
    let out_dir = dir.path().join("b");
    let child = spawn_run(long.to_str().unwrap(), out_dir.to_str().unwrap());
    wait_for("zone b down", Duration::from_secs(10), || {
        zone_mode(demo.port, "b") == "blackhole"
    });
    signal(&child, libc::SIGKILL);
    let _ = wait_output(child, Duration::from_secs(5));
    assert_eq!(
        zone_mode(demo.port, "b"),
        "blackhole",
        "nothing reverts a SIGKILL by itself"
    );
    let out = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("zone `b` of the demo"),
        "{}",
        text(&out)
    );
    assert_eq!(zone_mode(demo.port, "b"), "up");
}

/// Runs `shakeout ARGS` under a pseudo-terminal (util-linux `script`), returning what
/// the terminal showed.
fn on_a_terminal(args: &str) -> String {
    let cmd = format!("{} {args}", bin().display());
    let out = std::process::Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .output()
        .expect("script(1) from bsdutils");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn progress_line_on_a_terminal_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let spec = write_spec(
        dir.path(),
        "p.yaml",
        &format!("name: p\nduration: 2s\ntarget:\n  demo:\n    listen: 127.0.0.1:{port}\nprobes:\n  - name: web\n    http:\n      url: http://127.0.0.1:{port}/\n      interval: 20ms\nfaults:\n  - name: lose-a\n    at: 500ms\n    duration: 1s\n    az_loss:\n      zone: a\n"),
    );
    let out = dir.path().join("o");
    let shown = on_a_terminal(&format!("run {} --out {}", spec.display(), out.display()));
    assert!(shown.contains(" ok, "), "{shown}");
    assert!(shown.contains("s/2.0s] web last 1s: "), "{shown}");
    assert!(shown.contains("active: lose-a"), "{shown}");
    let quiet = on_a_terminal(&format!(
        "run {} --out {}2 --quiet",
        spec.display(),
        out.display()
    ));
    assert!(!quiet.contains("s/2.0s]"), "{quiet}");
    assert!(quiet.contains("PASS p"), "{quiet}");
    // Not a terminal: no progress line either.
    let piped = run_out(spec.to_str().unwrap(), &format!("{}3", out.display()));
    assert!(!text(&piped).contains("s/2.0s]"), "{}", text(&piped));
}
