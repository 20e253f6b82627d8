//! Bring a demo zone back up. Idempotent: setting a zone that is up to `up` is a no-op.

use crate::demo::{admin_set_zone, DemoError, ZoneMode};
use crate::fault::FaultError;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

pub(super) const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The demo's undos, as journaled: `{"action": "demo_zone_up", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DemoUndo {
    /// Bring a demo zone back up through the balancer's admin API.
    DemoZoneUp(ZoneRef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRef {
    pub lb: SocketAddr,
    pub zone: String,
    /// The demo lived inside the run's process: if it is gone, so is the fault.
    pub in_process: bool,
}

impl DemoUndo {
    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            DemoUndo::DemoZoneUp(z) => zone_up(z).await,
        }
    }

    pub fn manual_fix(&self) -> String {
        match self {
            DemoUndo::DemoZoneUp(z) => format!(
                "demo zone `{}` is down: `curl -X PUT -d '{{\"mode\":\"up\"}}' http://{}/_shakeout/zones/{}`",
                z.zone, z.lb, z.zone
            ),
        }
    }
}

async fn zone_up(z: &ZoneRef) -> Result<String, FaultError> {
    match admin_set_zone(z.lb, &z.zone, ZoneMode::Up, ADMIN_TIMEOUT).await {
        Ok(()) => Ok(format!("zone `{}` of the demo at {} is up", z.zone, z.lb)),
        Err(DemoError::AdminUnreachable { .. }) if z.in_process => Ok(format!(
            "nothing to do: the in-process demo at {} ended with its run",
            z.lb
        )),
        Err(e) => Err(FaultError::Target(format!(
            "could not bring zone `{}` back up at {}: {e}",
            z.zone, z.lb
        ))),
    }
}
