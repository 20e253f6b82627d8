//! Finding runs: every `report.json` under the given directories, read as a [`Report`].

use crate::report::Report;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot read directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no report.json under {0}")]
    NoRuns(String),
}

/// The runs found, as (directory, report), and the files passed over, in words.
#[derive(Debug, Default)]
pub struct Collected {
    pub runs: Vec<(String, Report)>,
    pub skipped: Vec<String>,
}

/// Every run under `dirs`, recursively. Symbolic links to directories are not followed
/// (a link back up would loop); a report.json that does not parse, or that a newer
/// shakeout wrote, is skipped and named in `skipped`. The same run found twice (a copied
/// run directory) counts once.
pub fn collect(dirs: &[PathBuf]) -> Result<Collected, CollectError> {
    let mut files = Vec::new();
    for dir in dirs {
        find_reports(dir, &mut files)?;
    }
    files.sort();
    let mut out = Collected::default();
    let mut seen = std::collections::BTreeSet::new();
    for file in files {
        match read_report(&file) {
            Ok(r) if !seen.insert((r.experiment.clone(), r.run_id.clone())) => out.skipped.push(
                format!("{}: run {} already found", file.display(), r.run_id),
            ),
            Ok(r) => {
                let dir = file
                    .parent()
                    .unwrap_or(Path::new("."))
                    .display()
                    .to_string();
                out.runs.push((dir, r));
            }
            Err(why) => out.skipped.push(format!("{}: {why}", file.display())),
        }
    }
    if out.runs.is_empty() {
        let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(CollectError::NoRuns(names.join(", ")));
    }
    Ok(out)
}

fn find_reports(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), CollectError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CollectError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            find_reports(&path, files)?;
        } else if entry.file_name() == "report.json" {
            files.push(path);
        }
    }
    Ok(())
}

fn read_report(file: &Path) -> Result<Report, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version.is_some_and(|v| v > u64::from(crate::report::SCHEMA_VERSION)) {
        return Err(format!(
            "schema_version {} is newer than this shakeout reads ({})",
            version.unwrap_or_default(),
            crate::report::SCHEMA_VERSION
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("not a shakeout report: {e}"))
}
