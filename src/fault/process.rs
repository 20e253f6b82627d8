//! `process` faults on any local process: pause (SIGSTOP → SIGCONT) or kill (signal →
//! run a restart command).
//!
//! A pid can be reused by an unrelated process after the original exits, so every
//! reference carries the process's start time (field 22 of /proc/PID/stat) and no
//! signal is sent to a process whose start time differs.

use super::{FaultContext, FaultError, Undo};
use crate::plan::{PidSource, ProcessPlanAction};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessRef {
    pub pid: i32,
    /// Start time in clock ticks since boot; `None` where /proc is unavailable.
    pub start_time: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartSpec {
    #[serde(flatten)]
    pub process: ProcessRef,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// Where the restarted process's stdout and stderr go.
    pub log: PathBuf,
    /// The pid file the fault read, if any: a live pid in it that is not the killed
    /// one means the process is already back.
    pub pid_file: Option<PathBuf>,
}

/// What /proc says of a pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    Alive { start_time: Option<u64> },
    Dead,
}

fn liveness(pid: i32) -> Liveness {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The command name is in parentheses and may contain spaces: split after the last ')'.
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // fields[0] is the state (field 3); start time is field 22 → fields[19].
            if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
                return Liveness::Dead;
            }
            Liveness::Alive {
                start_time: fields.get(19).and_then(|s| s.parse().ok()),
            }
        }
        Err(_) => {
            // No /proc entry: fall back to kill(pid, 0).
            // SAFETY: kill with signal 0 only checks for existence and permission.
            let rc = unsafe { libc::kill(pid, 0) };
            if rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
                Liveness::Alive { start_time: None }
            } else {
                Liveness::Dead
            }
        }
    }
}

/// True when `p` still names the same, living process.
fn is_same_alive(p: &ProcessRef) -> bool {
    match liveness(p.pid) {
        Liveness::Alive { start_time } => {
            p.start_time.is_none() || start_time.is_none() || start_time == p.start_time
        }
        Liveness::Dead => false,
    }
}

fn read_pid_file(path: &Path) -> Result<i32, FaultError> {
    let text = std::fs::read_to_string(path).map_err(|source| FaultError::Io {
        what: format!("cannot read pid file {}", path.display()),
        source,
    })?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| {
            FaultError::Target(format!(
                "pid file {} does not hold a pid: `{}`",
                path.display(),
                text.trim()
            ))
        })
}

fn signal(pid: i32, sig: i32) -> Result<(), std::io::Error> {
    // SAFETY: plain kill(2); pid was checked to be > 1 so no process group is targeted.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub fn prepare(
    name: &str,
    source: &PidSource,
    action: &ProcessPlanAction,
    ctx: &FaultContext,
) -> Result<Undo, FaultError> {
    let (pid, pid_file) = match source {
        PidSource::Pid(p) => (*p, None),
        PidSource::File(f) => (read_pid_file(f)?, Some(f.clone())),
    };
    let start_time = match liveness(pid) {
        Liveness::Alive { start_time } => start_time,
        Liveness::Dead => return Err(FaultError::Target(format!("process {pid} is not running"))),
    };
    let process = ProcessRef { pid, start_time };
    Ok(match action {
        ProcessPlanAction::Pause => Undo::Resume(process),
        ProcessPlanAction::Kill { restart, .. } => Undo::Restart(RestartSpec {
            process,
            argv: restart.clone(),
            cwd: std::env::current_dir().map_err(|source| FaultError::Io {
                what: "cannot read the current directory".into(),
                source,
            })?,
            log: ctx.run_dir.join(format!("restart-{}.log", sanitize(name))),
            pid_file: pid_file.map(|f| absolute(&f)),
        }),
    })
}

fn absolute(p: &Path) -> PathBuf {
    std::env::current_dir()
        .map(|d| d.join(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn inject(p: &ProcessRef, action: &ProcessPlanAction) -> Result<(), FaultError> {
    if !is_same_alive(p) {
        return Err(FaultError::Target(format!(
            "process {} is no longer running",
            p.pid
        )));
    }
    let sig = match action {
        ProcessPlanAction::Pause => libc::SIGSTOP,
        ProcessPlanAction::Kill { signal, .. } => *signal,
    };
    signal(p.pid, sig).map_err(|source| FaultError::Io {
        what: format!("cannot signal process {}", p.pid),
        source,
    })?;
    if let ProcessPlanAction::Kill { signal: sig, .. } = action {
        // The fault is "the process is gone": wait until it is, so the timeline is honest.
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_same_alive(p) {
            if Instant::now() > deadline {
                return Err(FaultError::Target(format!(
                    "process {} still running 10s after SIG{}",
                    p.pid,
                    crate::plan::signal_name(*sig)
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(())
}

pub fn resume(p: &ProcessRef) -> Result<String, FaultError> {
    if !is_same_alive(p) {
        return Ok(format!("nothing to do: process {} has exited", p.pid));
    }
    signal(p.pid, libc::SIGCONT).map_err(|source| FaultError::Io {
        what: format!("cannot resume process {}", p.pid),
        source,
    })?;
    Ok(format!("resumed process {}", p.pid))
}

pub async fn restart(r: &RestartSpec) -> Result<String, FaultError> {
    if is_same_alive(&r.process) {
        return Ok(format!(
            "nothing to do: process {} is still running",
            r.process.pid
        ));
    }
    if let Some(file) = &r.pid_file {
        if let Ok(pid) = read_pid_file(file) {
            if pid != r.process.pid && matches!(liveness(pid), Liveness::Alive { .. }) {
                return Ok(format!(
                    "nothing to do: already back as process {pid} ({})",
                    file.display()
                ));
            }
        }
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&r.log)
        .or_else(|_| std::fs::File::create("/dev/null"))
        .map_err(|source| FaultError::Io {
            what: format!("cannot open {}", r.log.display()),
            source,
        })?;
    let log_err = log.try_clone().map_err(|source| FaultError::Io {
        what: format!("cannot open {}", r.log.display()),
        source,
    })?;
    let mut cmd = std::process::Command::new(&r.argv[0]);
    cmd.args(&r.argv[1..])
        .current_dir(&r.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // Its own process group: the restarted service must outlive this run and must not
    // receive the Ctrl-C meant for shakeout.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|source| FaultError::Io {
        what: format!("cannot run `{}`", r.argv.join(" ")),
        source,
    })?;
    // A restart command that fails at once (typo, missing binary) must not count as a revert.
    tokio::time::sleep(Duration::from_millis(100)).await;
    match child.try_wait() {
        Ok(Some(status)) if !status.success() => Err(FaultError::Target(format!(
            "restart command `{}` exited with {status}; see {}",
            r.argv.join(" "),
            r.log.display()
        ))),
        _ => Ok(format!(
            "restarted `{}` as process {}",
            r.argv.join(" "),
            child.id()
        )),
    }
}
