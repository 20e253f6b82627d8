//! The committed game-day example (reports/demo-gameday) is what the suite in
//! experiments/suites/demo-gameday.yaml writes: its report names every experiment in
//! order, links files that exist, and each run re-renders byte-identically from its
//! saved events with `shakeout report`.

mod util;
use std::path::Path;
use util::*;

const EXAMPLE: &str = "reports/demo-gameday";

fn suite_json() -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(EXAMPLE).join("suite.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_example_suite_report_lists_the_suites_experiments_and_links_real_files() {
    let report = suite_json();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["source"], "experiments/suites/demo-gameday.yaml");
    let suite = std::fs::read_to_string("experiments/suites/demo-gameday.yaml").unwrap();
    let runs = report["runs"].as_array().unwrap();
    for run in runs {
        let source = run["source"].as_str().unwrap();
        let listed = source.trim_start_matches("experiments/suites/");
        assert!(suite.contains(listed), "{listed} is not in the suite");
        for link in ["report_html", "report_md"] {
            let file = Path::new(EXAMPLE).join(run[link].as_str().unwrap());
            assert!(file.is_file(), "{}", file.display());
        }
    }
    assert_eq!(runs.len(), 3);
    let worst = runs.iter().map(|r| r["exit_code"].as_i64().unwrap()).max();
    assert_eq!(report["exit_code"].as_i64(), worst);
    for file in ["suite.md", "suite.html", "junit.xml", "timeline.svg"] {
        assert!(Path::new(EXAMPLE).join(file).is_file(), "{file}");
    }
}

#[test]
fn every_run_of_the_example_re_renders_byte_identically() {
    for run in suite_json()["runs"].as_array().unwrap() {
        let dir_name = run["dir"].as_str().unwrap();
        let original = Path::new(EXAMPLE).join(dir_name);
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&original).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
        }
        let out = shakeout(&["report", copy.path().to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        for entry in std::fs::read_dir(&original).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap();
            let again = std::fs::read(copy.path().join(name)).unwrap();
            assert!(
                std::fs::read(&path).unwrap() == again,
                "{dir_name}/{} changed on re-render",
                name.to_string_lossy()
            );
        }
    }
}
