//! One run directory, one user at a time: a run holds an exclusive `flock` on a lock
//! file in its directory for its whole life, and so does `shakeout rollback`. A second
//! run (or a rollback) on a directory in use is refused before it touches any file.

use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The lock file, kept in the run directory (empty but for the holder's pid).
pub const FILE_NAME: &str = ".shakeout.lock";

/// Held for as long as it lives; the kernel releases the lock when the process exits,
/// however it exits (even SIGKILL), so a lock is never left behind by a crash.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{dir} is in use by another shakeout process (pid {holder}); wait for it to finish, or use another directory")]
    Busy { dir: String, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Take the lock of `dir` without waiting; the directory must exist.
pub fn lock(dir: &Path) -> Result<DirLock, LockError> {
    let path = dir.join(FILE_NAME);
    let mut file = open(&path).map_err(|source| io_error(&path, source))?;
    // SAFETY: flock(2) on a descriptor this function owns; no memory is shared.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(LockError::Busy {
                dir: dir.display().to_string(),
                holder: holder(&mut file),
            });
        }
        return Err(io_error(&path, err));
    }
    // Who holds it, for the message a refused run prints. Best effort: a read-only
    // lock file still locks.
    let _ = file
        .set_len(0)
        .and_then(|_| file.write_all(format!("{}\n", std::process::id()).as_bytes()));
    Ok(DirLock { _file: file })
}

/// Take the lock of `dir` if the directory can hold one. A directory where no lock
/// file exists and none can be created (read-only) cannot be in use by a run either:
/// a run creates its lock file before anything else. Returns `None` then.
pub fn lock_if_possible(dir: &Path) -> Result<Option<DirLock>, LockError> {
    match lock(dir) {
        Ok(l) => Ok(Some(l)),
        Err(LockError::Io { source, .. }) if !dir.join(FILE_NAME).exists() => {
            tracing::debug!("no lock in {}: {source}", dir.display());
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Open without truncating: a refused caller must leave the holder's file as it was.
fn open(path: &PathBuf) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .or_else(|_| std::fs::File::open(path))
}

/// The pid the holder wrote (a few bytes, digits only), or "unknown".
fn holder(file: &mut std::fs::File) -> String {
    let mut buf = [0u8; 16];
    let n = file.rewind().and_then(|_| file.read(&mut buf)).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).trim().to_string();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        text
    } else {
        "unknown".into()
    }
}

fn io_error(path: &Path, source: std::io::Error) -> LockError {
    LockError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock(dir.path()).expect("first lock");
        match lock(dir.path()) {
            Err(LockError::Busy { holder, .. }) => {
                assert_eq!(holder, std::process::id().to_string())
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        assert!(lock(dir.path()).is_ok());
    }

    #[test]
    fn a_directory_that_cannot_hold_a_lock_file_is_not_in_use() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        assert!(lock_if_possible(&missing).expect("no error").is_none());
    }
}
