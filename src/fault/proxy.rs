//! `latency` and `network` faults: toxics on a TCP proxy, or the proxy taken down.
//!
//! Both backends speak Toxiproxy's REST API through one async client: the run's
//! built-in proxies (served by the run on a loopback port) and an existing Toxiproxy
//! server (`api:` on the proxy). So injecting, reverting and `shakeout rollback` are
//! the same code for both, and a crash leaves no toxic behind after a rollback.

use super::{FaultError, Undo};
use crate::proxy::{ClientError, ToxicSpec, ToxiproxyClient};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const API_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyRef {
    /// Base URL of the Toxiproxy API holding the proxy.
    pub api: String,
    pub proxy: String,
    /// The API belonged to the run itself: if it is gone, so are its toxics.
    pub in_process: bool,
}

fn client(api: &str) -> Result<ToxiproxyClient, FaultError> {
    ToxiproxyClient::new(api, API_TIMEOUT).map_err(|e| FaultError::Target(e.to_string()))
}

fn unreachable(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Transport { .. } | ClientError::Timeout { .. }
    )
}

/// Resolve the API and check the proxy exists. Changes nothing.
pub async fn prepare(
    proxy: &str,
    api: Option<&str>,
    builtin_api: Option<&str>,
) -> Result<ProxyRef, FaultError> {
    let (api, in_process) = match (api, builtin_api) {
        (Some(a), _) => (a.to_string(), false),
        (None, Some(b)) => (b.to_string(), true),
        (None, None) => {
            return Err(FaultError::Target(format!(
                "proxy `{proxy}` is not running"
            )))
        }
    };
    client(&api)?
        .get_proxy(proxy)
        .await
        .map_err(|e| FaultError::Target(format!("proxy `{proxy}` at {api}: {e}")))?;
    Ok(ProxyRef {
        api,
        proxy: proxy.to_string(),
        in_process,
    })
}

pub fn undo_toxics(p: ProxyRef, toxics: &[ToxicSpec]) -> Undo {
    Undo::RemoveToxics {
        proxy: p,
        toxics: toxics.iter().map(|t| t.name.clone()).collect(),
    }
}

pub async fn add_toxics(p: &ProxyRef, toxics: &[ToxicSpec]) -> Result<(), FaultError> {
    let c = client(&p.api)?;
    for t in toxics {
        c.add_toxic(&p.proxy, t).await.map_err(|e| {
            FaultError::Target(format!(
                "cannot add toxic `{}` to proxy `{}`: {e}",
                t.name, p.proxy
            ))
        })?;
    }
    Ok(())
}

pub async fn remove_toxics(p: &ProxyRef, toxics: &[String]) -> Result<String, FaultError> {
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

pub async fn set_enabled(p: &ProxyRef, enabled: bool) -> Result<String, FaultError> {
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
pub async fn delete(p: &ProxyRef) -> Result<String, FaultError> {
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
