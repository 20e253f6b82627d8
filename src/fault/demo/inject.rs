//! Take a demo zone down through the balancer's admin API.

use super::compile::ZoneLossPlan;
use super::spec::AzLossMode;
use super::undo::{DemoUndo, ZoneRef, ADMIN_TIMEOUT};
use crate::demo::{admin_set_zone, ZoneMode};
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
