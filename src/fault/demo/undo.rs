//! Bring a demo zone back up. Idempotent: setting a zone that is up to `up` is a no-op.

use crate::demo::{admin_set_zone, admin_store, DemoError, StoreAction, ZoneMode};
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
    /// Make the demo store whole after a failover: the fenced old primary rejoins as a
    /// replica of the new one.
    DemoStoreRejoin(StoreRef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreRef {
    pub lb: SocketAddr,
    pub in_process: bool,
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
            DemoUndo::DemoStoreRejoin(s) => store_rejoin(s).await,
        }
    }

    pub fn manual_fix(&self) -> String {
        match self {
            DemoUndo::DemoZoneUp(z) => format!(
                "demo zone `{}` is down: `curl -X PUT -d '{{\"mode\":\"up\"}}' http://{}/_shakeout/zones/{}`",
                z.zone, z.lb, z.zone
            ),
            DemoUndo::DemoStoreRejoin(s) => format!(
                "the demo store's old primary is fenced: `curl -X POST http://{}/_shakeout/store/rejoin`",
                s.lb
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

async fn store_rejoin(s: &StoreRef) -> Result<String, FaultError> {
    match admin_store(s.lb, &StoreAction::Rejoin, ADMIN_TIMEOUT).await {
        Ok(v) => {
            let n = v.get("rejoined").and_then(|n| n.as_u64()).unwrap_or(0);
            let primary = v
                .pointer("/store/primary")
                .and_then(|p| p.as_str())
                .unwrap_or("?");
            Ok(if n == 0 {
                format!("nothing to do: the demo store at {} has one primary ({primary}) and no fenced node", s.lb)
            } else {
                format!("{n} fenced node(s) of the demo store at {} rejoined as replicas of `{primary}`", s.lb)
            })
        }
        Err(DemoError::AdminUnreachable { .. }) if s.in_process => Ok(format!(
            "nothing to do: the in-process demo at {} ended with its run",
            s.lb
        )),
        Err(e) => Err(FaultError::Target(format!(
            "could not rejoin the demo store at {}: {e}",
            s.lb
        ))),
    }
}
