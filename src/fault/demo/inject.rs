//! Take a demo zone down through the balancer's admin API.

use super::compile::ZoneLossPlan;
use super::spec::AzLossMode;
use super::undo::{DemoUndo, ZoneRef, ADMIN_TIMEOUT};
use crate::demo::{admin_set_zone, admin_zones, ZoneMode};
use crate::fault::FaultError;

/// The undo of a zone loss. Changes nothing: the zone's name and the balancer's
/// address are all a revert needs.
pub fn prepare(plan: &ZoneLossPlan) -> DemoUndo {
    DemoUndo::DemoZoneUp(ZoneRef {
        lb: plan.lb,
        zone: plan.zone.clone(),
        in_process: plan.in_process,
    })
}

/// Take the zone down. The admin API answers only once the zone's replicas are in the
/// new mode, so a success here means the fault took effect.
pub async fn inject(plan: &ZoneLossPlan) -> Result<(), FaultError> {
    let mode = match plan.mode {
        AzLossMode::Crash => ZoneMode::Crash,
        AzLossMode::Blackhole => ZoneMode::Blackhole,
    };
    admin_set_zone(plan.lb, &plan.zone, mode, ADMIN_TIMEOUT)
        .await
        .map_err(|e| {
            FaultError::Target(format!(
                "could not take zone `{}` down at {}: {e}",
                plan.zone, plan.lb
            ))
        })
}

/// Preflight, read-only: the zone exists. An in-process demo is started by the run
/// with the planned zones (compile checked the name), so only an external one is asked.
pub async fn preflight(plan: &ZoneLossPlan) -> Result<String, FaultError> {
    if plan.in_process {
        return Ok(format!("zone `{}`: the run starts the demo", plan.zone));
    }
    let zones = admin_zones(plan.lb, ADMIN_TIMEOUT)
        .await
        .map_err(|e| FaultError::Target(e.to_string()))?;
    if zones.contains(&plan.zone) {
        Ok(format!(
            "zone `{}` exists on the demo at {}",
            plan.zone, plan.lb
        ))
    } else {
        Err(FaultError::Target(format!(
            "zone `{}` does not exist on the demo at {} (its zones: {})",
            plan.zone,
            plan.lb,
            zones.join(", ")
        )))
    }
}
