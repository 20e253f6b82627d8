//! Kubernetes faults and probe, end to end: the real binary on real experiment files
//! against the test API server (`tests/k8s_api/server.py`), whose behaviour the real
//! `kubectl` checks first. Cluster state is asserted during the fault, after the run,
//! after Ctrl-C and after SIGKILL + `shakeout rollback`.

mod util;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use util::k8s::{shop_fixture, FakeCluster};
use util::*;

const RUN_BOUND: Duration = Duration::from_secs(90);

/// A zone-loss experiment on the fake cluster's zone `a`, with the capacity probe.
struct ZoneRun<'a> {
    action: &'a str,
    /// More lines of the `kubernetes:` layer, each indented 8 spaces.
    extra: &'a str,
    duration: &'a str,
    fault_for: &'a str,
    min_ready: u32,
}

impl ZoneRun<'_> {
    fn new(action: &str) -> ZoneRun<'_> {
        ZoneRun {
            action,
            extra: "        namespace: shop\n        pod_selector: \"app=web\"\n",
            // Long enough for a loaded machine's test to look during the fault.
            duration: "9s",
            fault_for: "6s",
            min_ready: 6,
        }
    }

    fn write(&self, dir: &Path) -> String {
        let text = format!(
            "name: k8s-zone-loss\nduration: {}\nsla:\n  availability: 1%\n\
             probes:\n  - name: web-capacity\n    kubernetes: {{namespace: shop, selector: \"app=web\", min_ready: {}, interval: 100ms}}\n\
             faults:\n  - name: lose-zone-a\n    at: 1s\n    duration: {}\n    az_loss:\n      zone: a\n      kubernetes:\n        action: {}\n{}",
            self.duration, self.min_ready, self.fault_for, self.action, self.extra
        );
        write_spec(dir, "zone.yaml", &text).display().to_string()
    }
}

fn spawn_env(cluster: &FakeCluster, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .env("KUBECONFIG", cluster.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shakeout")
}

fn run_env(cluster: &FakeCluster, args: &[&str]) -> Output {
    wait_output(spawn_env(cluster, args), RUN_BOUND)
}

fn start_run(cluster: &FakeCluster, spec: &str, out: &Path) -> Child {
    let out = out.to_str().expect("UTF-8 path");
    spawn_env(
        cluster,
        &["run", spec, "--out", out, "--allow-destructive", "--quiet"],
    )
}

fn events(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn injected_detail(out: &Path) -> String {
    events(out)
        .iter()
        .find(|e| e["type"] == "fault_injected")
        .and_then(|e| e["detail"].as_str().map(String::from))
        .unwrap_or_default()
}

fn both_zone_a_nodes_cordoned(cluster: &FakeCluster) -> bool {
    cluster.cordoned() == ["node-a1", "node-a2"]
}

fn kubectl_ok(cluster: &FakeCluster, args: &[&str]) -> Option<String> {
    let out = cluster.kubectl(args)?;
    assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn kubectl_reads_and_changes_the_test_api_server_like_a_cluster() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 5, 0.5)) else {
        return;
    };
    let Some(nodes) = kubectl_ok(
        &cluster,
        &[
            "get",
            "nodes",
            "-l",
            "topology.kubernetes.io/zone=a",
            "-o",
            "name",
        ],
    ) else {
        return;
    };
    assert_eq!(
        nodes.lines().collect::<Vec<_>>(),
        ["node/node-a1", "node/node-a2"]
    );

    let on_a1 = kubectl_ok(
        &cluster,
        &[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "spec.nodeName=node-a1",
            "-o",
            "json",
        ],
    )
    .unwrap_or_default();
    let on_a1: Value = serde_json::from_str(&on_a1).expect("pod list JSON");
    let items = on_a1["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|p| p["spec"]["nodeName"] == "node-a1"),
        "{on_a1}"
    );
    assert!(items
        .iter()
        .any(|p| p["metadata"]["namespace"] == "kube-system"));

    kubectl_ok(&cluster, &["cordon", "node-a1"]);
    assert_eq!(cluster.cordoned(), ["node-a1"]);
    kubectl_ok(&cluster, &["uncordon", "node-a1"]);
    assert!(cluster.cordoned().is_empty());

    // The PodDisruptionBudget keeps 5 of 6 ready: drain evicts one pod, the next
    // eviction is refused (429) until the replacement is ready.
    let drain = cluster
        .kubectl(&["drain", "node-a1", "--ignore-daemonsets", "--timeout=20s"])
        .expect("kubectl");
    assert!(drain.status.success(), "{}", text(&drain));
    assert!(text(&drain).contains("evicted"), "{}", text(&drain));
    assert!(
        text(&drain).contains("disruption budget"),
        "the second eviction is refused at first: {}",
        text(&drain)
    );
    assert_eq!(cluster.cordoned(), ["node-a1"]);
    let left = kubectl_ok(
        &cluster,
        &[
            "get",
            "pods",
            "-n",
            "shop",
            "--field-selector",
            "spec.nodeName=node-a1",
            "-o",
            "name",
        ],
    )
    .unwrap_or_default();
    assert_eq!(left.trim(), "", "drained node still runs web pods");

    let policy = cluster.dir().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-web, namespace: shop}\n\
         spec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress, Egress]\n",
    )
    .expect("write policy");
    // The server serves no OpenAPI document, so client-side validation is off.
    let path = policy.to_str().expect("UTF-8 path");
    kubectl_ok(&cluster, &["apply", "--validate=false", "-f", path]);
    assert_eq!(cluster.network_policies("shop"), ["deny-web"]);
    kubectl_ok(
        &cluster,
        &["delete", "networkpolicy", "-n", "shop", "deny-web"],
    );
    assert!(cluster.network_policies("shop").is_empty());

    let missing = cluster
        .kubectl(&["get", "pod", "-n", "shop", "nope"])
        .expect("kubectl");
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("pods \"nope\" not found"),
        "{}",
        text(&missing)
    );
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn cordon_and_evict_loses_the_zone_and_reverts_only_what_it_cordoned() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 4, 1.0)) else {
        return;
    };
    // Someone else's cordon: the run must leave it as it found it.
    let Some(_) = kubectl_ok(&cluster, &["cordon", "node-a2"]) else {
        return;
    };
    let before = cluster.web_in_zone_a();
    assert!(!before.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let spec = ZoneRun::new("cordon_and_evict").write(dir.path());
    let out = dir.path().join("out");
    let run = start_run(&cluster, &spec, &out);

    wait_for("zone a cordoned", Duration::from_secs(30), || {
        both_zone_a_nodes_cordoned(&cluster)
    });
    wait_for("zone a's web pods evicted", Duration::from_secs(30), || {
        cluster.web_in_zone_a().is_empty()
    });
    let output = wait_output(run, RUN_BOUND);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(
        cluster.cordoned(),
        ["node-a2"],
        "only node-a1 was this run's"
    );

    let detail = injected_detail(&out);
    assert!(detail.contains("cordoned 1 node(s): node-a1"), "{detail}");
    for pod in &before {
        assert!(detail.contains(pod.as_str()), "{pod} not named in {detail}");
    }
    let report = read_report(&out);
    assert_eq!(report["faults"][0]["detail"], detail.as_str());
    let capacity = &report["faults"][0]["per_probe"][0]["capacity"];
    assert_eq!(capacity["before"], 6.0, "{capacity}");
    assert!(capacity["lowest"].as_f64().unwrap() < 6.0, "{capacity}");
    // Replacements turn ready 1s after they are created: capacity cannot be back sooner.
    let back = capacity["back_ms"].as_f64().expect("capacity came back");
    assert!((1000.0..6000.0).contains(&back), "back after {back} ms");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Full capacity back after"), "{md}");
    assert!(md.contains(&detail), "the report names the evicted pods");
    // A failed sample says how many pods the owning Deployment wants.
    let failed = events(&out)
        .into_iter()
        .find(|e| e["type"] == "sample" && e["ok"] == false)
        .expect("capacity fell below min_ready");
    let why = failed["error"].as_str().unwrap_or_default();
    assert!(
        why.ends_with("of 6 desired pods ready, fewer than min_ready 6"),
        "{why}"
    );
    assert_eq!(failed["class"], "expect");
    let chart = std::fs::read_to_string(out.join("value-web-capacity.svg")).unwrap();
    assert!(chart.contains("web-capacity value over time"));
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn evictions_a_disruption_budget_refuses_are_retried_then_reported() {
    // Every web pod is protected: no eviction may succeed.
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 6, 0.5)) else {
        return;
    };
    let before = cluster.web_in_zone_a();
    let dir = tempfile::tempdir().unwrap();
    let run = ZoneRun {
        extra: "        namespace: shop\n        pod_selector: \"app=web\"\n        eviction_timeout: 1s\n",
        ..ZoneRun::new("cordon_and_evict")
    };
    let out = dir.path().join("out");
    let output = wait_output(start_run(&cluster, &run.write(dir.path()), &out), RUN_BOUND);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let detail = injected_detail(&out);
    assert!(detail.contains("evicted 0 pod(s)"), "{detail}");
    assert!(detail.contains("refused until the deadline"), "{detail}");
    assert!(detail.contains("disruption budget"), "{detail}");
    for pod in &before {
        assert!(detail.contains(pod.as_str()), "{pod} not named in {detail}");
    }
    assert_eq!(cluster.web_in_zone_a(), before, "no pod was evicted");
    assert!(cluster.cordoned().is_empty());
    let injecting = events(&out)
        .iter()
        .find(|e| e["type"] == "fault_injecting")
        .and_then(|e| e["t_us"].as_u64())
        .unwrap();
    let injected = read_report(&out)["faults"][0]["injected_at_ms"]
        .as_f64()
        .unwrap();
    let retried_ms = injected - injecting as f64 / 1000.0;
    assert!(
        retried_ms >= 900.0,
        "refusals retried for {retried_ms} ms, not 1s"
    );
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn delete_pods_uses_the_grace_period() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let before = cluster.web_in_zone_a();
    let dir = tempfile::tempdir().unwrap();
    let run = ZoneRun {
        extra:
            "        namespace: shop\n        pod_selector: \"app=web\"\n        grace_period: 5s\n",
        ..ZoneRun::new("delete_pods")
    };
    let out = dir.path().join("out");
    let child = start_run(&cluster, &run.write(dir.path()), &out);
    wait_for_event(&out, "fault_injected", Duration::from_secs(30));
    // Within their grace period the pods are terminating, not gone: each is either
    // terminating with the spec's grace period, or gone once it ran out.
    let pods = cluster.pods("shop", "app=web");
    let terminating: Vec<&Value> = pods
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_string())
        .collect();
    assert!(
        !terminating.is_empty(),
        "deleted at once, without a grace period"
    );
    for p in &terminating {
        assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 5);
        let name = p["metadata"]["name"].as_str().unwrap_or_default();
        assert!(before.iter().any(|b| b == name), "{name} was not in zone a");
    }
    assert!(cluster.cordoned().is_empty(), "delete_pods cordons nothing");
    let output = wait_output(child, RUN_BOUND);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let names = cluster.pod_names("shop", "app=web");
    assert!(
        before.iter().all(|p| !names.contains(p)),
        "gone after the grace period"
    );
    assert!(injected_detail(&out).starts_with(&format!("deleted {} pod(s)", before.len())));
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn isolate_labels_the_pods_behind_a_deny_all_policy_and_removes_both() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let before = cluster.web_in_zone_a();
    let dir = tempfile::tempdir().unwrap();
    let spec = ZoneRun::new("isolate").write(dir.path());
    let out = dir.path().join("out");
    let child = start_run(&cluster, &spec, &out);
    wait_for_event(&out, "fault_injected", Duration::from_secs(30));
    let policies = cluster.network_policies("shop");
    assert_eq!(policies.len(), 1, "{policies:?}");
    let policy = cluster.get(&format!(
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/{}",
        policies[0]
    ));
    let label = policy["spec"]["podSelector"]["matchLabels"]["shakeout.dev/isolated"]
        .as_str()
        .expect("the policy selects the isolation label")
        .to_string();
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert!(policy["spec"]["ingress"].is_null() && policy["spec"]["egress"].is_null());
    let mut isolated = cluster.pod_names("shop", &format!("shakeout.dev/isolated={label}"));
    isolated.sort();
    assert_eq!(isolated, before);

    let output = wait_output(child, RUN_BOUND);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(cluster.network_policies("shop").is_empty());
    assert!(cluster
        .pod_names("shop", "shakeout.dev/isolated")
        .is_empty());
    assert_eq!(cluster.web_in_zone_a(), before, "isolate deletes no pod");
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn pods_fault_kills_the_pods_it_chose_and_names_them() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let before = cluster.pod_names("shop", "app=web");
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "pods.yaml",
        "name: k8s-pod-kill\nduration: 3s\nprobes:\n  - name: web-capacity\n    kubernetes: {namespace: shop, selector: \"app=web\", min_ready: 4, interval: 100ms}\n\
         faults:\n  - name: kill-two\n    at: 1s\n    duration: 1s\n    pods: {namespace: shop, selector: \"app=web\", mode: fixed, value: 2, action: delete}\n",
    );
    let out = dir.path().join("out");
    let output = wait_output(start_run(&cluster, spec.to_str().unwrap(), &out), RUN_BOUND);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let detail = injected_detail(&out);
    assert!(detail.starts_with("deleted 2 pod(s): "), "{detail}");
    let chosen: Vec<&str> = before
        .iter()
        .map(String::as_str)
        .filter(|p| detail.contains(p))
        .collect();
    assert_eq!(chosen.len(), 2, "{detail}");
    let after = cluster.pod_names("shop", "app=web");
    assert!(chosen.iter().all(|p| !after.iter().any(|a| a == p)));
    assert_eq!(after.len(), 6, "the ReplicaSet replaced them");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(&detail), "{md}");
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn caps_refuse_before_any_change() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let before = cluster.pod_names("shop", "app=web");
    let dir = tempfile::tempdir().unwrap();
    for (cap, says) in [
        (
            "        max_nodes: 1\n",
            "2 nodes would be touched, more than max_nodes 1",
        ),
        (
            "        max_pods: 3\n",
            "would be touched, more than max_pods 3",
        ),
        (
            "        max_pods: \"50%\"\n",
            "of the 6 matching pods would be touched, more than max_pods 50%",
        ),
    ] {
        let extra = format!("        namespace: shop\n        pod_selector: \"app=web\"\n{cap}");
        let spec = ZoneRun {
            extra: &extra,
            ..ZoneRun::new("cordon_and_evict")
        }
        .write(dir.path());
        let out = dir.path().join(format!("out-{}", cap.len()));
        let output = wait_output(start_run(&cluster, &spec, &out), RUN_BOUND);
        assert_eq!(code(&output), 3, "{}", text(&output));
        assert!(text(&output).contains(says), "{cap}: {}", text(&output));
        assert!(
            text(&output).contains("nothing was changed"),
            "{}",
            text(&output)
        );
        assert!(cluster.cordoned().is_empty());
        assert_eq!(cluster.pod_names("shop", "app=web"), before);
    }
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn without_allow_destructive_the_plan_is_printed_and_nothing_changes() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let before = cluster.pod_names("shop", "app=web");
    let dir = tempfile::tempdir().unwrap();
    let spec = ZoneRun::new("cordon_and_evict").write(dir.path());
    let out = dir.path().join("out");
    let output = run_env(&cluster, &["run", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(
        text(&output).contains("--allow-destructive"),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains("cordons the Kubernetes nodes topology.kubernetes.io/zone=a"),
        "{}",
        text(&output)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(cluster.cordoned().is_empty());
    assert_eq!(cluster.pod_names("shop", "app=web"), before);
    assert!(!out.join("journal.jsonl").exists());
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn plan_preflight_lists_every_node_and_pod_it_would_touch() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Every namespace: the DaemonSet's pods are listed as left alone.
    let spec = ZoneRun {
        extra: "",
        ..ZoneRun::new("cordon_and_evict")
    }
    .write(dir.path());
    let output = run_env(&cluster, &["plan", "--preflight", &spec]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let said = text(&output);
    assert!(
        said.contains("would cordon 2 node(s): node-a1, node-a2"),
        "{said}"
    );
    for pod in cluster.web_in_zone_a() {
        assert!(
            said.contains(&format!("shop/{pod} on node-a")),
            "{pod}: {said}"
        );
    }
    let agents = cluster.pod_names("kube-system", "app=agent");
    assert_eq!(agents.len(), 4);
    let left = agents
        .iter()
        .filter(|a| said.contains(&format!("kube-system/{a} (DaemonSet pod)")))
        .count();
    assert_eq!(left, 2, "zone a's two agent pods are left alone: {said}");
    assert!(cluster.cordoned().is_empty(), "preflight only reads");
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn ctrl_c_uncordons_the_zone() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = ZoneRun {
        duration: "60s",
        fault_for: "50s",
        ..ZoneRun::new("cordon_and_evict")
    }
    .write(dir.path());
    let out = dir.path().join("out");
    let child = start_run(&cluster, &spec, &out);
    wait_for_event(&out, "fault_injected", Duration::from_secs(30));
    assert!(both_zone_a_nodes_cordoned(&cluster));
    signal(&child, libc::SIGINT);
    let output = wait_output(child, RUN_BOUND);
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert!(cluster.cordoned().is_empty());
    let report = read_report(&out);
    assert_eq!(report["verdict"], "aborted");
    assert!(report["faults"][0]["reverted_at_ms"].is_number());
}

/// Start a long zone loss with `action`, wait until it is injected, SIGKILL the run;
/// returns its output directory.
fn killed_during_the_fault(cluster: &FakeCluster, dir: &Path, action: &str) -> PathBuf {
    let spec = ZoneRun {
        duration: "60s",
        fault_for: "50s",
        ..ZoneRun::new(action)
    }
    .write(dir);
    let out = dir.join("out");
    let child = start_run(cluster, &spec, &out);
    wait_for_event(&out, "fault_injected", Duration::from_secs(30));
    signal(&child, libc::SIGKILL);
    let _ = wait_output(child, Duration::from_secs(5));
    out
}

/// `shakeout rollback OUT` reverts `lose-zone-a`; a second one has nothing to revert.
fn assert_rollback_reverts_once(cluster: &FakeCluster, out: &Path) {
    let dir = out.to_str().unwrap();
    let rolled = run_env(cluster, &["rollback", dir]);
    assert_eq!(code(&rolled), 0, "{}", text(&rolled));
    assert!(
        text(&rolled).contains("reverted `lose-zone-a`"),
        "{}",
        text(&rolled)
    );
    let again = run_env(cluster, &["rollback", dir]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(
        text(&again).contains("nothing to revert"),
        "{}",
        text(&again)
    );
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn rollback_after_sigkill_uncordons_the_zone_and_is_idempotent() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = killed_during_the_fault(&cluster, dir.path(), "cordon_and_evict");
    assert!(
        both_zone_a_nodes_cordoned(&cluster),
        "SIGKILL reverts nothing"
    );
    // Someone uncordons a node by hand meanwhile, and cordons it again for themselves:
    // the rollback must not take that cordon away.
    let Some(_) = kubectl_ok(&cluster, &["uncordon", "node-a2"]) else {
        return;
    };
    kubectl_ok(
        &cluster,
        &["annotate", "node", "node-a2", "shakeout.dev/cordoned-by-"],
    );
    kubectl_ok(&cluster, &["cordon", "node-a2"]);
    assert_rollback_reverts_once(&cluster, &out);
    assert_eq!(cluster.cordoned(), ["node-a2"]);
}

#[test]
#[cfg_attr(not(feature = "kubernetes"), ignore = "needs the kubernetes feature")]
fn rollback_after_sigkill_removes_the_isolation_and_is_idempotent() {
    let Some(cluster) = FakeCluster::start(&shop_fixture(6, 1, 0.5)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = killed_during_the_fault(&cluster, dir.path(), "isolate");
    assert_eq!(
        cluster.network_policies("shop").len(),
        1,
        "SIGKILL reverts nothing"
    );
    assert!(!cluster
        .pod_names("shop", "shakeout.dev/isolated")
        .is_empty());
    assert_rollback_reverts_once(&cluster, &out);
    assert!(cluster.network_policies("shop").is_empty());
    assert!(cluster
        .pod_names("shop", "shakeout.dev/isolated")
        .is_empty());
}

#[test]
fn kubernetes_specs_report_every_mistake_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "bad.yaml",
        "name: bad\nduration: 10s\nprobes:\n  - name: cap\n    kubernetes: {namespace: Shop, selector: \"app=web\", min_ready: 0}\n\
         faults:\n  - name: zone\n    at: 1s\n    duration: 2s\n    az_loss:\n      zone: a\n      kubernetes:\n        action: isolate\n        pod_selector: \"app=we b\"\n        grace_period: 5s\n        max_nodes: 0\n\
         \x20 - name: kill\n    at: 1s\n    duration: 1s\n    pods: {namespace: shop, selector: \"app=web\", mode: fixed}\n",
    );
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let said = text(&out);
    for line in [
        "bad.yaml:5:",
        "probes[0].kubernetes.namespace: `Shop` is not a namespace name",
        "probes[0].kubernetes.min_ready: must be at least 1",
        "faults[0].az_loss.kubernetes.pod_selector: `we b` is not a label value",
        "faults[0].az_loss.kubernetes.grace_period: `grace_period` only applies to `action: delete_pods`",
        "faults[0].az_loss.kubernetes.max_nodes: must be at least 1",
        "faults[1].pods.value: `mode: fixed` needs `value`",
    ] {
        assert!(said.contains(line), "missing {line:?} in:\n{said}");
    }

    let typo = write_spec(
        dir.path(),
        "typo.yaml",
        "name: typo\nduration: 10s\nfaults:\n  - name: zone\n    at: 1s\n    duration: 2s\n    az_loss:\n      zone: a\n      kubernetes:\n        action: isolate\n        pod_selecter: \"app=web\"\n",
    );
    let out = shakeout(&["validate", typo.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out).contains("typo.yaml:11:9: faults[0].az_loss.kubernetes.pod_selecter: unknown field `pod_selecter`, did you mean `pod_selector`?"),
        "{}",
        text(&out)
    );
    for (name, body, field, fix) in [
        ("pods", "faults:\n  - name: k\n    at: 1s\n    duration: 1s\n    pods: {namespace: shop, selector: a=b, mdoe: all}\n", "mdoe", "mode"),
        ("probe", "probes:\n  - name: p\n    kubernetes: {namespace: shop, selector: a=b, min_redy: 1}\n", "min_redy", "min_ready"),
    ] {
        let spec = write_spec(dir.path(), &format!("{name}.yaml"), &format!("name: t\nduration: 5s\n{body}"));
        let out = shakeout(&["validate", spec.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "{}", text(&out));
        let want = format!("unknown field `{field}`, did you mean `{fix}`?");
        assert!(text(&out).contains(&want), "{}", text(&out));
    }
}

/// A build without the `kubernetes` feature validates and plans Kubernetes specs, and
/// `run` stops before anything starts, with one sentence.
#[test]
#[cfg_attr(
    feature = "kubernetes",
    ignore = "runs in a build without the kubernetes feature"
)]
fn without_the_feature_run_fails_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ZoneRun::new("cordon_and_evict").write(dir.path());
    let plan = shakeout(&["plan", &spec]);
    assert_eq!(code(&plan), 0, "{}", text(&plan));
    assert!(
        text(&plan).contains("lose zone `a` on Kubernetes"),
        "{}",
        text(&plan)
    );
    let out = dir.path().join("out");
    let run = shakeout(&[
        "run",
        &spec,
        "--out",
        out.to_str().unwrap(),
        "--allow-destructive",
    ]);
    assert_eq!(code(&run), 3, "{}", text(&run));
    assert!(
        text(&run).contains("this shakeout was built without the `kubernetes` feature (rebuild with `cargo build --features kubernetes`)"),
        "{}",
        text(&run)
    );
}
