//! Running one sample's command: own process group, bounded time, output tails.

use crate::probe::failure::{Failure, FailureClass};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

/// How many trailing bytes of stdout and stderr a failure keeps.
pub const TAIL_BYTES: usize = 512;
/// After the group is killed, how long to wait for the pipes to close: something
/// that left the group (setsid) may still hold them.
const DRAIN: Duration = Duration::from_millis(200);

/// A command to run per sample.
#[derive(Debug, Clone)]
pub struct ExecProbe {
    command: Vec<String>,
    env: BTreeMap<String, String>,
    timeout: Duration,
}

/// An `exec` probe that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ExecSetupError {
    #[error("`command` is empty; give the program and its arguments, e.g. [pg_isready, -h, db]")]
    EmptyCommand,
}

/// A failed sample: exit status (or timeout, or spawn error) and output tails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecFailure {
    /// `exit` (non-zero status, killed by a signal, could not start) or `timeout`.
    pub failure: Failure,
    /// The last [`TAIL_BYTES`] of stdout, lossily decoded.
    pub stdout_tail: String,
    /// The last [`TAIL_BYTES`] of stderr, lossily decoded.
    pub stderr_tail: String,
}

impl ExecProbe {
    /// Preflight, without running the command (it may do anything): its program
    /// exists and is executable, found on `PATH` (the probe's own `env` first) when it
    /// has no `/`.
    pub fn preflight(&self) -> Result<String, String> {
        use std::os::unix::fs::PermissionsExt;
        let program = std::path::Path::new(&self.command[0]);
        let executable = |p: &std::path::Path| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        if self.command[0].contains('/') {
            return if executable(program) {
                Ok(format!("{} is executable", program.display()))
            } else {
                Err(format!("{} is not an executable file", program.display()))
            };
        }
        let path = self
            .env
            .get("PATH")
            .cloned()
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| executable(p))
            .map(|p| format!("{} is executable", p.display()))
            .ok_or_else(|| format!("`{}` is not found on PATH", program.display()))
    }

    pub fn new(
        command: &[String],
        env: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<ExecProbe, ExecSetupError> {
        if command.is_empty() {
            return Err(ExecSetupError::EmptyCommand);
        }
        Ok(ExecProbe {
            command: command.to_vec(),
            env: env.clone(),
            timeout,
        })
    }

    /// One sample: run the command to completion or the timeout.
    pub async fn check(&self) -> Result<(), ExecFailure> {
        let mut child = self.spawn().map_err(|e| ExecFailure {
            failure: Failure::new(
                FailureClass::Exit,
                format!("cannot start `{}`: {}", self.command[0], e),
            ),
            stdout_tail: String::new(),
            stderr_tail: String::new(),
        })?;
        let group = child.id();
        let stdout = collect_tail(child.stdout.take());
        let stderr = collect_tail(child.stderr.take());
        let waited = tokio::time::timeout(self.timeout, child.wait()).await;
        // Killed in every case: at the timeout the command itself, after an exit any
        // background children it left behind.
        kill_group(group);
        let failure = match waited {
            Ok(Ok(status)) => status_failure(status),
            Ok(Err(e)) => Some(Failure::new(FailureClass::Exit, format!("wait: {e}"))),
            Err(_) => {
                reap(&mut child).await;
                Some(Failure::new(
                    FailureClass::Timeout,
                    format!("timed out after {:?}; process group killed", self.timeout),
                ))
            }
        };
        match failure {
            None => Ok(()),
            Some(failure) => Err(ExecFailure {
                failure,
                stdout_tail: stdout.finish().await,
                stderr_tail: stderr.finish().await,
            }),
        }
    }

    fn spawn(&self) -> std::io::Result<Child> {
        let mut command = Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so one kill reaches everything it started.
            .process_group(0)
            .kill_on_drop(true);
        command.spawn()
    }
}

fn status_failure(status: ExitStatus) -> Option<Failure> {
    if status.success() {
        return None;
    }
    let detail = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    };
    Some(Failure::new(FailureClass::Exit, detail))
}

fn kill_group(group: Option<u32>) {
    let Some(pgid) = group.and_then(|id| libc::pid_t::try_from(id).ok()) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the process group; no memory involved.
    // ESRCH (the group already gone) is the common, harmless case.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

async fn reap(child: &mut Child) {
    if let Err(e) = child.wait().await {
        tracing::debug!("reaping a timed-out probe command: {e}");
    }
}

/// The last bytes read from a pipe, filled by a background task.
struct TailReader {
    tail: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn collect_tail<R: AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> TailReader {
    let tail = Arc::new(Mutex::new(Vec::new()));
    let task = pipe.map(|mut pipe| {
        let tail = tail.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                keep_tail(&mut lock(&tail), &buf[..n]);
            }
        })
    });
    TailReader { tail, task }
}

impl TailReader {
    /// The tail once the pipe closed, or what arrived within [`DRAIN`].
    async fn finish(mut self) -> String {
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(DRAIN, task).await.is_err() {
                abort.abort();
            }
        }
        let bytes = lock(&self.tail);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    tail.extend_from_slice(chunk);
    if tail.len() > TAIL_BYTES {
        tail.drain(..tail.len() - TAIL_BYTES);
    }
}

/// Plain bytes behind the lock: a panic elsewhere leaves nothing half-updated.
fn lock(tail: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes() {
        let mut tail = Vec::new();
        keep_tail(&mut tail, &[b'a'; 400]);
        keep_tail(&mut tail, &[b'b'; 200]);
        assert_eq!(tail.len(), TAIL_BYTES);
        assert_eq!(&tail[TAIL_BYTES - 200..], &[b'b'; 200]);
        assert_eq!(tail[0], b'a');
    }
}
