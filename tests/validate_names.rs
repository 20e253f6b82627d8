//! Names, exposure and size limits of a spec, checked by the real `validate` binary.

mod util;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use util::*;

fn validate(dir: &std::path::Path, name: &str, spec: &str) -> (i32, String) {
    let file = write_spec(dir, name, spec);
    let out = shakeout(&["validate", file.to_str().unwrap()]);
    (code(&out), text(&out))
}

#[test]
fn empty_blank_and_tab_only_fault_and_proxy_names_are_rejected_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "name: blanks\nduration: 10s\n\
                proxies:\n  - name: \"\\t\"\n    listen: 127.0.0.1:18082\n    upstream: 127.0.0.1:18080\n\
                probes:\n  - name: web\n    tcp: {address: 127.0.0.1:18082}\n\
                faults:\n\
                \x20 - name: \"\"\n    at: 1s\n    duration: 1s\n    process: {pid: 4242, action: pause}\n\
                \x20 - name: \"   \"\n    at: 3s\n    duration: 1s\n    process: {pid: 4243, action: pause}\n\
                \x20 - name: \"\\t\\t\"\n    at: 5s\n    duration: 1s\n    process: {pid: 4244, action: pause}\n";
    let (code, all) = validate(dir.path(), "blank.yaml", spec);
    assert_eq!(code, 2, "{all}");
    for (line, path) in [
        (4, "proxies[0].name"),
        (11, "faults[0].name"),
        (15, "faults[1].name"),
        (19, "faults[2].name"),
    ] {
        let want = format!("blank.yaml:{line}:11: {path}: must not be empty or blank");
        assert!(all.contains(&want), "missing `{want}` in\n{all}");
    }
}

#[test]
fn names_longer_than_a_file_name_can_hold_are_rejected_by_validate() {
    let dir = tempfile::tempdir().unwrap();
    let long = "n".repeat(101);
    let fits = "m".repeat(100);
    let spec = format!(
        "name: {long}\nduration: 10s\n\
         proxies:\n  - name: {long}\n    listen: 127.0.0.1:18082\n    upstream: 127.0.0.1:18080\n\
         probes:\n  - name: {long}\n    tcp: {{address: 127.0.0.1:18082}}\n  - name: {fits}\n    tcp: {{address: 127.0.0.1:18082}}\n\
         faults:\n  - name: {long}\n    at: 1s\n    duration: 1s\n    process: {{pid: 4242, action: pause}}\n"
    );
    let (code, all) = validate(dir.path(), "long.yaml", &spec);
    assert_eq!(code, 2, "{all}");
    for path in [
        "name",
        "proxies[0].name",
        "probes[0].name",
        "faults[0].name",
    ] {
        let want = format!("{path}: is 101 characters long; at most 100 fit in file names");
        assert!(all.contains(&want), "missing `{want}` in\n{all}");
    }
    assert!(!all.contains("probes[1].name"), "{all}");
    assert!(all.contains("4 errors"), "{all}");
}

#[test]
fn a_non_loopback_listen_needs_expose_true() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |expose: &str| {
        format!(
            "name: exposed\nduration: 10s\n\
             target:\n  demo:\n    listen: 0.0.0.0:18080\n{expose}\
             proxies:\n  - name: p\n    listen: 0.0.0.0:18082\n    upstream: 127.0.0.1:18080\n{expose}\
             probes:\n  - name: web\n    tcp: {{address: 127.0.0.1:18082}}\n"
        )
    };
    let (code, all) = validate(dir.path(), "exposed.yaml", &spec(""));
    assert_eq!(code, 2, "{all}");
    assert!(
        all.contains("exposed.yaml:5:13: target.demo.listen: 0.0.0.0:18080 can be reached from other hosts and its API has no authentication; listen on 127.0.0.1, or add `expose: true` to `target.demo` if that is meant"),
        "{all}"
    );
    assert!(
        all.contains(
            "exposed.yaml:8:13: proxies[0].listen: 0.0.0.0:18082 can be reached from other hosts"
        ),
        "{all}"
    );
    let (code, all) = validate(dir.path(), "meant.yaml", &spec("    expose: true\n"));
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("meant.yaml: ok"), "{all}");
}

#[test]
fn localhost_port_is_an_address_everywhere_in_a_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "name: lh\nduration: 20s\n\
                target:\n  demo:\n    listen: localhost:18080\n\
                proxies:\n  - name: p1\n    listen: localhost:18082\n    upstream: localhost:18080\n\
                \x20 - name: p2\n    api: http://localhost:8474\n    listen: localhost:18083\n    upstream: localhost:18080\n\
                probes:\n  - name: c\n    http: {url: http://localhost:18082/checkout}\n  - name: t\n    tcp: {address: localhost:18083}\n\
                faults:\n  - name: slow\n    at: 5s\n    duration: 10s\n    latency: {proxy: p1, latency: 200ms}\n";
    let (code, all) = validate(dir.path(), "lh.yaml", spec);
    assert_eq!(code, 0, "{all}");
    let plan = shakeout(&["plan", dir.path().join("lh.yaml").to_str().unwrap()]);
    let text = text(&plan);
    // The proxy's listen is read as loopback, so the latency fault is measured by the
    // probe that goes through it.
    assert!(
        text.contains("p1: 127.0.0.1:18082 -> localhost:18080"),
        "{text}"
    );
    assert!(text.contains("measured by c"), "{text}");
}

/// 10,000 faults on a few shared targets, every one after the other.
fn many_faults(n: usize) -> String {
    let mut s = String::from(
        "name: many\nduration: 4h\ntarget:\n  demo:\n    listen: 127.0.0.1:18080\n    zones: [a, b, c]\n\
         proxies:\n  - name: p\n    listen: 127.0.0.1:18082\n    upstream: 127.0.0.1:18080\n\
         probes:\n  - name: c\n    http: {url: http://127.0.0.1:18082/x}\nfaults:\n",
    );
    for i in 0..n {
        let kind = match i % 3 {
            0 => format!("process: {{pid: {}, action: pause}}", 1000 + i % 7),
            1 => format!("az_loss: {{zone: {}}}", ["a", "b", "c"][i % 3]),
            _ => "network: {proxy: p, down: true}".to_string(),
        };
        let _ = writeln!(
            s,
            "  - name: f{i}\n    at: {}ms\n    duration: 900ms\n    {kind}",
            i * 1000
        );
    }
    s
}

#[test]
fn ten_thousand_faults_validate_quickly_and_an_overlap_among_them_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let spec = many_faults(10_000);
    let started = Instant::now();
    let (code, all) = validate(dir.path(), "many.yaml", &spec);
    let took = started.elapsed();
    assert_eq!(code, 0, "{all}");
    // A generous bound for a debug build on a shared machine; the README gives the
    // measured figure of a release build.
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // One long fault at the start covers many later faults on its pid, not only its
    // neighbour: each of them is reported.
    let covering = spec.replace(
        "  - name: f0\n    at: 0ms\n    duration: 900ms\n",
        "  - name: f0\n    at: 0ms\n    duration: 50s\n",
    );
    let (code, all) = validate(dir.path(), "covering.yaml", &covering);
    assert_eq!(code, 2, "{all}");
    for later in ["f21", "f42"] {
        assert!(
            all.contains(&format!("`{later}` overlaps `f0` on ")),
            "{later}: {all}"
        );
    }
    assert!(!all.contains("`f63` overlaps"), "{all}");
}
