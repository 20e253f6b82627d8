//! End to end against real PostgreSQL 15: the write ledger, RPO, and the postgres
//! fault backend (kill_primary, stall_replication) with the real binary.

mod util;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use util::pg::{available, PgPair, Replication, Rewind};
use util::*;

fn fault_nodes(pair: &PgPair) -> String {
    format!(
        "primary: {{data_dir: {}, conninfo: \"{}\"}}\n      standby: {{data_dir: {}, conninfo: \"{}\"}}",
        pair.primary.data_dir.display(),
        pair.primary.conninfo(),
        pair.standby.data_dir.display(),
        pair.standby.conninfo()
    )
}

/// Stall replication at 2s, kill the primary at 3s (promote at once), revert both.
fn stall_then_kill_spec(pair: &PgPair, table: &str) -> String {
    let nodes = fault_nodes(pair);
    format!(
        r#"name: pg-stall-then-kill
duration: 9s
sla:
  rpo: 0s
probes:
  - name: orders
    postgres:
      conninfo: "{conninfo}"
      mode: write
      table: {table}
      interval: 10ms
      timeout: 500ms
faults:
  - name: stall
    at: 2s
    duration: 3s
    postgres:
      action: stall_replication
      {nodes}
  - name: lose-primary
    at: 3s
    duration: 4s
    postgres:
      action: kill_primary
      {nodes}
"#,
        conninfo = pair.write_conninfo()
    )
}

/// The failover of `fault` as report.json, report.md, report.html and junit.xml say it:
/// the milestones in order, the new primary out of recovery on a later timeline, the
/// write outage in phases, the first acked write after the loss.
fn assert_failover_reported(out_dir: &Path, fault: &str) -> serde_json::Value {
    let report = read_report(out_dir);
    let f = report["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == fault)
        .expect("the fault in report.json")
        .clone();
    let names: Vec<&str> = f["milestones"]
        .as_array()
        .expect("milestones")
        .iter()
        .map(|m| m["milestone"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["primary_lost", "promotion_started", "new_primary"],
        "{f}"
    );
    let check = |metric: &str| {
        f["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["metric"] == metric)
            .unwrap_or_else(|| panic!("a {metric} check in {f}"))
            .clone()
    };
    assert_eq!(check("pg_is_in_recovery")["achieved"], 0.0, "{f}");
    let tl = check("timeline");
    assert!(
        tl["achieved"].as_f64().unwrap() >= tl["asked"].as_f64().unwrap(),
        "{tl}"
    );
    assert!(check("first_acked_write_ms")["achieved"].as_f64().unwrap() > 0.0);
    let outage = &f["write_outages"][0];
    let phases: Vec<&str> = outage["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        ["detection", "promotion", "first_write"],
        "{outage}"
    );
    let total = outage["outage_ms"].as_f64().unwrap();
    let summed: f64 = outage["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["duration_ms"].as_f64().unwrap())
        .sum();
    assert!(total > 0.0 && summed <= total + 0.001, "{outage}");
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("## Failover"), "{md}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("class=\"failover-phase\""));
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains(&format!("fault.{fault}.timeline")),
        "{junit}"
    );
    f
}

/// Acked seqs and the base id, from the run's own events.
fn acked_seqs(out_dir: &Path) -> (BTreeSet<u64>, i64) {
    let events = std::fs::read_to_string(out_dir.join("events.jsonl")).unwrap();
    let mut acked = BTreeSet::new();
    let mut base = None;
    for line in events.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "sample" && v["write"] == "acked" {
            acked.insert(v["seq"].as_u64().unwrap());
        }
        if v["type"] == "writes_verified" {
            base = v["base_id"].as_i64();
        }
    }
    (acked, base.expect("a writes_verified event"))
}

/// Lost = acked by the run, absent from the table, as this test's own psql reads it.
fn lost_by_own_reading(pair: &PgPair, table: &str, out_dir: &Path) -> u64 {
    let (acked, base) = acked_seqs(out_dir);
    let ids = pair
        .standby
        .psql(&format!("SELECT id FROM {table} WHERE id >= {base}"))
        .expect("read the table from the new primary");
    let present: BTreeSet<u64> = ids
        .lines()
        .map(|l| (l.parse::<i64>().unwrap() - base) as u64)
        .collect();
    acked.difference(&present).count() as u64
}

#[test]
fn async_stall_then_kill_loses_acknowledged_writes_and_fails_rpo_0() {
    if !available() {
        return;
    }
    let pair = PgPair::start(Replication::Async);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "pg.yaml",
        &stall_then_kill_spec(&pair, "orders_async"),
    );
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 1, "{}", text(&out));
    let report = read_report(&out_dir);
    let w = &report["probes"][0]["writes"];
    let lost = w["lost"].as_u64().expect("writes.lost");
    assert!(
        lost > 0,
        "async replication stalled then killed must lose writes: {w}"
    );
    assert_eq!(
        lost,
        lost_by_own_reading(&pair, "orders_async", &out_dir),
        "{w}"
    );
    assert_eq!(w["phantom"], 0, "{w}");
    assert!(w["rpo_ms"].as_f64().unwrap() > 0.0, "{w}");
    let rpo = report["sla"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "rpo")
        .expect("an rpo check");
    assert_eq!(rpo["pass"], false);
    assert!(
        rpo["measured"]
            .as_str()
            .unwrap()
            .contains(&format!("({lost} acknowledged writes lost)")),
        "{rpo}"
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("Writes"), "{md}");
    assert!(
        md.contains(&format!("({lost} acknowledged writes lost)")),
        "{md}"
    );
    assert_failover_reported(&out_dir, "lose-primary");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(
        html.contains(&format!("<title>{lost} acknowledged writes lost")),
        "the lost writes are marked on the timeline"
    );
    // One primary (the promoted standby) and the old primary rejoined as its standby.
    pair.wait_roles(&pair.standby, &pair.primary, Duration::from_secs(10));
}

#[test]
fn sync_stall_then_kill_loses_nothing_and_passes_rpo_0() {
    if !available() {
        return;
    }
    let pair = PgPair::start(Replication::Sync);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "pg.yaml",
        &stall_then_kill_spec(&pair, "orders_sync"),
    );
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = read_report(&out_dir);
    let w = &report["probes"][0]["writes"];
    assert_eq!(w["lost"], 0, "{w}");
    assert!(w["acked"].as_u64().unwrap() > 100, "{w}");
    assert_eq!(lost_by_own_reading(&pair, "orders_sync", &out_dir), 0);
    pair.wait_roles(&pair.standby, &pair.primary, Duration::from_secs(10));
}

#[test]
fn rollback_after_sigkill_mid_fault_leaves_one_primary_and_a_rejoined_standby() {
    if !available() {
        return;
    }
    let pair = PgPair::start(Replication::Async);
    let dir = tempfile::tempdir().unwrap();
    let text_spec = format!(
        "name: pg-kill\nduration: 60s\nprobes:\n  - name: up\n    postgres:\n      conninfo: \"{}\"\n      interval: 50ms\nfaults:\n  - name: lose-primary\n    at: 500ms\n    duration: 50s\n    postgres:\n      action: kill_primary\n      {}\n",
        pair.write_conninfo(),
        fault_nodes(&pair)
    );
    let spec = write_spec(dir.path(), "pg.yaml", &text_spec);
    let out_dir = dir.path().join("out");
    let child = spawn_run(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    wait_for_event(&out_dir, "fault_injected", Duration::from_secs(20));
    signal(&child, libc::SIGKILL);
    let _ = wait_output(child, Duration::from_secs(5));
    assert_eq!(
        pair.primary.in_recovery(),
        None,
        "the old primary stays down after SIGKILL"
    );
    assert_eq!(
        pair.standby.in_recovery(),
        Some(false),
        "the standby was promoted"
    );

    let out = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("as a standby of"), "{}", text(&out));
    pair.wait_roles(&pair.standby, &pair.primary, Duration::from_secs(10));
    assert!(pair
        .standby
        .psql("SELECT count(*) FROM pg_stat_replication")
        .is_some_and(|n| n == "1"));

    let again = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(
        text(&again).contains("nothing to revert"),
        "{}",
        text(&again)
    );
}

fn one_line_error(spec_text: &str, want_code: i32, want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "pg.yaml", spec_text);
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    let all = text(&out);
    assert_eq!(code(&out), want_code, "{all}");
    assert!(all.contains(want), "want `{want}` in: {all}");
    assert!(!all.contains("panicked"), "{all}");
}

fn probe_spec(conninfo: &str, mode: &str) -> String {
    format!("name: bad\nduration: 2s\nprobes:\n  - name: db\n    postgres:\n      conninfo: \"{conninfo}\"\n      mode: {mode}\n")
}

#[test]
fn bad_databases_are_one_clear_line_and_exit_3_before_anything_runs() {
    if !available() {
        return;
    }
    let pair = PgPair::start(Replication::Async);
    let port = free_port();
    one_line_error(
        &probe_spec(&format!("host=127.0.0.1 port={port} user=postgres"), "read"),
        3,
        "probe `db`: ",
    );
    one_line_error(
        &probe_spec(
            &format!(
                "host=127.0.0.1 port={} user=nosuchrole dbname=postgres",
                pair.primary.port
            ),
            "read",
        ),
        3,
        "role \"nosuchrole\" does not exist",
    );
    one_line_error(
        &probe_spec(&pair.standby.conninfo(), "write"),
        3,
        "lands on a standby",
    );
    // A fault whose data dir is not a cluster: the run stops at the fault (exit 3),
    // the primary is untouched.
    let not_a_cluster = tempfile::tempdir().unwrap();
    let spec = format!(
        "name: bad\nduration: 3s\nprobes:\n  - name: db\n    postgres:\n      conninfo: \"{}\"\n      interval: 50ms\nfaults:\n  - name: kill\n    at: 200ms\n    duration: 1s\n    postgres:\n      action: kill_primary\n      primary: {{data_dir: {}, conninfo: \"{}\"}}\n      standby: {{data_dir: {}, conninfo: \"{}\"}}\n",
        pair.primary.conninfo(),
        not_a_cluster.path().display(),
        pair.primary.conninfo(),
        pair.standby.data_dir.display(),
        pair.standby.conninfo()
    );
    one_line_error(&spec, 3, "is not a PostgreSQL data directory");
    assert_eq!(pair.primary.in_recovery(), Some(false));
    assert_eq!(pair.standby.in_recovery(), Some(true));
    // A standby of another cluster named as this primary's: refused, nothing touched.
    let other = PgPair::start(Replication::Async);
    let spec = format!(
        "name: bad\nduration: 3s\nprobes:\n  - name: db\n    postgres:\n      conninfo: \"{}\"\n      interval: 50ms\nfaults:\n  - name: kill\n    at: 200ms\n    duration: 1s\n    postgres:\n      action: kill_primary\n      primary: {{data_dir: {}, conninfo: \"{}\"}}\n      standby: {{data_dir: {}, conninfo: \"{}\"}}\n",
        pair.primary.conninfo(),
        pair.primary.data_dir.display(),
        pair.primary.conninfo(),
        other.standby.data_dir.display(),
        other.standby.conninfo()
    );
    one_line_error(&spec, 3, "does not replicate from the primary");
    one_line_error(&spec, 3, "a copy of another cluster (system identifier");
    for n in [&pair.primary, &other.primary] {
        assert_eq!(n.in_recovery(), Some(false));
    }
    for n in [&pair.standby, &other.standby] {
        assert_eq!(n.in_recovery(), Some(true));
    }
}

#[test]
fn bad_postgres_specs_are_exit_2() {
    let spec = "name: bad\nduration: 2s\nprobes:\n  - name: db\n    postgres:\n      conninfo: \"host=127.0.0.1 port=1\"\nfaults:\n  - name: split\n    at: 1s\n    duration: 1s\n    postgres:\n      action: promote\n      primary: {data_dir: /a, conninfo: \"host=127.0.0.1 port=1\"}\n      standby: {data_dir: b, conninfo: \"port=notaport\"}\n";
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(dir.path(), "pg.yaml", spec);
    let out = shakeout(&["validate", path.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(code(&out), 2, "{all}");
    assert!(all.contains("allow_split_brain: true"), "{all}");
    assert!(
        all.contains("standby.data_dir: must be an absolute path"),
        "{all}"
    );
    assert!(
        all.contains("standby.conninfo: not a valid conninfo"),
        "{all}"
    );

    let typo = "name: bad\nduration: 2s\nprobes:\n  - name: db\n    postgres:\n      conninfo: \"host=127.0.0.1\"\n      mode: write\n      tabel: t\n";
    let path = write_spec(dir.path(), "typo.yaml", typo);
    let out = shakeout(&["validate", path.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(code(&out), 2, "{all}");
    assert!(all.contains("typo.yaml:8:7"), "{all}");
    assert!(all.contains("did you mean `table`?"), "{all}");
}

/// The README's figures: `cargo test --test postgres -- --ignored --nocapture figures`.
#[test]
#[ignore = "a benchmark: prints the README's PostgreSQL figures"]
fn figures() {
    if !available() {
        return;
    }
    for mode in [Replication::Async, Replication::Sync] {
        let pair = PgPair::start(mode);
        let dir = tempfile::tempdir().unwrap();
        let spec = write_spec(dir.path(), "pg.yaml", &stall_then_kill_spec(&pair, "fig"));
        let out_dir = dir.path().join("out");
        let _ = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
        let r = read_report(&out_dir);
        println!(
            "{mode:?} stall 1s + kill_primary: writes {}",
            r["probes"][0]["writes"]
        );
    }
    let pair = PgPair::start(Replication::Async);
    let dir = tempfile::tempdir().unwrap();
    let kill = format!(
        "name: fig-kill\nduration: 6s\nprobes:\n  - name: orders\n    postgres:\n      conninfo: \"{}\"\n      mode: write\n      interval: 1ms\n      timeout: 500ms\nfaults:\n  - name: lose-primary\n    at: 2s\n    duration: 3s\n    postgres:\n      action: kill_primary\n      {}\n",
        pair.write_conninfo(),
        fault_nodes(&pair)
    );
    let spec = write_spec(dir.path(), "kill.yaml", &kill);
    let out_dir = dir.path().join("out");
    let _ = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    let r = read_report(&out_dir);
    let p = &r["probes"][0];
    println!(
        "kill_primary + promote (async): longest failed-sample outage {} ms; writes {}",
        p["longest_outage_ms"], p["writes"]
    );
    println!(
        "kill_primary + promote (async): write outage in phases {}",
        r["faults"][0]["write_outages"][0]
    );
    let events = std::fs::read_to_string(out_dir.join("events.jsonl")).unwrap();
    let acked: Vec<&str> = events
        .lines()
        .filter(|l| l.contains("\"write\":\"acked\""))
        .collect();
    let avg = acked.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / acked.len() as f64;
    println!(
        "ledger: {} bytes per acked write's event line on average, of which {} bytes are the ledger field",
        avg,
        ",\"write\":\"acked\"".len()
    );
    // Throughput without faults: intended 2,000 writes/s.
    let dir = tempfile::tempdir().unwrap();
    let rate = format!(
        "name: fig-rate\nduration: 5s\nprobes:\n  - name: orders\n    postgres:\n      conninfo: \"{}\"\n      mode: write\n      interval: 500us\n      timeout: 500ms\n",
        pair.standby.conninfo()
    );
    let spec = write_spec(dir.path(), "rate.yaml", &rate);
    let out_dir = dir.path().join("out");
    let _ = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    let r = read_report(&out_dir);
    let w = &r["probes"][0]["writes"];
    println!(
        "throughput: {} acked writes in 5s = {}/s (intended 2000/s), p99 latency {} ms",
        w["acked"],
        w["acked"].as_f64().unwrap() / 5.0,
        r["probes"][0]["latency_ms"]["p99"]
    );
    println!(
        "ledger table: {} bytes per row (heap + primary key, pg_total_relation_size / rows)",
        pair.standby
            .psql("SELECT round(pg_total_relation_size('shakeout_writes')::numeric / count(*), 1) FROM shakeout_writes")
            .unwrap_or_default()
    );
}

#[test]
fn plan_describes_the_postgres_probe_faults_and_rpo_checks() {
    let out = shakeout(&["plan", "experiments/postgres-failover.yaml"]);
    let all = text(&out);
    assert_eq!(code(&out), 0, "{all}");
    for want in [
        "postgres 127.0.0.1:5432,127.0.0.1:5433/postgres (writes to shakeout_writes)",
        "stall replication from the PostgreSQL primary /var/lib/postgresql/15/a (SIGSTOP its walsenders; revert SIGCONT)",
        "kill the PostgreSQL primary /var/lib/postgresql/15/a (SIGKILL), promote the standby /var/lib/postgresql/15/b after 0s",
        "rpo <= 0s for each write probe (orders)",
        "lost acknowledged writes <= 0 for each write probe (orders)",
        // Nothing listens there: one line each, and the offline plan above still printed.
        "fault `lose-primary`: primary /var/lib/postgresql/15/a: unreachable (",
    ] {
        assert!(all.contains(want), "want `{want}` in: {all}");
    }
}

/// One write probe and one `postgres` fault `lose-primary` at 1s for `fault_for`.
fn one_fault_spec(pair: &PgPair, duration: &str, fault_for: &str, action: &str) -> String {
    format!(
        "name: pg-one\nduration: {duration}\nprobes:\n  - name: orders\n    postgres:\n      conninfo: \"{}\"\n      mode: write\n      table: one\n      interval: 20ms\n      timeout: 500ms\nfaults:\n  - name: lose-primary\n    at: 1s\n    duration: {fault_for}\n    postgres:\n      {action}\n      {}\n",
        pair.write_conninfo(),
        fault_nodes(pair)
    )
}

fn run_spec(spec_text: &str) -> (tempfile::TempDir, std::path::PathBuf, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "pg.yaml", spec_text);
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    (dir, out_dir, out)
}

#[test]
fn rejoin_false_leaves_the_old_primary_down_and_the_report_says_how_to_rejoin_it() {
    if !available() {
        return;
    }
    let pair = PgPair::start(Replication::Async);
    let spec = one_fault_spec(
        &pair,
        "4s",
        "2s",
        "action: kill_primary\n      rejoin: false",
    );
    let (_dir, out_dir, out) = run_spec(&spec);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        pair.primary.in_recovery(),
        None,
        "the old primary stays down"
    );
    assert_eq!(
        pair.standby.in_recovery(),
        Some(false),
        "one primary: the promoted standby"
    );
    let report = read_report(&out_dir);
    let left = report["faults"][0]["left_behind"][0]
        .as_str()
        .unwrap_or_default();
    for want in ["rejoin: false", "pg_rewind -D", "pg_ctl start -D"] {
        assert!(left.contains(want), "want `{want}` in {left}");
    }
    assert!(
        left.contains(&pair.primary.data_dir.display().to_string()),
        "{left}"
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("Left for a person on purpose"), "{md}");
    assert!(md.contains("(rejoin: false)"), "{md}");
}

#[test]
fn without_wal_log_hints_nor_checksums_the_old_primary_rejoins_through_pg_basebackup() {
    if !available() {
        return;
    }
    let pair = PgPair::start_with(Replication::Async, Rewind::Impossible);
    let spec = one_fault_spec(&pair, "4s", "2s", "action: kill_primary");
    let (_dir, _out_dir, out) = run_spec(&spec);
    assert_eq!(code(&out), 0, "{}", text(&out));
    pair.wait_roles(&pair.standby, &pair.primary, Duration::from_secs(10));
    let aside: Vec<String> = std::fs::read_dir(pair.dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("a.before-rejoin-"))
        .collect();
    assert_eq!(
        aside.len(),
        1,
        "the old data kept aside by pg_basebackup: {aside:?}"
    );
    assert!(pair
        .standby
        .psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
        .is_some_and(|n| n == "1"));
}

#[test]
fn promote_is_refused_without_allow_split_brain_and_with_it_reverts_to_one_primary() {
    if !available() {
        return;
    }
    let pair = PgPair::start(Replication::Async);
    let (_d, _o, refused) = run_spec(&one_fault_spec(&pair, "3s", "1s", "action: promote"));
    assert_eq!(code(&refused), 2, "{}", text(&refused));
    assert!(
        text(&refused).contains("allow_split_brain: true"),
        "{}",
        text(&refused)
    );
    assert_eq!(pair.standby.in_recovery(), Some(true), "nothing touched");

    let spec = one_fault_spec(
        &pair,
        "5s",
        "3s",
        "action: promote\n      allow_split_brain: true",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(dir.path(), "pg.yaml", &spec);
    let out_dir = dir.path().join("out");
    let child = spawn_run(path.to_str().unwrap(), out_dir.to_str().unwrap());
    wait_for_event(&out_dir, "fault_injected", Duration::from_secs(20));
    assert_eq!(
        pair.primary.in_recovery(),
        Some(false),
        "the primary lives on"
    );
    assert_eq!(
        pair.standby.in_recovery(),
        Some(false),
        "and the standby is a primary too"
    );
    let out = wait_output(child, Duration::from_secs(60));
    assert_eq!(code(&out), 0, "{}", text(&out));
    pair.wait_roles(&pair.primary, &pair.standby, Duration::from_secs(10));
    let report = read_report(&out_dir);
    let f = &report["faults"][0];
    let milestones: Vec<&str> = f["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["milestone"].as_str().unwrap())
        .collect();
    assert_eq!(milestones, ["promotion_started", "new_primary"], "{f}");
    assert!(f["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["metric"] == "timeline" && c["achieved"].as_f64() >= c["asked"].as_f64()));
}

fn interrupted_mid_kill(sig: i32, reason: &str) {
    if !available() {
        return;
    }
    let pair = PgPair::start(Replication::Async);
    let spec = one_fault_spec(&pair, "60s", "50s", "action: kill_primary");
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(dir.path(), "pg.yaml", &spec);
    let out_dir = dir.path().join("out");
    let child = spawn_run(path.to_str().unwrap(), out_dir.to_str().unwrap());
    wait_for_event(&out_dir, "fault_injected", Duration::from_secs(20));
    assert_eq!(pair.primary.in_recovery(), None, "the primary was killed");
    signal(&child, sig);
    let out = wait_output(child, Duration::from_secs(60));
    assert_eq!(code(&out), 1, "{}", text(&out));
    let report = read_report(&out_dir);
    assert_eq!(report["verdict"], "aborted");
    let why = report["aborted"]["reason"].as_str().unwrap_or_default();
    assert!(why.contains(reason), "{report}");
    assert!(
        report["faults"][0]["reverted_at_ms"].is_number(),
        "{report}"
    );
    pair.wait_roles(&pair.standby, &pair.primary, Duration::from_secs(10));
}

#[test]
fn ctrl_c_mid_kill_primary_leaves_one_primary_and_a_rejoined_standby() {
    interrupted_mid_kill(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_mid_kill_primary_leaves_one_primary_and_a_rejoined_standby() {
    interrupted_mid_kill(libc::SIGTERM, "SIGTERM");
}

#[test]
fn plan_prints_the_live_topology_and_the_risks_it_sees() {
    if !available() {
        return;
    }
    let pair = PgPair::start(Replication::Async);
    let nodes = format!(
        "primary: {{data_dir: {}, conninfo: \"{}\", zone: a}}\n      standby: {{data_dir: {}, conninfo: \"{}\", zone: a}}",
        pair.primary.data_dir.display(),
        pair.primary.conninfo(),
        pair.standby.data_dir.display(),
        pair.standby.conninfo()
    );
    let spec = format!(
        "name: topo\nduration: 5s\nsla:\n  rpo: 0s\nprobes:\n  - name: orders\n    postgres:\n      conninfo: \"{}\"\n      mode: write\nfaults:\n  - name: lose-primary\n    at: 1s\n    duration: 1s\n    postgres:\n      action: kill_primary\n      {nodes}\n",
        pair.write_conninfo()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(dir.path(), "pg.yaml", &spec);
    let out = shakeout(&["plan", path.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(code(&out), 0, "{all}");
    for want in [
        "Topology (read-only, found now):",
        &format!(
            "fault `lose-primary`: primary {} (zone `a`): a primary, 1 standby(s)",
            pair.primary.data_dir.display()
        ),
        "standby `walreceiver` from 127.0.0.1: streaming, async, replay lag",
        "warning: async replication under an SLA that allows no lost write",
        "warning: a single standby",
        "is in the primary's zone `a`",
        "probe `orders`: 127.0.0.1:",
    ] {
        assert!(all.contains(want), "want `{want}` in: {all}");
    }
    assert_eq!(
        pair.standby.in_recovery(),
        Some(true),
        "plan changed nothing"
    );
}
