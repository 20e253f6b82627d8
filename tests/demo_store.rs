//! The demo store and `db_failover` end to end: the example experiments run with the
//! real binary against a `shakeout demo serve --store ...` (so the store outlives the
//! run), and the report's lost count is checked against the store's own state, read
//! through its endpoints.

mod util;
use std::collections::BTreeSet;
use std::path::Path;
use util::*;

/// The example, pointed at the served demo on `port` instead of starting its own.
fn example_against(name: &str, port: u16) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .expect("example experiment");
    text.replace("127.0.0.1:18080", &format!("127.0.0.1:{port}"))
        .replace("  demo:", "  demo:\n    external: true")
}

fn serve_store(replication: &str) -> Server {
    let port = free_port();
    Server::start(
        &[
            "demo",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--store",
            replication,
            "--replication-delay",
            "300ms",
        ],
        port,
    )
}

/// Acked ids, from the run's own events.
fn acked_ids(out_dir: &Path) -> BTreeSet<i64> {
    let events = std::fs::read_to_string(out_dir.join("events.jsonl")).unwrap();
    let mut acked = BTreeSet::new();
    let mut base = None;
    for line in events.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "sample" && v["write"] == "acked" {
            acked.insert(v["seq"].as_i64().unwrap());
        }
        if v["type"] == "writes_verified" {
            base = v["base_id"].as_i64();
        }
    }
    let base = base.expect("a writes_verified event");
    acked.into_iter().map(|s| base + s).collect()
}

/// Lost = acked by the run, 404 from the store now, as this test reads it.
fn lost_by_own_reading(demo: &Server, out_dir: &Path) -> u64 {
    let acked = acked_ids(out_dir);
    assert!(acked.len() > 100, "{} acked writes", acked.len());
    let mut lost = 0;
    for id in acked {
        match http_get(&demo.addr(), &format!("/orders/{id}")) {
            Some((200, _)) => {}
            Some((404, _)) => lost += 1,
            other => panic!("reading order {id}: {other:?}"),
        }
    }
    lost
}

/// The store after the revert: one primary, no fenced node.
fn store_is_whole(demo: &Server) -> serde_json::Value {
    let (status, body) = http_get(&demo.addr(), "/_shakeout/store").expect("store status");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["primary"], "b", "promoted and kept: {v}");
    let roles: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["replica", "primary", "replica"], "{v}");
    v
}

/// The exit code, report.json and output directory (alive as long as the `TempDir`).
fn run_example(
    name: &str,
    demo: &Server,
) -> (
    i32,
    serde_json::Value,
    std::path::PathBuf,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "x.yaml", &example_against(name, demo.port));
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert!(matches!(code(&out), 0 | 1), "{}", text(&out));
    (code(&out), read_report(&out_dir), out_dir, dir)
}

#[test]
fn async_failover_loses_exactly_the_unreplicated_acknowledged_writes() {
    let demo = serve_store("async");
    let (code, report, out_dir, _dir) = run_example("experiments/db-failover-async.yaml", &demo);
    let w = &report["probes"][0]["writes"];
    let lost = w["lost"].as_u64().expect("writes.lost");
    assert!(lost > 0, "async failover must lose writes: {w}");
    assert_eq!(lost, lost_by_own_reading(&demo, &out_dir), "{w}");
    assert_eq!(w["phantom"], 0, "{w}");
    assert_eq!(code, 1, "rpo: 0s fails");
    let rpo = report["sla"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "rpo")
        .expect("an rpo check");
    assert_eq!(rpo["pass"], false);
    let measured = rpo["measured"].as_str().unwrap();
    assert!(
        measured.contains(&format!("({lost} acknowledged writes lost)")),
        "{measured}"
    );
    // The writes lost are the ones acked within one replication delay of the failover.
    let rpo_ms = w["rpo_ms"].as_f64().unwrap();
    assert!(rpo_ms > 0.0 && rpo_ms <= 300.0 + 50.0, "{w}");
    let v = store_is_whole(&demo);
    let keys: Vec<u64> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["keys"].as_u64().unwrap())
        .collect();
    assert!(
        keys.windows(2).all(|k| k[0] == k[1]),
        "rejoined node resynced: {v}"
    );
}

#[test]
fn sync_failover_loses_nothing_and_passes() {
    let demo = serve_store("sync");
    let (code, report, out_dir, _dir) = run_example("experiments/db-failover-sync.yaml", &demo);
    let w = &report["probes"][0]["writes"];
    assert_eq!(w["lost"], 0, "{w}");
    assert_eq!(lost_by_own_reading(&demo, &out_dir), 0);
    assert_eq!(w["phantom"], 0, "{w}");
    assert_eq!(code, 0, "rpo: 0s passes: {w}");
    store_is_whole(&demo);
}
