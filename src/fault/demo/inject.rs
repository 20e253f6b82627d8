//! Take a demo zone down through the balancer's admin API.

use super::compile::{DbFailoverPlan, ZoneLossPlan};
use super::spec::AzLossMode;
use super::undo::{DemoUndo, StoreRef, ZoneRef, ADMIN_TIMEOUT};
use crate::demo::{admin_set_zone, admin_store, admin_zones, StoreAction, ZoneMode};
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

/// The undo of a store failover: rejoin every fenced node. Checks the store is there
/// and changes nothing.
pub async fn prepare_failover(plan: &DbFailoverPlan) -> Result<DemoUndo, FaultError> {
    admin_store(plan.lb, &StoreAction::Status, ADMIN_TIMEOUT)
        .await
        .map_err(|e| FaultError::Target(format!("the demo store at {}: {e}", plan.lb)))?;
    Ok(DemoUndo::DemoStoreRejoin(StoreRef {
        lb: plan.lb,
        in_process: plan.in_process,
    }))
}

/// Promote a replica. The admin API answers with the new state; the fault took effect
/// when the primary is now another zone.
pub async fn inject_failover(plan: &DbFailoverPlan) -> Result<(), FaultError> {
    let fail =
        |why: String| FaultError::Target(format!("demo store failover at {}: {why}", plan.lb));
    let status = admin_store(
        plan.lb,
        &StoreAction::Failover(plan.to.clone()),
        ADMIN_TIMEOUT,
    )
    .await
    .map_err(|e| fail(e.to_string()))?;
    let primary = status.get("primary").and_then(|p| p.as_str()).unwrap_or("");
    match &plan.to {
        Some(to) if to != primary => Err(fail(format!("asked for `{to}`, primary is `{primary}`"))),
        _ => {
            tracing::info!(primary, "demo store failed over");
            Ok(())
        }
    }
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

/// Preflight, read-only: an external demo answers for its store (an in-process one is
/// started by the run with the store the spec asks for).
pub async fn preflight_failover(plan: &DbFailoverPlan) -> Result<String, FaultError> {
    if plan.in_process {
        return Ok("demo store: the run starts it".into());
    }
    admin_store(plan.lb, &StoreAction::Status, ADMIN_TIMEOUT)
        .await
        .map(|_| format!("the demo store at {} answers", plan.lb))
        .map_err(|e| FaultError::Target(format!("the demo store at {}: {e}", plan.lb)))
}
