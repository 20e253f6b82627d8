//! A real three-member Patroni cluster on loopback: etcd, three Patroni members with
//! their PostgreSQL 15 data in a temp dir (run as `nobody` when the tests run as root,
//! since PostgreSQL refuses root), and HAProxy routing to the member whose
//! `GET /primary` answers 200. Every process that names the temp dir (Patroni, the
//! postmasters, etcd, HAProxy, members a run restarted) and the postmasters' children
//! are killed on drop, even when a test fails. Missing binaries skip the test, except
//! under CI=true, where they fail it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's Patroni, run with Debian's python (a `python3` on PATH may lack psycopg2).
pub const PYTHON: &str = "/usr/bin/python3";
pub const PATRONI: &str = "/usr/bin/patroni";
const ETCD: &str = "/usr/bin/etcd";
const HAPROXY: &str = "/usr/sbin/haproxy";
const NOBODY: u32 = 65534;
const NOGROUP: u32 = 65534;

/// The dynamic configuration the tests use: short for speed, and
/// `loop_wait + 2 × retry_timeout ≤ ttl` as Patroni needs.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub ttl: u64,
    pub loop_wait: u64,
    pub retry_timeout: u64,
}

pub const FAST: Timing = Timing {
    ttl: 10,
    loop_wait: 1,
    retry_timeout: 3,
};

pub struct Member {
    pub name: String,
    pub api_port: u16,
    pub pg_port: u16,
    pub config: PathBuf,
    pub data_dir: PathBuf,
}

pub struct PatroniCluster {
    pub dir: tempfile::TempDir,
    pub members: Vec<Member>,
    pub etcd_port: u16,
    pub haproxy_port: u16,
    pub timing: Timing,
    children: Vec<Child>,
}

/// Whether everything the cluster needs is installed; under CI=true its absence
/// fails the test.
pub fn available() -> bool {
    let missing: Vec<&str> = [PYTHON, PATRONI, ETCD, HAPROXY]
        .into_iter()
        .chain([super::pg::BIN])
        .filter(|p| !Path::new(p).exists())
        .collect();
    let psycopg2 = Command::new(PYTHON)
        .args(["-c", "import psycopg2"])
        .output()
        .is_ok_and(|o| o.status.success());
    let have = missing.is_empty() && psycopg2;
    if !have {
        let what = format!("missing {missing:?}, psycopg2 importable: {psycopg2}");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Patroni test dependencies are not installed ({what}); run scripts/install-test-deps"
        );
        eprintln!("skipping: Patroni test dependencies are not installed ({what})");
    }
    have
}

/// Held while a test uses a cluster: two clusters at once on a small machine would
/// make each other's timings. A file lock, so it holds across test processes
/// (nextest) as well as threads (cargo test); released when dropped or the test dies.
pub struct OneAtATime {
    _lock: std::fs::File,
}

pub fn one_at_a_time() -> OneAtATime {
    use std::os::fd::AsRawFd;
    let path = std::env::temp_dir().join("shakeout-patroni-tests.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .expect("open the lock file");
    // SAFETY: flock on a descriptor this function owns; blocks until it is ours.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {}", path.display());
    OneAtATime { _lock: file }
}

fn as_owner(cmd: &mut Command) -> &mut Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(NOBODY).gid(NOGROUP);
    }
    cmd.current_dir("/")
}

/// stdout and stderr of a process, both into `path`.
fn log_to<'a>(cmd: &'a mut Command, path: &Path) -> &'a mut Command {
    let file = std::fs::File::create(path).expect("create a log file");
    let err = file.try_clone().expect("clone the log file");
    cmd.stdout(Stdio::from(file)).stderr(Stdio::from(err))
}

impl Member {
    /// The argv that starts this member (what a `kill_node` fault's `restart` says).
    pub fn start_argv(&self) -> Vec<String> {
        vec![
            PYTHON.to_string(),
            PATRONI.to_string(),
            self.config.display().to_string(),
        ]
    }

    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// `GET path` on the member's REST API.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        super::http_get(&format!("127.0.0.1:{}", self.api_port), path)
    }

    /// SQL on this member's PostgreSQL; None when it does not answer.
    pub fn psql(&self, sql: &str) -> Option<String> {
        psql(self.pg_port, sql)
    }

    /// Its postmaster's pid, from the data directory's `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

/// SQL through psql on `port`; the trimmed output, or None when nothing answered.
pub fn psql(port: u16, sql: &str) -> Option<String> {
    let out = Command::new(Path::new(super::pg::BIN).join("psql"))
        .env("PGCONNECT_TIMEOUT", "3")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(["-d", "postgres", "-Atq", "-c", sql])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl PatroniCluster {
    /// etcd, then the first member (it bootstraps and leads), then two replicas, then
    /// HAProxy; returned once both replicas stream and HAProxy reaches the leader.
    pub fn start(timing: Timing) -> PatroniCluster {
        let dir = tempfile::Builder::new()
            .prefix("shakeout-patroni-")
            .tempdir()
            .expect("temp dir");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOGROUP)).expect("chown");
        }
        let mut c = PatroniCluster {
            members: (1..=3).map(|i| member(dir.path(), i)).collect(),
            etcd_port: super::free_port(),
            haproxy_port: super::free_port(),
            dir,
            timing,
            children: Vec::new(),
        };
        c.start_etcd();
        for m in &c.members {
            std::fs::write(&m.config, c.config(m)).expect("write a Patroni config");
        }
        c.start_member(0);
        super::wait_for("the first member to lead", Duration::from_secs(60), || {
            c.members[0].get("/primary").is_some_and(|(s, _)| s == 200)
        });
        c.start_member(1);
        c.start_member(2);
        c.wait_healthy(Duration::from_secs(120));
        c.start_haproxy();
        c.wait_haproxy(Duration::from_secs(20));
        c
    }

    fn start_etcd(&mut self) {
        let peer = super::free_port();
        let data = self.dir.path().join("etcd");
        let client = format!("http://127.0.0.1:{}", self.etcd_port);
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut cmd = Command::new(ETCD);
        let child = as_owner(&mut cmd)
            .args(["--name", "e", "--data-dir", &data.display().to_string()])
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("e={peer_url}")]);
        let child = log_to(child, &self.dir.path().join("etcd.log"))
            .spawn()
            .expect("start etcd");
        self.children.push(child);
        let addr = format!("127.0.0.1:{}", self.etcd_port);
        super::wait_for("etcd to answer", Duration::from_secs(20), || {
            super::http_get(&addr, "/health").is_some_and(|(s, b)| s == 200 && b.contains("true"))
        });
    }

    fn start_member(&mut self, i: usize) {
        let m = &self.members[i];
        let log = self.dir.path().join(format!("{}.log", m.name));
        let argv = m.start_argv();
        let mut cmd = Command::new(&argv[0]);
        let child = as_owner(&mut cmd)
            .args(&argv[1..])
            .env("HOME", self.dir.path());
        let child = log_to(child, &log).spawn().expect("start Patroni");
        self.children.push(child);
    }

    fn start_haproxy(&mut self) {
        let cfg = self.dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, self.haproxy_config()).expect("write haproxy.cfg");
        let mut cmd = Command::new(HAPROXY);
        let child = cmd
            .args(["-f", &cfg.display().to_string(), "-db"])
            .current_dir("/");
        let child = log_to(child, &self.dir.path().join("haproxy.log"))
            .spawn()
            .expect("start haproxy");
        self.children.push(child);
    }

    fn config(&self, m: &Member) -> String {
        let t = self.timing;
        let dir = self.dir.path().display();
        format!(
            r#"scope: shakeout
name: {name}
log: {{level: INFO}}
restapi: {{listen: "127.0.0.1:{api}", connect_address: "127.0.0.1:{api}"}}
etcd3: {{hosts: "127.0.0.1:{etcd}"}}
bootstrap:
  dcs:
    ttl: {ttl}
    loop_wait: {loop_wait}
    retry_timeout: {retry}
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters: {{wal_log_hints: "on", fsync: "off", max_connections: 40, shared_buffers: 16MB, wal_keep_size: 128MB}}
  initdb: [{{encoding: UTF8}}, {{auth: trust}}]
postgresql:
  listen: "127.0.0.1:{pg}"
  connect_address: "127.0.0.1:{pg}"
  data_dir: "{data}"
  bin_dir: "{bin}"
  pgpass: "{dir}/{name}.pgpass"
  pg_hba: ["local all all trust", "host all all 127.0.0.1/32 trust", "host replication all 127.0.0.1/32 trust"]
  authentication:
    superuser: {{username: postgres, password: shakeout}}
    replication: {{username: replicator, password: shakeout}}
  parameters: {{unix_socket_directories: "{dir}"}}
"#,
            name = m.name,
            api = m.api_port,
            etcd = self.etcd_port,
            ttl = t.ttl,
            loop_wait = t.loop_wait,
            retry = t.retry_timeout,
            pg = m.pg_port,
            data = m.data_dir.display(),
            bin = super::pg::BIN,
        )
    }

    /// The setup the notes measured: check `/primary` every 500 ms, down after 2
    /// failures, up after 1, and cut the sessions of a server marked down.
    fn haproxy_config(&self) -> String {
        let servers: String = self
            .members
            .iter()
            .map(|m| {
                format!(
                    "  server {} 127.0.0.1:{} check port {}\n",
                    m.name, m.pg_port, m.api_port
                )
            })
            .collect();
        format!(
            "global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30m\n  timeout server 30m\n  timeout check 1s\n\
             listen postgres\n  bind 127.0.0.1:{}\n  option httpchk GET /primary\n  http-check expect status 200\n\
             \x20 default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions\n{servers}",
            self.haproxy_port
        )
    }

    /// HAProxy counts every server up until its checks fail twice: wait until ten
    /// connections in a row land on the leader.
    fn wait_haproxy(&self, within: Duration) {
        let mut streak = 0;
        super::wait_for("HAProxy to route only to the leader", within, || {
            let on_leader =
                psql(self.haproxy_port, "SELECT pg_is_in_recovery()").as_deref() == Some("f");
            streak = if on_leader { streak + 1 } else { 0 };
            streak >= 10
        });
    }

    /// Write conninfo through HAProxy, as an application would connect.
    pub fn haproxy_conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=2",
            self.haproxy_port
        )
    }

    pub fn member(&self, name: &str) -> &Member {
        self.members
            .iter()
            .find(|m| m.name == name)
            .expect("a member of the test cluster")
    }

    /// `GET /cluster` from any member that answers.
    pub fn cluster(&self) -> Option<serde_json::Value> {
        self.members.iter().find_map(|m| {
            let (status, body) = m.get("/cluster")?;
            (status == 200).then(|| serde_json::from_str(&body).ok())?
        })
    }

    /// The members `/cluster` calls leader.
    pub fn leaders(&self) -> Vec<String> {
        self.cluster()
            .and_then(|c| {
                Some(
                    c["members"]
                        .as_array()?
                        .iter()
                        .filter(|m| m["role"] == "leader")
                        .filter_map(|m| m["name"].as_str().map(str::to_string))
                        .collect(),
                )
            })
            .unwrap_or_default()
    }

    /// The members whose PostgreSQL answers `pg_is_in_recovery() = false`.
    pub fn primaries(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.psql("SELECT pg_is_in_recovery()").as_deref() == Some("f"))
            .map(|m| m.name.clone())
            .collect()
    }

    /// The replicas the leader's walsenders stream to.
    pub fn streaming(&self) -> Vec<String> {
        let Some(leader) = self.leaders().pop() else {
            return Vec::new();
        };
        self.member(&leader)
            .psql("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// One leader, which is the only primary, and both other members streaming from
    /// it, on three checks in a row.
    pub fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let mut streak = 0;
        while streak < 3 {
            let leaders = self.leaders();
            let healthy = leaders.len() == 1
                && self.primaries() == leaders
                && self.streaming().len() == self.members.len() - 1;
            streak = if healthy { streak + 1 } else { 0 };
            assert!(
                Instant::now() < deadline,
                "the Patroni cluster did not settle within {within:?}: leaders {leaders:?}, primaries {:?}, streaming {:?}; the members' last log lines:\n{}",
                self.primaries(),
                self.streaming(),
                self.log_tails()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl PatroniCluster {
    /// The last lines of each member's log and etcd's (the temp dir goes on drop).
    fn log_tails(&self) -> String {
        let names = self.members.iter().map(|m| m.name.as_str()).chain(["etcd"]);
        names
            .map(|n| {
                let text = std::fs::read_to_string(self.dir.path().join(format!("{n}.log")))
                    .unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(6)..].join("\n  ");
                format!("{n}:\n  {tail}\n")
            })
            .collect()
    }
}

fn member(dir: &Path, i: usize) -> Member {
    let name = format!("pg{i}");
    Member {
        config: dir.join(format!("{name}.yml")),
        data_dir: dir.join(&name),
        api_port: super::free_port(),
        pg_port: super::free_port(),
        name,
    }
}

/// Every process whose command line names `dir`, and their children.
fn processes_under(dir: &Path) -> Vec<i32> {
    let needle = dir.display().to_string();
    let pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let named: Vec<i32> = pids
        .iter()
        .copied()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect();
    let children = pids.iter().copied().filter(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            })
            .is_some_and(|ppid: i32| named.contains(&ppid))
    });
    let mut all: Vec<i32> = children.chain(named.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all
}

impl Drop for PatroniCluster {
    fn drop(&mut self) {
        // Patroni first, or it would start PostgreSQL again; then everything else. A
        // postmaster found by its pid file was started by Patroni with its own path.
        for _ in 0..3 {
            let pids = processes_under(self.dir.path());
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                // SAFETY: kill(2) on a process this fixture's temp dir names.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
