//! Run-wide proxies: started (or found, or created on a Toxiproxy server) before the
//! probes, so the path exists before any fault; torn down after the last revert.

use super::compile::ProxyPlan;
use super::undo::{ProxyRef, ProxyUndo};
use crate::fault::{SetupError, Undo, UndoLog};
use crate::proxy::{ProxyConfig, Registry, ToxiproxyClient};
use std::time::Duration;

/// Journal ids for setup steps, apart from the faults' (which count from 0).
const SETUP_ID_BASE: u32 = 1_000_000;

pub struct Proxies {
    registry: Option<Registry>,
    /// Base URL of the API serving the built-in proxies.
    pub api_url: Option<String>,
    api_task: Option<ApiTask>,
    /// Proxies this run created on Toxiproxy servers, deleted after the run.
    created: Vec<(u32, ProxyRef)>,
}

fn setup_error(name: &str, e: impl std::fmt::Display) -> SetupError {
    SetupError::Proxy(format!("proxy `{name}`: {e}"))
}

impl Proxies {
    /// Start every proxy of the plan; on failure, undo the ones already started.
    pub async fn start(plan: &[ProxyPlan], log: &impl UndoLog) -> Result<Proxies, SetupError> {
        let mut me = Proxies {
            registry: None,
            api_url: None,
            api_task: None,
            created: Vec::new(),
        };
        if let Err(e) = me.start_all(plan, log).await {
            me.stop(log).await;
            return Err(e);
        }
        Ok(me)
    }

    async fn start_all(
        &mut self,
        plan: &[ProxyPlan],
        log: &impl UndoLog,
    ) -> Result<(), SetupError> {
        for (i, p) in plan.iter().enumerate() {
            match &p.api {
                None => self.start_builtin(p).await?,
                Some(api) => {
                    self.find_or_create(SETUP_ID_BASE + i as u32, p, api, log)
                        .await?
                }
            }
        }
        if let Some(registry) = &self.registry {
            let (url, task) = serve_api(registry.clone()).await?;
            self.api_url = Some(url);
            self.api_task = Some(task);
        }
        Ok(())
    }

    async fn start_builtin(&mut self, p: &ProxyPlan) -> Result<(), SetupError> {
        let registry = self.registry.get_or_insert_with(Registry::new);
        registry
            .create(config(p))
            .await
            .map_err(|e| setup_error(&p.name, e))?;
        Ok(())
    }

    /// Use a proxy on a Toxiproxy server, creating it (journaled first) when it is
    /// missing and the spec says how.
    async fn find_or_create(
        &mut self,
        id: u32,
        p: &ProxyPlan,
        api: &str,
        log: &impl UndoLog,
    ) -> Result<(), SetupError> {
        let client = ToxiproxyClient::new(api, Duration::from_secs(5))
            .map_err(|e| setup_error(&p.name, e))?;
        match client.get_proxy(&p.name).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) && p.listen.is_some() => {
                let target = ProxyRef {
                    api: api.to_string(),
                    proxy: p.name.clone(),
                    in_process: false,
                };
                let undo = Undo::Proxy(ProxyUndo::DeleteProxy(target.clone()));
                log.applying(id, &format!("create proxy {}", p.name), &undo)
                    .map_err(SetupError::Journal)?;
                self.created.push((id, target));
                client
                    .create_proxy(&config(p))
                    .await
                    .map_err(|e| setup_error(&p.name, e))?;
                Ok(())
            }
            Err(e) if e.status() == Some(404) => Err(setup_error(
                &p.name,
                format!("not found at {api}; give `listen` and `upstream` to create it"),
            )),
            Err(e) => Err(setup_error(&p.name, e)),
        }
    }

    /// Close the built-in proxies and delete the ones the run created elsewhere.
    /// Returns what could not be undone, with how to undo it by hand.
    pub async fn stop(&mut self, log: &impl UndoLog) -> Vec<String> {
        if let Some((tx, task)) = self.api_task.take() {
            let _ = tx.send(());
            let _ = task.await;
        }
        if let Some(r) = self.registry.take() {
            r.shutdown().await;
        }
        let mut failures = Vec::new();
        for (id, target) in self.created.drain(..).rev() {
            let what = format!("create proxy {}", target.proxy);
            let undo = ProxyUndo::DeleteProxy(target);
            let outcome = undo.apply().await;
            if let Err(e) = &outcome {
                failures.push(format!("{e}. Still there: {}", undo.manual_fix()));
            }
            log.finished(id, &what, &outcome);
        }
        failures
    }
}

fn config(p: &ProxyPlan) -> ProxyConfig {
    ProxyConfig::new(
        p.name.clone(),
        p.listen.map(|l| l.to_string()).unwrap_or_default(),
        p.upstream.clone().unwrap_or_default(),
    )
}

type ApiTask = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

/// The built-in proxies get a Toxiproxy API of their own on loopback, so faults and
/// rollbacks drive them exactly as they drive a Toxiproxy server.
async fn serve_api(registry: Registry) -> Result<(String, ApiTask), SetupError> {
    let io = |source| SetupError::Io {
        path: "built-in proxy API".into(),
        source,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::proxy::api::serve_api(
        listener,
        registry,
        async move {
            let _ = rx.await;
        },
    ));
    Ok((format!("http://{addr}"), (tx, task)))
}
