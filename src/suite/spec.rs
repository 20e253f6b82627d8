//! What `shakeout run PATH` was given: one experiment file, a suite file (top-level
//! key `suite:`), or a directory of experiment files. Every file is read, parsed and
//! compiled before anything runs, so a typo in the last experiment of a game day is
//! found before the first one breaks anything.

use crate::notify::{NotifySpec, Target};
use crate::plan::Plan;
use crate::spec::check::{check_name, Errors};
use crate::spec::yaml::{self, did_you_mean, SpecError};
use crate::spec::Dur;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A suite file: one top-level key, `suite:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    suite: SuiteSpec,
}

/// `suite:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteSpec {
    /// Names the suite's directory and report.
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Experiment files, relative to the suite file, run in this order.
    #[serde(default)]
    experiments: Vec<String>,
    /// Wait between two experiments (default 0s), so the system settles.
    #[serde(default)]
    pause: Option<Dur>,
    /// Stop at the first experiment that does not pass (default false). A failed
    /// revert stops the suite whatever this says.
    #[serde(default)]
    stop_on_failure: bool,
    #[serde(default, deserialize_with = "yaml::or_default")]
    notify: Option<NotifySpec>,
}

/// One experiment of a suite, read and compiled.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub plan: Plan,
    pub text: String,
}

/// A suite, read and compiled: everything a game day needs.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub description: Option<String>,
    /// The suite file or directory.
    pub source: String,
    pub entries: Vec<Entry>,
    pub pause: Duration,
    pub stop_on_failure: bool,
    pub notify: Option<Target>,
}

/// What a path given to `run` holds.
#[derive(Debug)]
pub enum Loaded {
    Experiment(Box<Entry>),
    Suite(Suite),
}

/// Reads `path`: a directory, a suite file or an experiment file.
pub fn load(path: &Path) -> Result<Loaded, Vec<SpecError>> {
    if path.is_dir() {
        return load_dir(path).map(Loaded::Suite);
    }
    let text = yaml::read_spec_file(path).map_err(|e| vec![e])?;
    if is_suite_text(&text) {
        load_suite_text(path, &text).map(Loaded::Suite)
    } else {
        load_experiment(path, text).map(|e| Loaded::Experiment(Box::new(e)))
    }
}

fn load_experiment(path: &Path, text: String) -> Result<Entry, Vec<SpecError>> {
    let plan = crate::plan::from_text(&path.display().to_string(), &text)?;
    Ok(Entry {
        path: path.to_path_buf(),
        plan,
        text,
    })
}

/// Keys an experiment file starts with: a file with none of them and a key close to
/// `suite` is read as a misspelt suite, so its error says "did you mean `suite`".
const EXPERIMENT_KEYS: [&str; 4] = ["name", "duration", "probes", "faults"];

/// A suite file has the top-level key `suite` (or one close to it, and none of an
/// experiment's). Text that is not a YAML mapping is left to the experiment loader,
/// whose errors are positioned.
fn is_suite_text(text: &str) -> bool {
    let keys = top_level_keys(text);
    if keys.iter().any(|k| k == "suite") {
        return true;
    }
    let experiment_like = keys.iter().any(|k| EXPERIMENT_KEYS.contains(&k.as_str()));
    !experiment_like && keys.iter().any(|k| did_you_mean(k, &["suite"]).is_some())
}

fn top_level_keys(text: &str) -> Vec<String> {
    let Ok(docs) = yaml_rust2::YamlLoader::load_from_str(text) else {
        return Vec::new();
    };
    match docs.first() {
        Some(yaml_rust2::Yaml::Hash(map)) => map
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `path` is a suite file (for a directory's listing, which skips them).
fn is_suite_file(path: &Path) -> bool {
    yaml::read_spec_file(path).is_ok_and(|t| is_suite_text(&t))
}

fn load_suite_text(path: &Path, text: &str) -> Result<Suite, Vec<SpecError>> {
    let file = path.display().to_string();
    // Only unknown keys went wrong: the suite's own checks still run, so one pass
    // reports a misspelt key and a missing file together.
    let (parsed, map, mut errors) = match yaml::from_str_partial::<SuiteFile>(&file, text) {
        Ok((parsed, map)) => (parsed, map, Vec::new()),
        Err(yaml::Partial {
            errors,
            value: Some((parsed, map)),
        }) => (parsed, map, errors),
        Err(p) => return Err(p.errors),
    };
    let spec = parsed.suite;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut e = Errors::new(&file, &map);
    check_name(&spec.name, "suite.name", &mut e);
    if spec.experiments.is_empty() {
        e.at("suite.experiments", "lists no experiment file");
    }
    let paths = experiment_paths(&spec, base, &mut e);
    let notify = spec
        .notify
        .as_ref()
        .and_then(|n| crate::notify::compile(n, "suite.notify", &mut e));
    let own = e.finish(|| ());
    let entries = load_entries(&paths);
    match (own, entries) {
        (Ok(()), Ok(entries)) if errors.is_empty() => Ok(Suite {
            name: spec.name,
            description: spec.description,
            source: file,
            entries,
            pause: spec.pause.map_or(Duration::ZERO, |d| d.0),
            stop_on_failure: spec.stop_on_failure,
            notify,
        }),
        (own, entries) => {
            errors.extend(own.err().unwrap_or_default());
            errors.sort_by_key(|e| (e.pos.is_none(), e.pos));
            errors.extend(entries.err().unwrap_or_default());
            Err(errors)
        }
    }
}

/// Each listed file, relative to the suite file; a missing one, a directory, or a
/// suite inside a suite is an error at its line.
fn experiment_paths(spec: &SuiteSpec, base: &Path, e: &mut Errors) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (i, listed) in spec.experiments.iter().enumerate() {
        let at = format!("suite.experiments[{i}]");
        let path = base.join(listed);
        if !path.is_file() {
            e.at(
                &at,
                format!("`{listed}`: no such file (paths are relative to the suite file)"),
            );
        } else if is_suite_file(&path) {
            e.at(
                &at,
                format!("`{listed}` is a suite; a suite lists experiment files"),
            );
        } else {
            out.push(path);
        }
    }
    out
}

/// Every experiment, compiled; all their errors at once.
fn load_entries(paths: &[PathBuf]) -> Result<Vec<Entry>, Vec<SpecError>> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let loaded = yaml::read_spec_file(path)
            .map_err(|e| vec![e])
            .and_then(|text| load_experiment(path, text));
        match loaded {
            Ok(entry) => entries.push(entry),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// A directory: every `*.yaml` / `*.yml` experiment in it (not below it), sorted by
/// file name; suite files in it are skipped. Named after the directory.
fn load_dir(dir: &Path) -> Result<Suite, Vec<SpecError>> {
    let file = dir.display().to_string();
    let fail = |message: String| {
        vec![SpecError {
            file: file.clone(),
            pos: None,
            path: String::new(),
            message,
        }]
    };
    let listing = std::fs::read_dir(dir).map_err(|e| fail(format!("cannot read: {e}")))?;
    let mut paths: Vec<PathBuf> = listing
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_yaml(p) && !is_suite_file(p))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(fail("holds no experiment file (*.yaml or *.yml)".into()));
    }
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "suite".into());
    Ok(Suite {
        name,
        description: None,
        source: file,
        entries: load_entries(&paths)?,
        pause: Duration::ZERO,
        stop_on_failure: false,
        notify: None,
    })
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}
