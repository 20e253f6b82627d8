//! `shakeout validate` and `shakeout plan` on real files.

mod util;
use util::*;

#[test]
fn every_example_experiment_validates() {
    let mut files: Vec<String> = std::fs::read_dir("experiments")
        .expect("experiments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected at least three examples, found {files:?}"
    );
    let args: Vec<&str> = std::iter::once("validate")
        .chain(files.iter().map(String::as_str))
        .collect();
    // The HTTPS example takes its token from the environment, as in production.
    let out = std::process::Command::new(bin())
        .args(&args)
        .env("API_TOKEN", "example-token")
        .output()
        .expect("run shakeout");
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!text(&out).contains("example-token"));
    for f in &files {
        assert!(text(&out).contains(&format!("{f}: ok")), "{}", text(&out));
    }
}

/// One misspelling in every section, probe kind and fault kind: all reported at once,
/// each with FILE:LINE:COL, its field path and the nearest valid name.
#[test]
fn every_misspelling_is_reported_at_once_with_position_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "typos.yaml",
        r#"name: typos
duraton: 10s
target:
  demo:
    listen: 127.0.0.1:18080
    zone: [a, b]
    health_check:
      intervall: 1s
sla:
  availabilty: 99%
  error_budget:
    objectiv: 99.9%
    period: 30d
probes:
  - name: web
    http:
      url: http://127.0.0.1:18080/
      timout: 1s
  - name: port
    tcp:
      adress: 127.0.0.1:18080
faults:
  - name: zone
    at: 1s
    duration: 1s
    az_loss:
      zonee: a
  - name: freeze
    at: 1s
    duration: 1s
    process:
      pid: 1234
      acton: pause
  - name: mode
    at: 1s
    duration: 1s
    az_loss:
      zone: a
      mode: crsh
guardrails:
  - probe: web
    max_outge: 1s
"#,
    );
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let f = spec.display().to_string();
    let expected = [
        format!("{f}:2:1: duraton: unknown field `duraton`, did you mean `duration`?"),
        format!("{f}:6:5: target.demo.zone: unknown field `zone`, did you mean `zones`?"),
        format!("{f}:8:7: target.demo.health_check.intervall: unknown field `intervall`, did you mean `interval`?"),
        format!("{f}:10:3: sla.availabilty: unknown field `availabilty`, did you mean `availability`?"),
        format!("{f}:12:5: sla.error_budget.objectiv: unknown field `objectiv`, did you mean `objective`?"),
        format!("{f}:18:7: probes[0].http.timout: unknown field `timout`, did you mean `timeout`?"),
        format!("{f}:21:7: probes[1].tcp.adress: unknown field `adress`, did you mean `address`?"),
        format!("{f}:27:7: faults[0].az_loss.zonee: unknown field `zonee`, did you mean `zone`?"),
        format!("{f}:33:7: faults[1].process.acton: unknown field `acton`, did you mean `action`?"),
        format!("{f}:39:13: faults[2].az_loss.mode: unknown variant `crsh`, did you mean `crash`?"),
        format!("{f}:42:5: guardrails[0].max_outge: unknown field `max_outge`, did you mean `max_outage`?"),
    ];
    let all = text(&out);
    for line in &expected {
        assert!(
            all.contains(line.as_str()),
            "missing:\n  {line}\nin:\n{all}"
        );
    }
}

#[test]
fn semantic_errors_are_all_reported_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "bad.yaml",
        r#"name: bad
duration: 20s
target:
  demo:
    listen: 127.0.0.1:18080
    zones: [a, b]
sla:
  availability: 99%
probes:
  - name: web
    http:
      url: ftp://127.0.0.1/
  - name: web
    tcp:
      address: 127.0.0.1:18080
faults:
  - name: late
    at: 30s
    duration: 5s
    az_loss:
      zone: a
  - name: wrong-zone
    at: 1s
    duration: 5s
    az_loss:
      zone: d
  - name: two-kinds
    at: 1s
    duration: 1s
    az_loss:
      zone: a
    process:
      pid: 1234
      action: pause
  - name: kill-no-restart
    at: 1s
    duration: 1s
    process:
      pid: 1234
      action: kill
"#,
    );
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let all = text(&out);
    let f = spec.display().to_string();
    for needle in [
        format!(
            "{f}:12:12: probes[0].http.url: `ftp://127.0.0.1/`: the scheme must be http:// or https://"
        ),
        format!("{f}:13:11: probes[1].name: duplicate probe name `web`"),
        format!("{f}:18:9: faults[0].at: 30s is not before the end of the run (20s)"),
        format!("{f}:26:13: faults[1].az_loss.zone: no zone named `d`; zones are: a, b"),
        "faults[2]: give exactly one fault kind".to_string(),
        "faults[3].process.restart: a killed process cannot be brought back".to_string(),
    ] {
        assert!(all.contains(&needle), "missing:\n  {needle}\nin:\n{all}");
    }
}

#[test]
fn yaml_syntax_and_type_errors_have_positions() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "syntax.yaml", "name: x\nduration: [10s\n");
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out).contains(&format!("{}:", spec.display())),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("invalid YAML"), "{}", text(&out));

    let spec = write_spec(dir.path(), "types.yaml", "name: x\nduration: 10\nprobes:\n  - name: p\n    tcp:\n      address: 127.0.0.1:1\n      interval: fast\n");
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let all = text(&out);
    assert!(all.contains(":2:11: duration: `10` has no unit"), "{all}");
    assert!(
        all.contains(":7:17: probes[0].tcp.interval: `fast` is not a duration"),
        "{all}"
    );
}

#[test]
fn missing_file_is_invalid_input() {
    let out = shakeout(&["validate", "/nonexistent/exp.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out).contains("/nonexistent/exp.yaml: cannot read"),
        "{}",
        text(&out)
    );
}

#[test]
fn plan_prints_the_timeline_and_checks_and_touches_nothing() {
    let out = shakeout(&["plan", "experiments/zone-loss.yaml"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("10s  inject `lose-zone-a` [az_loss]"), "{all}");
    assert!(all.contains("25s  revert `lose-zone-a`"), "{all}");
    assert!(
        all.contains("availability >= 99% for each probe (checkout)"),
        "{all}"
    );
    assert!(all.contains("latency p99 <= 250ms"), "{all}");
    assert!(
        all.contains("recovery time <= 5s for fault `lose-zone-a`"),
        "{all}"
    );
}

#[test]
fn plan_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = std::fs::read_to_string("experiments/zone-loss.yaml")
        .unwrap()
        .replace("18080", &port.to_string());
    let spec = write_spec(dir.path(), "z.yaml", &text);
    let mut child = std::process::Command::new(bin())
        .args(["plan", spec.to_str().unwrap()])
        .spawn()
        .unwrap();
    // While it runs and after: the demo's port never opens.
    for _ in 0..20 {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "plan started the demo"
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(child.wait().unwrap().success());
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() == 1,
        "plan wrote files"
    );
}

#[test]
fn overlapping_faults_on_one_target_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "o.yaml",
        "name: o\nduration: 30s\ntarget:\n  demo:\n    listen: 127.0.0.1:18080\nprobes:\n  - name: p\n    tcp:\n      address: 127.0.0.1:18080\nfaults:\n  - name: one\n    at: 1s\n    duration: 10s\n    az_loss:\n      zone: a\n  - name: other-zone\n    at: 2s\n    duration: 10s\n    az_loss:\n      zone: b\n  - name: two\n    at: 5s\n    duration: 10s\n    az_loss:\n      zone: a\n      mode: blackhole\n  - name: later\n    at: 11s\n    duration: 5s\n    az_loss:\n      zone: a\n",
    );
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains(":22:9: faults[2].at: `two` overlaps `one` on zone `a` of 127.0.0.1:18080"),
        "{all}"
    );
    assert!(!all.contains("other-zone` overlaps"), "{all}");
    // `later` starts when `one` ends but overlaps `two`.
    assert!(all.contains("`later` overlaps `two`"), "{all}");
    assert!(!all.contains("`later` overlaps `one`"), "{all}");
}

/// The kinds the first misspelling test does not reach: the proxy faults, `proxies:`,
/// the nested `az_loss` layer, and the kind keys themselves.
#[test]
fn misspellings_in_proxy_faults_and_zone_layers_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "typos2.yaml",
        r#"name: typos2
duration: 10s
target:
  demo:
    listen: 127.0.0.1:18080
proxies:
  - name: api
    listn: 127.0.0.1:18081
    upstream: 127.0.0.1:18080
probes:
  - name: web
    http:
      url: http://127.0.0.1:18081/
faults:
  - name: slow
    at: 1s
    duration: 1s
    latency:
      proxy: api
      latncy: 100ms
  - name: thin
    at: 1s
    duration: 1s
    network:
      proxy: api
      bandwith:
        rate: 1
  - name: zone
    at: 1s
    duration: 1s
    az_loss:
      zone: a
      demo:
        mdoe: crash
  - name: layer
    at: 1s
    duration: 1s
    az_loss:
      zone: a
      dem:
        mode: crash
  - name: kind
    at: 1s
    duration: 1s
    az_los:
      zone: a
"#,
    );
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let f = spec.display().to_string();
    let all = text(&out);
    for line in [
        format!("{f}:8:5: proxies[0].listn: unknown field `listn`, did you mean `listen`?"),
        format!("{f}:20:7: faults[0].latency.latncy: unknown field `latncy`, did you mean `latency`?"),
        format!("{f}:26:7: faults[1].network.bandwith: unknown field `bandwith`, did you mean `bandwidth`?"),
        format!("{f}:34:9: faults[2].az_loss.demo.mdoe: unknown field `mdoe`, did you mean `mode`?"),
        format!("{f}:40:7: faults[3].az_loss.dem: unknown field `dem`, did you mean `demo`?"),
        format!("{f}:45:5: faults[4].az_los: unknown field `az_los`, did you mean `az_loss`?"),
    ] {
        assert!(all.contains(&line), "missing:\n  {line}\nin:\n{all}");
    }
}

/// `az_loss: {zone, mode}` is shorthand for the demo layer: both forms plan the same
/// fault, and giving `mode` beside `demo:` is an error.
#[test]
fn az_loss_shorthand_and_nested_demo_layer_plan_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let spec_with = |fault: &str| {
        format!(
            "name: z\nduration: 30s\ntarget:\n  demo:\n    listen: 127.0.0.1:18080\nprobes:\n  - name: p\n    tcp:\n      address: 127.0.0.1:18080\nfaults:\n  - name: lose-b\n    at: 5s\n    duration: 10s\n    az_loss:\n{fault}"
        )
    };
    let plan_of = |name: &str, fault: &str| {
        let spec = write_spec(dir.path(), name, &spec_with(fault));
        let out = shakeout(&["plan", spec.to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        text(&out)
            .lines()
            .filter(|l| l.contains("lose-b"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let shorthand = plan_of("short.yaml", "      zone: b\n      mode: blackhole\n");
    let nested = plan_of(
        "nested.yaml",
        "      zone: b\n      demo:\n        mode: blackhole\n",
    );
    assert!(
        shorthand.iter().any(|l| l.contains(
            "inject `lose-b` [az_loss]: lose zone `b` of the demo at 127.0.0.1:18080 (replicas accept and never answer)"
        )),
        "{shorthand:?}"
    );
    assert_eq!(shorthand, nested);
    let default_short = plan_of("default.yaml", "      zone: b\n");
    let default_nested = plan_of("default-nested.yaml", "      zone: b\n      demo: {}\n");
    assert!(
        default_short[0].contains("(replicas refuse connections)"),
        "{default_short:?}"
    );
    assert_eq!(default_short, default_nested);

    let both = write_spec(
        dir.path(),
        "both.yaml",
        &spec_with("      zone: b\n      mode: crash\n      demo:\n        mode: blackhole\n"),
    );
    let out = shakeout(&["validate", both.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains(":16:13: faults[0].az_loss.mode: give `mode` inside `demo:`"),
        "{}",
        text(&out)
    );
}
