//! End to end against a real Patroni cluster (three members, etcd, HAProxy on
//! loopback): the `patroni` fault backend with the real binary. The clusters use
//! ttl 10, loop_wait 1, retry_timeout 3 (`util::patroni::FAST`). The tests take a file
//! lock: two clusters at once on a small machine would make each other's timings.

mod util;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use util::patroni::{available, one_at_a_time, PatroniCluster, Timing, FAST};
use util::*;

/// A write probe through HAProxy, as an application would write.
fn write_probe(c: &PatroniCluster, interval: &str) -> String {
    format!(
        "probes:\n  - name: orders\n    postgres:\n      conninfo: \"{}\"\n      mode: write\n      table: shakeout_writes\n      interval: {interval}\n      timeout: 500ms\n",
        c.haproxy_conninfo()
    )
}

fn switchover_spec(c: &PatroniCluster, url: &str, candidate: &str, interval: &str) -> String {
    format!(
        "name: patroni-switchover\nduration: 12s\nsla:\n  rpo: 0s\n  max_lost_writes: 0\n{}faults:\n  - name: switchover\n    at: 2s\n    duration: 8s\n    patroni:\n      url: {url}\n      action: switchover\n      candidate: {candidate}\n",
        write_probe(c, interval)
    )
}

/// Kill `member` at `at` for `hold` in a run of `run`; writes every 50 ms.
fn kill_node_spec(c: &PatroniCluster, member: &str, at: &str, hold: &str, run: &str) -> String {
    let argv: Vec<String> = c
        .member(member)
        .start_argv()
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect();
    format!(
        "name: patroni-kill-node\nduration: {run}\n{}faults:\n  - name: lose-leader\n    at: {at}\n    duration: {hold}\n    patroni:\n      url: {}\n      action: kill_node\n      member: {member}\n      restart: [{}]\n",
        write_probe(c, "50ms"),
        c.members[2].api(),
        argv.join(", ")
    )
}

fn run_spec(
    dir: &Path,
    text_spec: &str,
    within: Duration,
) -> (std::process::Output, std::path::PathBuf) {
    let spec = write_spec(dir, "patroni.yaml", text_spec);
    let out_dir = dir.join("out");
    let child = spawn_run(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    (wait_output(child, within), out_dir)
}

/// The asked-vs-achieved check `metric` of the first fault: (asked, achieved).
fn check(report: &serde_json::Value, metric: &str) -> (f64, f64) {
    let c = report["faults"][0]["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["metric"] == metric))
        .unwrap_or_else(|| panic!("no `{metric}` check in {}", report["faults"][0]));
    (
        c["asked"].as_f64().unwrap(),
        c["achieved"].as_f64().unwrap(),
    )
}

/// Acked ids the table does not hold, read through HAProxy with this test's own psql.
fn lost_by_own_reading(c: &PatroniCluster, out_dir: &Path) -> usize {
    let events = std::fs::read_to_string(out_dir.join("events.jsonl")).unwrap();
    let (mut acked, mut base) = (BTreeSet::new(), None);
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
    let ids = util::patroni::psql(
        c.haproxy_port,
        &format!("SELECT id FROM shakeout_writes WHERE id >= {base}"),
    )
    .expect("read the table through HAProxy");
    let present: BTreeSet<i64> = ids
        .lines()
        .map(|l| l.parse::<i64>().unwrap() - base)
        .collect();
    assert!(!acked.is_empty(), "the probe acknowledged writes");
    acked.difference(&present).count()
}

#[test]
fn switchover_through_haproxy_loses_no_acked_write_and_says_asked_vs_achieved() {
    if !available() {
        return;
    }
    let _one = one_at_a_time();
    let c = PatroniCluster::start(FAST);
    assert_eq!(c.leaders(), ["pg1"]);
    let dir = tempfile::tempdir().unwrap();
    let text_spec = switchover_spec(&c, &c.members[2].api(), "pg2", "20ms");

    let spec = write_spec(dir.path(), "plan.yaml", &text_spec);
    let plan = shakeout(&["plan", "--preflight", spec.to_str().unwrap()]);
    let all = text(&plan);
    assert_eq!(code(&plan), 0, "{all}");
    assert!(all.contains("leader pg1 (timeline 1)"), "{all}");
    assert!(all.contains("pg2 (replica, running, lag 0 B)"), "{all}");
    assert!(
        all.contains("node loss: a new leader within ≈ ttl (10s) + loop_wait (1s) = 11s"),
        "{all}"
    );

    let (out, out_dir) = run_spec(dir.path(), &text_spec, Duration::from_secs(90));
    let all = text(&out);
    assert_eq!(code(&out), 0, "{all}");
    let r = read_report(&out_dir);
    let probe = &r["probes"][0];
    let outage = probe["longest_outage_ms"].as_f64().unwrap();
    assert!(
        outage > 0.0 && outage < 10_000.0,
        "write outage {outage} ms: {probe}"
    );
    assert_eq!(probe["writes"]["lost"], 0, "{probe}");
    assert_eq!(lost_by_own_reading(&c, &out_dir), 0);

    assert_eq!(c.leaders(), ["pg2"], "exactly one leader, the candidate");
    assert_eq!(c.primaries(), ["pg2"], "exactly one primary");
    assert_eq!(check(&r, "leader_changed"), (1.0, 1.0));
    assert_eq!(check(&r, "new_leader_writable"), (1.0, 1.0));
    assert_eq!(check(&r, "timeline"), (2.0, 2.0));
    let (bound, took) = check(&r, "new_leader_ms");
    assert_eq!(bound, 5000.0, "2 × loop_wait + retry_timeout");
    assert!(took > 0.0 && took < 30_000.0, "{took}");
    assert!(
        c.streaming().contains(&"pg1".to_string()),
        "the revert waited until the old leader streams again"
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("asked vs achieved"), "{md}");
    assert!(md.contains("new\\_leader\\_ms"), "{md}");
}

#[test]
fn kill_node_makes_a_new_leader_and_the_revert_rejoins_the_member_as_a_replica() {
    if !available() {
        return;
    }
    let _one = one_at_a_time();
    let c = PatroniCluster::start(FAST);
    let old_postmaster = c.member("pg1").postmaster_pid().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text_spec = kill_node_spec(&c, "pg1", "1s", "15s", "18s");
    let (out, out_dir) = run_spec(dir.path(), &text_spec, Duration::from_secs(180));
    let all = text(&out);
    assert_eq!(code(&out), 0, "{all}");
    let r = read_report(&out_dir);
    assert_eq!(check(&r, "leader_changed"), (1.0, 1.0));
    assert_eq!(check(&r, "new_leader_writable"), (1.0, 1.0));
    assert_eq!(check(&r, "timeline"), (2.0, 2.0));
    let (bound, took) = check(&r, "new_leader_ms");
    assert_eq!(bound, 11_000.0, "ttl + loop_wait");
    assert!(took > 1_000.0 && took < 30_000.0, "{took}");
    let outage = r["probes"][0]["longest_outage_ms"].as_f64().unwrap();
    assert!(
        outage > 1_000.0,
        "a node loss stops writes until the key expires: {outage} ms"
    );

    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    assert_ne!(leaders[0], "pg1");
    assert_eq!(c.primaries(), leaders, "exactly one primary");
    assert!(
        c.streaming().contains(&"pg1".to_string()),
        "pg1 rejoined as a replica"
    );
    assert_ne!(c.member("pg1").postmaster_pid(), Some(old_postmaster));
    let journal = std::fs::read_to_string(out_dir.join("journal.jsonl")).unwrap();
    assert!(journal.contains("restarted `pg1`"), "{journal}");
}

#[test]
fn rollback_after_sigkill_mid_kill_node_restarts_the_member() {
    if !available() {
        return;
    }
    let _one = one_at_a_time();
    let c = PatroniCluster::start(FAST);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "kill.yaml",
        &kill_node_spec(&c, "pg1", "500ms", "50s", "60s"),
    );
    let out_dir = dir.path().join("out");
    let child = spawn_run(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    wait_for_event(&out_dir, "fault_injected", Duration::from_secs(30));
    signal(&child, libc::SIGKILL);
    let _ = wait_output(child, Duration::from_secs(5));
    assert_eq!(
        c.member("pg1").get("/patroni"),
        None,
        "pg1's Patroni is dead"
    );
    assert_eq!(
        c.member("pg1").psql("SELECT 1"),
        None,
        "pg1's PostgreSQL is dead"
    );

    // As when a crash is found later: another member leads by now.
    wait_for("a new leader", Duration::from_secs(40), || {
        c.leaders().first().is_some_and(|l| l != "pg1")
    });
    let again_run = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(code(&again_run), 2, "{}", text(&again_run));

    let out = wait_output(
        spawn(&["rollback", out_dir.to_str().unwrap()], &[]),
        Duration::from_secs(150),
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("streams from"), "{}", text(&out));
    assert!(
        c.streaming().contains(&"pg1".to_string()),
        "pg1 rejoined as a replica"
    );
    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    assert_eq!(c.primaries(), leaders, "exactly one primary");

    let again = shakeout(&["rollback", out_dir.to_str().unwrap()]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(
        text(&again).contains("nothing to revert"),
        "{}",
        text(&again)
    );
}

/// `run` stops before t=0 with exit 3 and one line naming the cause; nothing changed.
fn refused(c: &PatroniCluster, text_spec: &str, want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (out, out_dir) = run_spec(dir.path(), text_spec, Duration::from_secs(30));
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    let line = all.lines().find(|l| l.contains(want));
    assert!(
        line.is_some_and(|l| l.contains("preflight failed")),
        "want `{want}` on the preflight line: {all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    let journal = std::fs::read_to_string(out_dir.join("journal.jsonl")).unwrap_or_default();
    assert!(
        !journal.contains("applying"),
        "nothing was journaled: {journal}"
    );
    assert_eq!(c.leaders(), ["pg1"], "the leader is untouched");
}

#[test]
fn a_url_that_is_not_patroni_and_an_unknown_candidate_are_one_line_exit_3() {
    if !available() {
        return;
    }
    let _one = one_at_a_time();
    let c = PatroniCluster::start(FAST);
    // etcd answers HTTP on its client port, but not as Patroni.
    let etcd = format!("http://127.0.0.1:{}", c.etcd_port);
    refused(
        &c,
        &switchover_spec(&c, &etcd, "pg2", "50ms"),
        "does not answer like Patroni's REST API (GET /patroni: ",
    );
    refused(
        &c,
        &switchover_spec(&c, &c.members[0].api(), "pg9", "50ms"),
        "candidate `pg9` is not a member of the Patroni cluster",
    );
    refused(
        &c,
        &switchover_spec(&c, &c.members[0].api(), "pg1", "50ms"),
        "candidate `pg1` is already the leader",
    );
    assert_eq!(c.primaries(), ["pg1"]);
}

#[test]
fn bad_patroni_specs_are_exit_2_with_every_error() {
    let spec = "name: bad\nduration: 2s\nfaults:\n  - name: f\n    at: 1s\n    duration: 1s\n    patroni:\n      url: http://127.0.0.1:8008/patroni\n      action: failover\n  - name: k\n    at: 1s\n    duration: 1s\n    patroni:\n      url: http://127.0.0.1:8009\n      action: kill_node\n      candidate: pg2\n      conninfo: \"host=10.0.0.1 user=postgres\"\n";
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(dir.path(), "p.yaml", spec);
    let out = shakeout(&["validate", path.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(code(&out), 2, "{all}");
    for want in [
        "faults[0].patroni.url: expected a member's REST API as http://host:port (no path)",
        "faults[0].patroni.candidate: `failover` needs a candidate",
        "faults[1].patroni.candidate: only for `action: switchover` or `failover`",
        "faults[1].patroni.restart: `kill_node` needs the command",
        "faults[1].patroni.conninfo: names a host or port",
    ] {
        assert!(all.contains(want), "want `{want}` in: {all}");
    }

    let typo = "name: bad\nduration: 2s\nfaults:\n  - name: f\n    at: 1s\n    duration: 1s\n    patroni:\n      url: http://127.0.0.1:8008\n      action: switchover\n      candiate: pg2\n";
    let path = write_spec(dir.path(), "typo.yaml", typo);
    let out = shakeout(&["validate", path.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(code(&out), 2, "{all}");
    assert!(all.contains("typo.yaml:10:7"), "{all}");
    assert!(all.contains("did you mean `candidate`?"), "{all}");
}

#[test]
fn the_example_experiment_validates_and_plans() {
    let out = shakeout(&["plan", "experiments/patroni-switchover.yaml"]);
    let all = text(&out);
    assert_eq!(code(&out), 0, "{all}");
    assert!(
        all.contains("[patroni]: Patroni switchover at http://127.0.0.1:8008"),
        "{all}"
    );
}

/// One figure: the longest write outage and the new-leader check of a run.
fn figure(label: &str, t: Timing, out_dir: &Path) {
    let r = read_report(out_dir);
    let (bound, took) = check(&r, "new_leader_ms");
    println!(
        "{label} (ttl {}, loop_wait {}, retry_timeout {}): write outage {} ms; new leader after {took:.0} ms (bound {bound:.0} ms); lost {}",
        t.ttl,
        t.loop_wait,
        t.retry_timeout,
        r["probes"][0]["longest_outage_ms"],
        r["probes"][0]["writes"]["lost"]
    );
}

/// The README's figures:
/// `cargo test --test patroni -- --ignored --nocapture figures`.
#[test]
#[ignore = "a benchmark: prints the README's Patroni figures"]
fn figures() {
    if !available() {
        return;
    }
    let _one = one_at_a_time();
    for t in [
        FAST,
        Timing {
            ttl: 20,
            loop_wait: 2,
            retry_timeout: 5,
        },
    ] {
        let c = PatroniCluster::start(t);
        for run in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let (from, to) = if run % 2 == 0 {
                ("pg1", "pg2")
            } else {
                ("pg2", "pg1")
            };
            assert_eq!(c.leaders(), [from]);
            let spec = switchover_spec(&c, &c.members[2].api(), to, "10ms");
            let (_, out_dir) = run_spec(dir.path(), &spec, Duration::from_secs(90));
            figure("switchover", t, &out_dir);
        }
        let leader = c.leaders().pop().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let hold = format!("{}s", t.ttl + t.loop_wait + 5);
        let run = format!("{}s", t.ttl + t.loop_wait + 8);
        let spec = kill_node_spec(&c, &leader, "1s", &hold, &run);
        let (_, out_dir) = run_spec(dir.path(), &spec, Duration::from_secs(240));
        figure("kill_node", t, &out_dir);
    }
}
