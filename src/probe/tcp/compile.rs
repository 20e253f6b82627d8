//! Pure checks of a `tcp:` probe; its `plan` text.

use super::spec::TcpProbeSpec;
use crate::spec::check::Errors;
use serde::Serialize;
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize)]
pub struct TcpProbePlan {
    pub address: String,
}

/// Check a `tcp:` probe at `path`.
pub fn compile(t: &TcpProbeSpec, path: &str, e: &mut Errors) -> Option<TcpProbePlan> {
    if !t.address.contains(':') {
        e.at(
            format!("{path}.address"),
            format!("`{}` is not host:port", t.address),
        );
        return None;
    }
    Some(TcpProbePlan {
        address: t.address.clone(),
    })
}

impl TcpProbePlan {
    pub fn target(&self) -> String {
        self.address.clone()
    }

    pub fn success(&self) -> String {
        "success = connection established".into()
    }

    /// The host:port the probe connects to, with `localhost` read as 127.0.0.1.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address.replace("localhost", "127.0.0.1").parse().ok()
    }
}
