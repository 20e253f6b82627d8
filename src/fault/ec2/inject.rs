//! Preflight (reads only, lists every target), prepare (changes nothing, returns the
//! undo) and inject; each goes to the EC2 API when built with `aws`.

use super::backend;
use super::compile::Ec2ZonePlan;
use super::undo::Ec2Undo;
use crate::fault::FaultError;

/// Read-only: the zone, every instance and subnet that would change, the caps, and
/// the permissions (DryRun).
pub async fn preflight(plan: &Ec2ZonePlan) -> Result<String, FaultError> {
    backend::preflight(plan).await
}

/// Find the targets now and check the caps; the undo names exactly them.
pub async fn prepare(plan: &Ec2ZonePlan, run_id: &str, fault: &str) -> Result<Ec2Undo, FaultError> {
    backend::prepare(plan, run_id, fault)
        .await
        .map(Ec2Undo::Ec2ZoneRestore)
}

/// Take the zone down; returns once every subnet is isolated and instance stopped.
pub async fn inject(plan: &Ec2ZonePlan, undo: &Ec2Undo) -> Result<(), FaultError> {
    let Ec2Undo::Ec2ZoneRestore(r) = undo;
    backend::inject(plan, r).await
}
