//! Run-wide proxies: started (or found, or created on a Toxiproxy server) before the
//! probes, so the path exists before any fault; torn down after the run.

use super::journal::{self, Entry, Journal};
use super::EngineError;
use crate::fault::proxy::ProxyRef;
use crate::fault::Undo;
use crate::plan::Plan;
use crate::proxy::{ProxyConfig, Registry, ToxiproxyClient};
use std::sync::Mutex;
use std::time::Duration;

/// Journal ids for setup steps, apart from the faults' (which count from 0).
const SETUP_ID_BASE: u32 = 1_000_000;

pub struct Proxies {
    registry: Option<Registry>,
    /// Base URL of the API serving the built-in proxies.
    pub api_url: Option<String>,
    api_task: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
    /// Proxies this run created on Toxiproxy servers, deleted after the run.
    created: Vec<(u32, ProxyRef)>,
}

impl Proxies {
    pub async fn start(plan: &Plan, journal: &Mutex<Journal>) -> Result<Proxies, EngineError> {
        let mut me = Proxies {
            registry: None,
            api_url: None,
            api_task: None,
            created: Vec::new(),
        };
        if let Err(e) = me.start_all(plan, journal).await {
            me.stop(journal).await;
            return Err(e);
        }
        Ok(me)
    }

    async fn start_all(
        &mut self,
        plan: &Plan,
        journal: &Mutex<Journal>,
    ) -> Result<(), EngineError> {
        let setup = |name: &str, e: String| EngineError::Proxy(format!("proxy `{name}`: {e}"));
        for (i, p) in plan.proxies.iter().enumerate() {
            match &p.api {
                None => {
                    let registry = self.registry.get_or_insert_with(Registry::new);
                    let listen = p.listen.map(|l| l.to_string()).unwrap_or_default();
                    let upstream = p.upstream.clone().unwrap_or_default();
                    registry
                        .create(ProxyConfig::new(p.name.clone(), listen, upstream))
                        .await
                        .map_err(|e| setup(&p.name, e.to_string()))?;
                }
                Some(api) => {
                    let client = ToxiproxyClient::new(api, Duration::from_secs(5))
                        .map_err(|e| setup(&p.name, e.to_string()))?;
                    match client.get_proxy(&p.name).await {
                        Ok(_) => {}
                        Err(e) if e.status() == Some(404) && p.listen.is_some() => {
                            let target = ProxyRef {
                                api: api.clone(),
                                proxy: p.name.clone(),
                                in_process: false,
                            };
                            let id = SETUP_ID_BASE + i as u32;
                            let entry = Entry::Applying {
                                id,
                                fault: format!("create proxy {}", p.name),
                                undo: Undo::DeleteProxy(target.clone()),
                                at: journal::now_rfc3339(),
                            };
                            journal
                                .lock()
                                .map_err(|_| EngineError::Proxy("journal lock poisoned".into()))?
                                .append(&entry)?;
                            self.created.push((id, target));
                            let cfg = ProxyConfig::new(
                                p.name.clone(),
                                p.listen.map(|l| l.to_string()).unwrap_or_default(),
                                p.upstream.clone().unwrap_or_default(),
                            );
                            client
                                .create_proxy(&cfg)
                                .await
                                .map_err(|e| setup(&p.name, e.to_string()))?;
                        }
                        Err(e) if e.status() == Some(404) => {
                            return Err(setup(
                                &p.name,
                                format!(
                                    "not found at {api}; give `listen` and `upstream` to create it"
                                ),
                            ))
                        }
                        Err(e) => return Err(setup(&p.name, e.to_string())),
                    }
                }
            }
        }
        if let Some(registry) = &self.registry {
            // The built-in proxies get a Toxiproxy API of their own on loopback, so faults
            // and rollbacks drive them exactly as they drive a Toxiproxy server.
            let listener =
                tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|source| EngineError::Io {
                        path: "built-in proxy API".into(),
                        source,
                    })?;
            let addr = listener.local_addr().map_err(|source| EngineError::Io {
                path: "built-in proxy API".into(),
                source,
            })?;
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(crate::proxy::api::serve_api(
                listener,
                registry.clone(),
                async move {
                    let _ = rx.await;
                },
            ));
            self.api_url = Some(format!("http://{addr}"));
            self.api_task = Some((tx, task));
        }
        Ok(())
    }

    /// Close the built-in proxies and delete the ones the run created elsewhere.
    pub async fn stop(&mut self, journal: &Mutex<Journal>) -> Vec<String> {
        let mut failures = Vec::new();
        if let Some((tx, task)) = self.api_task.take() {
            let _ = tx.send(());
            let _ = task.await;
        }
        if let Some(r) = self.registry.take() {
            r.shutdown().await;
        }
        for (id, target) in self.created.drain(..).rev() {
            let fault = format!("create proxy {}", target.proxy);
            let undo = Undo::DeleteProxy(target);
            let entry = match undo.apply().await {
                Ok(note) => Entry::Reverted {
                    id,
                    fault,
                    note,
                    at: journal::now_rfc3339(),
                },
                Err(e) => {
                    failures.push(format!("{e}. Still there: {}", undo.manual_fix()));
                    Entry::RevertFailed {
                        id,
                        fault,
                        error: e.to_string(),
                        at: journal::now_rfc3339(),
                    }
                }
            };
            if let Ok(mut j) = journal.lock() {
                let _ = j.append(&entry);
            }
        }
        failures
    }
}
