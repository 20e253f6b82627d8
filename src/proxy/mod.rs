//! Built-in TCP fault proxy with a Toxiproxy-compatible HTTP API.
//!
//! * [`Registry`]: in-process API (create/update/delete proxies, add and
//!   remove toxics) used by the experiment engine.
//! * [`serve`]: runs the HTTP API (`shakeout proxy serve`).
//! * [`ToxiproxyClient`]: async client for any Toxiproxy-compatible server.

pub mod api;
pub mod client;
mod error;
mod link;
mod registry;
mod timer;
pub mod toxic;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use client::{ClientError, ToxiproxyClient};
pub use error::ProxyError;
pub use registry::{ProxyConfig, ProxyInfo, ProxyUpdate, Registry, DEFAULT_PROXY_LISTEN};
pub use toxic::{
    Bandwidth, Latency, LimitData, ResetPeer, Slicer, SlowClose, Stream, Timeout, ToxicKind,
    ToxicSpec,
};

/// Toxiproxy's default API address, on loopback.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8474";

/// Reads a Toxiproxy `-config` file: a JSON array of proxies.
pub fn load_config(path: &std::path::Path) -> Result<Vec<ProxyConfig>, ProxyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ProxyError::Io(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| ProxyError::BadRequestBody(format!("{}: {e}", path.display())))
}

/// Runs the Toxiproxy-compatible API on `listen` until `shutdown`
/// completes, then closes every proxy listener and connection.
///
/// `config` is populated before the API starts answering. Unlike
/// Toxiproxy (which logs and carries on), a config file that cannot be read
/// or parsed is an error, so a typo does not silently start an empty proxy.
pub async fn serve(
    listen: SocketAddr,
    config: Option<PathBuf>,
    shutdown: impl Future,
) -> Result<(), ProxyError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| ProxyError::listen(&listen.to_string(), &e))?;
    let registry = Registry::new();
    if let Some(path) = config {
        let proxies = load_config(&path)?;
        let created = registry.populate(proxies).await?;
        tracing::info!(proxies = created.len(), config = %path.display(), "populated proxies from config");
    }
    tracing::info!(address = %listen, "starting Toxiproxy-compatible API");
    api::serve_api(listener, registry.clone(), async move {
        shutdown.await;
    })
    .await;
    registry.shutdown().await;
    Ok(())
}
