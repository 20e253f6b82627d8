//! The fault journal: what was (about to be) changed and how to undo it, fsynced
//! before every change, so that `shakeout rollback` can revert a run that was killed.

use crate::fault::Undo;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "journal.jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// Written and synced *before* the fault is applied.
    Applying {
        id: u32,
        fault: String,
        undo: Undo,
        at: String,
    },
    Reverted {
        id: u32,
        fault: String,
        note: String,
        at: String,
    },
    RevertFailed {
        id: u32,
        fault: String,
        error: String,
        at: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {path}:{line}: {message}")]
    Corrupt {
        path: String,
        line: usize,
        message: String,
    },
}

pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Journal {
    /// Open for appending (creating it if needed).
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        let path = dir.join(FILE_NAME);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| JournalError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Journal { file, path })
    }

    /// Append one entry and fsync it: when this returns, the entry survives a crash.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.display().to_string(),
            source,
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Entries applied (or maybe applied) and not reverted, in the order they were applied.
pub fn pending(dir: &Path) -> Result<Vec<(u32, String, Undo)>, JournalError> {
    let path = dir.join(FILE_NAME);
    let file = std::fs::File::open(&path).map_err(|source| JournalError::Io {
        path: path.display().to_string(),
        source,
    })?;
    // In the order they were applied: a rollback undoes them in reverse.
    let mut open: Vec<(u32, String, Undo)> = Vec::new();
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|source| JournalError::Io {
            path: path.display().to_string(),
            source,
        })?;
    let last = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(Entry::Applying {
                id, fault, undo, ..
            }) => {
                open.retain(|(i, _, _)| *i != id);
                open.push((id, fault, undo));
            }
            Ok(Entry::Reverted { id, .. }) => {
                open.retain(|(i, _, _)| *i != id);
            }
            Ok(Entry::RevertFailed { .. }) => {}
            // A torn final line is a write the crash interrupted; the entry before it stands.
            Err(_) if i + 1 == last => break,
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.display().to_string(),
                    line: i + 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(open)
}

/// Result of reverting what a journal holds.
#[derive(Debug, Default)]
pub struct Rollback {
    pub reverted: Vec<(String, String)>,
    pub failed: Vec<(String, String, String)>,
}

/// Revert every pending entry of the journal in `dir`, newest first, recording each outcome.
/// Idempotent: a second call finds nothing pending.
pub async fn rollback(dir: &Path) -> Result<Rollback, JournalError> {
    let pending = pending(dir)?;
    let mut journal = Journal::open(dir)?;
    let mut out = Rollback::default();
    for (id, fault, undo) in pending.into_iter().rev() {
        match undo.apply().await {
            Ok(note) => {
                journal.append(&Entry::Reverted {
                    id,
                    fault: fault.clone(),
                    note: note.clone(),
                    at: now_rfc3339(),
                })?;
                out.reverted.push((fault, note));
            }
            Err(e) => {
                journal.append(&Entry::RevertFailed {
                    id,
                    fault: fault.clone(),
                    error: e.to_string(),
                    at: now_rfc3339(),
                })?;
                out.failed.push((fault, e.to_string(), undo.manual_fix()));
            }
        }
    }
    Ok(out)
}
