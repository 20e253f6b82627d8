//! Issue 8, items 2 and 3: a flapping service reads as one disruption (judged by
//! `max_disruption`), and a run the harness measured late says so in every output.

mod util;
use std::path::Path;
use tokio::net::TcpListener;
use util::*;

/// Requests `FLAP_FROM..FLAP_TO` (by arrival) fail in the pattern fail, ok, fail, fail,
/// ok: never more than one success between failures, so with K = 3 the whole window
/// is one disruption made of many one- and two-sample outages.
const FLAP_FROM: u64 = 25;
const FLAP_TO: u64 = 175;

fn fails(n: u64) -> bool {
    (FLAP_FROM..FLAP_TO).contains(&n) && [0, 2, 3].contains(&(n % 5))
}

/// Request `n`'s reply: 500 inside the flapping window, 200 outside it.
fn flapping_reply(n: u64) -> &'static [u8] {
    if fails(n) {
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 2\r\n\r\nno"
    } else {
        net::HTTP_OK
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_service_is_one_disruption_that_max_disruption_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(net::serve_http(listener, flapping_reply));
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "flapping.yaml",
        &format!(
            "name: flapping\nduration: 4s\nsla:\n  max_outage: 70ms\n  max_disruption: 1s\n  latency_p99: 100ms\n\
             probes:\n  - name: web\n    http:\n      url: http://127.0.0.1:{port}/\n      interval: 20ms\n      timeout: 500ms\n"
        ),
    );
    let out_dir = dir.path().join("out");
    let args = [
        "run".to_string(),
        spec.display().to_string(),
        "--out".into(),
        out_dir.display().to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        shakeout(&args)
    })
    .await
    .unwrap();
    server.abort();
    assert_eq!(code(&out), 1, "{}", text(&out));

    let report = read_report(&out_dir);
    let probe = &report["probes"][0];
    let availability = probe["availability_pct"].as_f64().unwrap();
    assert!((45.0..70.0).contains(&availability), "{availability}");
    let outages = probe["outages"].as_array().unwrap();
    let disruptions = probe["disruptions"].as_array().unwrap();
    assert!(outages.len() >= 40, "{} outages", outages.len());
    assert!(
        (1..=3).contains(&disruptions.len()),
        "{} disruptions: {disruptions:?}",
        disruptions.len()
    );
    // The disruptions account for every failed sample.
    let failed: u64 = disruptions
        .iter()
        .map(|d| d["failed"].as_u64().unwrap())
        .sum();
    assert_eq!(failed, probe["failed"].as_u64().unwrap());
    let longest = probe["longest_disruption_ms"].as_f64().unwrap();
    assert!(longest > 1000.0, "{longest}");

    let check = |name: &str| {
        report["sla"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check"))["pass"]
            .as_bool()
            .unwrap()
    };
    assert!(
        check("max_outage"),
        "one-sample outages pass max_outage: 70ms"
    );
    assert!(!check("max_disruption"));

    let summary = text(&out);
    assert!(summary.contains("FAIL max_disruption"), "{summary}");
    assert!(summary.contains("disruption"), "{summary}");

    // Human reports list at most 20 outages per probe and say how many were left out.
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    let more = format!("… and {} more (all in report.json)", outages.len() - 20);
    assert!(md.contains(&more), "{md}");
    assert!(md.contains("## Disruptions"), "{md}");
    assert!(md.lines().count() < 120, "{} lines", md.lines().count());
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains(&more));
    // The SLA's latency limit is drawn on the latency chart.
    let svg = std::fs::read_to_string(out_dir.join("latency-web.svg")).unwrap();
    assert!(svg.contains("SLA p99 &lt;= 100.0ms"), "{svg}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// The committed example run with a harness stall: samples due in 10.0–10.6 s left
/// 600 ms late, more than the probe's 500 ms timeout.
fn stalled_example(dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = dir.join("reports/stalled");
    copy_dir(&root.join("reports/example"), &run);
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let mut stalled = String::new();
    for line in events.lines() {
        let mut ev: serde_json::Value = serde_json::from_str(line).unwrap();
        let due = ev["due_us"].as_u64();
        if ev["type"] == "sample" && due.is_some_and(|d| (10_000_000..10_600_000).contains(&d)) {
            ev["late_us"] = 600_000.into();
        }
        stalled.push_str(&ev.to_string());
        stalled.push('\n');
    }
    std::fs::write(run.join("events.jsonl"), stalled).unwrap();
    run
}

#[test]
fn a_run_measured_late_says_so_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let run = stalled_example(dir.path());
    let out = shakeout(&["report", run.to_str().unwrap()]);
    // Degraded is a warning, not a verdict: the SLA it was judged against still passes.
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("MEASUREMENT DEGRADED"),
        "{}",
        text(&out)
    );

    let report = read_report(&run);
    let m = &report["measurement"];
    assert_eq!(m["degraded"], true, "{m}");
    assert_eq!(m["lateness_max_ms"].as_f64(), Some(600.0));
    assert!(
        m["note"]
            .as_str()
            .unwrap()
            .contains("500.0ms probe timeout"),
        "{m}"
    );

    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(md.contains("> **Measurement degraded:**"), "{md}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("class=\"banner degraded\""));
    let junit = std::fs::read_to_string(run.join("junit.xml")).unwrap();
    assert!(junit.contains("<property name=\"measurement\" value=\"degraded\"/>"));
    assert!(junit.contains("<system-err>measurement degraded:"));
    let chart = dir.path().join("charts/stalled/latency-checkout.svg");
    let svg = std::fs::read_to_string(chart).unwrap();
    assert!(svg.contains("class=\"lateness\""));

    // `max_lateness` turns the warning into a check.
    let spec = std::fs::read_to_string(run.join("experiment.yaml")).unwrap();
    let spec = spec.replace("sla:\n", "sla:\n  max_lateness: 100ms\n");
    std::fs::write(run.join("experiment.yaml"), spec).unwrap();
    let out = shakeout(&["report", "--rejudge", run.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "re-rendering succeeded: {}", text(&out));
    assert!(text(&out).starts_with("FAIL "), "{}", text(&out));
    assert!(
        text(&out).contains("FAIL max_lateness: measured 600.0ms"),
        "{}",
        text(&out)
    );
    assert_eq!(read_report(&run)["exit_code"], 1);
}

#[test]
fn the_committed_example_is_not_degraded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let report = read_report(&root.join("reports/example"));
    assert_eq!(report["measurement"]["degraded"], false);
    assert!(
        !std::fs::read_to_string(root.join("reports/example/report.md"))
            .unwrap()
            .contains("Measurement degraded")
    );
}
