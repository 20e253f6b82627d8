//! Fault injectors. One closed set of kinds ([`crate::plan::FaultKind`]), one module
//! per backend. A backend knows nothing of probes or reports.
//!
//! The safety contract: `prepare` resolves the target and returns the [`Undo`] that
//! reverts the fault *without changing anything*; the engine journals that undo
//! (fsync) and only then calls `inject`. Reverting = applying the undo, the same code
//! whether the engine reverts at the end of a fault, on Ctrl-C, after a panic, or
//! `shakeout rollback` reverts what a killed run left. Every undo is idempotent.

pub mod demo;
pub mod process;

use crate::plan::FaultKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How to revert one applied fault; serialisable so the journal can hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Undo {
    /// SIGCONT a paused process (if it is still the same process).
    Resume(process::ProcessRef),
    /// Run `argv` to bring back a killed process, unless it is already back.
    Restart(process::RestartSpec),
    /// Bring a demo zone back up through the balancer's admin API.
    DemoZoneUp(demo::ZoneRef),
}

impl Undo {
    /// Revert. Idempotent. `Ok(note)` says what was done ("resumed process 1234",
    /// "nothing to do: ...").
    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            Undo::Resume(p) => process::resume(p),
            Undo::Restart(r) => process::restart(r).await,
            Undo::DemoZoneUp(z) => demo::zone_up(z).await,
        }
    }

    /// What is broken while this undo is pending, and how a person undoes it by hand.
    pub fn manual_fix(&self) -> String {
        match self {
            Undo::Resume(p) => format!("process {} is paused: run `kill -CONT {}`", p.pid, p.pid),
            Undo::Restart(r) => format!(
                "process {} was killed: start it again with `{}` (in {})",
                r.process.pid,
                r.argv.join(" "),
                r.cwd.display()
            ),
            Undo::DemoZoneUp(z) => format!(
                "demo zone `{}` is down: `curl -X PUT -d '{{\"mode\":\"up\"}}' http://{}/_shakeout/zones/{}`",
                z.zone, z.lb, z.zone
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("{0}")]
    Target(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where a fault's side files (restart logs) go.
#[derive(Debug, Clone)]
pub struct FaultContext {
    pub run_dir: PathBuf,
}

/// Resolve the target of a planned fault and say how to undo it. Changes nothing.
pub async fn prepare(name: &str, kind: &FaultKind, ctx: &FaultContext) -> Result<Undo, FaultError> {
    match kind {
        FaultKind::AzLoss {
            lb,
            zone,
            in_process,
            ..
        } => Ok(Undo::DemoZoneUp(demo::ZoneRef {
            lb: *lb,
            zone: zone.clone(),
            in_process: *in_process,
        })),
        FaultKind::Process { pid, action } => process::prepare(name, pid, action, ctx),
    }
}

/// Apply the fault. Call only after its undo is journaled.
pub async fn inject(kind: &FaultKind, undo: &Undo) -> Result<(), FaultError> {
    match (kind, undo) {
        (FaultKind::AzLoss { lb, zone, mode, .. }, _) => demo::zone_down(*lb, zone, *mode).await,
        (
            FaultKind::Process { action, .. },
            Undo::Resume(p) | Undo::Restart(process::RestartSpec { process: p, .. }),
        ) => process::inject(p, action),
        (FaultKind::Process { .. }, _) => Err(FaultError::Target(
            "internal: process fault with a foreign undo".into(),
        )),
    }
}
