//! `shakeout trend`: real run directories written by the real binary on the demo, then
//! trended. The regression is a real one: the same experiment run against a demo whose
//! balancer does not health-check, so losing a zone fails requests for the whole
//! fault instead of for a few hundred milliseconds.

mod util;
use std::path::{Path, PathBuf};
use std::time::Duration;
use util::experiment::ZoneLoss;
use util::schema::assert_valid;
use util::*;

const NAME: &str = "trend-zone-loss";

fn spec(health_check: bool) -> String {
    ZoneLoss {
        name: NAME,
        duration: "2s",
        zones: "[a, b]",
        replicas_per_zone: 1,
        health_check,
        sla: "",
        fault_at: "500ms",
        fault_for: "1s",
    }
    .yaml(free_port())
}

/// Run the experiment into `runs/<n>`; returns the run's directory.
fn run(dir: &Path, n: usize, health_check: bool) -> PathBuf {
    let spec = write_spec(dir, &format!("run-{n}.yaml"), &spec(health_check));
    let out = dir.join("runs").join(format!("run-{n}"));
    let output = wait_output(
        spawn_run(spec.to_str().expect("utf-8"), out.to_str().expect("utf-8")),
        Duration::from_secs(30),
    );
    assert_eq!(code(&output), 0, "{}", text(&output));
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

fn trend(args: &[&str]) -> std::process::Output {
    let mut all = vec!["trend"];
    all.extend_from_slice(args);
    shakeout_bounded(&all)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The slowest recovery of a run, read from its report.json.
fn recovery_ms(run: &Path) -> f64 {
    read_report(run)["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .filter_map(|f| f["recovery_ms"].as_f64())
        .fold(0.0, f64::max)
}

#[test]
fn a_run_worse_than_the_median_of_its_history_regresses_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Oldest first: one run without health checks, three with, and the newest without.
    let plan = [false, true, true, true, false];
    let runs: Vec<PathBuf> = plan
        .iter()
        .enumerate()
        .map(|(n, hc)| run(dir.path(), n, *hc))
        .collect();

    // The newest run (with health checks) after the first: better, no regression.
    // One run of history is judged only when asked to (`--min-history 1`).
    let pair = dir.path().join("pair");
    for r in &runs[..2] {
        copy_dir(r, &pair.join(r.file_name().expect("name")));
    }
    let out = trend(&[pair.to_str().expect("utf-8"), "--min-history", "1"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("| Started | Run | Verdict |"), "{md}");
    assert!(!md.contains('▲'), "{md}");

    let out_dir = dir.path().join("trend");
    let all = dir.path().join("runs");
    let out = trend(&[
        all.to_str().expect("utf-8"),
        "--out",
        out_dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("the newest run regressed: trend-zone-loss"),
        "{}",
        text(&out)
    );

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("trend.json")).expect("trend.json"))
            .expect("trend.json parses");
    assert_valid(&json, "trend.schema.json");
    assert_eq!(json["regressed"], true);
    let e = &json["experiments"][0];
    assert_eq!(e["experiment"], NAME);
    let listed: Vec<&str> = e["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["run_id"].as_str().expect("run_id"))
        .collect();
    let want: Vec<String> = runs
        .iter()
        .map(|r| read_report(r)["run_id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(listed, want, "oldest first");

    // The newest run's recovery is judged against the median of the four before it,
    // as the reports themselves give them.
    let newest = &e["runs"][4];
    let regression = newest["regressions"]
        .as_array()
        .expect("regressions")
        .iter()
        .find(|r| r["figure"] == "recovery_time")
        .unwrap_or_else(|| panic!("recovery regressed: {newest:#}"));
    let baseline = median(runs[..4].iter().map(|r| recovery_ms(r)).collect());
    // Within 1e-9 ms: JSON numbers are parsed to the nearest double or the next one.
    let close =
        |got: &serde_json::Value, want: f64| got.as_f64().is_some_and(|g| (g - want).abs() < 1e-9);
    assert!(
        close(&regression["baseline"], baseline),
        "{regression} vs {baseline}"
    );
    assert!(
        close(&regression["value"], recovery_ms(&runs[4])),
        "{regression}"
    );
    assert_eq!(regression["baseline_of"], 4);
    assert!(
        newest["regressions"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["figure"] == "longest_disruption")),
        "{newest:#}"
    );
    assert_eq!(e["newest_regressed"], true);

    check_renderings(&out_dir, &want[4]);
}

/// trend.md marks the regression and links the chart; the chart is well-formed SVG
/// with the newest run's dot in red; trend.html inlines it.
fn check_renderings(out_dir: &Path, newest_id: &str) {
    let md = std::fs::read_to_string(out_dir.join("trend.md")).expect("trend.md");
    let chart_file = format!("trend-1-{NAME}.svg");
    assert!(md.contains(&format!("]({chart_file})")), "{md}");
    let newest_row = md
        .lines()
        .find(|l| l.contains(newest_id))
        .expect("a row for the newest run");
    assert!(newest_row.contains("**▲ "), "{newest_row}");

    let svg = std::fs::read_to_string(out_dir.join(&chart_file)).expect("chart");
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let red_dots: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some("#cf222e"))
        .collect();
    assert!(
        red_dots
            .iter()
            .any(|c| c.descendants().any(|t| t.text() == Some(newest_id))),
        "the newest run is drawn as regressed"
    );
    let html = std::fs::read_to_string(out_dir.join("trend.html")).expect("trend.html");
    assert!(
        html.contains("<svg") && html.contains("newest run regressed"),
        "{html}"
    );
}

#[test]
fn runs_are_found_recursively_once_each_and_bad_files_are_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The committed example, twice (a copied run counts once), deep in the tree.
    copy_dir(
        &root.join("reports/example"),
        &dir.path().join("a/b/example"),
    );
    copy_dir(
        &root.join("reports/example"),
        &dir.path().join("c/example-copy"),
    );
    let broken = dir.path().join("c/broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    std::fs::write(broken.join("report.json"), "{\"not\": \"a report\"}").expect("write");

    let out = trend(&[dir.path().to_str().expect("utf-8")]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already found"), "{stderr}");
    assert!(stderr.contains("broken/report.json"), "{stderr}");
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("1 run of 1 experiment"), "{md}");
    assert!(md.contains("997.2ms"), "the example's recovery: {md}");
}

#[test]
fn no_runs_a_missing_directory_or_a_bad_threshold_is_invalid_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().to_str().expect("utf-8");
    let out = trend(&[empty]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("no report.json under"),
        "{}",
        text(&out)
    );
    let missing = dir.path().join("nope");
    let out = trend(&[missing.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = trend(&[empty, "--regression", "fast"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}
