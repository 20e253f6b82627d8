//! The real binary against real HTTPS servers whose CA and certificates the test
//! makes: a valid chain, a wrong name, an expired certificate, an untrusted CA, and
//! `insecure`. The bearer token comes from the environment, and no artifact of the
//! run (nor its terminal output, nor `plan`) may hold it.

mod util;

use std::path::Path;
use std::process::Command;
use util::tls::{Ca, HttpsServer};

const TOKEN: &str = "s3cr3t-token-9f2b7c";

fn probe(name: &str, url: &str, tls: &str) -> String {
    format!(
        "  - name: {name}\n    http:\n      url: {url}\n      interval: 100ms\n      timeout: 2s\n      \
         headers: {{Authorization: \"Bearer ${{API_TOKEN}}\"}}\n      expect_body: {{json_pointer: /status, equals: up}}\n      tls: {tls}\n"
    )
}

fn shakeout_with_token(args: &[&str]) -> std::process::Output {
    Command::new(util::bin())
        .args(args)
        .env("API_TOKEN", TOKEN)
        .output()
        .expect("run shakeout")
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn tls_failures_are_classified_and_the_token_reaches_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("shakeout test CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let stranger = Ca::new("someone else");
    let auth = format!("Bearer {TOKEN}");
    let valid = HttpsServer::start(ca.server(&["127.0.0.1", "localhost"], false), &auth);
    let wrong_name = HttpsServer::start(ca.server(&["db.internal"], false), &auth);
    let expired = HttpsServer::start(ca.server(&["127.0.0.1"], true), &auth);
    let untrusted = HttpsServer::start(stranger.server(&["127.0.0.1"], false), &auth);
    let trust = format!("{{ca_file: {}}}", ca_file.display());
    let mut spec =
        "name: https-check\nduration: 1s\nsla: {availability: 99%}\nprobes:\n".to_string();
    // The token in the query too: the target is echoed in the plan, events and reports.
    spec += &probe(
        "valid",
        &format!("{}?key=${{API_TOKEN}}", valid.url()),
        &trust,
    );
    spec += &probe("wrong-name", &wrong_name.url(), &trust);
    spec += &probe("expired", &expired.url(), &trust);
    spec += &probe("untrusted", &untrusted.url(), &trust);
    spec += &probe("insecure", &untrusted.url(), "{insecure: true}");
    let spec_path = util::write_spec(dir.path(), "https.yaml", &spec);
    let out = dir.path().join("out");
    let run = shakeout_with_token(&[
        "run",
        spec_path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(util::code(&run), 1, "{}", util::text(&run));

    let report = util::read_report(&out);
    let probe = |name: &str| {
        report["probes"]
            .as_array()
            .expect("probes")
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .expect("probe in report")
    };
    assert_eq!(probe("valid")["availability_pct"], 100.0, "{report:#}");
    assert_eq!(probe("insecure")["availability_pct"], 100.0, "{report:#}");
    assert_eq!(probe("insecure")["tls_insecure"], true);
    for (name, words) in [
        ("wrong-name", "name"),
        ("expired", "expired"),
        ("untrusted", "unknown"),
    ] {
        let p = probe(name);
        assert_eq!(p["failed"], p["total"], "{name}: {p:#}");
        assert_eq!(p["failure_classes"]["tls"], p["total"], "{name}: {p:#}");
        let reasons = p["errors"].to_string();
        assert!(reasons.contains(words), "{name}: {reasons}");
    }
    let markdown = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(markdown.contains("Failures by class"), "{markdown}");
    assert!(
        markdown.contains("does not verify certificates"),
        "{markdown}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("does not verify certificates"));

    // The token was sent (the valid probe passed the server's check) and appears nowhere.
    let plan = shakeout_with_token(&["plan", spec_path.to_str().expect("utf-8")]);
    assert_eq!(util::code(&plan), 0, "{}", util::text(&plan));
    let mut outputs = vec![
        ("run output".to_string(), util::text(&run)),
        ("plan output".to_string(), util::text(&plan)),
    ];
    for file in files(&out) {
        let bytes = std::fs::read(&file).expect("read artifact");
        outputs.push((
            file.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    assert!(
        outputs.len() >= 8,
        "every artifact was read: {}",
        outputs.len()
    );
    for (what, text) in &outputs {
        assert!(!text.contains(TOKEN), "{what} holds the token");
        assert!(!text.contains("s3cr3t"), "{what} holds part of the token");
    }
    let events = std::fs::read_to_string(out.join("events.jsonl")).expect("events");
    assert!(events.contains("?key=***"), "the target is there, redacted");
    assert!(
        events.contains("\"class\":\"tls\""),
        "events carry the class"
    );
}

#[test]
fn a_missing_variable_is_an_error_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = "name: env\nduration: 1s\nprobes:\n  - name: api\n    http:\n      url: https://${SHAKEOUT_TEST_UNSET_HOST}/health\n";
    let path = util::write_spec(dir.path(), "env.yaml", spec);
    let out = Command::new(util::bin())
        .args(["validate", path.to_str().expect("utf-8")])
        .env_remove("SHAKEOUT_TEST_UNSET_HOST")
        .output()
        .expect("run");
    assert_eq!(util::code(&out), 2, "{}", util::text(&out));
    let text = util::text(&out);
    assert!(
        text.contains("env.yaml:6:20: probes[0].http.url: environment variable `SHAKEOUT_TEST_UNSET_HOST` is not set"),
        "{text}"
    );
}
