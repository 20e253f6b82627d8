//! `shakeout report DIR`: a past run re-rendered from its saved events, judged against
//! the SLA it recorded, or against its edited experiment.yaml with `--rejudge`.

mod util;
use std::path::Path;
use util::experiment::ZoneLoss;
use util::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// Every file of `want` has the same bytes in `got`.
fn assert_same_files(want: &Path, got: &Path) {
    for entry in std::fs::read_dir(want).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        let (a, b) = (
            std::fs::read(&path).unwrap(),
            std::fs::read(got.join(name)).unwrap(),
        );
        assert!(a == b, "{} differs after re-rendering", path.display());
    }
}

/// The committed example predates recorded SLAs: it is judged against its saved
/// experiment.yaml, and every rendering comes out byte for byte as committed.
#[test]
fn committed_example_re_renders_byte_identically() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports/example");
    copy_dir(&root.join("reports/example"), &reports);
    copy_dir(
        &root.join("charts/example"),
        &dir.path().join("charts/example"),
    );

    let out = shakeout(&["report", reports.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).starts_with("PASS "), "{}", text(&out));
    assert_same_files(&root.join("reports/example"), &reports);
    assert_same_files(
        &root.join("charts/example"),
        &dir.path().join("charts/example"),
    );
}

fn short_zone_loss(port: u16, availability: &str) -> String {
    ZoneLoss {
        name: "rejudge",
        duration: "2s",
        zones: "[a, b]",
        replicas_per_zone: 1,
        health_check: true,
        sla: &format!("  availability: {availability}\n"),
        fault_at: "500ms",
        fault_for: "1s",
    }
    .yaml(port)
}

#[test]
fn a_run_is_judged_again_by_its_recorded_sla_unless_rejudged() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "z.yaml", &short_zone_loss(free_port(), "50%"));
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));
    let first = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    let r = read_report(&out_dir);
    let failed = r["probes"][0]["failed"].as_u64().unwrap();
    assert!(failed > 0, "losing a zone fails some samples: {r}");

    // The SLA is in the event log: an edited (here: stricter) spec changes nothing...
    let saved = out_dir.join("experiment.yaml");
    let text_before = std::fs::read_to_string(&saved).unwrap();
    std::fs::write(
        &saved,
        text_before.replace("availability: 50%", "availability: 100%"),
    )
    .unwrap();
    let out = shakeout(&["report", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("report.json")).unwrap(),
        first
    );

    // ...until it is asked for: then the run fails the stricter threshold.
    let out = shakeout(&["report", "--rejudge", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).starts_with("FAIL "), "{}", text(&out));
    let r = read_report(&out_dir);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["sla"][0]["threshold"], ">= 100%");

    // Neither way needs the spec compiler when the SLA was recorded: without the spec
    // the recorded SLA still judges, and --rejudge says what is missing.
    std::fs::remove_file(&saved).unwrap();
    let out = shakeout(&["report", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(read_report(&out_dir)["verdict"], "pass");
    let out = shakeout(&["report", "--rejudge", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("experiment.yaml"), "{}", text(&out));
}
