//! A real PostgreSQL 15 primary with a streaming standby in a temp dir, on free loopback
//! ports, run as an unprivileged user (PostgreSQL refuses root), torn down on drop.
//! Missing binaries skip the test, except under CI=true, where they fail it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const BIN: &str = "/usr/lib/postgresql/15/bin";
/// `nobody`: the user the clusters run as when the tests run as root.
const NOBODY: u32 = 65534;
const NOGROUP: u32 = 65534;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    Async,
    Sync,
}

pub struct PgNode {
    pub data_dir: PathBuf,
    pub port: u16,
}

pub struct PgPair {
    pub dir: tempfile::TempDir,
    pub primary: PgNode,
    pub standby: PgNode,
}

/// Whether PostgreSQL is installed; under CI=true its absence fails the test.
pub fn available() -> bool {
    let have = Path::new(BIN).join("initdb").exists();
    if !have {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "PostgreSQL 15 is not installed ({BIN}); run scripts/install-test-deps"
        );
        eprintln!("skipping: PostgreSQL 15 is not installed ({BIN})");
    }
    have
}

fn as_owner(cmd: &mut Command) -> &mut Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(NOBODY).gid(NOGROUP);
    }
    cmd.current_dir("/")
}

fn tool(name: &str, args: &[&str]) -> Output {
    let out = as_owner(&mut Command::new(Path::new(BIN).join(name)))
        .args(args)
        .output()
        .expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl PgNode {
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// Run SQL with psql; the trimmed output, or None when the server did not answer.
    pub fn psql(&self, sql: &str) -> Option<String> {
        let out = Command::new(Path::new(BIN).join("psql"))
            .env("PGCONNECT_TIMEOUT", "3")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "postgres", "-Atq", "-c", sql])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `Some(true)`: a standby; `Some(false)`: a primary; `None`: not answering.
    pub fn in_recovery(&self) -> Option<bool> {
        self.psql("SELECT pg_is_in_recovery()").map(|s| s == "t")
    }

    fn start(&self) {
        let log = self.data_dir.join("test.log");
        tool(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                path(&self.data_dir),
                "-l",
                path(&log),
            ],
        );
    }

    fn stop(&self) {
        // Best effort: the node may be dead, moved aside or already stopped.
        let _ = as_owner(&mut Command::new(Path::new(BIN).join("pg_ctl")))
            .args(["stop", "-m", "immediate", "-D", path(&self.data_dir)])
            .output();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Whether the old primary can be rewound (`wal_log_hints`); without it (and without
/// data checksums, which initdb leaves off) a rejoin must take a fresh base backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewind {
    Possible,
    Impossible,
}

impl PgPair {
    pub fn start(mode: Replication) -> PgPair {
        PgPair::start_with(mode, Rewind::Possible)
    }

    pub fn start_with(mode: Replication, rewind: Rewind) -> PgPair {
        let dir = tempfile::Builder::new()
            .prefix("shakeout-pg-")
            .tempdir()
            .expect("temp dir");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOGROUP)).expect("chown");
        }
        let primary = PgNode {
            data_dir: dir.path().join("a"),
            port: super::free_port(),
        };
        let standby = PgNode {
            data_dir: dir.path().join("b"),
            port: super::free_port(),
        };
        tool(
            "initdb",
            &[
                "-D",
                path(&primary.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let mut conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n\
             wal_level = replica\nmax_wal_senders = 10\nwal_log_hints = {}\nfsync = off\n\
             shared_buffers = 16MB\nmax_connections = 40\nwal_keep_size = 128MB\n",
            primary.port,
            if rewind == Rewind::Possible {
                "on"
            } else {
                "off"
            }
        );
        if mode == Replication::Sync {
            conf.push_str("synchronous_standby_names = '*'\n");
        }
        append(&primary.data_dir.join("postgresql.conf"), &conf);
        primary.start();
        tool(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                path(&standby.data_dir),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        append(
            &standby.data_dir.join("postgresql.conf"),
            &format!("\nport = {}\n", standby.port),
        );
        standby.start();
        let pair = PgPair {
            dir,
            primary,
            standby,
        };
        pair.wait_streaming(mode);
        pair
    }

    /// Until the primary sees its standby streaming (and as sync, in sync mode).
    pub fn wait_streaming(&self, mode: Replication) {
        let want = match mode {
            Replication::Async => "streaming|async",
            Replication::Sync => "streaming|sync",
        };
        super::wait_for("the standby to stream", Duration::from_secs(30), || {
            self.primary
                .psql("SELECT state || '|' || sync_state FROM pg_stat_replication")
                .is_some_and(|s| s.lines().any(|l| l == want))
        });
    }

    /// Both nodes, as a client that must write would name them.
    pub fn write_conninfo(&self) -> String {
        format!(
            "host=127.0.0.1,127.0.0.1 port={},{} user=postgres dbname=postgres target_session_attrs=read-write",
            self.primary.port, self.standby.port
        )
    }

    /// Wait until exactly `primary` is a primary and `standby` a standby again.
    pub fn wait_roles(&self, primary: &PgNode, standby: &PgNode, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let (p, s) = (primary.in_recovery(), standby.in_recovery());
            if p == Some(false) && s == Some(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "roles not settled: {} in_recovery={p:?}, {} in_recovery={s:?}",
                primary.port,
                standby.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .expect("open postgresql.conf");
    f.write_all(text.as_bytes()).expect("append");
}

impl Drop for PgPair {
    fn drop(&mut self) {
        self.standby.stop();
        self.primary.stop();
    }
}
