//! A probe's own `sla:` block through the real binary: two probes of one listener,
//! each held to its own latency budget; `plan` says which applies to which probe, the
//! event log records both, and `shakeout report DIR` judges the run again identically.

mod util;

use util::{code, read_report, run_out, shakeout, text, write_spec};

fn spec(addr: std::net::SocketAddr) -> String {
    format!(
        "name: budgets\nduration: 600ms\nsla:\n  availability: 99%\n  latency_p99: 5s\nprobes:\n  \
         - name: relaxed\n    tcp: {{address: \"{addr}\", interval: 50ms}}\n  \
         - name: strict\n    sla: {{latency_p99: 1us}}\n    tcp: {{address: \"{addr}\", interval: 50ms}}\n"
    )
}

#[test]
fn each_probe_is_judged_by_its_own_latency_budget_and_re_judged_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let path = write_spec(
        dir.path(),
        "b.yaml",
        &spec(listener.local_addr().expect("addr")),
    );
    let path = path.to_str().expect("utf-8");

    let plan = shakeout(&["plan", path]);
    assert_eq!(code(&plan), 0, "{}", text(&plan));
    let plan = text(&plan);
    assert!(plan.contains("latency p99 <= 5s for relaxed,"), "{plan}");
    assert!(plan.contains("latency p99 <= 1us for strict,"), "{plan}");
    assert!(
        plan.contains("availability >= 99% for each probe (relaxed, strict)"),
        "{plan}"
    );

    let out_dir = dir.path().join("out");
    let out = run_out(path, out_dir.to_str().expect("utf-8"));
    assert_eq!(code(&out), 1, "{}", text(&out));
    let report = read_report(&out_dir);
    let latency = |probe: &str| {
        report["sla"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["name"] == "latency_p99" && c["probe"] == probe)
            .cloned()
            .expect("a latency check per probe")
    };
    assert_eq!(latency("relaxed")["threshold"], "<= 5s");
    assert_eq!(latency("relaxed")["pass"], true);
    assert_eq!(latency("strict")["threshold"], "<= 1us");
    assert_eq!(latency("strict")["pass"], false);

    let events = std::fs::read_to_string(out_dir.join("events.jsonl")).expect("events");
    assert!(events.contains("\"per_probe\":{\"strict\""), "{events}");

    // Judged from the events alone: the spec is gone and nothing changes.
    let first = std::fs::read_to_string(out_dir.join("report.json")).expect("json");
    std::fs::remove_file(out_dir.join("experiment.yaml")).expect("rm spec");
    let again = shakeout(&["report", out_dir.to_str().expect("utf-8")]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(text(&again).starts_with("FAIL "), "{}", text(&again));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("report.json")).expect("json"),
        first
    );
    drop(listener);
}

#[test]
fn a_probe_sla_is_strict_and_refuses_run_wide_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text_of = |body: &str| {
        let spec = format!(
            "name: bad\nduration: 1s\nprobes:\n  - name: api\n    sla:\n{body}    tcp: {{address: \"127.0.0.1:9\"}}\n"
        );
        let path = write_spec(dir.path(), "bad.yaml", &spec);
        let out = shakeout(&["validate", path.to_str().expect("utf-8")]);
        assert_eq!(code(&out), 2, "{}", text(&out));
        text(&out)
    };
    let typo = text_of("      latency_p88: 10ms\n");
    assert!(typo.contains("bad.yaml:6:"), "{typo}");
    assert!(typo.contains("did you mean"), "{typo}");
    let wide = text_of("      recovery_time: 1s\n");
    assert!(wide.contains("probes[0].sla.recovery_time"), "{wide}");
    assert!(wide.contains("applies to the whole run"), "{wide}");
}
