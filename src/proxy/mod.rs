//! Built-in TCP fault proxy with a Toxiproxy-compatible HTTP API.
//!
//! * [`Registry`]: in-process API (create/update/delete proxies, add and
//!   remove toxics) used by the experiment engine.
//! * [`serve`]: runs the HTTP API (`shakeout proxy serve`).
//! * [`ToxiproxyClient`]: async client for any Toxiproxy-compatible server.
//!
//! Semantics follow Toxiproxy 2.x (routes, JSON shapes, status codes, error
//! strings, toxic attributes and defaults). Deliberate differences:
//!
//! * Latency is pipelined: every chunk is due `latency ± jitter` after *it*
//!   arrived, so back-to-back chunks are not delayed cumulatively (Toxiproxy
//!   sleeps per chunk in sequence). Slicer delays and bandwidth pacing are
//!   likewise deadlines computed on arrival.
//! * Toxics of one direction act in chain order, but all "hold" effects
//!   become one deadline per piece; the pieces are written in order.
//! * Half-close is propagated (EOF in one direction shuts down writing on
//!   the other side); Toxiproxy closes the whole connection instead.
//! * A proxy created with an empty `listen` binds `127.0.0.1:0`, not all
//!   interfaces.
//! * Stricter validation, answered with 400 `bad request body: ...`:
//!   negative or non-integer attributes, toxicity outside [0, 1], slicer
//!   `size_variation >= average_size` (which panics Toxiproxy), and duplicate
//!   names inside one `/populate` body (Toxiproxy: 500).
//! * `GET /version` answers `{"version": "2.12.0"}`, the API level emulated.
//! * Unknown routes answer a JSON 404, wrong methods a JSON 405.

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
    let config_error = |message: String| ProxyError::Config {
        path: path.display().to_string(),
        message,
    };
    // The spec reader's rules: a regular file of bounded size (a FIFO cannot hang it).
    let text = crate::spec::yaml::read_spec_file(path).map_err(|e| config_error(e.message))?;
    serde_json::from_str(&text).map_err(|e| config_error(e.to_string()))
}

/// The API's listener, bound, and the config's proxies, created: nothing answers yet.
pub struct BoundApi {
    listener: tokio::net::TcpListener,
    registry: Registry,
    addr: SocketAddr,
}

/// Read `config`, bind the API on `listen`, then create the config's proxies.
///
/// Unlike Toxiproxy (which logs and carries on), a config file that cannot be read,
/// parsed or applied is an error ([`ProxyError::Config`]), so a typo does not
/// silently start an empty proxy.
pub async fn bind(listen: SocketAddr, config: Option<PathBuf>) -> Result<BoundApi, ProxyError> {
    let proxies = config.as_deref().map(load_config).transpose()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| ProxyError::listen(&listen.to_string(), &e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ProxyError::Io(e.to_string()))?;
    let registry = Registry::new();
    if let (Some(proxies), Some(path)) = (proxies, &config) {
        let created = registry.populate(proxies).await.map_err(|e| match e {
            // A proxy that cannot listen is the machine's problem, not the file's.
            e @ ProxyError::Listen { .. } => e,
            // The file is not a request body: its problem is said without the API's prefix.
            ProxyError::BadRequestBody(message) => ProxyError::Config {
                path: path.display().to_string(),
                message,
            },
            e => ProxyError::Config {
                path: path.display().to_string(),
                message: e.to_string(),
            },
        })?;
        tracing::info!(proxies = created.len(), config = %path.display(), "populated proxies from config");
    }
    Ok(BoundApi {
        listener,
        registry,
        addr,
    })
}

impl BoundApi {
    /// Where the API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answer API requests until `shutdown` completes, then close every proxy
    /// listener and connection.
    pub async fn run(self, shutdown: impl Future) {
        tracing::info!(address = %self.addr, "starting Toxiproxy-compatible API");
        api::serve_api(self.listener, self.registry.clone(), async move {
            shutdown.await;
        })
        .await;
        self.registry.shutdown().await;
    }
}

/// Runs the Toxiproxy-compatible API on `listen` until `shutdown`
/// completes, then closes every proxy listener and connection.
/// `config` is populated before the API starts answering (see [`bind`]).
pub async fn serve(
    listen: SocketAddr,
    config: Option<PathBuf>,
    shutdown: impl Future,
) -> Result<(), ProxyError> {
    bind(listen, config).await?.run(shutdown).await;
    Ok(())
}
