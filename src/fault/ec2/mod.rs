//! The EC2 backend: the `ec2:` layer of `az_loss`. It stops a zone's matching running
//! instances and swaps a deny-all network ACL onto its matching subnets; the revert
//! starts exactly the instances it stopped, puts every subnet back on its own ACL,
//! deletes the deny-all ACLs and checks that the zone is as it was.
//!
//! Same shape as every backend: `spec.rs`, `compile.rs`, `inject.rs`, `undo.rs`. The
//! calls to EC2 need aws-sdk-ec2, a long build, so they sit behind the Cargo feature
//! `aws` (`api.rs`, `live.rs`, `sweep.rs`); without it `unbuilt.rs` stands in: specs
//! still validate and plan, and `run`, `rollback` and `sweep` say how to build it in.

mod compile;
mod inject;
mod spec;
mod undo;

#[cfg(feature = "aws")]
mod api;
#[cfg(feature = "aws")]
mod live;
#[cfg(feature = "aws")]
mod sweep;
#[cfg(not(feature = "aws"))]
mod unbuilt;

#[cfg(feature = "aws")]
use live as backend;
#[cfg(not(feature = "aws"))]
use unbuilt as backend;

pub use compile::{compile_zone_loss, Caps, Ec2ZonePlan, ZoneSelector};
pub use inject::{inject, preflight, prepare};
pub use spec::{Ec2Action, Ec2ZoneLossSpec, FilterValues};
pub use undo::{
    Ec2Restore, Ec2Undo, SubnetAcl, TAG_EXPIRES, TAG_FAULT, TAG_RESTORE_PREFIX, TAG_RUN,
};

/// The one sentence a build without the feature answers with.
pub const NOT_BUILT: &str = "this shakeout was built without AWS support: rebuild it with `cargo build --release --features aws` to act on EC2";

/// One deny-all ACL `sweep ec2` found.
#[derive(Debug, Clone)]
pub struct SweepItem {
    pub acl: String,
    /// Where it is, which run and fault made it, its expiry and its subnets.
    pub description: String,
    pub outcome: SweepOutcome,
}

#[derive(Debug, Clone)]
pub enum SweepOutcome {
    /// Not past its expiry (or no readable expiry): left alone.
    Kept(String),
    Removed(String),
    Failed(String),
}

/// List the deny-all ACLs runs left in `region` and remove the expired ones.
#[cfg(feature = "aws")]
pub async fn sweep(region: &str) -> Result<Vec<SweepItem>, crate::fault::FaultError> {
    sweep::sweep(region).await
}

#[cfg(not(feature = "aws"))]
pub async fn sweep(region: &str) -> Result<Vec<SweepItem>, crate::fault::FaultError> {
    backend::sweep(region).await
}
