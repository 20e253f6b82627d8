//! The fault journal: what was (about to be) changed and how to undo it, fsynced
//! before every change, so that `shakeout rollback` can revert a run that was killed.

use crate::fault::Undo;
use serde::{Deserialize, Serialize};
use std::io::Write;
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
    /// A run (or another rollback) holds the directory: reverting under it would undo
    /// faults the live run still controls.
    #[error(transparent)]
    Busy(#[from] super::lock::LockError),
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

/// A fault applied (or maybe applied) and not reverted: its id, name and undo.
pub type Pending = (u32, String, Undo);

/// A line of the journal that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    pub message: String,
    /// The last line with no newline after it: a write the crash interrupted, made
    /// before its fault was applied (the entry is synced before the change), so
    /// nothing it names can be applied.
    pub torn: bool,
}

/// Everything a journal says, read as far as it can be.
#[derive(Debug, Default)]
pub struct Contents {
    /// In the order they were applied: a rollback undoes them in reverse.
    pub pending: Vec<Pending>,
    pub bad_lines: Vec<BadLine>,
}

/// Read the journal in `dir`, skipping lines that cannot be read (they are listed).
pub fn read(dir: &Path) -> Result<Contents, JournalError> {
    let path = dir.join(FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|source| JournalError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(parse(&bytes))
}

/// Lines are read as bytes, so a line cut inside a UTF-8 character spoils only itself.
fn parse(bytes: &[u8]) -> Contents {
    let mut out = Contents::default();
    let complete = bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let last = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) => apply_entry(&mut out.pending, entry),
            Err(e) => out.bad_lines.push(BadLine {
                line: i + 1,
                message: e.to_string(),
                torn: !complete && i + 1 == last,
            }),
        }
    }
    out
}

fn apply_entry(open: &mut Vec<Pending>, entry: Entry) {
    match entry {
        Entry::Applying {
            id, fault, undo, ..
        } => {
            open.retain(|(i, _, _)| *i != id);
            open.push((id, fault, undo));
        }
        Entry::Reverted { id, .. } => open.retain(|(i, _, _)| *i != id),
        Entry::RevertFailed { .. } => {}
    }
}

/// Entries applied (or maybe applied) and not reverted, in the order they were applied.
/// Strict: an unreadable line other than a torn last one is an error.
pub fn pending(dir: &Path) -> Result<Vec<Pending>, JournalError> {
    let contents = read(dir)?;
    match contents.bad_lines.into_iter().find(|b| !b.torn) {
        Some(bad) => Err(JournalError::Corrupt {
            path: dir.join(FILE_NAME).display().to_string(),
            line: bad.line,
            message: bad.message,
        }),
        None => Ok(contents.pending),
    }
}

/// Why an undo read from a journal must not be applied, if it must not: the journal
/// is a file anyone with access can edit, and a pid of -1 or 0 signals every process
/// or a whole group, while a process without a start time cannot be told from an
/// unrelated one that reused its pid.
pub fn distrust(undo: &Undo) -> Option<String> {
    undo.distrust()
}

/// Result of reverting what a journal holds.
#[derive(Debug, Default)]
pub struct Rollback {
    pub reverted: Vec<(String, String)>,
    /// (fault, error, how to fix it by hand)
    pub failed: Vec<(String, String, String)>,
    /// What was not attempted and may still be applied, each a full sentence.
    pub skipped: Vec<String>,
    /// Warnings that leave nothing applied (a torn last line, a journal that cannot
    /// record the outcomes).
    pub notes: Vec<String>,
}

impl Rollback {
    /// True when a fault may still be applied.
    pub fn may_remain(&self) -> bool {
        !self.failed.is_empty() || !self.skipped.is_empty()
    }
}

/// Revert every pending entry of the journal in `dir`, newest first, recording each
/// outcome. Reverts whatever can be read and trusted, and says what it skipped.
/// Idempotent: a second call finds nothing pending. Refused while a run holds `dir`.
pub async fn rollback(dir: &Path) -> Result<Rollback, JournalError> {
    let _lock = super::lock::lock_if_possible(dir)?;
    let contents = read(dir)?;
    let mut out = Rollback::default();
    for bad in &contents.bad_lines {
        let text = format!(
            "journal line {} is unreadable ({})",
            bad.line,
            crate::util::escape_control(&bad.message)
        );
        if bad.torn {
            out.notes.push(format!(
                "{text}: a write cut short by a crash, before its fault was applied"
            ));
        } else {
            out.skipped
                .push(format!("{text}: a fault it recorded may still be applied"));
        }
    }
    let mut journal = match Journal::open(dir) {
        Ok(j) => Some(j),
        Err(e) => {
            out.notes
                .push(format!("{e}: outcomes are not recorded in the journal"));
            None
        }
    };
    for (id, fault, undo) in contents.pending.into_iter().rev() {
        if let Some(why) = distrust(&undo) {
            out.skipped.push(format!(
                "`{}` was not reverted: its journal entry is not trusted: {why}",
                crate::util::escape_control(&fault)
            ));
            continue;
        }
        let entry = revert_one(id, &fault, &undo, &mut out).await;
        record(&mut journal, &entry, &mut out.notes);
    }
    Ok(out)
}

async fn revert_one(id: u32, fault: &str, undo: &Undo, out: &mut Rollback) -> Entry {
    match undo.apply().await {
        Ok(note) => {
            out.reverted.push((fault.to_string(), note.clone()));
            Entry::Reverted {
                id,
                fault: fault.to_string(),
                note,
                at: now_rfc3339(),
            }
        }
        Err(e) => {
            out.failed
                .push((fault.to_string(), e.to_string(), undo.manual_fix()));
            Entry::RevertFailed {
                id,
                fault: fault.to_string(),
                error: e.to_string(),
                at: now_rfc3339(),
            }
        }
    }
}

/// Append an outcome; a journal that cannot take it is noted once and not used again
/// (reverting matters more than recording, and every undo is idempotent).
fn record(journal: &mut Option<Journal>, entry: &Entry, notes: &mut Vec<String>) {
    if let Some(j) = journal {
        if let Err(e) = j.append(entry) {
            notes.push(format!("{e}: outcomes are not recorded in the journal"));
            *journal = None;
        }
    }
}

#[cfg(test)]
mod tests;
