//! The test Kubernetes API server (`tests/k8s_api/server.py`, Python stdlib) on a free
//! loopback port, with a kubeconfig pointing at it, and the real `kubectl` beside it.
//!
//! Missing `python3` or `kubectl` skips the test, except under CI=true, where it fails
//! it: `scripts/install-test-deps` installs both.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/k8s_api/server.py");
const KUBECTL: &str = "kubectl";

/// Whether `tool` runs; under CI=true its absence fails the test.
pub fn have(tool: &str, version_args: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(version_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`{tool}` is not installed; run scripts/install-test-deps"
        );
        eprintln!("skipping: `{tool}` is not installed");
    }
    ok
}

/// The fake cluster every Kubernetes test starts from: zones a, b, c (two nodes in a,
/// one each in b and c), Deployment shop/web with `web_replicas` pods spread over the
/// nodes, a PodDisruptionBudget keeping `min_available` of them, and a DaemonSet pod on
/// every node. New pods turn Ready `ready_delay` seconds after they are created.
pub fn shop_fixture(web_replicas: u32, min_available: u32, ready_delay: f64) -> Value {
    json!({
        "ready_delay": ready_delay,
        "nodes": [
            {"name": "node-a1", "zone": "a", "labels": {"node-role": "worker"}},
            {"name": "node-a2", "zone": "a", "labels": {"node-role": "worker"}},
            {"name": "node-b1", "zone": "b", "labels": {"node-role": "worker"}},
            {"name": "node-c1", "zone": "c", "labels": {"node-role": "worker"}}
        ],
        "deployments": [{"namespace": "shop", "name": "web", "replicas": web_replicas}],
        "daemonsets": [{"namespace": "kube-system", "name": "agent"}],
        "pdbs": [{"namespace": "shop", "name": "web-pdb", "selector": {"app": "web"},
                  "minAvailable": min_available}]
    })
}

/// A running test API server; killed on drop.
pub struct FakeCluster {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl FakeCluster {
    /// Start the server on `fixture`; None when python3 is missing outside CI.
    pub fn start(fixture: &Value) -> Option<FakeCluster> {
        if !have("python3", &["--version"]) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let fixture_path = dir.path().join("fixture.json");
        std::fs::write(&fixture_path, fixture.to_string()).expect("write fixture");
        let mut child = Command::new("python3")
            .arg(SERVER)
            .arg(&fixture_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the test API server");
        let port = read_port(&mut child);
        let cluster = FakeCluster { child, port, dir };
        cluster.write_kubeconfig();
        Some(cluster)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A kubeconfig with two contexts on this server: `test` (current) and `other`.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn write_kubeconfig(&self) {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\n\
             users:\n- name: tester\n  user: {{token: test-token}}\n\
             contexts:\n- name: test\n  context: {{cluster: fake, user: tester}}\n\
             - name: other\n  context: {{cluster: fake, user: tester}}\n\
             current-context: test\n",
            port = self.port
        );
        std::fs::write(self.kubeconfig(), text).expect("write kubeconfig");
    }

    /// GET `path` as JSON (status 200 expected).
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = super::http_get(&self.addr(), path).expect("GET the test API server");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// GET `path`: the status and the body as JSON.
    pub fn get_status(&self, path: &str) -> (u16, Value) {
        let (status, body) = super::http_get(&self.addr(), path).expect("GET the test API server");
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Names of the nodes that are cordoned.
    pub fn cordoned(&self) -> Vec<String> {
        self.get("/api/v1/nodes")["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|n| n["spec"]["unschedulable"] == true)
            .map(|n| {
                n["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// The pods in `namespace` matching `selector` (any when empty).
    pub fn pods(&self, namespace: &str, selector: &str) -> Vec<Value> {
        let path = format!(
            "/api/v1/namespaces/{namespace}/pods?labelSelector={}",
            selector.replace('=', "%3D").replace(',', "%2C")
        );
        self.get(&path)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn pod_names(&self, namespace: &str, selector: &str) -> Vec<String> {
        self.pods(namespace, selector)
            .iter()
            .map(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// Ready pods of shop/web.
    pub fn ready_web(&self) -> usize {
        self.pods("shop", "app=web")
            .iter()
            .filter(|p| {
                p["metadata"]["deletionTimestamp"].is_null()
                    && p["status"]["conditions"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            })
            .count()
    }

    /// The web pods on the nodes of zone `a`.
    pub fn web_in_zone_a(&self) -> Vec<String> {
        self.pods("shop", "app=web")
            .iter()
            .filter(|p| {
                p["spec"]["nodeName"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("node-a"))
            })
            .map(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    pub fn network_policies(&self, namespace: &str) -> Vec<String> {
        self.get(&format!(
            "/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
        ))["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// Run the real kubectl against this server; None when kubectl is missing outside CI.
    pub fn kubectl(&self, args: &[&str]) -> Option<Output> {
        if !have(KUBECTL, &["version", "--client"]) {
            return None;
        }
        Some(
            Command::new(KUBECTL)
                .args(args)
                .env("KUBECONFIG", self.kubeconfig())
                .env("HOME", self.dir.path())
                .output()
                .expect("run kubectl"),
        )
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn read_port(child: &mut Child) -> u16 {
    let stdout = child.stdout.take().expect("server stdout");
    let mut line = String::new();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading so the server never blocks on a full pipe.
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the test API server said where it listens");
    line.trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from the test API server: {line:?}"))
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
