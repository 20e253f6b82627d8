//! A real EC2 API on loopback: moto's server (PyPI `moto[server]`), one per test, on a
//! free port, killed on drop.
//!
//! Without moto the fixture is skipped (`start` returns None), except under CI=true,
//! where a missing moto fails the test: scripts/install-test-deps installs it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Moto {
    /// Starts `python3 -m moto.server` on a free loopback port and waits until it answers.
    pub fn start() -> Option<Moto> {
        if !installed() {
            return None;
        }
        let port = super::free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn moto server");
        let mut moto = Moto { port, child };
        moto.wait_until_ready();
        Some(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a shakeout talking to this server runs with: the endpoint and
    /// throwaway credentials through the standard AWS variables, nothing from the
    /// machine's own AWS configuration.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "moto-test-secret".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("NO_PROXY", "127.0.0.1".into()),
        ]
    }

    fn wait_until_ready(&mut self) {
        let timeout = Duration::from_secs(30);
        let deadline = Instant::now() + timeout;
        while !answers(self.port) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut log = String::new();
                if let Some(mut stderr) = self.child.stderr.take() {
                    let _ = stderr.read_to_string(&mut log);
                }
                panic!("moto server exited ({status}) before it answered:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "moto server: no answer after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Its request log is not read: drop the pipe so a chatty server never blocks.
        self.child.stderr.take();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !in_ci,
            "moto[server] is not installed (scripts/install-test-deps installs it)"
        );
        eprintln!("skipping: moto[server] is not installed (scripts/install-test-deps)");
    }
    ok
}

/// One HTTP request to moto's own API: any answer means it is serving.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}
