//! Which process a pid names, and whether it is still the same one.

use crate::fault::FaultError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A process as the fault found it: its pid and when it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessRef {
    pub pid: i32,
    /// Start time in clock ticks since boot; `None` where /proc is unavailable.
    pub start_time: Option<u64>,
}

/// What /proc says of a pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Liveness {
    Alive { start_time: Option<u64> },
    Dead,
}

pub(super) fn liveness(pid: i32) -> Liveness {
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
pub(super) fn is_same_alive(p: &ProcessRef) -> bool {
    match liveness(p.pid) {
        Liveness::Alive { start_time } => {
            // Without a recorded start time the pid could belong to anyone by now.
            p.start_time.is_some() && start_time == p.start_time
        }
        Liveness::Dead => false,
    }
}

pub(super) fn read_pid_file(path: &Path) -> Result<i32, FaultError> {
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

pub(super) fn signal(pid: i32, sig: i32) -> Result<(), std::io::Error> {
    // kill(2) with pid 1, 0 or a negative pid reaches init, a group or every process:
    // whatever a journal says, never.
    if pid <= 1 {
        return Err(std::io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: plain kill(2) on one process (pid > 1 checked above).
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
