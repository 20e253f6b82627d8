//! YAML mirror of `proxies:` and of the `latency:` and `network:` faults.

use crate::spec::Dur;
use serde::{Deserialize, Serialize};

/// A TCP fault proxy on the path to the target. Without `api` it is built in: started
/// with the run on `listen`, forwarding to `upstream`. With `api` it lives in an existing
/// Toxiproxy (or `shakeout proxy serve`) server: created there when `listen` and
/// `upstream` are given and it does not exist (and deleted after the run), else used as is.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySpec {
    pub name: String,
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub upstream: Option<String>,
    /// Base URL of a Toxiproxy API, e.g. `http://127.0.0.1:8474`.
    #[serde(default)]
    pub api: Option<String>,
    /// `true`: `listen` may be a non-loopback address, reachable from other hosts.
    #[serde(default)]
    pub expose: bool,
}

/// Which direction of a proxied connection a toxic applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamSpec {
    /// Client → server.
    Upstream,
    /// Server → client (Toxiproxy's default).
    #[default]
    Downstream,
    /// Both directions (two toxics).
    Both,
}

/// Add latency to every chunk through a proxy (Toxiproxy's `latency` toxic).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyFaultSpec {
    /// A name from `proxies:`.
    pub proxy: String,
    pub latency: Dur,
    #[serde(default)]
    pub jitter: Option<Dur>,
    #[serde(default)]
    pub stream: StreamSpec,
    /// Probability (0..1) that a connection is affected; default 1.
    #[serde(default)]
    pub toxicity: Option<f64>,
}

/// Other network faults through a proxy: exactly one of the toxic keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFaultSpec {
    /// A name from `proxies:`.
    pub proxy: String,
    #[serde(default)]
    pub stream: StreamSpec,
    #[serde(default)]
    pub toxicity: Option<f64>,
    /// Limit throughput, KB/s (1 KB = 1000 bytes).
    #[serde(default)]
    pub bandwidth: Option<BandwidthSpec>,
    /// Delay the close of each connection.
    #[serde(default)]
    pub slow_close: Option<SlowCloseSpec>,
    /// Swallow all data; close after `timeout` (0s = hold until the fault ends).
    #[serde(default)]
    pub timeout: Option<TimeoutSpec>,
    /// Reset connections (TCP RST) `timeout` after their first data.
    #[serde(default)]
    pub reset_peer: Option<TimeoutSpec>,
    /// Cut data into small pieces with a delay between them.
    #[serde(default)]
    pub slicer: Option<SlicerSpec>,
    /// Close each connection after this many bytes.
    #[serde(default)]
    pub limit_data: Option<LimitDataSpec>,
    /// `down: true`: the proxy stops accepting and drops its connections.
    #[serde(default)]
    pub down: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BandwidthSpec {
    pub rate: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlowCloseSpec {
    pub delay: Dur,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSpec {
    pub timeout: Dur,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlicerSpec {
    pub average_size: u64,
    #[serde(default)]
    pub size_variation: u64,
    pub delay: Dur,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitDataSpec {
    pub bytes: u64,
}
