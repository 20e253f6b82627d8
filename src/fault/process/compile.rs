//! Pure checks of a `process:` fault; its `plan` text and exclusive-target key.

use super::spec::{ProcessAction, ProcessFaultSpec};
use crate::spec::check::Errors;
use serde::Serialize;
use std::path::PathBuf;

/// A process fault, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessFault {
    pub pid: PidSource,
    pub action: ProcessPlanAction,
}

#[derive(Debug, Clone, Serialize)]
pub enum PidSource {
    Pid(i32),
    File(PathBuf),
}

impl std::fmt::Display for PidSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PidSource::Pid(p) => write!(f, "process {p}"),
            PidSource::File(path) => write!(f, "the process in {}", path.display()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub enum ProcessPlanAction {
    Pause,
    Kill { signal: i32, restart: Vec<String> },
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "KILL",
        libc::SIGTERM => "TERM",
        libc::SIGINT => "INT",
        _ => "?",
    }
}

/// Check a `process:` fault at `path`.
pub fn compile(p: &ProcessFaultSpec, path: &str, e: &mut Errors) -> Option<ProcessFault> {
    let pid = pid_source(p, path, e)?;
    let action = match p.action {
        ProcessAction::Pause => {
            if p.restart.is_some() || p.signal.is_some() {
                e.at(path, "`restart` and `signal` only apply to `action: kill`");
            }
            ProcessPlanAction::Pause
        }
        ProcessAction::Kill => kill_action(p, path, e)?,
    };
    Some(ProcessFault { pid, action })
}

fn pid_source(p: &ProcessFaultSpec, path: &str, e: &mut Errors) -> Option<PidSource> {
    match (p.pid, &p.pid_file) {
        (Some(pid), None) if pid > 1 => Some(PidSource::Pid(pid)),
        (Some(pid), None) => {
            e.at(
                format!("{path}.pid"),
                format!("{pid} is not a process shakeout may signal"),
            );
            None
        }
        (None, Some(file)) => Some(PidSource::File(file.clone())),
        _ => {
            e.at(path, "give exactly one of `pid` or `pid_file`");
            None
        }
    }
}

fn kill_action(p: &ProcessFaultSpec, path: &str, e: &mut Errors) -> Option<ProcessPlanAction> {
    let signal = match p
        .signal
        .as_deref()
        .map(|s| s.trim_start_matches("SIG").to_ascii_uppercase())
    {
        None => libc::SIGKILL,
        Some(s) if s == "KILL" => libc::SIGKILL,
        Some(s) if s == "TERM" => libc::SIGTERM,
        Some(s) if s == "INT" => libc::SIGINT,
        Some(s) => {
            e.at(
                format!("{path}.signal"),
                format!("`{s}` is not one of KILL, TERM, INT"),
            );
            libc::SIGKILL
        }
    };
    match &p.restart {
        Some(argv) if !argv.is_empty() && !argv[0].is_empty() => Some(ProcessPlanAction::Kill {
            signal,
            restart: argv.clone(),
        }),
        _ => {
            e.at(
                format!("{path}.restart"),
                "a killed process cannot be brought back without `restart: [command, args...]`",
            );
            None
        }
    }
}

impl ProcessFault {
    pub fn describe(&self) -> String {
        let pid = &self.pid;
        match &self.action {
            ProcessPlanAction::Pause => format!("pause {pid} (SIGSTOP; revert SIGCONT)"),
            ProcessPlanAction::Kill { signal, restart } => format!(
                "kill {pid} with SIG{}; revert: run `{}`",
                signal_name(*signal),
                restart.join(" ")
            ),
        }
    }

    /// One process must not be paused or killed by two faults at once.
    pub fn exclusive_key(&self) -> String {
        self.pid.to_string()
    }
}
