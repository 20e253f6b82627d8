//! `az_loss` on the demo deployment, through its balancer's admin API — the same path
//! for an in-process demo and for an external `shakeout demo serve`.

use super::FaultError;
use crate::demo::{admin_set_zone, ZoneMode};
use crate::spec::AzLossMode;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRef {
    pub lb: SocketAddr,
    pub zone: String,
    /// The demo lived inside the run's process: if it is gone, so is the fault.
    pub in_process: bool,
}

pub async fn zone_down(lb: SocketAddr, zone: &str, mode: AzLossMode) -> Result<(), FaultError> {
    let mode = match mode {
        AzLossMode::Crash => ZoneMode::Crash,
        AzLossMode::Blackhole => ZoneMode::Blackhole,
    };
    admin_set_zone(lb, zone, mode, ADMIN_TIMEOUT)
        .await
        .map_err(|e| FaultError::Target(format!("could not take zone `{zone}` down at {lb}: {e}")))
}

pub async fn zone_up(z: &ZoneRef) -> Result<String, FaultError> {
    match admin_set_zone(z.lb, &z.zone, ZoneMode::Up, ADMIN_TIMEOUT).await {
        Ok(()) => Ok(format!("zone `{}` of the demo at {} is up", z.zone, z.lb)),
        Err(crate::demo::DemoError::AdminUnreachable { .. }) if z.in_process => Ok(format!(
            "nothing to do: the in-process demo at {} ended with its run",
            z.lb
        )),
        Err(e) => Err(FaultError::Target(format!(
            "could not bring zone `{}` back up at {}: {e}",
            z.zone, z.lb
        ))),
    }
}
