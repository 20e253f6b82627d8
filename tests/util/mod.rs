//! Helpers for end-to-end tests of the real binary on real experiment files.
#![allow(dead_code)]

pub mod experiment;
pub mod gameday;
pub mod k8s;
pub mod moto;
pub mod net;
pub mod patroni;
pub mod pg;
pub mod prometheus;
pub mod schema;
pub mod tls;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shakeout"))
}

pub fn shakeout(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run shakeout")
}

pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(bin());
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn shakeout")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn write_spec(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write spec");
    p
}

pub fn read_report(dir: &Path) -> serde_json::Value {
    let bytes = std::fs::read(dir.join("report.json")).expect("report.json exists");
    serde_json::from_slice(&bytes).expect("report.json parses")
}

/// Process state letter from /proc (R, S, T = stopped, Z, ...), or None when gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process to pause and kill: `sleep 120`, killed and reaped on drop.
pub struct Victim(pub Child);

impl Victim {
    pub fn start() -> Victim {
        Victim(
            Command::new("sleep")
                .arg("120")
                .spawn()
                .expect("spawn sleep"),
        )
    }
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
    pub fn is_stopped(&self) -> bool {
        proc_state(self.pid()) == Some('T')
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait (5 s at most) until a run has paused (SIGSTOPped) `victim`.
pub fn wait_until_paused(victim: &Victim) {
    wait_for("the victim to be paused", Duration::from_secs(5), || {
        victim.is_stopped()
    });
}

/// `shakeout run SPEC --out OUT` in the background, returned once it has paused `victim`.
pub fn spawn_run_until_paused(spec: &str, out: &Path, victim: &Victim) -> Child {
    let child = spawn_run(spec, out.to_str().expect("a UTF-8 output path"));
    wait_until_paused(victim);
    child
}

/// Wait until the run writing into `out` has recorded an event of type `kind`.
pub fn wait_for_event(out: &Path, kind: &str, timeout: Duration) {
    let events = out.join("events.jsonl");
    let line = format!("\"type\":\"{kind}\"");
    wait_for(&format!("{kind} on disk"), timeout, || {
        std::fs::read_to_string(&events).is_ok_and(|e| e.contains(&line))
    });
}

/// Send `sig` to `run`, which has paused `victim` and writes into `out`: it must exit 1
/// with the victim running again, its report aborted for `reason` and its fault reverted.
pub fn assert_signal_aborts_and_resumes(
    run: Child,
    sig: i32,
    victim: &Victim,
    out: &Path,
    reason: &str,
) {
    signal(&run, sig);
    let output = wait_output(run, Duration::from_secs(10));
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert!(!victim.is_stopped(), "victim still paused after {reason}");
    let report = read_report(out);
    assert_eq!(report["verdict"], "aborted");
    let why = report["aborted"]["reason"].as_str().unwrap_or_default();
    assert!(why.contains(reason), "{report}");
    assert!(
        report["faults"][0]["reverted_at_ms"].is_number(),
        "{report}"
    );
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: plain kill(2) on our own child.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

/// Wait for a child with a bound; kills it and fails the test when it overruns.
pub fn wait_output(mut child: Child, timeout: Duration) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "shakeout did not finish within {timeout:?}:\n{}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `shakeout ARGS`, failing the test if it runs over 10 s (a hang is a failure too).
pub fn shakeout_bounded(args: &[&str]) -> Output {
    wait_output(spawn(args, &[]), Duration::from_secs(10))
}

/// A plain HTTP/1.0 GET on loopback; returns (status, body).
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// A child process (a `shakeout demo serve` or `proxy serve`) killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(args: &[&str], port: u16) -> Server {
        let child = Command::new(bin())
            .args(args)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        wait_for("server port", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Server { child, port }
    }
    pub fn demo() -> Server {
        let port = free_port();
        Server::start(
            &["demo", "serve", "--listen", &format!("127.0.0.1:{port}")],
            port,
        )
    }
    /// `demo serve` writing its pid to `pid_file` (for `process` faults against it).
    pub fn demo_with_pid_file(pid_file: &Path) -> Server {
        let port = free_port();
        let server = Server::start(
            &[
                "demo",
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--pid-file",
                &pid_file.display().to_string(),
            ],
            port,
        );
        wait_for("pid file", Duration::from_secs(5), || pid_file.exists());
        server
    }
    pub fn toxiproxy() -> Server {
        let port = free_port();
        Server::start(
            &["proxy", "serve", "--listen", &format!("127.0.0.1:{port}")],
            port,
        )
    }
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `shakeout run SPEC --out DIR`, waited for.
pub fn run_out(spec: &str, out: &str) -> Output {
    shakeout(&["run", spec, "--out", out])
}

/// `shakeout run SPEC --out DIR` in the background.
pub fn spawn_run(spec: &str, out: &str) -> Child {
    spawn(&["run", spec, "--out", out], &[])
}
