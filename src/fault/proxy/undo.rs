//! Remove the fault's toxics, enable the proxy, delete a proxy the run created.
//! Idempotent: a toxic or proxy already gone is the goal state.

use super::{client, unreachable};
use crate::fault::FaultError;
use serde::{Deserialize, Serialize};

/// The proxy backend's undos, as journaled: `{"action": "remove_toxics" |
/// "enable_proxy" | "delete_proxy", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ProxyUndo {
    /// Remove the named toxics from a proxy (Toxiproxy API).
    RemoveToxics {
        proxy: ProxyRef,
        toxics: Vec<String>,
    },
    /// Enable a proxy that was taken down.
    EnableProxy(ProxyRef),
    /// Delete a proxy the run created on a Toxiproxy server.
    DeleteProxy(ProxyRef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyRef {
    /// Base URL of the Toxiproxy API holding the proxy.
    pub api: String,
    pub proxy: String,
    /// The API belonged to the run itself: if it is gone, so are its toxics.
    pub in_process: bool,
}

impl ProxyUndo {
    /// The proxy the undo acts on.
    pub fn target(&self) -> &ProxyRef {
        match self {
            ProxyUndo::RemoveToxics { proxy, .. } => proxy,
            ProxyUndo::EnableProxy(p) | ProxyUndo::DeleteProxy(p) => p,
        }
    }

    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            ProxyUndo::RemoveToxics { proxy, toxics } => remove_toxics(proxy, toxics).await,
            ProxyUndo::EnableProxy(p) => set_enabled(p, true).await,
            ProxyUndo::DeleteProxy(p) => delete(p).await,
        }
    }

    pub fn manual_fix(&self) -> String {
        let p = self.target();
        let api = p.api.trim_end_matches('/');
        match self {
            ProxyUndo::RemoveToxics { toxics, .. } => format!(
                "proxy `{}` still has toxics {}: {}",
                p.proxy,
                toxics.join(", "),
                toxics
                    .iter()
                    .map(|t| format!("`curl -X DELETE {api}/proxies/{}/toxics/{t}`", p.proxy))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            ProxyUndo::EnableProxy(_) => format!(
                "proxy `{}` is disabled: `curl -X POST -d '{{\"enabled\":true}}' {api}/proxies/{}`",
                p.proxy, p.proxy
            ),
            ProxyUndo::DeleteProxy(_) => format!(
                "proxy `{}` created by the run remains: `curl -X DELETE {api}/proxies/{}`",
                p.proxy, p.proxy
            ),
        }
    }
}

async fn remove_toxics(p: &ProxyRef, toxics: &[String]) -> Result<String, FaultError> {
    let c = client(&p.api)?;
    let mut removed = Vec::new();
    for name in toxics {
        match c.remove_toxic(&p.proxy, name).await {
            Ok(()) => removed.push(name.as_str()),
            // Already gone (never added, or removed before): the goal state holds.
            Err(e) if e.status() == Some(404) => {}
            Err(e) if p.in_process && unreachable(&e) => {
                return Ok(format!(
                    "nothing to do: the built-in proxy `{}` ended with its run",
                    p.proxy
                ))
            }
            Err(e) => {
                return Err(FaultError::Target(format!(
                    "cannot remove toxic `{name}` from proxy `{}` at {}: {e}",
                    p.proxy, p.api
                )))
            }
        }
    }
    Ok(if removed.is_empty() {
        format!(
            "nothing to do: no shakeout toxic left on proxy `{}`",
            p.proxy
        )
    } else {
        format!("removed {} from proxy `{}`", removed.join(", "), p.proxy)
    })
}

pub(super) async fn set_enabled(p: &ProxyRef, enabled: bool) -> Result<String, FaultError> {
    match client(&p.api)?.set_enabled(&p.proxy, enabled).await {
        Ok(_) => Ok(format!(
            "proxy `{}` {}",
            p.proxy,
            if enabled { "enabled" } else { "disabled" }
        )),
        Err(e) if enabled && e.status() == Some(404) => Ok(format!(
            "nothing to do: proxy `{}` no longer exists",
            p.proxy
        )),
        Err(e) if enabled && p.in_process && unreachable(&e) => Ok(format!(
            "nothing to do: the built-in proxy `{}` ended with its run",
            p.proxy
        )),
        Err(e) => Err(FaultError::Target(format!(
            "cannot {} proxy `{}` at {}: {e}",
            if enabled { "enable" } else { "disable" },
            p.proxy,
            p.api
        ))),
    }
}

/// Remove a proxy the run created on a Toxiproxy server.
async fn delete(p: &ProxyRef) -> Result<String, FaultError> {
    match client(&p.api)?.delete_proxy(&p.proxy).await {
        Ok(()) => Ok(format!("deleted proxy `{}` from {}", p.proxy, p.api)),
        Err(e) if e.status() == Some(404) => Ok(format!(
            "nothing to do: proxy `{}` is already gone",
            p.proxy
        )),
        Err(e) => Err(FaultError::Target(format!(
            "cannot delete proxy `{}` at {}: {e}",
            p.proxy, p.api
        ))),
    }
}
