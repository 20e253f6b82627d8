//! The `exec` probe: run a command per sample; success is exit status 0.
//!
//! The command runs in its own process group, and the whole group is killed
//! (SIGKILL) at the timeout and after the command exits, so a hung check or a
//! forgotten background child cannot pile up over thousands of samples. A failed
//! sample carries the last bytes of the command's stdout and stderr for its event.

mod compile;
mod runner;
#[cfg(test)]
mod tests;

pub use compile::{compile, ExecProbePlan};
pub use runner::{ExecFailure, ExecProbe, ExecSetupError, TAIL_BYTES};

use crate::spec::Dur;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `exec:` probe.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExecProbeSpec {
    /// Program and arguments, run directly (no shell): `[pg_isready, -h, db]`.
    /// For shell syntax, run a shell: `[sh, -c, "curl -sf … | grep ok"]`.
    pub command: Vec<String>,
    #[serde(default)]
    pub interval: Option<Dur>,
    /// The process group is killed when a sample takes longer than this.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Extra environment variables, on top of shakeout's own environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}
