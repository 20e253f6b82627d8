//! Run-wide lifecycles: what backends set up before the probes start and tear down
//! after the last revert (the in-process demo, the built-in proxies and their API,
//! proxies created on Toxiproxy servers). One field per backend that needs one.

use super::proxy::{Proxies, ProxyPlan};
use super::{demo, FaultContext, FaultError, TargetPlan, Undo};
use std::path::PathBuf;

/// Where a setup step journals its undo before it changes anything, and how it went
/// after. The engine implements it over the run's journal; backends see only this.
pub trait UndoLog {
    /// Journal (and sync) `undo` under `id` before the change it reverts is made.
    fn applying(&self, id: u32, what: &str, undo: &Undo) -> Result<(), String>;
    /// Journal the outcome of applying that undo.
    fn finished(&self, id: u32, what: &str, outcome: &Result<String, FaultError>);
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot start the demo target: {0}")]
    Demo(#[from] crate::demo::DemoError),
    #[error("{0}")]
    Proxy(String),
    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Journal(String),
}

/// Everything the backends hold for the whole run.
pub struct RunWide {
    demo: demo::DemoRun,
    proxies: Proxies,
}

impl RunWide {
    /// Set up in order: the target first, then the proxies in front of it. On failure,
    /// what was already set up is torn down again.
    pub async fn start(
        target: Option<&TargetPlan>,
        proxies: &[ProxyPlan],
        log: &impl UndoLog,
    ) -> Result<RunWide, SetupError> {
        let demo = demo::DemoRun::start(target.and_then(TargetPlan::demo)).await?;
        match Proxies::start(proxies, log).await {
            Ok(proxies) => Ok(RunWide { demo, proxies }),
            Err(e) => {
                demo.stop().await;
                Err(e)
            }
        }
    }

    /// What faults' `prepare` needs from the run.
    pub fn context(&self, run_dir: PathBuf, run_id: String) -> FaultContext {
        FaultContext {
            run_dir,
            proxy_api: self.proxies.api_url.clone(),
            run_id,
        }
    }

    /// Tear down in reverse order. Returns what could not be undone, with how to undo
    /// it by hand.
    pub async fn stop(mut self, log: &impl UndoLog) -> Vec<String> {
        let failures = self.proxies.stop(log).await;
        self.demo.stop().await;
        failures
    }
}
