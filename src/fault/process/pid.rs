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

/// The most of a pid file that is read: a pid and a newline fit with room to spare,
/// and whatever else the path names (a secret, a device) is never read further.
const PID_FILE_MAX: usize = 32;

/// The pid in a pid file. Only a small regular file on a disk is read, and its
/// contents are never repeated in a message: the path comes from a spec, and a path
/// such as `/proc/self/environ` would otherwise copy secrets into every report.
pub(super) fn read_pid_file(path: &Path) -> Result<i32, FaultError> {
    let file = open_regular(path)?;
    let mut buf = [0u8; PID_FILE_MAX];
    let n = read_some(&file, &mut buf).map_err(|source| FaultError::Io {
        what: format!("cannot read pid file {}", path.display()),
        source,
    })?;
    std::str::from_utf8(&buf[..n])
        .ok()
        .filter(|_| n < PID_FILE_MAX)
        .and_then(|t| t.trim().parse::<i32>().ok())
        .filter(|p| *p > 1)
        .ok_or_else(|| {
            FaultError::Target(format!(
                "pid file {} does not hold a pid (a number above 1, alone in a small file)",
                path.display()
            ))
        })
}

/// Open `path` for reading if it is a regular file outside /proc and /sys. Opened
/// non-blocking, so a FIFO cannot hang the run before it is told apart.
fn open_regular(path: &Path) -> Result<std::fs::File, FaultError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|source| FaultError::Io {
            what: format!("cannot read pid file {}", path.display()),
            source,
        })?;
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    if !regular || is_kernel_fs(&file) {
        return Err(FaultError::Target(format!(
            "pid file {} is not a regular file on a disk (a device, FIFO, directory, or a file in /proc or /sys)",
            path.display()
        )));
    }
    Ok(file)
}

/// True for files of /proc and /sys, which present themselves as regular files.
fn is_kernel_fs(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: statfs is plain data; fstatfs fills it for a descriptor we own.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointer is to a live, correctly sized struct.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut fs) } != 0 {
        return true;
    }
    [libc::PROC_SUPER_MAGIC, libc::SYSFS_MAGIC].contains(&fs.f_type)
}

/// Read up to `buf.len()` bytes (a regular file may return them in pieces).
fn read_some(mut file: &std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<i32, FaultError>) -> String {
        match r {
            Ok(pid) => panic!("read pid {pid}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_pid_alone_in_a_small_file_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("svc.pid");
        std::fs::write(&path, "4242\n").expect("write");
        assert_eq!(read_pid_file(&path).expect("pid"), 4242);
    }

    #[test]
    fn anything_else_is_refused_without_repeating_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "API_TOKEN=hunter2\n").expect("write");
        let long = dir.path().join("long");
        std::fs::write(&long, format!("4242{}\n", " ".repeat(100))).expect("write");
        for path in [&secret, &long] {
            let m = message(read_pid_file(path));
            assert!(m.contains("does not hold a pid"), "{m}");
            assert!(!m.contains("hunter2"), "{m}");
        }
        for path in [
            Path::new("/proc/self/environ"),
            Path::new("/proc/self/stat"),
        ] {
            let m = message(read_pid_file(path));
            assert!(m.contains("not a regular file"), "{m}");
        }
        let m = message(read_pid_file(dir.path()));
        assert!(m.contains("not a regular file"), "{m}");
    }
}
