//! What inject and undo share: the postmaster of a data directory and the identity of
//! its processes (pid + start time, as the process backend checks them), connecting,
//! and running PostgreSQL's tools as the data directory's owner.

use crate::fault::FaultError;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// A process as the fault found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgProc {
    pub pid: i32,
    /// Clock ticks since boot (field 22 of /proc/PID/stat).
    pub start_time: u64,
}

/// One cluster as the fault found it: everything a revert needs, even from a journal
/// read by another process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgNode {
    pub data_dir: PathBuf,
    pub conninfo: String,
    /// Where `pg_ctl`, `pg_rewind` and `pg_basebackup` live (the postmaster's own).
    pub bin_dir: PathBuf,
    /// The data directory's owner: the tools run as them when shakeout runs as root.
    pub uid: u32,
    pub gid: u32,
    /// The postmaster's options from `postmaster.opts`, to start it the same way.
    pub start_opts: String,
}

fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The process `pid` now, unless it is gone (a zombie counts as gone).
pub fn find(pid: i32) -> Option<PgProc> {
    let f = stat_fields(pid)?;
    if matches!(f.first().map(String::as_str), Some("Z" | "X")) {
        return None;
    }
    Some(PgProc {
        pid,
        start_time: f.get(19)?.parse().ok()?,
    })
}

pub fn is_same_alive(p: &PgProc) -> bool {
    find(p.pid).is_some_and(|now| now.start_time == p.start_time)
}

pub fn is_stopped(p: &PgProc) -> bool {
    stat_fields(p.pid).is_some_and(|f| f.first().is_some_and(|s| s == "T" || s == "t"))
}

/// Send `sig` to `p` if it is still the same process.
pub fn signal(p: &PgProc, sig: i32) -> bool {
    if p.pid <= 1 || !is_same_alive(p) {
        return false;
    }
    // SAFETY: kill(2) on a positive pid checked above to be the process we found.
    unsafe { libc::kill(p.pid, sig) == 0 }
}

/// The living children of `parent` (a postmaster's backends, walsenders, ...).
pub fn children(parent: i32) -> Vec<PgProc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| stat_fields(pid).and_then(|f| f.get(1)?.parse::<i32>().ok()) == Some(parent))
        .filter_map(find)
        .collect()
}

/// The running postmaster of `data_dir`, from the first line of `postmaster.pid`.
pub fn postmaster(data_dir: &Path) -> Result<PgProc, FaultError> {
    require_cluster(data_dir)?;
    let pidfile = data_dir.join("postmaster.pid");
    let text = std::fs::read_to_string(&pidfile).map_err(|_| {
        FaultError::Target(format!(
            "{}: PostgreSQL is not running there (no postmaster.pid)",
            data_dir.display()
        ))
    })?;
    let pid = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
        .filter(|p| *p > 1)
        .ok_or_else(|| {
            FaultError::Target(format!("{} does not start with a pid", pidfile.display()))
        })?;
    find(pid).ok_or_else(|| {
        FaultError::Target(format!(
            "{}: the postmaster {pid} from postmaster.pid is not running",
            data_dir.display()
        ))
    })
}

pub fn require_cluster(data_dir: &Path) -> Result<(), FaultError> {
    if data_dir.join("PG_VERSION").is_file() {
        Ok(())
    } else {
        Err(FaultError::Target(format!(
            "{} is not a PostgreSQL data directory (no PG_VERSION)",
            data_dir.display()
        )))
    }
}

/// Describe the cluster at `data_dir` served by `postmaster`, for the undo.
pub fn describe_node(
    data_dir: &Path,
    conninfo: &str,
    postmaster: &PgProc,
) -> Result<PgNode, FaultError> {
    let meta = std::fs::metadata(data_dir).map_err(|source| FaultError::Io {
        what: format!("cannot read {}", data_dir.display()),
        source,
    })?;
    let exe = std::fs::read_link(format!("/proc/{}/exe", postmaster.pid)).map_err(|source| {
        FaultError::Io {
            what: format!("cannot find the binary of postmaster {}", postmaster.pid),
            source,
        }
    })?;
    let bin_dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(PgNode {
        data_dir: data_dir.to_path_buf(),
        conninfo: conninfo.to_string(),
        bin_dir,
        uid: meta.uid(),
        gid: meta.gid(),
        start_opts: start_opts(data_dir),
    })
}

/// `postmaster.opts` without the binary and its `-D`: what `pg_ctl -o` needs.
fn start_opts(data_dir: &Path) -> String {
    let text = std::fs::read_to_string(data_dir.join("postmaster.opts")).unwrap_or_default();
    let args: Vec<&str> = text.split_whitespace().skip(1).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "\"-D\"" || args[i] == "-D" {
            i += 2;
            continue;
        }
        out.push(args[i]);
        i += 1;
    }
    out.join(" ")
}

pub async fn connect(conninfo: &str, timeout: Duration) -> Result<Client, String> {
    let mut config = Config::from_str(conninfo).map_err(|e| e.to_string())?;
    config.connect_timeout(timeout);
    let (client, connection) = tokio::time::timeout(timeout, config.connect(NoTls))
        .await
        .map_err(|_| format!("connect timed out after {timeout:?}"))?
        .map_err(|e| reason(&e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

pub fn reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            // The innermost cause ("Connection refused"), not tokio-postgres's wrapper.
            let mut cur: &(dyn std::error::Error + 'static) = e;
            while let Some(next) = cur.source() {
                cur = next;
            }
            cur.to_string()
        }
    }
}

/// `SELECT pg_is_in_recovery()` on `conninfo`.
pub async fn in_recovery(conninfo: &str) -> Result<bool, String> {
    let client = connect(conninfo, Duration::from_secs(5)).await?;
    let row = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(|e| reason(&e))?;
    row.try_get(0).map_err(|e| reason(&e))
}

/// Run one of PostgreSQL's tools from the node's bin dir, as the data directory's
/// owner when we are root; its output on failure.
pub async fn run_tool(
    node: &PgNode,
    tool: &str,
    args: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new(node.bin_dir.join(tool));
    cmd.args(args).current_dir("/").kill_on_drop(true);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && node.uid != 0 {
        cmd.uid(node.uid).gid(node.gid);
    }
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| format!("{tool} did not finish within {timeout:?}"))?
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    Err(format!("{tool} failed ({}): {last}", out.status))
}

/// The timeline of the server behind `client`: on a standby the last checkpoint's
/// (`pg_control_checkpoint()`), on a primary the one it writes WAL on now (a freshly
/// promoted primary checkpoints on the new timeline only later).
pub async fn timeline(client: &Client, standby: bool) -> Result<i64, String> {
    let sql = if standby {
        "SELECT timeline_id::bigint FROM pg_control_checkpoint()"
    } else {
        "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint"
    };
    let row = client.query_one(sql, &[]).await.map_err(|e| reason(&e))?;
    row.try_get(0).map_err(|e| reason(&e))
}

/// Where a standby streams from, next to what the primary is.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    pub primary_system_id: i64,
    pub standby_system_id: i64,
    pub primary_port: Option<i32>,
    /// `pg_stat_wal_receiver` of the standby: `None` when it has no WAL receiver.
    pub receiver: Option<(String, Option<i32>)>,
}

impl Upstream {
    /// Why the standby does not stream from this primary, if it does not.
    pub fn mismatch(&self) -> Option<String> {
        if self.primary_system_id != self.standby_system_id {
            return Some(format!(
                "it is a copy of another cluster (system identifier {} vs the primary's {})",
                self.standby_system_id, self.primary_system_id
            ));
        }
        let Some((status, sender_port)) = &self.receiver else {
            return Some("it has no WAL receiver (pg_stat_wal_receiver is empty)".into());
        };
        if status != "streaming" {
            return Some(format!("its WAL receiver is `{status}`, not streaming"));
        }
        match (sender_port, self.primary_port) {
            (Some(s), Some(p)) if s != &p => Some(format!(
                "it streams from port {s}, the primary listens on port {p} (another standby or server)"
            )),
            (None, _) => Some(
                "pg_stat_wal_receiver hides its sender (grant pg_read_all_stats to the fault's user)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Read what [`Upstream`] compares from both servers.
pub async fn upstream(primary: &Client, standby: &Client) -> Result<Upstream, String> {
    const SYSTEM_ID: &str = "SELECT system_identifier FROM pg_control_system()";
    let row = primary
        .query_one(
            "SELECT system_identifier, inet_server_port() FROM pg_control_system()",
            &[],
        )
        .await
        .map_err(|e| reason(&e))?;
    let primary_system_id: i64 = row.try_get(0).map_err(|e| reason(&e))?;
    let primary_port: Option<i32> = row.try_get(1).map_err(|e| reason(&e))?;
    let standby_system_id: i64 = standby
        .query_one(SYSTEM_ID, &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| reason(&e))?;
    let receiver = standby
        .query_opt("SELECT status, sender_port FROM pg_stat_wal_receiver", &[])
        .await
        .map_err(|e| reason(&e))?
        .map(|r| {
            (
                r.try_get::<_, String>(0).unwrap_or_default(),
                r.try_get::<_, Option<i32>>(1).unwrap_or(None),
            )
        });
    Ok(Upstream {
        primary_system_id,
        standby_system_id,
        primary_port,
        receiver,
    })
}
