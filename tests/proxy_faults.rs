//! Latency and network faults end to end: the built-in proxy, and an existing
//! Toxiproxy-compatible server (`shakeout proxy serve`) as the `toxiproxy` backend.

mod util;
use std::time::Duration;
use util::*;

/// An example experiment with its ports moved to free ones and its timeline shortened.
fn example(file: &str, replace: &[(&str, String)]) -> String {
    let mut text = std::fs::read_to_string(format!("experiments/{file}")).unwrap();
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    text
}

fn shorten(text: String) -> String {
    text.replace("duration: 20s", "duration: 6s")
        .replace("at: 5s\n    duration: 10s", "at: 2s\n    duration: 2s")
}

#[test]
fn latency_example_fails_p99_and_reports_asked_vs_achieved() {
    let (demo, proxy) = (free_port(), free_port());
    let spec_text = shorten(example(
        "latency-p99-fails.yaml",
        &[("18080", demo.to_string()), ("18081", proxy.to_string())],
    ));
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "l.yaml", &spec_text);
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 1, "{}", text(&out));
    let r = read_report(&out_dir);
    assert_eq!(r["verdict"], "fail");
    let p99 = r["probes"][0]["latency_ms"]["p99"].as_f64().unwrap();
    assert!((280.0..=330.0).contains(&p99), "p99 {p99}");
    let during = &r["probes"][0]["phases"][1];
    assert_eq!(during["name"], "during slow-api");
    assert!(during["latency_ms"]["p50"].as_f64().unwrap() >= 300.0 - 20.0);
    let before = r["probes"][0]["phases"][0]["latency_ms"]["p99"]
        .as_f64()
        .unwrap();
    assert!(before < 50.0, "before the fault the path is fast: {before}");
    let check = &r["faults"][0]["checks"][0];
    assert_eq!(check["metric"], "added_latency_ms");
    assert_eq!(check["asked"], 300.0);
    let achieved = check["achieved"].as_f64().unwrap();
    // ±20 ms of jitter over ~100 samples: the median may stray by a few ms.
    assert!(
        (achieved - 300.0).abs() <= 5.0 + 20.0 / 2.0,
        "achieved {achieved}"
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("asked vs achieved"), "{md}");
    // After the revert the path is fast again.
    let after = r["probes"][0]["phases"][2]["latency_ms"]["p99"]
        .as_f64()
        .unwrap();
    assert!(after < 50.0, "after {after}");
}

#[test]
fn latency_example_holds() {
    let (demo, proxy) = (free_port(), free_port());
    let spec_text = shorten(example(
        "latency-p99-holds.yaml",
        &[("18080", demo.to_string()), ("18081", proxy.to_string())],
    ));
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "l.yaml", &spec_text);
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));
    let achieved = read_report(&out_dir)["faults"][0]["checks"][0]["achieved"]
        .as_f64()
        .unwrap();
    assert!(
        (achieved - 100.0).abs() <= 5.0 + 10.0 / 2.0,
        "achieved {achieved}"
    );
}

#[test]
fn network_faults_break_the_path_and_revert() {
    let (demo, proxy) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "n.yaml",
        &format!(
            r#"name: net
duration: 5s
target:
  demo:
    listen: 127.0.0.1:{demo}
proxies:
  - name: api
    listen: 127.0.0.1:{proxy}
    upstream: 127.0.0.1:{demo}
probes:
  - name: web
    http:
      url: http://127.0.0.1:{proxy}/
      interval: 20ms
      timeout: 300ms
  - name: port
    tcp:
      address: 127.0.0.1:{proxy}
      interval: 20ms
      timeout: 300ms
faults:
  - name: resets
    at: 1s
    duration: 1s
    network:
      proxy: api
      reset_peer:
        timeout: 0ms
  - name: down
    at: 3s
    duration: 1s
    network:
      proxy: api
      down: true
"#
        ),
    );
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));
    let r = read_report(&out_dir);
    let web = &r["probes"][0];
    let port = &r["probes"][1];
    // reset_peer: HTTP fails while TCP connects still succeed; down: both fail.
    let web_errors = web["errors"].as_object().unwrap();
    assert!(
        web_errors
            .keys()
            .any(|k| k.contains("reset") || k.contains("closed")),
        "{web_errors:?}"
    );
    assert!(
        port["errors"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("refused")),
        "{}",
        port["errors"]
    );
    let phase = |p: &serde_json::Value, name: &str| {
        p["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .cloned()
            .unwrap()
    };
    let resets = phase(web, "during resets");
    assert!(resets["failed"].as_u64().unwrap() >= 40, "{resets}");
    assert_eq!(phase(port, "during resets")["failed"], 0);
    let down = phase(port, "during down");
    assert!(down["failed"].as_u64().unwrap() >= 40, "{down}");
    // Both faults were reverted and the path recovered.
    for f in r["faults"].as_array().unwrap() {
        assert_eq!(f["recovered"], true, "{f}");
        assert!(f["recovery_ms"].as_f64().unwrap() < 1300.0, "{f}");
    }
    assert_eq!(phase(web, "after")["failed"], 0);
}

#[test]
fn toxiproxy_backend_creates_injects_reverts_and_deletes() {
    let demo = Server::demo();
    let toxi = Server::toxiproxy();
    let listen = free_port();
    let spec_text = shorten(example(
        "toxiproxy-latency.yaml",
        &[
            ("http://127.0.0.1:8474", format!("http://{}", toxi.addr())),
            ("18082", listen.to_string()),
            ("18080", demo.port.to_string()),
        ],
    ));
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "t.yaml", &spec_text);
    let out_dir = dir.path().join("out");
    let child = spawn_run(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    // While the fault is on, the server holds our toxic.
    wait_for("the toxic on the server", Duration::from_secs(10), || {
        http_get(&toxi.addr(), "/proxies/checkout/toxics")
            .is_some_and(|(s, b)| s == 200 && b.contains("shakeout-slow-checkout-downstream"))
    });
    let out = wait_output(child, Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", text(&out));
    // The proxy it created is gone again.
    let (status, _) = http_get(&toxi.addr(), "/proxies/checkout").unwrap();
    assert_eq!(status, 404);
    let r = read_report(&out_dir);
    let achieved = r["faults"][0]["checks"][0]["achieved"].as_f64().unwrap();
    assert!(
        (achieved - 200.0).abs() <= 5.0 + 10.0 / 2.0,
        "achieved {achieved}"
    );
}

#[test]
fn rollback_removes_toxics_left_on_a_toxiproxy_server_by_a_killed_run() {
    let demo = Server::demo();
    let toxi = Server::toxiproxy();
    let listen = free_port();
    let spec_text = example(
        "toxiproxy-latency.yaml",
        &[
            ("http://127.0.0.1:8474", format!("http://{}", toxi.addr())),
            ("18082", listen.to_string()),
            ("18080", demo.port.to_string()),
        ],
    )
    .replace("duration: 20s", "duration: 60s")
    .replace("at: 5s\n    duration: 10s", "at: 500ms\n    duration: 50s");
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "t.yaml", &spec_text);
    let out_dir = dir.path().join("out");
    let child = spawn_run(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    wait_for("the toxic on the server", Duration::from_secs(10), || {
        http_get(&toxi.addr(), "/proxies/checkout/toxics")
            .is_some_and(|(_, b)| b.contains("shakeout-slow-checkout"))
    });
    signal(&child, libc::SIGKILL);
    let _ = wait_output(child, Duration::from_secs(5));
    let (_, body) = http_get(&toxi.addr(), "/proxies/checkout/toxics").unwrap();
    assert!(
        body.contains("shakeout-slow-checkout"),
        "the toxic outlives a SIGKILL: {body}"
    );

    let out = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("removed shakeout-slow-checkout-downstream"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("deleted proxy `checkout`"),
        "{}",
        text(&out)
    );
    assert_eq!(http_get(&toxi.addr(), "/proxies/checkout").unwrap().0, 404);
    let again = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert!(
        text(&again).contains("nothing to revert"),
        "{}",
        text(&again)
    );
}

#[test]
fn unknown_proxy_and_unreachable_toxiproxy_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "bad.yaml",
        "name: x\nduration: 5s\nproxies:\n  - name: api\n    listen: 127.0.0.1:1\n    upstream: 127.0.0.1:2\nprobes:\n  - name: p\n    tcp:\n      address: 127.0.0.1:1\nfaults:\n  - name: f\n    at: 1s\n    duration: 1s\n    latency:\n      proxy: apj\n      latency: 10ms\n  - name: g\n    at: 1s\n    duration: 1s\n    network:\n      proxy: api\n      bandwith:\n        rate: 1\n",
    );
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let all = text(&out);
    assert!(
        all.contains("faults[0].latency.proxy: no proxy named `apj`, did you mean `api`?"),
        "{all}"
    );
    assert!(
        all.contains(
            "faults[1].network.bandwith: unknown field `bandwith`, did you mean `bandwidth`?"
        ),
        "{all}"
    );

    let closed = free_port();
    let spec = write_spec(
        dir.path(),
        "down.yaml",
        &format!("name: x\nduration: 2s\nproxies:\n  - name: api\n    api: http://127.0.0.1:{closed}\nprobes:\n  - name: p\n    tcp:\n      address: 127.0.0.1:{closed}\n"),
    );
    let out = run_out(
        spec.to_str().unwrap(),
        dir.path().join("o").to_str().unwrap(),
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("proxy `api`"), "{}", text(&out));
}

/// Toxiproxy's Python client (PyPI `toxiproxy-python`), unchanged, against our server.
#[test]
fn toxiproxy_python_client_works_unchanged() {
    let demo = Server::demo();
    let toxi = Server::toxiproxy();
    let out = std::process::Command::new("python3")
        .args([
            "tests/clients/toxiproxy_python.py",
            &toxi.port.to_string(),
            &demo.addr(),
        ])
        .output()
        .expect("python3");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("ok: base"), "{all}");
}
