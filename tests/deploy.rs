//! The schedules in deploy/: the Kubernetes manifests go through `kubectl apply
//! --dry-run=client`, the systemd units through `systemd-analyze verify`, and the
//! game day the ConfigMap carries through `shakeout validate`.
//!
//! kubectl (1.32) maps each kind to its API group with the server's discovery, even
//! with `--dry-run=client --validate=false`; with no cluster here, the test serves
//! that discovery (the API groups and resource lists the manifests use, 404 for
//! every object) on 127.0.0.1 and points a throw-away kubeconfig at it. Schema
//! validation (`--validate=true`) would need the server's OpenAPI and is not done;
//! the cross-references (ConfigMap, PVC and Secret names) are checked here instead.
//!
//! A missing kubectl or systemd-analyze skips the test, except under CI=true, where
//! it fails it (scripts/install-test-deps installs both).

mod util;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not installed; run scripts/install-test-deps"
        );
        eprintln!("skipping: {name} is not installed");
    }
    found
}

/// Serves the API discovery kubectl needs to map ConfigMap, PersistentVolumeClaim
/// and CronJob to their groups; every other path is 404 (no object exists yet).
struct Discovery {
    addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const CORE: &str = r#"{"kind":"APIResourceList","groupVersion":"v1","resources":[
 {"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap","verbs":["create","get","list","patch","update","delete"]},
 {"name":"persistentvolumeclaims","singularName":"persistentvolumeclaim","namespaced":true,"kind":"PersistentVolumeClaim","verbs":["create","get","list","patch","update","delete"]}]}"#;
const BATCH: &str = r#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"batch/v1","resources":[
 {"name":"cronjobs","singularName":"cronjob","namespaced":true,"kind":"CronJob","verbs":["create","get","list","patch","update","delete"]},
 {"name":"jobs","singularName":"job","namespaced":true,"kind":"Job","verbs":["create","get","list","patch","update","delete"]}]}"#;
const GROUPS: &str = r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"batch","versions":[{"groupVersion":"batch/v1","version":"v1"}],"preferredVersion":{"groupVersion":"batch/v1","version":"v1"}}]}"#;
const VERSIONS: &str = r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}"#;
const NOT_FOUND: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","reason":"NotFound","code":404}"#;

impl Discovery {
    fn start() -> Discovery {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => answer(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Discovery {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(mut stream: std::net::TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 8192];
    let n = stream.read(&mut buf).unwrap_or(0);
    let request = String::from_utf8_lossy(&buf[..n]);
    let path = request
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let (status, body) = match path.as_str() {
        "/api" => ("200 OK", VERSIONS),
        "/apis" => ("200 OK", GROUPS),
        "/api/v1" => ("200 OK", CORE),
        "/apis/batch/v1" => ("200 OK", BATCH),
        _ => ("404 Not Found", NOT_FOUND),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: http://{server}\n\
             users:\n- name: nobody\n  user: {{}}\ncontexts:\n- name: local\n  context:\n    cluster: local\n    user: nobody\n    namespace: default\n\
             current-context: local\n"
        ),
    )
    .unwrap();
    path
}

fn kubectl_dry_run(kubectl: &Path, config: &Path, target: &Path) -> std::process::Output {
    Command::new(kubectl)
        .args(["apply", "--dry-run=client", "--validate=false", "-f"])
        .arg(target)
        .env("KUBECONFIG", config)
        .env("HOME", config.parent().unwrap())
        .output()
        .unwrap()
}

#[test]
fn the_kubernetes_manifests_pass_a_client_side_dry_run() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Discovery::start();
    let config = kubeconfig(dir.path(), &server.addr);
    let out = kubectl_dry_run(&kubectl, &config, Path::new("deploy/kubernetes"));
    let said = util::text(&out);
    assert!(out.status.success(), "{said}");
    for object in [
        "configmap/shakeout-gameday created (dry run)",
        "persistentvolumeclaim/shakeout-reports created (dry run)",
        "cronjob.batch/shakeout-gameday created (dry run)",
    ] {
        assert!(said.contains(object), "{said}");
    }
    // The same dry run refuses a manifest with a kind the API has not got.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: batch/v1\nkind: CronJobb\nmetadata:\n  name: x\nspec: {}\n",
    )
    .unwrap();
    let refused = kubectl_dry_run(&kubectl, &config, &bad);
    assert!(!refused.status.success(), "{}", util::text(&refused));
}

fn manifest(file: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(Path::new("deploy/kubernetes").join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn the_cronjob_mounts_the_configmap_and_the_pvc_that_are_defined() {
    let cron = manifest("cronjob.yaml");
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_sequence().unwrap();
    let config_map = volumes.iter().find_map(|v| v["configMap"]["name"].as_str());
    let claim = volumes
        .iter()
        .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str());
    assert_eq!(
        config_map,
        manifest("configmap.yaml")["metadata"]["name"].as_str()
    );
    assert_eq!(claim, manifest("pvc.yaml")["metadata"]["name"].as_str());
    assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    let schedule = cron["spec"]["schedule"].as_str().unwrap();
    assert_eq!(schedule.split_whitespace().count(), 5, "{schedule}");
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(args[..2], ["run", "/etc/shakeout/gameday.yaml"]);
}

/// The suite and experiments in the ConfigMap, written out as the pod sees them, are
/// a valid game day for the real binary (the webhook URL from the environment).
#[test]
fn the_configmap_holds_a_suite_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    let data = manifest("configmap.yaml")["data"].clone();
    for (name, text) in data.as_mapping().unwrap() {
        std::fs::write(
            dir.path().join(name.as_str().unwrap()),
            text.as_str().unwrap(),
        )
        .unwrap();
    }
    let suite = dir.path().join("gameday.yaml");
    let out = Command::new(util::bin())
        .args(["validate", suite.to_str().unwrap()])
        .env(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/secret",
        )
        .output()
        .unwrap();
    assert_eq!(util::code(&out), 0, "{}", util::text(&out));
    assert!(!util::text(&out).contains("secret"), "{}", util::text(&out));
}

/// The units with ExecStart pointing at this build's binary (verify checks that the
/// command exists and is executable).
fn units_in(dir: &Path) -> (PathBuf, PathBuf) {
    let service = std::fs::read_to_string("deploy/systemd/shakeout-gameday.service").unwrap();
    assert!(service.contains("ExecStart=/usr/local/bin/shakeout "));
    let service = service.replace(
        "/usr/local/bin/shakeout",
        util::bin().canonicalize().unwrap().to_str().unwrap(),
    );
    let service_path = dir.join("shakeout-gameday.service");
    std::fs::write(&service_path, service).unwrap();
    let timer_path = dir.join("shakeout-gameday.timer");
    std::fs::copy("deploy/systemd/shakeout-gameday.timer", &timer_path).unwrap();
    (service_path, timer_path)
}

fn verify(analyze: &Path, units: &[&Path]) -> std::process::Output {
    Command::new(analyze)
        .arg("verify")
        .args(units)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap()
}

#[test]
fn the_systemd_service_and_timer_verify_without_a_warning() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (service, timer) = units_in(dir.path());
    let out = verify(&analyze, &[&service, &timer]);
    let said = util::text(&out);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("Unknown"), "{said}");
    assert!(!said.contains("shakeout-gameday"), "a complaint: {said}");

    // The check has teeth: a misspelt key is named.
    let text = std::fs::read_to_string(&service).unwrap();
    std::fs::write(&service, text.replace("TimeoutStopSec", "TimeoutStopSecs")).unwrap();
    let out = verify(&analyze, &[&service, &timer]);
    assert!(
        util::text(&out).contains("Unknown key 'TimeoutStopSecs'"),
        "{}",
        util::text(&out)
    );
}
