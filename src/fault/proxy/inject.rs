//! Find the proxy (prepare) and add the toxics or take it down (inject).

use super::client;
use super::compile::{ProxyAction, ProxyFault};
use super::undo::{set_enabled, ProxyRef, ProxyUndo};
use crate::fault::{FaultContext, FaultError};

/// Resolve the API holding the proxy and check the proxy exists. Changes nothing.
pub async fn prepare(plan: &ProxyFault, ctx: &FaultContext) -> Result<ProxyUndo, FaultError> {
    let target = find(&plan.proxy, plan.api.as_deref(), ctx.proxy_api.as_deref()).await?;
    Ok(match &plan.action {
        ProxyAction::Toxics(toxics) => ProxyUndo::RemoveToxics {
            proxy: target,
            toxics: toxics.iter().map(|t| t.name.clone()).collect(),
        },
        ProxyAction::Down => ProxyUndo::EnableProxy(target),
    })
}

async fn find(
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

/// Add the toxics, or disable the proxy. The API answers once the change is live.
pub async fn inject(plan: &ProxyFault, undo: &ProxyUndo) -> Result<(), FaultError> {
    let p = undo.target();
    match &plan.action {
        ProxyAction::Toxics(toxics) => {
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
        ProxyAction::Down => set_enabled(p, false).await.map(|_| ()),
    }
}

/// Preflight, read-only: a built-in proxy is started by the run; a Toxiproxy one must
/// exist on its server, unless the run creates it there (`created_by_run`), in which
/// case the server must answer.
pub async fn preflight(plan: &ProxyFault, created_by_run: bool) -> Result<String, FaultError> {
    let proxy = &plan.proxy;
    let Some(api) = &plan.api else {
        return Ok(format!("proxy `{proxy}`: built in, started by the run"));
    };
    match client(api)?.get_proxy(proxy).await {
        Ok(_) => Ok(format!("proxy `{proxy}` exists at {api}")),
        Err(e) if created_by_run && e.status() == Some(404) => Ok(format!(
            "proxy `{proxy}`: {api} answers; the run creates it there"
        )),
        Err(e) => Err(FaultError::Target(format!("proxy `{proxy}` at {api}: {e}"))),
    }
}
