//! Resume a paused process or restart a killed one; idempotent (a process that has
//! exited is not resumed, one that is back is not started twice).

use super::pid::{is_same_alive, liveness, read_pid_file, signal, Liveness};
use crate::fault::FaultError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

pub use super::pid::ProcessRef;

/// The process backend's undos, as journaled: `{"action": "resume" | "restart", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ProcessUndo {
    /// SIGCONT a paused process (if it is still the same process).
    Resume(ProcessRef),
    /// Run `argv` to bring back a killed process, unless it is already back.
    Restart(RestartSpec),
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

impl ProcessUndo {
    /// The process the fault acts on.
    pub fn process(&self) -> &ProcessRef {
        match self {
            ProcessUndo::Resume(p) => p,
            ProcessUndo::Restart(r) => &r.process,
        }
    }

    /// Why this undo, read from a journal anyone with access can edit, must not be
    /// applied: a pid of -1 or 0 signals every process or a whole group, and a process
    /// without a start time cannot be told from an unrelated one that reused its pid.
    pub fn distrust(&self) -> Option<String> {
        let process = self.process();
        if process.pid <= 1 {
            return Some(format!(
                "it names pid {}, which shakeout never signals (pid 1, 0 and negative pids reach init, a group or every process)",
                process.pid
            ));
        }
        if process.start_time.is_none() {
            return Some(format!(
                "it gives no start time for process {}, so that process cannot be told from one that reused its pid",
                process.pid
            ));
        }
        None
    }

    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            ProcessUndo::Resume(p) => resume(p),
            ProcessUndo::Restart(r) => restart(r).await,
        }
    }

    pub fn manual_fix(&self) -> String {
        match self {
            ProcessUndo::Resume(p) => {
                format!("process {} is paused: run `kill -CONT {}`", p.pid, p.pid)
            }
            ProcessUndo::Restart(r) => format!(
                "process {} was killed: start it again with `{}` (in {})",
                r.process.pid,
                r.argv.join(" "),
                r.cwd.display()
            ),
        }
    }
}

fn resume(p: &ProcessRef) -> Result<String, FaultError> {
    if !is_same_alive(p) {
        return Ok(format!("nothing to do: process {} has exited", p.pid));
    }
    signal(p.pid, libc::SIGCONT).map_err(|source| FaultError::Io {
        what: format!("cannot resume process {}", p.pid),
        source,
    })?;
    Ok(format!("resumed process {}", p.pid))
}

async fn restart(r: &RestartSpec) -> Result<String, FaultError> {
    if let Some(note) = already_back(r) {
        return Ok(note);
    }
    let mut child = spawn_restart(r)?;
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

/// Why no restart is needed, if none is.
fn already_back(r: &RestartSpec) -> Option<String> {
    if is_same_alive(&r.process) {
        return Some(format!(
            "nothing to do: process {} is still running",
            r.process.pid
        ));
    }
    let file = r.pid_file.as_ref()?;
    let pid = read_pid_file(file).ok()?;
    (pid != r.process.pid && matches!(liveness(pid), Liveness::Alive { .. })).then(|| {
        format!(
            "nothing to do: already back as process {pid} ({})",
            file.display()
        )
    })
}

fn spawn_restart(r: &RestartSpec) -> Result<std::process::Child, FaultError> {
    let open_err = |source| FaultError::Io {
        what: format!("cannot open {}", r.log.display()),
        source,
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&r.log)
        .or_else(|_| std::fs::File::create("/dev/null"))
        .map_err(open_err)?;
    let log_err = log.try_clone().map_err(open_err)?;
    let Some((program, args)) = r.argv.split_first() else {
        return Err(FaultError::Target("the restart command is empty".into()));
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .current_dir(&r.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // Its own process group: the restarted service must outlive this run and must not
    // receive the Ctrl-C meant for shakeout.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().map_err(|source| FaultError::Io {
        what: format!("cannot run `{}`", r.argv.join(" ")),
        source,
    })
}
