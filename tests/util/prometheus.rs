//! A real Prometheus (Debian's `prometheus`) on a free loopback port, scraping a
//! test exporter whose one gauge the test sets, with one alerting rule:
//! `ShakeoutTestHigh` fires while `shakeout_test_value > 5`.
//!
//! `start` returns once the gauge has been scraped; that takes about 5 s, because
//! Prometheus hands newly discovered targets to its scrapers on a fixed 5 s tick.
//!
//! Without the binary the fixture is skipped (`start` returns None), except under
//! CI=true, where a missing binary fails the test: CI installs it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const METRIC: &str = "shakeout_test_value";
pub const ALERT: &str = "ShakeoutTestHigh";
/// The value above which [`ALERT`] fires.
pub const ALERT_ABOVE: f64 = 5.0;

const BINARY: &str = "prometheus";

/// Serves `/metrics` with one gauge whose value the test controls.
pub struct Exporter {
    pub port: u16,
    value: Arc<Mutex<f64>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    pub fn start(initial: f64) -> Exporter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind exporter");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let value = Arc::new(Mutex::new(initial));
        let stop = Arc::new(AtomicBool::new(false));
        let (v, s) = (value.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(listener, v, s));
        Exporter {
            port,
            value,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set(&self, value: f64) {
        *self.value.lock().expect("exporter value") = value;
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, value: Arc<Mutex<f64>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let current = *value.lock().expect("exporter value");
                answer(stream, current);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// One scrape: read the request head, answer the gauge, close.
fn answer(mut stream: TcpStream, value: f64) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = format!("# TYPE {METRIC} gauge\n{METRIC} {value}\n");
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// A running Prometheus; killed and its data removed on drop.
pub struct Prometheus {
    pub port: u16,
    pub exporter: Exporter,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping a new exporter (gauge at `initial`) every 100ms and
    /// waits until the gauge is queryable. None when the binary is missing outside CI.
    pub fn start(initial: f64) -> Option<Prometheus> {
        let binary = find_binary()?;
        let exporter = Exporter::start(initial);
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config(&dir, exporter.port);
        let port = super::free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn prometheus");
        let mut prometheus = Prometheus {
            port,
            exporter,
            child,
            _dir: dir,
        };
        prometheus.wait_until("ready", "/-/ready", "");
        let query = format!("/api/v1/query?query={METRIC}");
        prometheus.wait_until("the first scrape", &query, "\"result\":[{");
        Some(prometheus)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits (30 s at most) until `path` answers 200 with `needle` in its body.
    fn wait_until(&mut self, what: &str, path: &str, needle: &str) {
        let timeout = Duration::from_secs(30);
        let deadline = Instant::now() + timeout;
        while !http_get(self.port, path).is_some_and(|body| body.contains(needle)) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut log = String::new();
                if let Some(mut stderr) = self.child.stderr.take() {
                    let _ = stderr.read_to_string(&mut log);
                }
                panic!("prometheus exited ({status}) before {what}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "prometheus: no {what} after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(BINARY))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !in_ci,
            "`{BINARY}` is not installed (scripts/install-test-deps installs it)"
        );
        eprintln!("skipping: `{BINARY}` is not installed (scripts/install-test-deps)");
    }
    found
}

fn write_config(dir: &tempfile::TempDir, exporter_port: u16) -> PathBuf {
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        format!(
            "groups:\n- name: shakeout-test\n  interval: 100ms\n  rules:\n  - alert: {ALERT}\n    expr: {METRIC} > {ALERT_ABOVE}\n    for: 0s\n"
        ),
    )
    .expect("write rules");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\n  evaluation_interval: 100ms\nrule_files:\n- {}\nscrape_configs:\n- job_name: exporter\n  static_configs:\n  - targets: ['127.0.0.1:{exporter_port}']\n",
            rules.display()
        ),
    )
    .expect("write config");
    config
}

/// The body of a 200 answer to `GET path`, or None.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}
