use super::*;
use crate::report::test_support::{fixture, fixture_named};

#[test]
fn write_all_writes_every_file_and_json_round_trips() {
    let f = fixture_named("api/v1", "db");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = RunFiles {
        report_dir: dir.path().join("out"),
        chart_dir: dir.path().join("out/charts"),
    };
    let written = written_files(write_all(&f.report, &f.rec, &f.analysis, &files));
    let names: Vec<String> = written
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .expect("under tempdir")
                .display()
                .to_string()
        })
        .collect();
    for want in [
        "out/report.json",
        "out/report.md",
        "out/junit.xml",
        "out/report.html",
        "out/charts/timeline.svg",
        "out/charts/latency-api_v1.svg",
        "out/charts/latency-db.svg",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert_eq!(written.len(), 7);
    for p in &written {
        assert!(
            std::fs::metadata(p).expect("exists").len() > 0,
            "{}",
            p.display()
        );
    }
    let json = std::fs::read_to_string(files.report_dir.join("report.json")).expect("read json");
    let back: Report = serde_json::from_str(&json).expect("parse json");
    assert_eq!(back, f.report);
    let html = std::fs::read_to_string(files.report_dir.join("report.html")).expect("read html");
    let timeline = std::fs::read_to_string(files.chart_dir.join("timeline.svg")).expect("read svg");
    assert!(html.contains(&timeline), "charts are inlined in the page");
}

#[test]
fn same_dir_for_reports_and_charts() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = RunFiles {
        report_dir: dir.path().to_path_buf(),
        chart_dir: dir.path().to_path_buf(),
    };
    let written = written_files(write_all(&f.report, &f.rec, &f.analysis, &files));
    assert_eq!(written.len(), 7);
    let distinct: std::collections::BTreeSet<_> = written.iter().collect();
    assert_eq!(distinct.len(), 7);
}

#[test]
fn colliding_probe_file_names_stay_distinct() {
    let f = fixture_named("a/b", "a:b");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = RunFiles {
        report_dir: dir.path().into(),
        chart_dir: dir.path().into(),
    };
    let written = written_files(write_all(&f.report, &f.rec, &f.analysis, &files));
    assert!(written.iter().any(|p| p.ends_with("latency-a_b.svg")));
    assert!(written.iter().any(|p| p.ends_with("latency-a_b-2.svg")));
}

/// The files written, asserting that none failed.
fn written_files(w: Written) -> Vec<PathBuf> {
    assert!(w.failures.is_empty(), "{:?}", w.failures);
    w.files
}

#[test]
fn long_probe_names_give_bounded_distinct_file_names() {
    let long_a = format!("{}a", "p".repeat(250));
    let long_b = format!("{}b", "p".repeat(250));
    let f = fixture_named(&long_a, &long_b);
    let dir = tempfile::tempdir().expect("tempdir");
    let files = RunFiles {
        report_dir: dir.path().into(),
        chart_dir: dir.path().into(),
    };
    let written = written_files(write_all(&f.report, &f.rec, &f.analysis, &files));
    let charts: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(String::from))
        .filter(|n| n.starts_with("latency-"))
        .collect();
    assert_eq!(charts.len(), 2, "{charts:?}");
    assert_ne!(charts[0], charts[1]);
    for name in &charts {
        assert!(name.len() <= 80, "{name}");
    }
    assert!(written.iter().any(|p| p.ends_with("report.html")));
}

#[test]
fn a_file_that_cannot_be_written_is_listed_and_not_left_behind() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory where report.md should go: that one file cannot be written.
    std::fs::create_dir(dir.path().join("report.md")).expect("mkdir");
    let files = RunFiles {
        report_dir: dir.path().into(),
        chart_dir: dir.path().into(),
    };
    let w = write_all(&f.report, &f.rec, &f.analysis, &files);
    assert_eq!(w.failures.len(), 1, "{:?}", w.failures);
    assert!(w.failures[0].contains("report.md"), "{:?}", w.failures);
    assert!(!w.files.iter().any(|p| p.ends_with("report.md")));
    // The others were still written.
    assert_eq!(w.files.len(), 6, "{:?}", w.files);
}

#[test]
fn sanitized_names() {
    assert_eq!(sanitize_file_stem("../etc/passwd"), "_etc_passwd");
    assert_eq!(sanitize_file_stem(""), "probe");
    assert_eq!(sanitize_file_stem("db-1.primary"), "db-1.primary");
    let long = sanitize_file_stem(&"x".repeat(300));
    assert_eq!(long.len(), crate::util::FILE_STEM_MAX);
    assert_eq!(long, sanitize_file_stem(&"x".repeat(300)), "stable");
}

#[test]
fn budget_sentence_reads_like_the_docs() {
    let b = ErrorBudget {
        objective_pct: 99.95,
        period_ms: 30.0 * 86_400_000.0,
        allowed_ms: 1_296_000.0,
        spent_ms: 155.5,
        spent_pct: 0.012,
        probe: Some("api".into()),
    };
    assert_eq!(
        budget_sentence(&b),
        "spent 0.012% of the 21m36s budget (99.95% over 30d)"
    );
}
