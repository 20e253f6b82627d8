//! The Kubernetes backend: a zone lost on Kubernetes (`az_loss: {kubernetes: ...}`:
//! cordon and evict, delete the pods, or isolate them with a NetworkPolicy) and the
//! `pods:` fault (kill pods by label selector).
//!
//! Same shape as every backend: `spec.rs`, `compile.rs`, `inject.rs`, `undo.rs`;
//! `select.rs` holds the pure choices (caps, picks, selector syntax) and `client.rs`
//! the API calls, through `kube` behind the `kubernetes` Cargo feature. Without it,
//! `disabled.rs` stands in: specs validate and plan, and running one fails with one
//! sentence.
//!
//! Every change is marked with the run's token (a node annotation, a pod label, the
//! NetworkPolicy's name), journaled before it is made, so a revert or a rollback after
//! SIGKILL touches exactly what this run changed.

#[cfg(feature = "kubernetes")]
mod client;
#[cfg(not(feature = "kubernetes"))]
#[path = "disabled.rs"]
mod client;
mod compile;
mod inject;
mod select;
mod spec;
mod undo;

use super::FaultError;

pub use compile::{compile_pods, compile_zone_loss, PodAction, PodsFault, ZoneLossPlan};
pub use inject::{
    inject_pods, inject_zone, preflight_pods, preflight_zone, prepare_pods, prepare_zone,
};
pub use select::{Pick, PodRef};
pub use spec::{KubernetesZoneSpec, PodCap, PodsAction, PodsFaultSpec, PodsMode, ZoneAction};
pub use undo::KubernetesUndo;
