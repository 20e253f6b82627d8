//! Find the process (prepare) and signal it (inject).

use super::compile::{signal_name, PidSource, ProcessFault, ProcessPlanAction};
use super::pid::{is_same_alive, liveness, read_pid_file, signal, Liveness, ProcessRef};
use super::undo::{ProcessUndo, RestartSpec};
use crate::fault::{FaultContext, FaultError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Resolve the pid (and its start time) and say how to undo. Changes nothing.
pub fn prepare(
    name: &str,
    plan: &ProcessFault,
    ctx: &FaultContext,
) -> Result<ProcessUndo, FaultError> {
    let (pid, pid_file) = match &plan.pid {
        PidSource::Pid(p) => (*p, None),
        PidSource::File(f) => (read_pid_file(f)?, Some(f.clone())),
    };
    let start_time = match liveness(pid) {
        Liveness::Alive { start_time } => start_time,
        Liveness::Dead => return Err(FaultError::Target(format!("process {pid} is not running"))),
    };
    let process = ProcessRef { pid, start_time };
    Ok(match &plan.action {
        ProcessPlanAction::Pause => ProcessUndo::Resume(process),
        ProcessPlanAction::Kill { restart, .. } => ProcessUndo::Restart(RestartSpec {
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

/// A fault name made safe and short enough for a file name.
fn sanitize(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    crate::util::bounded_file_stem(&safe)
}

/// Signal the process the undo names. A kill waits (up to 10 s) for the process to be
/// gone, so it runs off the async workers.
pub async fn inject(plan: &ProcessFault, undo: &ProcessUndo) -> Result<(), FaultError> {
    let p = undo.process().clone();
    let action = plan.action.clone();
    tokio::task::spawn_blocking(move || signal_process(&p, &action))
        .await
        .map_err(|e| FaultError::Target(format!("internal: {e}")))?
}

fn signal_process(p: &ProcessRef, action: &ProcessPlanAction) -> Result<(), FaultError> {
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
        wait_until_gone(p, *sig)?;
    }
    Ok(())
}

/// The fault is "the process is gone": wait until it is, so the timeline is honest.
fn wait_until_gone(p: &ProcessRef, sig: i32) -> Result<(), FaultError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_same_alive(p) {
        if Instant::now() > deadline {
            return Err(FaultError::Target(format!(
                "process {} still running 10s after SIG{}",
                p.pid,
                signal_name(sig)
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Preflight, read-only: the pid (or the pid file's) names a live process.
pub fn preflight(plan: &ProcessFault) -> Result<String, FaultError> {
    let (pid, from) = match &plan.pid {
        PidSource::Pid(p) => (*p, String::new()),
        PidSource::File(f) => (read_pid_file(f)?, format!(" (from {})", f.display())),
    };
    match liveness(pid) {
        Liveness::Alive { .. } => Ok(format!("process {pid}{from} is running")),
        Liveness::Dead => Err(FaultError::Target(format!(
            "process {pid}{from} is not running"
        ))),
    }
}
