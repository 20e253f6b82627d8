//! YAML mirror of `process:` faults.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessAction {
    /// SIGSTOP; reverted with SIGCONT.
    Pause,
    /// SIGKILL (or `signal`); reverted by running `restart`.
    Kill,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessFaultSpec {
    #[serde(default)]
    pub pid: Option<i32>,
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    pub action: ProcessAction,
    /// For `kill`: the command that brings the process back (argv, no shell).
    #[serde(default)]
    pub restart: Option<Vec<String>>,
    /// For `kill`: the signal to send, `KILL` (default), `TERM` or `INT`.
    #[serde(default)]
    pub signal: Option<String>,
}
