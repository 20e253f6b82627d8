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
pub mod proxy;

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
    /// Remove the named toxics from a proxy (Toxiproxy API).
    RemoveToxics {
        proxy: proxy::ProxyRef,
        toxics: Vec<String>,
    },
    /// Enable a proxy that was taken down.
    EnableProxy(proxy::ProxyRef),
    /// Delete a proxy the run created on a Toxiproxy server.
    DeleteProxy(proxy::ProxyRef),
}

impl Undo {
    /// Revert. Idempotent. `Ok(note)` says what was done ("resumed process 1234",
    /// "nothing to do: ...").
    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            Undo::Resume(p) => process::resume(p),
            Undo::Restart(r) => process::restart(r).await,
            Undo::DemoZoneUp(z) => demo::zone_up(z).await,
            Undo::RemoveToxics { proxy: p, toxics } => proxy::remove_toxics(p, toxics).await,
            Undo::EnableProxy(p) => proxy::set_enabled(p, true).await,
            Undo::DeleteProxy(p) => proxy::delete(p).await,
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
            Undo::RemoveToxics { proxy: p, toxics } => format!(
                "proxy `{}` still has toxics {}: {}",
                p.proxy,
                toxics.join(", "),
                toxics
                    .iter()
                    .map(|t| format!("`curl -X DELETE {}/proxies/{}/toxics/{t}`", p.api.trim_end_matches('/'), p.proxy))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Undo::EnableProxy(p) => format!(
                "proxy `{}` is disabled: `curl -X POST -d '{{\"enabled\":true}}' {}/proxies/{}`",
                p.proxy,
                p.api.trim_end_matches('/'),
                p.proxy
            ),
            Undo::DeleteProxy(p) => format!(
                "proxy `{}` created by the run remains: `curl -X DELETE {}/proxies/{}`",
                p.proxy,
                p.api.trim_end_matches('/'),
                p.proxy
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
    /// Base URL of the API serving the run's built-in proxies, if it has any.
    pub proxy_api: Option<String>,
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
        FaultKind::Toxics {
            proxy: p,
            api,
            toxics,
        } => {
            let target = proxy::prepare(p, api.as_deref(), ctx.proxy_api.as_deref()).await?;
            Ok(proxy::undo_toxics(target, toxics))
        }
        FaultKind::ProxyDown { proxy: p, api } => Ok(Undo::EnableProxy(
            proxy::prepare(p, api.as_deref(), ctx.proxy_api.as_deref()).await?,
        )),
    }
}

/// Apply the fault. Call only after its undo is journaled.
pub async fn inject(kind: &FaultKind, undo: &Undo) -> Result<(), FaultError> {
    match (kind, undo) {
        (FaultKind::AzLoss { lb, zone, mode, .. }, _) => demo::zone_down(*lb, zone, *mode).await,
        (
            FaultKind::Process { action, .. },
            Undo::Resume(p) | Undo::Restart(process::RestartSpec { process: p, .. }),
        ) => {
            // A kill waits (up to 10 s) for the process to be gone: keep it off the async workers.
            let (p, action) = (p.clone(), action.clone());
            tokio::task::spawn_blocking(move || process::inject(&p, &action))
                .await
                .map_err(|e| FaultError::Target(format!("internal: {e}")))?
        }
        (FaultKind::Toxics { toxics, .. }, Undo::RemoveToxics { proxy: p, .. }) => {
            proxy::add_toxics(p, toxics).await
        }
        (FaultKind::ProxyDown { .. }, Undo::EnableProxy(p)) => {
            proxy::set_enabled(p, false).await.map(|_| ())
        }
        _ => Err(FaultError::Target(
            "internal: a fault with a foreign undo".into(),
        )),
    }
}
