//! Probes measure the target. A down target is a failed sample, never an error:
//! `check` returns `Err(reason)` with a short, groupable reason ("connection refused").

pub mod exec;
pub mod failure;
pub mod http;
pub mod https;
pub mod prometheus;
pub mod tcp;

use crate::plan::{ProbeKind, ProbePlan};

/// One probe, built from its plan. Shared by every in-flight sample (open loop), so
/// `check` takes `&self`.
pub enum Probe {
    Http(Box<http::HttpProbe>),
    Tcp(tcp::TcpProbe),
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("probe `{probe}`: {message}")]
    Setup { probe: String, message: String },
}

impl Probe {
    pub fn build(plan: &ProbePlan) -> Result<Probe, ProbeError> {
        Ok(match &plan.kind {
            ProbeKind::Http(h) => {
                let probe =
                    http::HttpProbe::new(h, plan.timeout).map_err(|message| ProbeError::Setup {
                        probe: plan.name.clone(),
                        message,
                    })?;
                Probe::Http(Box::new(probe))
            }
            ProbeKind::Tcp { address } => Probe::Tcp(tcp::TcpProbe::new(address.clone())),
        })
    }

    /// One sample. `seq` numbers samples of this probe from 0 (write probes use it to
    /// know exactly which acknowledged write went missing).
    pub async fn check(&self, seq: u64) -> Result<(), String> {
        let _ = seq;
        match self {
            Probe::Http(p) => p.check().await,
            Probe::Tcp(p) => p.check().await,
        }
    }
}

/// A short reason for an I/O failure, stable enough to group by.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset".into(),
        ConnectionAborted => "connection aborted".into(),
        TimedOut => "timed out".into(),
        UnexpectedEof => "connection closed".into(),
        BrokenPipe => "broken pipe".into(),
        AddrNotAvailable => "address not available".into(),
        _ => e.to_string(),
    }
}

/// Walk an error's sources to the innermost I/O error, if any.
pub fn root_reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut last = e.to_string();
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io_reason(io);
        }
        last = err.to_string();
        cur = err.source();
    }
    last
}
