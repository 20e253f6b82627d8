//! The proxy backend: `latency` and `network` faults as toxics on a TCP proxy, or the
//! proxy taken down; and the run-wide `proxies:` they act on.
//!
//! Same shape as every backend (see `fault/demo/mod.rs`): `spec.rs`, `compile.rs`,
//! `inject.rs`, `undo.rs`, `lifecycle.rs` (starts the built-in proxies and their API,
//! creates missing proxies on Toxiproxy servers, and removes both after the run).
//!
//! Every operation speaks Toxiproxy's REST API through one async client: to the run's
//! built-in proxies (served by the run on a loopback port) and to an existing Toxiproxy
//! server (`api:` on the proxy). So injecting, reverting and `shakeout rollback` are
//! the same code for both, and a crash leaves no toxic behind after a rollback.

mod compile;
mod inject;
mod lifecycle;
mod spec;
mod undo;

pub use compile::{
    compile_latency, compile_network, compile_proxies, describe_proxies, ProxyAction, ProxyFault,
    ProxyPlan,
};
pub use inject::{inject, preflight, prepare};
pub use lifecycle::Proxies;
pub use spec::{
    BandwidthSpec, LatencyFaultSpec, LimitDataSpec, NetworkFaultSpec, ProxySpec, SlicerSpec,
    SlowCloseSpec, StreamSpec, TimeoutSpec,
};
pub use undo::{ProxyRef, ProxyUndo};

use super::FaultError;
use crate::proxy::{ClientError, ToxiproxyClient};
use std::time::Duration;

const API_TIMEOUT: Duration = Duration::from_secs(5);

fn client(api: &str) -> Result<ToxiproxyClient, FaultError> {
    ToxiproxyClient::new(api, API_TIMEOUT).map_err(|e| FaultError::Target(e.to_string()))
}

/// The API did not answer at all (as opposed to answering with an error).
fn unreachable(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Transport { .. } | ClientError::Timeout { .. }
    )
}
