//! The EC2 layer in a build without the `aws` feature: specs validate and plan, and
//! anything that would call EC2 fails with how to build it in.

use super::compile::Ec2ZonePlan;
use super::undo::Ec2Restore;
use super::SweepItem;
use crate::fault::FaultError;

fn not_built() -> FaultError {
    FaultError::Target(super::NOT_BUILT.into())
}

pub async fn preflight(_plan: &Ec2ZonePlan) -> Result<String, FaultError> {
    Err(not_built())
}

pub async fn prepare(
    _plan: &Ec2ZonePlan,
    _run_id: &str,
    _fault: &str,
) -> Result<Ec2Restore, FaultError> {
    Err(not_built())
}

pub async fn inject(_plan: &Ec2ZonePlan, _r: &Ec2Restore) -> Result<(), FaultError> {
    Err(not_built())
}

pub async fn restore(_r: &Ec2Restore) -> Result<String, FaultError> {
    Err(not_built())
}

pub async fn sweep(_region: &str) -> Result<Vec<SweepItem>, FaultError> {
    Err(not_built())
}
